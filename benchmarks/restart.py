#!/usr/bin/env python3
"""Restart figures: calls per second before, during and after a
C{mcpgateway restart} under 16 sessions calling without pause, the refused
and reset connections and failed calls across it, and the time from a
SIGKILL to the first answered call of an existing session after
C{mcpgateway start}.

Runs the real CLI (detached gateway) from this checkout on loopback, in a
temporary HOME; the load is 16 threads, each one session on its own
keep-alive connection (standard library only). Not part of the test suite:

    .venv/bin/python benchmarks/restart.py [--sessions 16] [--window 5] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
VERSION = "2025-11-25"


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Session(threading.Thread):
    """One MCP session calling C{echo} in a loop on a keep-alive connection."""

    def __init__(self, port: int, server: str, number: int) -> None:
        super().__init__(daemon=True)
        self.port, self.server, self.number = port, server, number
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.sid = ""
        self.done: list[float] = []
        self.refused = self.reset = self.failed = 0
        self.stopping = threading.Event()
        self.firstAfter: float | None = None
        self.retryRefused = False

    def post(self, message: dict[str, Any]) -> dict[str, Any] | None:
        headers = {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "MCP-Protocol-Version": VERSION,
        }
        if self.sid:
            headers["Mcp-Session-Id"] = self.sid
        self.conn.request("POST", f"/{self.server}/mcp", json.dumps(message), headers)
        response = self.conn.getresponse()
        body = response.read().decode()
        if response.getheader("connection", "").lower() == "close":
            self.conn.close()
        if response.status not in (200, 202):
            raise RuntimeError(f"HTTP {response.status}")
        if not self.sid:
            self.sid = response.getheader("mcp-session-id") or ""
        if not body.strip():
            return None
        if body.lstrip().startswith("{"):
            return json.loads(body)  # type: ignore[no-any-return]
        data = [json.loads(x[6:]) for x in body.splitlines() if x.startswith("data: ")]
        return data[-1] if data else None  # type: ignore[no-any-return]

    def open(self) -> None:
        params = {
            "protocolVersion": VERSION,
            "capabilities": {},
            "clientInfo": {"name": f"bench{self.number}", "version": "1"},
        }
        self.post({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params})
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            n += 1
            try:
                answer = self.post(
                    {
                        "jsonrpc": "2.0",
                        "id": n,
                        "method": "tools/call",
                        "params": {"name": "echo", "arguments": {"message": f"m{n}"}},
                    }
                )
                if answer is None or "result" not in answer:
                    self.failed += 1
                else:
                    self.done.append(time.monotonic())
            except ConnectionRefusedError:
                self.refused += 1
                self.conn.close()
                if self.retryRefused:
                    time.sleep(0.01)
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                self.reset += 1
                self.conn.close()
            except Exception:
                self.failed += 1
                self.conn.close()


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def rate(sessions: list[Session], start: float, end: float) -> float:
    count = sum(1 for s in sessions for t in s.done if start <= t < end)
    return count / (end - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--window", type=float, default=5.0, help="seconds per window")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="mcpgw-restart-"))
    env = {
        **os.environ,
        "HOME": str(home),
        "MCPGATEWAY_HOME": str(home / "state"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    config = home / "servers.json"
    demo = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
    config.write_text(json.dumps({"mcpServers": {"demo": demo}}))
    port = freePort()
    started = cli(env, "start", "--port", str(port), "--config", str(config))
    if started.returncode != 0:
        print(started.stdout, started.stderr, file=sys.stderr)
        return 1
    results: dict[str, Any] = {"sessions": args.sessions}
    try:
        sessions = [Session(port, "demo", n) for n in range(args.sessions)]
        for s in sessions:
            s.open()
        for s in sessions:
            s.start()
        w = args.window
        time.sleep(1.0 + w)  # warm-up, then the "before" window
        oldPid = json.loads((home / "state" / "state.json").read_text())["pid"]
        t0 = time.monotonic()
        restarted = cli(env, "restart")
        t1 = time.monotonic()
        while os.path.exists(f"/proc/{oldPid}") and time.monotonic() < t1 + 60:
            time.sleep(0.01)
        oldGone = time.monotonic()
        time.sleep(max(0.0, w - (oldGone - t0)))
        t2 = time.monotonic()
        time.sleep(w)
        t3 = time.monotonic()
        results.update(
            restartOk=restarted.returncode == 0,
            restartCommandSeconds=round(t1 - t0, 3),
            oldProcessExitedAfterSeconds=round(oldGone - t0, 3),
            callsPerSecondBefore=round(rate(sessions, t0 - w, t0), 1),
            callsPerSecondDuring=round(rate(sessions, t0, t2), 1),
            callsPerSecondAfter=round(rate(sessions, t2, t3), 1),
            refused=sum(s.refused for s in sessions),
            reset=sum(s.reset for s in sessions),
            failedCalls=sum(s.failed for s in sessions),
            slowestGapDuringMs=round(1000 * max(gap(s.done, t0 - 1, t2) for s in sessions), 1),
        )
        for s in sessions:
            s.stopping.set()
        for s in sessions:
            s.join(30)

        # A crash: SIGKILL, then start; time to the first answered call of a
        # session opened before the crash.
        probe = Session(port, "demo", 99)
        probe.open()
        probe.retryRefused = True
        time.sleep(1.5)  # saved at most a second after it opened (batched writes)
        pid = json.loads((home / "state" / "state.json").read_text())["pid"]
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        probe.start()
        cli(env, "start", "--port", str(port), "--config", str(config))
        deadline = killed + 60
        while not [t for t in probe.done if t > killed] and time.monotonic() < deadline:
            time.sleep(0.005)
        first = [t for t in probe.done if t > killed]
        probe.stopping.set()
        probe.join(30)
        results["sigkillToFirstCallSeconds"] = round(first[0] - killed, 3) if first else None
        results["refusedWhileDown"] = probe.refused
    finally:
        cli(env, "stop")
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key, value in results.items():
            print(f"{key:28} {value}")
    return 0


def gap(times: list[float], start: float, end: float) -> float:
    """The longest pause between two answered calls within [start, end]."""
    inside = [t for t in times if start <= t <= end]
    return max((b - a for a, b in itertools.pairwise(inside)), default=0.0)


if __name__ == "__main__":
    sys.exit(main())

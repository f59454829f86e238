#!/usr/bin/env python3
"""Children through a restart and through a crash: 64 sessions call the
counter fixture (C{tests/fixtures/counter_server.py}, which counts in memory
and answers C{count=N pid=P}) without pause, first on one shared child,
then each on a child of its own (C{mode: stateful}), through
C{mcpgateway restart} and then through a SIGKILL of the gateway followed by
C{mcpgateway start}. For each: calls lost, children kept and started anew
(host pids from the gateway's ledger), sessions whose count went on,
sessions told their child is new, the longest pause a session saw, calls/s,
the PSS and open fds of the gateway's tree and the children.

With C{--fresh} (C{restartfresh.py}): instead, an C{npx} and a C{uvx}
server whose packages the gateway installs in the run, on a fresh HOME
per scenario, through C{mcpgateway restart}, a SIGKILL and
C{mcpgateway start}, and a SIGKILL with no next gateway.

The README's command path: C{mcpgateway start} (detached) from this
checkout, a temporary HOME, the default sandbox, loopback only; each
session is one thread with its own keep-alive connection (standard library
only). Not part of the test suite:

    benchmarks/run --restart [--sessions 64] [--window 3] [--servers shared,solo]
    benchmarks/run --restart --fresh [--scenarios restart,crash,orphan] [--grace 60]
    .venv/bin/python benchmarks/restartchildren.py --json results/restart-children.json
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import restartfreshreport
from procstat import processTree, treeMemory
from restartfigures import (
    Answered,
    SessionLog,
    eventFigures,
    isRestartNotice,
    rate,
    readAnswer,
    report,
    respawned,
)

REPO = Path(__file__).resolve().parents[1]
COUNTER = [sys.executable, str(REPO / "tests" / "fixtures" / "counter_server.py")]
VERSION = "2025-11-25"


class Caller(threading.Thread):
    """One MCP session calling a tool (the counter's C{count}) in a loop on a
    keep-alive connection; C{read} makes a L{Answered} of each answer
    (L{readAnswer}: the count and the child's pid)."""

    def __init__(
        self,
        port: int,
        server: str,
        number: int,
        tool: str = "count",
        arguments: dict[str, Any] | None = None,
        read: Callable[[dict[str, Any]], tuple[int, int, bool] | None] = readAnswer,
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.server, self.number = port, server, number
        self.tool, self.arguments, self.read = tool, arguments or {}, read
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.sid = ""
        self.log = SessionLog()
        self.stopping = threading.Event()

    def post(self, message: dict[str, Any]) -> list[dict[str, Any]]:
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
            raise LookupError(f"HTTP {response.status}")
        self.sid = self.sid or response.getheader("mcp-session-id") or ""
        if not body.strip():
            return []
        if body.lstrip().startswith("{"):
            return [json.loads(body)]
        return [json.loads(x[6:]) for x in body.splitlines() if x.startswith("data: ")]

    def open(self) -> None:
        params = {
            "protocolVersion": VERSION,
            "capabilities": {},
            "clientInfo": {"name": f"restart-bench-{self.number}", "version": "1"},
        }
        self.post({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params})
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def run(self) -> None:
        n = 0
        log = self.log
        while not self.stopping.is_set():
            n += 1
            params = {"name": self.tool, "arguments": self.arguments}
            call = {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params}
            sent = time.monotonic()
            try:
                messages = self.post(call)
            except ConnectionRefusedError:
                log.refused.append(time.monotonic())
                self.conn.close()
                time.sleep(0.05)  # a client's pause before it tries again
                continue
            except (LookupError, ValueError):
                log.errors.append(time.monotonic())
                continue
            except (OSError, http.client.HTTPException) as e:
                log.lost.append(time.monotonic())
                log.lostSent.append(sent)
                log.lostWhy.append(f"{type(e).__name__}: {e}")
                self.conn.close()
                continue
            now = time.monotonic()
            log.notices += [now for m in messages if isRestartNotice(m)]
            answers = [self.read(m) for m in messages if m.get("id") == n]
            answer = answers[0] if answers else None
            if answer is None:
                log.errors.append(now)
            else:
                log.answered.append(Answered(now, *answer))


class Gateway:
    """The detached gateway of a temporary HOME, driven by the real CLI."""

    def __init__(
        self,
        home: Path,
        servers: dict[str, Any],
        env: dict[str, str] | None = None,
        options: tuple[str, ...] = (),
    ) -> None:
        """
        @param env: more of the CLI's (and so the gateway's) environment.
        @param options: more options of C{mcpgateway start}.
        """
        self.home = home
        self.port = freePort()
        self.config = home / "servers.json"
        self.config.write_text(json.dumps({"mcpServers": servers}))
        self.options = options
        self.env = {
            **os.environ,
            "HOME": str(home),
            "MCPGATEWAY_HOME": str(home / "state"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            **(env or {}),
        }

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mcpgateway.cli", *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self) -> None:
        done = self.cli(
            "start", "--port", str(self.port), "--config", str(self.config), *self.options
        )
        if done.returncode != 0:
            raise RuntimeError(f"mcpgateway start failed: {done.stdout}{done.stderr}")

    @property
    def pid(self) -> int:
        return int(json.loads((self.home / "state" / "state.json").read_text())["pid"])

    def childPids(self, server: str) -> set[int]:
        """The running children of C{server}, by host pid (the ledger)."""
        try:
            data = json.loads((self.home / "state" / "children.json").read_text())
        except (OSError, ValueError):
            return set()
        pids = {int(p) for p, one in data.get("children", {}).items() if one["server"] == server}
        return {p for p in pids if running(p)}

    def snapshot(self, server: str) -> tuple[dict[str, Any], int]:
        """PSS/RSS of the gateway's tree and the server's children, and
        their open fds."""
        roots = [self.pid, *self.childPids(server)]
        memory = treeMemory(roots)
        pids = {p for root in roots for p in processTree(root)}
        fds = 0
        for p in pids:
            with contextlib.suppress(OSError):
                fds += len(os.listdir(f"/proc/{p}/fd"))
        return memory, fds


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def waitUntil(test: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return True
        time.sleep(0.02)
    return bool(test())


def restart(gateway: Gateway) -> dict[str, Any]:
    old = gateway.pid
    began = time.monotonic()
    done = gateway.cli("restart")
    if done.returncode != 0:
        raise RuntimeError(f"mcpgateway restart failed: {done.stdout}{done.stderr}")
    listening = time.monotonic()
    waitUntil(lambda: not os.path.exists(f"/proc/{old}"), 60)
    return {
        "commandSeconds": round(listening - began, 2),
        "oldExitedAfter": round(time.monotonic() - listening, 2),
    }


def crash(gateway: Gateway) -> dict[str, Any]:
    os.kill(gateway.pid, signal.SIGKILL)
    began = time.monotonic()
    gateway.start()
    return {"commandSeconds": round(time.monotonic() - began, 2)}


def measure(
    gateway: Gateway, server: str, callers: list[Caller], name: str, window: float
) -> dict[str, Any]:
    """One event under the callers' load: the figures before and after it."""
    time.sleep(window)
    memBefore, fdsBefore = gateway.snapshot(server)
    kidsBefore = gateway.childPids(server)
    event = time.monotonic()
    how = (restart if name == "restart" else crash)(gateway)
    waitUntil(lambda: all(c.log.answered and c.log.answered[-1].at > event for c in callers), 90)
    recovered = time.monotonic()
    time.sleep(window)
    until = time.monotonic()
    memAfter, fdsAfter = gateway.snapshot(server)
    logs = [c.log for c in callers]
    return {
        "server": server,
        "event": "`mcpgateway restart`" if name == "restart" else "SIGKILL + `mcpgateway start`",
        "how": how,
        "recoveredAfter": round(recovered - event, 2),
        "figures": eventFigures(logs, event, until, window),
        "children": {
            **respawned(kidsBefore, gateway.childPids(server)),
            "before": len(kidsBefore),
        },
        "rateBefore": rate(logs, event - window, event),
        "rateAfter": rate(logs, recovered, until),
        "memory": {"before": memBefore, "after": memAfter},
        "fds": {"before": fdsBefore, "after": fdsAfter},
    }


def runServer(server: str, sessions: int, window: float) -> list[dict[str, Any]]:
    """A fresh gateway, C{sessions} sessions on C{server}, a restart, then a crash."""
    home = Path(tempfile.mkdtemp(prefix=f"mcpgw-restart-{server}-"))
    entry: dict[str, Any] = {"command": COUNTER[0], "args": COUNTER[1:]}
    if server == "solo":
        entry["mode"] = "stateful"
    gateway = Gateway(home, {server: entry})
    gateway.start()
    results: list[dict[str, Any]] = []
    callers = [Caller(gateway.port, server, n) for n in range(sessions)]
    try:
        for c in callers:
            c.open()
        for c in callers:
            c.start()
        time.sleep(1.0)  # warm-up; sessions older than a second survive a crash
        for name in ("restart", "crash"):
            results.append(measure(gateway, server, callers, name, window))
            print(f"restart bench: {server}, {name}: done", file=sys.stderr)
    finally:
        for c in callers:
            c.stopping.set()
        for c in callers:
            c.join(30)
        gateway.cli("stop")
    return results


def parser() -> argparse.ArgumentParser:
    """The options: those of the counter's run, and C{--fresh}'s."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, help="per server (64; --fresh: 8)")
    parser.add_argument("--window", type=float, default=3.0, help="seconds before and after")
    parser.add_argument("--servers", default="shared,solo", help="shared, solo or both")
    parser.add_argument("--json", type=Path, help="also write the figures there")
    fresh = parser.add_argument_group(
        "--fresh", "npx and uvx servers installed in the run (benchmarks/restartfresh.py)"
    )
    fresh.add_argument(
        "--fresh",
        action="store_true",
        help="server-memory (npx) and mcp-server-time (uvx) on a fresh HOME per scenario",
    )
    fresh.add_argument(
        "--scenarios",
        type=scenarioList,
        default=list(restartfreshreport.EVENTS),
        help="restart, crash (SIGKILL + start), orphan (SIGKILL, no next gateway)",
    )
    fresh.add_argument("--grace", type=float, default=60.0, help="the gateway's --adopt-grace")
    fresh.add_argument(
        "--kill-after",
        type=float,
        default=0.0,
        help="seconds between every session's first answer and the event",
    )
    return parser


def scenarioList(text: str) -> list[str]:
    """C{--scenarios}: names of L{restartfreshreport.EVENTS}, comma-separated, in their order."""
    asked = [one.strip() for one in text.split(",") if one.strip()]
    events = restartfreshreport.EVENTS
    unknown = [one for one in asked if one not in events]
    if unknown or not asked:
        raise argparse.ArgumentTypeError(f"not a scenario: {', '.join(unknown) or text!r}")
    return [one for one in events if one in asked]


def main() -> int:
    args = parser().parse_args()
    if args.fresh:  # its own module, which builds on this one's gateway and callers
        fresh = str(Path(__file__).with_name("restartfresh.py"))
        os.execv(sys.executable, [sys.executable, fresh, *sys.argv[1:]])
    load = os.getloadavg()
    sessions = args.sessions or 64
    results: list[dict[str, Any]] = []
    for server in args.servers.split(","):
        results += runServer(server, sessions, args.window)
    print(f"{sessions} sessions per server; load average before: {load[0]:.2f}\n")
    print(report(results))
    if args.json:
        document = {"sessions": sessions, "loadBefore": load, "results": results}
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

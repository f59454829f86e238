"""Per-call overhead of the stdio bridge: the same calls against
the same gateway, once straight over HTTP (a keep-alive http.client
connection, the cheapest client there is) and once through C{python -m
mcpgateway.bridge} on pipes; the difference per call is what the bridge
adds. Also the bridge's start: spawn to the first C{initialize} answered.

    python benchmarks/bridge.py [--calls N] [--rounds R]

Runs a gateway (twist, the bundled demo server) on a free loopback port in a
temporary HOME. Sequential calls (one in flight): latency, not throughput.
C{ping} is answered by the gateway itself (the bridge's and the gateway's
HTTP costs only); C{tools/call echo} goes to the shared child too.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.gateway import RunningGateway, writeConfig  # noqa: E402

VERSION = "2025-11-25"
INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": VERSION,
        "capabilities": {},
        "clientInfo": {"name": "b", "version": "1"},
    },
}


def message(n: int, method: str) -> dict[str, Any]:
    if method == "ping":
        return {"jsonrpc": "2.0", "id": n, "method": "ping"}
    return {
        "jsonrpc": "2.0",
        "id": n,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "x" * 64}},
    }


class Direct:
    def __init__(self, port: int, server: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.path = f"/{server}/mcp"
        self.headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        _, sid = self.post(INIT)
        self.headers["Mcp-Session-Id"] = sid
        self.headers["MCP-Protocol-Version"] = VERSION
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def post(self, body: dict[str, Any]) -> tuple[Any, str]:
        self.conn.request("POST", self.path, json.dumps(body).encode(), self.headers)
        response = self.conn.getresponse()
        data = response.read()
        sid = response.getheader("mcp-session-id") or ""
        if not data:
            return None, sid
        if data.lstrip().startswith(b"{"):
            return json.loads(data), sid
        events = [line[6:] for line in data.splitlines() if line.startswith(b"data: ")]
        events = [e for e in events if e]
        return json.loads(events[-1]), sid

    def call(self, body: dict[str, Any]) -> Any:
        return self.post(body)[0]


class Bridged:
    def __init__(self, home: Path, server: str) -> None:
        env = {
            **os.environ,
            "HOME": str(home),
            "MCPGATEWAY_HOME": str(home / "state"),
            "PYTHONPATH": str(REPO),
        }
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mcpgateway.bridge", "--no-start", server],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.call(INIT)
        self.startup = time.perf_counter() - started
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, body: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(body).encode() + b"\n")
        self.process.stdin.flush()

    def call(self, body: dict[str, Any]) -> Any:
        self.send(body)
        assert self.process.stdout is not None
        while True:
            answer = json.loads(self.process.stdout.readline())
            if answer.get("id") == body["id"] and "method" not in answer:
                return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


def measure(client: Direct | Bridged, method: str, calls: int) -> list[float]:
    for n in range(20):  # warm up
        client.call(message(10_000 + n, method))
    times = []
    for n in range(calls):
        started = time.perf_counter()
        answer = client.call(message(n + 1, method))
        times.append(time.perf_counter() - started)
        assert "result" in answer, answer
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "state").mkdir()
        config = writeConfig(
            home / "servers.json",
            {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}},
        )
        gateway = RunningGateway(["--config", str(config)], home)
        try:
            # The bridge finds the gateway through state.json, as in use.
            deadline = time.monotonic() + 10
            while not (home / "state" / "state.json").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            direct = Direct(gateway.port, "demo")
            startups = []
            results: dict[str, dict[str, list[float]]] = {}
            for method in ("ping", "tools/call"):
                results[method] = {"direct": [], "bridge": []}
            for _ in range(args.rounds):
                bridged = Bridged(home, "demo")
                startups.append(bridged.startup)
                for method in ("ping", "tools/call"):  # interleaved, same conditions
                    results[method]["direct"] += measure(direct, method, args.calls)
                    results[method]["bridge"] += measure(bridged, method, args.calls)
                bridged.close()
        finally:
            gateway.stop()
    report: dict[str, Any] = {"calls": args.calls, "rounds": args.rounds}
    columns = ["call", "direct median", "bridge median", "bridge adds", "direct p99", "bridge p99"]
    print("| " + " | ".join(columns) + " |  (ms)")
    print("| --- | --- | --- | --- | --- | --- |")
    for method, sides in results.items():
        d, b = sorted(sides["direct"]), sorted(sides["bridge"])
        dm, bm = statistics.median(d) * 1e3, statistics.median(b) * 1e3
        d99, b99 = d[int(len(d) * 0.99)] * 1e3, b[int(len(b) * 0.99)] * 1e3
        print(f"| {method} | {dm:.3f} | {bm:.3f} | {bm - dm:.3f} | {d99:.3f} | {b99:.3f} |")
        report[method] = {"directMs": dm, "bridgeMs": bm, "addedMs": bm - dm}
    startup = statistics.median(startups) * 1e3
    print(f"bridge start to first initialize answered: median {startup:.0f} ms")
    report["startupMs"] = startup
    print(json.dumps(report))


if __name__ == "__main__":
    main()

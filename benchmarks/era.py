"""Per-call cost of the two MCP eras through the gateway: the same
sequential ``tools/call echo`` calls to one shared child, once on a
2025-11-25 session and once as stateless 2026-07-28 requests (envelope,
routing headers, ``resultType`` added on the way back), plus ``tools/list``
both ways. The difference per call is what the era translation costs.

    python benchmarks/era.py [--calls N] [--rounds R]

Runs a gateway (twist, the bundled demo server, ``"share": "global"``) on a
free loopback port in a temporary HOME; one keep-alive ``http.client``
connection per era; rounds interleave the eras so both see the same machine.
Prints a markdown table and one JSON line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.gateway import RunningGateway, writeConfig  # noqa: E402

HANDSHAKE = "2025-11-25"
ERA2026 = "2026-07-28"
ACCEPT = "application/json, text/event-stream"


def _body(data: bytes) -> Any:
    if data.lstrip().startswith(b"{"):
        return json.loads(data)
    events = [line[6:] for line in data.splitlines() if line.startswith(b"data: ")]
    return json.loads([e for e in events if e][-1])


class Handshake:
    """A 2025-11-25 session on one keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.headers = {"Content-Type": "application/json", "Accept": ACCEPT}
        init = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": HANDSHAKE,
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"},
            },
        }
        self.conn.request("POST", "/demo/mcp", json.dumps(init).encode(), self.headers)
        response = self.conn.getresponse()
        response.read()
        self.headers["Mcp-Session-Id"] = response.getheader("mcp-session-id") or ""
        self.headers["MCP-Protocol-Version"] = HANDSHAKE
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        self.conn.request("POST", "/demo/mcp", json.dumps(note).encode(), self.headers)
        self.conn.getresponse().read()

    def call(self, n: int, method: str, params: dict[str, Any]) -> Any:
        body = {"jsonrpc": "2.0", "id": n, "method": method, "params": params}
        self.conn.request("POST", "/demo/mcp", json.dumps(body).encode(), self.headers)
        return _body(self.conn.getresponse().read())


class Era2026:
    """Stateless 2026-07-28 requests on one keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port)

    def call(self, n: int, method: str, params: dict[str, Any]) -> Any:
        meta = {
            "io.modelcontextprotocol/protocolVersion": ERA2026,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        body = {"jsonrpc": "2.0", "id": n, "method": method, "params": {**params, "_meta": meta}}
        headers = {
            "Content-Type": "application/json",
            "Accept": ACCEPT,
            "MCP-Protocol-Version": ERA2026,
            "Mcp-Method": method,
        }
        if method == "tools/call":
            headers["Mcp-Name"] = params["name"]
        self.conn.request("POST", "/demo/mcp", json.dumps(body).encode(), headers)
        return _body(self.conn.getresponse().read())


CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "tools/call echo": ("tools/call", {"name": "echo", "arguments": {"message": "x" * 64}}),
    "tools/list": ("tools/list", {}),
}


def measure(
    client: Handshake | Era2026, method: str, params: dict[str, Any], calls: int
) -> list[float]:
    for n in range(20):  # warm up
        client.call(100_000 + n, method, params)
    times = []
    for n in range(calls):
        started = time.perf_counter()
        answer = client.call(n + 1, method, params)
        times.append(time.perf_counter() - started)
        assert answer.get("id") == n + 1 and "result" in answer, answer
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {
        k: {"handshake": [], "era2026": []} for k in CALLS
    }
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        config = writeConfig(
            home / "servers.json",
            {
                "demo": {
                    "command": sys.executable,
                    "args": ["-m", "mcpgateway.demo"],
                    "share": "global",
                }
            },
        )
        gateway = RunningGateway(["--config", str(config)], home)
        try:
            handshake, era2026 = Handshake(gateway.port), Era2026(gateway.port)
            for _ in range(args.rounds):
                for name, (method, params) in CALLS.items():
                    results[name]["handshake"] += measure(handshake, method, params, args.calls)
                    results[name]["era2026"] += measure(era2026, method, params, args.calls)
        finally:
            gateway.stop()
    report: dict[str, Any] = {"calls": args.calls, "rounds": args.rounds}
    columns = ["call", "session median", "2026-07-28 median", "2026 adds", "p99 session"]
    print("| " + " | ".join([*columns, "p99 2026-07-28"]) + " |  (ms)")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, sides in results.items():
        lo, mo = sorted(sides["handshake"]), sorted(sides["era2026"])
        lm, mm = statistics.median(lo) * 1e3, statistics.median(mo) * 1e3
        l99, m99 = lo[int(len(lo) * 0.99)] * 1e3, mo[int(len(mo) * 0.99)] * 1e3
        print(f"| {name} | {lm:.3f} | {mm:.3f} | {mm - lm:+.3f} | {l99:.3f} | {m99:.3f} |")
        report[name] = {"handshakeMs": lm, "era2026Ms": mm, "addedMs": mm - lm}
    print(json.dumps(report))


if __name__ == "__main__":
    main()

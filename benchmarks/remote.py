"""What the gateway adds in front of a remote MCP server: the same
``tools/call echo`` calls straight to server-everything's Streamable HTTP
endpoint, and through the gateway on a route with an upstream session per
client session (the default for a remote entry) and on a shared route, at
C = 1 and 16 sessions; and how many connections the gateway holds open to the
remote server under that load.

    python benchmarks/remote.py [--calls N] [--rounds R]

Runs server-everything (``streamableHttp``, from ``scripts/install-test-backends``)
and a gateway (``twistd -n mcpgateway``, the README's command) on free loopback
ports in a temporary HOME. The load is ``mcpload.py load`` (raw HTTP/1.1, one
keep-alive connection per session, every answer checked to be its caller's).
Rounds interleave the three targets so all see the same machine. Prints a
markdown table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.gateway import RunningGateway, twistdCommand, writeConfig  # noqa: E402

MCPLOAD = REPO / "benchmarks" / "mcpload.py"


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def everythingScript() -> str:
    cache = Path(os.environ.get("MCPGATEWAY_TEST_CACHE") or REPO / ".cache" / "test-backends")
    paths = cache / "paths.env"
    if not paths.is_file():
        subprocess.run([str(REPO / "scripts" / "install-test-backends")], check=True)
    found = dict(line.split("=", 1) for line in paths.read_text().splitlines() if "=" in line)
    return found["SERVER_EVERYTHING_JS"].strip()


def connectionsTo(port: int, pid: int) -> int:
    """Established TCP connections of process C{pid} to loopback C{port}."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"dport = :{port}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return sum(1 for line in out.splitlines() if f"pid={pid}," in line)


def load(url: str, sessions: int, calls: int) -> dict[str, Any]:
    """One mcpload level: C{sessions} sessions, C{calls} calls in all."""
    argv = [sys.executable, str(MCPLOAD), "load", "--url", url, "--sessions", str(sessions)]
    argv += ["--calls", str(max(1, calls // sessions)), "--warmup", "10"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=True).stdout
    result = [json.loads(line) for line in out.splitlines() if '"result"' in line][-1]
    lat = sorted(result["latUs"])
    seconds = result["end"] - result["start"]
    bad = result["errors"] + result["misrouted"] + result["lost"]
    return {
        "rate": result["ok"] / seconds,
        "p50": lat[len(lat) // 2] / 1000,
        "p99": lat[int(len(lat) * 0.99)] / 1000,
        "bad": bad,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per level")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    remotePort = freePort()
    node = os.environ.get("NODE", "node")
    remote = subprocess.Popen(
        [node, everythingScript(), "streamableHttp"],
        env={**os.environ, "PORT": str(remotePort)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", remotePort), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        direct = f"http://127.0.0.1:{remotePort}/mcp"
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            (home / "state").mkdir()
            config = writeConfig(
                home / "gateway.json",
                {
                    "perSession": {"type": "http", "url": direct},
                    "shared": {"type": "http", "url": direct, "share": "global"},
                },
            )
            gateway = RunningGateway(["--config", str(config)], home, command=twistdCommand())
            try:
                targets = {
                    "direct": direct,
                    "gateway, session per client": gateway.url("perSession"),
                    "gateway, shared session": gateway.url("shared"),
                }
                report = measure(targets, args, remotePort, gateway.process.pid)
            finally:
                gateway.stop()
    finally:
        os.killpg(remote.pid, signal.SIGKILL)
        remote.wait()
    print(json.dumps(report))


def watch(stop: threading.Event, counts: list[int], port: int, pid: int) -> None:
    """Count C{pid}'s connections to C{port} every 50 ms until C{stop}."""
    while not stop.wait(0.05):
        counts.append(connectionsTo(port, pid))


def measure(
    targets: dict[str, str], args: argparse.Namespace, remotePort: int, gatewayPid: int
) -> dict[str, Any]:
    samples: dict[tuple[str, int], list[dict[str, Any]]] = {}
    peak: dict[tuple[str, int], int] = {}
    for _ in range(args.rounds):
        for level in (1, 16):
            for name, url in targets.items():
                watching = name != "direct"
                counts: list[int] = []
                stop = threading.Event()
                watcher = threading.Thread(
                    target=watch, args=(stop, counts, remotePort, gatewayPid), daemon=True
                )
                if watching:
                    watcher.start()
                samples.setdefault((name, level), []).append(load(url, level, args.calls))
                stop.set()
                if watching:
                    watcher.join()
                    peak[(name, level)] = max([peak.get((name, level), 0), *counts])
    print("| target | C | calls/s | p50 ms | p99 ms | errors | upstream connections (peak) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    rows = []
    for (name, level), runs in samples.items():
        row = {
            "target": name,
            "C": level,
            "rate": statistics.median(r["rate"] for r in runs),
            "p50": statistics.median(r["p50"] for r in runs),
            "p99": statistics.median(r["p99"] for r in runs),
            "bad": sum(r["bad"] for r in runs),
            "connections": peak.get((name, level)),
        }
        rows.append(row)
        conns = "-" if row["connections"] is None else str(row["connections"])
        print(
            f"| {name} | {level} | {row['rate']:,.0f} | {row['p50']:.2f} | {row['p99']:.2f}"
            f" | {row['bad']} | {conns} |"
        )
    return {"rounds": args.rounds, "calls": args.calls, "rows": rows}


if __name__ == "__main__":
    main()

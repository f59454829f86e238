#!/usr/bin/env python3
"""A fleet of real SDK sessions served while one runaway process is capped.

On loopback every client is C{127.0.0.1}: a cap on connections per address
is a cap on the machine. The gateway counts connections per client process
instead (C{httpbase/clientcounts.py}), so one process that opens
thousands of connections is refused past C{--max-connections-per-peer}
while every other client is served. This shows it on the README's command
(C{twistd -n mcpgateway}, its defaults: the sandbox, pins, tasks):

 1. a gateway with C{--servers} stdio servers (C{tests/fixtures/counter_server.py},
    shared by every session, as a user's servers are);
 2. the runaway: one process opens C{--runaway} connections and sends a
    request on each (C{GET /health}, kept alive), holding every one the
    gateway answers; those past the cap get 503 and are closed;
 3. while it holds them, C{--processes} Node processes of the official
    TypeScript SDK (C{doorfleet.mjs}) open C{--sessions} sessions in all on
    every server, each holding its GET stream, then each session calls its
    server's tool once.

It prints and writes (C{results/doorfleet.json}) the runaway's connections
answered and refused, the sessions opened and calls answered (the goal: all),
the connections the gateway held at the peak, its RSS and process count, and
the door's own count of refusals from C{/health}.

    .venv/bin/python benchmarks/doorfleet.py                   # 200 sessions x 14 servers
    .venv/bin/python benchmarks/doorfleet.py --sessions 4 --servers 2 --processes 2 \
        --runaway 60 --cap 40 --out /tmp/doorfleet.json       # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchenv import HERE, PY, REPO, log
from gatewayproc import Gateway
from procstat import processTree

COUNTER = REPO / "tests" / "fixtures" / "counter_server.py"
PATHS_ENV = (
    Path(os.environ.get("MCPGATEWAY_TEST_CACHE", Path.home() / ".cache/mcpgateway/test-backends"))
    / "paths.env"
)


def sdkDir() -> str:
    """The TypeScript SDK that C{scripts/install-test-backends} installed."""
    if os.environ.get("TS_SDK_DIR"):
        return os.environ["TS_SDK_DIR"]
    for line in PATHS_ENV.read_text().splitlines():
        if line.startswith("TS_SDK_DIR="):
            return line.split("=", 1)[1]
    raise SystemExit(f"no TS_SDK_DIR in {PATHS_ENV}: run scripts/install-test-backends")


class Runaway:
    """One process's many connections, each with one kept-alive request
    answered (held) or refused (503, closed by the gateway)."""

    def __init__(self, port: int, count: int) -> None:
        self.held: list[socket.socket] = []
        self.refused = 0
        self.failed = 0
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            status = self._status(s)
            if status == 200:
                self.held.append(s)
            else:
                if status == 503:
                    self.refused += 1
                else:
                    self.failed += 1
                s.close()

    @staticmethod
    def _status(s: socket.socket) -> int:
        """The status of the answer on C{s}, its body read (0: none came)."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                return 0
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return int(lines[0].split()[1])

    def close(self) -> None:
        for s in self.held:
            s.close()


def connectionsOf(pid: int) -> int:
    """The sockets process C{pid} holds."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=200, help="sessions on every server")
    parser.add_argument("--servers", type=int, default=14)
    parser.add_argument("--processes", type=int, default=10, help="Node client processes")
    parser.add_argument("--runaway", type=int, default=3000, help="the runaway's connections")
    parser.add_argument("--cap", type=int, help="--max-connections-per-peer (its default if unset)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "doorfleet.json")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    names = [f"s{n:02d}" for n in range(args.servers)]
    config = {name: {"command": PY, "args": [str(COUNTER)], "share": "global"} for name in names}
    sdk = sdkDir()
    with tempfile.TemporaryDirectory(prefix="doorfleet-") as work:
        extra = [] if args.cap is None else ["--max-connections-per-peer", str(args.cap)]
        gateway = Gateway(config, Path(work), extra=extra, startTimeout=60)
        try:
            report = run(gateway, names, sdk, args)
        finally:
            gateway.stop()
    text = json.dumps(report, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


def run(gateway: Gateway, names: list[str], sdk: str, args: argparse.Namespace) -> dict[str, Any]:
    """The runaway, then the fleet beside it: what each got."""
    log(f"gateway on port {gateway.port}: the runaway opens {args.runaway} connections")
    started = time.monotonic()
    runaway = Runaway(gateway.port, args.runaway)
    log(f"runaway: {len(runaway.held)} held, {runaway.refused} refused (503)")
    per = [args.sessions // args.processes] * args.processes
    for k in range(args.sessions % args.processes):
        per[k] += 1
    fleet = [
        subprocess.Popen(
            [
                "node",
                str(HERE / "doorfleet.mjs"),
                "--base",
                f"http://127.0.0.1:{gateway.port}",
                "--servers",
                ",".join(names),
                "--sessions",
                str(count),
                "--sdk-dir",
                sdk,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for count in per
        if count
    ]
    opened = [json.loads(p.stdout.readline()) for p in fleet if p.stdout is not None]
    openSeconds = time.monotonic() - started
    peak = connectionsOf(gateway.pid)
    fleetSockets = sum(connectionsOf(p.pid) for p in fleet)
    tree = processTree(gateway.pid)
    rss = gateway.rssKB()
    for p in fleet:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [json.loads(p.stdout.readline()) for p in fleet if p.stdout is not None]
    for p in fleet:
        p.wait(60)
    runaway.close()  # this process is the runaway: its own /health waits for that
    health = gateway.health()
    return {
        "gateway": "twistd -n mcpgateway (the README's defaults)",
        "servers": len(names),
        "runaway": {
            "asked": args.runaway,
            "held": len(runaway.held),
            "refused503": runaway.refused,
            "otherFailures": runaway.failed,
        },
        "fleet": {
            "processes": len(fleet),
            "sessionsWanted": args.sessions * len(names),
            "sessionsOpened": sum(o.get("sessions", 0) for o in opened),
            "openFailed": sum(o.get("failed", 0) for o in opened),
            "openSamples": [s for o in opened for s in o.get("samples", [])][:5],
            "callsOk": sum(r.get("ok", 0) for r in results),
            "callsFailed": sum(r.get("failed", 0) for r in results),
            "callSamples": [s for r in results for s in r.get("samples", [])][:5],
            "secondsToOpen": round(openSeconds, 1),
            "socketsHeld": fleetSockets,
        },
        "gatewayAtPeak": {
            "sockets": peak,
            "rssMB": round(rss / 1024, 1),
            "processes": len(tree),
        },
        "door": health.get("door"),
    }


if __name__ == "__main__":
    sys.exit(main())

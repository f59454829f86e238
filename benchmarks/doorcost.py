#!/usr/bin/env python3
"""What the front door costs a new connection: the kernel's answer to "which
account holds the other end of this loopback connection".

On real loopback connections of this machine (Linux), in process: for each
kind of pair (IPv4, IPv6, an IPv4-mapped client of an IPv4 listener) it
opens C{--connections} connections, then times C{--rounds} rounds of one
L{SockDiag.tcpPeer<mcpgateway.runtime.peeruid.SockDiag.tcpPeer>} per
connection (one netlink socket kept open, as the gateway keeps it), and
prints microseconds per lookup (median of the rounds: wall time, and the
CPU time of this process), beside what a read
of C{/proc/net/tcp*} (the fallback, L{tableLookup}) and what a
C{connect} and C{accept} of a loopback connection cost here. The
per-request cost of the door is none: it asks once per connection.

    .venv/bin/python benchmarks/doorcost.py [--connections 200] [--rounds 9]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mcpgateway.runtime.peeruid import PeerSocket, SockDiag, tableLookup

Pair = tuple[socket.socket, socket.socket]


def pairs(kind: str, count: int) -> tuple[socket.socket, list[Pair]]:
    """A listener of C{kind} and C{count} connections to it (client, accepted)."""
    family = socket.AF_INET if kind in ("ipv4", "mapped") else socket.AF_INET6
    listener = socket.socket(family)
    listener.bind(("127.0.0.1" if family == socket.AF_INET else "::1", 0))
    listener.listen(count)
    port = listener.getsockname()[1]
    made = []
    for _ in range(count):
        if kind == "mapped":
            client = socket.socket(socket.AF_INET6)
            client.connect(("::ffff:127.0.0.1", port))
        else:
            client = socket.create_connection(listener.getsockname()[:2])
        accepted, _ = listener.accept()
        made.append((client, accepted))
    return listener, made


def perCall(
    rounds: int, work: Callable[[], int], clock: Callable[[], float] = time.perf_counter
) -> float:
    """Microseconds per call of the median round of C{work} (which makes
    as many calls as it returns), by C{clock} (wall time; C{process_time}:
    this process's CPU, the kernel's work for it included, which the other
    processes of a loaded machine change less)."""
    times = []
    for _ in range(rounds):
        start = clock()
        calls = work()
        times.append((clock() - start) / calls * 1e6)
    return statistics.median(times)


def measure(kind: str, count: int, rounds: int) -> dict[str, float]:
    listener, made = pairs(kind, count)
    diag = SockDiag()
    ends = [(*a.getpeername()[:2], *a.getsockname()[:2]) for _, a in made]

    def lookups() -> int:
        for end in ends:
            found = diag.tcpPeer(*end)
            assert isinstance(found, PeerSocket), found
        return len(ends)

    def tables() -> int:
        for end in ends[:20]:
            assert isinstance(tableLookup(*end), PeerSocket)
        return min(20, len(ends))

    def connections() -> int:
        for _ in range(20):
            client = socket.create_connection(listener.getsockname()[:2])
            accepted, _ = listener.accept()
            accepted.close()
            client.close()
        return 20

    figures = {
        "netlinkUs": perCall(rounds, lookups),
        "netlinkCpuUs": perCall(rounds, lookups, time.process_time),
        "procTablesUs": perCall(max(1, rounds // 3), tables),
        "connectAcceptUs": perCall(max(1, rounds // 3), connections),
    }
    for client, accepted in made:
        client.close()
        accepted.close()
    listener.close()
    diag.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        raise SystemExit("Linux only: elsewhere the kernel is not asked")
    report = {
        kind: measure(kind, args.connections, args.rounds) for kind in ("ipv4", "ipv6", "mapped")
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

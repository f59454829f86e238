#!/usr/bin/env python3
"""The gateway's own CPU per ``tools/call``, in process, without sockets or a reactor.

Drives the real ``Site`` (``tests/http.py``'s Harness: in-memory transports, a fake
child) with N keep-alive POSTs of ``tools/call echo`` on one session; the fake child
answers each at once. Only the gateway's work is timed (``time.process_time`` around
the request bytes going in and the child's line coming back), so what is left out is
exactly what a socket adds: syscalls, epoll, the reactor loop. Much less noisy than
the socket levels on a shared machine: use it to compare code changes.

With C{--count}, one more round runs under cProfile and reports the Python
function calls per request (deterministic, unlike time on a shared machine:
what a change removed).

With C{--floor}, each round also drives the same requests through
C{twfloor.py}'s bare twisted.web C{Site}, which decodes the body and answers
a canned echo as one SSE event (no form parsing, no access log, like the
gateway's): what twisted.web alone costs per call here, the floor under the
gateway's figure. When httptools is installed, each round also drives
a bare Twisted C{Protocol} that parses the requests with httptools (llhttp,
the parser of Node.js and uvicorn) and answers as that site does, with no
request object, headers or resource tree: what a maintained parser without
twisted.web's C{Request} would leave of that floor (a floor, not a design:
the rule is to stay on twisted.web unless a maintained library does better).

With C{--limits}, the gateway's team services have a call-limit gate
(L{mcpgateway.governance.quotagate.QuotaGate}) with all four buckets
(principal, server, tool, principal-tool, each with a daily quota), none of
which refuses, as a config that sets C{"limits"} wires it: compare with the
plain figure (no C{"limits"}, no gate) for what the limits cost per call.

With C{--flow}, the gateway's flow rule is on and can hold a call (the
server is labelled C{private}, as C{"labels": ["private"]} in its entry
says): each call is decided by the rule, allowed, and its result
recorded for the session's client. Compare with the plain figure (no
server gives C{private}: the step is idle and runs nothing) for what the
labels and the rule cost an allowed call.

With C{--audit-log FILE}, the gateway keeps an audit log there (as
C{--audit-log} does; C{--audit-payloads} too): recording each request is in
the figure, and so is sealing and writing the records, which happens when
the buffer holds L{mcpgateway.ops.audit.AuditLog.FLUSH_RECORDS} of them
(the clock never ticks here), on the reactor's thread as in the gateway.

With C{--instructions}, the figure is instead the machine instructions per
call, counted by valgrind's callgrind (which must be installed): the script
runs itself twice under it, with the same warm-up and then C{--calls} and
twice C{--calls} calls, and divides the difference by C{--calls} (what
happens once, a module loaded or a table grown on some call, falls in the
first run's share of both). A count does not move
with what else the machine runs (timed figures here moved by a third on a
shared 2-core machine), so it compares two versions on a busy machine, and
C{--instructions --twisted stock} the stock path. Valgrind runs about 50
times slower: 2,000 calls take about a minute.

With C{--twisted stock}, the site is twisted.web's own channel and request
(C{--twisted=stock}); C{tuned} (the default) is the gateway's. There is no
reactor here: the reactor's part of the difference is only in a real run.

Usage: hotpath.py [--calls N] [--rounds R] [--count] [--floor] [--limits] [--flow]
[--audit-log FILE [--audit-payloads]] [--twisted stock|tuned] [--instructions]
(prints one JSON line)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]


def options() -> argparse.Namespace:
    """The command line: how many calls and rounds, and what else to measure."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--count", action="store_true", help="also count function calls per call")
    ap.add_argument("--floor", action="store_true", help="also measure bare twisted.web")
    ap.add_argument("--audit-log", metavar="FILE", help="keep an audit log in FILE")
    ap.add_argument("--audit-payloads", action="store_true", help="with arguments and results")
    ap.add_argument(
        "--limits",
        action="store_true",
        help="a call-limit gate: all four buckets with daily quotas, none refusing",
    )
    ap.add_argument(
        "--flow",
        action="store_true",
        help="the flow rule on, the server labelled private: each call decided and recorded",
    )
    ap.add_argument(
        "--instructions",
        action="store_true",
        help="machine instructions per call (valgrind's callgrind) instead of CPU time",
    )
    ap.add_argument("--only-calls", type=int, help=argparse.SUPPRESS)  # the counted run
    ap.add_argument(
        "--twisted",
        choices=("stock", "tuned"),
        help="the site's channel and request (--twisted; default: $MCPGATEWAY_TWISTED, else tuned)",
    )
    return ap.parse_args()


class Calls:
    """One session on the real site, driven a C{tools/call} at a time: the
    request's bytes into the channel, the fake child's answer into the
    gateway, the CPU of both timed."""

    def __init__(self, args: argparse.Namespace) -> None:
        from twisted.internet.address import IPv4Address
        from twisted.internet.testing import StringTransport

        from tests.http import ACCEPT_BOTH, Harness

        h = Harness()
        self.audit: Any = None
        if args.audit_log:
            from pathlib import Path

            from mcpgateway.ops.audit import AuditLog
            from mcpgateway.web.app import makeSite
            from mcpgateway.web.teamcluster import TeamServices

            self.audit = AuditLog(Path(args.audit_log), h.reactor, payloads=args.audit_payloads)
            self.audit.startService()
            h.site = makeSite(h.gateway, h.reactor, team=TeamServices(audit=self.audit))
        if args.limits:
            h.site.resource.team.callQuotas = limitGate(h.reactor)
        if args.flow:
            h.site = flowSite(h)
        sid = h.initialize("srv")
        self.proc = h.process()
        self.proc.written.clear()
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 50000))
        self.protocol = h.site.buildProtocol(self.transport.getPeer())
        self.protocol.makeConnection(self.transport)
        self.head = (
            "POST /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nAccept: "
            + ACCEPT_BOTH
            + "\r\nContent-Type: application/json\r\nMCP-Protocol-Version: 2025-11-25\r\n"
            "Mcp-Session-Id: " + sid + "\r\nContent-Length: "
        ).encode()
        self.clock = time.process_time

    def timed(self, f: Any, data: bytes, profile: Any) -> float:
        """CPU seconds of C{f(data)} (under C{profile} when given)."""
        if profile is not None:
            profile.enable()
        t0 = self.clock()
        f(data)
        took: float = self.clock() - t0
        if profile is not None:
            profile.disable()
        return took

    def one(self, n: int, profile: Any = None) -> tuple[float, bool]:
        """Call number C{n}: its CPU seconds, and whether its answer was its own."""
        msg = b"hotpath-%d" % n
        body = (
            b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo",'
            b'"arguments":{"message":"%s"}}}' % (n, msg)
        )
        self.transport.clear()
        request = self.head + b"%d\r\n\r\n" % len(body) + body
        took = self.timed(self.protocol.dataReceived, request, profile)
        childId = json.loads(self.proc.written.pop())["id"]
        reply = (
            b'{"jsonrpc":"2.0","id":%d,"result":{"content":[{"type":"text",'
            b'"text":"Echo: %s"}]}}\n' % (childId, msg)
        )
        took += self.timed(self.proc.stdout, reply, profile)
        out = self.transport.value()  # chunked SSE or one Content-Length answer: both complete
        return took, (b'"id":%d,' % n) in out and (b"Echo: " + msg) in out


def limitGate(reactor: Any) -> Any:
    """A call-limit gate on C{reactor}: every bucket with a rate and a daily
    quota so high that none refuses, so that each call passes all four."""
    from mcpgateway.config.quotas import parseQuotas
    from mcpgateway.governance.quotagate import QuotaGate

    rate = {"calls": "1000000000/s", "burst": 1000000000, "daily": 1000000000}
    keys = ("principal", "server", "tool", "principalTool")
    limits = parseQuotas(dict.fromkeys(keys, rate))
    return QuotaGate(reactor, lambda: limits)


def flowSite(h: Any) -> Any:
    """The harness's site again, its gateway's flow rule on: the server
    C{srv} labelled C{private} (so the step is active), a store of held
    calls made on first use (none is held here)."""
    from dataclasses import replace

    from mcpgateway.flow.held import HeldCalls
    from mcpgateway.flow.labels import parseEntryLabels
    from mcpgateway.flow.rule import FlowSettings
    from mcpgateway.flow.step import FlowStep
    from mcpgateway.web.app import makeSite

    pool = h.gateway.pools["srv"]
    pool.spec = replace(pool.spec, labels=parseEntryLabels(["private"]))
    step = FlowStep(h.reactor, lambda: HeldCalls(h.reactor))
    step.use({"srv": pool.spec}, FlowSettings(), h.gateway.catalogs)
    assert step.active
    h.gateway.flow = step
    return makeSite(h.gateway, h.reactor, maxBody=4096)  # as the harness made it


WARMUP = 200
"""Calls made before any counted one (caches filled, code specialised)."""


def instructions(args: argparse.Namespace) -> dict[str, Any]:
    """Machine instructions per call: this script under callgrind with
    C{WARMUP + args.calls} calls, then C{WARMUP + 2 * args.calls}, the
    difference divided."""
    counted = []
    for n in (args.calls, 2 * args.calls):
        with tempfile.TemporaryDirectory() as tmp:
            argv = [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/out",
                sys.executable,
                os.path.abspath(__file__),
                "--only-calls",
                str(n),
                *(["--twisted", args.twisted] if args.twisted else []),
                *(["--limits"] if args.limits else []),
                *(["--flow"] if args.flow else []),
            ]
            env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dicts in both runs
            done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
            found = re.search(r"Collected : (\d+)", done.stderr)
            if done.returncode or found is None:
                raise SystemExit(f"callgrind run failed: {done.stderr[-2000:]}")
            counted.append(int(found.group(1)))
    return {
        "instructionsPerCall": round((counted[1] - counted[0]) / args.calls),
        "instructionsCounted": counted,
    }


def onlyCalls(calls: Calls, n: int) -> None:
    """The counted run: C{WARMUP} calls, then C{n}, every answer checked."""
    for k in range(WARMUP + n):
        if not calls.one(k)[1]:
            raise SystemExit(f"call {k} was not answered with its own echo")


def main() -> None:
    args = options()
    if args.twisted:
        os.environ["MCPGATEWAY_TWISTED"] = args.twisted  # what makeSite reads
    if args.instructions:
        figures = instructions(args)
        twisted = os.environ.get("MCPGATEWAY_TWISTED") or "tuned"
        print(json.dumps({"twisted": twisted, "calls": args.calls, **figures}))
        return
    calls = Calls(args)
    if args.only_calls is not None:
        onlyCalls(calls, args.only_calls)
        return
    perRound = []
    bad = 0
    n = 0
    floor = floorRunner(calls.head, calls.clock) if args.floor else None
    parserFloor = parserFloorRunner(calls.head, calls.clock) if args.floor else None
    floorRounds: list[float] = []
    parserRounds: list[float] = []
    for _ in range(args.rounds):
        spent = 0.0
        gc.collect()
        for _ in range(args.calls):
            n += 1
            took, ok = calls.one(n)
            spent += took
            bad += not ok
        perRound.append(spent / args.calls * 1e6)
        if floor is not None:
            gc.collect()
            floorRounds.append(sum(floor(k) for k in range(args.calls)) / args.calls * 1e6)
        if parserFloor is not None:
            gc.collect()
            parserRounds.append(sum(parserFloor(k) for k in range(args.calls)) / args.calls * 1e6)
    counted = None
    if args.count:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        for _ in range(1000):
            n += 1
            bad += not calls.one(n, profile)[1]
        stats = pstats.Stats(profile)
        counted = round(sum(v[1] for v in stats.stats.values()) / 1000, 1)  # type: ignore[attr-defined]
    perRound.sort()
    if calls.audit is not None:
        calls.audit.stopService()
    print(
        json.dumps(
            {
                "limits": args.limits,
                "flow": args.flow,
                "twisted": os.environ.get("MCPGATEWAY_TWISTED") or "tuned",
                "calls": args.calls,
                "rounds": args.rounds,
                "usPerCall": round(perRound[len(perRound) // 2], 1),
                "usPerCallRounds": [round(x, 1) for x in perRound],
                "bad": bad,
                **({"auditRecords": calls.audit.records} if calls.audit is not None else {}),
                **({"functionCallsPerCall": counted} if counted is not None else {}),
                **(median("twistedWebFloor", floorRounds) if floorRounds else {}),
                **(median("httptoolsFloor", parserRounds) if parserRounds else {}),
            }
        )
    )


def median(name: str, rounds: list[float]) -> dict[str, Any]:
    rounds = sorted(rounds)
    return {
        name + "UsPerCall": round(rounds[len(rounds) // 2], 1),
        name + "UsPerCallRounds": [round(x, 1) for x in rounds],
    }


def floorRunner(head: bytes, clock: Any) -> Any:
    """C{floor(n)}: the CPU seconds bare twisted.web (C{twfloor.py}'s site)
    spends on request C{n}."""
    import twfloor
    from twisted.internet.task import Clock

    return protocolRunner(twfloor.makeSite(Clock()), head, clock, "twfloor")


def parserFloorRunner(head: bytes, clock: Any) -> Any:
    """C{floor(n)}: the CPU seconds httptools on a bare Twisted C{Protocol}
    spends on request C{n}, answering as C{twfloor.py}'s site does (the
    caller's id, C{Echo: <message>}, one Content-Length response, the body
    decoded and the answer encoded with the stdlib C{json}); C{None} without
    httptools."""
    try:
        import httptools  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    from twfloor import echoAnswer
    from twisted.internet.protocol import Factory, Protocol

    class Floor(Protocol):
        """Answers each complete request in the turn its last byte came."""

        def connectionMade(self) -> None:
            self.parser = httptools.HttpRequestParser(self)
            self.body: list[bytes] = []

        def dataReceived(self, data: bytes) -> None:
            self.parser.feed_data(data)

        # httptools' callbacks (the headers and URL are parsed, and ignored here)
        def on_body(self, body: bytes) -> None:
            self.body.append(body)

        def on_message_complete(self) -> None:
            message: dict[str, Any] = json.loads(b"".join(self.body))
            self.body = []
            answer = echoAnswer(message)
            assert self.transport is not None
            self.transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(answer), answer)
            )

    return protocolRunner(Factory.forProtocol(Floor), head, clock, "httptools floor")


def protocolRunner(factory: Any, head: bytes, clock: Any, name: str) -> Any:
    """C{floor(n)}: the CPU seconds a protocol of C{factory} spends on an
    echo call C{n} sent with the request head C{head} (and its answer checked)."""
    from twisted.internet.address import IPv4Address
    from twisted.internet.testing import StringTransport

    transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 50001))
    protocol = factory.buildProtocol(transport.getPeer())
    assert protocol is not None
    protocol.makeConnection(transport)

    def floor(n: int) -> float:
        body = (
            b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo",'
            b'"arguments":{"message":"floor-%d"}}}' % (n, n)
        )
        data = head + b"%d\r\n\r\n" % len(body) + body
        transport.clear()
        t0 = clock()
        protocol.dataReceived(data)
        took: float = clock() - t0
        if b"floor-%d" % n not in transport.value():
            raise SystemExit(f"{name} answered {transport.value()[:200]!r}")
        return took

    return floor


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""What an idle session costs the gateway: memory held and CPU to open one.

In process (C{inproc}, the default), without sockets or a reactor: the real
C{Site} and gateway of C{tests/http.py}'s Harness (as C{hotpath.py}), one
shared fake child that answers its C{initialize}, and N sessions opened
through the real C{POST /srv/mcp} C{initialize} path, each on a connection
of its own that the client then closes. Reported for each N:

 - C{idleBytesTracemalloc}: what the Python heap grew by, per session
   (a tracemalloc snapshot diff over N);
 - C{idleBytesRss}: the process's RSS growth per session (allocator and
   interpreter overheads included; the first rounds also grow the arenas);
 - C{getStreamBytesTracemalloc}/C{getStreamBytesRss}: what each session's
   GET stream adds once open (a connection and request kept open);
 - C{usPerOpen}: CPU (C{process_time}) per C{initialize}, request bytes in
   to answer out;
 - C{top}: with C{--top K}, the K source lines that hold most of an idle
   session's memory (tracemalloc, bytes per session).

C{--pid-lookup} gives the gateway the socket-owner lookup of a real
gateway (C{CoalescedPidFinder}) with the scan run on the spot instead of in
a thread, so its CPU is counted: the cost of opening a session whose client
sent no pid. C{--profile K} adds the K functions of most cumulative time of
the opens (cProfile). A model for a million sessions is extrapolated from
the largest N.

C{save}: what a save of the sessions file costs the reactor thread each
second, N sessions saved (a real C{SessionStore} in a temporary
directory, its writes run after the timing, each timed apart as
C{threadMs}): C{changedMs} after C{--changed} sessions had a request,
C{wholeMs} for a save that builds and encodes every record (the stop's
last save, and what every save cost before the records were kept encoded).

A real gateway's sessions, over loopback and at up to 100,000, are
C{sessionscale.py}'s.

Usage: sessioncost.py [inproc] [--sessions 1000,10000,100000] [--top K]
[--profile K] [--pid-lookup]; sessioncost.py save [--sessions 10000,100000]
[--changed 100] (prints JSON lines)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import tracemalloc
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

ACCEPT = "application/json, text/event-stream"
MILLION = 1_000_000


def rss() -> int:
    """This process's resident set, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def initializeBody(n: int) -> bytes:
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "id": n,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "sessioncost", "version": "1"},
            },
        },
        separators=(",", ":"),
    ).encode()


def request(method: str, path: str, body: bytes = b"", session: str | None = None) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1:9100", f"Accept: {ACCEPT}"]
    if method == "GET":
        head[-1] = "Accept: text/event-stream"
    if body:
        head.append("Content-Type: application/json")
    head.append("MCP-Protocol-Version: 2025-11-25")
    if session is not None:
        head.append(f"Mcp-Session-Id: {session}")
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class InProcess:
    """A gateway of fake children behind the real site, and sessions opened on it."""

    def __init__(self, pidLookup: bool) -> None:
        from twisted.internet.defer import succeed

        from mcpgateway.core.gateway.gateway import Gateway
        from mcpgateway.web.app import makeSite
        from tests.fakes import FakeProcessReactor, fakeSpawner
        from tests.http import spec

        self.reactor = FakeProcessReactor()
        settings: dict[str, Any] = {}
        if pidLookup:
            from mcpgateway.ops.ownerscan import CoalescedPidFinder

            def onTheSpot(f: Any, *a: Any, **kw: Any) -> Any:
                return succeed(f(*a, **kw))

            settings["pidFinder"] = CoalescedPidFinder(onTheSpot)
        self.gateway = Gateway({"srv": spec("srv")}, fakeSpawner(self.reactor), **settings)
        from mcpgateway.protocol.bounds import MessageBounds

        self.site = makeSite(
            self.gateway,
            self.reactor,
            limits=MessageBounds(maxSessions=10 * MILLION, maxConnectionsPerPeer=10 * MILLION),
        )
        self.port = 1024
        self.streams: list[Any] = []

    def connect(self) -> tuple[Any, Any]:
        from twisted.internet.address import IPv4Address
        from twisted.internet.testing import StringTransport

        self.port = self.port + 1 if self.port < 65000 else 1025
        transport = StringTransport(
            peerAddress=IPv4Address("TCP", "127.0.0.1", self.port),
            hostAddress=IPv4Address("TCP", "127.0.0.1", 9100),
        )
        protocol = self.site.buildProtocol(transport.getPeer())
        protocol.makeConnection(transport)
        return transport, protocol

    def answerChild(self) -> None:
        """Answer the shared child's C{initialize}s still unanswered."""
        for proc in self.reactor.processes:
            for line in proc.written:
                message = json.loads(line)
                if message.get("method") == "initialize":
                    proc.reply(
                        {
                            "jsonrpc": "2.0",
                            "id": message["id"],
                            "result": {
                                "protocolVersion": "2025-11-25",
                                "capabilities": {"tools": {}},
                                "serverInfo": {"name": "fake", "version": "0"},
                            },
                        }
                    )
            proc.written.clear()

    def open(self, n: int) -> str:
        """Open one session (a connection of its own, closed after); its id."""
        from twisted.internet.error import ConnectionDone
        from twisted.python.failure import Failure

        transport, protocol = self.connect()
        protocol.dataReceived(request("POST", "/srv/mcp", initializeBody(n)))
        out = transport.value()
        if b"\r\n\r\n" not in out or b"mcp-session-id" not in out.lower():
            self.answerChild()
            out = transport.value()
        head = out.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        sid = next(
            line.split(":", 1)[1].strip()
            for line in head.split("\r\n")
            if line.lower().startswith("mcp-session-id:")
        )
        protocol.connectionLost(Failure(ConnectionDone()))
        return sid

    def openStream(self, sid: str) -> None:
        """Open the GET stream of session C{sid}, and keep its connection."""
        transport, protocol = self.connect()
        protocol.dataReceived(request("GET", "/srv/mcp", session=sid))
        if b" 200 " not in transport.value()[:20]:
            raise SystemExit(f"GET stream refused: {transport.value()[:200]!r}")
        transport.clear()
        self.streams.append((transport, protocol))


def gatewayOnly(snapshot: tracemalloc.Snapshot) -> tracemalloc.Snapshot:
    """C{snapshot} without what this script holds itself (the ids it
    keeps, its fake transports' own objects)."""
    return snapshot.filter_traces([tracemalloc.Filter(False, __file__)])


def measured(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, n: int) -> float:
    diff = gatewayOnly(after).compare_to(gatewayOnly(before), "filename")
    return round(sum(d.size_diff for d in diff) / n, 1)


def opening(n: int, pidLookup: bool) -> float:
    """CPU seconds per session opened, over C{n} opened in a fresh gateway
    (not traced: tracemalloc slows every allocation)."""
    g = InProcess(pidLookup)
    g.open(0)
    gc.collect()
    clock = time.process_time
    t0 = clock()
    for k in range(n):
        g.open(k + 1)
    return (clock() - t0) / n


def inproc(n: int, top: int, profile: int, pidLookup: bool) -> dict[str, Any]:
    """One round of C{n} sessions in a fresh gateway (see the module's docstring)."""
    spent = opening(min(n, 20_000), pidLookup)
    g = InProcess(pidLookup)
    g.open(0)  # the child's start and handshake, imports, first-use caches
    g.openStream(g.open(1))
    gc.collect()
    tracemalloc.start(1)
    base = tracemalloc.take_snapshot()
    rss0 = rss()
    sids = [g.open(k + 2) for k in range(n)]
    gc.collect()
    rss1 = rss()
    idle = tracemalloc.take_snapshot()
    for sid in sids:
        g.openStream(sid)
    gc.collect()
    rss2 = rss()
    streaming = tracemalloc.take_snapshot()
    tracemalloc.stop()
    assert len(g.gateway.sessions) == n + 2
    result: dict[str, Any] = {
        "mode": "inproc",
        "sessions": n,
        "pidLookup": pidLookup,
        "idleBytesTracemalloc": measured(base, idle, n),
        "idleBytesRss": round((rss1 - rss0) / n, 1),
        "getStreamBytesTracemalloc": measured(idle, streaming, n),
        "getStreamBytesRss": round((rss2 - rss1) / n, 1),
        "usPerOpen": round(spent * 1e6, 1),
    }
    if top:
        stats = idle.compare_to(base, "lineno")[:top]
        result["top"] = [
            [f"{s.traceback[0].filename.split('/')[-1]}:{s.traceback[0].lineno}", s.size_diff // n]
            for s in stats
        ]
        stats = streaming.compare_to(idle, "lineno")[:top]
        result["topStream"] = [
            [f"{s.traceback[0].filename.split('/')[-1]}:{s.traceback[0].lineno}", s.size_diff // n]
            for s in stats
        ]
    if profile:
        import cProfile
        import io
        import pstats

        g = InProcess(pidLookup)
        g.open(0)
        p = cProfile.Profile()
        p.enable()
        for k in range(min(n, 2000)):
            g.open(k + 1)
        p.disable()
        out = io.StringIO()
        pstats.Stats(p, stream=out).sort_stats("cumulative").print_stats(profile)
        result["profile"] = out.getvalue().splitlines()[-profile - 2 :]
    return result


def saving(n: int, changed: int) -> dict[str, Any]:
    """One round of C{save}: C{n} sessions in a fresh gateway's registry
    (see the module's docstring)."""
    import tempfile
    from pathlib import Path

    from mcpgateway.core.gateway.gateway import Gateway
    from mcpgateway.ops.sessionstore import SessionStore
    from tests.fakes import FakeProcessReactor, HandThreads, fakeSpawner
    from tests.http import spec

    reactor = FakeProcessReactor()
    threads = HandThreads()
    with tempfile.TemporaryDirectory() as directory:
        store = SessionStore(Path(directory) / "sessions.json", runInThread=threads)
        gateway = Gateway({"srv": spec("srv")}, fakeSpawner(reactor), persistence=store)
        gateway.start()
        registry = gateway.sessions
        info = {"name": "sessioncost", "version": "1"}
        sessions = [registry.create("srv", "2025-11-25", {}, info) for _ in range(n)]
        continuity = gateway._continuity
        clock = time.process_time

        def timed(work: Any) -> tuple[float, float]:
            t0 = clock()
            work()
            t1 = clock()
            threads.runAll()
            return (t1 - t0) * 1e3, (clock() - t1) * 1e3

        first = timed(continuity.save)
        timed(continuity.save)  # the sessions saved by the first one: nothing to do
        reactor.advance(1.0)
        for session in sessions[:changed]:
            registry.touch(session)
        changedMs, threadMs = timed(continuity.save)
        wholeMs, wholeThreadMs = timed(lambda: continuity.save(whole=True))
        encoded = store.lines.encoded
        reactor.advance(1.0)
        registry.touch(sessions[-1])
        continuity.save()
        threads.runAll()
        return {
            "mode": "save",
            "sessions": n,
            "changed": changed,
            "firstMs": round(first[0], 2),
            "changedMs": round(changedMs, 2),
            "threadMs": round(threadMs, 2),
            "wholeMs": round(wholeMs, 2),
            "wholeThreadMs": round(wholeThreadMs, 2),
            "encodedForOneChange": store.lines.encoded - encoded,
            "fileBytes": store.path.stat().st_size,
        }


def model(row: dict[str, Any]) -> dict[str, Any]:
    """A million sessions, extrapolated from C{row}."""
    idle = max(row["idleBytesTracemalloc"], row["idleBytesRss"])
    stream = idle + max(row["getStreamBytesTracemalloc"], row["getStreamBytesRss"])
    return {
        "mode": "model",
        "sessions": MILLION,
        "from": row["sessions"],
        "idleMB": round(idle * MILLION / 2**20),
        "withGetStreamMB": round(stream * MILLION / 2**20),
        "openCpuSeconds": round(row["usPerOpen"] * MILLION / 1e6, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", nargs="?", choices=("inproc", "save"), default="inproc")
    ap.add_argument("--sessions", default=None, help="comma-separated counts")
    ap.add_argument("--top", type=int, default=0, help="the K lines holding most")
    ap.add_argument("--profile", type=int, default=0, help="the K costliest functions of opens")
    ap.add_argument("--pid-lookup", action="store_true", help="look up socket owners")
    ap.add_argument("--changed", type=int, default=100, help="save: sessions with a request")
    args = ap.parse_args()
    from twisted.logger import globalLogBeginner

    # As in a gateway, events go to the observers started at once (none
    # here), not into the start-up buffer.
    globalLogBeginner.beginLoggingTo([], discardBuffer=True, redirectStandardIO=False)
    if args.mode == "save":
        for n in [int(x) for x in (args.sessions or "10000,100000").split(",")]:
            print(json.dumps(saving(n, args.changed)), flush=True)
        return
    counts = [int(x) for x in (args.sessions or "1000,10000,100000").split(",")]
    last = None
    for n in counts:
        last = inproc(n, args.top, args.profile, args.pid_lookup)
        print(json.dumps(last), flush=True)
        gc.collect()
    if last is not None:
        print(json.dumps(model(last)), flush=True)


if __name__ == "__main__":
    main()

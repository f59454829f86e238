#!/usr/bin/env python3
"""Look for the gateway's periodic stall at C=64: latency over time,
GC pauses, reactor turn lengths and write sizes, recorded in one run.

Usage (from the repository, with the project's or the bench's interpreter)::

    python benchmarks/stall.py [--sessions 64] [--calls 300] [--rounds 5]
                               [--patches a,b] [--json OUT]

Three roles, each in its own process:

  run      (default) the orchestrator: starts ``stall.py gateway`` (a real
           ``twist mcpgateway`` on loopback, one shared server-everything
           child), then for each round a fresh ``stall.py load`` with C
           sessions; before a round it sends SIGRTMIN+3 to the gateway (reset
           the recorders), after it SIGRTMIN+4 (write them out), then prints
           what it found per round and writes the JSON (--json).
  gateway  ``twist`` with recorders installed before the reactor starts:
           every garbage collection (``gc.callbacks``: generation, duration,
           objects collected), every reactor turn (the time from one
           ``epoll_wait`` returning to the next one being called, and how
           many events it handled), every write syscall to the child's stdin
           and to client sockets (bytes asked, bytes taken), every read from
           the child's stdout. ``--patches`` applies ``gateway_patches.py``
           changes (and the ones below) first.
  cycles   ``cycles [N] [patches]``: in process (hotpath.py's harness: real
           Site, fake child, no sockets), N calls with the collector off, then
           one collection with DEBUG_SAVEALL: the objects per call that only the
           cycle collector frees, by type. ``cycles --cpu N [patches]``: CPU per
           call with the collector on instead (median of 5 rounds).
  load     ``mcpload.py``'s load generator (same verification: every answer
           is the caller's own), also recording when each call completed, so
           the orchestrator can draw calls/s and latency per 100 ms window.

Fix candidates (``--patches``, with gateway_patches.py's names):
``nocycles`` breaks the two reference cycles each POST's SSE stream leaves,
``gcfreeze`` runs ``gc.freeze()`` once the reactor runs, ``gcthreshold`` sets
the gen-0 threshold to 10,000 (``STALL_GC_THRESHOLD0``). Findings and figures:
docs/design/costs.md, "Garbage collection".

All clocks are ``time.perf_counter`` (CLOCK_MONOTONIC on Linux), so the load
generator's windows and the gateway's events line up.

Benchmark only: nothing here changes ``mcpgateway/``. Loopback only; every
loop is bounded by a call count and a deadline.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from stallanalysis import analyse, summary  # noqa: E402

GC_THRESHOLD0 = int(os.environ.get("STALL_GC_THRESHOLD0", "10000"))

RESET_SIGNAL = signal.SIGRTMIN + 3
DUMP_SIGNAL = signal.SIGRTMIN + 4
"""Reset and write out the recorders (not SIGUSR1/2: the gateway restarts on
SIGUSR2, see mcpgateway/ops/handover.py)."""

STALL_PATCHES = ("nocycles", "gcfreeze", "gcthreshold")
"""Patches of this script (the others are gateway_patches.py's)."""


# -- the gateway with recorders ---------------------------------------------------


class Recorder:
    """What the gateway did between RESET_SIGNAL and DUMP_SIGNAL. Lists of tuples, no
    per-event objects beyond them (the recorder must not be the stall)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.t0 = time.perf_counter()
        self.gcs: list[tuple[float, int, float, int, int]] = []  # start, gen, s, collected, uncoll
        self.turns: list[tuple[float, float, int]] = []  # poll returned, busy s, events
        self.childWrites: list[tuple[float, int, int]] = []  # t, asked, taken
        self.sockWrites: list[tuple[float, int, int]] = []
        self.childReads: list[tuple[float, int]] = []
        self.sends = 0  # ChildProtocol.send calls (messages to the child)
        self._gcStart = 0.0

    def onGc(self, phase: str, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._gcStart = now
        else:
            self.gcs.append(
                (
                    self._gcStart,
                    info["generation"],
                    now - self._gcStart,
                    info["collected"],
                    info["uncollectable"],
                )
            )

    def dump(self, path: str) -> None:
        counts = gc.get_count()
        data = {
            "t0": self.t0,
            "t1": time.perf_counter(),
            "gcs": self.gcs,
            "turns": self.turns,
            "childWrites": self.childWrites,
            "sockWrites": self.sockWrites,
            "childReads": self.childReads,
            "sends": self.sends,
            "gcCount": list(counts),
            "gcThreshold": list(gc.get_threshold()),
            "gcFrozen": gc.get_freeze_count(),
            "trackedObjects": len(gc.get_objects()),
            "gen2Objects": len(gc.get_objects(2)),
            "topTypes": topTypes(),
            "fullCollectMs": timedCollect(),
        }
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)


REC = Recorder()


def topTypes(n: int = 12) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for o in gc.get_objects():
        name = type(o).__qualname__
        counts[name] = counts.get(name, 0) + 1
    return sorted(counts.items(), key=lambda kv: -kv[1])[:n]


def timedCollect() -> float:
    """One full collection, timed (at dump time, after the round)."""
    t = time.perf_counter()
    gc.collect()
    return round((time.perf_counter() - t) * 1e3, 2)


def installRecorders() -> None:
    """Patch the reactor's poll loop and the write/read paths (class level, so
    they apply whatever instance the gateway creates)."""
    from twisted.internet import epollreactor, process, tcp
    from twisted.python import log as tlog

    perf = time.perf_counter
    last = [perf()]
    callWithLogger: Any = tlog.callWithLogger
    epoll: Any = epollreactor.EPollReactor
    writer: Any = process.ProcessWriter
    reader: Any = process.ProcessReader
    connection: Any = tcp.Connection
    turns = REC

    def doPoll(self: Any, timeout: float | None) -> None:
        if timeout is None:
            timeout = -1
        before = perf()
        try:
            events = self._poller.poll(timeout, len(self._selectables))
        except OSError as err:
            import errno

            if err.errno == errno.EINTR:
                return
            raise
        after = perf()
        # busy time of the turn that ended at this poll: from the previous
        # poll's return to this poll's call (events, timed calls, writes)
        turns.turns.append((last[0], before - last[0], len(events)))
        last[0] = after
        _drdw = self._doReadOrWrite
        for fd, event in events:
            try:
                selectable = self._selectables[fd]
            except KeyError:
                pass
            else:
                callWithLogger(selectable, _drdw, selectable, fd, event)

    epoll.doPoll = doPoll
    epoll.doIteration = doPoll

    writerWrite = writer.writeSomeData

    def childWrite(self: Any, data: bytes) -> Any:
        rv = writerWrite(self, data)
        REC.childWrites.append((perf(), len(data), rv if isinstance(rv, int) else -1))
        return rv

    writer.writeSomeData = childWrite

    sockWrite = connection.writeSomeData

    def socketWrite(self: Any, data: bytes) -> Any:
        rv = sockWrite(self, data)
        REC.sockWrites.append((perf(), len(data), rv if isinstance(rv, int) else -1))
        return rv

    connection.writeSomeData = socketWrite

    readerData = reader.dataReceived

    def childRead(self: Any, data: bytes) -> None:
        if self.name == 1:
            REC.childReads.append((perf(), len(data)))
        readerData(self, data)

    reader.dataReceived = childRead

    from mcpgateway.core import child

    send = child.ChildProtocol.send

    def countedSend(self: Any, message: Any) -> None:
        REC.sends += 1
        send(self, message)

    child.ChildProtocol.send = countedSend  # type: ignore[method-assign]
    gc.callbacks.append(REC.onGc)


def applyStallPatches(names: set[str]) -> None:
    """The fix candidates of this script (applied in the gateway process)."""
    if "nocycles" in names:
        # Break the two reference cycles every POST's SSE stream leaves behind
        # (found with ``stall.py cycles``): request.onLost is a lambda that holds
        # the request and the stream; a StreamLog and its SSEStream point at
        # each other. Without them, reference counting frees a finished call.
        from mcpgateway.web.plumbing import replay, sse

        close = sse.SSEStream.close

        def closeNoCycle(self: Any) -> None:
            request = self._request
            close(self)
            if (
                request is not None
                and self._request is None
                and getattr(request, "onLost", None) is not None
            ):
                request.onLost = None

        sse.SSEStream.close = closeNoCycle  # type: ignore[method-assign]
        drop = replay.StreamLog.drop

        def dropNoCycle(self: Any) -> None:
            drop(self)
            self.stream = None

        replay.StreamLog.drop = dropNoCycle  # type: ignore[method-assign]
    if "gcfreeze" in names:
        # After start-up: move everything alive into the permanent generation,
        # so that full collections do not walk the start-up objects again.
        from twisted.internet import reactor as _reactor

        reactor: Any = _reactor

        def freeze() -> None:
            gc.collect()
            gc.freeze()

        reactor.callWhenRunning(freeze)
    if "gcthreshold" in names:
        # Fewer young collections: fewer in-flight objects promoted, so fewer
        # full collections (the default is 700, 10, 10).
        gc.set_threshold(GC_THRESHOLD0, 10, 10)


def gatewayMain(argv: list[str]) -> None:
    out = argv[argv.index("--out") + 1]
    patches: set[str] = set()
    if "--patches" in argv:
        i = argv.index("--patches")
        patches = {p for p in argv[i + 1].split(",") if p}
        del argv[i : i + 2]
    del argv[argv.index("--out") : argv.index("--out") + 2]
    import gateway_patches

    ours = patches & set(STALL_PATCHES)
    gateway_patches.applyEarly(patches - ours)
    from twisted.application.twist import _twist

    gateway_patches.apply(patches - ours)
    installRecorders()
    applyStallPatches(ours)
    signal.signal(RESET_SIGNAL, lambda *_: REC.reset())
    signal.signal(DUMP_SIGNAL, lambda *_: REC.dump(out))
    _twist.Twist.main(["twist", *argv])


# -- the load generator with a timeline --------------------------------------------


def loadMain(argv: list[str]) -> None:
    import mcpload

    done: list[int] = []  # perf_counter_ns at each ok, measured completion
    lats: list[int] = []
    gotOrig = mcpload.LoadSession._got

    def got(self: Any, status: int, headers: dict[str, str], body: bytes) -> None:
        n = len(self.tally.latNs)
        gotOrig(self, status, headers, body)
        latNs = self.tally.latNs
        if len(latNs) > n:  # this call was ok and measured
            done.append(self.t0 + latNs[-1])
            lats.append(latNs[-1])
        elif not self.measure:
            pass

    mcpload.LoadSession._got = got  # type: ignore[method-assign]
    outOrig = mcpload.out

    def out(event: str, **fields: Any) -> None:
        if event == "result":
            fields["timeline"] = {"doneNs": done, "latNs": lats}
        outOrig(event, **fields)

    mcpload.out = out
    mcpload.main(["load", *argv])


# -- what the cycles are ------------------------------------------------------------


def cyclesMain(argv: list[str]) -> None:
    """In process (hotpath.py's harness: real Site, fake child, no sockets):
    N calls with the collector off, then one collection with DEBUG_SAVEALL:
    the objects per call that only the cycle collector frees, by type."""
    timing = bool(argv) and argv[0] == "--cpu"
    if timing:
        argv = argv[1:]
    calls = int(argv[0]) if argv else 500
    patches = {p for p in (argv[1] if len(argv) > 1 else "").split(",") if p}
    sys.path.insert(0, str(REPO))
    applyStallPatches(patches - {"gcfreeze", "gcthreshold"})
    from twisted.internet.address import IPv4Address
    from twisted.internet.testing import StringTransport

    from tests.http import ACCEPT_BOTH, Harness

    h: Any = Harness()
    sid = h.initialize("srv")
    proc = h.process()
    proc.written.clear()
    makeTransport: Any = StringTransport
    transport = makeTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 50000))
    protocol = h.site.buildProtocol(transport.getPeer())
    protocol.makeConnection(transport)
    head = (
        "POST /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nAccept: "
        + ACCEPT_BOTH
        + "\r\nContent-Type: application/json\r\nMCP-Protocol-Version: 2025-11-25\r\n"
        "Mcp-Session-Id: " + sid + "\r\nContent-Length: "
    ).encode()

    def call(n: int) -> None:
        body = (
            b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo",'
            b'"arguments":{"message":"m%d"}}}' % (n, n)
        )
        transport.clear()
        protocol.dataReceived(head + b"%d\r\n\r\n" % len(body) + body)
        childId = json.loads(proc.written.pop())["id"]
        proc.stdout(
            b'{"jsonrpc":"2.0","id":%d,"result":{"content":[{"type":"text",'
            b'"text":"Echo: m%d"}]}}\n' % (childId, n)
        )
        assert b"Echo: m%d" % n in transport.value()

    for n in range(50):
        call(n)
    if timing:
        # CPU per call with the collector on, as in the gateway (median of rounds)
        if "gcfreeze" in patches:
            gc.collect()
            gc.freeze()
        if "gcthreshold" in patches:
            gc.set_threshold(GC_THRESHOLD0, 10, 10)
        perRound = []
        n = 50
        for _ in range(5):
            t0 = time.process_time()
            for _ in range(calls):
                n += 1
                call(n)
            perRound.append((time.process_time() - t0) / calls * 1e6)
        perRound.sort()
        print(
            json.dumps(
                {
                    "patches": sorted(patches),
                    "calls": calls,
                    "usPerCall": round(perRound[2], 1),
                    "usPerCallRounds": [round(x, 1) for x in perRound],
                }
            )
        )
        return
    gc.collect()
    gc.disable()
    for n in range(50, 50 + calls):
        call(n)
    gc.set_debug(gc.DEBUG_SAVEALL)
    found = gc.collect()
    gc.set_debug(0)
    counts: dict[str, int] = {}
    for o in gc.garbage:
        name = type(o).__module__ + "." + type(o).__qualname__
        counts[name] = counts.get(name, 0) + 1
    print(
        json.dumps(
            {
                "calls": calls,
                "cyclicObjectsPerCall": round(found / calls, 1),
                "byType": {
                    k: round(v / calls, 2)
                    for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:25]
                },
            },
            indent=1,
        )
    )


# -- the orchestrator ---------------------------------------------------------------


class Proc:
    """A child process speaking mcpload's JSON lines."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)

    def expect(self, event: str, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        result: list[dict[str, Any]] = []

        def read() -> None:
            assert self.proc.stdout is not None
            for raw in self.proc.stdout:
                msg = json.loads(raw)
                if msg.get("event") in (event, "failed"):
                    result.append(msg)
                    return

        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(timeout)
        if not result:
            raise RuntimeError(f"no {event} within {timeout}s")
        if result[0]["event"] == "failed":
            raise RuntimeError(str(result[0]))
        return result[0]

    def say(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def startGateway(
    args: argparse.Namespace, tmp: Path, env: dict[str, str], recFile: Path
) -> tuple[subprocess.Popen[bytes], int]:
    """C{stall.py gateway} (a real C{twist mcpgateway} with the recorders) on
    an OS-chosen loopback port, in front of one server-everything child: the
    process and its port, once it answered a first call."""
    import bench

    paths = dict(
        line.split("=", 1)
        for line in (
            Path(os.environ.get("MCPGATEWAY_TEST_CACHE", REPO / ".cache/test-backends"))
            / "paths.env"
        )
        .read_text()
        .splitlines()
        if "=" in line
    )
    js = paths["SERVER_EVERYTHING_JS"]
    cfg = tmp / "config.json"
    cfg.write_text(json.dumps({"mcpServers": {"everything": bench.everythingSpec(js)}}))
    argv = [sys.executable, str(Path(__file__).resolve()), "gateway", "--out", str(recFile)]
    if args.patches:
        argv += ["--patches", args.patches]
    argv += [
        "--log-format=text",
        "mcpgateway",
        "--port",
        "tcp:0:interface=127.0.0.1",
        "--config",
        str(cfg),
    ]
    gw = subprocess.Popen(
        argv,
        cwd=tmp,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    port = 0
    assert gw.stdout is not None
    deadline = time.monotonic() + 30
    for raw in gw.stdout:
        m = bench.PORT_LINE.search(raw.decode(errors="replace"))
        if m:
            port = int(m.group(1))
            break
        if time.monotonic() > deadline:
            break
    if not port:
        gw.kill()
        raise SystemExit("the gateway did not start")
    threading.Thread(target=lambda: [None for _ in gw.stdout or []], daemon=True).start()
    bench.firstCall(port, "everything")
    return gw, port


def oneRound(
    args: argparse.Namespace,
    gw: subprocess.Popen[bytes],
    url: str,
    env: dict[str, str],
    recFile: Path,
) -> dict[str, Any]:
    """A fresh C{stall.py load} with C sessions: the gateway's recorders reset
    before it, written out after it, and the round analysed."""
    import bench

    load = Proc(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "load",
            "--url",
            url,
            "--sessions",
            str(args.sessions),
            "--calls",
            str(args.calls),
            "--warmup",
            "5",
            "--max-seconds",
            str(args.max_seconds),
            "--nonce",
            os.urandom(4).hex(),
            "--wait-go",
        ],
        env,
    )
    try:
        load.expect("ready", 60)
        if args.quiet:
            bench.QuietGate(args.quiet).wait()
        if recFile.exists():
            recFile.unlink()
        cpu0 = sum(bench.procUserSys(gw.pid))
        gw.send_signal(RESET_SIGNAL)
        time.sleep(0.05)
        load.say("GO")
        result = load.expect("result", args.max_seconds + 30)
        cpu1 = sum(bench.procUserSys(gw.pid))
    finally:
        load.stop()
    gw.send_signal(DUMP_SIGNAL)
    for _ in range(200):
        if recFile.exists():
            break
        time.sleep(0.05)
    rec = json.loads(recFile.read_text())
    a = analyse(result, rec)
    a["gatewayRssKB"] = bench.memKB(gw.pid)[0]
    a["gatewayCpuUsPerCall"] = round((cpu1 - cpu0) / max(1, a["ok"]) * 1e6, 1)
    return a


def runMain(args: argparse.Namespace) -> int:
    """The orchestrator: the gateway, then C{--rounds} rounds, each printed;
    the JSON (C{--json})."""
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="stall-"))
    recFile = tmp / "recorder.json"
    env = {
        **os.environ,
        "MCPGATEWAY_HOME": str(tmp / "state"),
        "HOME": str(tmp),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    gw, port = startGateway(args, tmp, env, recFile)
    url = f"http://127.0.0.1:{port}/everything/mcp"
    rounds: list[dict[str, Any]] = []
    try:
        for r in range(args.rounds):
            a = oneRound(args, gw, url, env, recFile)
            a["round"] = r + 1
            rounds.append(a)
            print(summary(a), flush=True)
    finally:
        gw.send_signal(signal.SIGTERM)
        try:
            gw.wait(20)
        except subprocess.TimeoutExpired:
            gw.kill()
    rates = [a["callsPerSecond"] for a in rounds]
    cpuPerCall = [a["gatewayCpuUsPerCall"] for a in rounds]
    out = {
        "sessions": args.sessions,
        "calls": args.calls,
        "patches": args.patches,
        "rounds": rounds,
        "callsPerSecond": rates,
        "slowestOverFastest": round(min(rates) / max(rates), 3) if rates else None,
        "gatewayCpuUsPerCall": cpuPerCall,
    }
    print(
        f"calls/s per round: {rates}; slowest/fastest {out['slowestOverFastest']}; "
        f"gateway CPU us/call {cpuPerCall}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "gateway":
        gatewayMain(sys.argv[2:])
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "cycles":
        cyclesMain(sys.argv[2:])
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        loadMain(sys.argv[2:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=64)
    ap.add_argument("--calls", type=int, default=300, help="calls per session per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-seconds", type=float, default=30.0)
    ap.add_argument(
        "--patches", default="", help="gateway_patches.py names, and: " + ", ".join(STALL_PATCHES)
    )
    ap.add_argument(
        "--quiet",
        type=float,
        default=0.0,
        help="wait up to this many seconds for the machine to go quiet",
    )
    ap.add_argument("--json", default="")
    args = ap.parse_args(
        sys.argv[1:] if len(sys.argv) > 1 and sys.argv[1] != "run" else sys.argv[2:]
    )
    return runMain(args)


if __name__ == "__main__":
    sys.exit(main())

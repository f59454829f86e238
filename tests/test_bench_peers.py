"""benchmarks/peers.py and its modules: the raw worker's unique ids still verify every
answer and its sessions are deleted, each client kind's worker, the verdicts of the
library kinds, the median and the wrong-answer sums of the rounds, the best *correct*
peer per client kind, the targets check, the tables."""

from __future__ import annotations

import asyncio
import json
import sys
from types import ModuleType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.benchmarks import BENCHMARKS, loadBenchmark

peers = loadBenchmark("peers", "bench_peers_under_test")
clients = sys.modules["peerclients"]
report = sys.modules["peersreport"]
targets = sys.modules["peertargets"]
libload = loadBenchmark("libload", "bench_libload_under_test")


class FakeClosed:
    def done(self) -> bool:
        return False


class FakeConn:
    """What LoadSession needs of mcpload.HttpConn: send() and closed."""

    def __init__(self) -> None:
        self.closed = FakeClosed()
        self.sent: list[bytes] = []
        self.handler: Any = None

    def send(self, data: bytes, handler: Any) -> None:
        self.sent.append(data)
        self.handler = handler


def requestOf(data: bytes) -> dict[str, Any]:
    request: dict[str, Any] = json.loads(data.split(b"\r\n\r\n", 1)[1])
    return request


def answer(request: dict[str, Any], text: str | None = None) -> bytes:
    message = request["params"]["arguments"]["message"]
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "id": request["id"],
            "result": {"content": [{"type": "text", "text": text or f"Echo: {message}"}]},
        }
    ).encode()


def sessions(module: ModuleType, n: int) -> tuple[list[Any], list[FakeConn], Any]:
    tally = module.Tally()
    conns = [FakeConn() for _ in range(n)]
    made = [
        module.LoadSession(i, conn, "sid", "/mcp", "h:1", tally, "nonce", lambda s: None)
        for i, conn in enumerate(conns)
    ]
    for s in made:
        s.start(3, float("inf"))
    return made, conns, tally


def test_plainIdsCollideAcrossSessions() -> None:
    """What immorterm sees from real clients: every session counts from 1."""
    plain = loadBenchmark("mcpload", "bench_mcpload_plain")
    _, conns, _ = sessions(plain, 2)
    assert requestOf(conns[0].sent[0])["id"] == requestOf(conns[1].sent[0])["id"] == 1


def test_uniqueIdsDistinctAndStillVerified() -> None:
    """load-raw --unique-ids: ids differ across sessions, the caller's own answer counts
    as ok, and another session's answer still counts as misrouted."""
    module = loadBenchmark("mcpload", "bench_mcpload_unique")
    clients.patchUniqueIds(module, 5000)
    made, conns, tally = sessions(module, 3)
    ids = [requestOf(c.sent[0])["id"] for c in conns]
    assert len(set(ids)) == 3
    assert ids == [(k + 1) * clients.ID_STRIDE + 1 for k in range(3)]
    # session 0 gets its own answer; session 1 gets session 2's
    conns[0].handler(200, {"content-type": "application/json"}, answer(requestOf(conns[0].sent[0])))
    conns[1].handler(200, {"content-type": "application/json"}, answer(requestOf(conns[2].sent[0])))
    assert (tally.ok, tally.misrouted) == (1, 1)
    # the next call goes on counting from the session's base
    assert requestOf(conns[0].sent[1])["id"] == clients.ID_STRIDE + 2
    assert made[0].i == clients.ID_STRIDE + 2


def test_uniqueInitializeIds() -> None:
    module = loadBenchmark("mcpload", "bench_mcpload_init")
    clients.patchUniqueIds(module, 7000)
    first, second = (json.loads(module.initializeBody()) for _ in range(2))
    assert (first["id"], second["id"]) == (7000, 7001)
    assert first["method"] == "initialize"
    assert first["params"] == second["params"]


def test_patchTwiceKeepsOneOffset() -> None:
    module = loadBenchmark("mcpload", "bench_mcpload_twice")
    clients.patchUniqueIds(module, 1)
    clients.patchUniqueIds(module, 1)
    _, conns, _ = sessions(module, 1)
    assert requestOf(conns[0].sent[0])["id"] == clients.ID_STRIDE + 1


def test_loadgenRewritesOnlyLoadAndRestores() -> None:
    """Each kind's worker takes load's options, with --grace (and --unique-ids where
    asked); the other workers are left alone, and the plain argv comes back."""
    plain = clients.bench.mcpload
    with clients.loadgen("raw", True, 2.5):
        argv = clients.bench.mcpload("load", "--url", "u")
        assert argv[1:3] == [str(BENCHMARKS / "peerclients.py"), "load-raw"]
        assert argv[3:] == ["--url", "u", "--grace", "2.5", "--unique-ids"]
        assert clients.bench.mcpload("canned") == plain("canned")
    with clients.loadgen("httpx", False, 1.0):
        assert clients.bench.mcpload("load", "--url", "u")[1:] == [
            str(BENCHMARKS / "libload.py"),
            "httpx",
            "--url",
            "u",
            "--grace",
            "1.0",
        ]
    with clients.loadgen("sdk-ts", False, 1.0, "/sdk"):
        argv = clients.bench.mcpload("load", "--url", "u")
        assert argv[:3] == ["node", str(BENCHMARKS / "sdkload.mjs"), "sdk-ts"]
        assert argv[-2:] == ["--sdk-dir", "/sdk"]
    assert clients.bench.mcpload is plain


def test_theSdkKindsAreNotRunWhereIdsMustBeUnique() -> None:
    assert clients.notApplicable("immorterm-unique", "sdk-python") == clients.SDK_IDS
    assert clients.notApplicable("immorterm-unique", "sdk-ts") == clients.SDK_IDS
    assert clients.notApplicable("immorterm-unique", "aiohttp") is None
    assert clients.notApplicable("immorterm", "sdk-ts") is None


def test_theRawWorkerDeletesItsSessionsBeforeItsResult() -> None:
    """A target serves the kinds one after another: the raw worker deletes the
    sessions it opened before it prints its result (not before the ready line)."""
    module = loadBenchmark("mcpload", "bench_mcpload_close")
    said: list[str] = []
    deleted: list[list[tuple[str, str, str]]] = []
    setattr(module, "out", lambda event, **fields: said.append(event))  # noqa: B010
    opened = clients.patchCloseSessions(module, lambda o: deleted.append(list(o)))
    for i, sid in enumerate(("a", "b")):
        module.LoadSession(i, FakeConn(), sid, "/mcp", "h:1", module.Tally(), "n", print)
    module.out("ready")
    assert deleted == []
    module.out("result", ok=1)
    assert deleted == [[("h:1", "/mcp", "a"), ("h:1", "/mcp", "b")]] and opened == deleted[0]
    assert said == ["ready", "result"]


def level(rate: float, misrouted: int = 0, lost: int = 0, errors: int = 0) -> dict[str, Any]:
    return {
        "callsPerSecond": rate,
        "latencyMs": {"p50": 1.0, "p90": 2.0, "p99": 3.0},
        "ok": 100,
        "misrouted": misrouted,
        "lost": lost,
        "errors": errors,
        "cpuCores": {"proxy": 0.5},
    }


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 1e5, allow_nan=False),
            st.integers(0, 5),
            st.integers(0, 5),
            st.integers(0, 5),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_summarizeMedianAndSums(rounds: list[tuple[float, int, int, int]]) -> None:
    got = report.summarize([level(*r) for r in rounds])
    rates = sorted(r[0] for r in rounds)
    assert got["callsPerSecond"] == rates[(len(rates) - 1) // 2]
    assert got["misroutedAllRuns"] == sum(r[1] for r in rounds)
    assert got["wrongAllRuns"] == sum(r[1] + r[2] + r[3] for r in rounds)
    assert [r["callsPerSecond"] for r in got["runs"]] == [r[0] for r in rounds]


def fakeResult() -> dict[str, Any]:
    def entry(rates: dict[str, float], lost: int = 0) -> dict[str, Any]:
        return {"levels": {c: report.summarize([level(r, lost=lost)]) for c, r in rates.items()}}

    def target(key: str, **kinds: dict[str, Any]) -> dict[str, Any]:
        return {"label": targets.LABELS[key], "clients": kinds}

    res: dict[str, Any] = {
        "machine": {
            "nproc": 2,
            "cpuModel": "x",
            "python": "3",
            "node": "v20",
            "uvloop": None,
            "loadAverageAtStart": [1.0],
        },
        "when": "now",
        "rounds": 1,
        "callsPerLevel": {"1": 10, "16": 10},
        "maxSeconds": 8.0,
        "code": {"commit": "abc", "uncommitted": []},
        "levels": [1, 16],
        "clients": {
            "raw": {"version": "uvloop"},
            "sdk-ts": {"version": "1"},
            "httpx": {"notRun": "not installed: httpx2"},
        },
        "targets": {
            "ceiling": target("ceiling", raw=entry({"1": 9000, "16": 9000})),
            "direct": target("direct", stdio=entry({"1": 6000, "16": 20000})),
            "mcpgateway": target(
                "mcpgateway",
                raw=entry({"1": 1300, "16": 3400}),
                **{"sdk-ts": entry({"1": 500, "16": 700})},
            ),
            "mcp-proxy": target(
                "mcp-proxy",
                raw=entry({"1": 800, "16": 1400}),
                **{"sdk-ts": entry({"1": 400, "16": 350})},
            ),
            "immorterm": target(
                "immorterm",
                raw={
                    "levels": {
                        "1": report.summarize([level(1200)]),
                        "16": report.summarize([level(9999, lost=3)]),
                    }
                },
                **{"sdk-ts": {**entry({"1": 600}), "failed": "RuntimeError: opening\nsessions"}},
            ),
            "immorterm-unique": target(
                "immorterm-unique",
                raw=entry({"1": 1100, "16": 4000}),
                **{"sdk-ts": {"notApplicable": clients.SDK_IDS}},
            ),
            "supergateway": {"label": "", "clients": {}, "failed": "FileNotFoundError: x"},
        },
    }
    res["ratios"] = report.ratios(res)
    res["checks"] = report.checks(res)
    return res


def test_ratiosSkipWrongPeersAndLimits() -> None:
    """A peer with lost calls at any level (plain immorterm: right at C=1, where it is
    the fastest here, wrong at C=16), the limits (ceiling, direct) and immorterm with
    ids made unique (a best case no client arranges, with a ratio of its own) are
    never the best correct peer."""
    rr = fakeResult()["ratios"]["raw"]["levels"]
    assert rr["1"]["bestCorrectPeer"] == "mcp-proxy"
    assert rr["1"]["gatewayOverBestCorrectPeer"] == round(1300 / 800, 2)
    assert rr["16"]["bestCorrectPeer"] == "mcp-proxy"
    assert rr["16"]["gatewayOverBestCorrectPeer"] == round(3400 / 1400, 2)
    assert rr["16"]["gatewayOverImmortermUnique"] == round(3400 / 4000, 2)
    assert rr["16"]["gatewayOverDirect"] == round(3400 / 20000, 3)


def test_aKindThatFailedAtSomeLevelIsNoCorrectPeer() -> None:
    """Plain immorterm answered the TypeScript SDK at C=1 (faster than mcp-proxy) and
    could not open its sessions at C=16: mcp-proxy is the best correct peer; the
    direct row is the same stdio figure for every kind."""
    res = fakeResult()
    rr = res["ratios"]["sdk-ts"]
    assert rr["levels"]["1"]["bestCorrectPeer"] == "mcp-proxy"
    assert rr["levels"]["1"]["gatewayOverDirect"] == round(500 / 6000, 3)
    assert "gatewayOverImmortermUnique" not in rr["levels"]["1"]
    assert rr["highOverMid"] == round(700 / 500, 2)
    assert "httpx" not in res["ratios"]


def test_checksSayWhatHoldsPerKind() -> None:
    """A check that fails names the levels where it does; one that holds shows every
    level; one that cannot be measured says so."""
    got = fakeResult()["checks"]
    assert got["sdk-ts"]["overBestPeer"] == {"holds": False, "detail": "1.25x at C=1"}
    assert got["sdk-ts"]["overImmortermUnique"]["holds"] is None
    assert got["sdk-ts"]["highOverMid"] == {"holds": True, "detail": "1.40 at C=16/C=1"}
    assert got["raw"]["overImmortermUnique"] == {
        "holds": False,
        "detail": "1.18x at C=1, 0.85x at C=16",
    }
    assert got["raw"]["p99OverP50"] == {"holds": True, "detail": "3.0 at C=16"}
    assert got["raw"]["spread"]["holds"] is None  # one round
    assert got["raw"]["cpuUsPerCall"]["holds"] is None  # not in these figures


def test_reportNamesWrongAnswersAndFailures() -> None:
    text = report.report(fakeResult())
    assert "httpx: not run (not installed: httpx2)" in text
    raw, ts = text.split("### TypeScript")[0], text.split("### TypeScript")[1]
    rows = {
        line.split(" | ")[0].lstrip("| "): line
        for line in raw.splitlines()
        if line.startswith("| ")
    }
    assert "C=16: 0 misrouted, 3 lost, 0 errors" in rows[targets.LABELS["immorterm"]]
    assert "could not run" not in text
    assert rows[targets.LABELS["supergateway"]].endswith("| FileNotFoundError: x |")
    assert rows[targets.LABELS["mcpgateway"]].startswith(
        "| **mcpgateway** | 1,300 (1.00 / 3.0) | 3,400 (1.00 / 3.0) | none"
    )
    assert rows[targets.LABELS["direct"]].startswith(
        "| direct stdio (the limit; no HTTP client) | 6,000"
    )
    assert f"| {clients.SDK_IDS} |" in ts
    assert "failed at some level: RuntimeError: opening sessions |" in ts
    assert "| raw | 16 | 2.43x (mcp-proxy) | 0.85x | 0.17x |" in text


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(1, 1e5, allow_nan=False), min_size=1, max_size=7))
def test_spreadIsRangeOverMedian(rates: list[float]) -> None:
    got = report.summarize([level(r) for r in rates])
    ordered = sorted(rates)
    middle = (ordered[(len(rates) - 1) // 2] + ordered[len(rates) // 2]) / 2
    assert got["spread"] == round((max(rates) - min(rates)) / middle, 3)


# -- the library kinds' verdicts (libload.py) ------------------------------------------


def sse(*messages: dict[str, Any]) -> bytes:
    return b"id: p\ndata:\n\n" + b"".join(
        b"event: message\ndata: " + json.dumps(m).encode() + b"\n\n" for m in messages
    )


def echo(rid: int, text: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "result": {"content": [{"type": "text", "text": text}]}}


@settings(max_examples=100, deadline=None)
@given(
    rid=st.integers(1, 10**9),
    message=st.text(min_size=1, max_size=40),
    other=st.text(min_size=1, max_size=40),
    asSse=st.booleans(),
)
def test_libloadJudgesTheCallersOwnAnswer(rid: int, message: str, other: str, asSse: bool) -> None:
    """ok only with the caller's id and its own text, in JSON or SSE (after a priming
    event and a notification); another text or another id is misrouted."""
    note = {"jsonrpc": "2.0", "method": "notifications/message", "params": {}}

    def judge(answer: dict[str, Any]) -> Any:
        if asSse:
            return libload.judge(200, "text/event-stream", sse(note, answer), rid, message)
        return libload.judge(200, "application/json", json.dumps(answer).encode(), rid, message)

    mine = judge(echo(rid, "Echo: " + message))
    assert (mine.verdict, mine.sse) == ("ok", asSse)
    assert mine.notifications == (1 if asSse else 0)
    if other != message:
        assert judge(echo(rid, "Echo: " + other)).verdict == "misrouted"
    assert judge(echo(rid + 1, "Echo: " + message)).verdict == "misrouted"


def test_libloadCountsErrorsAndLosses() -> None:
    error = {"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "x"}}
    assert libload.judge(200, "application/json", json.dumps(error).encode(), 1, "m").verdict == (
        "errors"
    )
    assert libload.judge(500, "text/plain", b"no", 1, "m").verdict == "errors"
    assert libload.judge(200, "application/json", b"{", 1, "m").verdict == "errors"
    lost = libload.judge(200, "text/event-stream", b"id: p\ndata:\n\n", 1, "m")
    assert (lost.verdict, lost.fatal) == ("lost", False)
    assert libload.judgeText("Echo: m", False, "m").verdict == "ok"
    assert libload.judgeText("Echo: n", False, "m").verdict == "misrouted"
    assert libload.judgeText("Echo: m", True, "m").verdict == "errors"


def test_libloadSessionGoneAfterALostCallOwesOneCall() -> None:
    """A call whose connection failed is lost and ends the session: the next phase
    counts the call it owed as lost (as mcpload.py does), and nothing else."""

    async def scenario() -> tuple[Any, Any, list[str]]:
        loop = asyncio.get_running_loop()
        session = libload.Session(3, "n", 0)
        seen: list[str] = []

        async def call(rid: int, message: str) -> Any:
            seen.append(message)
            if len(seen) == 2:
                return libload.Outcome("lost", "gone", fatal=True)
            return libload.Outcome("ok")

        first = libload.Phase(5, loop.time() + 3600, 1.0, libload.Tally())
        await session.run(call, first)
        second = libload.Phase(5, loop.time() + 3600, 1.0, libload.Tally())
        await session.run(call, second)
        return first.tally, second.tally, seen

    first, second, seen = asyncio.run(scenario())
    assert seen == ["n-s3-1", "n-s3-2"]
    assert (first.ok, first.lost, first.sent, len(first.latUs)) == (1, 1, 2, 1)
    assert (second.ok, second.lost, second.sent) == (0, 1, 0)


class FakeGate:
    """bench.QuietGate's surface, without sleeping or reading /proc."""

    def __init__(self) -> None:
        self.budget = 60.0
        self.waited = 10.0
        self.threshold = 0.3
        self.seen: list[float] = []

    def wait(self) -> dict[str, float]:
        self.seen.append(self.budget)
        return {"waited": 0.0, "busyBefore": 0.0}


def test_quietWaitShorterThanKeepAliveTimeouts() -> None:
    """Between warm-up and GO the sessions' connections are idle: the wait for quiet
    must stay under the peers' 5 s keep-alive timeout, then the watched pids are
    refreshed (supergateway's children exist only once the sessions are open)."""
    inner = FakeGate()
    refreshed: list[bool] = []
    gate = targets.TreeGate(inner, lambda: refreshed.append(True))
    gate.wait()
    assert inner.seen == [10.0 + targets.MAX_QUIET_WAIT]
    assert targets.MAX_QUIET_WAIT < 5
    assert inner.budget == 60.0
    assert refreshed == [True]


class DoneClosed:
    def done(self) -> bool:
        return True


def test_aConnectionClosedBetweenCallsCountsAsLost() -> None:
    """A server that drops an idle keep-alive between two calls costs the
    session its remaining calls: the next is counted lost, not skipped."""
    mcpload = loadBenchmark("mcpload", "bench_mcpload_under_test")
    tally = mcpload.Tally()
    conn, done = FakeConn(), list[Any]()
    session = mcpload.LoadSession(0, conn, "sid", "/mcp", "h:1", tally, "n", done.append)
    session.start(3, float("inf"))
    request = requestOf(conn.sent[-1])
    conn.closed = DoneClosed()  # type: ignore[assignment]
    conn.handler(200, {"content-type": "application/json"}, answer(request))
    assert (tally.ok, tally.lost) == (1, 1)
    assert done == [session] and len(conn.sent) == 1
    finished = mcpload.LoadSession(1, FakeConn(), "sid", "/mcp", "h:1", tally, "n", done.append)
    finished.start(0, float("inf"))  # nothing owed: a closed connection then is no loss
    finished.conn.closed = DoneClosed()
    finished._next()
    assert tally.lost == 1


@settings(max_examples=50, deadline=None)
@given(total=st.integers(1, 5000), sessions=st.integers(1, 256))
def test_a_level_is_warmed_up_as_much_as_direct_stdio(total: int, sessions: int) -> None:
    """Every session makes at least 5 warm-up calls, and a level's sessions
    together make at least as many as the direct driver sends down its pipe
    before its measured calls (min(500, total)), and not a session's worth
    more: a gateway's child is as warm as the direct one."""
    per = peers.bench.warmupPerSession(total, sessions)
    direct = min(peers.bench.DIRECT_WARMUP, total)
    assert per >= 5
    assert per * sessions >= direct
    assert per == 5 or (per - 1) * sessions < direct


def test_a_priming_event_with_no_data_is_not_a_message() -> None:
    """A resumable stream opens with an event that has an id and an empty
    data field (MCP 2025-11-25): SSE does not dispatch it, and the load
    generator must not count the call it primes as an error."""
    mcpload = loadBenchmark("mcpload", "bench_mcpload_under_test")
    body = (
        b"id: s-0\nretry: 1000\ndata:\n\n"
        b'id: s-1\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/x"}\n\n'
        b'id: s-2\nevent: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n'
    )
    assert mcpload.messagesOf({"content-type": "text/event-stream"}, body) == [
        {"jsonrpc": "2.0", "method": "notifications/x"},
        {"jsonrpc": "2.0", "id": 1, "result": {}},
    ]

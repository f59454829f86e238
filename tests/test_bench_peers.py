"""benchmarks/peers.py: the unique-id load worker still verifies every answer, the
median and the wrong-answer sums of the rounds, the best *correct* peer, the table."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load(name: str, alias: str) -> ModuleType:
    """A fresh copy of benchmarks/<name>.py (patching it touches no other test)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(alias, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


peers = load("peers", "bench_peers_under_test")


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
    plain = load("mcpload", "bench_mcpload_plain")
    _, conns, _ = sessions(plain, 2)
    assert requestOf(conns[0].sent[0])["id"] == requestOf(conns[1].sent[0])["id"] == 1


def test_uniqueIdsDistinctAndStillVerified() -> None:
    """load-unique-ids: ids differ across sessions, the caller's own answer counts
    as ok, and another session's answer still counts as misrouted."""
    module = load("mcpload", "bench_mcpload_unique")
    peers.patchUniqueIds(module, 5000)
    made, conns, tally = sessions(module, 3)
    ids = [requestOf(c.sent[0])["id"] for c in conns]
    assert len(set(ids)) == 3
    assert ids == [(k + 1) * peers.ID_STRIDE + 1 for k in range(3)]
    # session 0 gets its own answer; session 1 gets session 2's
    conns[0].handler(200, {"content-type": "application/json"}, answer(requestOf(conns[0].sent[0])))
    conns[1].handler(200, {"content-type": "application/json"}, answer(requestOf(conns[2].sent[0])))
    assert (tally.ok, tally.misrouted) == (1, 1)
    # the next call goes on counting from the session's base
    assert requestOf(conns[0].sent[1])["id"] == peers.ID_STRIDE + 2
    assert made[0].i == peers.ID_STRIDE + 2


def test_uniqueInitializeIds() -> None:
    module = load("mcpload", "bench_mcpload_init")
    peers.patchUniqueIds(module, 7000)
    first, second = (json.loads(module.initializeBody()) for _ in range(2))
    assert (first["id"], second["id"]) == (7000, 7001)
    assert first["method"] == "initialize"
    assert first["params"] == second["params"]


def test_patchTwiceKeepsOneOffset() -> None:
    module = load("mcpload", "bench_mcpload_twice")
    peers.patchUniqueIds(module, 1)
    peers.patchUniqueIds(module, 1)
    _, conns, _ = sessions(module, 1)
    assert requestOf(conns[0].sent[0])["id"] == peers.ID_STRIDE + 1


def test_loadgenRewritesOnlyLoadAndRestores() -> None:
    plain = peers.bench.mcpload
    with peers.loadgen(True, 2.5):
        argv = peers.bench.mcpload("load", "--url", "u")
        assert argv[1:3] == [str(BENCHMARKS / "peers.py"), "load-unique-ids"]
        assert argv[-4:] == ["--url", "u", "--grace", "2.5"]
        assert peers.bench.mcpload("canned") == plain("canned")
    with peers.loadgen(False, 1.0):
        assert peers.bench.mcpload("load", "--url", "u") == [
            *plain("load", "--url", "u"),
            "--grace",
            "1.0",
        ]
    assert peers.bench.mcpload is plain


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
    got = peers.summarize([level(*r) for r in rounds])
    rates = sorted(r[0] for r in rounds)
    assert got["callsPerSecond"] == rates[(len(rates) - 1) // 2]
    assert got["misroutedAllRuns"] == sum(r[1] for r in rounds)
    assert got["wrongAllRuns"] == sum(r[1] + r[2] + r[3] for r in rounds)
    assert [r["callsPerSecond"] for r in got["runs"]] == [r[0] for r in rounds]


def fakeResult() -> dict[str, Any]:
    def target(key: str, rates: dict[str, float], lost: int = 0) -> dict[str, Any]:
        return {
            "label": peers.LABELS[key],
            "levels": {c: peers.summarize([level(r, lost=lost)]) for c, r in rates.items()},
        }

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
        "targets": {
            "ceiling": target("ceiling", {"1": 9000, "16": 9000}),
            "direct": target("direct", {"1": 6000, "16": 20000}),
            "mcpgateway": target("mcpgateway", {"1": 1300, "16": 3400}),
            "mcp-proxy": target("mcp-proxy", {"1": 800, "16": 1400}),
            "immorterm": {
                "label": "",
                "levels": {
                    "1": peers.summarize([level(1200)]),
                    "16": peers.summarize([level(9999, lost=3)]),
                },
            },
            "immorterm-unique": target("immorterm-unique", {"1": 1100, "16": 4000}),
            "supergateway": {"label": "", "levels": {}, "failed": "FileNotFoundError: x"},
        },
    }
    res["ratios"] = peers.ratios(res)
    return res


def test_ratiosSkipWrongPeersAndLimits() -> None:
    """A peer with lost calls at any level (plain immorterm: right at C=1, where it is
    the fastest here, wrong at C=16) and the limits (ceiling, direct) are never the
    best correct peer."""
    rr = fakeResult()["ratios"]
    assert rr["1"]["bestCorrectPeer"] == "immorterm-unique"
    assert rr["1"]["gatewayOverBestCorrectPeer"] == round(1300 / 1100, 2)
    assert rr["16"]["bestCorrectPeer"] == "immorterm-unique"
    assert rr["16"]["gatewayOverBestCorrectPeer"] == round(3400 / 4000, 2)
    assert rr["16"]["gatewayOverDirect"] == round(3400 / 20000, 3)


def test_reportNamesWrongAnswersAndFailures() -> None:
    text = peers.report(fakeResult())
    rows = {
        line.split(" | ")[0].lstrip("| "): line
        for line in text.splitlines()
        if line.startswith("| ")
    }
    assert "C=16: 0 misrouted, 3 lost, 0 errors" in rows[peers.LABELS["immorterm"]]
    assert "could not run: FileNotFoundError" in rows[peers.LABELS["supergateway"]]
    assert rows[peers.LABELS["mcpgateway"]].startswith("| **mcpgateway** | 1,300 | 3,400 | none")
    assert "0.85x (immorterm-unique)" in rows["the best correct peer"]


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
    gate = peers.TreeGate(inner, lambda: refreshed.append(True))
    gate.wait()
    assert inner.seen == [10.0 + peers.MAX_QUIET_WAIT]
    assert peers.MAX_QUIET_WAIT < 5
    assert inner.budget == 60.0
    assert refreshed == [True]


class DoneClosed:
    def done(self) -> bool:
        return True


def test_aConnectionClosedBetweenCallsCountsAsLost() -> None:
    """A server that drops an idle keep-alive between two calls costs the
    session its remaining calls: the next is counted lost, not skipped."""
    mcpload = load("mcpload", "bench_mcpload_under_test")
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
    mcpload = load("mcpload", "bench_mcpload_under_test")
    body = (
        b"id: s-0\nretry: 1000\ndata:\n\n"
        b'id: s-1\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/x"}\n\n'
        b'id: s-2\nevent: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n'
    )
    assert mcpload.messagesOf({"content-type": "text/event-stream"}, body) == [
        {"jsonrpc": "2.0", "method": "notifications/x"},
        {"jsonrpc": "2.0", "id": 1, "result": {}},
    ]

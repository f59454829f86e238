"""The reaper's three phases, its service loop and the orphan cleanup, through
the real Site with fake children, a fake clock and a fake pid probe."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.logger import LogLevel
from twisted.python.failure import Failure

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.lostchild import NOTICE_KEY
from mcpgateway.ops.reaper import OrphanCleanup, Reaper, ReaperService, SweepCounts
from mcpgateway.ops.statedir import pidAlive
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess, FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.http import Harness, spec
from tests.support.ops.reaper import alwaysAlive, sessionIds
from tests.support.web.api import initializeBody
from tests.support.web.mcpcall import call
from tests.support.web.sessions_api import initialize

ALWAYS = 10**9
"""An idle timeout no test reaches."""


def openSession(h: Harness, server: str = "srv", pid: int | None = None) -> str:
    """Initialize a session on C{server} (with C{X-Client-Pid: pid}); its id."""
    headers = {"x-client-pid": str(pid)} if pid is not None else None
    return initialize(h, server, headers).headers["mcp-session-id"]


def ping(h: Harness, session: str, server: str = "srv") -> None:
    assert call(h, session, server=server, method="ping", params={}).status == 200


def sent(proc: FakeProcess, method: str) -> list[dict[str, Any]]:
    return [m for m in proc.sentMessages() if m.get("method") == method]


def phaseEvents(events: list[Any]) -> list[Any]:
    return [e for e in events if "phase" in e]


# -- pidAlive ------------------------------------------------------------------


def test_pid_alive_of_this_process() -> None:
    assert pidAlive(os.getpid()) is True


def test_pid_alive_of_a_pid_that_cannot_exist() -> None:
    with open("/proc/sys/kernel/pid_max") as f:
        pidMax = int(f.read())
    impossible = 2**22 + 12345
    assert impossible > pidMax
    assert pidAlive(impossible) is False


def test_pid_alive_treats_eperm_as_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []

    def kill(pid: int, sig: int) -> None:
        calls.append((pid, sig))
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "kill", kill)
    assert pidAlive(4321) is True
    assert calls == [(4321, 0)]


# -- phase 1: dead children ----------------------------------------------------------


def test_stateful_session_whose_child_exited_is_kept_for_a_new_child() -> None:
    """The sweep counts the dead child and ends no session: the session's
    next request starts a new child (its initialize replayed)."""
    h = Harness({"srv": spec("srv", mode="stateful")})
    crashed = openSession(h)
    kept = openSession(h)
    h.process(0).exit(1)
    reaper = Reaper(h.gateway, h.reactor, ALWAYS, alive=alwaysAlive)
    assert reaper.sweep() == SweepCounts(deadChildren=1)
    assert sessionIds(h) == {crashed, kept}
    assert not h.process(1).stdinClosed
    spawned = len(h.reactor.processes)
    call(h, crashed)
    h.reactor.advance(2)  # the breaker's backoff after a crash
    assert len(h.reactor.processes) == spawned + 1
    [init] = h.process().sentMessages()
    assert init["method"] == "initialize"


def test_vanished_shared_child_fails_its_requests_and_is_respawned_on_demand() -> None:
    h = Harness()
    sid = openSession(h)
    pending = call(h, sid, requestId=3)
    old = h.process()
    childPid = old.pid
    reaper = Reaper(h.gateway, h.reactor, ALWAYS, alive=lambda pid: pid != childPid)
    assert reaper.sweep() == SweepCounts(deadChildren=1)
    [event] = pending.events()
    assert event["id"] == 3 and event["error"]["code"] == jsonrpc.CHILD_EXITED
    assert event["error"]["message"] == "server 'srv' vanished (found gone by the reaper)"
    assert pending.complete
    assert old.signals == [] and not old.stdinClosed  # nothing is sent to a gone process
    assert sessionIds(h) == {sid}  # a shared child's sessions survive it
    again = call(h, sid, requestId=4)
    assert len(h.reactor.processes) == 2
    h.answerHandshake()
    [forwarded] = sent(h.process(), "tools/call")
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {"ok": True}})
    notice, answer = again.events()  # the session it served is told the child is new
    assert "its shared child vanished" in notice["params"]["data"]
    assert answer == {
        "jsonrpc": "2.0",
        "id": 4,
        "result": {"ok": True, "_meta": {NOTICE_KEY: True}},
    }
    assert reaper.sweep() == SweepCounts()


def test_vanished_stateful_child_is_counted_once_and_its_session_kept() -> None:
    h = Harness({"srv": spec("srv", mode="stateful")})
    openSession(h)
    childPid = h.process().pid
    reaper = Reaper(h.gateway, h.reactor, ALWAYS, alive=lambda pid: pid != childPid)
    counts = reaper.sweep()
    assert len(h.gateway.sessions) == 1
    assert counts == SweepCounts(deadChildren=1)
    assert reaper.sweep() == SweepCounts()


# -- phase 2: dead clients -------------------------------------------------------------


def test_dead_client_sessions_end_and_their_stateful_children_stop() -> None:
    h = Harness({"srv": spec("srv"), "solo": spec("solo", mode="stateful")})
    deadShared = openSession(h, "srv", pid=4001)
    deadOwn = openSession(h, "solo", pid=4001)
    liveShared = openSession(h, "srv", pid=4002)
    anonymous = openSession(h, "srv")
    shared, own = h.process(0), h.process(1)
    onShared = call(h, deadShared, requestId=9)
    onOwn = call(h, deadOwn, requestId=9, server="solo")
    [sharedFwd] = sent(shared, "tools/call")
    [ownFwd] = sent(own, "tools/call")
    probed: list[int] = []

    def alive(pid: int) -> bool:
        probed.append(pid)
        return pid != 4001

    counts = Reaper(h.gateway, h.reactor, ALWAYS, alive=alive).sweep()
    assert counts == SweepCounts(deadClients=1, deadClientSessions=2)
    assert shared.pid is not None and own.pid is not None
    assert sorted(probed) == sorted([shared.pid, own.pid, 4001, 4002])  # each pid once
    assert sessionIds(h) == {liveShared, anonymous}
    reason = "client process 4001 exited"
    assert sent(shared, "notifications/cancelled") == [
        jsonrpc.notification(
            "notifications/cancelled", {"requestId": sharedFwd["id"], "reason": reason}
        )
    ]
    assert sent(own, "notifications/cancelled") == [
        jsonrpc.notification(
            "notifications/cancelled", {"requestId": ownFwd["id"], "reason": reason}
        )
    ]
    assert onShared.complete and onShared.events() == []
    assert onOwn.complete and onOwn.events() == []
    # The shared child stays for the other sessions; the session's own child stops.
    assert not shared.stdinClosed and shared.signals == []
    assert own.stdinClosed and own.signals == []
    h.reactor.advance(1.9)
    assert own.signals == []
    h.reactor.advance(0.1)
    assert own.signals == ["TERM"]
    h.reactor.advance(2.9)
    assert own.signals == ["TERM"] and not own.ended
    h.reactor.advance(0.1)
    assert own.signals == ["TERM", "KILL"] and own.ended
    assert call(h, deadShared).status == 404
    assert call(h, liveShared, method="ping", params={}).status == 200


def test_a_live_client_keeps_its_sessions() -> None:
    h = Harness()
    sid = openSession(h, pid=4001)
    assert Reaper(h.gateway, h.reactor, ALWAYS, alive=alwaysAlive).sweep() == SweepCounts()
    assert sessionIds(h) == {sid}


def test_a_session_used_since_the_last_look_outlives_the_process_that_opened_it() -> None:
    """A script that opens a session with one curl and calls with the next
    ones: the opening process exits at once, the session goes on being
    used. It is kept while requests come between two looks, and ended at
    the first look that finds it quiet since the one before."""
    h = Harness()
    openSession(h, pid=4001)
    reaper = Reaper(h.gateway, h.reactor, ALWAYS, alive=lambda pid: pid != 4001)
    h.reactor.advance(1)
    assert reaper.sweep().deadClients == 1  # the first look: nothing to compare with
    assert sessionIds(h) == set()
    h.reactor.advance(1)
    used = openSession(h, pid=4001)
    left = openSession(h, pid=4001)
    h.reactor.advance(1)
    reaper.sweepDeadClients()  # opened since the last look: both kept
    assert sessionIds(h) == {used, left}
    for _ in range(3):
        h.reactor.advance(10)
        ping(h, used)  # the script's next curl
        h.reactor.advance(50)
        quietOne = 1 if left in sessionIds(h) else 0  # left ends at the first of these looks
        assert reaper.sweep().deadClientSessions == quietOne
        assert used in sessionIds(h) and left not in sessionIds(h)
    h.reactor.advance(60)  # no request since the last look
    assert reaper.sweep() == SweepCounts(deadClients=1, deadClientSessions=1)
    assert sessionIds(h) == set()


def test_a_failing_probe_is_logged_and_keeps_the_sessions() -> None:
    h = Harness()
    sid = openSession(h, pid=4001)

    def alive(pid: int) -> bool:
        if pid == 4001:
            raise OSError("probe broke")
        return True

    with capturedGatewayLogs() as events:
        counts = Reaper(h.gateway, h.reactor, ALWAYS, alive=alive).sweep()
    assert counts == SweepCounts()
    assert sessionIds(h) == {sid}
    [failure] = [e for e in events if "log_failure" in e]
    assert failure["log_format"] == "reaper: probing client pid {pid} failed"
    assert failure["pid"] == 4001 and failure["log_failure"].check(OSError)


# -- phase 3: idle sessions -----------------------------------------------------------


def test_idle_session_without_a_pid_ends_after_idle_timeout_of_no_activity() -> None:
    h = Harness()
    reaper = Reaper(h.gateway, h.reactor, 100, alive=alwaysAlive)
    idle = openSession(h)
    busy = openSession(h)
    h.reactor.advance(50)
    ping(h, busy)
    h.reactor.advance(49)
    assert reaper.sweep() == SweepCounts()
    h.reactor.advance(1)  # t=100: idle for exactly idleTimeout
    assert reaper.sweep() == SweepCounts(idleSessions=1)
    assert sessionIds(h) == {busy}
    assert call(h, idle).status == 404
    h.reactor.advance(49)  # t=149: busy was last active at 50
    assert reaper.sweep() == SweepCounts()
    h.reactor.advance(1)
    assert reaper.sweep() == SweepCounts(idleSessions=1)
    assert sessionIds(h) == set()
    assert not h.process().stdinClosed  # one session going away never stops a shared child


def test_session_with_an_open_get_stream_is_never_idle() -> None:
    h = Harness()
    reaper = Reaper(h.gateway, h.reactor, 100, alive=alwaysAlive)
    sid = openSession(h)
    stream = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    assert stream.status == 200
    h.reactor.advance(10**6)
    assert reaper.sweep() == SweepCounts()
    assert sessionIds(h) == {sid}
    stream.protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]
    assert reaper.sweep() == SweepCounts(idleSessions=1)
    assert sessionIds(h) == set()


def test_a_pid_the_client_sent_does_not_exempt_its_session_from_the_idle_timeout() -> None:
    # X-Client-Pid: 1 (a process that never exits) made
    # its session immortal. Only a pid the gateway found itself (the
    # socket's owner) exempts a session: tests/ops/test_reaper_client_pid.py.
    h = Harness()
    reaper = Reaper(h.gateway, h.reactor, 100, alive=alwaysAlive)
    sid = openSession(h, pid=1)
    h.reactor.advance(99)
    assert reaper.sweep() == SweepCounts()
    h.reactor.advance(1)
    assert reaper.sweep() == SweepCounts(idleSessions=1)
    assert sessionIds(h) == set()
    assert call(h, sid).status == 404


def test_owner_group_activity_is_shared_between_the_sessions_of_one_pid() -> None:
    h = Harness({"srv": spec("srv"), "other": spec("other")})
    a = openSession(h, "srv", pid=4001)
    b = openSession(h, "other", pid=4001)
    stranger = openSession(h, "other", pid=4002)
    registry = h.gateway.sessions
    sa, sb, sc = registry.get(a), registry.get(b), registry.get(stranger)
    assert sa is not None and sb is not None and sc is not None
    h.reactor.advance(30)
    ping(h, a, "srv")
    assert sa.lastActivity == 30 and sb.lastActivity == 0
    assert registry.activity(sb) == 30 and registry.activity(sa) == 30
    assert registry.activity(sc) == 0
    h.reactor.advance(10)
    ping(h, b, "other")
    assert registry.activity(sa) == 40 and sa.lastActivity == 30
    assert sorted(s.id for s in registry.ofPid(4001)) == sorted([a, b])


# -- idle shared children -------------------------------------------------------------


def deleteSession(h: Harness, sid: str, server: str = "srv") -> None:
    assert h.request("DELETE", f"/{server}/mcp", session=sid).status == 200


def test_without_child_idle_timeout_a_shared_child_is_never_stopped() -> None:
    h = Harness()
    reaper = Reaper(h.gateway, h.reactor, ALWAYS, childIdleTimeout=None, alive=alwaysAlive)
    deleteSession(h, openSession(h))
    h.reactor.advance(10**8)
    assert reaper.sweep() == SweepCounts()
    assert not h.process().stdinClosed and h.process().signals == []


def test_shared_child_with_no_session_for_child_idle_timeout_is_stopped() -> None:
    h = Harness()
    reaper = Reaper(h.gateway, h.reactor, ALWAYS, childIdleTimeout=100, alive=alwaysAlive)
    sid = openSession(h)
    child = h.process()
    h.reactor.advance(500)
    assert reaper.sweep() == SweepCounts()  # a session is attached
    deleteSession(h, sid)
    h.reactor.advance(99)
    assert reaper.sweep() == SweepCounts()
    assert not child.stdinClosed
    with capturedGatewayLogs() as events:
        h.reactor.advance(1)
        assert reaper.sweep() == SweepCounts(idleChildren=1)
    assert child.stdinClosed
    stopped = h.gateway.readModel.status().servers["srv"].lastExit
    assert stopped == "was stopped by the gateway: no session for 100 s"
    [stopping] = [e for e in events if e.get("seconds") == 100]
    assert stopping["server"] == "srv" and stopping["log_level"] == LogLevel.info
    child.exit(0)
    assert h.gateway.pools["srv"].status(0).state == "stopped"
    openSession(h)  # restarts on demand
    assert len(h.reactor.processes) == 2 and not h.process().stdinClosed


def test_shared_child_is_not_stopped_while_its_handshake_is_in_flight() -> None:
    h = Harness()
    reaper = Reaper(h.gateway, h.reactor, ALWAYS, childIdleTimeout=10, alive=alwaysAlive)
    waiting = h.request("POST", "/srv/mcp", initializeBody())
    h.reactor.advance(59)  # the handshake times out at 60 s; no session attached yet
    assert reaper.sweep() == SweepCounts()
    assert not h.process().stdinClosed
    h.answerHandshake()
    assert waiting.status == 200


def test_shared_child_is_not_stopped_while_the_gateways_own_request_is_in_flight() -> None:
    h = Harness()
    reaper = Reaper(h.gateway, h.reactor, ALWAYS, childIdleTimeout=10, alive=alwaysAlive)
    opened = h.request("POST", "/srv/mcp", initializeBody())
    h.answerHandshake(capabilities={"tools": {}, "resources": {"subscribe": True}})
    sid = opened.headers["mcp-session-id"]
    child = h.process()
    subscribed = call(h, sid, method="resources/subscribe", params={"uri": "file:///a"})
    [sub] = sent(child, "resources/subscribe")
    child.reply({"jsonrpc": "2.0", "id": sub["id"], "result": {}})
    assert subscribed.complete
    deleteSession(h, sid)  # the last subscriber went: the gateway unsubscribes itself
    [unsub] = sent(child, "resources/unsubscribe")
    h.reactor.advance(30)
    assert reaper.sweep() == SweepCounts()
    assert not child.stdinClosed
    child.reply({"jsonrpc": "2.0", "id": unsub["id"], "result": {}})
    assert reaper.sweep() == SweepCounts(idleChildren=1)
    assert child.stdinClosed


def test_a_session_opened_while_an_idle_child_stops_gets_a_live_child() -> None:
    h = Harness()
    reaper = Reaper(h.gateway, h.reactor, ALWAYS, childIdleTimeout=10, alive=alwaysAlive)
    deleteSession(h, openSession(h))
    old = h.process()
    h.reactor.advance(10)
    assert reaper.sweep() == SweepCounts(idleChildren=1)
    assert old.stdinClosed
    sid = openSession(h)  # while the old child is still on its way out
    assert len(h.reactor.processes) == 2
    fresh = h.process()
    pending = call(h, sid, requestId=5)
    old.exit(0)  # it obeys stdin EOF
    assert sent(old, "tools/call") == []
    [forwarded] = sent(fresh, "tools/call")
    fresh.reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {"ok": True}})
    assert pending.events() == [{"jsonrpc": "2.0", "id": 5, "result": {"ok": True}}]


# -- the service ------------------------------------------------------------------


def test_service_sweeps_every_interval_and_survives_a_failing_sweep() -> None:
    clock = Clock()
    reaper = Reaper(Gateway({}, fakeSpawner(FakeProcessReactor(), clock)), clock, ALWAYS)
    runs: list[float] = []

    def counting() -> SweepCounts:
        runs.append(clock.seconds())
        return SweepCounts()

    reaper.sweep = counting  # type: ignore[method-assign]
    service = ReaperService(reaper, clock, 10)
    service.startService()
    assert runs == []  # not at start
    clock.advance(9)
    assert runs == []
    for _ in range(3):
        clock.advance(10 - clock.seconds() % 10)
    assert runs == [10, 20, 30]

    def broken() -> SweepCounts:
        runs.append(-clock.seconds())
        raise RuntimeError("sweep exploded")

    reaper.sweep = broken  # type: ignore[method-assign]
    with capturedGatewayLogs() as events:
        clock.advance(10)
        clock.advance(10)
    assert runs[3:] == [-40, -50]
    failures = [e for e in events if "log_failure" in e]
    assert [e["log_format"] for e in failures] == ["reaper sweep failed"] * 2
    assert all(e["log_failure"].check(RuntimeError) for e in failures)
    reaper.sweep = counting  # type: ignore[method-assign]
    clock.advance(10)
    assert runs[5:] == [60]
    assert service.running
    service.stopService()
    assert not service.running
    assert clock.getDelayedCalls() == []
    clock.advance(100)
    assert runs[5:] == [60]


def test_service_runs_the_real_sweep() -> None:
    h = Harness()
    reaper = Reaper(h.gateway, h.reactor, 100, alive=alwaysAlive)
    service = ReaperService(reaper, h.reactor, 30)
    sid = openSession(h)
    service.startService()
    h.reactor.advance(90)
    assert sessionIds(h) == {sid}
    h.reactor.advance(30)  # t=120: the first sweep past 100 s of idleness
    assert sessionIds(h) == set()
    service.stopService()


# -- logging ------------------------------------------------------------------------


def assertPhases(
    events: list[dict[str, Any]],
    level: LogLevel,
    deadChildren: int,
    clients: tuple[int, int],
    idle: tuple[int, int],
) -> list[dict[str, Any]]:
    """The sweep logged its three phases in order at C{level}, with
    C{deadChildren}, (dead clients, their sessions) and (idle sessions,
    idle shared children); the phases' events."""
    phases = phaseEvents(events)
    assert [(e["phase"], e["log_level"]) for e in phases] == [(1, level), (2, level), (3, level)]
    assert phases[0]["deadChildren"] == deadChildren
    assert (phases[1]["deadClients"], phases[1]["sessions"]) == clients
    assert (phases[2]["idleSessions"], phases[2]["idleChildren"]) == idle
    return phases


def test_each_phase_logs_one_event_at_debug_when_nothing_was_done() -> None:
    h = Harness()
    openSession(h)
    with capturedGatewayLogs() as events:
        Reaper(h.gateway, h.reactor, ALWAYS, alive=alwaysAlive).sweep()
    phases = assertPhases(events, LogLevel.debug, 0, (0, 0), (0, 0))
    assert phases[0]["log_format"] == "reaper phase 1: {deadChildren} dead child(ren) removed"
    assert (
        phases[1]["log_format"]
        == "reaper phase 2: {deadClients} dead client(s), {sessions} session(s) ended"
    )
    assert phases[2]["log_format"] == (
        "reaper phase 3: {idleSessions} idle session(s) ended,"
        " {idleChildren} idle shared child(ren) stopped"
    )


def test_a_phase_that_did_something_logs_at_info_with_its_counts() -> None:
    h = Harness({"srv": spec("srv"), "solo": spec("solo", mode="stateful")})
    openSession(h, "srv", pid=4001)
    openSession(h, "srv", pid=4001)
    openSession(h, "srv", pid=4003)
    openSession(h, "srv")
    openSession(h, "solo")
    h.process(1).exit(3)
    h.reactor.advance(100)
    with capturedGatewayLogs() as events:
        counts = Reaper(
            h.gateway, h.reactor, 100, alive=lambda pid: pid not in (4001, 4003)
        ).sweep()
    # The session whose own child exited is kept for a new child, and ended
    # as idle: no request came.
    assert counts == SweepCounts(
        deadChildren=1, deadClients=2, deadClientSessions=3, idleSessions=2
    )
    assertPhases(events, LogLevel.info, 1, (2, 3), (2, 0))
    assert len(h.gateway.sessions) == 0


# -- orphans ------------------------------------------------------------------------


def test_orphans_get_term_at_start_and_kill_only_if_still_the_same_process() -> None:
    clock = Clock()
    kills: list[tuple[int, int]] = []
    starts: dict[int, int | None] = {10: 100, 11: 200, 12: 300, 13: None}
    cleanup = OrphanCleanup(
        [(10, "a"), (11, "b"), (12, "c"), (13, "d")],
        clock,
        starts.get,
        killAfter=3.0,
        kill=lambda pid, sig: kills.append((pid, sig)),
    )
    with capturedGatewayLogs() as events:
        cleanup.startService()
    assert kills == [
        (10, signal.SIGTERM),
        (11, signal.SIGTERM),
        (12, signal.SIGTERM),
        (13, signal.SIGTERM),
    ]
    warned = [(e["pid"], e["server"]) for e in events if e["log_level"] == LogLevel.warn]
    assert warned == [(10, "a"), (11, "b"), (12, "c"), (13, "d")]
    starts[11] = 999  # pid recycled by a new process
    del starts[12]  # gone
    starts[13] = 5  # unknown at start: never killed
    clock.advance(2.9)
    assert len(kills) == 4
    clock.advance(0.1)
    assert kills[4:] == [(10, signal.SIGKILL)]
    assert clock.getDelayedCalls() == []


def test_orphan_signal_errors_are_ignored_or_logged() -> None:
    clock = Clock()
    tried: list[tuple[int, int]] = []

    def kill(pid: int, sig: int) -> None:
        tried.append((pid, sig))
        if pid == 20:
            raise ProcessLookupError(3, "No such process")
        raise PermissionError(1, "Operation not permitted")

    cleanup = OrphanCleanup(
        [(20, "a"), (21, "b")], clock, {20: 1, 21: 2}.get, killAfter=3.0, kill=kill
    )
    with capturedGatewayLogs() as events:
        cleanup.startService()
        clock.advance(3)
    assert tried == [
        (20, signal.SIGTERM),
        (21, signal.SIGTERM),
        (20, signal.SIGKILL),
        (21, signal.SIGKILL),
    ]
    refused = [
        e for e in events if e["log_format"] == "not allowed to signal orphaned child pid {pid}"
    ]
    assert [(e["pid"], e["log_level"]) for e in refused] == [(21, LogLevel.warn)] * 2
    assert not [e for e in events if "log_failure" in e]


def test_each_sweep_asks_every_pool_to_stop_its_expired_scoped_children() -> None:
    h = Harness({"srv": spec("srv"), "other": spec("other")})
    reaper = Reaper(h.gateway, h.reactor, ALWAYS, alive=alwaysAlive)
    asked: list[tuple[str, float]] = []

    def expiring(name: str, pids: list[int]) -> Any:
        def expire(now: float) -> list[int]:
            asked.append((name, now))
            return pids

        return expire

    h.gateway.pools["srv"].expire = expiring("srv", [1001, 1002])  # type: ignore[method-assign]
    h.gateway.pools["other"].expire = expiring("other", [])  # type: ignore[method-assign]
    h.reactor.advance(700)
    with capturedGatewayLogs() as events:
        assert reaper.sweep() == SweepCounts(idleChildren=2)
    assert sorted(asked) == [("other", 700.0), ("srv", 700.0)]
    [phase3] = [e for e in phaseEvents(events) if e["phase"] == 3]
    assert phase3["idleChildren"] == 2 and phase3["log_level"] == LogLevel.info


def test_a_pool_whose_expiry_fails_is_logged_and_the_others_are_still_swept() -> None:
    h = Harness({"srv": spec("srv"), "other": spec("other")})
    reaper = Reaper(h.gateway, h.reactor, ALWAYS, alive=alwaysAlive)

    def broken(now: float) -> list[int]:
        raise RuntimeError("boom")

    h.gateway.pools["srv"].expire = broken  # type: ignore[method-assign]
    h.gateway.pools["other"].expire = lambda now: [7]  # type: ignore[method-assign]
    with capturedGatewayLogs() as events:
        assert reaper.sweep() == SweepCounts(idleChildren=1)
    [failure] = [e for e in events if e.get("log_failure") is not None]
    assert failure["server"] == "srv"


def test_the_service_ends_dead_clients_sessions_as_soon_as_it_runs() -> None:
    """Sessions restored at start whose clients exited meanwhile end at once,
    not one interval later; nothing else of the sweep runs early."""
    h = Harness({"srv": spec("srv")})
    dead = openSession(h, "srv", pid=4001)
    live = openSession(h, "srv", pid=4002)
    anonymous = openSession(h, "srv")
    reaper = Reaper(h.gateway, h.reactor, 0.0, alive=lambda pid: pid != 4001)
    service = ReaperService(reaper, h.reactor, 60)
    service.startService()
    assert sessionIds(h) == {dead, live, anonymous}  # nothing runs inside startService
    h.reactor.advance(0)
    assert sessionIds(h) == {live, anonymous}  # the idle phase (timeout 0) did not run
    service.stopService()


def test_stopping_the_service_at_once_cancels_its_first_pass() -> None:
    h = Harness({"srv": spec("srv")})
    dead = openSession(h, "srv", pid=4001)
    reaper = Reaper(h.gateway, h.reactor, ALWAYS, alive=lambda pid: False)
    service = ReaperService(reaper, h.reactor, 60)
    service.startService()
    service.stopService()
    h.reactor.advance(120)
    assert sessionIds(h) == {dead}

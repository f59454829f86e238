"""Which client pids the reaper trusts: only a pid the
gateway found itself, as the owner of the client's socket, exempts a session
from the idle timeout; a pid the client sent (C{X-Client-Pid},
C{clientInfo.pid}) may name a process that never exits (pid 1), and on a
gateway that authenticates its clients it is not trusted for liveness at
all (the client may run on another machine)."""

from __future__ import annotations

from typing import Any

from mcpgateway.core.pools.pool import PidProbe
from mcpgateway.core.sessions import Session
from mcpgateway.ops.reaper import Reaper, SweepCounts
from tests.support.ops.reaper import alwaysAlive, sessionIds
from tests.support.web.sessions_api import Finder, FinderHarness, initialize
from tests.support.web.team_web import TeamHarness


def gone(*pids: int) -> PidProbe:
    """A probe for which C{pids} have exited (and every child runs)."""
    return lambda pid: pid not in pids


def test_a_pid_found_as_the_sockets_owner_keeps_its_session_while_it_lives() -> None:
    finder = Finder()
    h = FinderHarness(finder)
    sid = initialize(h).headers["mcp-session-id"]
    finder.answers[0].callback(4001)
    session = h.gateway.sessions.get(sid)
    assert session is not None and session.clientPid == 4001 and session.pidFromSocket
    h.reactor.advance(10**6)
    assert Reaper(h.gateway, h.reactor, 100, alive=alwaysAlive).sweep() == SweepCounts()
    assert sessionIds(h) == {sid}
    assert Reaper(h.gateway, h.reactor, 100, alive=gone(4001)).sweep() == SweepCounts(
        deadClients=1, deadClientSessions=1
    )


def test_a_pid_in_client_info_is_the_clients_word_and_the_idle_timeout_applies() -> None:
    finder = Finder()
    h = FinderHarness(finder)
    sid = initialize(h, clientInfo={"name": "c", "pid": 1}).headers["mcp-session-id"]
    session = h.gateway.sessions.get(sid)
    assert session is not None and session.clientPid == 1 and not session.pidFromSocket
    h.reactor.advance(100)
    assert Reaper(h.gateway, h.reactor, 100, alive=alwaysAlive).sweep() == SweepCounts(
        idleSessions=1
    )
    assert sessionIds(h) == set()


def test_a_pid_found_as_the_sockets_owner_is_still_so_after_a_restart() -> None:
    """The record says how the pid was learned, so a restart (or an
    upgrade) does not make the session of a client that is still running
    subject to the idle timeout; a pid the client sent stays its word."""
    from mcpgateway.ops.sessionstore import _checked

    finder = Finder()
    h = FinderHarness(finder)
    sid = initialize(h).headers["mcp-session-id"]
    finder.answers[0].callback(4001)
    live = h.gateway.sessions.get(sid)
    assert live is not None
    restored = Session.fromRecord(_checked(live.record()))
    assert restored.clientPid == 4001 and restored.pidFromSocket
    told = Session.fromRecord(_checked({**live.record(), "pidFromSocket": False}))
    assert told.clientPid == 4001 and not told.pidFromSocket
    forged = _checked({**live.record(), "clientPid": None, "pidFromSocket": True})
    assert not Session.fromRecord(forged).pidFromSocket


def test_an_authenticated_clients_pid_is_not_trusted_for_liveness() -> None:
    h = TeamHarness()

    def initialize_(clientInfo: dict[str, Any]) -> dict[str, Any]:
        params = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": clientInfo}
        return {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}

    response = h.as_("alice", "POST", "/srv/mcp", initialize_({}), headers={"x-client-pid": "1"})
    if not response.complete:
        h.answerHandshake()
    header = h.gateway.sessions.get(response.headers["mcp-session-id"])
    assert header is not None and header.clientPid is None  # the header is not read
    # Nor clientInfo.pid: a pid that names nothing on this host
    # neither ends the session nor keeps it, nor tells whether its client runs.
    informed = initialize_({"pid": 4321})
    other = h.as_("bob", "POST", "/srv/mcp", informed).headers["mcp-session-id"]
    session = h.gateway.sessions.get(other)
    assert session is not None and session.clientPid is None and session.principal
    h.reactor.advance(50)
    assert Reaper(h.gateway, h.reactor, 100, alive=gone(4321)).sweep() == SweepCounts()
    h.reactor.advance(50)
    assert Reaper(h.gateway, h.reactor, 100, alive=gone(4321)).sweep() == SweepCounts(
        idleSessions=2
    )
    assert sessionIds(h) == set()

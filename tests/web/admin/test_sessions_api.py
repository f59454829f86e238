"""Sessions as seen from outside: GET/DELETE /sessions, where a session's
client pid comes from, and the gateway's clean stop; through the real Site
with fake children and a fake clock."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.defer import Deferred, succeed

from mcpgateway.core.gateway.ownerlookup import OWNER_RETRY
from mcpgateway.core.sessions import Session, shortId
from mcpgateway.httpbase.door import Door
from mcpgateway.protocol import jsonrpc
from mcpgateway.tuned.switch import STOCK, TUNED
from mcpgateway.web.app import makeSite
from tests.fakes import FakeProcess, capturedGatewayLogs
from tests.http import Harness, Response, initializeMessage, spec
from tests.support.web import mcpcall
from tests.support.web.channel_reading import post
from tests.support.web.door import OWNER, FakeNamer, connect
from tests.support.web.sessions_api import Finder, FinderHarness, initialize

SHUTDOWN = {"code": jsonrpc.SERVER_UNAVAILABLE, "message": "the gateway is shutting down"}


def openSession(h: Harness, server: str = "srv", pid: int | None = None) -> str:
    headers = {"x-client-pid": str(pid)} if pid is not None else None
    return initialize(h, server, headers).headers["mcp-session-id"]


def session(h: Harness, sid: str) -> Session:
    found = h.gateway.sessions.get(sid)
    assert found is not None
    return found


def call(
    h: Harness, sid: str, requestId: Any = 2, server: str = "srv", method: str = "tools/call"
) -> Response:
    """POST C{method} on C{sid} (a ping takes no params, anything else
    calls C{echo})."""
    params: dict[str, Any] | None = {} if method == "ping" else None
    return mcpcall.call(h, sid, requestId, method, params, server)


def sent(proc: FakeProcess, method: str) -> list[dict[str, Any]]:
    return [m for m in proc.sentMessages() if m.get("method") == method]


def sessionIds(h: Harness) -> set[str]:
    return {s.id for s in h.gateway.sessions}


# -- GET /sessions ---------------------------------------------------------------

DESCRIBED = (
    "id",
    "server",
    "clientPid",
    "client",
    "protocolVersion",
    "mode",
    "childPid",
    "created",
    "lastActivity",
    "inFlight",
    "getStream",
)


def test_get_sessions_with_none() -> None:
    h = Harness()
    response = h.request("GET", "/sessions")
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"sessions": []}


def test_get_sessions_describes_every_session() -> None:
    h = Harness({"srv": spec("srv"), "solo": spec("solo", mode="stateful")})
    h.reactor.advance(5)
    a = openSession(h, "srv", pid=4001)
    h.reactor.advance(2)
    b = openSession(h, "solo")
    h.reactor.advance(3)
    pending = call(h, b, server="solo")  # t=10, in flight
    stream = h.request("GET", "/solo/mcp", session=b, accept="text/event-stream")
    h.reactor.advance(2)
    c = openSession(h, "srv", pid=4001)
    assert call(h, c, method="ping").status == 200  # t=12: refreshes a's owner group
    listed = h.request("GET", "/sessions").json()["sessions"]
    srv = {
        "server": "srv",
        "clientPid": 4001,
        "client": "test",
        "protocolVersion": "2025-11-25",
        "mode": "stateless",
        "childPid": h.process(0).pid,
        "inFlight": 0,
        "getStream": False,
    }
    solo = {"server": "solo", "clientPid": None, "mode": "stateful", "inFlight": 1}
    solo |= {"childPid": h.process(1).pid, "getStream": True}
    assert [{k: s[k] for k in DESCRIBED} for s in listed] == [
        {**srv, "id": a, "created": 5, "lastActivity": 12},
        {**srv, **solo, "id": b, "created": 7, "lastActivity": 10},
        {**srv, "id": c, "created": 12, "lastActivity": 12},
    ]
    assert not pending.complete and stream.status == 200


# -- DELETE /sessions/by-pid/<pid> ------------------------------------------------------


@pytest.mark.parametrize("pid", ["abc", "0", "-1", "1.5", "00"])
def test_delete_by_pid_refuses_what_is_not_a_pid(pid: str) -> None:
    h = Harness()
    sid = openSession(h, pid=4001)
    response = h.request("DELETE", f"/sessions/by-pid/{pid}")
    assert response.status == 400
    assert response.json() == {"error": f"not a pid: {pid!r}"}
    assert sessionIds(h) == {sid}


def test_delete_by_pid_refuses_a_superscript_digit() -> None:
    h = Harness()
    response = h.request("DELETE", "/sessions/by-pid/%C2%B2")
    assert response.status == 400


def test_delete_by_pid_refuses_a_pid_of_thousands_of_digits_without_a_500() -> None:
    """Past Python's 4,300-digit limit int() raises ValueError: it was a 500
    (in HTML, with a traceback)."""
    h = Harness()
    with capturedGatewayLogs() as events:
        response = h.request("DELETE", "/sessions/by-pid/" + "9" * 5000)
        huge = h.request("DELETE", "/sessions/by-pid/" + "9" * 11)
    assert response.status == 400 and huge.status == 400
    assert response.json() == {"error": "not a pid: '99999999999999999999...'"}
    assert not [e for e in events if "log_failure" in e]


def test_a_defect_in_a_management_route_is_a_json_500(monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness()

    def broken() -> Any:
        raise RuntimeError("a defect")

    monkeypatch.setattr(h.gateway.readModel, "status", broken)
    with capturedGatewayLogs() as events:
        response = h.request("GET", "/sessions")
    assert response.status == 500
    assert response.json() == {"error": "internal error in the gateway (RuntimeError); see its log"}
    assert [e for e in events if "log_failure" in e]


def test_delete_by_pid_of_a_pid_without_sessions_is_404() -> None:
    h = Harness()
    sid = openSession(h, pid=4001)
    response = h.request("DELETE", "/sessions/by-pid/4242")
    assert response.status == 404
    assert response.json() == {"error": "no session belongs to pid 4242"}
    assert sessionIds(h) == {sid}


def test_delete_by_pid_ends_every_session_of_that_pid() -> None:
    h = Harness({"srv": spec("srv"), "solo": spec("solo", mode="stateful")})
    a = openSession(h, "srv", pid=4001)
    b = openSession(h, "solo", pid=4001)
    c = openSession(h, "solo", pid=4001)
    other = openSession(h, "srv", pid=4002)
    anonymous = openSession(h, "solo")
    shared, ownB, ownC, ownAnon = (h.process(i) for i in range(4))
    inFlight = call(h, a, requestId=5)
    [forwarded] = sent(shared, "tools/call")
    response = h.request("DELETE", "/sessions/by-pid/4001")
    assert response.status == 200
    assert response.json() == {
        "ended": {"sessions": [a, b, c], "childPids": [ownB.originalPid, ownC.originalPid]}
    }
    assert sessionIds(h) == {other, anonymous}
    assert ownB.stdinClosed and ownC.stdinClosed
    assert not shared.stdinClosed and not ownAnon.stdinClosed
    assert sent(shared, "notifications/cancelled") == [
        jsonrpc.notification(
            "notifications/cancelled",
            {"requestId": forwarded["id"], "reason": "ended by DELETE /sessions/by-pid/4001"},
        )
    ]
    assert inFlight.complete and inFlight.events() == []
    assert call(h, a).status == 404
    assert call(h, b, server="solo").status == 404
    assert h.request("DELETE", "/sessions/by-pid/4001").status == 404


# -- DELETE /sessions/<id> -----------------------------------------------------------------


def test_delete_an_unknown_session_is_404() -> None:
    h = Harness()
    sid = openSession(h)
    response = h.request("DELETE", "/sessions/not-a-session")
    assert response.status == 404 and response.json() == {"error": "no such session"}
    assert sessionIds(h) == {sid}


def test_delete_a_session_by_id() -> None:
    h = Harness({"srv": spec("srv"), "solo": spec("solo", mode="stateful")})
    shared = openSession(h, "srv")
    own = openSession(h, "solo")
    kept = openSession(h, "srv")
    response = h.request("DELETE", f"/sessions/{shared}")
    assert response.status == 200
    assert response.json() == {"ended": {"sessions": [shared], "childPids": []}}
    assert not h.process(0).stdinClosed
    ownPid = h.process(1).pid
    response = h.request("DELETE", f"/sessions/{own}")
    assert response.json() == {"ended": {"sessions": [own], "childPids": [ownPid]}}
    assert h.process(1).stdinClosed
    assert sessionIds(h) == {kept}
    assert call(h, shared).status == 404
    assert call(h, own, server="solo").status == 404
    assert h.request("DELETE", f"/sessions/{shared}").status == 404


@pytest.mark.parametrize(
    "method,path",
    [("GET", "/sessions"), ("DELETE", "/sessions/by-pid/4001"), ("DELETE", "/sessions/{sid}")],
)
def test_sessions_routes_refuse_a_foreign_origin(method: str, path: str) -> None:
    h = Harness()
    sid = openSession(h, pid=4001)
    response = h.request(
        method, path.format(sid=sid), headers={"origin": "http://evil.example.com"}
    )
    assert response.status == 403
    assert sessionIds(h) == {sid}
    assert b"4001" not in response.body and sid.encode() not in response.body


# -- where the client pid comes from ---------------------------------------------------------


def test_header_pid_wins_over_client_info_pid() -> None:
    finder = Finder()
    h = FinderHarness(finder)
    sid = initialize(
        h, headers={"x-client-pid": "4001"}, clientInfo={"name": "c", "pid": 5001}
    ).headers["mcp-session-id"]
    assert session(h, sid).clientPid == 4001
    assert finder.calls == []


def test_client_info_pid_is_used_without_a_header() -> None:
    finder = Finder()
    h = FinderHarness(finder)
    sid = initialize(h, clientInfo={"name": "c", "pid": 5001}).headers["mcp-session-id"]
    assert session(h, sid).clientPid == 5001
    assert finder.calls == []


@pytest.mark.parametrize("header", ["abc", "-1", "0", "", "1e3", "0x10"])
def test_a_bad_header_is_ignored(header: str) -> None:
    finder = Finder()
    h = FinderHarness(finder)
    sid = initialize(
        h, headers={"x-client-pid": header}, clientInfo={"name": "c", "pid": 5001}
    ).headers["mcp-session-id"]
    assert session(h, sid).clientPid == 5001
    assert finder.calls == []


def test_a_superscript_digit_header_is_ignored() -> None:
    h = Harness()
    response = h.request(
        "POST",
        "/srv/mcp",
        initializeMessage(clientInfo={}),
        headers={"x-client-pid": "\xc2\xb2"},
    )  # the UTF-8 bytes of '²'
    if not response.complete:
        h.answerHandshake()
    assert response.status == 200


@pytest.mark.parametrize("infoPid", [True, "4001", -5, 0, 4001.0, None])
def test_an_invalid_client_info_pid_falls_back_to_the_finder(infoPid: Any) -> None:
    finder = Finder()
    h = FinderHarness(finder)
    sid = initialize(h, clientInfo={"name": "c", "pid": infoPid}).headers["mcp-session-id"]
    assert session(h, sid).clientPid is None
    assert len(finder.calls) == 1


def test_the_finder_is_asked_with_the_connection_and_known_pids() -> None:
    finder = Finder()
    h = FinderHarness(finder)
    openSession(h, pid=4002)
    openSession(h, pid=4001)
    openSession(h, pid=4001)
    assert finder.calls == []
    h.reactor.advance(7)
    sid = openSession(h)
    # Harness's StringTransport: peer 127.0.0.1:50000, host 10.0.0.1:12345 (its
    # default); no door named the client's socket: its inode is not known (0).
    assert finder.calls == [(("127.0.0.1", 50000, "10.0.0.1", 12345, 0), [4001, 4002])]
    assert session(h, sid).clientPid is None
    h.reactor.advance(3)
    finder.answers[0].callback(777)
    assert session(h, sid).clientPid == 777
    assert session(h, sid).lastActivity == 10
    assert [s.id for s in h.gateway.sessions.ofPid(777)] == [sid]
    assert h.gateway.sessions.activity(session(h, sid)) == 10


@pytest.mark.parametrize("twisted", [STOCK, TUNED])
def test_the_finder_is_given_the_inode_the_door_named_at_accept(twisted: str) -> None:
    """Behind a door, each look carries the inode of the client's socket
    the door named when it accepted the request's connection (the fake
    namer names each client port's socket by the port): the initialize's,
    then a later request's on another connection."""
    finder = Finder()
    h = FinderHarness(finder)
    door = Door(h.reactor, FakeNamer(), owner=OWNER)
    h.site = makeSite(h.gateway, h.reactor, maxBody=4096, door=door, twisted=twisted)
    sid = openSession(h)
    finder.answers[0].callback(None)  # the client closed that connection
    protocol, _ = connect(h.site, port=50001)
    protocol.dataReceived(post(sid, {"jsonrpc": "2.0", "id": 2, "method": "ping"}))
    assert [connection for connection, _ in finder.calls] == [
        ("127.0.0.1", 50000, "10.0.0.1", 12345, 50000),
        ("127.0.0.1", 50001, "127.0.0.1", 9100, 50001),
    ]


def test_the_known_pids_are_gathered_at_most_once_a_second() -> None:
    """The hints walk every session: a burst of sessions opened together
    reuses one walk; a second later the walk is made again."""
    finder = Finder()
    h = FinderHarness(finder)
    openSession(h, pid=4001)
    openSession(h)
    openSession(h, pid=4003)
    openSession(h)
    h.reactor.advance(1)
    openSession(h)
    assert [call[-1] for call in finder.calls] == [[4001], [4001], [4001, 4003]]


def test_a_finder_answering_at_once_sets_the_pid() -> None:
    calls: list[tuple[Any, ...]] = []

    def finder(*args: Any) -> Deferred[int | None]:
        calls.append(args)
        return succeed(888)

    h = FinderHarness(finder)
    sid = openSession(h)
    assert session(h, sid).clientPid == 888
    assert len(calls) == 1


def test_a_session_whose_pid_is_found_is_one_info_line() -> None:
    """Opening a session logs one line at info, however its pid is found:
    the socket owner found is told at debug (a gateway opening thousands of
    sessions writes a line per session, not two)."""
    finder = Finder()
    h = FinderHarness(finder)
    with capturedGatewayLogs() as events:
        sid = openSession(h)
        finder.answers[0].callback(4242)
    assert session(h, sid).clientPid == 4242
    mine = [e for e in events if e.get("sid") == shortId(sid)]
    assert [e["log_level"].name for e in mine] == ["info", "debug"]
    assert mine[1]["log_format"] == "session {sid} belongs to client pid {pid} (socket owner)"


def test_a_finder_answering_none_leaves_the_pid_unknown() -> None:
    finder = Finder()
    h = FinderHarness(finder)
    sid = openSession(h)
    finder.answers[0].callback(None)
    assert session(h, sid).clientPid is None
    assert len(finder.calls) == 1


def test_a_failing_finder_is_logged_not_raised() -> None:
    finder = Finder()
    h = FinderHarness(finder)
    sid = openSession(h)
    with capturedGatewayLogs() as events:
        finder.answers[0].errback(RuntimeError("proc unreadable"))
    assert session(h, sid).clientPid is None
    [failure] = [e for e in events if "log_failure" in e]
    assert failure["log_format"] == "looking up the client pid of session {sid} failed"
    assert failure["sid"] == shortId(sid) and failure["log_failure"].check(RuntimeError)
    assert call(h, sid, method="ping").status == 200


def test_a_late_finder_answer_for_an_ended_session_is_dropped() -> None:
    finder = Finder()
    h = FinderHarness(finder)
    sid = openSession(h)
    ended = session(h, sid)
    assert h.request("DELETE", "/srv/mcp", session=sid).status == 200
    finder.answers[0].callback(777)
    assert ended.clientPid is None
    assert h.gateway.sessions.ofPid(777) == []


def test_no_finder_leaves_the_pid_unknown() -> None:
    h = Harness()
    sid = openSession(h)
    assert session(h, sid).clientPid is None


# -- Gateway.stop ---------------------------------------------------------------------


def test_stop_drains_then_answers_requests_in_flight_and_fires_after_every_child_exited() -> None:
    h = Harness({"srv": spec("srv"), "other": spec("other")})
    a = openSession(h, "srv")
    b = openSession(h, "srv")
    c = openSession(h, "other")
    srv, other = h.process(0), h.process(1)
    ra = call(h, a, requestId=7)
    rb = call(h, b, requestId="x")
    stream = h.request("GET", "/other/mcp", session=c, accept="text/event-stream")
    fa, fb = sent(srv, "tools/call")
    done: list[Any] = []
    h.gateway.stop().addBoth(done.append)
    assert ra.events() == [] and not ra.complete  # in flight: given the drain deadline
    h.reactor.advance(h.gateway.drainTimeout)
    assert ra.events() == [{"jsonrpc": "2.0", "id": 7, "error": SHUTDOWN}] and ra.complete
    assert rb.events() == [{"jsonrpc": "2.0", "id": "x", "error": SHUTDOWN}] and rb.complete
    assert sent(srv, "notifications/cancelled") == [
        jsonrpc.notification(
            "notifications/cancelled", {"requestId": f["id"], "reason": SHUTDOWN["message"]}
        )
        for f in (fa, fb)
    ]
    assert stream.complete
    assert len(h.gateway.sessions) == 0
    assert srv.stdinClosed and other.stdinClosed
    assert done == []
    srv.exit(0)
    assert done == []
    h.reactor.advance(2)
    assert other.signals == ["TERM"] and done == []
    other.exit(signal=15)
    assert len(done) == 1


def test_stop_with_nothing_running_fires_at_once() -> None:
    h = Harness()
    done: list[Any] = []
    h.gateway.stop().addBoth(done.append)
    assert len(done) == 1


def test_stop_waits_for_stateful_children() -> None:
    h = Harness({"solo": spec("solo", mode="stateful")})
    openSession(h, "solo")
    own = h.process()
    done: list[Any] = []
    h.gateway.stop().addBoth(done.append)
    assert own.stdinClosed
    assert done == []
    own.exit(0)
    assert len(done) == 1


def test_a_session_without_a_pid_is_looked_up_again_at_most_once_a_minute() -> None:
    """A look that found nothing (the client had closed the connection
    before it ran) is made again on the later requests on that connection
    not more than once a minute, and not once the pid is known (a request
    on another connection is looked at at once: tests/core/gateway/test_ownerlookup.py)."""
    finder = Finder()
    h = FinderHarness(finder)
    sid = openSession(h)
    assert len(finder.calls) == 1
    finder.answers[0].callback(None)  # nobody held the socket any more
    call(h, sid, method="ping")
    assert len(finder.calls) == 1  # looked for just now
    h.reactor.advance(OWNER_RETRY)
    call(h, sid, requestId=3, method="ping")
    assert len(finder.calls) == 2
    call(h, sid, requestId=4, method="ping")
    assert len(finder.calls) == 2  # one look in flight is enough
    finder.answers[1].callback(4242)
    assert session(h, sid).clientPid == 4242
    h.reactor.advance(OWNER_RETRY)
    call(h, sid, requestId=5, method="ping")
    assert len(finder.calls) == 2  # known now: never again

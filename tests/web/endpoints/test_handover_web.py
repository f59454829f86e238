"""The HTTP side of a restart (L{mcpgateway.ops.handover}).

In the successor: a request for a session it does not know waits while the
predecessor still runs, and is answered once the predecessor's sessions are
merged (or 404 after L{PREDECESSOR_WAIT} seconds). In the predecessor
(L{GatewaySite.handOver}): what comes on the open connections is answered
with C{Connection: close}, a response in progress is left alone, GET streams
end, and the hand-over is done when the connections are gone or at the
deadline.

Real Site, fake children, fake clock; no sockets."""

from __future__ import annotations

from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from mcpgateway.web.app import HANDOVER_IDLE, GatewaySite
from mcpgateway.web.endpoints.backends import PREDECESSOR_WAIT
from tests.fakes import capturedGatewayLogs
from tests.http import Harness, Response
from tests.support.core.predecessor import Restart

HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n\r\n"


def call(h: Harness, sid: str, requestId: Any = 7, server: str = "srv") -> Response:
    return h.request(
        "POST",
        f"/{server}/mcp",
        {"jsonrpc": "2.0", "id": requestId, "method": "tools/call", "params": {"name": "x"}},
        session=sid,
    )


def childCalls(h: Harness) -> list[dict[str, Any]]:
    return [m for m in h.process().sentMessages() if m.get("method") == "tools/call"]


def answerCall(h: Harness, result: Any) -> None:
    [sent] = childCalls(h)[-1:]
    h.process().reply({"jsonrpc": "2.0", "id": sent["id"], "result": result})


def noFailures(events: list[Any]) -> None:
    assert [e for e in events if e.get("log_failure") is not None] == []


# -- the successor: requests that wait for the predecessor ----------------------------


def test_a_request_for_a_session_opened_on_the_predecessor_waits_then_is_served() -> None:
    r = Restart()
    late = r.old.initialize("srv")  # opened after the successor read the file
    response = call(r.new, late)
    assert response.transport.value() == b""  # no answer yet, not a 404
    assert childCalls(r.new) == []
    with capturedGatewayLogs() as events:
        r.predecessorExits()
        # Answered as if it had come now: forwarded to the shared child.
        answerCall(r.new, {"content": [{"type": "text", "text": "ok"}]})
    assert response.status == 200
    assert response.events()[-1] == {
        "jsonrpc": "2.0",
        "id": 7,
        "result": {"content": [{"type": "text", "text": "ok"}]},
    }
    noFailures(events)


def test_a_session_never_known_is_404_once_the_predecessor_is_gone() -> None:
    r = Restart()
    response = call(r.new, "never-issued-by-anyone")
    assert response.transport.value() == b""
    r.predecessorExits()
    assert response.status == 404
    assert response.json()["error"]["message"] == "Session not found"
    assert childCalls(r.new) == []


def test_a_known_session_does_not_wait() -> None:
    r = Restart()
    response = call(r.new, r.first)
    answerCall(r.new, {})
    assert response.status == 200


def test_a_session_of_another_server_is_404_at_once() -> None:
    r = Restart()
    response = call(r.new, r.first, server="other")
    assert response.status == 404


def test_a_client_that_went_away_meanwhile_gets_nothing() -> None:
    r = Restart()
    late = r.old.initialize("srv")
    response = call(r.new, late)
    response.protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]
    with capturedGatewayLogs() as events:
        r.predecessorExits()
    assert response.transport.value() == b""
    assert childCalls(r.new) == []  # not forwarded either
    noFailures(events)


def test_after_predecessor_wait_seconds_it_is_404() -> None:
    r = Restart()
    late = r.old.initialize("srv")
    response = call(r.new, late)
    r.new.reactor.advance(PREDECESSOR_WAIT - 0.5)
    assert response.transport.value() == b""
    r.new.reactor.advance(0.5)
    assert response.status == 404
    assert response.json()["error"]["message"] == "Session not found"
    answered = response.transport.value()
    with capturedGatewayLogs() as events:
        r.predecessorExits()  # too late for that request: nothing more is written
    assert response.transport.value() == answered
    noFailures(events)


def test_a_get_stream_for_a_session_opened_on_the_predecessor_opens_after_the_merge() -> None:
    r = Restart()
    late = r.old.initialize("srv")
    stream = r.new.request("GET", "/srv/mcp", session=late, accept="text/event-stream")
    assert stream.transport.value() == b""
    r.predecessorExits()
    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert not stream.complete


def test_a_delete_for_a_session_opened_on_the_predecessor_ends_it_after_the_merge() -> None:
    r = Restart()
    late = r.old.initialize("srv")
    response = r.new.request("DELETE", "/srv/mcp", session=late)
    assert response.transport.value() == b""
    r.predecessorExits()
    assert response.status == 200
    assert r.new.gateway.sessions.get(late) is None


def test_many_waiting_requests_are_all_answered() -> None:
    r = Restart()
    late = r.old.initialize("srv")
    waiting = [call(r.new, late, requestId=n) for n in range(5)]
    r.predecessorExits()
    for sent in childCalls(r.new):
        r.new.process().reply({"jsonrpc": "2.0", "id": sent["id"], "result": {}})
    assert [w.status for w in waiting] == [200] * 5
    assert sorted(w.events()[-1]["id"] for w in waiting) == list(range(5))


# -- the predecessor: GatewaySite.handOver --------------------------------------------


def connect(h: Harness) -> tuple[Any, StringTransport]:
    transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 50000))
    protocol = h.site.buildProtocol(transport.getPeer())
    protocol.makeConnection(transport)
    return protocol, transport


def site(h: Harness) -> GatewaySite:
    assert isinstance(h.site, GatewaySite)
    return h.site


def fired(d: Deferred[Any]) -> list[Any]:
    results: list[Any] = []
    d.addBoth(results.append)
    return results


def closeAll(h: Harness) -> None:
    for channel in list(site(h).guard.channels):
        channel.connectionLost(Failure(ConnectionDone()))


def test_requests_after_the_hand_over_are_answered_with_connection_close() -> None:
    h = Harness()
    protocol, transport = connect(h)
    protocol.dataReceived(HEALTH)  # before: a keep-alive connection
    assert b"connection: close" not in transport.value().lower()
    assert not transport.disconnecting
    transport.clear()
    site(h).handOver(30.0)
    protocol.dataReceived(HEALTH)  # the next request on it
    response = Response(transport)
    assert response.status == 200
    assert response.headers["connection"] == "close"
    assert transport.disconnecting  # closed after the response


def test_a_response_in_progress_is_left_alone() -> None:
    h = Harness()
    sid = h.initialize()
    response = call(h, sid)
    site(h).handOver(30.0)
    answerCall(h, {"content": []})
    assert response.status == 200 and response.complete
    assert "connection" not in response.headers  # it was promised keep-alive
    assert not response.transport.disconnecting
    # The next request on that connection is told, and the connection closes.
    response.transport.clear()
    response.protocol.dataReceived(HEALTH)  # type: ignore[attr-defined]
    assert Response(response.transport).headers["connection"] == "close"
    assert response.transport.disconnecting


def test_get_streams_are_ended() -> None:
    h = Harness()
    sid = h.initialize()
    other = h.initialize()
    stream = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    assert stream.status == 200 and not stream.complete
    site(h).handOver(30.0)
    assert stream.complete
    session = h.gateway.sessions.get(sid)
    assert session is not None and session.getStream is None  # the session goes on
    assert h.gateway.sessions.get(other) is not None


def test_the_calls_waiting_for_a_persons_yes_are_answered_at_the_hand_over() -> None:
    """A call held for a person's yes would outlive the hand-over's
    deadline, and reach its client as a broken stream: the flow step
    answers each such call now, with its denial."""
    h = Harness()

    class Flow:
        said: list[str] = []

        def endWaits(self, why: str) -> int:
            self.said.append(why)
            return 1

    flow = Flow()
    h.gateway.flow = flow  # type: ignore[assignment]
    site(h).handOver(30.0)
    assert flow.said == ["The gateway restarted before a person decided it"]


def test_the_hand_over_is_done_when_the_connections_are_gone() -> None:
    h = Harness()
    first, _ = connect(h)
    second, _ = connect(h)
    done = fired(site(h).handOver(30.0))
    h.reactor.advance(1.0)
    assert done == []
    first.connectionLost(Failure(ConnectionDone()))
    h.reactor.advance(1.0)
    assert done == []
    second.connectionLost(Failure(ConnectionDone()))
    h.reactor.advance(0.1)
    assert done == [None]


def test_the_hand_over_without_connections_is_done_at_once() -> None:
    h = Harness()
    assert fired(site(h).handOver(30.0)) == [None]


def test_at_the_deadline_the_remaining_connections_are_closed() -> None:
    h = Harness()
    sid = h.initialize()
    closeAll(h)
    busy = call(h, sid)  # a call that does not finish in time
    reading, begun = connect(h)
    with capturedGatewayLogs() as events:
        done = fired(site(h).handOver(5.0))
        h.reactor.advance(1.0)
        reading.dataReceived(b"GET /health HTTP/1.1\r\n")  # a request begun, not done
        h.reactor.advance(3.9)
        assert done == [] and not busy.transport.disconnecting and not begun.disconnecting
        h.reactor.advance(0.2)
    assert done == [None]
    assert busy.transport.disconnecting and begun.disconnecting
    [closing] = [e for e in events if "still open" in (e.get("log_format") or "")]
    assert closing["count"] == 2


def test_an_idle_keep_alive_connection_is_closed_once_silent_for_a_while() -> None:
    """A client's idle keep-alive connection does not hold the hand-over
    (and with it the children) until the deadline: once silent between
    requests for HANDOVER_IDLE seconds, the old process closes it; one that
    carried a request meanwhile is given its time again."""
    h = Harness()
    early, earlyWire = connect(h)
    early.dataReceived(HEALTH)  # a keep-alive connection, idle since
    h.reactor.advance(HANDOVER_IDLE + 1)
    late, lateWire = connect(h)
    h.reactor.advance(HANDOVER_IDLE - 0.5)
    late.dataReceived(HEALTH)  # answered just before the hand-over
    with capturedGatewayLogs() as events:
        done = fired(site(h).handOver(30.0))
        assert earlyWire.disconnecting and not lateWire.disconnecting
        h.reactor.advance(HANDOVER_IDLE - 0.1)
        assert not lateWire.disconnecting
        h.reactor.advance(0.2)
        assert lateWire.disconnecting
    closed = [e for e in events if "idle keep-alive" in (e.get("log_format") or "")]
    assert [e["count"] for e in closed] == [1, 1]
    closeAll(h)
    h.reactor.advance(0.1)
    assert done == [None]


def test_a_get_stream_opened_after_the_hand_over_does_not_hold_it_open() -> None:
    """A client whose GET stream was ended opens it again, maybe on the same
    keep-alive connection, which still reaches this process: that stream
    must end too (the client then opens it at the successor, on a new
    connection), or the predecessor is held until the deadline and the
    successor cannot merge its sessions until then."""
    h = Harness()
    sid = h.initialize()
    closeAll(h)
    stream = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    done = fired(site(h).handOver(30.0))
    assert stream.complete
    # The client reconnects its GET stream over the same connection.
    stream.transport.clear()
    stream.protocol.dataReceived(  # type: ignore[attr-defined]
        b"GET /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1:9100\r\naccept: text/event-stream\r\n"
        b"mcp-session-id: " + sid.encode() + b"\r\n\r\n"
    )
    again = Response(stream.transport)
    assert again.headers.get("connection") == "close"
    assert again.complete and stream.transport.disconnecting
    stream.protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]
    h.reactor.advance(0.1)
    assert done == [None]


def test_a_get_stream_resumed_after_the_hand_over_does_not_hold_it_open() -> None:
    """The same with C{Last-Event-ID} (2025-11-25 streams are resumable):
    the stream the hand-over ended is not resumed here."""
    h = Harness()
    sid = h.initialize()
    closeAll(h)
    stream = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    [eventId] = [
        line[4:] for line in stream.body.split(b"\n") if line.startswith(b"id: ")
    ]  # the priming event
    done = fired(site(h).handOver(30.0))
    stream.transport.clear()
    stream.protocol.dataReceived(  # type: ignore[attr-defined]
        b"GET /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1:9100\r\naccept: text/event-stream\r\n"
        b"mcp-session-id: " + sid.encode() + b"\r\nlast-event-id: " + eventId + b"\r\n\r\n"
    )
    again = Response(stream.transport)
    assert again.status == 200 and again.headers.get("connection") == "close"
    assert again.complete and stream.transport.disconnecting
    stream.protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]
    h.reactor.advance(0.1)
    assert done == [None]

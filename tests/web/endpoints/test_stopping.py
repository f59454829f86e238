"""Session requests once the gateway's stop has begun.

A client's next request on a keep-alive connection, while the gateway drains
or ends its sessions to save them, is answered 503 with C{Retry-After} and
C{Connection: close}, not 404 "Session not found" (which tells a client such
as the Python SDK that its session is gone for good, when it is saved and
goes on in the next gateway process). Requests in flight still drain; a
restart's predecessor handing over (no stop yet) still serves its sessions.

Real Site, fake children, fake clock; no sockets."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.protocol import jsonrpc
from mcpgateway.web.app import GatewaySite
from tests.http import ACCEPT_BOTH, Harness, Response

HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n\r\n"


def raw(method: str, sid: str, body: Any = None) -> bytes:
    data = b"" if body is None else json.dumps(body).encode()
    lines = [
        f"{method} /srv/mcp HTTP/1.1",
        "host: 127.0.0.1:9100",
        f"accept: {ACCEPT_BOTH}",
        "content-type: application/json",
        f"mcp-session-id: {sid}",
        f"content-length: {len(data)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


def toolsList(requestId: Any = 9) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": requestId, "method": "tools/list"}


def keepAlive(h: Harness) -> Response:
    """A connection that served one request and stays open (keep-alive)."""
    response = h.request("GET", "/health")
    assert response.status == 200
    assert not response.transport.disconnecting
    response.transport.clear()
    return response


def again(connection: Response, data: bytes) -> Response:
    connection.transport.clear()
    connection.protocol.dataReceived(data)  # type: ignore[attr-defined]
    return Response(connection.transport)


def callInFlight(h: Harness, sid: str) -> Response:
    response = h.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "slow"}},
        session=sid,
    )
    assert response.transport.value() == b""  # waits for the child
    return response


def answerCall(h: Harness) -> None:
    [sent] = [m for m in h.process().sentMessages() if m.get("method") == "tools/call"][-1:]
    h.process().reply({"jsonrpc": "2.0", "id": sent["id"], "result": {"content": []}})


def assertStopping(response: Response, requestId: Any = None) -> None:
    assert response.status == 503, response.body
    assert response.headers["retry-after"] == "2"
    assert response.headers["connection"] == "close"
    assert response.transport.disconnecting  # the retry goes elsewhere, or later
    body = response.json()
    assert body["id"] == requestId
    assert body["error"]["code"] == jsonrpc.SERVER_UNAVAILABLE
    assert "gateway is stopping" in body["error"]["message"]
    assert "retry" in body["error"]["message"]


def test_after_the_sessions_ended_for_the_stop_a_session_request_is_503_not_404() -> None:
    # The reported path: the call in flight drained, the sessions were
    # saved and ended, the client's next POST on its open connection.
    h = Harness()
    sid = h.initialize()
    connection = keepAlive(h)
    call = callInFlight(h, sid)
    h.gateway.stop()
    answerCall(h)  # the drain ends: the sessions are saved and ended
    assert call.status == 200 and call.events()[-1]["id"] == 7
    assert h.gateway.sessions.get(sid) is None
    assertStopping(again(connection, raw("POST", sid, toolsList())), requestId=9)


def test_during_the_drain_a_new_session_request_is_503_and_the_call_in_flight_finishes() -> None:
    h = Harness()
    sid = h.initialize()
    call = callInFlight(h, sid)
    connection = keepAlive(h)
    stopped = h.gateway.stop()
    assertStopping(again(connection, raw("POST", sid, toolsList(11))), requestId=11)
    # Not forwarded to the child: it would hold the drain up.
    assert [m for m in h.process().sentMessages() if m.get("method") == "tools/list"] == []
    answerCall(h)
    assert call.status == 200 and call.complete
    assert isinstance(stopped, Deferred)


def test_get_and_delete_are_503_once_the_stop_began() -> None:
    h = Harness()
    sid = h.initialize()
    h.gateway.stop()
    assertStopping(h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream"))
    assertStopping(h.request("DELETE", "/srv/mcp", session=sid))


def test_an_unknown_session_is_503_too_once_the_stop_began() -> None:
    # Not looked up at all: no oracle, and the same advice for every client.
    h = Harness()
    h.gateway.stop()
    assertStopping(h.request("POST", "/srv/mcp", toolsList(3), session="never-issued"), 3)


def test_a_request_without_a_session_is_not_concerned() -> None:
    h = Harness()
    h.gateway.stop()
    response = h.request("POST", "/srv/mcp", toolsList())
    assert response.status == 400
    assert "Mcp-Session-Id" in response.json()["error"]["message"]


def test_before_the_stop_a_session_request_is_served_on_a_keep_alive_connection() -> None:
    h = Harness()
    sid = h.initialize()
    connection = keepAlive(h)
    response = again(connection, raw("DELETE", sid))
    assert response.status == 200
    assert "connection" not in response.headers
    assert not response.transport.disconnecting


def test_a_restarts_predecessor_handing_over_still_serves_its_sessions() -> None:
    # Handing over is not stopping: the session is served, and only the
    # connection closes (the client's next request reaches the successor).
    h = Harness()
    sid = h.initialize()
    connection = keepAlive(h)
    site = h.site
    assert isinstance(site, GatewaySite)
    site.handOver(30.0)
    response = again(connection, raw("POST", sid, {"jsonrpc": "2.0", "id": 5, "method": "ping"}))
    assert response.status == 200
    assert response.json() == {"jsonrpc": "2.0", "id": 5, "result": {}}
    assert response.headers["connection"] == "close"
    assert h.gateway.sessions.get(sid) is not None

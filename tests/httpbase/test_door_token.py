"""Where the kernel cannot name a connection's account, the door does not
refuse it at accept, nor let it in open: each of its requests must carry
the owner token (or get 403 naming the header and where the token is, on
every route, before anything is served); the connection is counted per
address. Where the account is named, it decides alone: no token lets
another account in, and the owner's needs none. The refusals are counted by
reason, shown in C{/health}'s C{door} and in C{/metrics}. On both channels;
the kernel is never asked (a fake namer)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from twisted.internet.testing import MemoryReactorClock
from twisted.web.test.requesthelper import DummyRequest

from mcpgateway.httpbase.door import REASONS, Door
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.runtime.ownertoken import HEADER
from mcpgateway.runtime.peeruid import ABSENT, UNTOLD
from mcpgateway.tuned.switch import STOCK, TUNED
from tests.fakes import capturedGatewayLogs
from tests.http import initializeMessage
from tests.support.web.channel_reading import HEALTH
from tests.support.web.door import OWNER, TOKEN, DoorHarness, FakeNamer, answer, connect

BOTH = pytest.mark.parametrize("twisted", [STOCK, TUNED])
ROUTES = [
    HEALTH,
    b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n\r\n",
    b"GET /api/v1/servers HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n\r\n",
    b"POST /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nContent-Type: application/json\r\n"
    b"Accept: application/json, text/event-stream\r\nContent-Length: 2\r\n\r\n{}",
]


def carrying(request: bytes, token: str) -> bytes:
    """C{request} with an owner token header after its request line."""
    line, _, rest = request.partition(b"\r\n")
    return line + b"\r\n" + f"{HEADER}: {token}\r\n".encode() + rest


def refused(out: bytes) -> tuple[bytes, dict[str, Any]]:
    """The status line and JSON body of a response that leaves its
    connection open (the door's refusal of one request)."""
    head, _, body = out.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], json.loads(body)


def counts(**nonzero: int) -> dict[str, int]:
    """Refusals by reason: C{nonzero}'s (C{token_missing}: C{token-missing}), the rest 0."""
    return {reason: nonzero.get(reason.replace("-", "_"), 0) for reason in REASONS}


@BOTH
def test_an_unnamed_connection_is_let_in_and_each_request_needs_the_token(twisted: str) -> None:
    h = DoorHarness(FakeNamer({50000: UNTOLD}), twisted, token=TOKEN)
    with capturedGatewayLogs() as events:
        protocol, transport = connect(h.site)
        assert transport.value() == b"" and not transport.disconnecting
        protocol.dataReceived(HEALTH)
        status, body = refused(transport.value())
        assert status == b"HTTP/1.1 403 Forbidden"
        message = body["error"]["message"]
        assert f"carries no {HEADER} header" in message
        assert "owner.token" in message and "mcpgateway bridge" in message
        assert TOKEN not in message
        transport.clear()
        protocol.dataReceived(carrying(HEALTH, "w" * 43))
        assert "carries a wrong" in refused(transport.value())[1]["error"]["message"]
        transport.clear()
        protocol.dataReceived(carrying(HEALTH, TOKEN))
        assert transport.value().startswith(b"HTTP/1.1 200 OK\r\n")
        assert not transport.disconnecting
    assert h.door.refusals == counts(token_missing=1, token_wrong=1)
    lines = [e for e in events if e.get("log_namespace") == "mcpgateway.httpbase.door.Door"]
    told = [e for e in lines if e["log_level"].name == "info"]
    assert len(told) == 1 and told[0]["header"] == HEADER
    assert [e["what"] for e in lines if e["log_level"].name == "warn"] == [
        f"has no {HEADER} header",
        f"carries an {HEADER} header that is not the owner token",
    ]
    assert all(TOKEN not in repr(e) for e in lines)


@BOTH
@pytest.mark.parametrize("route", range(len(ROUTES)))
def test_no_route_is_served_without_the_token(twisted: str, route: int) -> None:
    h = DoorHarness(FakeNamer({50000: UNTOLD}), twisted, token=TOKEN)
    protocol, transport = connect(h.site)
    protocol.dataReceived(ROUTES[route])
    assert refused(transport.value())[0] == b"HTTP/1.1 403 Forbidden"
    assert h.reactor.processes == []  # nothing reached a server


@BOTH
def test_the_token_opens_the_servers(twisted: str) -> None:
    h = DoorHarness(FakeNamer(default=UNTOLD), twisted, token=TOKEN)
    response = h.request("POST", "/srv/mcp", initializeMessage(), headers={HEADER: TOKEN})
    assert len(h.reactor.processes) == 1  # its child starts; the answer waits for it
    assert response.transport.value() == b""
    assert h.request("POST", "/srv/mcp", initializeMessage()).status == 403
    assert h.request("GET", "/health", headers={HEADER: f"  {TOKEN} "}).status == 200


@BOTH
def test_a_named_account_decides_alone_whatever_token_it_sends(twisted: str) -> None:
    h = DoorHarness(FakeNamer({50000: 1001, 50001: ABSENT}), twisted, token=TOKEN)
    for port in (50000, 50001):
        protocol, transport = connect(h.site, port)
        protocol.dataReceived(carrying(HEALTH, TOKEN))  # never read
        status, body = answer(transport.value())
        assert status == b"HTTP/1.1 403 Forbidden" and transport.disconnecting
        assert "owner token" not in body["error"]["message"]
    assert h.door.refusals == counts(account=1, absent=1)
    protocol, transport = connect(h.site, 50002)  # the owner's: no token needed
    protocol.dataReceived(HEALTH)
    assert transport.value().startswith(b"HTTP/1.1 200 OK\r\n")


def test_without_a_token_an_unnamed_connection_is_refused_at_accept() -> None:
    h = DoorHarness(FakeNamer({50000: UNTOLD}))
    status, body = answer(connect(h.site)[1].value())
    assert status == b"HTTP/1.1 403 Forbidden" and "--auth-tokens" in body["error"]["message"]
    assert h.door.refusals == counts(untold=1) and h.door.refused == 1


def test_a_request_on_a_channel_the_guard_never_saw_needs_the_token() -> None:
    """The root asks the door of every request: one whose channel the
    guard did not mark as its owner's (a wrapper's, a stream's) must carry
    the token, whatever came before."""
    door = Door(MemoryReactorClock(), FakeNamer(), owner=OWNER, token=TOKEN)
    request: Any = DummyRequest([b"health"])
    request.channel = SimpleNamespace(ownerNamed=False)
    assert door.requestRefusal(request) is not None
    request.requestHeaders.setRawHeaders(HEADER.lower().encode(), [TOKEN.encode()])
    assert door.requestRefusal(request) is None
    request.requestHeaders.removeHeader(HEADER.lower().encode())
    request.channel.ownerNamed = True
    assert door.requestRefusal(request) is None
    tokenless = Door(MemoryReactorClock(), FakeNamer(), owner=OWNER)
    request.channel = SimpleNamespace()
    request.requestHeaders.setRawHeaders(HEADER.lower().encode(), [TOKEN.encode()])
    assert tokenless.requestRefusal(request) is not None


@BOTH
def test_unnamed_connections_are_counted_per_address(twisted: str) -> None:
    limits = MessageBounds(maxConnectionsPerPeer=2)
    h = DoorHarness(FakeNamer(default=UNTOLD), twisted, limits=limits, token=TOKEN)
    first, _ = connect(h.site, 50000)
    connect(h.site, 50001)
    crowded = connect(h.site, 50002)[1]
    status, _ = answer(crowded.value())
    assert status == b"HTTP/1.1 503 Service Unavailable"
    assert b"retry-after: 1" in crowded.value()
    guard = h.site.guard
    assert guard.perPeer == {"127.0.0.1": 2} and len(guard.addressed) == 2
    first.connectionLost(None)
    assert guard.perPeer == {"127.0.0.1": 1}
    assert connect(h.site, 50003)[1].value() == b""
    assert guard.clients is not None and guard.clients.perUid == {}


def test_health_and_metrics_count_the_refusals_by_reason() -> None:
    h = DoorHarness(FakeNamer({50001: 1001, 50002: UNTOLD}), token=TOKEN)
    connect(h.site, 50001)
    protocol, _ = connect(h.site, 50002)
    protocol.dataReceived(HEALTH)
    health = h.request("GET", "/health").json()  # from 50000: the owner's
    assert health["door"] == {"refused": counts(account=1, token_missing=1)}
    metrics = h.request("GET", "/metrics").body.decode()
    assert "# TYPE mcpgateway_door_refusals_total counter" in metrics
    assert 'mcpgateway_door_refusals_total{reason="account"} 1' in metrics
    assert 'mcpgateway_door_refusals_total{reason="token-missing"} 1' in metrics
    assert 'mcpgateway_door_refusals_total{reason="token-wrong"} 0' in metrics

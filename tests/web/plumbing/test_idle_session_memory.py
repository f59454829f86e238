"""What an idle session holds (memory per idle session, a session
that initialized and keeps its GET stream open): its GET request lets go of
its headers and its empty body once the head is on the wire, its stream's
disconnect hook is no closure, its subscription set is made only when it
subscribes, the replay store keeps no dict per session, and the sessions
file keeps a digest, not a copy, of what it wrote. Structure only, no size
figures: each test fails if the memory it checks is held again, and checks
that the behaviour stays."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.server import Request

from mcpgateway.core.sessions import Session
from mcpgateway.ops.sessionstore import SessionStore
from mcpgateway.tuned.channel import GatewayChannel
from mcpgateway.web.plumbing.replay import StreamLog
from mcpgateway.web.plumbing.sse import SSEStream, keepAliveFor
from tests.http import Harness, Response


def getStream(h: Harness) -> SSEStream:
    """The one open stream of C{h}: its session's GET stream."""
    (stream,) = keepAliveFor(h.reactor).streams
    assert isinstance(stream, SSEStream)
    return stream


def requestOf(stream: SSEStream) -> Request:
    request = stream._request
    assert request is not None
    return request


def session(h: Harness, sid: str) -> Session:
    found = h.gateway.sessions.get(sid)
    assert found is not None
    return found


def lastId(h: Harness) -> Any:
    """The id of the last message the fake child was sent."""
    return h.process().sentMessages()[-1]["id"]


def cut(response: Response) -> None:
    response.protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]


def test_an_idle_get_streams_request_holds_no_response_headers_or_body() -> None:
    h = Harness()
    sid = h.initialize()
    get = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    assert get.status == 200
    head = get.headers
    assert head["content-type"] == "text/event-stream"
    assert head["cache-control"] == "no-cache" and head["x-accel-buffering"] == "no"
    assert head["transfer-encoding"] == "chunked"
    request = requestOf(getStream(h))
    assert list(request.responseHeaders.getAllRawHeaders()) == []
    assert list(request.requestHeaders.getAllRawHeaders()) == []
    assert request.content is None
    # The stream goes on as before: events, keep-alives, and its end.
    h.process().reply({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    assert [e["method"] for e in get.events()] == ["notifications/tools/list_changed"]
    h.reactor.advance(15)
    assert get.comments() == [b": keep-alive"]
    assert h.request("DELETE", "/srv/mcp", session=sid).status in (200, 204)
    assert get.complete and get.headers == head


def test_idle_get_streams_share_one_empty_set_of_headers() -> None:
    h = Harness()
    for _ in range(2):
        sid = h.initialize()
        h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    one, other = (requestOf(s) for s in keepAliveFor(h.reactor).streams)
    assert one.responseHeaders is other.responseHeaders is one.requestHeaders
    # Set after the head, a header goes nowhere: it could never be sent.
    one.setHeader(b"x-late", b"1")
    one.responseHeaders.addRawHeader(b"x-later", b"2")
    assert list(other.responseHeaders.getAllRawHeaders()) == []
    assert one.getHeader(b"x-late") is None


def test_a_resumed_get_stream_lets_go_of_its_headers_too() -> None:
    h = Harness()
    sid = h.initialize()
    get = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    priming = get.body.split(b"\n")[0].removeprefix(b"id: ").decode()
    cut(get)
    h.process().reply({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    again = h.request(
        "GET",
        "/srv/mcp",
        session=sid,
        accept="text/event-stream",
        headers={"last-event-id": priming},
    )
    assert again.headers["content-type"] == "text/event-stream"
    assert [e["method"] for e in again.events()] == ["notifications/tools/list_changed"]
    request = requestOf(getStream(h))
    assert list(request.responseHeaders.getAllRawHeaders()) == []
    assert request.content is None


def test_a_one_piece_answer_keeps_its_head_as_twisted_writes_it() -> None:
    h = Harness()
    sid = h.initialize()
    answer = h.request(
        "POST", "/srv/mcp", {"jsonrpc": "2.0", "method": "tools/list", "id": 8}, session=sid
    )
    h.process().reply({"jsonrpc": "2.0", "id": lastId(h), "result": {"tools": []}})
    assert answer.complete
    assert answer.headers["content-type"] == "application/json"
    assert "x-accel-buffering" not in answer.headers
    assert int(answer.headers["content-length"]) == len(answer.body)
    assert answer.json() == {"jsonrpc": "2.0", "id": 8, "result": {"tools": []}}


def test_the_disconnect_hook_is_the_streams_own_method() -> None:
    h = Harness()
    sid = h.initialize()
    get = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    stream = getStream(h)
    request = requestOf(stream)
    hook: Any = request.onLost  # type: ignore[attr-defined]
    assert isinstance(hook, types.MethodType) and hook.__self__ is stream
    cut(get)
    # A resumable stream outlives its connection, waiting for a resume.
    assert stream.open and not stream.connected
    assert request.onLost is None  # type: ignore[attr-defined]
    assert session(h, sid).getStream is stream


def test_a_session_makes_its_subscription_set_when_it_subscribes() -> None:
    h = Harness()
    sid = h.initialize(served={"resources": {"subscribe": True}})
    h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    idle = session(h, sid)
    assert idle._subscriptions is None
    assert idle.record()["subscriptions"] == [] and idle._subscriptions is None
    subscribe = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "resources/subscribe",
        "params": {"uri": "file:///a"},
    }
    h.request("POST", "/srv/mcp", subscribe, session=sid)
    h.process().reply({"jsonrpc": "2.0", "id": lastId(h), "result": {}})
    assert idle.subscriptions == {"file:///a"}
    assert idle.record()["subscriptions"] == ["file:///a"]


def test_a_restored_session_without_subscriptions_holds_no_set() -> None:
    original = Session("s" * 32, "srv", "2025-11-25", {}, {}, 1.0)
    restored = Session.fromRecord(original.record())
    assert restored._subscriptions is None and restored.subscriptions == set()
    original.subscriptions.add("file:///a")
    again = Session.fromRecord(original.record())
    assert again.subscriptions == {"file:///a"}
    again.subscriptions.discard("file:///a")
    assert again.record()["subscriptions"] == []


def test_the_sessions_file_keeps_a_digest_not_a_copy(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    store = SessionStore(path)
    records = [Session(f"{n:032d}", "srv", "2025-11-25", {}, {}, 1.0).record() for n in range(50)]
    store.save(records)
    assert store._written is not None and len(store._written) == 32
    store.save(records)
    assert store.writes == 1
    again = SessionStore(path)
    assert len(again.load()) == 50
    assert again._written is not None and len(again._written) == 32
    again.save(records)
    assert again.writes == 0  # what it loaded is what it would write
    again.save(records[:-1])
    assert again.writes == 1


def test_the_replay_store_holds_no_dict_per_session() -> None:
    h = Harness()
    sids = [h.initialize() for _ in range(3)]
    for sid in sids:
        h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    replay = h.site.resource._endpoints["srv"].replay
    assert sorted(log.sessionId for log in replay.logs.values()) == sorted(sids)
    assert all(isinstance(log, StreamLog) for log in replay.logs.values())


def test_a_stream_key_of_another_session_finds_nothing() -> None:
    h = Harness()
    a, b = h.initialize(), h.initialize()
    first = h.request("GET", "/srv/mcp", session=a, accept="text/event-stream")
    h.process().reply({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    cut(first)
    priming = first.body.split(b"\n")[0].removeprefix(b"id: ").decode()
    replay = h.site.resource._endpoints["srv"].replay
    assert replay.find(a, priming) is not None and replay.find(b, priming) is None
    other = h.request(
        "GET", "/srv/mcp", session=b, accept="text/event-stream", headers={"last-event-id": priming}
    )
    assert other.status == 200 and other.events() == []  # a fresh stream of its own
    mine = h.request(
        "GET", "/srv/mcp", session=a, accept="text/event-stream", headers={"last-event-id": priming}
    )
    assert [e["method"] for e in mine.events()] == ["notifications/tools/list_changed"]


class _Stream:
    """A stream double: open until it ends."""

    def __init__(self) -> None:
        self.open = True

    def send(self, message: Any) -> bool:
        return self.open

    def close(self) -> None:
        self.open = False

    def suspend(self) -> None:
        pass


def test_an_ended_get_stream_is_forgotten_unless_replaced() -> None:
    """L{Session.streamEnded}, the close callback a GET stream can be given
    instead of a closure per stream."""
    one = Session("s" * 32, "srv", "2025-11-25", {}, {}, 1.0)
    old, new = _Stream(), _Stream()
    one.getStream = old
    old.close()
    one.getStream = new  # replaced before the old stream's callback ran
    one.streamEnded()
    assert one.getStream is new
    new.close()
    one.streamEnded()
    assert one.getStream is None
    one.streamEnded()  # none: nothing to forget
    assert one.getStream is None


@pytest.mark.usefixtures("tunedChannel")
def test_a_connection_is_its_channel_unless_http2_could_be_negotiated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without h2 installed, Twisted's HTTP/2-switching wrapper would only
    pass every call on, at a few hundred bytes per connection: the site's
    protocol is the channel itself; with h2, the wrapper stays."""
    h = Harness()
    peer = IPv4Address("TCP", "127.0.0.1", 50000)
    monkeypatch.setattr(http, "H2_ENABLED", False)
    plain = h.site.buildProtocol(peer)
    assert type(plain) is not http._GenericHTTPChannelProtocol
    assert isinstance(plain, GatewayChannel) and plain.site is h.site
    assert plain.requestFactory is h.site.requestFactory
    monkeypatch.setattr(http, "H2_ENABLED", True)
    wrapped = h.site.buildProtocol(peer)
    assert isinstance(wrapped, http._GenericHTTPChannelProtocol)
    assert isinstance(wrapped._channel, GatewayChannel)

"""L{mcpgateway.remote.httpsse.HttpSSEChild} (the 2024-11-05 HTTP+SSE
transport) against a fake agent on a L{Clock}: the stream and its
C{endpoint}, messages both ways, the stream's end as the session's."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from twisted.logger import LogEvent

from mcpgateway.core.child import Child
from mcpgateway.core.spec import RemoteEndpoint
from mcpgateway.protocol import jsonrpc
from mcpgateway.remote.httpsse import HttpSSEChild
from tests.http import initializeMessage
from tests.remote.fakehttp import (
    FakeResponse,
    event,
    noFailuresLogged,
    sse,
)
from tests.support.remote.childharness import ChildHarness, assertUnavailableFrom

NAME = "files"
URL = "http://127.0.0.1:9300/sse"
HEADERS = (("X-Api-Key", "k-9"),)
POST_URL = "http://127.0.0.1:9300/messages?session_id=abc"
INIT = initializeMessage("2024-11-05", clientInfo={"name": "c"}, requestId=0)
INIT_RESULT = {
    "jsonrpc": "2.0",
    "id": 0,
    "result": {"protocolVersion": "2024-11-05", "capabilities": {}, "serverInfo": {"name": "f"}},
}


def call(requestId: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": requestId, "method": "tools/call", "params": {"name": "ls"}}


def result(requestId: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": requestId, "result": {"content": []}}


NOTE = {"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info"}}


@pytest.fixture(autouse=True)
def logged() -> Iterator[Sequence[LogEvent]]:
    """Every test fails if the code under test logs a traceback."""
    with noFailuresLogged() as events:
        yield events


class Harness(ChildHarness[HttpSSEChild]):
    """An L{HttpSSEChild} of L{NAME} at L{URL}, its stream's GET made."""

    def __init__(self) -> None:
        super().__init__(HttpSSEChild, NAME, RemoteEndpoint(URL, "sse", HEADERS))
        self.get = self.agent.one(b"GET")

    def openStream(self) -> FakeResponse:
        return self.get.answer(FakeResponse(contentType=b"text/event-stream", stream=True))

    def connected(self, endpoint: bytes = b"/messages?session_id=abc") -> FakeResponse:
        """The stream, open, its endpoint given."""
        stream = self.openStream()
        stream.push(event(endpoint, type=b"endpoint"))
        return stream


def assertUnavailable(message: jsonrpc.Message, requestId: Any, *words: str) -> None:
    assertUnavailableFrom(message, requestId, NAME, URL, *words)


def test_an_sse_child_is_a_child_that_opens_its_stream_at_once() -> None:
    h = Harness()
    child: Child = h.child
    assert child.pid is None and not child.exited
    assert h.get.uri == URL.encode()
    assert h.get.header("accept") == "text/event-stream"
    assert h.get.header("x-api-key") == "k-9"
    assert h.get.header("mcp-session-id") is None


def test_the_endpoint_event_sets_the_post_url_and_flushes_queued_messages() -> None:
    h = Harness()
    h.child.send(INIT)
    h.child.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    stream = h.openStream()
    assert h.agent.take() == []
    stream.push(event(b"/messages?session_id=abc", type=b"endpoint"))
    init, note = h.agent.take()
    assert init.method == note.method == b"POST"
    assert init.uri == note.uri == POST_URL.encode()
    assert [init.json, note.json] == [
        INIT,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ]
    assert init.header("content-type") == "application/json"
    assert init.header("x-api-key") == "k-9"
    # Later messages go straight to the endpoint, once the server took
    # notifications/initialized (what follows it waits until then).
    init.answer(FakeResponse(202))
    h.child.send(call(1))
    assert h.agent.take() == []
    note.answer(FakeResponse(202))
    [later] = h.agent.take()
    assert later.uri == POST_URL.encode() and later.json == call(1)
    assert h.request(call(2)).json == call(2)


def test_an_absolute_endpoint_on_the_same_origin_is_used_as_given() -> None:
    h = Harness()
    h.connected(b"http://127.0.0.1:9300/rpc/xyz")
    assert h.request(call(1)).uri == b"http://127.0.0.1:9300/rpc/xyz"


@pytest.mark.parametrize(
    "endpoint",
    [
        b"http://evil.example/messages",
        b"//evil.example/messages",
        b"https://127.0.0.1:9300/messages",
        b"http://127.0.0.1:9301/messages",
    ],
)
def test_an_endpoint_on_another_origin_ends_the_child(endpoint: bytes) -> None:
    h = Harness()
    h.child.send(call(1))
    stream = h.connected(endpoint)
    assert h.ended()
    assert "another origin" in h.child.howItEnded()
    assert h.agent.take() == []  # nothing was POSTed there
    [error] = h.received()
    assertUnavailable(error, 1, "another origin")
    assert stream.aborted


def test_message_events_are_delivered() -> None:
    h = Harness()
    stream = h.connected()
    h.request(call(1)).answer(FakeResponse(202, b"Accepted"))
    stream.push(sse(NOTE))  # event: message
    stream.push(event(result(1)))  # no event: field, a message too
    stream.push(event(b'{"jsonrpc":"2.0","method":"x"}', type=b"other"))  # not a message
    assert h.received() == [NOTE, result(1)]
    assert h.child.responses == 1
    assert h.stderr == []


def test_the_initialize_answer_gives_the_protocol_version_to_later_posts() -> None:
    h = Harness()
    stream = h.connected()
    h.request(INIT).answer(FakeResponse(202))
    stream.push(sse(INIT_RESULT))
    assert h.received() == [INIT_RESULT]
    assert h.request(call(1)).header("mcp-protocol-version") == "2024-11-05"


def test_the_stream_closing_ends_the_child_and_answers_queued_requests() -> None:
    h = Harness()
    stream = h.openStream()
    h.child.send(call(1))
    h.child.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    h.child.send(call(2))
    stream.end()
    assert h.ended() and h.child.exited
    assert h.child.howItEnded() == "closed its SSE stream"
    errors = h.received()
    assert [e["id"] for e in errors] == [1, 2]
    for error in errors:
        assertUnavailable(error, error["id"], "closed its SSE stream")
    assert h.stderr == [errors[0]["error"]["message"]]
    h.child.send(call(3))
    assert h.agent.take() == [] and h.received() == []


def test_the_stream_dropping_ends_the_child_saying_how() -> None:
    h = Harness()
    stream = h.connected()
    stream.drop()
    assert h.ended()
    assert h.child.howItEnded().startswith("dropped its SSE stream (")


def test_a_stream_refused_ends_the_child() -> None:
    h = Harness()
    h.child.send(call(1))
    h.get.answer(FakeResponse(401, b"who are you"))
    assert h.ended()
    assert "HTTP 401" in h.child.howItEnded()
    [error] = h.received()
    assertUnavailable(error, 1, "HTTP 401")


def test_a_stream_that_is_not_sse_ends_the_child() -> None:
    h = Harness()
    h.get.answer(FakeResponse(200, b"{}"))
    assert h.ended()
    assert "HTTP 200" in h.child.howItEnded()


def test_an_unreachable_server_ends_the_child() -> None:
    h = Harness()
    h.child.send(call(1))
    h.get.refuse()
    assert h.ended()
    assert h.child.howItEnded().startswith("is not reachable (")
    [error] = h.received()
    assertUnavailable(error, 1, "not reachable")


def test_a_non_2xx_post_answers_the_request_with_an_error() -> None:
    h = Harness()
    h.connected()
    answer = h.request(call(1)).answer(FakeResponse(400, b"bad session"))
    assert answer.ended
    [error] = h.received()
    assertUnavailable(error, 1, "HTTP 400: bad session")
    assert not h.child.exited


def test_a_post_that_cannot_be_sent_answers_the_request_with_an_error() -> None:
    h = Harness()
    h.connected()
    h.request(call(1)).refuse()
    [error] = h.received()
    assertUnavailable(error, 1, "not reachable")


def test_a_refused_notification_is_said_and_not_answered() -> None:
    h = Harness()
    h.connected()
    h.request(NOTE).answer(FakeResponse(500))
    assert h.received() == []
    assert len(h.stderr) == 1 and "HTTP 500" in h.stderr[0]


def test_stop_closes_the_stream_and_ends_without_a_delete() -> None:
    h = Harness()
    stream = h.connected()
    stopped: list[object] = []
    h.child.stop().addCallback(stopped.append)
    assert stream.aborted
    assert stopped == [None] and h.ended()
    assert h.child.howItEnded() == "closed by the gateway"
    assert h.agent.take() == []
    assert h.stderr == []


def test_signal_ends_at_once() -> None:
    h = Harness()
    stream = h.connected()
    h.child.signal("KILL")
    assert h.ended() and stream.aborted
    assert h.child.howItEnded() == "closed by the gateway (SIGKILL)"
    assert h.agent.take() == []


def test_a_stream_answered_after_the_end_is_given_up() -> None:
    h = Harness()
    h.child.signal("KILL")
    stream = h.openStream()
    assert stream.aborted

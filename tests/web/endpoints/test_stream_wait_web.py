# -*- test-case-name: tests.web.endpoints.test_stream_wait_web -*-
"""Through the real Site (fake child, fake clock): a child's request to the
one session attached, asked before that session opened its GET stream
(server-everything asks for roots 350 ms after it is initialized, the
Python SDK opens its GET stream a moment after), goes out on the GET stream
when the client opens it, or on the stream of its next request."""

from __future__ import annotations

from typing import Any

from mcpgateway.core.streamwaits import STREAM_WAIT
from tests.http import Harness

ROOTS_LIST = {"jsonrpc": "2.0", "id": 0, "method": "roots/list"}


def answer(h: Harness, sid: str, asked: dict[str, Any]) -> None:
    reply = {"jsonrpc": "2.0", "id": asked["id"], "result": {"roots": [{"uri": "file:///w"}]}}
    assert h.request("POST", "/srv/mcp", reply, session=sid).status == 202


def test_the_roots_request_goes_out_on_the_get_stream_opened_after_it() -> None:
    h = Harness()
    sid = h.initialize(capabilities={"roots": {}})
    h.process().reply(ROOTS_LIST)
    assert "error" not in h.process().sentMessages()[-1]  # no refusal: it waits
    h.reactor.advance(STREAM_WAIT / 10)
    stream = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    assert stream.status == 200
    [asked] = stream.events()
    assert asked["method"] == "roots/list" and asked["id"] != 0
    answer(h, sid, asked)
    assert h.process().sentMessages()[-1] == {
        "jsonrpc": "2.0",
        "id": 0,
        "result": {"roots": [{"uri": "file:///w"}]},
    }


def test_the_roots_request_goes_out_on_the_next_requests_stream() -> None:
    h = Harness()
    sid = h.initialize(capabilities={"roots": {}})
    h.process().reply(ROOTS_LIST)
    post = h.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo"}},
        session=sid,
    )
    [asked] = post.events()
    assert asked["method"] == "roots/list"
    answer(h, sid, asked)
    assert h.process().sentMessages()[-1]["result"] == {"roots": [{"uri": "file:///w"}]}


def test_no_stream_in_time_the_child_gets_the_refusal() -> None:
    h = Harness()
    sid = h.initialize(capabilities={"roots": {}})
    h.process().reply(ROOTS_LIST)
    h.reactor.advance(STREAM_WAIT)
    refusal = h.process().sentMessages()[-1]
    assert refusal["id"] == 0 and refusal["error"]["code"] == -32603
    assert "no open stream to receive it" in refusal["error"]["message"]
    stream = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    assert stream.events() == []

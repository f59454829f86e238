"""A fake HTTP side for the bridge's unit tests: an C{IAgent} that records
each request and lets the test answer it (or fail it) by hand, and responses
whose bodies the test feeds, whole or event by event. No sockets."""

from __future__ import annotations

import json
from typing import Any

from tests.remote.fakehttp import FakeResponse

URL = "http://127.0.0.1:9100/demo/mcp"


def sse(*messages: dict[str, Any], eventId: str | None = None) -> bytes:
    """SSE events carrying C{messages}."""
    out = b""
    for message in messages:
        if eventId is not None:
            out += b"id: " + eventId.encode() + b"\n"
        out += b"event: message\ndata: " + json.dumps(message).encode() + b"\n\n"
    return out


def sseResponse(*messages: dict[str, Any], stream: bool = False, **kw: Any) -> FakeResponse:
    return FakeResponse(200, sse(*messages), contentType=b"text/event-stream", stream=stream, **kw)

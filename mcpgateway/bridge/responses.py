# -*- test-case-name: tests.bridge.test_client -*-
"""Reading the gateway's HTTP answers for the bridge: whole bodies, SSE
streams as their events come, and the JSON-RPC messages in them.

A response is either one JSON body or an SSE stream (MCP Streamable HTTP);
the bridge writes each message to its stdio client as one line, so a
multi-line text is re-encoded and a batch answer split (L{oneLine}).
"""

from __future__ import annotations

from typing import Any

from twisted.web.iweb import IResponse

from mcpgateway.bridge.framing import Outgoing
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Kind
from mcpgateway.remote.sse import SSEParser, isSSE


def messagesOf(response: IResponse, body: bytes) -> list[bytes]:
    """The messages of a whole response body (JSON or SSE)."""
    if isSSE(response):
        return [event.data for event in SSEParser().feed(body + b"\n\n")]
    return [body] if body.strip() else []


def oneLine(data: bytes) -> list[bytes]:
    """C{data} (one JSON text) as stdio lines: a message per line, so a
    multi-line text is re-encoded and an array (a batch answer) split."""
    text = data.strip()
    if text[:1] == b"[" or b"\n" in text or b"\r" in text:
        try:
            value = jsonrpc.loads(text)
        except jsonrpc.ParseError:
            return []
        items = value if isinstance(value, list) else [value]
        return [jsonrpc.dumps(item) for item in items]
    return [text] if text else []


def idOf(data: bytes) -> tuple[bool, Any, Any]:
    """Whether C{data} is a response, its id, and its result."""
    try:
        message = jsonrpc.loads(data)
    except jsonrpc.ParseError:
        return False, None, None
    if jsonrpc.classify(message) is not Kind.RESPONSE:
        return False, None, None
    return True, message.get("id"), message.get("result")


def describe(message: Outgoing) -> str:
    """A request as the log names it: C{tools/call (id 3)}."""
    return f"{message.method} (id {jsonrpc.dumps(message.id).decode('utf-8', 'replace')})"

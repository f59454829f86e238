# -*- test-case-name: tests.bridge.test_framing -*-
"""The bridge's framing, both sides, as pure functions (no Twisted).

stdin: newline-delimited JSON-RPC (the MCP stdio transport). L{LineBuffer}
cuts the byte stream into lines, bounded; L{parseLine} turns one line into
the messages to forward (a batch becomes its elements) or the error to
answer the client with at once (not JSON, not JSON-RPC).

HTTP: L{SSEParser} cuts a C{text/event-stream} body into events (data, id),
incrementally, whatever the chunking.

Lines are forwarded as they came (never re-encoded): ids, progress tokens
and everything else reach the gateway byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Kind

MAX_LINE = 16 * 1024 * 1024
"""The longest stdin line the bridge forwards (bytes); a longer one is
dropped with an error to the client, and the stream stays usable."""


@dataclass(frozen=True)
class Outgoing:
    """One client message to send to the gateway."""

    body: bytes
    kind: Kind
    id: Any = None
    method: str | None = None
    params: Any = None
    """C{params} of an C{initialize} (kept for a re-initialize); else C{None}."""

    @property
    def isRequest(self) -> bool:
        return self.kind is Kind.REQUEST


@dataclass(frozen=True)
class Parsed:
    """What one stdin line says: messages to forward, and answers for the
    client (JSON-RPC errors) for what cannot be forwarded."""

    messages: list[Outgoing] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)


def _validIdOrNull(value: Any) -> Any:
    kind = type(value)
    return value if kind is str or kind is int else None


def _one(message: Any, body: bytes | None) -> Outgoing | bytes:
    kind = jsonrpc.classify(message)
    if kind is Kind.INVALID:
        requestId = _validIdOrNull(message.get("id")) if isinstance(message, dict) else None
        return jsonrpc.dumps(
            jsonrpc.errorResponse(
                requestId, jsonrpc.INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message"
            )
        )
    method = message.get("method")
    params = message.get("params") if method == "initialize" else None
    return Outgoing(
        jsonrpc.dumps(message) if body is None else body,
        kind,
        message.get("id"),
        method,
        params,
    )


def parseLine(line: bytes) -> Parsed:
    """The messages of one stdin line (without its newline). Never raises.

    Blank lines are nothing. A JSON array (a batch, which MCP 2025-06-18
    dropped) is split into its messages, each forwarded alone."""
    if not line.strip():
        return Parsed()
    try:
        value = jsonrpc.loads(line)
    except jsonrpc.ParseError as e:
        error = jsonrpc.errorResponse(None, jsonrpc.PARSE_ERROR, f"Parse error: {e}")
        return Parsed(answers=[jsonrpc.dumps(error)])
    parsed = Parsed()
    if isinstance(value, list):
        if not value:
            error = jsonrpc.errorResponse(None, jsonrpc.INVALID_REQUEST, "Invalid Request: []")
            parsed.answers.append(jsonrpc.dumps(error))
        items: list[tuple[Any, bytes | None]] = [(item, None) for item in value]
    else:
        items = [(value, line.strip())]
    for item, body in items:
        one = _one(item, body)
        if isinstance(one, bytes):
            parsed.answers.append(one)
        else:
            parsed.messages.append(one)
    return parsed


class LineBuffer:
    """Cuts bytes into C{\\n}-terminated lines (a trailing C{\\r} is dropped).

    A line longer than C{maxLine} is skipped up to its newline; L{feed}
    reports it as C{None} in its place, so the caller can tell the client."""

    def __init__(self, maxLine: int = MAX_LINE) -> None:
        self._buffer = b""
        self._maxLine = maxLine
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes | None]:
        """The complete lines C{data} ends (C{None} for an overlong one)."""
        buffer = self._buffer + data if self._buffer else data
        lines: list[bytes | None] = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            if self._skipping:
                self._skipping = False
                lines.append(None)
            elif end - start > self._maxLine:
                lines.append(None)
            else:
                line = buffer[start:end]
                lines.append(line[:-1] if line.endswith(b"\r") else line)
            start = end + 1
        rest = buffer[start:]
        if len(rest) > self._maxLine:
            self._skipping = True
            rest = b""
        elif self._skipping:
            rest = b""
        self._buffer = rest
        return lines

    @property
    def pending(self) -> bytes:
        """What was fed after the last newline (an unterminated last line)."""
        return self._buffer

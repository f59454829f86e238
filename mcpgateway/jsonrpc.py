"""The JSON-RPC 2.0 message model: parse, classify, build.

The only module that knows the shape of a JSON-RPC message. Messages are plain
C{dict}s (parsed once, never re-validated downstream); this module says what a
message is and builds the error objects the gateway sends.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

Message = dict[str, Any]
"""One decoded JSON-RPC message."""

# Standard JSON-RPC error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# Implementation-defined server errors used by the gateway (-32000 to -32099).
SERVER_UNAVAILABLE = -32000
REQUEST_TIMEOUT = -32001
CHILD_EXITED = -32002

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_decoder = json.JSONDecoder()


class Kind(Enum):
    """What a single JSON-RPC message is."""

    REQUEST = "request"
    NOTIFICATION = "notification"
    RESPONSE = "response"
    INVALID = "invalid"


class ParseError(ValueError):
    """The bytes are not JSON. C{position} is the character offset of the error."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


def dumps(message: Any) -> bytes:
    """Encode C{message} as compact one-line UTF-8 JSON (no raw newlines)."""
    return _encoder.encode(message).encode("utf-8")


def loads(data: bytes | str) -> Any:
    """Decode JSON text, raising L{ParseError} with a position on failure."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return _decoder.decode(text)
    except UnicodeDecodeError as e:
        raise ParseError(f"invalid UTF-8: {e.reason}", e.start) from None
    except json.JSONDecodeError as e:
        raise ParseError(f"{e.msg} (line {e.lineno} column {e.colno})", e.pos) from None


def classify(message: Any) -> Kind:
    """Say whether C{message} is a request, notification, response, or invalid."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return Kind.INVALID
    method = message.get("method")
    if method is not None:
        if not isinstance(method, str):
            return Kind.INVALID
        if "id" not in message:
            return Kind.NOTIFICATION
        return Kind.REQUEST if _validId(message["id"]) else Kind.INVALID
    if "id" in message and ("result" in message or "error" in message):
        return Kind.RESPONSE
    return Kind.INVALID


def _validId(value: Any) -> bool:
    # JSON-RPC allows string, number or null; MCP forbids null for requests.
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def errorResponse(
    requestId: Any, code: int, message: str, data: Any = None
) -> Message:
    """Build a JSON-RPC error response."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": requestId, "error": error}


def resultResponse(requestId: Any, result: Any) -> Message:
    """Build a JSON-RPC success response."""
    return {"jsonrpc": "2.0", "id": requestId, "result": result}


def notification(method: str, params: dict[str, Any] | None = None) -> Message:
    """Build a JSON-RPC notification."""
    message: Message = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def request(requestId: Any, method: str, params: dict[str, Any] | None = None) -> Message:
    """Build a JSON-RPC request."""
    message: Message = {"jsonrpc": "2.0", "id": requestId, "method": method}
    if params is not None:
        message["params"] = params
    return message


def progressToken(message: Message) -> Any:
    """Return C{params._meta.progressToken} of a request, or C{None}."""
    params = message.get("params")
    if isinstance(params, dict):
        meta = params.get("_meta")
        if isinstance(meta, dict):
            return meta.get("progressToken")
    return None


def withProgressToken(message: Message, token: Any) -> Message:
    """Return a shallow copy of C{message} whose C{_meta.progressToken} is C{token}."""
    params = dict(message["params"])
    meta = dict(params["_meta"])
    meta["progressToken"] = token
    params["_meta"] = meta
    return {**message, "params": params}

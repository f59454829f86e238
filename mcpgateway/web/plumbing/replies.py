# -*- test-case-name: tests.web.endpoints.test_mcp,tests.web.endpoints.test_web_answers -*-
"""How the gateway's HTTP endpoints answer: a JSON body with its status (the
reason phrases Twisted does not know included), a JSON-RPC error as an HTTP
error, a bare 202. What they refuse is logged by
L{mcpgateway.httpbase.clienterrors.ClientErrors}.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from twisted.web.iweb import IRequest

from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message

if TYPE_CHECKING:
    pass  # cryptography: clustered gateways only


_JSON = b"application/json"

PHRASES = {421: b"Misdirected Request", 429: b"Too Many Requests"}
"""Reason phrases Twisted does not know (it would write C{Unknown Status})."""


def jsonReply(request: IRequest, status: int, message: Any) -> bytes:
    """Set C{status} and a JSON content type; return the encoded body."""
    request.setResponseCode(status, PHRASES.get(status))
    request.setHeader(b"content-type", _JSON)
    return jsonrpc.dumps(message)


def errorReply(
    request: IRequest, status: int, code: int, text: str, requestId: Any = None
) -> bytes:
    """An HTTP error whose body is a JSON-RPC error."""
    return jsonReply(request, status, jsonrpc.errorResponse(requestId, code, text))


def accepted(request: IRequest) -> bytes:
    """202 with an empty body: for notifications and responses."""
    request.setResponseCode(202)
    return b""


def validIdOrNull(value: Any) -> Any:
    """C{value} when it may stand as the id of an error response, else
    C{None} (JSON-RPC: the id is null when it could not be read)."""
    kind = type(value)
    if kind is str or kind is int or (kind is float and math.isfinite(value)):
        return value
    return None


def internalErrorReply(request: IRequest) -> bytes:
    return errorReply(
        request, 500, jsonrpc.INTERNAL_ERROR, "internal error in the gateway; see its log"
    )


def internalError(requestId: Any) -> Message:
    return jsonrpc.errorResponse(
        requestId, jsonrpc.INTERNAL_ERROR, "internal error in the gateway; see its log"
    )

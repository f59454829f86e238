# -*- test-case-name: tests.web.endpoints.test_endpoint_parts,tests.web.endpoints.test_mcp -*-
"""How the MCP endpoint answers what a client sent that can never succeed.

One job: the answer is given at once, with the HTTP status and the
JSON-RPC error the specification names (or in-band, as the JSON-RPC error
of the request), noted once in the endpoint's L{ClientErrors} (one warning
line, never a traceback) and settled on the request's L{AuditNote}.
"""

from __future__ import annotations

from typing import Any

from twisted.web.iweb import IRequest

from mcpgateway.httpbase.clienterrors import ClientErrors
from mcpgateway.protocol import envelope, jsonrpc, versions
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.web.plumbing.replies import errorReply, jsonReply, validIdOrNull
from mcpgateway.web.plumbing.requestcontext import contextOf


class EndpointRefusals:
    """The client errors of one MCP endpoint, answered and noted."""

    def __init__(self, clientErrors: ClientErrors) -> None:
        """
        @param clientErrors: where each refusal is noted (one log line).
        """
        self._clientErrors = clientErrors

    def refuse(
        self,
        request: IRequest,
        status: int,
        code: int,
        text: str,
        requestId: Any = None,
        ordinary: bool = False,
    ) -> bytes:
        """Answer a client error (HTTP C{status}, JSON-RPC C{code}); one log
        line (C{ordinary}: at C{info}, L{ClientErrors.note})."""
        self._clientErrors.note(request, status, text, ordinary)
        note = contextOf(request).auditNote
        if note is not None:
            note.settle("invalid", code)
        return errorReply(request, status, code, text, requestId)

    def inBand(self, request: IRequest, message: Message, code: int, text: str) -> bytes:
        """Answer a request that can never succeed with its JSON-RPC error, at once."""
        self._clientErrors.note(request, 200, text)
        note = contextOf(request).auditNote
        if note is not None:
            note.settle("error", code)
        return jsonReply(request, 200, jsonrpc.errorResponse(message["id"], code, text))


SUPPORTED = ", ".join(versions.HANDSHAKE_VERSIONS)


def unsupportedVersion(version: str) -> str:
    """The refusal of an C{MCP-Protocol-Version} the gateway does not serve
    (the client's value, then the revisions it does serve)."""
    return (
        f"Bad Request: unsupported MCP-Protocol-Version {envelope.shown(version)};"
        f" supported: {SUPPORTED} (after initialize), and"
        f" {', '.join(versions.ERA2026_VERSIONS)} (per request, with the _meta envelope)"
    )


def refusalId(payload: Any) -> Any:
    """The id a refusal of the POSTed C{payload} carries: a request's id
    (C{validIdOrNull}), C{None} for a notification, a batch or no body."""
    if isinstance(payload, dict) and "method" in payload:
        return validIdOrNull(payload.get("id"))
    return None

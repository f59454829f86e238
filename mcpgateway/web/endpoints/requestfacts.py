# -*- test-case-name: tests.web.endpoints.test_mcp -*-
"""What the MCP endpoint reads off a request, and how it names what it
answers: the refusal of an unsupported
C{MCP-Protocol-Version}, the id a refusal carries, a session's short
name, a client's pid and loopback connection, and the internal error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.web.iweb import IRequest
from twisted.web.server import Request

from mcpgateway.core.sessions import Session
from mcpgateway.protocol import envelope, jsonrpc, versions
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime.addresses import isLoopbackHost
from mcpgateway.web.endpoints.guard import header

if TYPE_CHECKING:
    pass  # cryptography: clustered gateways only
from mcpgateway.web.plumbing.replies import errorReply, validIdOrNull

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


def shortName(session: Session) -> str:
    """How logs and the audit name a session (never its whole id)."""
    short = getattr(session, "shortId", None)
    return short if isinstance(short, str) else session.id[:8]


def era2026Header(request: Request) -> bool:
    """Whether C{MCP-Protocol-Version} names a revision outside the handshake era."""
    version = header(request, "mcp-protocol-version")
    return version is not None and version not in versions.HANDSHAKE_VERSIONS


def internalErrorReply(request: IRequest) -> bytes:
    return errorReply(
        request, 500, jsonrpc.INTERNAL_ERROR, "internal error in the gateway; see its log"
    )


def internalError(requestId: Any) -> Message:
    return jsonrpc.errorResponse(
        requestId, jsonrpc.INTERNAL_ERROR, "internal error in the gateway; see its log"
    )


def headerPid(request: Request) -> int | None:
    """The C{X-Client-Pid} header, when it is a plausible pid. Not asked
    on an authenticated request: its client may run on another machine,
    where its pid names nothing on the gateway's host."""
    value = header(request, "x-client-pid")
    value = value.strip() if value is not None else ""
    if not (value.isascii() and value.isdigit() and len(value) <= 10):
        return None
    pid = int(value)
    return pid if 0 < pid < 2**31 else None


def loopbackConnection(request: Request) -> tuple[str, int, str, int] | None:
    """(peer host, peer port, local host, local port) of a loopback TCP request."""
    peer, local = request.getClientAddress(), request.getHost()
    tcp = (IPv4Address, IPv6Address)
    if isinstance(peer, tcp) and isinstance(local, tcp) and isLoopbackHost(peer.host):
        return peer.host, peer.port, local.host, local.port
    return None


def watchDisconnect(request: Request) -> list[bool]:
    """A list that becomes truthy when the client goes away before the answer."""
    gone: list[bool] = []
    request.notifyFinish().addErrback(lambda _: gone.append(True))
    return gone

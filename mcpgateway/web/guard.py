# -*- test-case-name: tests.web.test_mcp -*-
"""Checks every MCP request passes before it reaches a session.

DNS-rebinding protection (C{Origin} must be loopback; so must C{Host} when
the gateway is bound to loopback and asks no token, L{checkOrigin}), and the
C{Accept} and C{Content-Type} rules of the Streamable HTTP transport. Each
check returns C{None} when the request passes, else the HTTP status and the
reason.

And who may read what a child wrote (L{showsChildText}): C{/health} and the
MCP endpoints ask the same question of the same caller; L{forCaller} is how
an answer reads to one who may not.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit

from twisted.web.iweb import IRequest

from mcpgateway import jsonrpc
from mcpgateway.auth.principal import Principal
from mcpgateway.core.catalog import publicReason
from mcpgateway.jsonrpc import Message

LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})

Refusal = tuple[int, str]


_NAMES: dict[str, bytes] = {}
"""Header names as bytes, encoded once (callers pass the code's constants)."""


def header(request: IRequest, name: str) -> str | None:
    """A request header as text (its last value, as C{getHeader} gives);
    any bytes decode (Latin-1), so a malformed header can fail a check but
    never the request handling."""
    key = _NAMES.get(name)
    if key is None:
        key = name.encode("ascii")
        if len(_NAMES) < 256:
            _NAMES[name] = key
    values = request.requestHeaders.getRawHeaders(key)
    return None if values is None else values[-1].decode("latin-1")


@lru_cache(maxsize=512)
def isLoopbackHost(host: str) -> bool:
    """Whether C{host} (a name or address, IPv6 without brackets) is loopback."""
    host = host.lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def showsChildText(loopbackOnly: bool, verdict: object, request: IRequest) -> bool:
    """Whether C{request}'s caller may be shown text a child wrote (its
    stderr), launch paths and commands (docs/team.md): every caller of a
    gateway bound to loopback only whose C{Host} is a loopback name (or
    absent); anyone else (a gateway reachable from other machines, or a
    same-host proxy's caller, whose public C{Host} L{checkOrigin} lets
    through when tokens are required) an admin principal only.
    C{verdict}: the gate's verdict on the caller's token (a L{Principal}, a
    refusal, or C{None} without a token or a gate)."""
    if loopbackOnly:
        host = header(request, "host")
        if host is None or isLoopbackHost(_hostOf(host)):
            return True
    return isinstance(verdict, Principal) and verdict.admin


STDERR_MARK = "; last stderr: "
"""How the gateway's own words about a child's exit introduce what it wrote."""


def forCaller(response: Message, shown: bool) -> Message:
    """C{response} as its caller may read it: itself when C{shown}
    (L{showsChildText}); else an error of the gateway's that quotes what a
    child wrote (a C{-32003}: the child exited while the request waited;
    any error naming its L{STDERR_MARK}, as the aggregate's C{-32000} "did
    not start a session: ...") is given in the gateway's own words only
    (L{publicReason}). A child's own errors are left as they are."""
    error = response.get("error")
    if shown or type(error) is not dict:
        return response
    text = error.get("message")
    if not isinstance(text, str):
        return response
    if error.get("code") != jsonrpc.CHILD_EXITED and STDERR_MARK not in text:
        return response
    return {**response, "error": {**error, "message": publicReason(text)}}


def _hostOf(hostHeader: str) -> str:
    """The host part of a C{Host} header value (no port, no brackets)."""
    if hostHeader.startswith("["):
        return hostHeader[1:].split("]", 1)[0]
    return hostHeader.rsplit(":", 1)[0] if hostHeader.count(":") == 1 else hostHeader


def checkOrigin(
    request: IRequest, loopbackOnly: bool, tokensRequired: bool = False
) -> Refusal | None:
    """A browser page from elsewhere must not reach the gateway: a present
    C{Origin} must be loopback; so must C{Host} when bound to loopback,
    unless the gateway requires a bearer token (C{tokensRequired}: static
    tokens or OAuth). DNS rebinding borrows ambient authority (the
    browser's loopback reach); a rebinding page has no token to send, and
    what the gateway shows without one (C{/health}) it shows a caller whose
    C{Host} is not loopback as to one from another machine
    (L{showsChildText}). So a same-host reverse proxy that forwards the
    public C{Host} is served."""
    origin = header(request, "origin")
    if origin is not None:
        try:
            host = urlsplit(origin).hostname
        except ValueError:
            host = None
        if host is None or not isLoopbackHost(host):
            return 403, (
                f"Origin {origin!r} is not allowed: only loopback origins may call this gateway"
            )
    hostHeader = header(request, "host")
    if (
        loopbackOnly
        and not tokensRequired
        and hostHeader is not None
        and not isLoopbackHost(_hostOf(hostHeader))
    ):
        return 421, f"Host {hostHeader!r} is not allowed: this gateway answers loopback names only"
    return None


def _mediaTypes(header: str | None) -> frozenset[str]:
    if not header:
        return frozenset()
    return frozenset(part.split(";", 1)[0].strip().lower() for part in header.split(","))


@lru_cache(maxsize=256)
def _postRefusal(accept: str | None, contentType: str | None) -> Refusal | None:
    """The verdict for one (Accept, Content-Type) pair: clients repeat theirs."""
    accepted = _mediaTypes(accept)
    if "*/*" not in accepted and not (
        ("application/json" in accepted or "application/*" in accepted)
        and ("text/event-stream" in accepted or "text/*" in accepted)
    ):
        return 406, "Accept must list both application/json and text/event-stream"
    if "application/json" not in _mediaTypes(contentType):
        return 415, "Content-Type must be application/json"
    return None


def checkPostHeaders(request: IRequest) -> Refusal | None:
    """POST must accept JSON and SSE, and carry JSON."""
    return _postRefusal(header(request, "accept"), header(request, "content-type"))


def checkGetHeaders(request: IRequest) -> Refusal | None:
    """GET opens an SSE stream, so the client must accept one."""
    accept = _mediaTypes(header(request, "accept"))
    if not accept & {"text/event-stream", "text/*", "*/*"}:
        return 406, "Accept must list text/event-stream"
    return None

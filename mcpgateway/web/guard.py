# -*- test-case-name: tests.web.test_mcp -*-
"""Checks every MCP request passes before it reaches a session.

DNS-rebinding protection (C{Origin} and C{Host} must be loopback when the
gateway is bound to loopback), and the C{Accept} and C{Content-Type} rules of
the Streamable HTTP transport. Each check returns C{None} when the request
passes, else the HTTP status and the reason.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit

from twisted.web.iweb import IRequest

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


def _hostOf(hostHeader: str) -> str:
    """The host part of a C{Host} header value (no port, no brackets)."""
    if hostHeader.startswith("["):
        return hostHeader[1:].split("]", 1)[0]
    return hostHeader.rsplit(":", 1)[0] if hostHeader.count(":") == 1 else hostHeader


def checkOrigin(request: IRequest, loopbackOnly: bool) -> Refusal | None:
    """A browser page from elsewhere must not reach the gateway: a present
    C{Origin} must be loopback; so must C{Host} when bound to loopback."""
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
    if loopbackOnly and hostHeader is not None and not isLoopbackHost(_hostOf(hostHeader)):
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

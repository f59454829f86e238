# -*- test-case-name: tests.web.endpoints.test_mcp -*-
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

from functools import lru_cache
from urllib.parse import urlsplit

from twisted.web.iweb import IRequest

from mcpgateway.core.catalogdata import publicReason
from mcpgateway.httpbase.principal import Principal
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime.addresses import isLoopbackHost

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


def showsChildText(loopbackOnly: bool, verdict: object, request: IRequest) -> bool:
    """Whether C{request}'s caller may be shown text a child wrote (its
    stderr), launch paths and commands (docs/guide/team.md): every caller of a
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
    headers = request.requestHeaders
    origins = headers.getRawHeaders(b"origin")
    hosts = headers.getRawHeaders(b"host")
    origin = None if origins is None else origins[-1]
    host = None if hosts is None else hosts[-1]
    if len(origin or b"") + len(host or b"") > _CACHED_BYTES:
        return _originRefusal.__wrapped__(origin, host, loopbackOnly, tokensRequired)
    return _originRefusal(origin, host, loopbackOnly, tokensRequired)


_CACHED_BYTES = 512
"""Verdicts on longer C{Origin} and C{Host} values are not kept (a client
could fill the cache with 16 KiB headers)."""


@lru_cache(maxsize=256)
def _originRefusal(
    originBytes: bytes | None, hostBytes: bytes | None, loopbackOnly: bool, tokensRequired: bool
) -> Refusal | None:
    """L{checkOrigin}'s verdict on the last C{Origin} and C{Host} values (as
    C{header} reads them): a client sends the same ones with every request."""
    if originBytes is not None:
        origin = originBytes.decode("latin-1")
        host = _originHost(origin)
        if host is None or not isLoopbackHost(host):
            return 403, (
                f"Origin {origin!r} is not allowed: only loopback origins may call this gateway"
            )
    if loopbackOnly and not tokensRequired and hostBytes is not None:
        hostHeader = hostBytes.decode("latin-1")
        if not isLoopbackHost(_hostOf(hostHeader)):
            return 421, (
                f"Host {hostHeader!r} is not allowed: this gateway answers loopback names only"
            )
    return None


def _originHost(origin: str) -> str | None:
    """The host of C{origin} when it is one as a browser serializes it
    (C{scheme://host[:port]}: no user, no path, a numeric port); else
    C{None} (refused: C{http://127.0.0.1:80x}, C{http://user@127.0.0.1} are
    no origin a page has)."""
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 (a port that is no number raises)
    except ValueError:
        return None
    if "@" in parts.netloc or parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return parts.hostname


def _parameters(text: str) -> dict[str, str]:
    """The C{;name=value} parameters after a media type (names in lower
    case, quotes taken off values); malformed ones are left out."""
    out: dict[str, str] = {}
    for part in text.split(";")[1:]:
        name, equals, value = part.partition("=")
        if equals:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            out.setdefault(name.strip().lower(), value)
    return out


def _accepts(accept: str | None, mediaType: str) -> bool:
    """Whether an C{Accept} header accepts C{mediaType} (RFC 9110 §12.5.1):
    the most specific range that matches it decides, and C{q=0} means "not
    acceptable"."""
    if not accept:
        return False
    kind = mediaType.split("/", 1)[0] + "/*"
    best = -1
    acceptable = False
    for entry in accept.split(","):
        range_ = entry.split(";", 1)[0].strip().lower()
        rank = 2 if range_ == mediaType else 1 if range_ == kind else 0 if range_ == "*/*" else -1
        if rank > best:
            q = _parameters(entry).get("q", "1")
            try:
                acceptable = float(q) > 0
            except ValueError:
                acceptable = True  # a malformed weight: the range is still listed
            best = rank
    return acceptable


def _contentTypeRefusal(contentType: str | None) -> str | None:
    """Why a POST's C{Content-Type} is refused: one media type,
    C{application/json}, with no C{charset} but UTF-8 (RFC 8259 §8.1)."""
    if not contentType:
        return "Content-Type must be application/json"
    if contentType.split(";", 1)[0].strip().lower() != "application/json":
        return "Content-Type must be application/json"
    charset = _parameters(contentType).get("charset")
    if charset is not None and charset.lower() not in ("utf-8", "utf8"):
        return f"Content-Type's charset must be utf-8, not {charset[:40]!r}"
    return None


@lru_cache(maxsize=256)
def _postRefusal(
    accept: str | None, contentType: str | None, encoding: str | None
) -> Refusal | None:
    """The verdict for one (Accept, Content-Type, Content-Encoding):
    clients repeat theirs."""
    if not (_accepts(accept, "application/json") and _accepts(accept, "text/event-stream")):
        return 406, "Accept must list both application/json and text/event-stream"
    reason = _contentTypeRefusal(contentType)
    if reason is not None:
        return 415, reason
    if encoding is not None and any(
        coding.strip().lower() not in ("identity", "") for coding in encoding.split(",")
    ):
        return 415, (
            f"Content-Encoding {encoding[:40]!r} is not supported: send the body"
            " without a content coding (identity)"
        )
    return None


def checkPostHeaders(request: IRequest) -> Refusal | None:
    """POST must accept JSON and SSE, and carry JSON (UTF-8, no content coding)."""
    codings = request.requestHeaders.getRawHeaders(b"content-encoding")
    return _postRefusal(
        header(request, "accept"),
        header(request, "content-type"),
        None if codings is None else b",".join(codings).decode("latin-1"),
    )


@lru_cache(maxsize=64)
def _getRefusal(accept: str | None) -> Refusal | None:
    if not _accepts(accept, "text/event-stream"):
        return 406, "Accept must list text/event-stream"
    return None


def checkGetHeaders(request: IRequest) -> Refusal | None:
    """GET opens an SSE stream, so the client must accept one."""
    return _getRefusal(header(request, "accept"))

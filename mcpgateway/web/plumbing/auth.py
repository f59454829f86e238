# -*- test-case-name: tests.web.plumbing.test_auth_gate -*-
"""The HTTP side of authentication: who is calling, and how a refusal reads.

L{AuthGate.check} takes the bearer token from the one C{Authorization}
header (at most 8 KB; two such headers, or an C{access_token} in the query,
are 400 C{invalid_request}: RFC 6750 §2.3 tokens in URLs end up in logs)
and asks the authenticator (static tokens or JWTs) for a verdict, at once
or later. With no authenticator every caller is
L{mcpgateway.httpbase.principal.ANONYMOUS} (loopback without authentication).
A principal that may not use the requested server is refused 403
C{insufficient_scope} naming C{mcp:<server>}; that refusal carries the
principal, and L{AuthGate.refuse} sets it on the request, so the audit
record of a 403 says who was refused. A token presented but not accepted
is 401 C{invalid_token} ("the bearer token was refused"), told apart from no
token at all (401 without C{error}, RFC 6750 §3.1).

L{AuthGate.refuse} writes a refusal: its status, the C{WWW-Authenticate}
challenge (with C{resource_metadata} under OAuth, C{realm} with static
tokens), C{Retry-After} (429, 503) and a JSON-RPC error body; its status
line has a reason phrase even where Twisted knows none (421, 429).
L{AuthGate.metadata} serves C{/.well-known/oauth-protected-resource} and
its per-endpoint forms (RFC 9728), open to all. The token is never logged,
stored or passed on; refusals are counted by status and reason.

L{AuthGate.hold} keeps what a credential let in, still open once rendered,
no longer than the credential: an authenticator whose credentials can be
revoked or expire (L{mcpgateway.web.plumbing.holds.Standing}) gets the
gate's L{CredentialHolds}, which ends those requests when it ends.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource

from mcpgateway.auth.metadata import (
    WELL_KNOWN,
    challenge,
    metadataUrl,
    protectedResource,
    resourcePath,
    serverScope,
)
from mcpgateway.httpbase.principal import ANONYMOUS, Authenticator, Principal, Refusal, Verdict
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs
from mcpgateway.web.plumbing.holds import CredentialHolds, Standing
from mcpgateway.web.plumbing.requestcontext import contextOf

MAX_AUTHORIZATION = 8192
"""Bytes of an C{Authorization} header at most."""

_BEARER = re.compile(rb"[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*) *\Z")
_SCHEME = re.compile(rb"[Bb][Ee][Aa][Rr][Ee][Rr](?: |\Z)")
_ENDPOINT = re.compile(r"/[^/]+/mcp\Z")

MISSING = Refusal(401, None, "this gateway needs a bearer token (Authorization: Bearer ...)")
TWO_HEADERS = Refusal(400, "invalid_request", "send one Authorization header")
TOO_LONG = Refusal(
    400, "invalid_request", f"the Authorization header exceeds {MAX_AUTHORIZATION} bytes"
)
MALFORMED = Refusal(400, "invalid_request", "the Authorization header is not Bearer <token>")
IN_QUERY = Refusal(
    400, "invalid_request", "send the token in the Authorization header, not in the URL"
)
FAILED = Refusal(503, None, "the token could not be checked", retryAfter=5.0)

PHRASES = {
    421: b"Misdirected Request",
    429: b"Too Many Requests",
}
"""Reason phrases Twisted lacks (it writes C{Unknown Status} for these)."""


def setStatus(request: IRequest, status: int) -> None:
    """Set C{status} with its reason phrase (one of L{PHRASES}, else Twisted's)."""
    request.setResponseCode(status, PHRASES.get(status))


def reasonOf(refusal: Refusal) -> str:
    """The bounded label a refusal is counted under."""
    if refusal.error is not None:
        return refusal.error
    return "missing" if refusal.status == 401 else "unavailable"


class AuthGate:
    """Authentication in front of the MCP routes and the management routes."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        authenticator: Authenticator | None,
        clock: IReactorTime,
        resource: str | None,
        issuer: str | None,
        scopes: Callable[[], Sequence[str]],
        realm: str = "mcpgateway",
    ) -> None:
        """
        @param resource: the gateway's canonical URI (OAuth; C{None}: static tokens).
        @param issuer: the OAuth issuer (C{None}: static tokens, no metadata).
        @param scopes: the scopes the metadata lists (C{mcp:admin}, C{mcp:<server>}...).
        """
        self.authenticator = authenticator
        self._clock = clock
        self.resource = resource
        self.issuer = issuer
        self._scopes = scopes
        self.realm = realm
        self.refusals: Counter[tuple[int, str]] = Counter()
        self.onToken: Callable[[Principal, str], None] | None = None
        """Told of each accepted token and its principal (the tokens the
        gateway may trade for a remote server's, RFC 8693); never logged."""
        self.adminOnly: frozenset[str] = frozenset()
        """Servers only admin principals may list or call (C{--self-service}'s
        C{gateway}): withheld from every other principal."""
        self.holds: CredentialHolds | None = None
        """The requests still open that each credential let in, ended when
        it ends (C{None}: the authenticator's credentials never end)."""
        if isinstance(authenticator, Standing):
            self.holds = CredentialHolds(authenticator, clock)

    @property
    def enabled(self) -> bool:
        return self.authenticator is not None

    def check(self, request: IRequest, server: str | None) -> Verdict | Deferred[Verdict]:
        """The verdict on C{request} for C{server} (C{None}: the management
        routes): a principal, a refusal, or a Deferred of either."""
        authenticator = self.authenticator
        if authenticator is None:
            return ANONYMOUS
        early = self._bearer(request)
        if isinstance(early, Refusal):
            return self._refused(early)
        endpoint = ""
        if server is not None:
            path = request.path.split(b"?", 1)[0].decode("utf-8", "replace")
            endpoint = path if _ENDPOINT.match(path) else f"/{server}/mcp"
        try:
            verdict = authenticator.authenticate(early, endpoint)
        except Exception:
            return self._failed(Failure())
        if isinstance(verdict, Deferred):
            return verdict.addCallbacks(self._decided, self._failed, callbackArgs=(server, early))
        return self._decided(verdict, server, early)

    def _bearer(self, request: IRequest) -> str | Refusal:
        """The token of C{request}, or why there is none to check."""
        if b"access_token" in request.uri and _queryToken(request.uri):
            return IN_QUERY
        values = request.requestHeaders.getRawHeaders(b"authorization")
        if not values:
            return MISSING
        if len(values) > 1:
            return TWO_HEADERS
        value = values[0]
        if len(value) > MAX_AUTHORIZATION:
            return TOO_LONG
        if _SCHEME.match(value) is None:
            return MISSING  # another scheme: no bearer token was presented
        match = _BEARER.match(value)
        if match is None:
            return MALFORMED
        return match.group(1).decode("ascii")

    def withholding(self, principal: Principal) -> Principal:
        """C{principal} with the admin-only servers withheld unless it is an
        admin, as L{check} lets it in: a principal another replica's door
        let in (its peer header carries whether it is an admin) too."""
        if self.adminOnly and not principal.admin and not self.adminOnly <= principal.withheld:
            return replace(principal, withheld=principal.withheld | self.adminOnly)
        return principal

    def _decided(self, verdict: Verdict, server: str | None, token: str = "") -> Verdict:
        if isinstance(verdict, Refusal):
            return self._refused(verdict)
        verdict = self.withholding(verdict)
        if server is not None and not verdict.mayUse(server):
            scope = serverScope(server)
            return self._refused(
                Refusal(
                    403,
                    "insufficient_scope",
                    f"this token may not use {server}",
                    scope=scope,
                    principal=verdict,
                )
            )
        if self.onToken is not None and token:
            self.onToken(verdict, token)
        return verdict

    def hold(self, request: IRequest, principal: Principal) -> None:
        """C{request}, let in by C{principal}, stays open after its render
        (a stream, an answer that comes later): it ends when its credential
        does, if it has not ended before."""
        holds = self.holds
        if holds is not None:
            holds.hold(request, principal)

    def _failed(self, reason: Failure) -> Verdict:
        # The exception's type only: its text or traceback might hold the token.
        self.log.error(
            "auth: checking a token failed ({error}); answering 503", error=_typeName(reason)
        )
        return self._refused(FAILED)

    def _refused(self, refusal: Refusal) -> Refusal:
        self.refusals[(refusal.status, reasonOf(refusal))] += 1
        return refusal

    def allowed(self, principal: Principal, server: str) -> Verdict:
        """C{principal} if it may use C{server}, else the 403 (counted)."""
        return self._decided(principal, server)

    def challengeFor(self, refusal: Refusal) -> bytes | None:
        """The C{WWW-Authenticate} value of C{refusal} (none for 429, 503)."""
        if refusal.status not in (400, 401, 403):
            return None
        url = None
        if self.resource is not None and self.issuer is not None:
            url = metadataUrl(self.resource)
        return challenge(refusal, url, self.realm)

    def refuse(self, request: IRequest, refusal: Refusal) -> bytes:
        """Write C{refusal}'s status and headers; its JSON-RPC error body.
        A refusal of a known principal (403) sets it as the principal of the request's context,
        for the audit record."""
        if refusal.principal is not None:
            contextOf(request).principal = refusal.principal
        setStatus(request, refusal.status)
        value = self.challengeFor(refusal)
        if value is not None:
            request.setHeader(b"www-authenticate", value)
        if refusal.retryAfter is not None:
            seconds = max(1, math.ceil(refusal.retryAfter))
            request.setHeader(b"retry-after", str(seconds).encode("ascii"))
        request.setHeader(b"cache-control", b"no-store")
        if refusal.status == 401 and browsing(request):
            request.setHeader(b"content-type", b"text/html; charset=utf-8")
            return SIGN_IN_PAGE
        request.setHeader(b"content-type", b"application/json")
        code = {
            429: jsonrpc.TOO_MANY_REQUESTS,
            503: jsonrpc.SERVER_UNAVAILABLE,
        }.get(refusal.status, jsonrpc.INVALID_REQUEST)
        return jsonrpc.dumps(jsonrpc.errorResponse(None, code, refusal.description))

    def metadata(self) -> IResource:
        """The C{/.well-known/oauth-protected-resource} tree (a leaf that
        reads the whole request path)."""
        return _Metadata(self)

    def metadataDocument(self, endpointPath: str = "") -> dict[str, Any] | None:
        """The RFC 9728 document of the gateway (or of one endpoint), or
        C{None} (no OAuth: nothing to discover)."""
        if self.resource is None or self.issuer is None:
            return None
        resource = self.resource
        if endpointPath:
            resource = resource.rstrip("/") + endpointPath
        return protectedResource(resource, self.issuer, list(self._scopes()))


SIGN_IN_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mcpgateway: a team's gateway</title></head>
<body><h1>This gateway serves a team</h1>
<p>Every request needs a bearer token, and a browser sends none by itself. Its console
and status pages are an admin's: reach them through a proxy that adds the admin's
<code>Authorization: Bearer ...</code> header, or, from a terminal, set
<code>MCPGATEWAY_TOKEN</code> to an admin's token and run <code>mcpgateway status</code>.
MCP clients connect with their own tokens (docs/guide/status-page.md, "On a team
gateway"; docs/guide/team.md).</p></body></html>
"""
"""What a browser opening a page of a gateway that needs a bearer token
is shown, in place of the JSON-RPC error an MCP client reads."""


def browsing(request: IRequest) -> bool:
    """Whether C{request} is a browser opening a page (a C{GET} that asks
    for HTML first): never an MCP client, whose C{GET} asks for an event
    stream and whose C{POST} for JSON."""
    if request.method != b"GET":
        return False
    accept = request.getHeader(b"accept") or b""
    return accept.split(b",", 1)[0].strip().startswith(b"text/html")


def _typeName(reason: Failure) -> str:
    kind = reason.type
    return kind.__qualname__ if isinstance(kind, type) else "error"


def _queryToken(uri: bytes) -> bool:
    query = uri.split(b"?", 1)[1] if b"?" in uri else b""
    return any(name == b"access_token" for name, _ in parse_qsl(query, keep_blank_values=True))


class _Metadata(Resource):
    """C{GET /.well-known/oauth-protected-resource[<resource path>][/<server>[~key]/mcp]}."""

    isLeaf = True

    def __init__(self, gate: AuthGate) -> None:
        super().__init__()
        self._gate = gate

    def render(self, request: IRequest) -> bytes:
        if request.method not in (b"GET", b"HEAD"):
            request.setHeader(b"allow", b"GET, HEAD")
            return self._error(request, 405, "only GET is allowed here")
        path = request.path.split(b"?", 1)[0].decode("utf-8", "replace")
        rest = path[len(WELL_KNOWN) :] if path.startswith(WELL_KNOWN) else None
        if rest is not None and self._gate.resource is not None:
            prefix = resourcePath(self._gate.resource)
            if prefix and rest.startswith(prefix):
                rest = rest[len(prefix) :]
        rest = None if rest is None else rest.rstrip("/")
        if rest is None or (rest and not _ENDPOINT.match(rest)):
            return self._error(request, 404, "not found")
        document = self._gate.metadataDocument(rest)
        if document is None:
            return self._error(request, 404, "this gateway uses no OAuth authorization server")
        setStatus(request, 200)
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"max-age=300")
        return jsonrpc.dumps(document)

    def _error(self, request: IRequest, status: int, text: str) -> bytes:
        setStatus(request, status)
        request.setHeader(b"content-type", b"application/json")
        return jsonrpc.dumps({"error": text})

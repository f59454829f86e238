# -*- test-case-name: tests.auth.test_tokens -*-
"""The identity an authenticated request carries, and a refusal.

One job: the vocabulary every authentication method answers in. A
L{Principal} is who the caller is (its name, the keyed hash of the name
the rest of the gateway sees, how it was proven, what it may use); a
L{Refusal} is why not (the HTTP status, the RFC 6750 C{error} and the
scope a C{WWW-Authenticate} challenge names). An L{Authenticator} turns a
bearer token into one of the two, at once or later (a JWT whose key must
be fetched first).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from twisted.internet.defer import Deferred

VIA_TOKEN = "token"
VIA_OAUTH = "oauth"
VIA_PEER = "peer"
VIA_NONE = "none"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    @ivar name: the name (a token file's C{principal}, a JWT's C{sub} or the
        configured claim); never shown on C{/health} or in metrics.
    @ivar key: the keyed hash of C{name}: what sessions, sharing scopes and
        logs carry (C{""}: anonymous).
    @ivar via: how it was proven (L{VIA_TOKEN}, L{VIA_OAUTH}, L{VIA_PEER},
        L{VIA_NONE}).
    @ivar servers: the servers it may use (C{None}: all).
    @ivar scopes: the OAuth scopes granted (empty for static tokens).
    @ivar admin: may use the management surface (C{/sessions}, C{/api/v1}).
    @ivar expires: when its credential expires (epoch seconds), if known.
    @ivar withheld: servers it may not use whatever C{servers} says (the
        gateway's own C{gateway} server, to a principal that is no admin).
    @ivar groups: the groups its token names (an OAuth token's C{groups}
        claim), which a policy grants to (L{mcpgateway.governance.policy}).
    @ivar claims: the token's other claims of one value (strings, numbers,
        booleans), as text, which a policy may read.
    @ivar credential: what tells the credential it was proven with from
        every other (the SHA-256 of the token, in hex): what a request it
        let in is held under until that credential ends
        (L{mcpgateway.web.plumbing.holds}); C{""}: none that can end (no
        token, a peer's forwarded request). Never shown, compared or logged.
    """

    name: str
    key: str
    via: str
    servers: frozenset[str] | None = None
    scopes: frozenset[str] = frozenset()
    admin: bool = False
    expires: float | None = None
    withheld: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    claims: tuple[tuple[str, str], ...] = ()
    credential: str = field(default="", compare=False, repr=False)

    def mayUse(self, server: str) -> bool:
        """Whether this principal may call C{server}."""
        if server in self.withheld:
            return False
        return self.servers is None or server in self.servers


ANONYMOUS = Principal("", "", VIA_NONE)
"""The caller of a gateway with no authentication (loopback only)."""


@dataclass(frozen=True)
class Refusal:
    """Why a request is not let in.

    @ivar status: 400, 401, 403, 429 or 503.
    @ivar error: the RFC 6750 C{error} (C{invalid_request}, C{invalid_token},
        C{insufficient_scope}), or C{None} (no credentials were given).
    @ivar description: a safe, human text (never the token).
    @ivar scope: the scope that would be enough (a 403's challenge).
    @ivar retryAfter: seconds for C{Retry-After} (429, 503).
    @ivar principal: who was refused, when the token was valid (a 403:
        not allowed that server); the audit record names it. Not compared.
    """

    status: int
    error: str | None
    description: str
    scope: str | None = None
    retryAfter: float | None = None
    principal: Principal | None = field(default=None, compare=False, repr=False)


Verdict = Principal | Refusal
KeyOf = Callable[[str], str]
"""A principal's name to its key (a keyed hash, the same on every run)."""


class Authenticator(Protocol):
    """Turns a bearer token into a verdict."""

    def authenticate(self, token: str, endpoint: str = "") -> Verdict | Deferred[Verdict]:
        """The verdict on C{token} for a request to C{endpoint} (the path
        C{/<server>[~key]/mcp}, for per-endpoint audiences; C{""}: the
        gateway as a whole)."""

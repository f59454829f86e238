# -*- test-case-name: tests.auth.test_bearer -*-
"""OAuth 2.1 access tokens (JWTs) checked as an MCP resource server must.

L{JwtVerifier} verifies a token's signature with PyJWT and the issuer's key
named by its C{kid} (L{mcpgateway.auth.jwks.KeySet}; one key and no C{kid}:
that key), with an algorithm from the configuration only (never C{HS*} or
C{none}, and only with a key of the family it needs); the C{jku}, C{x5u}
and C{jwk} headers are ignored (a token never makes the gateway fetch).
Then its claims, on the injected clock: C{iss} the issuer exactly; C{aud}
holds the gateway's resource URI, the requested endpoint's URL or an extra
configured audience (RFC 8707); C{exp} present and not past, C{nbf} and
C{iat} not in the future (each with C{leeway}); C{typ} absent, C{JWT} or
C{at+jwt}. Scopes come from C{scope} (space-separated) or C{scp} (a list):
C{mcp:<server>} scopes, when there are any, are the servers the principal
may use, C{mcp:admin} makes it an admin, and the configured required
scopes must all be there (else 403 C{insufficient_scope}).

A verified token is cached by its SHA-256 (and endpoint) until
C{min(exp, now + 60)}, at most C{cacheSize} of them. A token nobody can
check yet (no key fetched) is answered 503 with C{Retry-After}: a server
problem must not send clients into a re-authorization loop. Refusals say
what is wrong in a few safe words, never the token.

A principal carries its token's SHA-256 (L{Principal.credential}): what
it let in is held until the token is refused, C{exp} plus the leeway
(L{JwtVerifier.endsAt}), and then ended (L{mcpgateway.web.plumbing.holds}).
An access token ends only by time: nothing is revoked here.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

import jwt
from jwt import PyJWK
from jwt.exceptions import PyJWTError
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.auth.jwks import KeySet
from mcpgateway.auth.metadata import SCOPE_ADMIN, SCOPE_PREFIX, endpointUrl
from mcpgateway.httpbase.principal import VIA_OAUTH, KeyOf, Principal, Refusal, Verdict
from mcpgateway.runtime import logs

DEFAULT_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
SUPPORTED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""Asymmetric algorithms only: C{HS*} (a shared secret) and C{none} never."""

_FAMILY = {
    "RS": "RSA",
    "PS": "RSA",
    "ES": "EC",
    "Ed": "OKP",
}
_CURVE = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_TYPES = frozenset({"jwt", "at+jwt", "application/at+jwt", "application/jwt"})
CACHE_TTL = 60.0
NO_KEYS_RETRY = 5.0


@dataclass(frozen=True)
class OAuthSettings:
    """How access tokens are checked (C{--oauth-*} options)."""

    issuer: str
    resource: str
    audiences: tuple[str, ...] = ()
    jwksUri: str | None = None
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    requiredScopes: tuple[str, ...] = ()
    principalClaim: str = "sub"
    leeway: float = 60.0

    def __post_init__(self) -> None:
        bad = [a for a in self.algorithms if a not in SUPPORTED_ALGORITHMS]
        if bad:
            raise ValueError(
                f"algorithm {bad[0]!r} is not allowed (use one of"
                f" {', '.join(sorted(SUPPORTED_ALGORITHMS))})"
            )


def invalid(description: str) -> Refusal:
    return Refusal(401, "invalid_token", description)


NOT_YET = Refusal(
    503, None, "the issuer's signing keys are not available yet", retryAfter=NO_KEYS_RETRY
)


class JwtVerifier:
    """An L{mcpgateway.httpbase.principal.Authenticator} for JWT access tokens."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        settings: OAuthSettings,
        keys: KeySet,
        keyOf: KeyOf,
        clock: IReactorTime,
        cacheSize: int = 4096,
    ) -> None:
        self.settings = settings
        self._keys = keys
        self._keyOf = keyOf
        self._clock = clock
        self._cacheSize = cacheSize
        self._cache: OrderedDict[tuple[str, str], tuple[Principal, float]] = OrderedDict()
        self._algorithms = frozenset(settings.algorithms)
        self.verified = 0
        self.cacheHits = 0

    def authenticate(self, token: str, endpoint: str = "") -> Verdict | Deferred[Verdict]:
        cacheKey = (hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest(), endpoint)
        cached = self._cache.get(cacheKey)
        if cached is not None:
            principal, until = cached
            if self._clock.seconds() < until:
                self._cache.move_to_end(cacheKey)
                self.cacheHits += 1
                return self._scoped(principal)
            del self._cache[cacheKey]
        try:
            header = jwt.get_unverified_header(token)
        except PyJWTError:
            return invalid("the bearer token is not a JWT")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            return invalid("the token's algorithm is not accepted")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in _TYPES):
            return invalid("the token is not an access token (typ)")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            return invalid("the token's kid is not a string")
        found = self._keys.key(kid)
        if isinstance(found, Deferred):
            return found.addCallback(lambda key: self._verify(token, alg, key, endpoint, cacheKey))
        return self._verify(token, alg, found, endpoint, cacheKey)

    def _verify(
        self,
        token: str,
        alg: str,
        key: PyJWK | None,
        endpoint: str,
        cacheKey: tuple[str, str],
    ) -> Verdict:
        if key is None:
            if not self._keys.loaded:
                return NOT_YET
            return invalid("the token's signing key is unknown")
        if not _fits(key, alg):
            return invalid("the token's algorithm does not fit its key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_sub": False,
                    "verify_jti": False,
                },
            )
        except PyJWTError:
            return invalid("the token's signature is not valid")
        verdict = self._claims(claims, endpoint, cacheKey[0])
        if isinstance(verdict, Principal):
            self.verified += 1
            until = self._clock.seconds() + CACHE_TTL
            if verdict.expires is not None:
                until = min(until, verdict.expires)
            self._cache[cacheKey] = (verdict, until)
            if len(self._cache) > self._cacheSize:
                self._cache.popitem(last=False)
            return self._scoped(verdict)
        return verdict

    def _claims(self, claims: Mapping[str, Any], endpoint: str, credential: str) -> Verdict:
        s = self.settings
        now = self._clock.seconds()
        if claims.get("iss") != s.issuer:
            return invalid("the token is from another issuer")
        audiences = claims.get("aud")
        if isinstance(audiences, str):
            audiences = [audiences]
        accepted = {s.resource, *s.audiences}
        if endpoint:
            accepted.add(endpointUrl(s.resource, endpoint))
        if not isinstance(audiences, list) or not any(
            isinstance(a, str) and a in accepted for a in audiences
        ):
            return invalid("the token is not meant for this resource (aud)")
        exp = claims.get("exp")
        if not _number(exp):
            return invalid("the token has no expiry (exp)")
        if now >= exp + s.leeway:
            return invalid("the token has expired")
        nbf = claims.get("nbf")
        if nbf is not None and (not _number(nbf) or nbf > now + s.leeway):
            return invalid("the token is not valid yet (nbf)")
        iat = claims.get("iat")
        if iat is not None and (not _number(iat) or iat > now + s.leeway):
            return invalid("the token was issued in the future (iat)")
        name = claims.get(s.principalClaim)
        if not isinstance(name, str) or not name or len(name) > 256:
            return invalid(f"the token has no {s.principalClaim} claim")
        scopes = _scopes(claims)
        servers = frozenset(
            scope[len(SCOPE_PREFIX) :]
            for scope in scopes
            if scope.startswith(SCOPE_PREFIX) and scope != SCOPE_ADMIN
        )
        return Principal(
            name,
            self._keyOf(name),
            VIA_OAUTH,
            servers=servers or None,
            scopes=scopes,
            admin=SCOPE_ADMIN in scopes,
            expires=float(exp),
            groups=_groups(claims),
            claims=_scalarClaims(claims),
            credential=credential,
        )

    def standing(self, principal: Principal) -> str | None:
        """C{"expired"} once the token C{principal} was let in with is
        refused as expired (C{exp} plus the leeway); else C{None}."""
        endsAt = self.endsAt(principal)
        if endsAt is not None and self._clock.seconds() >= endsAt:
            return "expired"
        return None

    def endsAt(self, principal: Principal) -> float | None:
        """When the token C{principal} was let in with is refused as expired."""
        if principal.expires is None:
            return None
        return principal.expires + self.settings.leeway

    def watch(self, changed: Callable[[], object]) -> None:
        """Nothing to be told: an access token ends only by time (L{endsAt})."""

    def _scoped(self, principal: Principal) -> Verdict:
        missing = [s for s in self.settings.requiredScopes if s not in principal.scopes]
        if missing:
            return Refusal(
                403,
                "insufficient_scope",
                "the token lacks a required scope",
                scope=" ".join(self.settings.requiredScopes),
            )
        return principal


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fits(key: PyJWK, alg: str) -> bool:
    """Whether C{key} may verify C{alg} (its family, its curve, its own C{alg})."""
    data = getattr(key, "_jwk_data", {})
    own = data.get("alg") if isinstance(data, dict) else None
    if own is not None and own != alg:
        return False
    if key.key_type != _FAMILY.get(alg[:2]):
        return False
    curve = _CURVE.get(alg)
    return curve is None or (isinstance(data, dict) and data.get("crv") == curve)


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(s for s in scope.split(" ") if s)
    scp = claims.get("scp")
    if isinstance(scp, list):
        return frozenset(s for s in scp if isinstance(s, str) and s)
    if isinstance(scp, str):
        return frozenset(s for s in scp.split(" ") if s)
    return frozenset()


GROUPS_CLAIM = "groups"
"""The claim naming the groups of a token's subject (a list of strings)."""
MAX_GROUPS = 256
MAX_CLAIM_TEXT = 1024


def _groups(claims: Mapping[str, Any]) -> frozenset[str]:
    """The groups a token's C{groups} claim names (at most L{MAX_GROUPS});
    a claim of another shape names none."""
    value = claims.get(GROUPS_CLAIM)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return frozenset()
    return frozenset(g for g in value[:MAX_GROUPS] if isinstance(g, str) and g)


def _scalarClaims(claims: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The claims of one string, number or boolean value, as text (what a
    policy may read of a token beyond its subject and groups)."""
    kept: list[tuple[str, str]] = []
    for name, value in claims.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int | float):
            text = str(value)
        else:
            continue
        if len(text) <= MAX_CLAIM_TEXT and len(kept) < MAX_GROUPS:
            kept.append((str(name), text))
    return tuple(sorted(kept))

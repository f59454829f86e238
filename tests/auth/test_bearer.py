"""JWT access tokens: signature, algorithm, key, issuer, audience, times,
scopes, the cache, and no keys yet."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from mcpgateway.auth.bearer import JwtVerifier, OAuthSettings
from mcpgateway.auth.jwks import KeySet
from mcpgateway.httpbase.principal import VIA_OAUTH, Principal, Refusal, Verdict
from tests.fixtures.jwt_issuer import IssuerKey, jwks
from tests.support.auth.jwks import FakeFetch, result

ISSUER = "https://idp.example.com"
RESOURCE = "https://mcp.example.com"
NOW = 1_800_000_000.0


class Setup:
    def __init__(self, *keys: IssuerKey, **settings: Any) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        self.fetch = FakeFetch()
        self.keys = KeySet(self.fetch, self.clock, ISSUER, ISSUER + "/jwks")
        if keys:
            self.keys.start()
            self.fetch.answer(jwks(*keys))
        self.settings = OAuthSettings(ISSUER, RESOURCE, **settings)
        self.verifier = JwtVerifier(self.settings, self.keys, lambda n: "key:" + n, self.clock)

    def check(self, token: str, endpoint: str = "/github/mcp") -> Verdict:
        verdict = self.verifier.authenticate(token, endpoint)
        if isinstance(verdict, Deferred):
            verdict = result(verdict)
        assert isinstance(verdict, (Principal, Refusal))
        return verdict


def claims(**more: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": RESOURCE,
        "iat": int(NOW),
        "exp": int(NOW) + 300,
    }
    base.update(more)
    return {k: v for k, v in base.items() if v is not None}


def refusedAs(verdict: Verdict, status: int, description: str) -> None:
    assert isinstance(verdict, Refusal), verdict
    assert (verdict.status, verdict.description) == (status, description)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handMade(header: dict[str, Any], body: dict[str, Any], sign: Any = None) -> str:
    signing = b64(json.dumps(header).encode()) + "." + b64(json.dumps(body).encode())
    signature = b"" if sign is None else sign(signing.encode())
    return signing + "." + b64(signature)


def test_a_good_token_gives_its_principal(rsa: IssuerKey, ecKey: IssuerKey) -> None:
    setup = Setup(rsa, ecKey)
    for key in (rsa, ecKey):
        verdict = setup.check(key.sign(claims(scope="mcp:github mcp:admin other")))
        assert isinstance(verdict, Principal)
        assert replace(verdict, claims=()) == Principal(
            "alice",
            "key:alice",
            VIA_OAUTH,
            servers=frozenset({"github"}),
            scopes=frozenset({"mcp:github", "mcp:admin", "other"}),
            admin=True,
            expires=NOW + 300,
        )
        # The token's single-value claims reach the policy as they were signed.
        assert dict(verdict.claims)["iss"] == "https://idp.example.com"
        assert dict(verdict.claims)["sub"] == "alice"


def test_ps256_and_eddsa_verify_with_their_keys(rsa: IssuerKey, edKey: IssuerKey) -> None:
    setup = Setup(rsa, edKey)
    assert isinstance(setup.check(rsa.sign(claims(), alg="PS256")), Principal)
    assert isinstance(setup.check(edKey.sign(claims())), Principal)


def test_scp_as_a_list_and_no_server_scopes_means_every_server(rsa: IssuerKey) -> None:
    setup = Setup(rsa)
    verdict = setup.check(rsa.sign(claims(scp=["mcp:fs", "read"])))
    assert isinstance(verdict, Principal) and verdict.servers == frozenset({"fs"})
    verdict = setup.check(rsa.sign(claims(sub="bob", scope="read")))
    assert isinstance(verdict, Principal) and verdict.servers is None and not verdict.admin


@pytest.mark.parametrize(
    ("aud", "endpoint", "ok"),
    [
        (RESOURCE, "/github/mcp", True),
        ([RESOURCE, "other"], "", True),
        (RESOURCE + "/github/mcp", "/github/mcp", True),
        (RESOURCE + "/fs/mcp", "/github/mcp", False),
        ("https://other.example.com", "/github/mcp", False),
        ("extra-aud", "/github/mcp", True),
        (None, "/github/mcp", False),
        (["x", 5], "/github/mcp", False),
    ],
)
def test_the_audience_must_be_this_gateway(
    rsa: IssuerKey, aud: Any, endpoint: str, ok: bool
) -> None:
    setup = Setup(rsa, audiences=("extra-aud",))
    verdict = setup.check(rsa.sign(claims(aud=aud)), endpoint)
    if ok:
        assert isinstance(verdict, Principal)
    else:
        refusedAs(verdict, 401, "the token is not meant for this resource (aud)")


@pytest.mark.parametrize(
    ("more", "description"),
    [
        ({"iss": ISSUER + "/"}, "the token is from another issuer"),
        ({"iss": None}, "the token is from another issuer"),
        ({"exp": int(NOW) - 61}, "the token has expired"),
        ({"exp": None}, "the token has no expiry (exp)"),
        ({"exp": "soon"}, "the token has no expiry (exp)"),
        ({"nbf": int(NOW) + 61}, "the token is not valid yet (nbf)"),
        ({"iat": int(NOW) + 61}, "the token was issued in the future (iat)"),
        ({"sub": None}, "the token has no sub claim"),
        ({"sub": ""}, "the token has no sub claim"),
    ],
)
def test_claims_are_checked_on_the_clock(
    rsa: IssuerKey, more: dict[str, Any], description: str
) -> None:
    refusedAs(Setup(rsa).check(rsa.sign(claims(**more))), 401, description)


def test_leeway_is_honoured(rsa: IssuerKey) -> None:
    setup = Setup(rsa)
    ok = claims(exp=int(NOW) - 30, nbf=int(NOW) + 30, iat=int(NOW) + 30)
    assert isinstance(setup.check(rsa.sign(ok)), Principal)


def test_another_principal_claim(rsa: IssuerKey) -> None:
    setup = Setup(rsa, principalClaim="email")
    verdict = setup.check(rsa.sign(claims(email="a@example.com")))
    assert isinstance(verdict, Principal) and verdict.name == "a@example.com"
    refusedAs(setup.check(rsa.sign(claims())), 401, "the token has no email claim")


def test_alg_none_is_refused(rsa: IssuerKey) -> None:
    token = handMade({"alg": "none", "kid": "r1"}, claims())
    refusedAs(Setup(rsa).check(token), 401, "the token's algorithm is not accepted")


def test_hs256_signed_with_the_public_key_is_refused(rsa: IssuerKey) -> None:
    pem = rsa.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    token = handMade(
        {"alg": "HS256", "kid": "r1"},
        claims(),
        lambda data: hmac.new(pem, data, hashlib.sha256).digest(),
    )
    refusedAs(Setup(rsa).check(token), 401, "the token's algorithm is not accepted")
    with pytest.raises(ValueError, match="'HS256' is not allowed"):
        OAuthSettings(ISSUER, RESOURCE, algorithms=("RS256", "HS256"))


def test_an_algorithm_that_does_not_fit_the_key_is_refused(
    rsa: IssuerKey, ecKey: IssuerKey
) -> None:
    setup = Setup(rsa, ecKey)
    # an RS256 token naming the EC key
    refusedAs(
        setup.check(rsa.sign(claims(), kid="e1")),
        401,
        "the token's algorithm does not fit its key",
    )
    # an algorithm the configuration leaves out
    refusedAs(
        Setup(rsa, algorithms=("ES256",)).check(rsa.sign(claims())),
        401,
        "the token's algorithm is not accepted",
    )


def test_a_bad_signature_is_refused(rsa: IssuerKey) -> None:
    other = IssuerKey("RS256", "r1")
    refusedAs(Setup(rsa).check(other.sign(claims())), 401, "the token's signature is not valid")


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "mcpgw_" + "x" * 43])
def test_not_a_jwt(rsa: IssuerKey, garbage: str) -> None:
    refusedAs(Setup(rsa).check(garbage), 401, "the bearer token is not a JWT")


def test_typ_must_be_an_access_token_or_jwt(rsa: IssuerKey) -> None:
    setup = Setup(rsa)
    assert isinstance(setup.check(rsa.sign(claims(), headers={"typ": "JWT"})), Principal)
    refusedAs(
        setup.check(rsa.sign(claims(), headers={"typ": "dpop+jwt"})),
        401,
        "the token is not an access token (typ)",
    )


def test_jku_x5u_and_jwk_headers_are_ignored(rsa: IssuerKey) -> None:
    attacker = IssuerKey("RS256", "evil")
    setup = Setup(rsa)
    token = attacker.sign(
        claims(),
        headers={"jku": "http://169.254.169.254/", "x5u": "http://x/", "jwk": attacker.jwk()},
    )
    setup.clock.advance(60)
    pending = setup.verifier.authenticate(token)  # the unknown kid: the configured JWKS only
    assert isinstance(pending, Deferred)
    assert [url for url, _ in setup.fetch.calls] == [ISSUER + "/jwks", ISSUER + "/jwks"]
    setup.fetch.answer(jwks(rsa))
    refusedAs(result(pending), 401, "the token's signing key is unknown")
    refusedAs(setup.check(token), 401, "the token's signing key is unknown")  # no fetch now
    assert len(setup.fetch.calls) == 2


def test_an_unknown_kid_fetches_once_then_verifies(rsa: IssuerKey, ecKey: IssuerKey) -> None:
    setup = Setup(rsa)
    setup.clock.advance(60)
    pending = setup.verifier.authenticate(ecKey.sign(claims()), "/github/mcp")
    assert isinstance(pending, Deferred)
    assert len(setup.fetch.calls) == 2
    setup.fetch.answer(jwks(rsa, ecKey))
    assert isinstance(result(pending), Principal)


def test_no_keys_yet_is_503_with_retry_after(rsa: IssuerKey) -> None:
    setup = Setup()
    setup.keys.start()
    setup.fetch.fail()
    pending = setup.verifier.authenticate(rsa.sign(claims()))
    assert isinstance(pending, Deferred)
    setup.fetch.fail()
    verdict = result(pending)
    assert isinstance(verdict, Refusal)
    assert (verdict.status, verdict.error, verdict.retryAfter) == (503, None, 5.0)


def test_required_scopes_missing_is_403_naming_them(rsa: IssuerKey) -> None:
    setup = Setup(rsa, requiredScopes=("mcp", "read"))
    verdict = setup.check(rsa.sign(claims(scope="mcp")))
    assert isinstance(verdict, Refusal)
    assert (verdict.status, verdict.error, verdict.scope) == (403, "insufficient_scope", "mcp read")
    assert isinstance(setup.check(rsa.sign(claims(scope="read mcp"))), Principal)


def test_a_verified_token_is_cached_until_min_of_exp_and_a_minute(rsa: IssuerKey) -> None:
    setup = Setup(rsa)
    token = rsa.sign(claims(exp=int(NOW) + 90))
    first = setup.check(token)
    assert setup.check(token) == first
    assert (setup.verifier.verified, setup.verifier.cacheHits) == (1, 1)
    setup.clock.advance(61)
    assert setup.check(token) == first  # verified again
    assert setup.verifier.verified == 2
    setup.clock.advance(29.5)  # past exp, inside the leeway: verified again, not cached
    assert isinstance(setup.check(token), Principal)
    setup.clock.advance(61)
    refusedAs(setup.check(token), 401, "the token has expired")


def test_a_token_stands_until_it_is_refused_as_expired(rsa: IssuerKey) -> None:
    setup = Setup(rsa)
    token = rsa.sign(claims(exp=int(NOW) + 300))
    principal = setup.check(token)
    assert isinstance(principal, Principal)
    assert principal.credential == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(principal) and principal.credential not in repr(principal)
    verifier = setup.verifier
    assert verifier.endsAt(principal) == NOW + 300 + 60  # exp, then the leeway
    setup.clock.advance(359.5)
    assert verifier.standing(principal) is None
    assert isinstance(setup.check(token), Principal)  # still let in
    setup.clock.advance(0.5)
    assert verifier.standing(principal) == "expired"
    refusedAs(setup.check(token), 401, "the token has expired")  # at the same moment
    told: list[bool] = []
    verifier.watch(lambda: told.append(True))
    assert told == []


def test_the_cache_is_per_endpoint_and_bounded(rsa: IssuerKey) -> None:
    setup = Setup(rsa)
    setup.verifier._cacheSize = 2
    token = rsa.sign(claims(aud=RESOURCE + "/github/mcp"))
    assert isinstance(setup.check(token, "/github/mcp"), Principal)
    refusedAs(setup.check(token, "/fs/mcp"), 401, "the token is not meant for this resource (aud)")
    for i in range(3):
        setup.check(rsa.sign(claims(sub=f"u{i}")))
    assert len(setup.verifier._cache) == 2


def test_verify_cost(rsa: IssuerKey, ecKey: IssuerKey, capsys: pytest.CaptureFixture[str]) -> None:
    """Not an assertion on speed: prints µs per verify (cached, uncached) for the notes."""
    setup = Setup(rsa, ecKey)
    for key in (rsa, ecKey):
        tokens = [key.sign(claims(sub=f"u{i}")) for i in range(50)]
        start = time.perf_counter()
        for t in tokens:
            assert isinstance(setup.check(t), Principal)
        uncached = (time.perf_counter() - start) / len(tokens) * 1e6
        start = time.perf_counter()
        for _ in range(4):
            for t in tokens:
                setup.check(t)
        cached = (time.perf_counter() - start) / (4 * len(tokens)) * 1e6
        with capsys.disabled():
            print(f"\n{key.alg}: {uncached:.0f} µs uncached, {cached:.1f} µs cached", end="")

"""The HTTP gate: where the token is taken from, what a refusal looks like
(exact WWW-Authenticate strings, RFC 6750/9728), and the metadata documents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.web.http import RESPONSES

from mcpgateway.auth.tokens import TokenTable, readTokens
from mcpgateway.httpbase.principal import ANONYMOUS, VIA_TOKEN, Principal, Refusal, Verdict
from mcpgateway.protocol import jsonrpc
from mcpgateway.web.plumbing.auth import MAX_AUTHORIZATION, AuthGate
from mcpgateway.web.plumbing.requestcontext import contextOf
from tests.fakes import capturedGatewayLogs
from tests.support.auth.tokens import addToken
from tests.support.web.contextrequest import ContextRequest

ISSUER = "https://idp.example.com"
RESOURCE = "https://mcp.example.com"
META = RESOURCE + "/.well-known/oauth-protected-resource"
ALICE = Principal("alice", "k-alice", VIA_TOKEN, servers=frozenset({"github"}))


class FakeAuthenticator:
    def __init__(self, verdict: Any = ALICE) -> None:
        self.verdict = verdict
        self.seen: list[tuple[str, str]] = []

    def authenticate(self, token: str, endpoint: str = "") -> Verdict | Deferred[Verdict]:
        self.seen.append((token, endpoint))
        if isinstance(self.verdict, Exception):
            raise self.verdict
        if callable(self.verdict):
            return self.verdict()  # type: ignore[no-any-return]
        return self.verdict  # type: ignore[no-any-return]


def request(
    path: bytes = b"/github/mcp",
    headers: Sequence[tuple[bytes, bytes]] = (),
    query: bytes = b"",
) -> Any:
    r: Any = ContextRequest(path.lstrip(b"/").split(b"/"))
    r.uri = path + (b"?" + query if query else b"")
    r.path = path
    r.method = b"POST"
    for name, value in headers:
        r.requestHeaders.addRawHeader(name, value)
    return r


def bearer(token: str = "tok") -> list[tuple[bytes, bytes]]:
    return [(b"authorization", b"Bearer " + token.encode())]


def gate(authenticator: Any = None, oauth: bool = False) -> AuthGate:
    return AuthGate(
        authenticator,
        Clock(),
        RESOURCE if oauth else None,
        ISSUER if oauth else None,
        lambda: ["mcp:admin", "mcp:github"],
    )


def settle(verdict: Verdict | Deferred[Verdict]) -> Verdict:
    if isinstance(verdict, Deferred):
        box: list[Any] = []
        verdict.addBoth(box.append)
        return box[0]  # type: ignore[no-any-return]
    return verdict


def written(g: AuthGate, refusal: Refusal) -> tuple[int, dict[str, str], dict[str, Any]]:
    r = request()
    body = g.refuse(r, refusal)
    headers = {k.decode().lower(): v[0].decode() for k, v in r.responseHeaders.getAllRawHeaders()}
    return int(r.responseCode), headers, json.loads(body)


def test_no_authenticator_is_anonymous() -> None:
    assert gate().check(request(), "github") is ANONYMOUS
    assert not gate().enabled


def test_the_bearer_token_reaches_the_authenticator_with_the_endpoint() -> None:
    fake = FakeAuthenticator()
    g = gate(fake)
    assert g.check(request(headers=bearer("abc.DEF-_~+/=")), "github") is ALICE
    assert g.check(request(b"/github~k1/mcp", bearer("t2")), "github") is ALICE
    assert g.check(request(b"/sessions", bearer("t3")), None) is ALICE
    assert fake.seen == [
        ("abc.DEF-_~+/=", "/github/mcp"),
        ("t2", "/github~k1/mcp"),
        ("t3", ""),
    ]


def test_the_scheme_is_case_insensitive() -> None:
    assert (
        gate(FakeAuthenticator()).check(
            request(headers=[(b"authorization", b"bearer t")]), "github"
        )
        is ALICE
    )


@pytest.mark.parametrize(
    ("headers", "query", "status", "error"),
    [
        ([], b"", 401, None),
        ([(b"authorization", b"Basic dXNlcjpwYXNz")], b"", 401, None),
        ([(b"authorization", b"Bearer")], b"", 400, "invalid_request"),
        ([(b"authorization", b"Bearer a b")], b"", 400, "invalid_request"),
        (
            [(b"authorization", b"Bearer a"), (b"authorization", b"Bearer b")],
            b"",
            400,
            "invalid_request",
        ),
        ([(b"authorization", b"Bearer " + b"a" * MAX_AUTHORIZATION)], b"", 400, "invalid_request"),
        (bearer(), b"access_token=tok", 400, "invalid_request"),
        ([], b"x=1&access_token=", 400, "invalid_request"),
    ],
)
def test_refusals_before_any_token_check(
    headers: list[tuple[bytes, bytes]], query: bytes, status: int, error: str | None
) -> None:
    fake = FakeAuthenticator()
    g = gate(fake)
    verdict = g.check(request(headers=headers, query=query), "github")
    assert isinstance(verdict, Refusal)
    assert (verdict.status, verdict.error) == (status, error)
    assert fake.seen == []
    assert sum(g.refusals.values()) == 1


def test_a_query_that_merely_mentions_access_token_is_fine() -> None:
    g = gate(FakeAuthenticator())
    assert g.check(request(headers=bearer(), query=b"q=access_tokens"), "github") is ALICE


def test_a_server_the_principal_may_not_use_is_403_naming_its_scope() -> None:
    g = gate(FakeAuthenticator(), oauth=True)
    verdict = g.check(request(b"/fs/mcp", bearer()), "fs")
    assert verdict == Refusal(
        403, "insufficient_scope", "this token may not use fs", scope="mcp:fs"
    )
    status, headers, body = written(g, verdict)
    assert status == 403
    assert headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="this token may not use fs",'
        f' scope="mcp:fs", resource_metadata="{META}"'
    )
    assert body == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": jsonrpc.INVALID_REQUEST, "message": "this token may not use fs"},
    }
    assert g.refusals == {(403, "insufficient_scope"): 1}
    # The refusal names who was refused: refuse() hands it to the audit record.
    assert isinstance(verdict, Refusal) and verdict.principal is ALICE
    r = request(b"/fs/mcp")
    g.refuse(r, verdict)
    assert contextOf(r).principal is ALICE


def test_a_refusal_of_no_known_principal_sets_none() -> None:
    r = request()
    gate(FakeAuthenticator()).refuse(r, Refusal(401, None, "no token"))
    assert contextOf(r).principal is None


@pytest.mark.parametrize(
    ("status", "phrase"),
    [(421, b"Misdirected Request"), (429, b"Too Many Requests"), (403, b"Forbidden")],
)
def test_the_status_line_has_a_reason_phrase(status: int, phrase: bytes) -> None:
    """Twisted writes "429 Unknown Status" when given no phrase for 421 and 429."""
    r = request()
    gate(FakeAuthenticator()).refuse(r, Refusal(status, None, "refused", retryAfter=1.0))
    assert r.responseCode == status
    assert (r.responseMessage or RESPONSES[status]) == phrase


def test_a_later_verdict_is_checked_too() -> None:
    g = gate(FakeAuthenticator(lambda: succeed(ALICE)))
    assert settle(g.check(request(headers=bearer()), "github")) is ALICE
    refused = settle(g.check(request(b"/fs/mcp", bearer()), "fs"))
    assert isinstance(refused, Refusal) and refused.status == 403


def test_an_authenticator_that_fails_is_503_and_logs_no_token() -> None:
    secret = "mcpgw_SECRETSECRETSECRET"
    g = gate(FakeAuthenticator(ValueError(secret)))
    with capturedGatewayLogs() as events:
        verdict = g.check(request(headers=bearer(secret)), "github")
    assert isinstance(verdict, Refusal) and (verdict.status, verdict.retryAfter) == (503, 5.0)
    assert events and secret not in repr(events)
    failing: Deferred[Verdict] = Deferred()
    g = gate(FakeAuthenticator(failing))
    later = g.check(request(headers=bearer(secret)), "github")
    with capturedGatewayLogs() as events:
        failing.errback(ValueError(secret))
    refused = settle(later)
    assert isinstance(refused, Refusal) and refused.status == 503
    assert secret not in repr(events)


@pytest.mark.parametrize(
    ("oauth", "refusal", "challenge"),
    [
        (False, Refusal(401, None, "x"), 'Bearer realm="mcpgateway"'),
        (True, Refusal(401, None, "x"), f'Bearer resource_metadata="{META}"'),
        (
            False,
            Refusal(401, "invalid_token", "the bearer token is not valid"),
            'Bearer realm="mcpgateway", error="invalid_token",'
            ' error_description="the bearer token is not valid"',
        ),
        (
            True,
            Refusal(401, "invalid_token", "the token has expired"),
            'Bearer error="invalid_token", error_description="the token has expired",'
            f' resource_metadata="{META}"',
        ),
        (
            True,
            Refusal(400, "invalid_request", "send one Authorization header"),
            'Bearer error="invalid_request", error_description="send one Authorization header",'
            f' resource_metadata="{META}"',
        ),
    ],
)
def test_exact_challenges(oauth: bool, refusal: Refusal, challenge: str) -> None:
    status, headers, body = written(gate(FakeAuthenticator(), oauth), refusal)
    assert status == refusal.status
    assert headers["www-authenticate"] == challenge
    assert headers["content-type"] == "application/json"
    assert body["error"]["message"] == refusal.description
    assert "retry-after" not in headers


@pytest.mark.parametrize(
    ("refusal", "code", "after"),
    [
        (Refusal(429, None, "slow down", retryAfter=2.2), jsonrpc.TOO_MANY_REQUESTS, "3"),
        (Refusal(429, None, "slow down", retryAfter=0.1), jsonrpc.TOO_MANY_REQUESTS, "1"),
        (Refusal(503, None, "keys", retryAfter=5.0), jsonrpc.SERVER_UNAVAILABLE, "5"),
    ],
)
def test_429_and_503_carry_retry_after_and_no_challenge(
    refusal: Refusal, code: int, after: str
) -> None:
    status, headers, body = written(gate(FakeAuthenticator(), True), refusal)
    assert status == refusal.status
    assert headers["retry-after"] == after
    assert "www-authenticate" not in headers
    assert body["error"]["code"] == code


def test_static_tokens_end_to_end_through_the_gate(tmp_path: Any) -> None:
    path = tmp_path / "tokens.json"
    token = addToken(path, "alice", ["github"])
    table = TokenTable(readTokens(path), lambda n: "k-" + n, Clock())
    g = gate(table)
    verdict = g.check(request(headers=bearer(token)), "github")
    assert isinstance(verdict, Principal) and verdict.name == "alice"
    refused = g.check(request(headers=bearer(token + "x")), "github")
    assert isinstance(refused, Refusal) and refused.error == "invalid_token"
    assert refused.description == "the bearer token was refused: it is not valid"
    assert g.refusals == {(401, "invalid_token"): 1}
    missing = g.check(request(), "github")
    assert isinstance(missing, Refusal) and missing.error is None  # told apart


# -- the metadata documents ------------------------------------------------------------


def getMetadata(g: AuthGate, path: bytes, method: bytes = b"GET") -> tuple[int, Any]:
    r = request(path)
    r.method = method
    body = g.metadata().render(r)
    return r.responseCode or 200, json.loads(body)


def test_the_root_document() -> None:
    status, document = getMetadata(
        gate(FakeAuthenticator(), True), b"/.well-known/oauth-protected-resource"
    )
    assert status == 200
    assert document == {
        "resource": RESOURCE,
        "authorization_servers": [ISSUER],
        "scopes_supported": ["mcp:admin", "mcp:github"],
        "bearer_methods_supported": ["header"],
    }


@pytest.mark.parametrize("endpoint", [b"/github/mcp", b"/fs~k1/mcp"])
def test_the_per_endpoint_document_names_the_endpoint_as_resource(endpoint: bytes) -> None:
    status, document = getMetadata(
        gate(FakeAuthenticator(), True), b"/.well-known/oauth-protected-resource" + endpoint
    )
    assert status == 200 and document["resource"] == RESOURCE + endpoint.decode()


def test_a_resource_with_a_path_accepts_the_rfc9728_form() -> None:
    g = AuthGate(FakeAuthenticator(), Clock(), "https://ex.com/gw", ISSUER, lambda: [])
    status, document = getMetadata(g, b"/.well-known/oauth-protected-resource/gw/github/mcp")
    assert status == 200 and document["resource"] == "https://ex.com/gw/github/mcp"
    status, document = getMetadata(g, b"/.well-known/oauth-protected-resource/gw")
    assert status == 200 and document["resource"] == "https://ex.com/gw"


@pytest.mark.parametrize(
    "path",
    [
        b"/.well-known/oauth-protected-resource/github",
        b"/.well-known/oauth-protected-resource/a/b/mcp",
        b"/.well-known/oauth-protected-resourcex",
    ],
)
def test_other_paths_are_404(path: bytes) -> None:
    status, _ = getMetadata(gate(FakeAuthenticator(), True), path)
    assert status == 404


def test_static_tokens_have_no_metadata_and_only_get_is_allowed() -> None:
    status, document = getMetadata(
        gate(FakeAuthenticator()), b"/.well-known/oauth-protected-resource"
    )
    assert status == 404 and "no OAuth" in document["error"]
    status, _ = getMetadata(
        gate(FakeAuthenticator(), True), b"/.well-known/oauth-protected-resource", b"POST"
    )
    assert status == 405


def test_an_accepted_token_is_handed_over_with_its_principal_a_refused_one_is_not() -> None:
    """What the gate tells of the tokens it accepts (for RFC 8693 token
    exchange): the principal and its token, at once or after a Deferred,
    and nothing of a token it refuses (another server's, or an invalid one)."""
    told: list[tuple[Principal, str]] = []
    g = gate(FakeAuthenticator(), oauth=True)
    g.onToken = lambda principal, token: told.append((principal, token))
    assert settle(g.check(request(headers=bearer("alice-token")), "github")) == ALICE
    assert told == [(ALICE, "alice-token")]
    later = gate(FakeAuthenticator(lambda: succeed(ALICE)), oauth=True)
    later.onToken = lambda principal, token: told.append((principal, token))
    settle(later.check(request(headers=bearer("later")), "github"))
    assert told[-1] == (ALICE, "later")
    refused = gate(FakeAuthenticator(Refusal(401, "invalid_token", "no")), oauth=True)
    refused.onToken = lambda principal, token: told.append((principal, token))
    settle(refused.check(request(headers=bearer("bad")), "github"))
    settle(g.check(request(path=b"/other/mcp", headers=bearer("other")), "other"))
    assert len(told) == 2


@pytest.mark.parametrize(
    ("method", "accept", "page"),
    [
        (b"GET", b"text/html,application/xhtml+xml,*/*;q=0.8", True),  # a browser's navigation
        (b"GET", b"text/event-stream", False),  # an MCP client's stream
        (b"POST", b"text/html", False),
        (b"POST", b"application/json, text/event-stream", False),
        (b"GET", b"application/json", False),
        (b"GET", b"", False),
    ],
)
def test_a_browser_opening_a_page_is_told_how_to_sign_in(
    method: bytes, accept: bytes, page: bool
) -> None:
    """A browser sends no bearer token by itself: opening the console of a
    team gateway shows a page saying how to reach it, where an MCP client
    reads the JSON-RPC error."""
    r = request(b"/", [(b"accept", accept)] if accept else [])
    r.method = method
    body = gate(FakeAuthenticator()).refuse(r, Refusal(401, None, "no token"))
    kind = r.responseHeaders.getRawHeaders(b"content-type")[0]
    assert int(r.responseCode) == 401
    if page:
        assert kind.startswith(b"text/html") and b"MCPGATEWAY_TOKEN" in body
    else:
        assert kind == b"application/json" and json.loads(body)["error"]["message"] == "no token"

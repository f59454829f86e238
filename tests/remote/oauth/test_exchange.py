"""RFC 8693 token exchange without a network: the tokens principals present,
the exchange request, the exchanged tokens' life (one per principal, traded
again for a new subject token, after expiry or a refusal), discovery of the
issuer's token endpoint, a remote session that waits for its token, the
entry's C{auth}/C{exchange} settings, and the gate that hands the tokens
over."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest
from twisted.internet.task import Clock

from mcpgateway.config.servers import EntryError, parseEntry
from mcpgateway.core.spec import RemoteEndpoint, TokenExchangeSettings
from mcpgateway.ops.management import SECRET, remoteConfig
from mcpgateway.protocol import jsonrpc
from mcpgateway.remote.oauth.exchange import (
    ACCESS_TOKEN,
    GRANT_TYPE,
    TokenExchange,
    exchangeRequest,
)
from mcpgateway.remote.oauth.subjecttokens import MAX_PRINCIPALS, SubjectTokens
from mcpgateway.remote.streamable import StreamableChild
from tests.remote.fakehttp import FakeAgent, FakeResponse, jsonResponse

SERVER = "https://mcp.example.com/mcp"
TOKEN_URL = "https://idp.example.com/token"


def form(body: bytes | None) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs((body or b"").decode()).items()}


def issued(token: str, lifetime: int = 3600) -> FakeResponse:
    return jsonResponse(
        {
            "access_token": token,
            "issued_token_type": ACCESS_TOKEN,
            "token_type": "Bearer",
            "expires_in": lifetime,
        }
    )


# -- the tokens principals present -------------------------------------------------------


def test_a_principals_latest_token_is_kept_until_it_expires() -> None:
    now = [100.0]
    subjects = SubjectTokens(lambda: now[0])
    subjects.remember("p-alice", "t1", 200.0)
    subjects.remember("p-alice", "t2", 300.0)
    assert subjects.tokenOf("p-alice") == ("t2", 300.0)
    now[0] = 300.0
    assert subjects.tokenOf("p-alice") is None
    subjects.remember("", "anonymous", None)
    assert subjects.tokenOf("") is None


def test_the_oldest_principals_tokens_go_first_past_the_limit() -> None:
    subjects = SubjectTokens(lambda: 0.0)
    for n in range(MAX_PRINCIPALS + 1):
        subjects.remember(f"p{n}", "t", None)
    assert subjects.tokenOf("p0") is None
    assert subjects.tokenOf(f"p{MAX_PRINCIPALS}") == ("t", None)


# -- the request ------------------------------------------------------------------------


def test_the_request_trades_the_subject_token_for_one_to_the_server() -> None:
    settings = TokenExchangeSettings(
        clientId="gw", clientSecret="s3cret", audience="mcp-api", scope="read"
    )
    body, headers = exchangeRequest(settings, SERVER, "subject-1")
    sent = form(body)
    assert sent == {
        "grant_type": GRANT_TYPE,
        "subject_token": "subject-1",
        "subject_token_type": ACCESS_TOKEN,
        "requested_token_type": ACCESS_TOKEN,
        "resource": SERVER,
        "audience": "mcp-api",
        "scope": "read",
    }
    assert headers["authorization"] == "Basic Z3c6czNjcmV0"  # gw:s3cret
    public, _ = exchangeRequest(TokenExchangeSettings(clientId="gw"), SERVER, "s")
    assert form(public)["client_id"] == "gw"


# -- the exchanged tokens ---------------------------------------------------------------


def exchange(
    settings: TokenExchangeSettings | None = None, issuer: str | None = None
) -> tuple[TokenExchange, SubjectTokens, FakeAgent, list[float]]:
    now = [1000.0]
    subjects = SubjectTokens(lambda: now[0])
    agent = FakeAgent()
    made = TokenExchange(
        "linear",
        SERVER,
        settings or TokenExchangeSettings(tokenUrl=TOKEN_URL, clientId="gw"),
        subjects,
        lambda url: agent,
        issuer,
        lambda: now[0],
    )
    return made, subjects, agent, now


def fired(d: Any) -> list[Any]:
    results: list[Any] = []
    d.addBoth(results.append)
    return results


def test_one_exchange_per_principal_however_many_wait() -> None:
    made, subjects, agent, _ = exchange()
    subjects.remember("p-alice", "alice-1", None)
    first, second = fired(made.ready("p-alice")), fired(made.ready("p-alice"))
    sent = agent.one(b"POST")
    assert sent.uri == TOKEN_URL.encode()
    assert form(sent.body)["subject_token"] == "alice-1"
    sent.answer(issued("upstream-alice"))
    assert first == second == [None]
    assert made.ready("p-alice") is None
    assert made.authorization("p-alice") == "Bearer upstream-alice"
    assert made.authorization("p-bob") is None  # never another principal's


def test_a_new_token_to_the_gateway_is_traded_anew() -> None:
    made, subjects, agent, _ = exchange()
    subjects.remember("p-alice", "alice-1", None)
    fired(made.ready("p-alice"))
    agent.one(b"POST").answer(issued("upstream-1"))
    subjects.remember("p-alice", "alice-2", None)
    assert made.authorization("p-alice") is None
    fired(made.ready("p-alice"))
    assert form(agent.one(b"POST").body)["subject_token"] == "alice-2"


def test_an_exchanged_token_does_not_outlive_the_token_it_came_from() -> None:
    made, subjects, agent, now = exchange()
    subjects.remember("p-alice", "alice-1", 1100.0)
    fired(made.ready("p-alice"))
    agent.one(b"POST").answer(issued("upstream-1", lifetime=3600))
    assert made.authorization("p-alice") == "Bearer upstream-1"
    now[0] = 1041.0  # a minute before the subject token's expiry
    assert made.authorization("p-alice") is None


def test_a_refused_token_is_traded_again_after_forget() -> None:
    made, subjects, agent, _ = exchange()
    subjects.remember("p-alice", "alice-1", None)
    fired(made.ready("p-alice"))
    agent.one(b"POST").answer(issued("upstream-1"))
    made.forget("p-alice")
    assert made.ready("p-alice") is not None
    assert len(agent.take()) == 1


def test_no_subject_token_no_exchange_and_a_reason() -> None:
    made, _, agent, _ = exchange()
    [why] = fired(made.ready("p-alice"))
    assert "no access token of yours" in why
    assert agent.take() == []


def test_a_refused_exchange_says_what_the_issuer_said() -> None:
    made, subjects, agent, _ = exchange()
    subjects.remember("p-alice", "alice-1", None)
    result = fired(made.ready("p-alice"))
    agent.one(b"POST").answer(
        FakeResponse(
            400,
            json.dumps({"error": "invalid_target", "error_description": "no such API"}).encode(),
            contentType=b"application/json",
        )
    )
    [why] = result
    assert "HTTP 400" in why and "invalid_target" in why and "no such API" in why
    assert made.authorization("p-alice") is None


def test_the_token_endpoint_comes_from_the_issuers_metadata() -> None:
    made, subjects, agent, _ = exchange(TokenExchangeSettings(), "https://idp.example.com")
    subjects.remember("p-alice", "alice-1", None)
    result = fired(made.ready("p-alice"))
    first = agent.one(b"GET")
    assert first.uri == b"https://idp.example.com/.well-known/oauth-authorization-server"
    first.answer(FakeResponse(404, b""))
    second = agent.one(b"GET")
    assert second.uri == b"https://idp.example.com/.well-known/openid-configuration"
    second.answer(jsonResponse({"issuer": "https://idp.example.com", "token_endpoint": TOKEN_URL}))
    post = agent.one(b"POST")
    assert post.uri == TOKEN_URL.encode()
    post.answer(issued("upstream-1"))
    assert result == [None]


# -- a remote session that trades first --------------------------------------------------

INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}}


def tradingChild(
    principal: str = "p-alice",
) -> tuple[StreamableChild, FakeAgent, FakeAgent, SubjectTokens, list[dict[str, Any]]]:
    made, subjects, idp, _ = exchange()
    upstream = FakeAgent()
    got: list[dict[str, Any]] = []
    child = StreamableChild(
        "linear",
        RemoteEndpoint(SERVER, auth="exchange", principal=principal),
        upstream,
        Clock(),
        got.append,
        exchange=made,
    )
    return child, upstream, idp, subjects, got


def test_the_first_message_waits_for_the_exchange_then_carries_the_token() -> None:
    child, upstream, idp, subjects, _got = tradingChild()
    subjects.remember("p-alice", "alice-1", None)
    child.send(INIT)
    assert upstream.take() == []
    idp.one(b"POST").answer(issued("upstream-alice"))
    sent = upstream.one(b"POST")
    assert sent.header("authorization") == "Bearer upstream-alice"
    assert sent.json == INIT


def test_a_401_trades_again_and_sends_once_more() -> None:
    child, upstream, idp, subjects, got = tradingChild()
    subjects.remember("p-alice", "alice-1", None)
    child.send(INIT)
    idp.one(b"POST").answer(issued("upstream-1"))
    upstream.one(b"POST").answer(FakeResponse(401, b""))
    idp.one(b"POST").answer(issued("upstream-2"))
    again = upstream.one(b"POST")
    assert again.header("authorization") == "Bearer upstream-2"
    again.answer(FakeResponse(401, b""))
    [error] = got
    assert error["error"]["code"] == jsonrpc.SERVER_UNAVAILABLE
    assert "exchanged yours" in error["error"]["message"]
    assert idp.take() == []


def test_an_exchange_that_cannot_happen_answers_the_request() -> None:
    child, upstream, _idp, _subjects, got = tradingChild()
    child.send(INIT)
    [error] = got
    assert error["id"] == 0
    assert "needs a token for you" in error["error"]["message"]
    assert upstream.take() == []


# -- the entry ---------------------------------------------------------------------------


def test_an_exchange_entry_is_read_with_its_secret_expanded_and_masked_when_shown() -> None:
    spec = parseEntry(
        "linear",
        {
            "type": "http",
            "url": SERVER,
            "auth": "exchange",
            "exchange": {"clientId": "gw", "clientSecret": "${SECRET}", "audience": "api"},
        },
        {"SECRET": "s3cret"},
    )
    assert spec.remote is not None and spec.remote.auth == "exchange"
    assert spec.remote.exchange == TokenExchangeSettings(
        clientId="gw", clientSecret="s3cret", audience="api"
    )
    shown = remoteConfig(spec)
    assert shown["auth"] == "exchange"
    assert shown["exchange"] == {"clientId": "gw", "clientSecret": SECRET, "audience": "api"}
    assert "s3cret" not in repr(spec)


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ({"auth": "everyone"}, "'auth' must be one of"),
        ({"exchange": {}}, "is for an entry with"),
        ({"auth": "exchange", "type": "sse"}, "for Streamable HTTP"),
        ({"auth": "exchange", "exchange": []}, "must be an object"),
        ({"auth": "exchange", "exchange": {"secret": "x"}}, "unknown key"),
        ({"auth": "exchange", "exchange": {"clientId": ""}}, "non-empty string"),
        ({"auth": "exchange", "exchange": {"tokenUrl": "ftp://x"}}, "http:// or https://"),
    ],
)
def test_bad_auth_settings_are_refused_saying_why(entry: dict[str, Any], why: str) -> None:
    with pytest.raises(EntryError, match=why):
        parseEntry("linear", {"type": "http", "url": SERVER, **entry}, {})


def test_a_shared_token_entry_has_one_child_for_every_principal() -> None:
    spec = parseEntry(
        "linear", {"type": "http", "url": SERVER, "auth": "shared", "share": "global"}, {}
    )
    assert spec.remote is not None and not spec.remote.tokenPerPrincipal
    assert not spec.perPrincipal

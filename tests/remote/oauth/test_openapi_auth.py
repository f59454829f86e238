"""How a REST API served as tools authenticates, without a network: the
entry's OAuth client credentials (the token fetched, kept, shared, fetched
anew on a 401, and a refusal named), the C{mcpgateway login} grant refreshed
on a 401, a missing login named (and noted for C{/health}), each principal's
own token, and the C{oauth} object of the config."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from twisted.internet.task import Clock

from mcpgateway.config.servers import EntryError, parseEntry
from mcpgateway.core.spec import ClientCredentials, RemoteEndpoint, ServerSpec
from mcpgateway.ops.management import SECRET, remoteConfig
from mcpgateway.remote.connect import RemoteServers
from mcpgateway.remote.oauth.clientcredentials import (
    ClientCredentialsError,
    ClientCredentialsToken,
)
from mcpgateway.remote.oauth.credentials import UpstreamCredentials
from mcpgateway.remote.oauth.tokens import TokenStore, UpstreamGrant
from mcpgateway.remote.restchild import RestChild
from tests.fakes import FakeProcessReactor
from tests.remote.fakehttp import FakeAgent, FakeResponse, Sent, jsonResponse, noFailuresLogged
from tests.support.remote.oauth import MemoryKey

BASE = "https://api.example.com"
TOKEN_URL = "https://auth.example.com/token"
SECRET_VALUE = "s3cret-value"
DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Pets", "version": "1"},
    "paths": {
        "/pets": {"get": {"operationId": "listPets", "responses": {"200": {"description": "pets"}}}}
    },
}
CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "listPets"}}


def clientCredentials(secret: str = SECRET_VALUE) -> ClientCredentials:
    return ClientCredentials(TOKEN_URL, "gateway", secret, "pets:read", "https://pets")


def tokenAnswer(token: str, expiresIn: int | None = 3600) -> FakeResponse:
    body: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
    if expiresIn is not None:
        body["expires_in"] = expiresIn
    return jsonResponse(body)


def child(
    tmp_path: Path,
    *,
    clientToken: ClientCredentialsToken | None = None,
    credentials: UpstreamCredentials | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    principal: str = "",
    agent: FakeAgent | None = None,
) -> tuple[RestChild, FakeAgent, Clock, list[dict[str, Any]]]:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(DOCUMENT))
    agent = agent if agent is not None else FakeAgent()
    clock = Clock()
    got: list[dict[str, Any]] = []
    endpoint = RemoteEndpoint(BASE, "openapi", headers, str(spec), principal=principal)
    rest = RestChild(
        "pets",
        endpoint,
        agent,
        clock,
        got.append,
        credentials=credentials,
        clientToken=clientToken,
    )
    return rest, agent, clock, got


def textOf(answer: dict[str, Any]) -> str:
    return str(answer["result"]["content"][0]["text"])


def form(sent: Sent) -> dict[str, list[str]]:
    return parse_qs((sent.body or b"").decode())


# -- the client credentials' token ------------------------------------------------------


def test_one_fetch_for_every_waiter_with_basic_auth_and_the_apis_resource() -> None:
    """A confidential client authenticates with HTTP Basic (the secret is
    not in the form), names the API's base URL as its resource, its scope
    and audience; callers that come while the token is asked for share the
    one request, and the token is kept for the next."""
    agent = FakeAgent()
    token = ClientCredentialsToken("pets", clientCredentials(), agent, now=lambda: 0.0)
    got: list[str] = []
    token.authorization(BASE).addCallback(got.append)
    token.authorization(BASE).addCallback(got.append)
    sent = agent.one(b"POST")
    assert sent.uri == TOKEN_URL.encode()
    assert sent.header("authorization") == "Basic " + base64.b64encode(
        f"gateway:{SECRET_VALUE}".encode()
    ).decode("ascii")
    assert form(sent) == {
        "grant_type": ["client_credentials"],
        "resource": [BASE],
        "scope": ["pets:read"],
        "audience": ["https://pets"],
    }
    sent.answer(tokenAnswer("t-1"))
    assert got == ["Bearer t-1", "Bearer t-1"]
    token.authorization(BASE).addCallback(got.append)
    assert agent.sent == [] and got[-1] == "Bearer t-1"
    assert token.fetches == 1


def test_a_public_client_names_itself_in_the_form() -> None:
    """Without a secret the client id is in the form and no C{Authorization} is sent."""
    agent = FakeAgent()
    ClientCredentialsToken("pets", clientCredentials(secret=""), agent).authorization(BASE)
    sent = agent.one(b"POST")
    assert sent.header("authorization") is None
    assert form(sent)["client_id"] == ["gateway"]


def test_the_token_is_fetched_anew_a_minute_before_it_expires() -> None:
    """A token good for an hour is used for 59 minutes; one good for 30 s
    is used for 15 (half its life)."""
    agent, now = FakeAgent(), [0.0]
    token = ClientCredentialsToken("pets", clientCredentials(), agent, now=lambda: now[0])
    token.authorization(BASE)
    agent.one().answer(tokenAnswer("t-1", 3600))
    now[0] = 3539.0
    token.authorization(BASE)
    assert agent.sent == []
    now[0] = 3540.0
    got: list[str] = []
    token.authorization(BASE).addCallback(got.append)
    agent.one().answer(tokenAnswer("t-2", 30))
    assert got == ["Bearer t-2"]
    now[0] = 3554.0
    token.authorization(BASE)
    assert agent.sent == []
    now[0] = 3555.0
    token.authorization(BASE)
    assert len(agent.take()) == 1


def test_a_refusal_names_the_endpoint_the_status_and_the_description() -> None:
    """The error says what the token endpoint answered, never the secret,
    and the next request asks again."""
    agent = FakeAgent()
    token = ClientCredentialsToken("pets", clientCredentials(), agent)
    failures: list[Any] = []
    token.authorization(BASE).addErrback(failures.append)
    agent.one().answer(
        FakeResponse(
            401,
            json.dumps({"error": "invalid_client", "error_description": "bad secret"}).encode(),
        )
    )
    [failure] = failures
    assert failure.check(ClientCredentialsError)
    message = failure.getErrorMessage()
    assert message == (
        f"the token endpoint {TOKEN_URL} refused the client credentials (HTTP 401: bad secret)"
    )
    assert SECRET_VALUE not in message
    token.authorization(BASE)
    assert len(agent.take()) == 1


def test_renew_fetches_once_for_the_refused_token_and_not_for_a_newer_one() -> None:
    """Two calls refused with the same token get one new token; a call
    refused with a token already replaced gets the new one at once."""
    agent = FakeAgent()
    token = ClientCredentialsToken("pets", clientCredentials(), agent, now=lambda: 0.0)
    token.authorization(BASE)
    agent.one().answer(tokenAnswer("t-1"))
    got: list[str] = []
    token.renew("Bearer t-1", BASE).addCallback(got.append)
    token.renew("Bearer t-1", BASE).addCallback(got.append)
    agent.one().answer(tokenAnswer("t-2"))
    token.renew("Bearer t-1", BASE).addCallback(got.append)
    assert agent.sent == []
    assert got == ["Bearer t-2"] * 3


# -- a RestChild with client credentials -------------------------------------------------


def tokenChild(
    tmp_path: Path, now: Callable[[], float] = lambda: 0.0
) -> tuple[RestChild, FakeAgent, Clock, list[dict[str, Any]]]:
    """A child of C{pets} whose calls carry a token it fetches with client
    credentials, its calls and token requests on one fake agent."""
    agent = FakeAgent()
    token = ClientCredentialsToken("pets", clientCredentials(), agent, now=now)
    return child(tmp_path, clientToken=token, agent=agent)


def toolError(got: list[dict[str, Any]], agent: FakeAgent) -> str:
    """The text of the tool error the call in C{got} ended with, nothing
    more sent on C{agent}."""
    assert agent.sent == []
    assert got[0]["result"]["isError"] is True
    return textOf(got[0])


def test_a_call_carries_the_token_and_a_401_fetches_a_new_one_and_sends_again(
    tmp_path: Path,
) -> None:
    """The API's 401 (the token expired early, or was revoked) gets a new
    token and the call is sent again, once, with it."""
    rest, agent, clock, got = tokenChild(tmp_path)
    with noFailuresLogged():
        rest.send(CALL)
        agent.one(b"POST").answer(tokenAnswer("t-1"))
        first = agent.one(b"GET")
        assert first.uri == f"{BASE}/pets".encode()
        assert first.header("authorization") == "Bearer t-1"
        first.answer(FakeResponse(401, b'{"error": "expired"}'))
        agent.one(b"POST").answer(tokenAnswer("t-2"))
        second = agent.one(b"GET")
        assert second.header("authorization") == "Bearer t-2"
        second.answer(jsonResponse([{"name": "rex"}]))
        clock.advance(0)
    assert got[0]["id"] == 7 and "isError" not in got[0]["result"]
    assert json.loads(textOf(got[0])) == [{"name": "rex"}]


def test_a_second_401_is_a_tool_error_naming_the_token_endpoint(tmp_path: Path) -> None:
    """A new token refused too is not fetched a third time: the call fails."""
    rest, agent, clock, got = tokenChild(tmp_path)
    rest.send(CALL)
    agent.one(b"POST").answer(tokenAnswer("t-1"))
    agent.one(b"GET").answer(FakeResponse(401, b"no"))
    agent.one(b"POST").answer(tokenAnswer("t-2"))
    agent.one(b"GET").answer(FakeResponse(401, b"still no"))
    clock.advance(0)
    assert toolError(got, agent) == (
        f"HTTP 401: still no (the token of client credentials from {TOKEN_URL} is refused)"
    )


def test_a_refused_token_request_is_the_calls_error(tmp_path: Path) -> None:
    """The token endpoint's refusal is the tool's error; the API is not called."""
    rest, agent, clock, got = tokenChild(tmp_path, now=time.time)
    with noFailuresLogged():
        rest.send(CALL)
        agent.one(b"POST").answer(FakeResponse(400, b'{"error": "invalid_scope"}'))
        clock.advance(0)
    assert toolError(got, agent) == (
        f"server 'pets': the token endpoint {TOKEN_URL} refused the client credentials"
        " (HTTP 400: invalid_scope)"
    )
    assert rest.stderrTail and SECRET_VALUE not in " ".join(rest.stderrTail)


def test_the_servers_children_share_one_token(tmp_path: Path) -> None:
    """The connector gives every child of one server the same token, and a
    new one when the entry's credentials change."""
    remotes = RemoteServers(FakeProcessReactor())
    endpoint = RemoteEndpoint(
        BASE, "openapi", (), "/srv/openapi.json", clientCredentials=clientCredentials()
    )

    def connect(endpoint: RemoteEndpoint) -> Any:
        spec = ServerSpec(name="pets", command="", remote=endpoint)
        return remotes.connect(spec, lambda message: None, lambda line: None)

    first, second = connect(endpoint), connect(endpoint)
    assert first._clientToken is not None
    assert first._clientToken is second._clientToken
    changed = connect(
        RemoteEndpoint(
            BASE, "openapi", (), "/srv/openapi.json", clientCredentials=clientCredentials("other")
        )
    )
    assert changed._clientToken is not first._clientToken
    assert connect(RemoteEndpoint(BASE, "openapi", (), "/srv/openapi.json"))._clientToken is None


# -- the login's grant ------------------------------------------------------------------------


def grant(principal: str = "", **changes: Any) -> UpstreamGrant:
    values: dict[str, Any] = {
        "server": "pets",
        "resource": BASE,
        "tokenEndpoint": TOKEN_URL,
        "clientId": "client-1",
        "accessToken": f"access-{principal or 'me'}",
        "refreshToken": f"refresh-{principal or 'me'}",
        "principal": principal,
    }
    values.update(changes)
    return UpstreamGrant(**values)


def store(
    tmp_path: Path, *grants: UpstreamGrant
) -> tuple[UpstreamCredentials, FakeAgent, TokenStore]:
    tokens = FakeAgent()
    kept = TokenStore(tmp_path / "state", MemoryKey())
    for one in grants:
        kept.put(one)
    return UpstreamCredentials(kept, lambda url: tokens, now=lambda: 0.0), tokens, kept


def test_a_401_refreshes_the_logins_token_and_sends_again(tmp_path: Path) -> None:
    """With a refresh token, the API's 401 refreshes the grant and the call
    goes again with the new token."""
    credentials, tokens, _ = store(tmp_path, grant())
    rest, agent, clock, got = child(tmp_path, credentials=credentials)
    with noFailuresLogged():
        rest.send(CALL)
        first = agent.one(b"GET")
        assert first.header("authorization") == "Bearer access-me"
        first.answer(FakeResponse(401, b""))
        refresh = tokens.one(b"POST")
        assert form(refresh)["grant_type"] == ["refresh_token"]
        refresh.answer(tokenAnswer("access-2"))
        second = agent.one(b"GET")
        assert second.header("authorization") == "Bearer access-2"
        second.answer(jsonResponse([]))
        clock.advance(0)
    assert "isError" not in got[0]["result"]


def test_a_refused_refresh_is_an_error_naming_the_login(tmp_path: Path) -> None:
    """A refresh the authorization server refuses ends with an error that
    says to log in again, and the server is noted as needing a login."""
    credentials, tokens, _ = store(tmp_path, grant())
    rest, agent, clock, got = child(tmp_path, credentials=credentials)
    rest.send(CALL)
    agent.one(b"GET").answer(FakeResponse(401, b"expired"))
    tokens.one(b"POST").answer(FakeResponse(400, b'{"error": "invalid_grant"}'))
    clock.advance(0)
    assert agent.sent == []
    assert textOf(got[0]) == (
        "HTTP 401: expired; its token is refused: run `mcpgateway login pets`"
    )
    assert credentials.loginState("pets") == "needed"


def test_a_401_without_a_login_names_it_and_health_says_needed_until_one(
    tmp_path: Path,
) -> None:
    """No grant: the call is sent without a token, its 401 is an error
    naming C{mcpgateway login pets}, and the server's login state is
    C{"needed"}, then C{"ok"} once the login's grant is in the store."""
    credentials, _, kept = store(tmp_path)
    rest, agent, clock, got = child(tmp_path, credentials=credentials)
    assert credentials.loginState("pets") is None  # never asked
    rest.send(CALL)
    sent = agent.one(b"GET")
    assert sent.header("authorization") is None
    sent.answer(FakeResponse(401, b'{"error": "unauthorized"}'))
    clock.advance(0)
    assert textOf(got[0]) == (
        'HTTP 401: {"error": "unauthorized"}; it needs a login: run `mcpgateway login pets`'
    )
    assert credentials.loginState("pets") == "needed"
    kept.put(grant())
    credentials.look()
    assert credentials.loginState("pets") == "ok"
    kept.remove("pets", BASE, "")
    credentials.look()
    assert credentials.loginState("pets") is None  # the flag went with the grant


def test_an_entrys_own_authorization_is_never_replaced(tmp_path: Path) -> None:
    """An entry with its own C{Authorization} header gets no gateway token
    and no refresh: its 401 says to check the entry's headers."""
    credentials, tokens, _ = store(tmp_path, grant())
    rest, agent, clock, got = child(
        tmp_path, credentials=credentials, headers=(("Authorization", "Bearer mine"),)
    )
    rest.send(CALL)
    sent = agent.one(b"GET")
    assert sent.header("authorization") == "Bearer mine"
    sent.answer(FakeResponse(401, b""))
    clock.advance(0)
    assert tokens.sent == [] and agent.sent == []
    assert textOf(got[0]) == "HTTP 401 (check the credentials in the entry's headers)"


# -- each principal's own token ----------------------------------------------------------------


def test_a_principals_child_never_sends_another_principals_token(tmp_path: Path) -> None:
    """Bob's child sends Bob's token; with only Alice's grant held it sends
    none, and its 401 neither refreshes nor uses Alice's grant."""
    credentials, tokens, kept = store(tmp_path, grant("p-alice"), grant("p-bob"))
    rest, agent, clock, got = child(tmp_path, credentials=credentials, principal="p-bob")
    rest.send(CALL)
    sent = agent.one(b"GET")
    assert sent.header("authorization") == "Bearer access-p-bob"
    sent.answer(jsonResponse([]))
    kept.remove("pets", BASE, "p-bob")
    credentials.look()
    rest.send(CALL)
    sent = agent.one(b"GET")
    assert sent.header("authorization") is None
    sent.answer(FakeResponse(401, b""))
    clock.advance(0)
    assert tokens.sent == [] and agent.sent == []
    assert "access-p-alice" not in json.dumps(got)
    assert got[1]["result"]["isError"] is True
    assert credentials.loginState("pets", "p-bob") == "needed"
    assert credentials.loginState("pets") is None  # the gateway's own login is not asked for


# -- the config ---------------------------------------------------------------------------------


def entry(**oauth: Any) -> dict[str, Any]:
    return {"type": "openapi", "spec": "/srv/openapi.json", "baseUrl": BASE, "oauth": oauth}


def test_the_oauth_object_gives_client_credentials_with_the_secret_expanded() -> None:
    """C{tokenUrl}, C{clientId}, C{clientSecret} (its C{${VAR}} expanded),
    C{scope} and C{audience}; the secret is not in the spec's repr nor in
    the API's view of it, and every principal shares the server's child."""
    spec = parseEntry(
        "pets",
        entry(
            tokenUrl=TOKEN_URL,
            clientId="gateway",
            clientSecret="${PETS_SECRET}",
            scope="pets:read",
            audience="https://pets",
        ),
        {"PETS_SECRET": SECRET_VALUE},
    )
    assert spec.remote is not None
    assert spec.remote.clientCredentials == clientCredentials()
    assert SECRET_VALUE not in repr(spec)
    assert spec.remote.tokenPerPrincipal is False
    shown = remoteConfig(spec)
    assert shown["oauth"] == {
        "tokenUrl": TOKEN_URL,
        "clientId": "gateway",
        "clientSecret": SECRET,
        "scope": "pets:read",
        "audience": "https://pets",
    }
    assert SECRET_VALUE not in json.dumps(shown)


@pytest.mark.parametrize(
    ("oauth", "headers", "error"),
    [
        ({"tokenUrl": TOKEN_URL}, {}, "'oauth.clientId' is needed"),
        ({"tokenUrl": "ftp://x", "clientId": "c"}, {}, "'oauth.tokenUrl' must be an http"),
        ({"tokenUrl": TOKEN_URL, "clientId": "c", "clientSecret": 3}, {}, "oauth.clientSecret"),
        ({"tokenUrl": TOKEN_URL, "clientId": "c", "clientSecret": "${NOPE}"}, {}, "not set"),
        ({"tokenUrl": TOKEN_URL, "clientId": "c"}, {"Authorization": "x"}, "Authorization"),
    ],
)
def test_a_broken_oauth_object_is_refused(
    oauth: dict[str, Any], headers: dict[str, str], error: str
) -> None:
    """Each mistake is refused with words that name it (never the secret)."""
    given = {**entry(**oauth), "headers": headers}
    with pytest.raises(EntryError, match=error):
        parseEntry("pets", given, {})

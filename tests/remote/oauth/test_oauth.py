"""Upstream OAuth without a network: discovery's pure functions, the
encrypted token store, the running gateway's credentials (refresh on a fake
agent), and a remote session that gets a 401."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mcpgateway.core.spec import RemoteEndpoint
from mcpgateway.remote.oauth.credentials import UpstreamCredentials
from mcpgateway.remote.oauth.discovery import (
    AuthServer,
    DiscoveryError,
    Pkce,
    authorizeUrl,
    authServerMetadataUrls,
    challengeParams,
    resourceMetadataUrls,
    tokenResponse,
)
from mcpgateway.remote.oauth.tokens import (
    KEY_FILE,
    TOKENS_FILE,
    TokenStore,
    TokenStoreError,
    UpstreamGrant,
)
from mcpgateway.remote.streamable import StreamableChild
from tests.remote.fakehttp import FakeAgent, FakeResponse, jsonResponse
from tests.support.remote.oauth import METADATA, MemoryKey


def grant(**changes: Any) -> UpstreamGrant:
    values: dict[str, Any] = {
        "server": "linear",
        "resource": "https://mcp.example.com/mcp",
        "tokenEndpoint": "https://auth.example.com/token",
        "clientId": "client-1",
        "accessToken": "access-1",
        "refreshToken": "refresh-1",
        "expiresAt": 1000.0,
    }
    values.update(changes)
    return UpstreamGrant(**values)


# -- discovery -------------------------------------------------------------------------


def test_a_bearer_challenge_gives_its_parameters() -> None:
    header = (
        'Bearer error="invalid_token", resource_metadata="https://mcp.example.com/'
        '.well-known/oauth-protected-resource/mcp", scope="read write"'
    )
    params = challengeParams(header)
    assert params["resource_metadata"].endswith("/oauth-protected-resource/mcp")
    assert params["scope"] == "read write"
    assert challengeParams("Basic realm=x") == {}
    assert challengeParams(None) == {}


@given(st.text(max_size=200))
def test_any_challenge_header_parses_without_raising(header: str) -> None:
    assert isinstance(challengeParams(header), dict)


def test_resource_metadata_is_looked_for_where_the_challenge_says_then_at_well_known_places() -> (
    None
):
    urls = resourceMetadataUrls(
        "https://mcp.example.com/v1/mcp", {"resource_metadata": "https://mcp.example.com/meta"}
    )
    assert urls == [
        "https://mcp.example.com/meta",
        "https://mcp.example.com/.well-known/oauth-protected-resource/v1/mcp",
        "https://mcp.example.com/.well-known/oauth-protected-resource",
    ]
    # A metadata URL over plain http to another host is not followed.
    assert "http://evil.example/meta" not in resourceMetadataUrls(
        "https://mcp.example.com/mcp", {"resource_metadata": "http://evil.example/meta"}
    )


def test_an_issuer_with_a_path_is_looked_up_as_rfc_8414_and_oidc_say() -> None:
    assert authServerMetadataUrls("https://auth.example.com/tenant1") == [
        "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
        "https://auth.example.com/.well-known/openid-configuration/tenant1",
        "https://auth.example.com/tenant1/.well-known/openid-configuration",
        "https://auth.example.com/.well-known/oauth-authorization-server",
    ]


def test_an_authorization_server_without_pkce_s256_is_refused() -> None:
    with pytest.raises(DiscoveryError, match="PKCE"):
        AuthServer.fromMetadata({**METADATA, "code_challenge_methods_supported": ["plain"]})
    server = AuthServer.fromMetadata(METADATA)
    assert server.registrationEndpoint == "https://auth.example.com/register"
    assert server.scopes == ("read", "write")


def test_the_authorize_url_carries_pkce_state_and_the_resource() -> None:
    pkce = Pkce.make()
    url = authorizeUrl(
        AuthServer.fromMetadata(METADATA),
        "client-1",
        "http://127.0.0.1:5000/callback",
        pkce,
        "https://mcp.example.com/mcp",
        "read",
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["code_challenge_method"] == "S256"
    digest = hashlib.sha256(pkce.verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert query["state"] == pkce.state
    assert query["resource"] == "https://mcp.example.com/mcp"
    assert (query["client_id"], query["scope"]) == ("client-1", "read")
    assert Pkce.make().verifier != pkce.verifier


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ({"error": "invalid_grant", "error_description": "revoked"}, "invalid_grant (revoked)"),
        ({"token_type": "Bearer"}, "no access_token"),
        ({"access_token": "a", "token_type": "mac"}, "not Bearer"),
        ([], "not answer a JSON object"),
    ],
)
def test_a_token_answer_without_a_bearer_token_is_refused(answer: Any, why: str) -> None:
    with pytest.raises(DiscoveryError, match=why.replace("(", r"\(").replace(")", r"\)")):
        tokenResponse(answer)


# -- the store ---------------------------------------------------------------------------


def test_the_store_keeps_grants_encrypted_in_a_0600_file(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.put(grant())
    sealed = (tmp_path / TOKENS_FILE).read_bytes()
    assert b"access-1" not in sealed and b"refresh-1" not in sealed
    assert stat.S_IMODE((tmp_path / TOKENS_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    again = TokenStore(tmp_path).get("linear", "https://mcp.example.com/mcp")
    assert again is not None and again.accessToken == "access-1"


def test_a_store_whose_key_is_elsewhere_keeps_no_key_file(tmp_path: Path) -> None:
    keeper = MemoryKey()
    TokenStore(tmp_path, keeper).put(grant())
    assert keeper.key is not None
    assert not (tmp_path / KEY_FILE).exists()
    assert TokenStore(tmp_path, keeper).all()[0].refreshToken == "refresh-1"


def test_a_store_read_with_another_key_says_so(tmp_path: Path) -> None:
    TokenStore(tmp_path, MemoryKey()).put(grant())
    with pytest.raises(TokenStoreError, match="log in again"):
        TokenStore(tmp_path, MemoryKey()).all()


def test_each_write_changes_only_its_own_grant(tmp_path: Path) -> None:
    keeper = MemoryKey()
    first, second = TokenStore(tmp_path, keeper), TokenStore(tmp_path, keeper)
    first.put(grant())
    second.put(grant(server="notion", resource="https://notion.example/mcp"))
    first.put(grant(accessToken="access-2"))
    found = {g.server: g.accessToken for g in TokenStore(tmp_path, keeper).all()}
    assert found == {"linear": "access-2", "notion": "access-1"}
    assert first.remove("notion") == 1
    assert [g.server for g in first.all()] == ["linear"]


# -- the running gateway's credentials ----------------------------------------------------


def credentials(
    tmp_path: Path, now: float = 0.0
) -> tuple[UpstreamCredentials, FakeAgent, TokenStore]:
    agent = FakeAgent()
    store = TokenStore(tmp_path, MemoryKey())
    store.put(grant())
    return UpstreamCredentials(store, lambda url: agent, now=lambda: now), agent, store


def test_a_login_is_seen_within_a_second_without_a_restart(tmp_path: Path) -> None:
    store = TokenStore(tmp_path, MemoryKey())
    clock = [0.0]
    creds = UpstreamCredentials(store, lambda url: FakeAgent(), now=lambda: clock[0])
    assert creds.authorization("linear") is None
    store.put(grant())
    assert creds.authorization("linear") is None  # the file is looked at once a second
    clock[0] = 1.0
    assert creds.authorization("linear") == "Bearer access-1"


def test_a_token_about_to_expire_is_refreshed_once_and_a_rotated_refresh_token_kept(
    tmp_path: Path,
) -> None:
    creds, agent, store = credentials(tmp_path, now=950.0)
    assert creds.authorization("linear") == "Bearer access-1"  # still valid: used
    assert creds.authorization("linear") == "Bearer access-1"
    [sent] = agent.take()  # one refresh, however many requests
    assert (sent.method, sent.uri) == (b"POST", b"https://auth.example.com/token")
    form = parse_qs(sent.body.decode()) if sent.body else {}
    assert form["grant_type"] == ["refresh_token"]
    assert form["refresh_token"] == ["refresh-1"]
    assert form["resource"] == ["https://mcp.example.com/mcp"]
    assert form["client_id"] == ["client-1"]
    sent.answer(
        jsonResponse(
            {
                "access_token": "access-2",
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": "refresh-2",
            }
        )
    )
    assert creds.authorization("linear") == "Bearer access-2"
    kept = store.get("linear", "https://mcp.example.com/mcp")
    assert kept is not None and (kept.refreshToken, kept.expiresAt) == ("refresh-2", 4550.0)


def test_a_refused_refresh_forgets_the_grant(tmp_path: Path) -> None:
    creds, agent, _ = credentials(tmp_path)
    results: list[bool] = []
    creds.refresh("linear").addCallback(results.append)
    agent.one(b"POST").answer(
        FakeResponse(
            400, json.dumps({"error": "invalid_grant"}).encode(), contentType=b"application/json"
        )
    )
    assert results == [False]
    assert creds.authorization("linear") is None


# -- a remote session that gets a 401 --------------------------------------------------------


def session(
    tmp_path: Path, headers: tuple[tuple[str, str], ...] = ()
) -> tuple[StreamableChild, FakeAgent, FakeAgent, list[dict[str, Any]]]:
    upstream, tokens = FakeAgent(), FakeAgent()
    store = TokenStore(tmp_path, MemoryKey())
    store.put(grant())
    creds = UpstreamCredentials(store, lambda url: tokens, now=lambda: 0.0)
    got: list[dict[str, Any]] = []
    child = StreamableChild(
        "linear",
        RemoteEndpoint("https://mcp.example.com/mcp", "http", headers),
        upstream,
        Clock(),
        got.append,
        credentials=creds,
    )
    return child, upstream, tokens, got


INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}}


def test_requests_carry_the_gateways_token_and_a_401_refreshes_then_resends(
    tmp_path: Path,
) -> None:
    child, upstream, tokens, got = session(tmp_path)
    child.send(INIT)
    first = upstream.one(b"POST")
    assert first.header("authorization") == "Bearer access-1"
    first.answer(
        FakeResponse(401, b"", headers={b"www-authenticate": b'Bearer error="invalid_token"'})
    )
    refresh = tokens.one(b"POST")
    refresh.answer(jsonResponse({"access_token": "access-2", "token_type": "Bearer"}))
    again = upstream.one(b"POST")
    assert again.header("authorization") == "Bearer access-2"
    assert again.json == INIT
    again.answer(jsonResponse({"jsonrpc": "2.0", "id": 0, "result": {"protocolVersion": "x"}}))
    assert got == [{"jsonrpc": "2.0", "id": 0, "result": {"protocolVersion": "x"}}]


def test_a_401_the_refresh_cannot_cure_names_the_login_command(tmp_path: Path) -> None:
    child, upstream, tokens, got = session(tmp_path)
    child.send(INIT)
    upstream.one(b"POST").answer(FakeResponse(401, b""))
    tokens.one(b"POST").answer(FakeResponse(400, b'{"error": "invalid_grant"}'))
    [error] = got
    assert "run `mcpgateway login linear`" in error["error"]["message"]


def test_an_entry_with_its_own_authorization_header_never_gets_the_gateways_token(
    tmp_path: Path,
) -> None:
    child, upstream, tokens, got = session(tmp_path, (("Authorization", "Bearer mine"),))
    child.send(INIT)
    sent = upstream.one(b"POST")
    assert sent.header("authorization") == "Bearer mine"
    sent.answer(FakeResponse(401, b""))
    assert tokens.take() == []
    assert "check the credentials in the entry's headers" in got[0]["error"]["message"]


def test_a_401_right_after_a_login_finds_the_new_grant(tmp_path: Path) -> None:
    upstream, tokens = FakeAgent(), FakeAgent()
    store = TokenStore(tmp_path, MemoryKey())
    creds = UpstreamCredentials(store, lambda url: tokens, now=lambda: 0.0)
    got: list[dict[str, Any]] = []
    child = StreamableChild(
        "linear",
        RemoteEndpoint("https://mcp.example.com/mcp"),
        upstream,
        Clock(),
        got.append,
        credentials=creds,
    )
    child.send(INIT)
    sent = upstream.one(b"POST")
    assert sent.header("authorization") is None  # no login yet
    store.put(grant())  # the login, within the second the store was last looked at
    sent.answer(FakeResponse(401, b""))
    tokens.one(b"POST").answer(jsonResponse({"access_token": "access-2", "token_type": "Bearer"}))
    assert upstream.one(b"POST").header("authorization") == "Bearer access-2"
    assert got == []


def test_an_sse_server_that_asks_for_a_login_ends_its_session_naming_the_command(
    tmp_path: Path,
) -> None:
    from mcpgateway.remote.httpsse import HttpSSEChild

    agent = FakeAgent()
    creds = UpstreamCredentials(TokenStore(tmp_path, MemoryKey()), lambda url: agent)
    lines: list[str] = []
    child = HttpSSEChild(
        "oldsse",
        RemoteEndpoint("https://old.example.com/sse", "sse"),
        agent,
        Clock(),
        lambda message: None,
        lines.append,
        credentials=creds,
    )
    agent.one(b"GET").answer(FakeResponse(401, b""))
    assert child.exited
    assert "run `mcpgateway login oldsse`" in lines[-1]


def test_a_session_id_that_is_not_visible_ascii_is_not_kept(tmp_path: Path) -> None:
    child, upstream, _, got = session(tmp_path)
    child.send(INIT)
    upstream.one(b"POST").answer(
        jsonResponse(
            {"jsonrpc": "2.0", "id": 0, "result": {"protocolVersion": "2025-11-25"}},
            headers={b"mcp-session-id": "s\u00e9ance".encode("latin-1")},
        )
    )
    child.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert upstream.one(b"POST").header("mcp-session-id") is None
    assert got[0]["result"]["protocolVersion"] == "2025-11-25"


def test_a_refreshed_token_the_server_refuses_the_session_to_gets_a_new_session(
    tmp_path: Path,
) -> None:
    """A 401 on an open session, then the resend with the refreshed token
    (or a new login's: another client of the server) answered 404, as a
    server that binds its sessions to the credential does: the gateway
    initializes a new session with the new token and sends the call there."""
    child, upstream, tokens, got = session(tmp_path)
    child.send(INIT)
    upstream.one(b"POST").answer(
        jsonResponse(
            {"jsonrpc": "2.0", "id": 0, "result": {"protocolVersion": "2025-11-25"}},
            headers={b"mcp-session-id": b"s1"},
        )
    )
    child.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    upstream.one(b"POST").answer(FakeResponse(202, b""))
    upstream.one(b"GET").answer(FakeResponse(405, b""))
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo"}}
    child.send(call)
    upstream.one(b"POST").answer(FakeResponse(401, b""))
    tokens.one(b"POST").answer(jsonResponse({"access_token": "access-2", "token_type": "Bearer"}))
    resent = upstream.one(b"POST")
    assert (resent.json, resent.header("mcp-session-id")) == (call, "s1")
    resent.answer(FakeResponse(404, b'{"error": "Session not found"}'))
    reinit = upstream.one(b"POST")
    assert reinit.json["method"] == "initialize"
    assert reinit.header("mcp-session-id") is None
    assert reinit.header("authorization") == "Bearer access-2"
    reinit.answer(
        jsonResponse(
            {
                "jsonrpc": "2.0",
                "id": reinit.json["id"],
                "result": {"protocolVersion": "2025-11-25"},
            },
            headers={b"mcp-session-id": b"s2"},
        )
    )
    initialized = upstream.one(b"POST")
    assert initialized.json["method"] == "notifications/initialized"
    initialized.answer(FakeResponse(202, b""))
    [again] = [r for r in upstream.take() if r.method == b"POST"]
    assert (again.json, again.header("mcp-session-id")) == (call, "s2")
    again.answer(jsonResponse({"jsonrpc": "2.0", "id": 1, "result": {"content": []}}))
    assert got[1:] == [{"jsonrpc": "2.0", "id": 1, "result": {"content": []}}]


# -- a grant is for the URL it was obtained for ----------------------------------------------


def childAt(
    tmp_path: Path, url: str, *grants: UpstreamGrant
) -> tuple[StreamableChild, FakeAgent, list[dict[str, Any]], UpstreamCredentials]:
    upstream = FakeAgent()
    store = TokenStore(tmp_path, MemoryKey())
    for one in grants:
        store.put(one)
    creds = UpstreamCredentials(store, lambda url: FakeAgent(), now=lambda: 0.0)
    got: list[dict[str, Any]] = []
    child = StreamableChild(
        "linear", RemoteEndpoint(url), upstream, Clock(), got.append, credentials=creds
    )
    return child, upstream, got, creds


def test_a_grant_goes_only_to_the_url_it_was_obtained_for(tmp_path: Path) -> None:
    """The entry's URL changed to another host: the old server's token is
    not sent there, and the 401 says the login held is for the old URL and
    names the login command."""
    old = grant(serverUrl="https://mcp.example.com/mcp")
    child, upstream, got, creds = childAt(tmp_path, "https://evil.example/mcp", old)
    child.send(INIT)
    sent = upstream.one(b"POST")
    assert sent.header("authorization") is None
    sent.answer(FakeResponse(401, b""))
    message = got[0]["error"]["message"]
    assert "the login held is for https://mcp.example.com/mcp" in message
    assert "run `mcpgateway login linear` again" in message
    assert creds.loginState("linear") == "needed"


def test_another_path_or_port_on_the_same_host_is_another_server(tmp_path: Path) -> None:
    for url in ("https://mcp.example.com/other", "https://mcp.example.com:8443/mcp"):
        held = grant(serverUrl="https://mcp.example.com/mcp")
        child, upstream, _, _ = childAt(tmp_path / url.replace("/", "_"), url, held)
        child.send(INIT)
        assert upstream.one(b"POST").header("authorization") is None


def test_another_spelling_of_the_same_url_is_the_same_server(tmp_path: Path) -> None:
    held = grant(serverUrl="https://mcp.example.com/mcp")
    child, upstream, _, _ = childAt(tmp_path, "HTTPS://MCP.example.com:443/mcp/", held)
    child.send(INIT)
    assert upstream.one(b"POST").header("authorization") == "Bearer access-1"


def test_a_grant_kept_before_the_url_was_recorded_serves_its_unchanged_url(
    tmp_path: Path,
) -> None:
    """A store written by an earlier gateway (grants keyed by server,
    resource and principal, no URL of their own) keeps working for the
    URL its resource covers, and only for it."""
    keeper = MemoryKey()
    oldGrant = {
        "server": "linear",
        "resource": "https://mcp.example.com/mcp",
        "tokenEndpoint": "https://auth.example.com/token",
        "clientId": "client-1",
        "accessToken": "access-old",
        "principal": "",
    }
    TokenStore(tmp_path, keeper).writeSection(
        "grants", {json.dumps(["linear", "https://mcp.example.com/mcp", ""]): oldGrant}
    )
    creds = UpstreamCredentials(TokenStore(tmp_path, keeper), lambda url: FakeAgent())
    assert creds.authorization("linear", "", "https://mcp.example.com/mcp") == "Bearer access-old"
    assert creds.authorization("linear", "", "https://mcp.example.com/mcp/") == "Bearer access-old"
    assert creds.authorization("linear", "", "https://other.example.com/mcp") is None
    rooted = TokenStore(tmp_path / "rooted", keeper)
    rooted.writeSection("grants", {"k": {**oldGrant, "resource": "https://mcp.example.com"}})
    creds = UpstreamCredentials(rooted, lambda url: FakeAgent())
    assert creds.authorization("linear", "", "https://mcp.example.com/mcp") == "Bearer access-old"


def test_the_store_keeps_one_grant_per_server_keyed_by_resource_and_issuer(
    tmp_path: Path,
) -> None:
    """A new login (another authorization server, another URL) replaces the
    grant it supersedes; the store's key names the resource and the issuer."""
    store = TokenStore(tmp_path, MemoryKey())
    store.put(grant(issuer="https://auth.example.com", serverUrl="https://mcp.example.com/mcp"))
    store.put(
        grant(
            issuer="https://other-auth.example.com",
            accessToken="access-2",
            serverUrl="https://mcp.example.com/mcp",
        )
    )
    [kept] = store.all()
    assert (kept.issuer, kept.accessToken) == ("https://other-auth.example.com", "access-2")
    [key] = store.section("grants")
    assert json.loads(key) == [
        "linear",
        "https://mcp.example.com/mcp",
        "",
        "https://other-auth.example.com",
    ]
    store.put(grant(principal="p-alice", serverUrl="https://mcp.example.com/mcp"))
    assert len(store.all()) == 2  # each principal's own

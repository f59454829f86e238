"""Principals' own upstream tokens without a network: the sealed login
links and states, the login through the gateway's pages (a fake
authorization server answering the blocking exchanges), the spec of a
principal's child, and a child that calls with its principal's token and
answers a missing one with the link (as a URL elicitation when the client
takes them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mcpgateway.core.spec import RemoteEndpoint, ServerSpec
from mcpgateway.protocol import jsonrpc
from mcpgateway.remote.oauth.credentials import UpstreamCredentials, loginNeeded
from mcpgateway.remote.oauth.links import TICKET_TTL, LinkError, LoginLinks
from mcpgateway.remote.oauth.login import LoginError
from mcpgateway.remote.oauth.tokens import TokenStore, UpstreamGrant
from mcpgateway.remote.oauth.weblogin import Finished
from mcpgateway.remote.streamable import StreamableChild
from tests.remote.fakehttp import FakeAgent, FakeResponse, jsonResponse
from tests.support.remote.oauth import METADATA, MemoryKey
from tests.support.remote.weblogin import (
    BROWSER,
    GATEWAY,
    SERVER_URL,
    asked,
    authorizeUrl,
    fired,
    initialize,
    stateOf,
    ticketOf,
    webLogin,
)


def links(now: list[float] | None = None) -> LoginLinks:
    cipher = Fernet(Fernet.generate_key())
    clock = now if now is not None else [1_000_000.0]
    return LoginLinks(lambda: cipher, lambda: GATEWAY, lambda: clock[0])


# -- links ---------------------------------------------------------------------------


def test_a_link_names_the_gateway_the_server_and_a_ticket_for_the_principal() -> None:
    made = links()
    link = made.link("linear", "p-alice")
    assert link.startswith(f"{GATEWAY}/oauth/start/linear?ticket=")
    assert made.principalOf(ticketOf(link), "linear") == "p-alice"
    assert made.callbackUrl == f"{GATEWAY}/oauth/callback"


def test_a_ticket_is_good_for_its_own_server_only() -> None:
    made = links()
    ticket = ticketOf(made.link("linear", "p-alice"))
    with pytest.raises(LinkError):
        made.principalOf(ticket, "notion")


def test_a_ticket_expires() -> None:
    now = [1_000_000.0]
    made = links(now)
    ticket = ticketOf(made.link("linear", "p-alice"))
    now[0] += TICKET_TTL + 1
    with pytest.raises(LinkError):
        made.principalOf(ticket, "linear")


def test_another_gateways_ticket_does_not_open() -> None:
    ticket = ticketOf(links().link("linear", "p-alice"))
    with pytest.raises(LinkError):
        links().principalOf(ticket, "linear")


@given(st.text(max_size=300))
def test_any_string_as_a_ticket_is_refused_without_raising_anything_else(text: str) -> None:
    made = links()
    with pytest.raises(LinkError):
        made.principalOf(text, "linear")


def test_a_state_is_not_a_ticket() -> None:
    made = links()
    state = made.seal({"k": "state", "s": "linear", "p": "p-alice"})
    with pytest.raises(LinkError):
        made.principalOf(state, "linear")


# -- the login through the gateway's pages -------------------------------------------


def test_the_links_page_names_the_principal_the_server_and_the_authorization_server(
    tmp_path: Path,
) -> None:
    login, server, _, _ = webLogin(tmp_path)
    question = asked(login)
    assert (question.server, question.principal, question.name) == ("linear", "p-alice", "alice")
    assert question.authHost == "auth.example.com"
    assert server.registrations == 0  # nothing is done at the authorization server yet
    probe = server.sent[0]
    assert probe[3]["X-Team"] == "blue"  # the entry's headers go with the probe


def test_the_form_sends_the_browser_to_the_authorization_server_with_pkce_and_the_resource(
    tmp_path: Path,
) -> None:
    login, _, _, _ = webLogin(tmp_path)
    where = authorizeUrl(login)
    assert where.startswith(str(METADATA["authorization_endpoint"]))
    query = {k: v[0] for k, v in parse_qs(urlsplit(where).query).items()}
    assert query["client_id"] == "gw-client"
    assert query["redirect_uri"] == f"{GATEWAY}/oauth/callback"
    assert query["resource"] == SERVER_URL
    assert query["code_challenge_method"] == "S256"
    assert login.links.unseal(query["state"])["p"] == "p-alice"


def test_a_form_posted_from_another_browser_than_its_page_was_shown_in_is_refused(
    tmp_path: Path,
) -> None:
    """A page of another site cannot post the form for the browser that
    opened a link (it has not the browser's id), nor can another browser."""
    login, server, _, _ = webLogin(tmp_path)
    form = asked(login).form
    for browser in ("someone-elses-browser", ""):
        failure = fired(login.begin("linear", form, browser))
        assert failure.check(LinkError) and "another browser" in failure.getErrorMessage()
    assert fired(login.begin("notion", form, BROWSER)).check(LinkError)
    assert server.registrations == 0


def test_one_registration_serves_every_principals_login(tmp_path: Path) -> None:
    login, server, _, _ = webLogin(tmp_path)
    for principal in ("p-alice", "p-bob"):
        authorizeUrl(login, principal)
    assert server.registrations == 1


def test_the_callback_keeps_the_principals_grant_and_says_so(tmp_path: Path) -> None:
    """On a single-user gateway (a loopback one with one principal) the
    browser that finishes is the principal's: the grant is kept at once."""
    login, server, store, granted = webLogin(tmp_path)
    finished = fired(login.finish(stateOf(authorizeUrl(login)), "the-code", None, BROWSER))
    assert finished == Finished("linear", "alice", True)
    [grant] = store.all()
    assert (grant.server, grant.principal, grant.accessToken) == (
        "linear",
        "p-alice",
        "alice-access",
    )
    assert grant.expiresAt == 160.0
    assert grant.serverUrl == SERVER_URL
    assert granted == [grant]
    _, url, body, _ = server.sent[-1]
    form = parse_qs((body or b"").decode())
    assert url == METADATA["token_endpoint"]
    assert form["code"] == ["the-code"] and form["resource"] == [SERVER_URL]
    assert form["redirect_uri"] == [f"{GATEWAY}/oauth/callback"]
    assert len(form["code_verifier"][0]) >= 43


def test_a_callback_in_another_browser_than_the_one_that_posted_the_form_keeps_nothing(
    tmp_path: Path,
) -> None:
    """A code brought to the callback by another browser (a login CSRF:
    someone else's sign-in finished in the principal's browser) is refused
    before it is exchanged."""
    login, server, store, _ = webLogin(tmp_path)
    state = stateOf(authorizeUrl(login))
    sent = len(server.sent)
    failure = fired(login.finish(state, "the-code", None, "another-browser"))
    assert failure.check(LinkError) and "another browser" in failure.getErrorMessage()
    assert len(server.sent) == sent and store.all() == []


def test_a_refusal_at_the_authorization_server_keeps_nothing(tmp_path: Path) -> None:
    login, _, store, _ = webLogin(tmp_path)
    failure = fired(login.finish(stateOf(authorizeUrl(login)), None, "access_denied", BROWSER))
    assert failure.check(LoginError) and "access_denied" in failure.getErrorMessage()
    assert store.all() == []


def test_a_ticket_cannot_serve_as_the_callbacks_state(tmp_path: Path) -> None:
    login, _, store, _ = webLogin(tmp_path)
    ticket = ticketOf(login.links.link("linear", "p-alice"))
    assert fired(login.finish(ticket, "code", None, BROWSER)).check(LinkError)
    assert store.all() == []


def test_a_confirmation_link_cannot_start_a_sign_in_nor_a_sign_in_link_confirm(
    tmp_path: Path,
) -> None:
    login, server, _, _ = webLogin(tmp_path)
    confirm = ticketOf(login.links.confirmLink("linear", "p-alice"))
    assert fired(login.start("linear", confirm, BROWSER)).check(LinkError)
    start = ticketOf(login.links.link("linear", "p-alice"))
    assert fired(login.confirmation("linear", start, BROWSER)).check(LinkError)
    assert server.sent == []


def test_a_server_that_takes_no_principals_login_is_refused(tmp_path: Path) -> None:
    login, server, _, _ = webLogin(tmp_path)
    ticket = ticketOf(login.links.link("notion", "p-alice"))
    failure = fired(login.start("notion", ticket, BROWSER))
    assert failure.check(LoginError) and "notion" in failure.getErrorMessage()
    assert server.sent == []


# -- a principal's child ---------------------------------------------------------------


def test_a_remote_specs_child_for_a_principal_names_it_unless_its_token_is_shared() -> None:
    spec = ServerSpec("linear", SERVER_URL, remote=RemoteEndpoint(SERVER_URL))
    assert spec.forPrincipal("p-alice").principal == "p-alice"
    assert spec.forPrincipal("p-alice").remote == RemoteEndpoint(SERVER_URL, principal="p-alice")
    shared = ServerSpec("linear", SERVER_URL, remote=RemoteEndpoint(SERVER_URL, auth="shared"))
    assert shared.forPrincipal("p-alice") is shared
    keyed = ServerSpec(
        "api", SERVER_URL, remote=RemoteEndpoint(SERVER_URL, headers=(("Authorization", "k"),))
    )
    assert keyed.forPrincipal("p-alice") is keyed
    stdio = ServerSpec("fs", "npx")  # a stdio child for one principal is kept apart as such
    assert stdio.forPrincipal("p-alice").principal == "p-alice"
    assert stdio.forPrincipal("p-alice").forPrincipal("") == stdio
    assert stdio.forPrincipal("") is stdio


def test_a_shared_remote_server_gets_a_child_per_principal_unless_its_token_is_shared() -> None:
    perPrincipal = ServerSpec("api", "", mode="global", remote=RemoteEndpoint(SERVER_URL))
    assert perPrincipal.perPrincipal
    shared = ServerSpec("api", "", mode="global", remote=RemoteEndpoint(SERVER_URL, auth="shared"))
    assert not shared.perPrincipal


def principalChild(
    tmp_path: Path, initialize: dict[str, Any], withLinks: bool = True
) -> tuple[StreamableChild, FakeAgent, list[dict[str, Any]], UpstreamCredentials]:
    store = TokenStore(tmp_path, MemoryKey())
    store.put(
        UpstreamGrant(
            "linear",
            SERVER_URL,
            str(METADATA["token_endpoint"]),
            "c",
            accessToken="alice-access",
            principal="p-alice",
        )
    )
    upstream = FakeAgent()
    creds = UpstreamCredentials(store, lambda url: FakeAgent(), now=lambda: 0.0)
    if withLinks:
        creds.links = LoginLinks(store.cipher, lambda: GATEWAY)
    got: list[dict[str, Any]] = []
    child = StreamableChild(
        "linear",
        RemoteEndpoint(SERVER_URL, principal="p-bob"),
        upstream,
        Clock(),
        got.append,
        credentials=creds,
    )
    child.send(initialize)
    upstream.one(b"POST").answer(
        jsonResponse({"jsonrpc": "2.0", "id": 0, "result": {"protocolVersion": "2025-11-25"}})
    )
    return child, upstream, got, creds


CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "x"}}


def test_a_principals_child_never_sends_another_principals_token(tmp_path: Path) -> None:
    child, upstream, _got, _ = principalChild(tmp_path, initialize({}))
    child.send(CALL)
    sent = upstream.one(b"POST")
    assert sent.header("authorization") is None  # bob has no grant; alice's is not his


def test_a_missing_token_is_a_url_elicitation_for_a_client_that_takes_them(
    tmp_path: Path,
) -> None:
    child, upstream, got, _ = principalChild(tmp_path, initialize({"elicitation": {"url": {}}}))
    child.send(CALL)
    upstream.one(b"POST").answer(FakeResponse(401, b""))
    error = got[-1]["error"]
    assert error["code"] == jsonrpc.URL_ELICITATION_REQUIRED
    [elicitation] = error["data"]["elicitations"]
    assert elicitation["mode"] == "url" and elicitation["elicitationId"]
    assert elicitation["url"].startswith(f"{GATEWAY}/oauth/start/linear?ticket=")
    assert elicitation["url"] in error["message"]


def test_a_missing_token_names_the_link_for_a_client_without_url_elicitation(
    tmp_path: Path,
) -> None:
    child, upstream, got, _ = principalChild(tmp_path, initialize({"elicitation": {}}))
    child.send(CALL)
    upstream.one(b"POST").answer(FakeResponse(401, b""))
    error = got[-1]["error"]
    assert error["code"] == jsonrpc.SERVER_UNAVAILABLE
    assert f"sign in at {GATEWAY}/oauth/start/linear?ticket=" in error["message"]


def test_without_login_pages_the_hint_is_the_cli_login(tmp_path: Path) -> None:
    _, _, _, creds = principalChild(tmp_path, initialize({}), withLinks=False)
    assert loginNeeded(creds, "linear", "p-bob") == "run `mcpgateway login linear`"
    assert loginNeeded(None, "linear", "") == "run `mcpgateway login linear`"

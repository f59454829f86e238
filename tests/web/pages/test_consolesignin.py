"""The status page's "Sign in" button (web/pages/consolesignin.py) through
the real C{Site}, with fake children, a fake authorization server answering
the login's blocking exchanges, and the login run inline: on a team gateway
an admin is sent to a sign-in link of its own (a non-admin is refused, a
server that takes no sign-in is 404); on a loopback gateway without
authentication the button walks the local user through the gateway's own
login pages to the gateway's own login, and the item waiting for it goes
away."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.spec import RemoteEndpoint, ServerSpec
from mcpgateway.remote.connect import RemoteServers
from mcpgateway.remote.oauth.credentials import UpstreamCredentials, loginNeeded
from mcpgateway.remote.oauth.links import LinkError, LoginLinks
from mcpgateway.remote.oauth.tokens import TokenStore
from mcpgateway.web.app import makeSite
from mcpgateway.web.pages.consolesignin import OWN_NAME, ConsoleSignIn
from mcpgateway.web.pages.statusneeds import renderNeeds, signInPath
from mcpgateway.web.pages.statuspage import pageData
from mcpgateway.web.pages.upstreamlogin import BROWSER_COOKIE
from mcpgateway.web.root import GatewayRoot
from mcpgateway.web.teamcluster import TeamServices
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import Response, spec
from tests.support.remote.oauth import MemoryKey
from tests.support.remote.weblogin import GATEWAY, SERVER_URL, FakeAuthServer, inline, ticketOf
from tests.support.web.statuspage import Page
from tests.support.web.team_web import FakeGate, FakeQuota, RecordingAudit

HOST = "127.0.0.1:9100"
ORIGIN = f"http://{HOST}"


class SignInHarness:
    """A gateway with a remote server C{linear} (each principal's token), a
    remote server C{shared} (the gateway's own token), a stdio server
    C{srv}, and the credentials of a token store of the test's."""

    def __init__(self, tmp_path: Path, team: bool) -> None:
        self.reactor = FakeProcessReactor()
        remotes = RemoteServers(self.reactor, stateDir=tmp_path)
        credentials = remotes.credentials()
        assert credentials is not None
        self.store = TokenStore(tmp_path, MemoryKey())
        credentials._store = self.store
        self.credentials: UpstreamCredentials = credentials
        self.gateway = Gateway(
            {
                "linear": ServerSpec(name="linear", command="", remote=RemoteEndpoint(SERVER_URL)),
                "shared": ServerSpec(
                    name="shared", command="", remote=RemoteEndpoint(SERVER_URL, auth="shared")
                ),
                "srv": spec("srv"),
            },
            fakeSpawner(self.reactor, remotes=remotes),
        )
        self.audit = RecordingAudit()
        self.team = (
            TeamServices(FakeGate(), FakeQuota(), self.audit)
            if team
            else TeamServices(audit=self.audit)
        )
        if team:
            self.links = LoginLinks(self.store.cipher, lambda: GATEWAY)
            credentials.links = self.links
        self.site = makeSite(self.gateway, self.reactor, loopbackOnly=not team, team=self.team)
        root = self.site.resource
        assert isinstance(root, GatewayRoot)
        page = root._signIn()
        assert isinstance(page, ConsoleSignIn)
        self.authServer = FakeAuthServer()
        page.runInThread, page.fetch = inline, self.authServer

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        here: str = "127.0.0.1",
        peer: str = "127.0.0.1",
    ) -> Response:
        """One request from C{peer} to the gateway's address C{here}."""
        hdrs = {"host": HOST, **(headers or {}), "content-length": str(len(body))}
        lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in hdrs.items()]
        transport = StringTransport(
            hostAddress=IPv4Address("TCP", here, 9100), peerAddress=IPv4Address("TCP", peer, 50000)
        )
        protocol = self.site.buildProtocol(transport.getPeer())
        protocol.makeConnection(transport)
        protocol.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        return Response(transport)

    def as_(self, who: str, path: str) -> Response:
        return self.request("GET", path, {"authorization": f"Bearer {who}"})

    def needs(self) -> str:
        self.credentials.look()
        return renderNeeds({**pageData(self.gateway.readModel.status()), "pins": None})


def local(path: str) -> str:
    """The path and query of a URL of the gateway's."""
    parts = urlsplit(path)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# -- the item ----------------------------------------------------------------------


def test_the_item_waiting_for_a_sign_in_carries_its_sign_in_button(tmp_path: Path) -> None:
    h = SignInHarness(tmp_path, team=False)
    assert "waits for a sign-in" not in h.needs()
    loginNeeded(h.credentials, "linear", "")
    page = Page(h.needs())
    [button] = [a for t, a in page.tags if t == "a" and a.get("data-action") == "signin"]
    assert button["href"] == "/status/signin/linear"
    assert "mcpgateway login linear" in page.text("sub")


@given(st.text(min_size=1, max_size=40))
@settings(max_examples=50)
def test_a_sign_in_path_names_any_server_in_one_escaped_segment(name: str) -> None:
    path = signInPath(name)
    rest = path.removeprefix("/status/signin/")
    assert "/" not in rest and "?" not in rest and "#" not in rest
    assert '"' not in rest and "<" not in rest
    assert rest == quote(name, safe="")


# -- a team gateway ----------------------------------------------------------------


def test_an_admin_is_sent_to_a_sign_in_link_of_its_own(tmp_path: Path) -> None:
    h = SignInHarness(tmp_path, team=True)
    response = h.as_("root", "/status/signin/linear")
    assert response.status == 303
    where = response.headers["location"]
    assert where.startswith(f"{GATEWAY}/oauth/start/linear?ticket=")
    assert h.links.principalOf(ticketOf(where), "linear") == "key-root"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    [record] = [r for r in h.audit.records if r.method == "oauth/sign-in"]
    assert (record.principal, record.server, record.status) == ("key-root", "linear", 303)


def test_on_a_team_gateway_a_non_admin_and_a_caller_without_a_token_are_refused(
    tmp_path: Path,
) -> None:
    h = SignInHarness(tmp_path, team=True)
    assert h.as_("alice", "/status/signin/linear").status == 403
    assert h.request("GET", "/status/signin/linear").status == 401
    assert not [r for r in h.audit.records if r.method == "oauth/sign-in"]


def test_a_server_that_takes_no_sign_in_from_the_page_is_refused(tmp_path: Path) -> None:
    h = SignInHarness(tmp_path, team=True)
    for name in ("nope", "srv", "linear/more", "<b>x</b>"):
        response = h.as_("root", f"/status/signin/{quote(name, safe='/')}")
        assert response.status == 404, name
        assert "location" not in response.headers and "<b>" not in response.body.decode()
    assert h.as_("root", "/status/signin/").status == 404
    # The gateway's own login, shared by every principal: the command signs it in.
    shared = h.as_("root", "/status/signin/shared")
    assert shared.status == 409 and "mcpgateway login shared" in shared.body.decode()


def test_only_get_starts_a_sign_in(tmp_path: Path) -> None:
    h = SignInHarness(tmp_path, team=False)
    response = h.request("POST", "/status/signin/linear")
    assert response.status in (403, 405) and "location" not in response.headers


# -- a loopback gateway without authentication -------------------------------------


def test_the_local_users_sign_in_goes_through_the_gateways_own_pages(tmp_path: Path) -> None:
    """The button's link, its page, its form, the authorization server's
    redirect back to the gateway's own C{/oauth/callback}: the gateway's own
    login is kept, and the item waiting for it is gone."""
    h = SignInHarness(tmp_path, team=False)
    loginNeeded(h.credentials, "linear", "")
    assert "waits for a sign-in" in h.needs()
    assert h.request("GET", "/oauth/start/linear?ticket=x").status == 404  # no pages yet

    started = h.request("GET", "/status/signin/linear")
    assert started.status == 303
    where = started.headers["location"]
    assert where.startswith(f"{ORIGIN}/oauth/start/linear?ticket=")

    page = h.request("GET", local(where))
    assert page.status == 200, page.body
    assert OWN_NAME in page.body.decode()
    cookie = page.headers["set-cookie"].split(";")[0]
    assert cookie.startswith(BROWSER_COOKIE.decode() + "=")
    [form] = [a["value"] for t, a in Page(page.body.decode()).tags if a.get("name") == "login"]

    posted = h.request(
        "POST",
        "/oauth/start/linear",
        {
            "cookie": cookie,
            "origin": ORIGIN,
            "content-type": "application/x-www-form-urlencoded",
        },
        urlencode({"login": form}).encode(),
    )
    assert posted.status == 303, posted.body
    authorize = parse_qs(urlsplit(posted.headers["location"]).query)
    assert authorize["redirect_uri"] == [f"{ORIGIN}/oauth/callback"]
    registered = [json.loads(b or b"{}") for _, url, b, _ in h.authServer.sent if "register" in url]
    assert registered[0]["redirect_uris"] == [f"{ORIGIN}/oauth/callback"]

    back = h.request(
        "GET",
        "/oauth/callback?" + urlencode({"state": authorize["state"][0], "code": "the-code"}),
        {"cookie": cookie},
    )
    assert back.status == 200, back.body
    assert "can now call linear" in back.body.decode()
    grant = h.store.get("linear", SERVER_URL)
    assert grant is not None and grant.principal == "" and grant.accessToken
    assert h.credentials.loginState("linear") == "ok"
    assert "waits for a sign-in" not in h.needs()
    assert h.credentials.links is None  # the calls' errors still name the command
    [record] = [r for r in h.audit.records if r.method == "oauth/sign-in"]
    assert (record.principal, record.server) == ("", "linear")


def test_the_loopback_rules_guard_the_button(tmp_path: Path) -> None:
    h = SignInHarness(tmp_path, team=False)
    foreign = h.request("GET", "/status/signin/linear", {"origin": "https://evil.example"})
    assert foreign.status == 403 and "location" not in foreign.headers
    elsewhere = h.request("GET", "/status/signin/linear", {"host": "evil.example:9100"})
    assert elsewhere.status in (403, 421) and "location" not in elsewhere.headers


def test_a_gateway_without_authentication_signs_in_on_loopback_only(tmp_path: Path) -> None:
    h = SignInHarness(tmp_path, team=False)
    response = h.request("GET", "/status/signin/linear", here="10.0.0.1", peer="10.0.0.2")
    assert response.status in (403, 421) and "location" not in response.headers


def test_a_stdio_or_unknown_server_takes_no_sign_in_on_loopback(tmp_path: Path) -> None:
    h = SignInHarness(tmp_path, team=False)
    for name in ("srv", "nope"):
        assert h.request("GET", f"/status/signin/{name}").status == 404


def test_the_gateways_own_links_are_made_by_the_button_only(tmp_path: Path) -> None:
    """A ticket without a principal opens only with the links of the
    gateway's own login; an authenticated gateway's links refuse it."""
    store = TokenStore(tmp_path, MemoryKey())
    own = LoginLinks(store.cipher, lambda: ORIGIN, own=True)
    team = LoginLinks(store.cipher, lambda: GATEWAY)
    ticket = ticketOf(own.link("linear", ""))
    assert own.principalOf(ticket, "linear") == ""
    with pytest.raises(LinkError):
        team.principalOf(ticket, "linear")

"""A remote server behind OAuth on a team gateway: each principal calls it
with an upstream token of its own, bound to it only when it confirms it.

A real gateway with C{--auth-tokens} (alice and bob) serves the MCP SDK's
OAuth-protected server (tests/fixtures/oauth_server.py). A principal
without a token gets an error naming a sign-in link of the gateway's
(C{/oauth/start/<server>?ticket=...}). A browser (urllib with a cookie jar,
sending C{Origin} as a browser does with a form) opens it: the page names
the principal, and its form goes on to the authorization server (which
approves at once, as for a browser signed in there) and back. The tokens
are then held; the principal's next call names a confirmation link, which
the same browser confirms; only then do that principal's calls succeed.
Bob's link finished in alice's browser leaves bob without a token: his
confirmation from his own browser is refused, his next call says why, and
the gateway's log says so. A gateway on loopback whose tokens name one
principal keeps a sign-in at once (one click).
"""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from mcpgateway.remote.oauth.tokens import TokenStore
from tests.integration.gateway import RunningGateway, waitFor, writeConfig
from tests.support.integration.oauth_fixture import OAuthServer
from tests.support.integration.oauth_fixture import oauth as oauth  # the fixture
from tests.support.integration.per_user import tokens
from tests.support.integration.remote_team_login import call, linkOf, refusal

pytestmark = pytest.mark.integration

FORM = re.compile(r'<form method="post"><input type="hidden" name="login" value="([^"]+)">')


class Browser:
    """A browser: its own cookies, redirects followed, forms posted with
    the page's C{Origin}."""

    def __init__(self) -> None:
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def open(self, url: str, form: str | None = None) -> str:
        """The page at C{url} (after redirects); C{form}: post that form's value."""
        data = None if form is None else urlencode({"login": form}).encode()
        request = urllib.request.Request(url, data=data)
        if form is not None:
            parts = urlsplit(url)
            request.add_header("Origin", f"{parts.scheme}://{parts.netloc}")
        with self.opener.open(request, timeout=30) as page:
            return str(page.read().decode())

    def follow(self, link: str) -> str:
        """Open a link and post its page's form: the page that ends on."""
        page = self.open(link)
        found = FORM.search(page)
        assert found is not None, page
        action = link.split("?", 1)[0]
        return self.open(action, found.group(1))


@pytest.fixture
def guardedTeam(
    start: Any, home: Path, oauth: Callable[..., OAuthServer]
) -> tuple[RunningGateway, dict[str, dict[str, str]]]:
    server = oauth()
    config = writeConfig(
        home / "gateway.json", {"guarded": {"type": "http", "url": f"{server.base}/mcp"}}
    )
    path, headers = tokens(home, "alice", "bob")
    return start("--config", str(config), "--auth-tokens", str(path)), headers


def signIn(url: str, headers: dict[str, str], browser: Browser) -> None:
    """A principal's whole sign-in from its own browser: the link, the
    authorization server, the held tokens, the confirmation."""
    link = linkOf(url, headers)
    assert "/oauth/start/" in link
    assert "Almost done" in browser.follow(link)
    confirm = linkOf(url, headers)
    assert "/oauth/confirm/" in confirm
    assert "can now call guarded" in browser.follow(confirm)


def test_each_principal_signs_in_through_the_gateway_and_uses_only_its_own_token(
    guardedTeam: tuple[RunningGateway, dict[str, dict[str, str]]], home: Path
) -> None:
    """Alice's sign-in gives alice a token, not bob; then bob's gives bob his."""
    gateway, headers = guardedTeam
    url = gateway.url("guarded")
    alices, bobs = Browser(), Browser()
    aliceLink = linkOf(url, headers["alice"])
    assert "mcpgateway login" not in aliceLink
    page = alices.open(aliceLink)
    assert "Sign in to guarded for alice" in page
    assert "127.0.0.1" in page  # the authorization server's host

    signIn(url, headers["alice"], alices)
    assert call(url, headers["alice"], "alice") == "Echo: alice"

    assert "/oauth/start/" in linkOf(url, headers["bob"])  # alice's token is not his
    signIn(url, headers["bob"], bobs)
    assert call(url, headers["bob"], "bob") == "Echo: bob"
    assert call(url, headers["alice"], "again") == "Echo: again"

    grants = TokenStore(home / "state").all()
    assert len(grants) == 2
    assert len({grant.principal for grant in grants}) == 2
    assert "" not in {grant.principal for grant in grants}  # not the gateway user's login
    assert len({grant.accessToken for grant in grants}) == 2


def test_bobs_link_finished_in_alices_browser_leaves_bob_without_a_token_and_says_so(
    guardedTeam: tuple[RunningGateway, dict[str, dict[str, str]]], home: Path
) -> None:
    """Bob forwards his link to alice, whose browser finishes it with her
    account at the authorization server. Bob's next call names the
    confirmation; opened in bob's own browser it is refused (403: someone
    else signed in), the held tokens are dropped, bob's next call says why
    and names a new sign-in link, and no grant is bob's."""
    gateway, headers = guardedTeam
    url = gateway.url("guarded")
    alices, bobs = Browser(), Browser()
    bobsLink = linkOf(url, headers["bob"])
    assert "Sign in to guarded for bob" in alices.open(bobsLink)
    assert "Almost done" in alices.follow(bobsLink)

    confirm = linkOf(url, headers["bob"])
    assert "/oauth/confirm/" in confirm
    with pytest.raises(urllib.error.HTTPError) as refused:
        bobs.open(confirm)
    assert refused.value.code == 403
    assert "finished in another browser" in refused.value.read().decode()

    said = refusal(url, headers["bob"])
    assert "finished in another browser than yours" in said, said
    assert "/oauth/start/guarded?ticket=" in said
    assert TokenStore(home / "state").all() == []
    assert waitFor(lambda: "in another browser than the one that confirms it" in gateway.text())

    # Alice's browser cannot bind it afterwards either: it is gone.
    with pytest.raises(urllib.error.HTTPError) as gone:
        alices.follow(confirm)
    assert gone.value.code == 400
    assert TokenStore(home / "state").all() == []


def test_a_link_is_refused_when_tampered_with_or_for_another_server(
    guardedTeam: tuple[RunningGateway, dict[str, dict[str, str]]],
) -> None:
    """A changed ticket, or a ticket moved to another server's path, is a 400 page."""
    gateway, headers = guardedTeam
    link = linkOf(gateway.url("guarded"), headers["alice"])
    for bad in (
        link[:-6] + ("AAAAAA" if not link.endswith("AAAAAA") else "BBBBBB"),
        link.replace("/oauth/start/guarded?", "/oauth/start/other?"),
    ):
        with pytest.raises(urllib.error.HTTPError) as refused:
            Browser().open(bad)
        assert refused.value.code == 400
        assert refused.value.headers["cache-control"] == "no-store"


def test_a_form_from_another_origin_or_another_browser_goes_nowhere(
    guardedTeam: tuple[RunningGateway, dict[str, dict[str, str]]], home: Path
) -> None:
    """The page's form posted by a page of another site (its C{Origin}), or
    by another browser than the one the page was shown in, is refused."""
    gateway, headers = guardedTeam
    link = linkOf(gateway.url("guarded"), headers["alice"])
    shown = Browser()
    found = FORM.search(shown.open(link))
    assert found is not None
    action = link.split("?", 1)[0]
    forged = urllib.request.Request(
        action,
        data=urlencode({"login": found.group(1)}).encode(),
        headers={"Origin": "https://evil.example"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        shown.opener.open(forged, timeout=10)
    assert refused.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as elsewhere:
        Browser().open(action, found.group(1))
    assert elsewhere.value.code == 400
    assert "another browser" in elsewhere.value.read().decode()
    assert TokenStore(home / "state").all() == []


def test_a_loopback_gateway_with_one_principal_keeps_the_sign_in_at_once(
    start: Any, home: Path, oauth: Callable[..., OAuthServer]
) -> None:
    """One local user: the link, one click, and its calls carry its token."""
    server = oauth()
    config = writeConfig(
        home / "gateway.json", {"guarded": {"type": "http", "url": f"{server.base}/mcp"}}
    )
    path, headers = tokens(home, "me")
    gateway: RunningGateway = start("--config", str(config), "--auth-tokens", str(path))
    url = gateway.url("guarded")
    assert "can now call guarded" in Browser().follow(linkOf(url, headers["me"]))
    assert call(url, headers["me"], "at once") == "Echo: at once"

"""A team gateway's sign-in is bound to a principal only when that
principal confirms it: the tokens a sign-in brings back are held, the
principal's own next call gets a confirmation link, and only the browser
that finished the sign-in confirms it. A link forwarded to someone else and
finished in their browser leaves the principal without a token, and its
next calls say why (without a network: a fake authorization server answers
the blocking exchanges, a fake agent the remote server)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from twisted.internet.task import Clock

from mcpgateway.core.spec import RemoteEndpoint
from mcpgateway.protocol import jsonrpc
from mcpgateway.remote.oauth.credentials import UpstreamCredentials, loginNeeded
from mcpgateway.remote.oauth.links import LinkError
from mcpgateway.remote.oauth.pending import PENDING_TTL
from mcpgateway.remote.oauth.tokens import TokenStore, UpstreamGrant
from mcpgateway.remote.oauth.weblogin import Finished, ForeignBrowser, Question
from mcpgateway.remote.streamable import StreamableChild
from tests.fakes import capturedGatewayLogs
from tests.remote.fakehttp import FakeAgent, FakeResponse, jsonResponse
from tests.support.remote.oauth import MemoryKey
from tests.support.remote.weblogin import (
    GATEWAY,
    SERVER_URL,
    authorizeUrl,
    fired,
    initialize,
    stateOf,
    ticketOf,
    webLogin,
)

BOBS_BROWSER = "bobs-browser"
CAROLS_BROWSER = "carols-browser"
_ids = itertools.count(10)


def linkIn(text: str) -> str:
    """The gateway's link an error's text names."""
    return text[text.index(GATEWAY) :].split()[0]


class Team:
    """A team gateway's login (no single user), the credentials that make
    the principals' links, and bob's child of the remote server."""

    def __init__(self, tmp_path: Path, capabilities: dict[str, Any] | None = None) -> None:
        self.now = [100.0]
        self.login, self.server, self.store, self.granted = webLogin(tmp_path, singleUser=False)
        self.login.pending._now = lambda: self.now[0]
        self.credentials = UpstreamCredentials(
            self.store, lambda url: FakeAgent(), now=lambda: self.now[0]
        )
        self.credentials.links = self.login.links
        self.credentials.named("p-bob", "bob")
        self.upstream = FakeAgent()
        self.got: list[dict[str, Any]] = []
        self.child = StreamableChild(
            "linear",
            RemoteEndpoint(SERVER_URL, principal="p-bob"),
            self.upstream,
            Clock(),
            self.got.append,
            credentials=self.credentials,
        )
        self.child.send(initialize(capabilities or {}))
        self.upstream.one(b"POST").answer(
            jsonResponse({"jsonrpc": "2.0", "id": 0, "result": {"protocolVersion": "2025-11-25"}})
        )

    def bobCalls(self) -> tuple[str | None, dict[str, Any]]:
        """One call of bob's: the C{Authorization} it carried, and the error
        it got when the server answered 401 (or its result), a second after
        the last thing that happened (a person's pace)."""
        self.now[0] += 1.0
        call = {"jsonrpc": "2.0", "id": next(_ids), "method": "tools/call", "params": {}}
        self.child.send(call)
        sent = self.upstream.one(b"POST")
        carried = sent.header("authorization")
        if carried is None:
            sent.answer(FakeResponse(401, b""))
        else:
            sent.answer(jsonResponse({"jsonrpc": "2.0", "id": call["id"], "result": {}}))
        return carried, self.got[-1]

    def bobsLink(self) -> str:
        carried, answer = self.bobCalls()
        assert carried is None
        return linkIn(answer["error"]["message"])

    def signIn(self, link: str, browser: str) -> Finished:
        """Open bob's sign-in C{link} in C{browser}, post its page's form,
        and come back from the authorization server (which approves at
        once: the browser is signed in there)."""
        question = fired(self.login.start("linear", ticketOf(link), browser))
        assert isinstance(question, Question), question
        where = fired(self.login.begin("linear", question.form, browser))
        finished = fired(self.login.finish(stateOf(where), "the-code", None, browser))
        assert isinstance(finished, Finished), finished
        return finished


def test_a_team_gateways_sign_in_is_held_until_its_principal_confirms_it(
    tmp_path: Path,
) -> None:
    """Bob signs in in his own browser: the tokens are held, not used; his
    next call gets the confirmation link; confirming it from the same
    browser binds the tokens to him, and his calls carry them."""
    team = Team(tmp_path)
    link = team.bobsLink()
    assert link.startswith(f"{GATEWAY}/oauth/start/linear?ticket=")
    finished = team.signIn(link, BOBS_BROWSER)
    assert finished == Finished("linear", "bob", False)
    assert team.store.all() == [] and team.granted == []

    carried, answer = team.bobCalls()
    assert carried is None  # held, not used
    message = answer["error"]["message"]
    assert "confirm the sign-in that finished in your browser" in message
    confirm = linkIn(message)
    assert confirm.startswith(f"{GATEWAY}/oauth/confirm/linear?ticket=")

    question = fired(team.login.confirmation("linear", ticketOf(confirm), BOBS_BROWSER))
    assert isinstance(question, Question), question
    assert (question.name, question.authHost) == ("bob", "auth.example.com")
    done = fired(team.login.confirm("linear", question.form, BOBS_BROWSER))
    assert done == Finished("linear", "bob", True)
    [grant] = team.store.all()
    assert (grant.principal, grant.accessToken) == ("p-bob", "alice-access")
    assert team.granted == [grant]
    assert team.login.pending.held("linear", "p-bob") is None

    carried, answer = team.bobCalls()
    assert carried == "Bearer alice-access" and "result" in answer


def test_bobs_link_finished_in_another_persons_browser_leaves_bob_without_a_token_and_says_so(
    tmp_path: Path,
) -> None:
    """Bob forwards his link to carol, whose browser (signed in at the
    authorization server) finishes it with carol's account. Bob's next call
    gets the confirmation link; opened in bob's own browser it finds that
    the sign-in was finished elsewhere: the tokens are dropped (in the log
    too), bob's calls carry no token, and their error says why and gives
    him a new link to sign in himself."""
    team = Team(tmp_path)
    link = team.bobsLink()
    assert team.signIn(link, CAROLS_BROWSER).bound is False

    _, answer = team.bobCalls()
    confirm = linkIn(answer["error"]["message"])
    with capturedGatewayLogs() as events:
        refused = fired(team.login.confirmation("linear", ticketOf(confirm), BOBS_BROWSER))
    assert refused.check(ForeignBrowser)
    assert "finished in another browser" in refused.getErrorMessage()
    [warning] = [e for e in events if "another browser" in e.get("log_format", "")]
    assert (warning["server"], warning["principal"]) == ("linear", "p-bob")
    assert team.store.all() == []
    assert team.login.pending.held("linear", "p-bob") is None

    carried, answer = team.bobCalls()
    assert carried is None
    message = answer["error"]["message"]
    assert "finished in another browser than yours" in message
    assert f"{GATEWAY}/oauth/start/linear?ticket=" in message  # a new sign-in link
    assert team.credentials.loginState("linear", "p-bob") == "needed"

    # And nothing carol's browser does afterwards binds it: it is gone.
    refusedAgain = fired(team.login.confirmation("linear", ticketOf(confirm), CAROLS_BROWSER))
    assert refusedAgain.check(LinkError) and not refusedAgain.check(ForeignBrowser)
    assert team.store.all() == []


def test_bob_signing_in_himself_after_a_refusal_is_told_to_confirm_again(
    tmp_path: Path,
) -> None:
    team = Team(tmp_path)
    team.signIn(team.bobsLink(), CAROLS_BROWSER)
    _, answer = team.bobCalls()
    confirm = linkIn(answer["error"]["message"])
    fired(team.login.confirmation("linear", ticketOf(confirm), BOBS_BROWSER))
    _, answer = team.bobCalls()
    team.signIn(linkIn(answer["error"]["message"]), BOBS_BROWSER)
    _, answer = team.bobCalls()
    assert "confirm the sign-in" in answer["error"]["message"]
    assert "another browser than yours" not in answer["error"]["message"]


def test_a_confirmation_form_posted_from_another_browser_binds_nothing(tmp_path: Path) -> None:
    team = Team(tmp_path)
    team.signIn(team.bobsLink(), BOBS_BROWSER)
    confirm = team.credentials.loginLink("linear", "p-bob")
    assert confirm is not None and "/oauth/confirm/" in confirm
    question = fired(team.login.confirmation("linear", ticketOf(confirm), BOBS_BROWSER))
    failure = fired(team.login.confirm("linear", question.form, CAROLS_BROWSER))
    assert failure.check(LinkError) and "another browser" in failure.getErrorMessage()
    assert team.store.all() == []
    assert team.login.pending.held("linear", "p-bob") is not None  # bob can still confirm


def test_a_confirmation_binds_once_and_not_after_the_sign_in_expired(tmp_path: Path) -> None:
    team = Team(tmp_path)
    team.signIn(team.bobsLink(), BOBS_BROWSER)
    confirm = team.credentials.loginLink("linear", "p-bob")
    assert confirm is not None
    question = fired(team.login.confirmation("linear", ticketOf(confirm), BOBS_BROWSER))
    assert fired(team.login.confirm("linear", question.form, BOBS_BROWSER)).bound
    assert fired(team.login.confirm("linear", question.form, BOBS_BROWSER)).check(LinkError)

    late = Team(tmp_path / "late")
    late.signIn(late.bobsLink(), BOBS_BROWSER)
    confirm = late.credentials.loginLink("linear", "p-bob")
    assert confirm is not None
    late.now[0] += PENDING_TTL + 1
    assert fired(late.login.confirmation("linear", ticketOf(confirm), BOBS_BROWSER)).check(
        LinkError
    )
    assert late.store.all() == []
    assert late.credentials.signInState("linear", "p-bob") is None  # a new link, then


def test_a_client_that_takes_url_elicitations_gets_the_confirmation_as_one(
    tmp_path: Path,
) -> None:
    team = Team(tmp_path, {"elicitation": {"url": {}}})
    _, answer = team.bobCalls()
    [elicitation] = answer["error"]["data"]["elicitations"]
    team.signIn(elicitation["url"], BOBS_BROWSER)
    _, answer = team.bobCalls()
    error = answer["error"]
    assert error["code"] == jsonrpc.URL_ELICITATION_REQUIRED
    [elicitation] = error["data"]["elicitations"]
    assert elicitation["url"].startswith(f"{GATEWAY}/oauth/confirm/linear?ticket=")
    assert elicitation["url"] in error["message"]
    assert error["message"].startswith("server 'linear' needs you to confirm the sign-in")


def test_a_single_user_gateway_keeps_the_sign_in_at_once(tmp_path: Path) -> None:
    """A loopback gateway with one principal: the browser that follows the
    link is that one local user's, so there is nothing to confirm."""
    login, _, store, granted = webLogin(tmp_path, singleUser=True)
    finished = fired(login.finish(stateOf(authorizeUrl(login)), "the-code", None, "alices-browser"))
    assert finished.bound
    assert [g.principal for g in store.all()] == ["p-alice"] and len(granted) == 1


def test_the_links_name_the_principal_the_gateway_knows(tmp_path: Path) -> None:
    team = Team(tmp_path)
    link = team.credentials.loginLink("linear", "p-bob")
    assert link is not None
    assert team.login.links.opened(ticketOf(link), "linear") == ("p-bob", "bob")
    unknown = team.credentials.loginLink("linear", "p-dave")
    assert unknown is not None
    assert team.login.links.opened(ticketOf(unknown), "linear") == ("p-dave", "")
    assert loginNeeded(team.credentials, "linear", "p-dave").startswith("sign in at ")


def test_the_gateways_own_login_is_not_held(tmp_path: Path) -> None:
    """The CLI's login (no principal) has no links: nothing is pending."""
    store = TokenStore(tmp_path, MemoryKey())
    credentials = UpstreamCredentials(store, lambda url: FakeAgent(), now=lambda: 0.0)
    store.put(UpstreamGrant("linear", SERVER_URL, "https://auth.example.com/token", "c"))
    assert credentials.loginLink("linear", "") is None
    assert credentials.signInState("linear", "") is None

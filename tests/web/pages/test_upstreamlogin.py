"""The pages of principals' logins to remote servers (C{/oauth/start},
C{/oauth/callback}, C{/oauth/confirm}): on a fake login, what each page
says and asks, the browser's cookie, the forms' origin and size, and that
nothing is cached or leaked through the referrer; then through a team
gateway's site, with a real login on a fake authorization server, from the
link to the confirmation, posted from the gateway's own (public) origin."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from twisted.internet.defer import Deferred, fail, succeed
from twisted.web.server import NOT_DONE_YET
from twisted.web.test.requesthelper import DummyRequest

from mcpgateway.remote.oauth.links import LinkError, LoginLinks
from mcpgateway.remote.oauth.login import LoginError
from mcpgateway.remote.oauth.weblogin import Finished, ForeignBrowser, Question
from mcpgateway.web.pages.upstreamlogin import (
    BROWSER_COOKIE,
    MAX_FORM,
    MAX_PARAM,
    UpstreamLoginPages,
)
from tests.fakes import capturedGatewayLogs
from tests.http import Response
from tests.support.remote.weblogin import GATEWAY, webLogin
from tests.support.web.team_web import TeamHarness

QUESTION = Question("linear", "p-bob", "bob <b>", "auth.example.com", "SEALED")


class FakeLogin:
    """Answers as L{mcpgateway.remote.oauth.weblogin.WebLogin} would."""

    def __init__(
        self,
        start: Deferred[Question] | None = None,
        begin: Deferred[str] | None = None,
        finish: Deferred[Finished] | None = None,
        confirmation: Deferred[Question] | None = None,
        confirm: Deferred[Finished] | None = None,
    ) -> None:
        self.links = LoginLinks(lambda: None, lambda: GATEWAY)  # type: ignore[arg-type,return-value]
        self._answers: dict[str, Deferred[Any]] = {
            "start": start or succeed(QUESTION),
            "begin": begin or succeed("https://auth.example.com/authorize?x=1"),
            "finish": finish or succeed(Finished("linear", "bob", True)),
            "confirmation": confirmation or succeed(QUESTION),
            "confirm": confirm or succeed(Finished("linear", "bob", True)),
        }
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def _answer(self, step: str, *args: Any) -> Deferred[Any]:
        self.calls.append((step, args))
        return self._answers[step]

    def start(self, server: str, ticket: str, browser: str) -> Deferred[Question]:
        return self._answer("start", server, ticket, browser)

    def begin(self, server: str, form: str, browser: str) -> Deferred[str]:
        return self._answer("begin", server, form, browser)

    def finish(
        self, state: str, code: str | None, error: str | None, browser: str
    ) -> Deferred[Finished]:
        return self._answer("finish", state, code, error, browser)

    def confirmation(self, server: str, ticket: str, browser: str) -> Deferred[Question]:
        return self._answer("confirmation", server, ticket, browser)

    def confirm(self, server: str, form: str, browser: str) -> Deferred[Finished]:
        return self._answer("confirm", server, form, browser)


def render(
    login: FakeLogin,
    path: list[bytes],
    method: bytes = b"GET",
    body: bytes = b"",
    headers: dict[bytes, bytes] | None = None,
    **args: str,
) -> DummyRequest:
    request = DummyRequest(path)
    request.method = method
    request.args = {k.encode(): [v.encode()] for k, v in args.items()}
    request.content = BytesIO(body)  # type: ignore[attr-defined]
    for name, value in (headers or {}).items():
        request.requestHeaders.setRawHeaders(name, [value])
    pages = UpstreamLoginPages(login)  # type: ignore[arg-type]
    rendered = pages.render_POST if method == b"POST" else pages.render_GET
    answer = rendered(request)  # type: ignore[arg-type]
    if answer is not NOT_DONE_YET:
        assert isinstance(answer, bytes)
        request.write(answer)
        request.finish()
    return request


def header(request: DummyRequest, name: bytes) -> Any:
    """A response header as the client gets it (a DummyRequest keeps each
    value set; a real one the last)."""
    values = request.responseHeaders.getRawHeaders(name)
    return None if values is None else values[-1]


def text(request: DummyRequest) -> str:
    return b"".join(request.written).decode()


COOKIE = {b"cookie": BROWSER_COOKIE + b"=known-browser"}
FORM = urlencode({"login": "SEALED"}).encode()
OWN = {b"origin": GATEWAY.encode(), **COOKIE}


def test_the_links_page_names_the_principal_the_server_and_the_host_and_asks_to_go_on() -> None:
    login = FakeLogin()
    request = render(login, [b"start", b"linear"], ticket="T")
    assert request.responseCode == 200
    page = text(request)
    assert "bob &lt;b&gt;" in page and "bob <b>" not in page  # the name, escaped
    assert "linear" in page and "auth.example.com" in page
    assert "If you are not bob &lt;b&gt;, close this page" in page
    assert re.search(r'<form method="post"><input type="hidden" name="login" value="SEALED">', page)
    [(step, (server, ticket, browser))] = login.calls
    assert (step, server, ticket) == ("start", "linear", "T")
    cookie = header(request, b"set-cookie").decode()
    assert cookie.startswith(f"{BROWSER_COOKIE.decode()}={browser};")
    for part in ("Path=/oauth", "HttpOnly", "SameSite=Lax", "Secure"):
        assert part in cookie
    assert header(request, b"cache-control") == b"no-store"
    assert header(request, b"referrer-policy") == b"same-origin"
    assert header(request, b"content-security-policy") == b"default-src 'none'"
    assert header(request, b"x-frame-options") == b"DENY"


def test_a_browser_with_an_id_keeps_it() -> None:
    login = FakeLogin()
    request = render(login, [b"start", b"linear"], headers=COOKIE, ticket="T")
    assert header(request, b"set-cookie") is None
    assert login.calls == [("start", ("linear", "T", "known-browser"))]


def test_the_form_sends_the_browser_to_the_authorization_server_without_a_referrer() -> None:
    login = FakeLogin()
    request = render(login, [b"start", b"linear"], b"POST", FORM, OWN)
    assert login.calls == [("begin", ("linear", "SEALED", "known-browser"))]
    assert request.responseCode == 303
    assert header(request, b"location") == b"https://auth.example.com/authorize?x=1"
    assert header(request, b"referrer-policy") == b"no-referrer"
    assert header(request, b"cache-control") == b"no-store"


def test_a_form_or_a_request_from_another_origin_is_refused_before_any_login() -> None:
    login = FakeLogin()
    for origin in (
        b"https://evil.example",
        b"null",
        b"http://gw.example.com",
        b"https://gw.example.com:8443",
    ):
        headers = {**OWN, b"origin": origin}
        with capturedGatewayLogs():
            request = render(login, [b"start", b"linear"], b"POST", FORM, headers)
        assert request.responseCode == 403, origin
        assert render(login, [b"confirm", b"linear"], b"POST", FORM, headers).responseCode == 403
    with capturedGatewayLogs():
        read = render(login, [b"start", b"linear"], headers={b"origin": b"https://evil.example"})
    assert read.responseCode == 403  # nor can a script of another site read the page
    assert login.calls == []
    # The origin in another spelling of the same is the same origin.
    spelled = {**OWN, b"origin": b"HTTPS://GW.example.com:443"}
    assert render(login, [b"start", b"linear"], b"POST", FORM, spelled).responseCode == 303


def test_a_form_without_its_field_or_too_big_is_refused_before_any_login() -> None:
    login = FakeLogin()
    for body in (b"", b"other=1", b"login=a&login=b", b"login=" + b"x" * MAX_FORM, b"\xff=1"):
        request = render(login, [b"start", b"linear"], b"POST", body, OWN)
        assert request.responseCode == 400, body[:20]
    assert login.calls == []


def test_a_bad_link_is_a_page_that_says_why_escaped() -> None:
    login = FakeLogin(start=fail(LinkError("the link is <not> valid")))
    request = render(login, [b"start", b"linear"], ticket="T")
    assert request.responseCode == 400
    assert "the link is &lt;not&gt; valid" in text(request)
    assert header(request, b"content-security-policy") == b"default-src 'none'"


def test_a_link_without_a_ticket_or_with_a_huge_one_is_refused_before_any_login() -> None:
    login = FakeLogin()
    for step in (b"start", b"confirm"):
        assert render(login, [step, b"linear"]).responseCode == 400
        huge = "x" * (MAX_PARAM + 1)
        assert render(login, [step, b"linear"], ticket=huge).responseCode == 400
    assert login.calls == []


def test_the_callback_passes_the_browser_and_says_the_server_can_be_called() -> None:
    login = FakeLogin()
    request = render(login, [b"callback"], headers=COOKIE, state="S", code="C")
    assert login.calls == [("finish", ("S", "C", None, "known-browser"))]
    assert request.responseCode == 200
    assert "can now call linear" in text(request)
    assert header(request, b"set-cookie") is None  # the callback gives no browser an id


def test_a_held_sign_in_says_to_call_again_for_the_confirmation_link() -> None:
    login = FakeLogin(finish=succeed(Finished("linear", "bob", False)))
    request = render(login, [b"callback"], headers=COOKIE, state="S", code="C")
    assert request.responseCode == 200
    assert "call linear again from your MCP client" in text(request)
    assert "same browser" in text(request)


def test_a_refused_authorization_is_a_page_that_says_so() -> None:
    login = FakeLogin(finish=fail(LoginError("the authorization server refused")))
    request = render(login, [b"callback"], state="S", error="access_denied")
    assert login.calls == [("finish", ("S", None, "access_denied", ""))]
    assert request.responseCode == 400
    assert "refused" in text(request)


def test_the_confirmation_page_asks_to_confirm_and_its_form_binds() -> None:
    login = FakeLogin()
    request = render(login, [b"confirm", b"linear"], headers=COOKIE, ticket="T2")
    assert request.responseCode == 200
    page = text(request)
    assert "Confirm the sign-in to linear" in page and "auth.example.com" in page
    assert 'name="login" value="SEALED"' in page
    done = render(login, [b"confirm", b"linear"], b"POST", FORM, OWN)
    assert login.calls[-1] == ("confirm", ("linear", "SEALED", "known-browser"))
    assert done.responseCode == 200 and "can now call linear" in text(done)


def test_a_confirmation_in_another_browser_is_a_403_that_says_someone_else_signed_in() -> None:
    why = "The sign-in to linear was finished in another browser than this one"
    login = FakeLogin(confirmation=fail(ForeignBrowser(why)))
    request = render(login, [b"confirm", b"linear"], ticket="T2")
    assert request.responseCode == 403
    assert why in text(request)


def test_an_unexpected_failure_is_a_502_that_points_at_the_log() -> None:
    login = FakeLogin(start=fail(RuntimeError("boom")))
    with capturedGatewayLogs() as events:
        request = render(login, [b"start", b"linear"], ticket="T")
    assert [e["log_failure"].check(RuntimeError) for e in events if "log_failure" in e] == [
        RuntimeError
    ]
    assert request.responseCode == 502
    assert "boom" not in text(request) and "log" in text(request)


def test_other_paths_are_not_found() -> None:
    login = FakeLogin()
    assert render(login, [b"elsewhere"]).responseCode == 404
    assert render(login, [b"start"]).responseCode == 404
    assert render(login, [b"callback"], b"POST", FORM, OWN).responseCode == 404


# -- through a team gateway's site ----------------------------------------------------


class Browser:
    """A browser's cookie for the gateway, on the harness's site."""

    def __init__(self, h: TeamHarness) -> None:
        self.h = h
        self.cookie = ""

    def send(self, method: str, target: str, form: str | None = None) -> Response:
        parts = urlsplit(target)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {"host": "gw.example.com"}
        if self.cookie:
            headers["cookie"] = f"{BROWSER_COOKIE.decode()}={self.cookie}"
        raw = None
        if form is not None:
            headers["origin"] = GATEWAY
            raw = urlencode({"login": form}).encode()
        response = self.h.request(
            method,
            path,
            raw=raw,
            headers=headers,
            accept=None,
            contentType="application/x-www-form-urlencoded",
        )
        given = response.headers.get("set-cookie", "")
        if given.startswith(BROWSER_COOKIE.decode() + "="):
            self.cookie = given.split("=", 1)[1].split(";", 1)[0]
        return response

    def formOf(self, response: Response) -> str:
        found = re.search(r'name="login" value="([^"]+)"', response.body.decode())
        assert found is not None, response.body
        return found.group(1)


def test_a_sign_in_through_a_team_gateways_public_origin_is_held_then_confirmed(
    tmp_path: Path,
) -> None:
    """The forms are posted from the gateway's own origin, which is not a
    loopback one: the site lets them reach the pages (the rest of the
    gateway still refuses that origin), and the sign-in goes from the link
    to the held tokens to the confirmation."""
    login, _, store, _ = webLogin(tmp_path, singleUser=False)
    h = TeamHarness()
    h.team.upstreamLogin = UpstreamLoginPages(login)
    bobs = Browser(h)
    page = bobs.send("GET", login.links.link("linear", "p-bob", "bob"))
    assert page.status == 200 and "Sign in to linear for bob" in page.body.decode()
    assert bobs.cookie
    sent = bobs.send("POST", "/oauth/start/linear", bobs.formOf(page))
    assert sent.status == 303, sent.body
    state = parse_qs(urlsplit(sent.headers["location"]).query)["state"][0]
    back = bobs.send("GET", f"/oauth/callback?state={quote(state)}&code=the-code")
    assert back.status == 200 and "Almost done" in back.body.decode()
    assert store.all() == []

    confirm = bobs.send("GET", login.links.confirmLink("linear", "p-bob", "bob"))
    assert confirm.status == 200, confirm.body
    done = bobs.send("POST", "/oauth/confirm/linear", bobs.formOf(confirm))
    assert done.status == 200 and "can now call linear" in done.body.decode()
    assert [g.principal for g in store.all()] == ["p-bob"]

    elsewhere = h.request("GET", "/health", headers={"origin": GATEWAY})
    assert elsewhere.status == 403  # the gateway's other doors keep their rule


def test_a_confirmation_link_opened_in_another_browser_through_the_site_is_refused(
    tmp_path: Path,
) -> None:
    login, _, store, _ = webLogin(tmp_path, singleUser=False)
    h = TeamHarness()
    h.team.upstreamLogin = UpstreamLoginPages(login)
    carols, bobs = Browser(h), Browser(h)
    page = carols.send("GET", login.links.link("linear", "p-bob", "bob"))
    sent = carols.send("POST", "/oauth/start/linear", carols.formOf(page))
    state = parse_qs(urlsplit(sent.headers["location"]).query)["state"][0]
    carols.send("GET", f"/oauth/callback?state={quote(state)}&code=the-code")
    with capturedGatewayLogs():
        refused = bobs.send("GET", login.links.confirmLink("linear", "p-bob", "bob"))
    assert refused.status == 403
    assert "finished in another browser" in refused.body.decode()
    assert store.all() == []

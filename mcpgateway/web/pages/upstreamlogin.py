# -*- test-case-name: tests.web.pages.test_upstreamlogin -*-
"""The pages through which a principal of an authenticated gateway signs in
to a remote server (L{mcpgateway.remote.oauth.weblogin}):

 - C{GET /oauth/start/<server>?ticket=...}: a page that names the principal
   the link is for, the server and the authorization server's host, and asks
   whoever opened it to go on only if they are that principal;
 - C{POST /oauth/start/<server>}: its form; sends the browser to the
   authorization server;
 - C{GET /oauth/callback}: takes it back; keeps the tokens (a single-user
   gateway) or holds them for the principal to confirm;
 - C{GET /oauth/confirm/<server>?ticket=...} and C{POST} of its form: the
   principal confirms, from the browser that signed in, the sign-in its
   client was told of.

They take no bearer token (a browser has none): the sealed ticket of a link
says who the login is for, the sealed C{state} carries it through the
authorization server, and a random id in a cookie (C{HttpOnly},
C{SameSite=Lax}, L{BROWSER_COOKIE}) tells the browser that opened a page
from any other: each form is sealed for it, so a page of another site cannot
post one (nor can a form posted from another browser), and a request that
carries another C{Origin} than the gateway's own is refused (every current
browser sends one with a form it posts and with a script's request, none
with a link it follows). The gateway's other doors refuse any C{Origin} but
a loopback one; these check their own, since behind a proxy the gateway's
origin is a public one. Every answer is C{no-store}; the pages
send a referrer to the gateway itself only (their forms' C{Origin}) and the
redirects none, so a ticket or a code does not linger in caches or leak to
the next site.
"""

from __future__ import annotations

import secrets
from html import escape
from typing import Any
from urllib.parse import parse_qs, unquote

from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from mcpgateway.remote.oauth.links import LinkError, originOf
from mcpgateway.remote.oauth.login import LoginError
from mcpgateway.remote.oauth.weblogin import Finished, ForeignBrowser, Question, WebLogin
from mcpgateway.runtime import logs

MAX_PARAM = 4096
"""Longer query values are refused before they are opened."""
MAX_FORM = 16384
"""Longer form bodies are refused before they are read."""
BROWSER_COOKIE = b"mcpgateway-browser"
"""The cookie that keeps a browser's random id for the login pages."""
BROWSER_LIFE = 86400
"""Seconds a browser keeps its id (a sign-in and its confirmation fit)."""
_PAGE_POLICY = b"default-src 'none'"
"""Nothing is loaded or run (a form is still posted: C{form-action} is not
set, as it would stop the redirect to the authorization server)."""


class UpstreamLoginPages(Resource):
    """C{/oauth}: the pages of principals' logins."""

    isLeaf = True
    log = Logger(observer=logs.observer, namespace="mcpgateway.web")

    def __init__(self, login: WebLogin) -> None:
        super().__init__()
        self._login = login

    def render_GET(self, request: IRequest) -> bytes | int:
        _private(request)
        if self._foreign(request):
            return _page(request, 403, "This page can only be opened from the gateway's own.")
        path = _path(request)
        if len(path) == 2 and path[0] in ("start", "confirm") and path[1]:
            ticket = _param(request, b"ticket")
            if ticket is None:
                return _page(request, 400, "The link has no ticket; ask for a new one.")
            server, browser = unquote(path[1]), self._browser(request)
            if path[0] == "start":
                asked = self._login.start(server, ticket, browser)
                asked.addCallback(lambda question: _startPage(request, question))
            else:
                asked = self._login.confirmation(server, ticket, browser)
                asked.addCallback(lambda question: _confirmPage(request, question))
            asked.addErrback(lambda f: _refused(request, f))
            return NOT_DONE_YET
        if path == ["callback"]:
            state = _param(request, b"state")
            if state is None:
                return _page(request, 400, "The authorization server sent no state back.")
            done = self._login.finish(
                state, _param(request, b"code"), _param(request, b"error"), _cookie(request)
            )
            done.addCallbacks(
                lambda finished: _finishedPage(request, finished), lambda f: _refused(request, f)
            )
            return NOT_DONE_YET
        return _page(request, 404, "No such page.")

    def render_POST(self, request: IRequest) -> bytes | int:
        _private(request)
        path = _path(request)
        if not (len(path) == 2 and path[0] in ("start", "confirm") and path[1]):
            return _page(request, 404, "No such page.")
        if self._foreign(request):
            return _page(request, 403, "This form can only be sent from the gateway's own page.")
        form = _form(request)
        if form is None:
            return _page(request, 400, "The form is not valid; open the link again.")
        server, browser = unquote(path[1]), _cookie(request)
        if path[0] == "start":
            began = self._login.begin(server, form, browser)
            began.addCallbacks(
                lambda where: _redirect(request, where), lambda f: _refused(request, f)
            )
        else:
            confirmed = self._login.confirm(server, form, browser)
            confirmed.addCallbacks(
                lambda finished: _finishedPage(request, finished), lambda f: _refused(request, f)
            )
        return NOT_DONE_YET

    def _foreign(self, request: IRequest) -> bool:
        """Whether C{request} comes from a page of another origin than the
        gateway's own (a browser sends C{Origin} with every form it posts,
        and with a script's request; not with a link it follows)."""
        given = request.getHeader(b"origin")
        if given is None:
            return False
        origin = given.decode("latin-1")
        if originOf(origin) == self._login.links.origin:
            return False
        self.log.info(
            "a request to the login pages from another origin ({origin}): refused",
            origin=origin[:200],
        )
        return True

    def _browser(self, request: IRequest) -> str:
        """The browser's id: its cookie's, or a new one it is given."""
        known = _cookie(request)
        if known:
            return known
        made = secrets.token_urlsafe(32)
        secure = b"; Secure" if self._login.links.origin.startswith("https:") else b""
        request.responseHeaders.addRawHeader(
            b"set-cookie",
            b"%s=%s; Path=/oauth; Max-Age=%d; HttpOnly; SameSite=Lax%s"
            % (BROWSER_COOKIE, made.encode("ascii"), BROWSER_LIFE, secure),
        )
        return made


def _private(request: IRequest) -> None:
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"referrer-policy", b"same-origin")
    request.setHeader(b"x-frame-options", b"DENY")


def _path(request: IRequest) -> list[str]:
    return [part.decode("utf-8", "replace") for part in request.postpath]


def _param(request: IRequest, name: bytes) -> str | None:
    values = (request.args or {}).get(name)
    if not values or len(values[0]) > MAX_PARAM:
        return None
    return str(values[0].decode("utf-8", "replace"))


def _cookie(request: IRequest) -> str:
    """The browser's id from its cookie (C{""}: none)."""
    for header in request.requestHeaders.getRawHeaders(b"cookie") or ():
        for pair in header.split(b";"):
            name, _, value = pair.strip().partition(b"=")
            if name == BROWSER_COOKIE and 0 < len(value) <= 128:
                return str(value.decode("ascii", "replace"))
    return ""


def _form(request: IRequest) -> str | None:
    """The sealed value a page's form posted (C{None}: no such form)."""
    content: Any = request.content
    if content is None:
        return None
    content.seek(0)
    body = content.read(MAX_FORM + 1)
    if len(body) > MAX_FORM:
        return None
    try:
        fields = parse_qs(body.decode("ascii"), max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        return None
    values = fields.get("login")
    return str(values[0]) if values and len(values) == 1 else None


def _redirect(request: IRequest, where: str) -> None:
    if _gone(request):
        return
    request.setResponseCode(303)
    request.setHeader(b"referrer-policy", b"no-referrer")
    request.setHeader(b"location", where.encode("utf-8"))
    request.finish()


def _refused(request: IRequest, reason: Failure) -> None:
    if reason.check(ForeignBrowser):
        _page(request, 403, reason.getErrorMessage(), finish=True)
        return
    if reason.check(LinkError, LoginError):
        UpstreamLoginPages.log.info(
            "a principal's login to a remote server stopped: {why}", why=reason.getErrorMessage()
        )
        _page(request, 400, reason.getErrorMessage(), finish=True)
        return
    UpstreamLoginPages.log.failure("a principal's login to a remote server failed", reason)
    _page(request, 502, "The login failed; see the gateway's log.", finish=True)


def _who(question: Question) -> str:
    return escape(question.name) if question.name else "the principal this link is for"


def _startPage(request: IRequest, question: Question) -> None:
    who, server, host = _who(question), escape(question.server), escape(question.authHost)
    _page(
        request,
        200,
        f"<h1>Sign in to {server} for {who}</h1>"
        f"<p>This link signs <b>{who}</b> in to the server <b>{server}</b>: you sign in at"
        f" <b>{host}</b>, and the gateway then calls {server} for {who} with the account you"
        " sign in with there.</p>"
        f"<p>If you are not {who}, close this page: whoever sent you the link would act as you"
        f" at {server} with it.</p>" + _formHtml(question, f"Continue to {host}"),
        finish=True,
        html=True,
    )


def _confirmPage(request: IRequest, question: Question) -> None:
    who, server, host = _who(question), escape(question.server), escape(question.authHost)
    _page(
        request,
        200,
        f"<h1>Confirm the sign-in to {server}</h1>"
        f"<p>A sign-in at <b>{host}</b> finished in this browser. Once you confirm it,"
        f" the calls {who} makes to <b>{server}</b> through the gateway use the account that"
        " signed in.</p>"
        f"<p>If you did not sign in yourself just now, close this page.</p>"
        + _formHtml(question, "Confirm"),
        finish=True,
        html=True,
    )


def _formHtml(question: Question, button: str) -> str:
    return (
        f'<form method="post"><input type="hidden" name="login" value="{escape(question.form)}">'
        f"<button type=submit>{escape(button)}</button></form>"
    )


def _finishedPage(request: IRequest, finished: Finished) -> None:
    server = finished.server
    if finished.bound:
        text = f"The gateway can now call {server} for you. You can close this window."
    else:
        text = (
            f"Almost done: call {server} again from your MCP client. It gives you one more"
            " link; open it in this same browser to confirm the sign-in."
        )
    _page(request, 200, text, finish=True)


def _page(
    request: IRequest, status: int, text: str, finish: bool = False, html: bool = False
) -> bytes:
    content = text if html else f"<p>{escape(text)}</p>"
    body = (f"<!doctype html><meta charset=utf-8><title>mcpgateway</title>{content}").encode()
    if finish and _gone(request):
        return body
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    request.setHeader(b"content-security-policy", _PAGE_POLICY)
    if finish:
        request.write(body)
        request.finish()
    return body


def _gone(request: Any) -> bool:
    """Whether the browser went away before the answer was ready."""
    return bool(getattr(request, "_disconnected", False) or getattr(request, "finished", False))

# -*- test-case-name: tests.web.test_upstreamlogin -*-
"""The pages through which a principal of an authenticated gateway signs in
to a remote server: C{GET /oauth/start/<server>?ticket=...} sends the
browser to the server's authorization server, C{GET /oauth/callback}
takes it back and keeps the principal's tokens
(L{mcpgateway.remote.oauth.weblogin}).

They take no bearer token (a browser has none): the sealed ticket of the
link says who the login is for, and the sealed C{state} carries it through
the authorization server. Every answer is C{no-store} and sends no
referrer, so a ticket or a code does not linger in caches or leak to the
next site.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import unquote

from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from mcpgateway.remote.oauth.links import LinkError
from mcpgateway.remote.oauth.login import LoginError
from mcpgateway.remote.oauth.weblogin import WebLogin
from mcpgateway.runtime import logs

MAX_PARAM = 4096
"""Longer query values are refused before they are opened."""


class UpstreamLoginPages(Resource):
    """C{/oauth}: the start and the callback of principals' logins."""

    isLeaf = True
    log = Logger(observer=logs.observer, namespace="mcpgateway.web")

    def __init__(self, login: WebLogin) -> None:
        super().__init__()
        self._login = login

    def render_GET(self, request: IRequest) -> bytes | int:
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"referrer-policy", b"no-referrer")
        path = [part.decode("utf-8", "replace") for part in request.postpath]
        if len(path) == 2 and path[0] == "start" and path[1]:
            ticket = _param(request, b"ticket")
            if ticket is None:
                return _page(request, 400, "The link has no ticket; ask for a new one.")
            started = self._login.start(unquote(path[1]), ticket)
            started.addCallbacks(
                lambda where: _redirect(request, where), lambda f: _refused(request, f)
            )
            return NOT_DONE_YET
        if path == ["callback"]:
            state = _param(request, b"state")
            if state is None:
                return _page(request, 400, "The authorization server sent no state back.")
            done = self._login.finish(state, _param(request, b"code"), _param(request, b"error"))
            done.addCallbacks(
                lambda server: _page(
                    request,
                    200,
                    f"The gateway can now call {server} for you. You can close this window.",
                    finish=True,
                ),
                lambda f: _refused(request, f),
            )
            return NOT_DONE_YET
        return _page(request, 404, "No such page.")


def _param(request: IRequest, name: bytes) -> str | None:
    values = (request.args or {}).get(name)
    if not values or len(values[0]) > MAX_PARAM:
        return None
    return str(values[0].decode("utf-8", "replace"))


def _redirect(request: IRequest, where: str) -> None:
    if _gone(request):
        return
    request.setResponseCode(302)
    request.setHeader(b"location", where.encode("utf-8"))
    request.finish()


def _refused(request: IRequest, reason: Failure) -> None:
    if reason.check(LinkError, LoginError):
        UpstreamLoginPages.log.info(
            "a principal's login to a remote server stopped: {why}", why=reason.getErrorMessage()
        )
        _page(request, 400, reason.getErrorMessage(), finish=True)
        return
    UpstreamLoginPages.log.failure("a principal's login to a remote server failed", reason)
    _page(request, 502, "The login failed; see the gateway's log.", finish=True)


def _page(request: IRequest, status: int, text: str, finish: bool = False) -> bytes:
    body = (
        f"<!doctype html><meta charset=utf-8><title>mcpgateway</title><p>{escape(text)}</p>"
    ).encode()
    if finish and _gone(request):
        return body
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    request.setHeader(b"content-security-policy", b"default-src 'none'")
    if finish:
        request.write(body)
        request.finish()
    return body


def _gone(request: Any) -> bool:
    """Whether the browser went away before the answer was ready."""
    return bool(getattr(request, "_disconnected", False) or getattr(request, "finished", False))

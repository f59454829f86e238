"""What tests/remote/oauth/test_weblogin.py shares with the other tests:
FakeAuthServer, GATEWAY, SERVER_URL, authorizeUrl, fired, initialize,
inline, stateOf, ticketOf, webLogin."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from twisted.internet.defer import Deferred, maybeDeferred

from mcpgateway.core.spec import RemoteEndpoint
from mcpgateway.remote.oauth.links import LoginLinks
from mcpgateway.remote.oauth.login import HttpAnswer
from mcpgateway.remote.oauth.tokens import TokenStore, UpstreamGrant
from mcpgateway.remote.oauth.weblogin import Question, WebLogin
from tests.support.remote.oauth import METADATA, MemoryKey

SERVER_URL = "https://mcp.example.com/mcp"
GATEWAY = "https://gw.example.com"


def ticketOf(link: str) -> str:
    return parse_qs(urlsplit(link).query)["ticket"][0]


class FakeAuthServer:
    """Answers the blocking exchanges of a login: the protected server's
    401, both metadata documents, registration and the token endpoint."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, bytes | None, dict[str, str]]] = []
        self.registrations = 0

    def __call__(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpAnswer:
        self.sent.append((method, url, body, headers or {}))
        if url == SERVER_URL:
            challenge = 'Bearer resource_metadata="https://mcp.example.com/.well-known/prm"'
            return HttpAnswer(401, {"www-authenticate": challenge}, b"")
        if url == "https://mcp.example.com/.well-known/prm":
            prm = {"resource": SERVER_URL, "authorization_servers": [METADATA["issuer"]]}
            return HttpAnswer(200, {}, json.dumps(prm).encode())
        if "/.well-known/oauth-authorization-server" in url:
            return HttpAnswer(200, {}, json.dumps(METADATA).encode())
        if url == METADATA["registration_endpoint"]:
            self.registrations += 1
            return HttpAnswer(201, {}, json.dumps({"client_id": "gw-client"}).encode())
        if url == METADATA["token_endpoint"]:
            tokens = {"access_token": "alice-access", "token_type": "Bearer", "expires_in": 60}
            return HttpAnswer(200, {}, json.dumps(tokens).encode())
        return HttpAnswer(404, {}, b"")


def inline(f: Callable[..., Any], *args: Any) -> Deferred[Any]:
    """The thread pool, in the test's own thread."""
    return maybeDeferred(f, *args)


def webLogin(
    tmp_path: Path, singleUser: bool = True
) -> tuple[WebLogin, FakeAuthServer, TokenStore, list[UpstreamGrant]]:
    store = TokenStore(tmp_path, MemoryKey())
    server = FakeAuthServer()
    granted: list[UpstreamGrant] = []
    endpoint = RemoteEndpoint(SERVER_URL, "http", (("X-Team", "blue"),))
    login = WebLogin(
        store,
        LoginLinks(store.cipher, lambda: GATEWAY),
        lambda name: endpoint if name == "linear" else None,
        inline,
        server,
        onGrant=granted.append,
        now=lambda: 100.0,
        singleUser=lambda: singleUser,
    )
    return login, server, store, granted


def fired(d: Deferred[Any]) -> Any:
    results: list[Any] = []
    d.addBoth(results.append)
    [result] = results
    return result


BROWSER = "alices-browser"


def asked(login: WebLogin, principal: str = "p-alice", browser: str = BROWSER) -> Question:
    """What the page of C{principal}'s link asks, opened in C{browser}."""
    ticket = ticketOf(login.links.link("linear", principal, principal.removeprefix("p-")))
    question = fired(login.start("linear", ticket, browser))
    assert isinstance(question, Question), question
    return question


def authorizeUrl(login: WebLogin, principal: str = "p-alice", browser: str = BROWSER) -> str:
    """Where the browser goes once the page's form is posted."""
    where = fired(login.begin("linear", asked(login, principal, browser).form, browser))
    assert isinstance(where, str), where
    return where


def stateOf(where: str) -> str:
    return parse_qs(urlsplit(where).query)["state"][0]


def initialize(capabilities: dict[str, Any]) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": capabilities},
    }

# -*- test-case-name: tests.remote.oauth.test_oauth,tests.remote.oauth.test_exchange -*-
"""What a remote MCP server's refusal of a request gets.

A 401 to a request sent with a token the gateway traded for the
principal's is sent again with a token traded anew; one sent with the
gateway's own grant is sent again after a refresh (each once). When no
token helps, the request is answered with the way to one: a client that
takes URL elicitations gets the login link as one (-32042, the MCP way to
send a user to a third party's authorization), anyone else the link or the
command in the error's text. Any other refusal is answered with an error
saying what HTTP said.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from twisted.python.failure import Failure

from mcpgateway.core.spec import RemoteEndpoint
from mcpgateway.protocol import jsonrpc
from mcpgateway.remote.answers import Answers, Lived
from mcpgateway.remote.headers import UpstreamHeaders
from mcpgateway.remote.oauth.credentials import UpstreamCredentials, loginNeeded, signInHint
from mcpgateway.remote.oauth.exchange import TokenExchange

EXCERPT = 200
"""Bytes of a refusal's body its error shows."""


class RemoteRefusals:
    """Answers one remote server's refusals.

    @param name: the server's name.
    @param endpoint: the server's URL, headers and principal.
    @param headers: whether the entry's headers carry their own
        C{Authorization}.
    @param answers: the requests owed their answers.
    @param child: whether the child has ended (a late refresh sends nothing).
    @param post: sends a message again.
    @param failed: answers a message that did not reach the server, saying why.
    @param said: says a line about what went wrong.
    @param bug: logs a failure no one expected, saying what was being done.
    @param credentials: the gateway's OAuth tokens.
    @param exchange: trades the principal's token for the server's.
    """

    def __init__(
        self,
        name: str,
        endpoint: RemoteEndpoint,
        headers: UpstreamHeaders,
        answers: Answers,
        child: Lived,
        post: Callable[[jsonrpc.Message], object],
        failed: Callable[[jsonrpc.Message, str], None],
        said: Callable[[str], None],
        bug: Callable[[Failure, str], None],
        credentials: UpstreamCredentials | None = None,
        exchange: TokenExchange | None = None,
    ) -> None:
        self._name = name
        self._endpoint = endpoint
        self._headers = headers
        self._answers = answers
        self._child = child
        self._post = post
        self._failed = failed
        self._said = said
        self._bug = bug
        self._credentials = credentials
        self._exchange = exchange

    def refused(
        self,
        message: jsonrpc.Message,
        code: int,
        body: bytes,
        initialize: jsonrpc.Message | None,
    ) -> None:
        """The server answered C{message} HTTP C{code} (not 2xx) with
        C{body}; C{initialize} is the client's, which says whether it takes
        URL elicitations (C{None}: none known)."""
        if code == 401 and (self._tradeAgain(message) or self._loginMayHelp(message)):
            return
        excerpt = body[:EXCERPT].decode("utf-8", "replace").strip()
        why = f"answered HTTP {code}" + (f": {excerpt}" if excerpt else "")
        if code in (401, 403) and self._headers.ownAuthorization:
            why += " (check the credentials in the entry's headers)"
        elif code in (401, 403) and self._exchange is not None:
            why += " (it refuses the token the gateway's issuer exchanged yours for)"
        elif code == 401:
            self._loginNeeded(message, why, initialize)
            return
        self._failed(message, why)

    def _loginNeeded(
        self, message: jsonrpc.Message, why: str, initialize: jsonrpc.Message | None
    ) -> None:
        """C{message} needs a token the gateway does not have: answer it with
        what gives the gateway one."""
        principal = self._endpoint.principal
        link = (
            None
            if self._credentials is None
            else self._credentials.loginLink(self._name, principal)
        )
        if (
            link is None
            or message is initialize
            or not ("id" in message and "method" in message)
            or not takesUrlElicitation(initialize)
        ):
            hint = loginNeeded(self._credentials, self._name, principal)
            self._failed(message, f"{why}; it needs a login: {hint}")
            return
        assert self._credentials is not None
        self._credentials.wantLogin(self._name, principal)
        hint = signInHint(self._credentials, self._name, principal, link)
        text = f"server '{self._name}' needs you to {hint}"
        self._said(f"server '{self._name}': the remote server at {self._endpoint.url} {why}")
        elicitation = {
            "mode": "url",
            "elicitationId": secrets.token_urlsafe(12),
            "url": link,
            "message": f"Sign in to {self._name} so the gateway can call it for you.",
        }
        self._answers.answerError(
            message, jsonrpc.URL_ELICITATION_REQUIRED, text, {"elicitations": [elicitation]}
        )

    def _tradeAgain(self, message: jsonrpc.Message) -> bool:
        """A 401 to a message sent with an exchanged token: trade again and
        send it once more (once); whether that is under way."""
        exchange = self._exchange
        answers = self._answers
        if exchange is None or self._headers.ownAuthorization or answers.retried(message):
            return False
        answers.retrying(message)
        exchange.forget(self._endpoint.principal)
        answers.forget(message)
        # Not "again": a server that answers the new token 404 (a session
        # bound to the old one) gets a new session, as for a refreshed login.
        self._post(message)
        return True

    def _loginMayHelp(self, message: jsonrpc.Message) -> bool:
        """A 401 to C{message}: refresh the gateway's token and send the
        message again (once); whether that is under way."""
        credentials = self._credentials
        if credentials is None or self._headers.ownAuthorization:
            return False
        credentials.look()
        principal = self._endpoint.principal
        url = self._endpoint.url
        answers = self._answers
        if answers.retried(message) or credentials.grant(self._name, principal, url) is None:
            return False
        answers.retrying(message)

        def refreshed(done: bool) -> None:
            if self._child.exited:
                return
            if not done:
                answers.retrying(message, False)
                self._failed(
                    message,
                    "answered HTTP 401; its token is refused:"
                    f" {loginNeeded(credentials, self._name, principal)}",
                )
                return
            answers.forget(message)
            # Not sent "again": the token may be a new login's, another client
            # of the server, and a server that binds its sessions to the
            # credential (the Python SDK's) answers 404: a new session is made.
            self._post(message)

        credentials.refresh(self._name, principal, url).addCallback(refreshed).addErrback(
            self._bug, "refreshing a token"
        )
        return True


def takesUrlElicitation(initialize: jsonrpc.Message | None) -> bool:
    """Whether the client whose C{initialize} this is declared URL-mode
    elicitation (C{capabilities.elicitation.url})."""
    params = None if initialize is None else initialize.get("params")
    capabilities = params.get("capabilities") if isinstance(params, dict) else None
    elicitation = capabilities.get("elicitation") if isinstance(capabilities, dict) else None
    return isinstance(elicitation, dict) and isinstance(elicitation.get("url"), dict)

# -*- test-case-name: tests.remote.oauth.test_openapi_auth -*-
"""The gateway's own token for an API it calls as itself: the OAuth client
credentials grant (RFC 6749 section 4.4) of an C{openapi} entry's C{"oauth":
{"tokenUrl", "clientId", "clientSecret", "scope", "audience"}}.

L{ClientCredentialsToken} asks the token endpoint for a token when a request
first needs one, keeps it until a minute before it expires (halfway through
a shorter life), and asks again when the API refuses it (401). One request to
the token endpoint is in flight at a time, however many calls wait for it. A
client with a secret authenticates with HTTP Basic, one without names itself
in the form (as L{mcpgateway.remote.oauth.discovery.tokenRequest} does), and
the API's base URL is the RFC 8707 C{resource}: the token is for that API.

The token is every principal's (it is the gateway's identity, not a user's);
neither it nor the secret is ever logged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IResponse

from mcpgateway.core.spec import ClientCredentials
from mcpgateway.remote.oauth.discovery import DiscoveryError, formRequest, tokenResponse
from mcpgateway.remote.sse import readBody, reasonOf
from mcpgateway.runtime import logs
from mcpgateway.runtime.bytesproducer import BytesProducer

RENEW_BEFORE = 60.0
"""Seconds before a token's expiry at which the next request gets a new one."""
_EXCERPT = 200
"""Characters of a token endpoint's refusal quoted when it says no C{error}."""


class ClientCredentialsError(Exception):
    """The token endpoint gave no token; the message says what it answered
    (never the secret)."""


class ClientCredentialsToken:
    """The bearer token of one C{openapi} server's client credentials.

    @param server: the server's name (for the log).
    @param agent: the HTTP client the token endpoint is asked with.
    @param now: the wall clock (C{expires_in} is counted from the answer).
    """

    log = Logger(observer=logs.observer, namespace="mcpgateway.remote")

    def __init__(
        self,
        server: str,
        credentials: ClientCredentials,
        agent: IAgent,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.server = server
        self.credentials = credentials
        self._agent = agent
        self._now = now
        self._token: str | None = None
        self._renewAt: float | None = None
        """When the token is to be fetched anew (C{None}: its life was not said)."""
        self._fetching: list[Deferred[str]] | None = None
        """Who waits for the fetch in flight (C{None}: none is)."""
        self.fetches = 0
        """Tokens asked for so far."""

    def authorization(self, resource: str) -> Deferred[str]:
        """The C{Authorization} value for a request to C{resource} (the
        API's base URL): the kept token, or a new one when there is none or
        it is about to expire. Fails with L{ClientCredentialsError}."""
        token = self._token
        if token is not None and (self._renewAt is None or self._now() < self._renewAt):
            return succeed(f"Bearer {token}")
        return self._fetch(resource)

    def renew(self, refused: str | None, resource: str) -> Deferred[str]:
        """The API answered 401 to a request that carried C{refused} (an
        C{Authorization} value): a new token, unless another request already
        got one since (then that one)."""
        if self._token is not None and refused != f"Bearer {self._token}":
            return succeed(f"Bearer {self._token}")
        self._token = None
        return self._fetch(resource)

    def _fetch(self, resource: str) -> Deferred[str]:
        waiter: Deferred[str] = Deferred()
        if self._fetching is not None:
            self._fetching.append(waiter)
            return waiter
        self._fetching = [waiter]
        self.fetches += 1
        url = self.credentials.tokenUrl
        body, headers = self._request(resource)
        try:
            d = self._agent.request(
                b"POST",
                url.encode("ascii"),
                Headers({k.encode(): [v.encode("latin-1")] for k, v in headers.items()}),
                BytesProducer(body),
            )
        except Exception as e:  # an agent that refuses the URL at once
            d = Deferred()
            d.errback(Failure(e))

        def answered(response: IResponse) -> Deferred[str]:
            return readBody(response).addCallback(self._answered, response.code)

        def unreachable(reason: Failure) -> Failure:
            if reason.check(ClientCredentialsError):
                return reason
            return Failure(
                ClientCredentialsError(
                    f"the token endpoint {url} is not reachable ({reasonOf(reason)})"
                )
            )

        d.addCallback(answered).addErrback(unreachable).addBoth(self._done)
        return waiter

    def _request(self, resource: str) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a client credentials request."""
        given = self.credentials
        form = {"grant_type": "client_credentials", "resource": resource}
        if given.scope:
            form["scope"] = given.scope
        if given.audience:
            form["audience"] = given.audience
        return formRequest(form, given.clientId, given.clientSecret)

    def _answered(self, result: tuple[bytes, Failure], code: int) -> str:
        body = result[0]
        url = self.credentials.tokenUrl
        try:
            data: Any = json.loads(body)
        except ValueError:
            data = None
        if code != 200:
            raise ClientCredentialsError(
                f"the token endpoint {url} refused the client credentials"
                f" (HTTP {code}{_said(data, body)})"
            )
        try:
            answer = tokenResponse(data)
        except DiscoveryError as e:
            raise ClientCredentialsError(f"the token endpoint {url} gave no token: {e}") from None
        now = self._now()
        expires = answer.get("expires_in")
        if isinstance(expires, (int, float)) and not isinstance(expires, bool) and expires > 0:
            self._renewAt = now + float(expires) - min(RENEW_BEFORE, float(expires) / 2)
        else:
            self._renewAt = None
        token: str = answer["access_token"]
        self._token = token
        self.log.info(
            "server {server}: a token from {endpoint} (client credentials)",
            server=self.server,
            endpoint=url,
        )
        return token

    def _done(self, result: str | Failure) -> None:
        waiters, self._fetching = self._fetching or [], None
        for waiter in waiters:
            if isinstance(result, Failure):
                waiter.errback(result)
            else:
                waiter.callback(f"Bearer {result}")


def _said(data: Any, body: bytes) -> str:
    """What a refusal says: its C{error_description}, else its C{error},
    else the start of its body (C{""}: nothing)."""
    if isinstance(data, dict):
        for key in ("error_description", "error"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return f": {value}"
    text = body[:_EXCERPT].decode("utf-8", "replace").strip()
    return f": {text}" if text else ""

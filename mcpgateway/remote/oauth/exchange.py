# -*- test-case-name: tests.remote.oauth.test_exchange -*-
"""Upstream tokens by RFC 8693 token exchange: an C{"auth": "exchange"}
entry's children call the remote server with a token the gateway gets for
their principal by trading in the access token that principal presented to
the gateway.

The principal's own token goes to the issuer's token endpoint only, never
to the remote server (no token passthrough, as the MCP security best
practices demand): the server gets a token issued for it (RFC 8707
C{resource}, and the C{audience} the entry names). L{SubjectTokens} keeps
the latest access token each principal presented, in memory only; an
exchanged token is kept until a minute before it (or the token it was
traded for) expires, and is traded again after the server refuses it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IResponse

from mcpgateway.core.spec import TokenExchangeSettings
from mcpgateway.remote.oauth.discovery import (
    DiscoveryError,
    authServerMetadataUrls,
    formRequest,
    tokenResponse,
)
from mcpgateway.remote.oauth.subjecttokens import SubjectTokens
from mcpgateway.remote.sse import readBody
from mcpgateway.runtime import logs
from mcpgateway.runtime.bytesproducer import BytesProducer

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
MARGIN = 60.0
"""Seconds before expiry at which a token is no longer used."""


class TokenExchange:
    """The exchanged tokens of one remote server, one per principal.

    @param resource: the server's URL (the RFC 8707 resource).
    @param issuer: the gateway's C{--oauth-issuer}, whose metadata names the
        token endpoint when the settings do not.
    """

    log = Logger(observer=logs.observer, namespace="mcpgateway.remote")

    def __init__(
        self,
        server: str,
        resource: str,
        settings: TokenExchangeSettings,
        subjects: SubjectTokens,
        agentFor: Callable[[str], IAgent],
        issuer: str | None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.server = server
        self.resource = resource
        self.settings = settings
        self._subjects = subjects
        self._agentFor = agentFor
        self._issuer = issuer
        self._now = now
        self._tokenUrl = settings.tokenUrl
        self._held: dict[str, tuple[str, float | None, str]] = {}
        """Exchanged token, its expiry and the subject token it came from, by principal."""
        self._running: dict[str, Deferred[str | None]] = {}
        self.exchanges = 0

    def authorization(self, principal: str) -> str | None:
        """The C{Authorization} value for C{principal}'s request (C{None}: none at hand)."""
        held = self._usable(principal)
        return None if held is None else f"Bearer {held}"

    def _usable(self, principal: str) -> str | None:
        held = self._held.get(principal)
        subject = self._subjects.tokenOf(principal)
        if held is None or subject is None or held[2] != subject[0]:
            return None  # a new token to the gateway is traded anew
        if held[1] is not None and held[1] - MARGIN <= self._now():
            return None
        return held[0]

    def ready(self, principal: str) -> Deferred[str | None] | None:
        """C{None} when C{principal} has a token at hand; else a Deferred
        that fires once it has (C{None}) or with why it cannot have one."""
        if self._usable(principal) is not None:
            return None
        running = self._running.get(principal)
        if running is None:
            running = self._running[principal] = self._exchange(principal)

            def done(result: str | None) -> str | None:
                self._running.pop(principal, None)
                return result

            running.addBoth(done)
        follower: Deferred[str | None] = Deferred()

        def relay(result: str | None) -> str | None:
            follower.callback(result)
            return result

        running.addCallback(relay)
        return follower

    def forget(self, principal: str) -> None:
        """The server refused C{principal}'s token: trade again next time."""
        self._held.pop(principal, None)

    def _exchange(self, principal: str) -> Deferred[str | None]:
        subject = self._subjects.tokenOf(principal)
        if not principal or subject is None:
            return succeed(
                "the gateway holds no access token of yours to exchange (send your request"
                " with your token to the gateway again)"
            )
        tokenUrl = succeed(self._tokenUrl) if self._tokenUrl else self._discover()

        def post(url: str | None) -> Deferred[str | None]:
            if url is None:
                return succeed(
                    f"no token endpoint: the issuer {self._issuer} publishes none"
                    " (set the entry's exchange.tokenUrl)"
                )
            self._tokenUrl = url
            return self._post(url, principal, subject)

        return tokenUrl.addCallback(post).addErrback(self._broke)

    def _post(
        self, url: str, principal: str, subject: tuple[str, float | None]
    ) -> Deferred[str | None]:
        body, headers = exchangeRequest(self.settings, self.resource, subject[0])
        sent = self._agentFor(url).request(
            b"POST",
            url.encode("ascii"),
            Headers({k.encode(): [v.encode()] for k, v in headers.items()}),
            BytesProducer(body),
        )

        def answered(response: IResponse) -> Deferred[str | None]:
            return readBody(response).addCallback(self._answered, principal, subject, response.code)

        return sent.addCallback(answered)

    def _answered(
        self,
        result: tuple[bytes, Failure],
        principal: str,
        subject: tuple[str, float | None],
        code: int,
    ) -> str | None:
        body, _ = result
        try:
            data = tokenResponse(json.loads(body))
        except (ValueError, DiscoveryError) as e:
            why = f"the token exchange at {self._tokenUrl} failed (HTTP {code}): {e}"
            self.log.warn("server {server}: {why}", server=self.server, why=why)
            return why
        expires = None
        lifetime = data.get("expires_in")
        if isinstance(lifetime, int | float) and not isinstance(lifetime, bool):
            expires = self._now() + float(lifetime)
        if subject[1] is not None:
            expires = subject[1] if expires is None else min(expires, subject[1])
        self._held[principal] = (data["access_token"], expires, subject[0])
        self.exchanges += 1
        return None

    def _discover(self) -> Deferred[str | None]:
        """The token endpoint of the gateway's issuer (RFC 8414, then OIDC)."""
        if not self._issuer:
            return succeed(None)
        candidates = authServerMetadataUrls(self._issuer)

        def attempt(_: object = None) -> Deferred[str | None]:
            if not candidates:
                return succeed(None)
            url = candidates.pop(0)
            got = self._agentFor(url).request(
                b"GET", url.encode("ascii"), Headers({b"accept": [b"application/json"]})
            )

            def read(response: IResponse) -> Deferred[str | None]:
                def parse(result: tuple[bytes, Failure]) -> Deferred[str | None] | str | None:
                    try:
                        endpoint = json.loads(result[0]).get("token_endpoint")
                    except (ValueError, AttributeError):
                        endpoint = None
                    if response.code == 200 and isinstance(endpoint, str) and endpoint:
                        return endpoint
                    return attempt()

                return readBody(response).addCallback(parse)

            return got.addCallback(read)

        return attempt()

    def _broke(self, reason: Failure) -> str:
        why = f"the token exchange failed: {reason.getErrorMessage()}"
        self.log.warn("server {server}: {why}", server=self.server, why=why)
        return why


def exchangeRequest(
    settings: TokenExchangeSettings, resource: str, subjectToken: str
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of an RFC 8693 request trading C{subjectToken}
    for an access token to C{resource}."""
    form = {
        "grant_type": GRANT_TYPE,
        "subject_token": subjectToken,
        "subject_token_type": ACCESS_TOKEN,
        "requested_token_type": ACCESS_TOKEN,
        "resource": resource,
    }
    if settings.audience:
        form["audience"] = settings.audience
    if settings.scope:
        form["scope"] = settings.scope
    return formRequest(form, settings.clientId, settings.clientSecret)

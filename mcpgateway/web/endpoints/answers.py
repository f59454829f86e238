# -*- test-case-name: tests.web.endpoints.test_mcp -*-
"""What a caller of the MCP endpoint may read of an answer.

One job: an answer on its way to the caller. A server's failure may quote
what its child wrote (its stderr), which only a caller L{showsChildText}
allows reads (the others get the gateway's own words, L{publicReason}); a
listing loses what the request policy does not let the caller call, and
with a policy a 2026-07-28 answer's cache hints say C{private}
(L{perCaller}).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest

from mcpgateway.core.cachehints import perCaller
from mcpgateway.core.catalogdata import publicReason
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.pool import ServerUnavailable, SessionGone
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.web.endpoints.backends import principalOf
from mcpgateway.web.endpoints.guard import forCaller, showsChildText

if TYPE_CHECKING:
    from mcpgateway.governance.gate import PolicyGate  # loaded with a policy


class Policied(Protocol):
    """What L{CallerAnswers} reads of its endpoint at each answer: the
    request policy, which whoever builds the endpoint sets (and may change)."""

    requestPolicy: PolicyGate | None


class CallerAnswers:
    """The answers of one MCP endpoint (one server, one route), as each
    caller may read them."""

    def __init__(
        self,
        host: Policied,
        gateway: Gateway,
        server: str,
        scope: str,
        loopbackOnly: bool,
        log: Logger,
    ) -> None:
        """
        @param host: the endpoint, whose current request policy screens listings.
        @param loopbackOnly: the gateway is bound to loopback only; else
            (reachable from other machines) what a child wrote reaches
            admins only (L{showsChildText}).
        @param log: where a failure that is the gateway's defect is logged.
        """
        self._host = host
        self._gateway = gateway
        self._server = server
        self._scope = scope
        self._loopbackOnly = loopbackOnly
        self._log = log

    def forCaller(self, response: Message, request: IRequest) -> Message:
        """C{response} as C{request}'s caller may read it (L{forCaller}): the
        gateway's C{-32003} (the child exited while the request waited)
        quotes the child's stderr, which only a caller L{showsChildText}
        allows gets; the others get the gateway's own words. A result has
        nothing to hide: the caller is not looked at (the answer's way out),
        but a listing loses what the policy does not let the caller call."""
        if type(response.get("error")) is not dict:
            policy = self._host.requestPolicy
            if policy is not None:
                from mcpgateway.web.endpoints.policystep import screenedAnswer  # the policy's step

                return screenedAnswer(
                    policy, request, response, self._gateway, self._server, self._scope
                )
            return response
        return forCaller(response, self.showsChildText(request))

    def showsChildText(self, request: IRequest) -> bool:
        """Whether C{request}'s caller may read what a child wrote."""
        return showsChildText(self._loopbackOnly, principalOf(request), request)

    def errorFor(self, requestId: Any, reason: Failure, request: IRequest) -> Message:
        """The answer to a request that failed with C{reason}: a server's
        failure may quote its child's stderr, which only a caller
        L{showsChildText} allows reads (the others get the gateway's own
        words, L{publicReason}); anything else is the gateway's defect."""
        if reason.check(ServerUnavailable, SessionGone):
            text = str(reason.value)
            if not self.showsChildText(request):
                text = publicReason(text)
            return jsonrpc.errorResponse(requestId, jsonrpc.SERVER_UNAVAILABLE, text)
        self._log.failure("request to server {server} failed", failure=reason, server=self._server)
        return jsonrpc.errorResponse(
            requestId, jsonrpc.INTERNAL_ERROR, f"gateway error: {reason.getErrorMessage()}"
        )

    def screened(self, method: str, message: Message, request: IRequest) -> Message:
        """A 2026-07-28 answer to C{method} as the policy lets its caller see
        it; with a policy, any cache hints say C{private} (L{perCaller})."""
        policy = self._host.requestPolicy
        if policy is None:
            return message
        from mcpgateway.governance.policy import LISTED
        from mcpgateway.web.endpoints.policystep import screenedAnswer

        if method in LISTED:
            message = screenedAnswer(
                policy, request, message, self._gateway, self._server, self._scope
            )
        return perCaller(message)

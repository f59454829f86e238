# -*- test-case-name: tests.web.endpoints.test_endpoint_parts,tests.web.endpoints.test_mcp,tests.web.endpoints.test_cluster_web -*-
"""Whether a POST to the MCP endpoint may go on before anything acts on it.

One job: the governance of a POST, in order: the principal's request
limits (L{Quota}: 429 with C{Retry-After} and a C{-32004} body), the
request policy (L{mcpgateway.web.endpoints.policystep}), then the rate limits and
quotas of calls (L{mcpgateway.governance.quotas}). A request a peer
forwarded was counted on the replica it first reached, and is not counted
again; the policy decides it here too (L{PostAdmission.policy}).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from twisted.web.iweb import IRequest
from twisted.web.server import Request

from mcpgateway.core.decision import Decision
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.sessions import shortId
from mcpgateway.httpbase.clienterrors import ClientErrors
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import RATE_LIMITED
from mcpgateway.web.endpoints.auditnote import noteClaimedSession, requestCount
from mcpgateway.web.endpoints.backends import Quota
from mcpgateway.web.endpoints.guard import header
from mcpgateway.web.endpoints.principal import principalKey
from mcpgateway.web.plumbing.replies import errorReply, validIdOrNull
from mcpgateway.web.plumbing.requestcontext import contextOf

if TYPE_CHECKING:
    from mcpgateway.governance.gate import PolicyGate  # loaded with a policy
    from mcpgateway.governance.quotagate import QuotaGate  # loaded with call limits


class Governed(Protocol):
    """What L{PostAdmission} reads of its endpoint at each POST: the gates
    whoever builds the endpoint sets (and may change), and which server a
    call reaches (an aggregate endpoint's member)."""

    requestPolicy: PolicyGate | None
    callQuotas: QuotaGate | None
    callsMembers: bool
    """Whether a call may reach another server than the endpoint's own
    (L{callTarget}: an aggregate endpoint's member)."""

    def callTarget(self, request: IRequest, message: Any) -> tuple[str, str] | None:
        """The server a call of C{message} reaches and its name there, when
        that is not the endpoint's own."""


class PostAdmission:
    """The quota, policy and call limits of one MCP endpoint's POSTs."""

    def __init__(
        self,
        host: Governed,
        gateway: Gateway,
        server: str,
        scope: str,
        clientErrors: ClientErrors,
        quota: Quota | None = None,
        throttled: Callable[[], object] | None = None,
    ) -> None:
        """
        @param host: the endpoint, whose current gates decide.
        @param quota: per-principal limits on requests (C{None}: none).
        @param throttled: called once per request refused by C{quota}.
        """
        self._host = host
        self._gateway = gateway
        self._server = server
        self._scope = scope
        self._clientErrors = clientErrors
        self._quota = quota
        self._throttled = throttled

    def refusal(self, request: Request, payload: Any) -> bytes | None:
        """The answer to a POST of C{payload} that may not go on (C{None}:
        it goes on): L{quota}, L{policy}, then L{callQuotas}."""
        return (
            self.quota(request, payload)
            or self.policy(request, payload)
            or self.callQuotas(request, payload)
        )

    def quota(self, request: Request, payload: Any) -> bytes | None:
        """The principal's request limits: the 429 of a POST over them
        (C{None}: admitted, or no quota)."""
        if self._quota is None:
            return None
        return self._admit(self._quota, request, payload)

    def policy(self, request: Request, payload: Any) -> bytes | None:
        """The request policy: the refusal of a POST it denies (C{None}:
        allowed, or no policy).

        A request a peer forwarded is decided here as any other: this
        replica owns its session, so it decides it as a single gateway does
        (the session's client, its labels and the flow step that asks the
        policy again are here, and so is the record of the decision that
        step looks up: L{mcpgateway.governance.flowpolicy}). What the
        policy reads of the caller and the address its request came from
        travel sealed in the peer header under the cluster key, bound to
        this very request (L{mcpgateway.cluster.peer}), which a client
        cannot forge, so the decision is the one the replica it reached
        would make, and one the policy refuses is refused whichever replica
        it reached. The decision itself does not travel: the replica that
        forwards does not know the session's client, and a decision made
        without it is not the owner's to trust."""
        policy = self._host.requestPolicy
        if policy is None:
            return None
        from mcpgateway.web.endpoints.policystep import refusedPost  # the policy's step

        return refusedPost(policy, request, payload, self._gateway, self._server, self._scope)

    def callQuotas(self, request: Request, payload: Any) -> bytes | None:
        """The rate limits and quotas of calls: the 429 of a POST over them
        (C{None}: within them, none, or a peer's forwarded request)."""
        host = self._host
        limits = host.callQuotas
        if limits is None:
            return None
        if not host.callsMembers and limits.unlimited(self._server):
            return None  # no limit applies: nothing to decide, nor to count
        if contextOf(request).fromPeer:
            return None
        return self._overQuota(limits, request, payload)

    def _admit(self, quota: Quota, request: Request, payload: Any) -> bytes | None:
        """Count the requests of C{payload} against the principal's limits:
        C{None} when admitted (released when the HTTP request ends), else
        the 429 to answer (C{Retry-After}, a JSON-RPC -32004 body)."""
        count = requestCount(payload)
        context = contextOf(request)
        if not count or context.quotaHeld:
            return None  # nothing to count, or counted before (rendered again)
        if context.fromPeer:
            return None  # counted by the replica the client sent it to
        key = context.principalKey
        retryAfter = quota.admit(key, count)
        if retryAfter is None:
            context.quotaHeld = True
            request.notifyFinish().addBoth(lambda _: quota.release(key, count))
            return None
        if self._throttled is not None:
            self._throttled()
        seconds = max(1, math.ceil(retryAfter))
        request.setHeader(b"retry-after", str(seconds).encode("ascii"))
        requestId = validIdOrNull(payload.get("id")) if isinstance(payload, dict) else None
        note = contextOf(request).auditNote
        if note is not None:
            note.decision = quotaDecision(getattr(quota, "lastKind", ""), seconds)
            note.settle("refused", jsonrpc.TOO_MANY_REQUESTS)
            claimed = header(request, "mcp-session-id")
            if claimed:  # refused before the session is looked up: named as claimed
                note.session = shortId(claimed)
        self._clientErrors.note(request, 429, "over the principal's request limits")
        return errorReply(
            request,
            429,
            jsonrpc.TOO_MANY_REQUESTS,
            f"too many requests: over this caller's limits; retry in {seconds} s",
            requestId,
        )

    def _overQuota(self, limits: QuotaGate, request: Request, payload: Any) -> bytes | None:
        """The 429 of a POST a rate limit refuses a call of (C{None}: every
        call may go on). A call of an aggregate endpoint counts as its
        member's (L{Governed.callTarget})."""
        host = self._host
        limited = limits.decide(
            payload,
            principalKey(request),
            self._server,
            lambda message: host.callTarget(request, message),
        )
        if limited is None:
            return None
        self._clientErrors.note(request, 429, limited[0].reason)
        context = contextOf(request)
        note = context.auditNote
        if note is not None:
            note.decision = limited[0]
            note.settle("refused", RATE_LIMITED)
            noteClaimedSession(note, self._gateway.sessions, request, context.principalKey)
        return limits.refuse(request, *limited, payload)


QUOTA_REASONS = {
    "concurrency": "over this caller's limit of requests in flight (--max-requests-per-principal)",
    "rate": "over this caller's rate of requests (--rate-per-principal)",
}
"""What the audit record says of a request the principal's limits refused,
by the kind of limit (L{mcpgateway.auth.quota})."""


def quotaDecision(kind: str, retryAfter: float) -> Decision:
    """The decision of a request the principal's limits (C{kind}: C{rate},
    C{concurrency}, C{""}: not known) refused: C{limited}, naming the limit."""
    reason = QUOTA_REASONS.get(kind, "over this caller's request limits")
    return Decision(
        "limited",
        policies=(f"principal.{kind or 'requests'}",),
        reason=f"too many requests: {reason}",
        retryAfter=retryAfter,
    )

# -*- test-case-name: tests.governance.test_quotas_gate -*-
"""The rate limits in front of an MCP endpoint: the facts of a POSTed body,
the decision of L{mcpgateway.governance.quotas.CallQuotas}, and the HTTP
answer of a refusal (L{mcpgateway.governance.quotareply}).

On an aggregate endpoint (C{/mcp}) a call is decided as the call of the
member it reaches (C{resolve}: the member server and its own name for the
tool), so that the member's own limits apply there too.

A batch (2025-03-26) is decided request by request; its first refused
request refuses the whole POST (the calls before it keep their tokens: a
client retrying the batch retries them too), and each of its requests is
answered (L{mcpgateway.protocol.jsonrpc.batchAnswer}). A request the gateway will
refuse anyway (no C{params} object, no name) is let through to that
refusal, uncounted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.web.iweb import IRequest

from mcpgateway.config.quotas import NO_QUOTAS, QuotaSet
from mcpgateway.core.decision import Decision
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.governance.quotareply import STATUS, rateLimitedError, retryAfterSeconds
from mcpgateway.governance.quotas import COUNTED, CallFacts, CallQuotas, quotasOf
from mcpgateway.protocol import jsonrpc

_JSON = b"application/json"
Resolve = Callable[[Any], "tuple[str, str] | None"]
"""Where a call of an aggregate endpoint goes: (member server, its name there)."""


def factsOf(message: Any, principal: str, server: str) -> CallFacts | None:
    """The facts of one JSON-RPC message, C{None} when it is no call."""
    if not isinstance(message, dict):
        return None
    method = message.get("method")
    if not isinstance(method, str) or method not in COUNTED or "id" not in message:
        return None
    params = message.get("params")
    if not isinstance(params, dict):
        return None
    name = params.get("uri" if method == "resources/read" else "name")
    if not isinstance(name, str):
        return None
    continued = method == "tools/call" and isinstance(params.get("requestState"), str)
    return CallFacts(principal, server, method, name, continued)


class QuotaGate:
    """Decides the calls of POSTed bodies against one gateway's limits."""

    def __init__(
        self,
        clock: IReactorTime,
        gatewayQuotas: Callable[[], QuotaSet] = lambda: NO_QUOTAS,
        serverQuotas: Callable[[str], QuotaSet] = lambda server: NO_QUOTAS,
        maxBuckets: int | None = None,
    ) -> None:
        """
        @param gatewayQuotas: the gateway's C{"limits"} now (read per call:
            a reloaded config applies at once, and the buckets stay).
        @param serverQuotas: a server entry's C{"limits"} now, by name.
        """
        self.clock = clock
        self.gatewayQuotas = gatewayQuotas
        self.serverQuotas = serverQuotas
        self.limits = (
            CallQuotas(serverQuotas=serverQuotas)
            if maxBuckets is None
            else CallQuotas(serverQuotas=serverQuotas, maxBuckets=maxBuckets)
        )

    def unlimited(self, server: str) -> bool:
        """Whether no limit applies to a call of C{server} now: the config
        sets none at the gateway level, nor in C{server}'s entry. Such a
        call is allowed and taken from no bucket (L{CallQuotas.check}), so
        a server's endpoint asks this first and decides nothing: a laptop's
        gateway, which sets no limits, then spends no call of its own on
        them."""
        return self.gatewayQuotas() is NO_QUOTAS and self.serverQuotas(server) is NO_QUOTAS

    def decide(
        self, payload: Any, principal: str, server: str, resolve: Resolve | None = None
    ) -> tuple[Decision, Any] | None:
        """C{None} when every call of C{payload} is admitted, else the
        refusal and the id of the request it refuses.

        @param resolve: the member server a call of an aggregate endpoint
            (C{/mcp}) reaches, and its name there (C{None}: none, the call
            is the endpoint's own); without it, C{server} is the server."""
        now: float | None = None
        for message in payload if isinstance(payload, list) else (payload,):
            facts = factsOf(message, principal, server)
            if facts is None:
                continue
            if resolve is not None and not facts.continued:
                target = resolve(message)
                if target is not None:
                    facts = replace(facts, server=target[0], name=target[1])
            if now is None:
                self.limits.configure(self.gatewayQuotas())
                now = self.clock.seconds()
            decision = self.limits.check(facts, now)
            if not decision.allowed:
                requestId = message.get("id")
                valid = isinstance(requestId, str | int) and not isinstance(requestId, bool)
                return decision, requestId if valid else None
        return None

    def refuse(
        self, request: IRequest, decision: Decision, requestId: Any, payload: Any = None
    ) -> bytes:
        """Answer a refusal of C{payload}'s request C{requestId}: HTTP 429,
        C{Retry-After}, the JSON-RPC error (for a batch, an answer for each
        request: L{mcpgateway.protocol.jsonrpc.batchAnswer})."""
        request.setResponseCode(STATUS, b"Too Many Requests")
        request.setHeader(b"content-type", _JSON)
        request.setHeader(b"retry-after", str(retryAfterSeconds(decision)).encode("ascii"))
        others = (
            f"not run: request {requestId!r} of this batch is over its rate limit, and a"
            " batch is refused whole"
        )
        return jsonrpc.dumps(
            jsonrpc.batchAnswer(payload, rateLimitedError(requestId, decision), others)
        )


def forGateway(
    clock: IReactorTime, gateway: Gateway, gatewayQuotas: Callable[[], str]
) -> QuotaGate:
    """The gate of a running gateway: its config's top-level C{"limits"}
    (C{gatewayQuotas}, compact JSON) and each server entry's."""

    def serverQuotas(server: str) -> QuotaSet:
        pool = gateway.pools.get(server)
        return NO_QUOTAS if pool is None else quotasOf(pool.spec.limits)

    return QuotaGate(clock, lambda: quotasOf(gatewayQuotas()), serverQuotas)


REFUSED_SCOPES = ("principal", "server", "tool", "principal-tool", "daily")


def renderMetrics(gate: QuotaGate) -> bytes:
    """C{mcpgateway_limit_refused_total{scope}}: calls refused by a rate
    limit or a daily quota, by scope (every scope, 0 included)."""
    name = "mcpgateway_limit_refused_total"
    lines = [
        f"# HELP {name} Calls refused (429) by a rate limit or a daily quota, by scope.",
        f"# TYPE {name} counter",
    ]
    lines += [f'{name}{{scope="{scope}"}} {gate.limits.refused[scope]}' for scope in REFUSED_SCOPES]
    return ("\n".join(lines) + "\n").encode("ascii")


HEALTH_ROWS = 50
"""The (principal, server) rows C{/health} shows at most."""


def healthSection(gate: QuotaGate) -> dict[str, Any] | None:
    """What C{/health} shows of the limits (C{None}: none configured and
    nothing refused): refusals by scope, and the last L{HEALTH_ROWS}
    (principal, server) pairs refused, newest first, with the calls each
    has left now in its C{principal} and C{server} buckets."""
    limits = gate.limits
    limits.configure(gate.gatewayQuotas())
    if not limits.gatewayQuotas and not limits.refusedBy and not len(limits):
        return None
    now = gate.clock.seconds()
    rows: list[dict[str, Any]] = []
    for (principal, server), refused in reversed(limits.refusedBy.items()):
        if len(rows) == HEALTH_ROWS:
            break
        remaining = limits.remaining(principal, server, now)
        rows.append(
            {"principal": principal, "server": server, "refused": refused, "remaining": remaining}
        )
    return {
        "refused": {scope: limits.refused[scope] for scope in REFUSED_SCOPES},
        "buckets": len(limits),
        "recentlyRefused": rows,
    }

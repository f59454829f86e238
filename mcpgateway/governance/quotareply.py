# -*- test-case-name: tests.governance.test_quotas_reply -*-
"""How a call refused by a rate limit is answered, and how an upstream's own
429 becomes the same answer.

A refusal is HTTP 429 with C{Retry-After} (whole seconds, rounded up, at
least 1) and a JSON-RPC error C{-32023} (L{RATE_LIMITED}, the code the MCP
draft SEP-3304 gives a rate-limited request and binds to HTTP 429; it lies
in JSON-RPC's implementation-defined server range, so it is valid whether
or not the draft is accepted) whose C{data} carries the wait in
milliseconds, the limit's id and its scope: a client that reads only the
status, only the header or only the body learns when to retry.
"""

from __future__ import annotations

import math
from typing import Any

from mcpgateway.core.decision import Decision
from mcpgateway.governance.quotas import scopeOf
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import RATE_LIMITED, UPSTREAM_SCOPE

STATUS = 429


def retryAfterSeconds(decision: Decision) -> int:
    """The C{Retry-After} header's value: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(decision.retryAfter or 0.0))


def errorData(decision: Decision) -> dict[str, Any]:
    """The JSON-RPC error's C{data}: C{retryAfterMs}, C{limit}, C{scope}."""
    limit = decision.policies[0] if decision.policies else ""
    return {
        "retryAfterMs": max(1, math.ceil((decision.retryAfter or 0.0) * 1000)),
        "limit": limit,
        "scope": UPSTREAM_SCOPE if not limit or limit.startswith("upstream.") else scopeOf(limit),
    }


def rateLimitedError(requestId: Any, decision: Decision) -> jsonrpc.Message:
    """The JSON-RPC error response of a refused request."""
    seconds = retryAfterSeconds(decision)
    text = f"{decision.reason or 'rate limited'}; retry in {seconds} s"
    return jsonrpc.errorResponse(requestId, RATE_LIMITED, text, errorData(decision))


def upstreamLimited(server: str, retryAfter: float | None) -> Decision:
    """The decision an upstream's own 429 stands for: C{limited}, its
    C{Retry-After} (1 s when it gave none)."""
    return Decision(
        "limited",
        policies=(f"upstream.{server}",),
        reason=f"rate limited by the upstream server {server!r}",
        retryAfter=1.0 if retryAfter is None else max(retryAfter, 0.001),
    )

# -*- test-case-name: tests.governance.test_quotas_reply -*-
"""An upstream server's own HTTP 429, as the JSON-RPC error the gateway
gives a call refused by its own rate limits (L{mcpgateway.governance.quotareply}):
C{-32023} (the MCP draft SEP-3304), its C{data} the wait in milliseconds
(the upstream's C{Retry-After}, seconds or an HTTP date; 1 s when it gave
none), the limit C{upstream.<server>} and the scope C{upstream}. A client
sees one kind of refusal, whoever made it.
"""

from __future__ import annotations

import math
from email.utils import parsedate_to_datetime
from typing import Any

from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import RATE_LIMITED, UPSTREAM_SCOPE

MAX_RETRY_AFTER = 86400.0 * 7
"""The longest wait an upstream's C{Retry-After} is believed for."""


def parseRetryAfter(value: str | bytes | None, now: float) -> float | None:
    """An HTTP C{Retry-After} (delay-seconds or an HTTP date) as seconds
    from C{now}; C{None} when absent or unreadable."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(int(value[:12])), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(0.0, when - now), MAX_RETRY_AFTER)


def upstreamRateLimited(
    requestId: Any, server: str, retryAfter: str | None, now: float
) -> jsonrpc.Message:
    """The error answering a request whose upstream answered HTTP 429."""
    seconds = parseRetryAfter(retryAfter, now)
    seconds = 1.0 if seconds is None else max(seconds, 0.001)
    data = {
        "retryAfterMs": max(1, math.ceil(seconds * 1000)),
        "limit": f"upstream.{server}",
        "scope": UPSTREAM_SCOPE,
    }
    text = (
        f"rate limited by the upstream server {server!r}; retry in {max(1, math.ceil(seconds))} s"
    )
    return jsonrpc.errorResponse(requestId, RATE_LIMITED, text, data)

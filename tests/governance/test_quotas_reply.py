"""The answer to a rate-limited call (L{mcpgateway.governance.quotareply})."""

from __future__ import annotations

from email.utils import formatdate

from mcpgateway.core.decision import Decision
from mcpgateway.governance.quotareply import (
    errorData,
    rateLimitedError,
    retryAfterSeconds,
    upstreamLimited,
)
from mcpgateway.protocol.jsonrpc import RATE_LIMITED
from mcpgateway.remote.ratelimited import parseRetryAfter


def test_retry_after_rounds_up_to_whole_seconds() -> None:
    assert retryAfterSeconds(Decision("limited", ("limits.principal",), "x", 0.2)) == 1
    assert retryAfterSeconds(Decision("limited", ("limits.principal",), "x", 1.0)) == 1
    assert retryAfterSeconds(Decision("limited", ("limits.principal",), "x", 1.01)) == 2


def test_error_carries_the_wait_the_limit_and_its_scope() -> None:
    decision = Decision("limited", ("limits.principalTool",), "rate limited: over it", 1.2345)
    error = rateLimitedError(7, decision)
    assert error["id"] == 7
    assert error["error"]["code"] == RATE_LIMITED == -32023
    assert error["error"]["data"] == {
        "retryAfterMs": 1235,
        "limit": "limits.principalTool",
        "scope": "principal-tool",
    }
    assert "retry in 2 s" in error["error"]["message"]
    daily = errorData(Decision("limited", ("mcpServers.x.limits.principal.daily",), "", 5.0))
    assert daily["scope"] == "daily"


def test_upstream_429_maps_onto_the_same_error() -> None:
    decision = upstreamLimited("weather", parseRetryAfter(b"7", 0.0))
    assert retryAfterSeconds(decision) == 7
    assert errorData(decision) == {
        "retryAfterMs": 7000,
        "limit": "upstream.weather",
        "scope": "upstream",
    }
    assert upstreamLimited("w", None).retryAfter == 1.0


def test_retry_after_as_date_or_nonsense() -> None:
    assert parseRetryAfter(formatdate(1000.0, usegmt=True), 990.0) == 10.0
    assert parseRetryAfter(formatdate(1000.0, usegmt=True), 2000.0) == 0.0
    assert parseRetryAfter("soon", 0.0) is None
    assert parseRetryAfter(None, 0.0) is None
    assert parseRetryAfter("9" * 40, 0.0) == 7 * 86400.0

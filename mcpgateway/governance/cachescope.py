# -*- test-case-name: tests.governance.test_cachescope -*-
"""The C{cacheScope} of what the gateway answers a MCP 2026-07-28 client
when a policy decides per caller (docs/guide/limits.md, docs/guide/policy.md).

A policy (C{--policy}) screens each listing for its caller and decides
who may read a resource: the same request can be answered differently,
or refused, for another principal. Such an answer is C{private}
(specification: "filtered list results that vary per user"): a shared
cache that stored it as C{public} could serve it to a caller the policy
would have shown less, or refused. L{perCaller} marks it so; it leaves
C{ttlMs} as it is, and an answer without cache hints (an error, a 2025
result) alone.
"""

from __future__ import annotations

from mcpgateway.core.cachehints import PRIVATE
from mcpgateway.protocol.jsonrpc import Message


def perCaller(message: Message) -> Message:
    """C{message} with a C{private} C{cacheScope} when its result carries
    one (a copy; C{message} itself when there is nothing to change)."""
    result = message.get("result")
    if not isinstance(result, dict) or result.get("cacheScope") in (None, PRIVATE):
        return message
    return {**message, "result": {**result, "cacheScope": PRIVATE}}

"""What tests/protocol/test_envelope.py shares with the other tests: ABSENT,
expectedNotificationProblem, expectedRequestProblem."""

from __future__ import annotations

from typing import Any

from mcpgateway.protocol import envelope
from mcpgateway.protocol.envelope import LOG_LEVELS

ABSENT: Any = envelope._ABSENT
"""A member left out of a message (not the same as null)."""


def isId(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def expectedRequestProblem(method: str, params: Any) -> bool:
    """Whether the envelope of C{method} with C{params} is wrong (the oracle)."""
    if params is ABSENT:
        params = {}
    elif not isinstance(params, dict):
        return True
    meta = params.get("_meta", ABSENT)
    if meta is not ABSENT and (
        not isinstance(meta, dict) or ("progressToken" in meta and not isId(meta["progressToken"]))
    ):
        return True
    if method == "initialize":
        return not isinstance(params.get("protocolVersion"), str) or any(
            name in params and not isinstance(params[name], dict)
            for name in ("capabilities", "clientInfo")
        )
    if method == "logging/setLevel":
        return params.get("level") not in LOG_LEVELS or not isinstance(params["level"], str)
    if method in ("resources/subscribe", "resources/unsubscribe"):
        return not isinstance(params.get("uri"), str)
    return False


def expectedNotificationProblem(method: str, params: Any) -> bool:
    if params is ABSENT:
        return method == "notifications/cancelled"
    if not isinstance(params, dict):
        return True
    if "_meta" in params and not isinstance(params["_meta"], dict):
        return True
    if method == "notifications/cancelled":
        return ("requestId" in params and not isId(params["requestId"])) or (
            "reason" in params and not isinstance(params["reason"], str)
        )
    return False

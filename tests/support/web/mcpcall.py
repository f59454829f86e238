"""One JSON-RPC request on an open MCP session through a L{Harness}: what
the tests of the reaper and of the metrics send after C{initialize}."""

from __future__ import annotations

from typing import Any

from tests.http import Harness, Response


def call(
    h: Harness,
    session: str,
    requestId: Any = 2,
    method: str = "tools/call",
    params: dict[str, Any] | None = None,
    server: str = "srv",
    **kwargs: Any,
) -> Response:
    """POST C{method} (a C{tools/call} of C{echo} unless told) to C{server}'s
    MCP endpoint on C{session}."""
    return h.request(
        "POST",
        f"/{server}/mcp",
        {
            "jsonrpc": "2.0",
            "id": requestId,
            "method": method,
            "params": params if params is not None else {"name": "echo"},
        },
        session=session,
        **kwargs,
    )


def slowCall(h: Harness, sid: str, requestId: Any = 7) -> tuple[Response, dict[str, Any]]:
    """A tools/call of C{slow} with a progress token; the request as the
    child got it."""
    params = {"name": "slow", "_meta": {"progressToken": "tok"}}
    response = call(h, sid, requestId, "tools/call", params)
    forwarded = [m for m in h.process().sentMessages() if m.get("method") == "tools/call"][-1]
    return response, forwarded

"""whoQuestion: a member child's elicitation inside a call, for the tests
of the aggregate's 2026 input rounds (core and web)."""

from __future__ import annotations

from typing import Any

from mcpgateway.protocol import jsonrpc


def whoQuestion(callId: Any) -> jsonrpc.Message:
    """The child's elicitation C{e-1} (a form with no fields), made for its
    call C{callId} and keyed C{who} in the round's inputs."""
    return jsonrpc.request(
        "e-1",
        "elicitation/create",
        {
            "message": "name?",
            "requestedSchema": {"type": "object", "properties": {}},
            "_meta": {"mcpgateway/relatedRequestId": callId, "mcpgateway/inputKey": "who"},
        },
    )

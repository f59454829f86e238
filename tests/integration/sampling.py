"""A sampling callback for the Python SDK client that records which client
was asked, shared by the tests of where a child's sampling requests go."""

from __future__ import annotations

from typing import Any

import mcp.types as types


def recordingSampler(label: str, sampledBy: list[str]) -> Any:
    """A C{sampling_callback} that appends C{label} to C{sampledBy} and
    answers C{"answer from <label>"}."""

    async def onSampling(context: Any, params: types.CreateMessageRequestParams) -> Any:
        sampledBy.append(label)
        return types.CreateMessageResult(
            role="assistant",
            model="m",
            content=types.TextContent(type="text", text=f"answer from {label}"),
        )

    return onSampling

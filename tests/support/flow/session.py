"""A client's session as the flow step reads it (L{FakeSession})."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeSession:
    """What L{mcpgateway.flow.step.CallerSession} reads: an id, the
    principal's key, the client's pid and C{clientInfo}."""

    id: str = "s1"
    principal: str = ""
    clientPid: int | None = None
    pidFromSocket: bool = False
    clientInfo: Any = field(default_factory=lambda: {"name": "agent"})

# -*- test-case-name: tests.core.era2026.test_mrtr -*-
"""How long and how many MCP 2026-07-28 calls may wait for their clients'
input: the settings of a pool's L{InputBridge<mcpgateway.core.era2026.mrtr.InputBridge>}.

One job: carry C{--era2026-input-timeout} and C{--max-suspended-calls}
from the command line to every pool, which every gateway does at start-up,
apart from the bridge itself, which a pool makes on its first 2026 request.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class BridgeWaits:
    """How long and how many 2026 calls may wait for their clients' input."""

    inputTimeout: float = 600.0
    """Seconds a suspended call waits for its retry (C{--era2026-input-timeout})."""
    maxSuspended: int = 256
    """Suspended calls per server at most (C{--max-suspended-calls})."""

"""What tests/governance/test_quotas_gate.py shares with the other tests:
limited, passed, toolCall."""

from __future__ import annotations

from typing import Any

from mcpgateway.config.quotas import parseQuotas
from mcpgateway.governance.quotagate import QuotaGate
from tests.http import Response
from tests.support.web.team_web import TeamHarness


def toolCall(requestId: int, name: str = "read", **params: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": requestId,
        "method": "tools/call",
        "params": {"name": name, "arguments": {}, **params},
    }


def passed(response: Response) -> bool:
    """Not refused by a limit: forwarded (waiting for the child) or answered."""
    return not response.complete or response.status != 429


def limited(config: dict[str, Any]) -> TeamHarness:
    h = TeamHarness()
    h.team.callQuotas = QuotaGate(h.reactor, lambda: parseQuotas(config))
    return h

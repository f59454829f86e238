# -*- test-case-name: tests.core.test_decision -*-
"""What the gateway decided about one MCP request, in one shape for every
deciding part (the policy, the rate limits), so that the refusal a client
gets, the counters and the audit trail all read the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["allowed", "denied", "limited", "approval"]
"""C{allowed}: the request goes on; C{denied}: a policy refused it;
C{limited}: a rate limit or a quota refused it (it may be retried later);
C{approval}: a policy lets it go on only with a person's yes (a tool's
call is held for one: L{mcpgateway.flow.step})."""


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision about one request."""

    outcome: Outcome
    policies: tuple[str, ...] = ()
    """The ids of the policies or limits that decided (never their text)."""
    reason: str = ""
    """One line a client may be shown: what was refused and which policy or
    limit refused it; empty when allowed."""
    retryAfter: float | None = None
    """Seconds until a C{limited} request may succeed, else C{None}."""

    @property
    def allowed(self) -> bool:
        """Whether the request goes on."""
        return self.outcome == "allowed"


ALLOWED = Decision("allowed")
"""The decision where nothing decided otherwise (no policy, no limit)."""

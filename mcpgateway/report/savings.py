# -*- test-case-name: tests.ops.test_savings,tests.report.test_metrics -*-
"""What sharing saves, for C{/metrics}: the gauges
C{mcpgateway_processes_avoided} and C{mcpgateway_memory_avoided_bytes}, by
server, from the estimate in the read model
(L{mcpgateway.core.status.Savings}, measured by
L{mcpgateway.ops.savings.SavingsSampler})."""

from __future__ import annotations

from mcpgateway.core.status import GatewayStatus
from mcpgateway.report.exposition import escapeLabel

_PREFIX = "mcpgateway_"


def savingsLines(status: GatewayStatus) -> list[str]:
    """The savings of C{status} in the Prometheus text format: the gauges
    C{mcpgateway_processes_avoided} and C{mcpgateway_memory_avoided_bytes},
    by server (a server whose memory was never measured has no memory
    sample); nothing when the gateway does not estimate them."""
    savings = status.savings
    if savings is None:
        return []
    processes = [
        f"# HELP {_PREFIX}processes_avoided Processes the server's sessions would run with a"
        " launch of their own each (npx/uvx wrappers included), minus the ones its children run.",
        f"# TYPE {_PREFIX}processes_avoided gauge",
    ]
    memory = [
        f"# HELP {_PREFIX}memory_avoided_bytes Memory (PSS, else RSS) of those processes, at the"
        " mean measured on the server's children (wrappers only when one was measured).",
        f"# TYPE {_PREFIX}memory_avoided_bytes gauge",
    ]
    for name in sorted(savings.servers):
        figures = savings.servers[name]
        label = '{server="' + escapeLabel(name) + '"}'
        processes.append(f"{_PREFIX}processes_avoided{label} {figures.processesAvoided}")
        if figures.memoryAvoidedBytes is not None:
            memory.append(f"{_PREFIX}memory_avoided_bytes{label} {figures.memoryAvoidedBytes}")
    return processes + memory

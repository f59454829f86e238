"""A gateway's status as the report functions read it: version 9.9, pid 77,
started at 1.0, no memory figure; what the tests of /health and /metrics
render."""

from __future__ import annotations

from types import MappingProxyType

from mcpgateway.core.status import GatewayStatus, ServerStatus, SessionStatus


def gatewayStatus(
    servers: dict[str, ServerStatus],
    sessions: tuple[SessionStatus, ...] = (),
    now: float = 3.0,
) -> GatewayStatus:
    """The status of a gateway serving C{servers} and C{sessions} at C{now}."""
    return GatewayStatus(
        version="9.9",
        pid=77,
        started=1.0,
        now=now,
        rssBytes=None,
        servers=MappingProxyType(servers),
        sessions=sessions,
    )

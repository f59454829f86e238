"""gatewayStatus: a gateway's status snapshot made by hand, for the tests
that render the status page or sample its savings from one."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from mcpgateway.core.status import GatewayStatus, ServerStatus


def gatewayStatus(servers: dict[str, ServerStatus], **fields: Any) -> GatewayStatus:
    """A snapshot of C{servers} and no sessions (version 1.0, pid 1, started
    at 0 and taken at 2, 3 bytes resident), with C{fields} changed."""
    made: dict[str, Any] = {
        "version": "1.0",
        "pid": 1,
        "started": 0.0,
        "now": 2.0,
        "rssBytes": 3,
        "servers": MappingProxyType(servers),
        "sessions": (),
    }
    return GatewayStatus(**{**made, **fields})

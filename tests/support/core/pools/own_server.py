"""OWN: the spec of server own, a child per session, for the tests of the
scope catalogs a session's child is listed in and saved under."""

from __future__ import annotations

from mcpgateway.core.spec import ServerSpec

OWN = ServerSpec(
    name="own",
    command="own-server",
    executable="/opt/own",
    mode="session",
    requestTimeout=30.0,
)
"""/opt/own, a child per session, thirty seconds a request."""

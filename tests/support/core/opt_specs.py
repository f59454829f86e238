"""optSpec: a server spec of the fake children installed under /opt, for
the tests of sharing scopes and sessions."""

from __future__ import annotations

from typing import Any

from mcpgateway.core.spec import ServerSpec


def optSpec(name: str, **changes: Any) -> ServerSpec:
    """Server C{name}: command C{name} at /opt/C{name}, ten seconds a
    request, with C{changes} (mode, perUser, credentialEnv...)."""
    return ServerSpec(
        name=name, command=name, executable=f"/opt/{name}", requestTimeout=10.0, **changes
    )

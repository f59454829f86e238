# -*- test-case-name: tests.core.test_environment -*-
"""The environment a child gets: the gateway's own, minus what is the gateway's.

A stdio server inherits the gateway's environment (so C{PATH}, C{HOME},
proxies and the user's tokens reach it as they would from a client), except:

 - C{MCPGATEWAY_*}: the gateway's own settings and secrets (the management
   API token among them);
 - C{NOTIFY_SOCKET} and C{LISTEN_*}: a service manager's handles meant for
   the gateway (a child that used them would speak for the gateway, or
   take its sockets).

A server's C{env} entries are added on top of this (see
L{mcpgateway.core.spec.ServerSpec.environment}).
"""

from __future__ import annotations

from collections.abc import Mapping

GATEWAY_PREFIX = "MCPGATEWAY_"
SERVICE_MANAGER_NAMES = frozenset({"NOTIFY_SOCKET"})
SERVICE_MANAGER_PREFIX = "LISTEN_"


def isGatewayOwn(name: str) -> bool:
    """Whether C{name} is a variable a child must not inherit."""
    return (
        name.startswith((GATEWAY_PREFIX, SERVICE_MANAGER_PREFIX)) or name in SERVICE_MANAGER_NAMES
    )


def childEnvironment(environ: Mapping[str, str]) -> dict[str, str]:
    """C{environ} without the variables that belong to the gateway."""
    return {name: value for name, value in environ.items() if not isGatewayOwn(name)}

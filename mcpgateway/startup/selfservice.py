# -*- test-case-name: tests.startup.test_selfservice -*-
"""C{--self-service}: the gateway serves its own C{gateway} server.

With the flag (off by default) the gateway serves
L{mcpgateway.selfservice} (C{python -m mcpgateway.selfservice}) as a
built-in server named C{gateway}, C{"share": "global"}: on C{/mcp} and
C{/mcp/search} (C{gateway__add_server} ...) and at C{/gateway/mcp}. It is
no config file's entry and is never written to one: L{BuiltinServer.withBuiltin}
adds it to every set of servers the config service hands the gateway, and
takes the name from a configured server of the same name (with a warning).

Its child gets the gateway's URL (known once the gateway listens:
L{BuiltinServer.listening}) and a token minted at start-up
(L{BuiltinServer.token}) in its entry's environment: the management API
takes that token for its servers endpoints only
(L{mcpgateway.web.admin.api.ApiResource}), never the gateway's C{--api-token},
which the child never sees (C{MCPGATEWAY_*} variables are not inherited).
The MCP registry it searches is the gateway's C{MCPGATEWAY_REGISTRY}, else
the official one. On an authenticated gateway only admin principals may
list or call it (L{mcpgateway.web.plumbing.auth.AuthGate.adminOnly}).

The variable names are those L{mcpgateway.selfservice} reads (a program of
its own, which the service does not import); a test holds them equal.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from twisted.logger import Logger
from twisted.python import usage

from mcpgateway.runtime import interpreter, logs
from mcpgateway.startup.endpoints import endpointInterface, endpointPort, isTLSEndpoint

if TYPE_CHECKING:  # the options import this module: the config's modules load when used
    from mcpgateway.core.spec import ServerSpec

SERVER_NAME = "gateway"
URL_ENV = "GATEWAY_SELF_SERVICE_URL"
TOKEN_ENV = "GATEWAY_SELF_SERVICE_TOKEN"
REGISTRY_ENV = "GATEWAY_SELF_SERVICE_REGISTRY"
GATEWAY_REGISTRY_ENV = "MCPGATEWAY_REGISTRY"
"""The gateway's own setting of the registry (L{mcpgateway.registry.client.REGISTRY_ENV})."""
REQUEST_TIMEOUT_MS = 600_000
"""A change waits for the person's answer: ten minutes, whatever C{--request-timeout} says."""


def selfServiceOf(options: Mapping[str, Any]) -> BuiltinServer | None:
    """The built-in server C{--self-service} asks for (C{None}: not asked);
    a setting it cannot be made with refuses the start, in one line."""
    if not options.get("self-service"):
        return None
    import os

    from mcpgateway.startup.process import refuse

    made = BuiltinServer(str(options["endpoint"]), os.environ)
    try:
        made.spec()
    except usage.UsageError as e:
        refuse(str(e))
    return made


class BuiltinServer:
    """The built-in C{gateway} server of one gateway process: its token,
    the URL its child reaches the gateway at, its spec."""

    log = Logger(observer=logs.observer, namespace="mcpgateway.tap")

    def __init__(self, endpoint: str, environ: Mapping[str, str], token: str | None = None) -> None:
        self.token = token if token is not None else secrets.token_urlsafe(32)
        """What the management API takes from this server's child, for its servers endpoints."""
        self._tls = isTLSEndpoint(endpoint)
        self._interface = endpointInterface(endpoint)
        self._port = endpointPort(endpoint) or None
        self._registry = environ.get(GATEWAY_REGISTRY_ENV) or None
        self._clashWarned = False

    def listening(self, port: int, interface: str | None = None) -> None:
        """The gateway listens on C{port} (bound to C{interface}): the next
        set of servers gives the child that URL (a child starts only after
        the gateway listens)."""
        self._port = port or None
        if interface:
            self._interface = interface

    @property
    def url(self) -> str | None:
        """The gateway's URL on this host, once its port is known."""
        from mcpgateway.ops.gatewayprobe import gatewayUrl

        if self._port is None:
            return None
        return gatewayUrl(self._port, self._interface, self._tls)

    def entry(self) -> dict[str, Any]:
        """The built-in entry (never written to a file)."""
        env = {TOKEN_ENV: self.token}
        url = self.url
        if url is not None:
            env[URL_ENV] = url
        if self._registry is not None:
            env[REGISTRY_ENV] = self._registry
        command, *args = interpreter.command("-m", "mcpgateway.selfservice")
        return {
            "command": command,
            "args": args,
            "env": env,
            "share": "global",
            "requestTimeout": REQUEST_TIMEOUT_MS,
            # Confined as every child, but for the network: it calls the
            # gateway's own API and the registry.
            "sandbox": {"network": "host"},
        }

    def spec(self) -> ServerSpec:
        """The spec of C{gateway}: one shared child, pinned to the global
        scope (never promoted to a child per session)."""
        from dataclasses import replace

        from mcpgateway.config.servers import EntryError, parseEntry

        try:
            spec = parseEntry(SERVER_NAME, self.entry(), {})
        except EntryError as e:  # a registry URL with '${' in it, say: checked at start
            raise usage.UsageError(f"--self-service: {e}") from None
        return replace(spec, pinned=True)

    def guard(self, gate: object) -> None:
        """On an authenticated gateway (C{gate}, its L{AuthGate}): withhold
        C{gateway} from every principal that is no admin (not listed on
        C{/mcp}, not callable)."""
        from mcpgateway.web.plumbing.auth import AuthGate

        if isinstance(gate, AuthGate):
            gate.adminOnly = gate.adminOnly | {SERVER_NAME}

    def withBuiltin(self, specs: Mapping[str, ServerSpec]) -> dict[str, ServerSpec]:
        """C{specs} and the C{gateway} server, which takes the name from a
        configured server (said once)."""
        if SERVER_NAME in specs and not self._clashWarned:
            self._clashWarned = True
            self.log.warn(
                "--self-service: the configured server '{server}' is not served: the name is"
                " the gateway's own server's; rename it in its config",
                server=SERVER_NAME,
            )
        return {**specs, SERVER_NAME: self.spec()}

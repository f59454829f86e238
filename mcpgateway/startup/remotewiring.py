# -*- test-case-name: tests.startup.test_remotewiring -*-
"""The spawner's connector of remote servers (L{mcpgateway.remote}), loaded
only when something asks for it.

One job: a gateway that starts with a remote entry, or with a door that
trades or holds tokens for remote servers (C{--auth-tokens},
C{--oauth-issuer}), gets the remote servers' connector at once, as its
team wiring reads it. Any other gateway (a laptop's, serving stdio
servers) gets L{OnDemandRemotes}, which loads the package at the first
remote child, or at the first question about one: a reload that adds a
remote entry. Either closes the remote servers' idle connections when
the gateway stops.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.application.service import IService, Service
from twisted.internet.defer import Deferred, succeed

if TYPE_CHECKING:
    from mcpgateway.core.child import Child
    from mcpgateway.core.spec import ServerSpec
    from mcpgateway.protocol import jsonrpc
    from mcpgateway.remote.connect import RemoteServers
    from mcpgateway.remote.oauth.credentials import UpstreamCredentials
    from mcpgateway.runtime.reactortype import IReactor
    from mcpgateway.startup.options import Options


class OnDemandRemotes(Service):
    """The connector of a gateway that starts with no remote server: the
    remote servers' own (L{mcpgateway.remote.connect.RemoteServers}), made
    on first use."""

    def __init__(self, make: Callable[[], RemoteServers]) -> None:
        self._make = make
        self._servers: RemoteServers | None = None

    @property
    def loaded(self) -> bool:
        """Whether the remote servers' connector has been made."""
        return self._servers is not None

    def servers(self) -> RemoteServers:
        """The remote servers' connector (made now when it was not)."""
        if self._servers is None:
            self._servers = self._make()
        return self._servers

    def connect(
        self,
        spec: ServerSpec,
        onMessage: Callable[[jsonrpc.Message], None],
        onStderr: Callable[[str], None],
    ) -> Child:
        """See L{mcpgateway.core.spawn.RemoteConnector.connect}."""
        return self.servers().connect(spec, onMessage, onStderr)

    def credentials(self) -> UpstreamCredentials | None:
        """See L{mcpgateway.remote.connect.RemoteServers.credentials}: asked
        by the status page's sign-in to a remote server."""
        return self.servers().credentials()

    def loginState(self, name: str) -> str | None:
        """See L{mcpgateway.remote.connect.RemoteServers.loginState}: asked
        only of a remote server's status."""
        return self.servers().loginState(name)

    def stopService(self) -> Deferred[Any]:
        super().stopService()
        return succeed(None) if self._servers is None else self._servers.close()


def remoteConnector(
    options: Options, specs: Mapping[str, ServerSpec], reactor: IReactor, stateDir: Path
) -> tuple[Any, IService]:
    """The spawner's connector of remote servers and the service that
    closes their connections at stop (to be started before the gateway's,
    so that it stops after it)."""

    def make() -> RemoteServers:
        from mcpgateway.remote.connect import RemoteServers

        return RemoteServers(reactor, stateDir=stateDir)

    door = options["auth-tokens"] or options["oauth-issuer"]
    if door or any(spec.remote is not None for spec in specs.values()):
        from mcpgateway.remote.connect import RemotePools

        servers = make()
        return servers, RemotePools(servers)
    onDemand = OnDemandRemotes(make)
    return onDemand, onDemand

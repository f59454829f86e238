# -*- test-case-name: tests.startup.test_ondemandproxy -*-
"""The gateway's allow-list proxy, made on first use: a gateway whose
children have no allow list (a laptop's, serving the bundled demo) never
loads L{mcpgateway.startup.netproxy} nor what it loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.application.service import Service

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from mcpgateway.runtime.reactortype import IReactor
    from mcpgateway.runtime.threads import RunInThread
    from mcpgateway.startup.netproxy import NetworkProxy


class OnDemandProxy(Service):
    """The allow-list proxy (L{mcpgateway.startup.netproxy.NetworkProxy}),
    made when the first child with an allow list (or a learning one) asks
    for its socket, or a restart hands over one of its sockets: a gateway
    whose children have none never loads it. It runs on the reactor
    thread, as the spawns and the handover that ask for it."""

    def __init__(self, reactor: IReactor, runInThread: RunInThread) -> None:
        self._reactor = reactor
        self._runInThread = runInThread
        self.made: NetworkProxy | None = None
        """The proxy, once something asked for it."""

    def proxy(self) -> NetworkProxy:
        """The proxy (made now when it was not)."""
        if self.made is None:
            from mcpgateway.startup.netproxy import NetworkProxy

            self.made = NetworkProxy(self._reactor, runInThread=self._runInThread)
            if self.running:
                self.made.startService()
        return self.made

    def socketFor(self, server: str, allowed: tuple[str, ...], denied: tuple[str, ...] = ()) -> str:
        """See L{NetworkProxy.socketFor}."""
        return self.proxy().socketFor(server, allowed, denied)

    def portFor(self, server: str, allowed: tuple[str, ...], denied: tuple[str, ...] = ()) -> int:
        """See L{NetworkProxy.portFor}."""
        return self.proxy().portFor(server, allowed, denied)

    def recorderFor(self, server: str, record: str) -> str:
        """See L{NetworkProxy.recorderFor}."""
        return self.proxy().recorderFor(server, record)

    def adopt(self, record: dict[str, Any], fd: int) -> bool:
        """See L{NetworkProxy.adopt}: a restart's previous process had the proxy."""
        return self.proxy().adopt(record, fd)

    def hold(self, ended: Deferred[None]) -> None:
        """See L{NetworkProxy.hold}; a child spawned while there is no proxy
        does not use it."""
        if self.made is not None:
            self.made.hold(ended)

    def status(self, server: str) -> dict[str, Any] | None:
        """See L{NetworkProxy.status}: C{None} while there is no proxy."""
        return None if self.made is None else self.made.status(server)

    def listening(self) -> list[tuple[dict[str, Any], int]]:
        """See L{NetworkProxy.listening}: none while there is no proxy."""
        return [] if self.made is None else self.made.listening()

    def handOver(self) -> None:
        """See L{NetworkProxy.handOver}."""
        if self.made is not None:
            self.made.handOver()

    def startService(self) -> None:
        super().startService()
        if self.made is not None:
            self.made.startService()

    def stopService(self) -> Deferred[None] | None:
        super().stopService()
        return None if self.made is None else self.made.stopService()

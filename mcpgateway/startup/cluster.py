# -*- test-case-name: tests.startup.test_tap,tests.web.endpoints.test_cluster_web -*-
"""A replica of a cluster, wired: its sealed session ids, its peers' seal,
the forwarding to a session's owner, and the connection pool to its peers
(docs/guide/cluster.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.application.service import Service

from mcpgateway.runtime.paths import (
    stateFile,
)

if TYPE_CHECKING:
    from mcpgateway.runtime.reactortype import IReactor
    from mcpgateway.startup.preflight import Preflight
from mcpgateway.startup.endpoints import advertisedHost, endpointPort, isTLSEndpoint
from mcpgateway.startup.options import Options
from mcpgateway.startup.process import refuse


class ClusterWiring:
    """A cluster replica's wiring (docs/guide/cluster.md): its keys and label,
    the address its peers reach it at (the listening port filled in once
    known), and, once the gateway exists, its sealer, forwarder and router."""

    def __init__(
        self,
        keys: tuple[bytes, ...],
        replica: str,
        host: str,
        port: int,
        tls: bool,
    ) -> None:
        from mcpgateway.cluster.keyfile import derive
        from mcpgateway.cluster.sealing import SessionSealer

        self.keys = keys
        self.replica = replica
        self.host, self.port, self.tls = host, port, tls
        # The last key anchors what must not change while the sealing key
        # rotates (a new first line): workspace, credential and principal
        # keys (the same on every replica), and the peers' header.
        self.secret = derive(keys[-1], "workspace-keys")
        self.sealer = SessionSealer(keys, replica, self.address)

    @classmethod
    def of(cls, options: Options, pre: Preflight) -> ClusterWiring:
        """From the options (the key file read by preflight); refuses in one
        line when no address to advertise can be found."""
        advertised = options.get("advertised")
        endpoint = options["endpoint"]
        tls = isTLSEndpoint(endpoint)
        if advertised is not None:
            host, port, tls = advertised
        else:
            host = advertisedHost(endpoint)
            port = endpointPort(endpoint)
            if port is None:
                refuse(
                    f"--cluster-key-file: cannot tell the port peers reach {endpoint} at:"
                    " give --cluster-advertise http://IP:PORT"
                )
        return cls(pre.clusterKeys, options["replica-id"], host, port, tls)

    def taskIds(self) -> Any:
        """The replica's L{mcpgateway.cluster.taskids.TaskIdSealer}."""
        from mcpgateway.cluster.taskids import TaskIdSealer

        return TaskIdSealer(self.keys, self.replica, self.address)

    def address(self) -> Any:
        from mcpgateway.cluster.sealing import Address

        return Address(self.host, self.port, self.tls)

    @property
    def url(self) -> str:
        return str(self.address().url)

    def listening(self, port: int) -> None:
        """The listening port, once known (for C{--port 0})."""
        if not self.port:
            self.port = port

    def services(
        self, reactor: IReactor, top: Any, gateway: Any, stateDir: Path, idleTimeout: float
    ) -> Any:
        """The web's L{mcpgateway.web.teamcluster.ClusterServices} for C{gateway};
        the connection pool to the peers is closed when C{top} stops. The
        ids of the sessions that end here are kept (C{idleTimeout} seconds,
        in the state directory, written last at stop) so none is rebuilt
        from its sealed id."""
        from twisted.web.client import HTTPConnectionPool

        from mcpgateway.cluster.forward import PeerForwarder, peerAgent
        from mcpgateway.cluster.peer import PeerSeal
        from mcpgateway.cluster.routing import ENDED_FILE, ClusterSessions, EndedSessions
        from mcpgateway.web.teamcluster import ClusterServices

        pool = HTTPConnectionPool(reactor, persistent=True)
        pool.maxPersistentPerHost = 32
        pool.cachedConnectionTimeout = 30  # under a peer's 60 s idle timeout
        agent = peerAgent(reactor, pool, FORWARD_CONNECT_TIMEOUT)
        peers = PeerSeal(self.keys[-1], self.replica, reactor)
        forwarder = PeerForwarder(agent, reactor, peers)
        ended = EndedSessions(reactor, keepFor=idleTimeout, path=stateFile(stateDir, ENDED_FILE))
        sessions = ClusterSessions(gateway, self.sealer, forwarder, self.address, ended=ended)
        gateway.sessionEnded = lambda session: sessions.sessionEnded(session.id)
        _PeerPool(pool, ended).setServiceParent(top)
        return ClusterServices(
            sessions, forwarder, peers, self.replica, lambda: self.url, self.taskIds()
        )


FORWARD_CONNECT_TIMEOUT = 2.0
"""Seconds a connection to a session's owner may take before it counts as down."""


class _PeerPool(Service):
    """Closes the cached connections to the peers when the gateway stops,
    and writes the record of ended sessions one last time."""

    def __init__(self, pool: Any, ended: Any = None) -> None:
        self._pool = pool
        self._ended = ended

    def stopService(self) -> Any:
        super().stopService()
        if self._ended is not None:
            self._ended.flush()
        return self._pool.closeCachedConnections()

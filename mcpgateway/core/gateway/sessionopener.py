# -*- test-case-name: tests.core.gateway.test_gateway -*-
"""How sessions open: L{SessionOpener}.

A session opens on a server's route (L{SessionOpener.openSession}) or on an
aggregate endpoint (L{SessionOpener.openAggregate}), and is journaled once
its C{initialize} is answered (L{mcpgateway.core.gateway.continuity}); if that
fails, it is ended again. Its client's pid is the one the client gives, or
the owner of its loopback socket, looked up off the reactor thread
(L{mcpgateway.core.gateway.ownerlookup}), again on the later requests' connections
while no look found it (L{SessionOpener.lookForOwner}). Whether there is room for it
under the session limits is asked before
(L{mcpgateway.core.gateway.sessioncapacity}).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.core.aggregate.types import SERVER_PREFIX
from mcpgateway.core.gateway import ownerlookup
from mcpgateway.core.gateway.aggregateside import AggregateSide
from mcpgateway.core.gateway.continuity import SessionContinuity
from mcpgateway.core.gateway.ownerlookup import OwnerLookup
from mcpgateway.core.gateway.settings import Connection
from mcpgateway.core.pools.pool import PoolLike, UnknownRoute
from mcpgateway.core.sessions import Session, SessionFacts, SessionRegistry, routedCapabilities
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs

if TYPE_CHECKING:
    from mcpgateway.core.aggregate.session import AggregateSession


class SessionOpener:
    """Opens the gateway's sessions, and finds their clients' pids."""

    def __init__(
        self,
        sessions: SessionRegistry,
        pools: Mapping[str, PoolLike],
        aggregate: AggregateSide,
        journal: SessionContinuity,
        ownerLookup: OwnerLookup | None,
        endSession: Callable[[Session, str], Deferred[None]],
        clock: IReactorTime,
        log: Logger,
    ) -> None:
        """
        @param sessions: the gateway's sessions, where new ones are made.
        @param pools: the gateway's pools (the live mapping).
        @param aggregate: the aggregate side, which opens aggregate sessions.
        @param journal: remembers each session once it is open.
        @param ownerLookup: finds the client pid of a loopback connection
            (C{None}: no lookups).
        @param endSession: ends a session whose C{initialize} failed.
        @param log: the gateway's logger (these lines are the gateway's).
        """
        self._sessions = sessions
        self._pools = pools
        self._aggregate = aggregate
        self._journal = journal
        self._owners = ownerLookup
        self.looksForOwners = ownerLookup is not None
        """Whether it looks for a session's client process (a pid finder
        runs here): a caller asks L{lookForOwner} only then."""
        self._endSession = endSession
        self._clock = clock
        self.log = log

    def openSession(
        self,
        server: str,
        initialize: jsonrpc.Message,
        protocolVersion: str,
        clientPid: int | None = None,
        connection: Connection | None = None,
        *,
        scope: str = "",
        credentialKey: str = "",
        credentials: tuple[tuple[str, str], ...] = (),
        principal: str = "",
    ) -> tuple[Session, Deferred[jsonrpc.Message]]:
        """Create a session on C{server}'s route C{scope} (C{""}: its global
        route); the Deferred fires with the answer to its C{initialize} (the
        session is dropped again if that fails). C{credentials} (the values
        of the server's C{credentialEnv} the client sent, whose keyed hash is
        C{credentialKey}) pick its child on a credential-scoped server.
        C{principal} (the key of the authenticated caller; C{""}: no
        authentication) is the session's for good: the web layer serves it
        to that principal only, and a per-user or credential-scoped server
        serves it from that principal's own child.

        @raise UnknownRoute: the server has no route C{scope}.

        The client's pid comes from C{clientPid} (the C{X-Client-Pid}
        header), else C{clientInfo.pid}, else the owner of the client's
        loopback socket (C{connection}: peer host, peer port, local host,
        local port, and the client socket's inode where the door named it),
        looked up off the reactor thread.
        """
        pool = self._pools[server]
        variant = pool.variantFor(scope, credentialKey, credentials, principal)
        if variant is None:
            raise UnknownRoute(f"server '{server}' has no route '{scope}'")
        params = initialize.get("params") or {}
        capabilities = params.get("capabilities")
        clientInfo = params.get("clientInfo")
        declared = capabilities if isinstance(capabilities, dict) else {}
        credential = credentialKey if credentialKey and pool.spec.credentialEnv else ""
        facts = None
        if self._sessions.sealsIds:  # a cluster's id carries them; else nobody reads them
            facts = SessionFacts(
                server=server,
                scope=scope,
                principal=principal,
                credential=credential,
                protocolVersion=protocolVersion,
                capabilities=routedCapabilities(declared),
                owned=pool.ownsChildren(),
                created=self._clock.seconds(),
            )
        session = self._sessions.create(
            server,
            protocolVersion,
            declared,
            clientInfo if isinstance(clientInfo, dict) else {},
            facts,
        )
        session.scope = scope
        session.credential = credential
        session.principal = principal
        session.variant = variant
        session.clientPid = ownerlookup.clientPid(clientPid, clientInfo, principal)
        if session.clientPid is None and connection is not None and self._owners is not None:
            self._owners.find(session, connection)

        def opened(response: jsonrpc.Message) -> jsonrpc.Message | Deferred[jsonrpc.Message]:
            result = response.get("result")
            if not isinstance(result, dict):
                self._endSession(session, "initialize failed")
                return response
            kept = self._journal.remember(session)
            self.log.info(
                "session {sid} opened on {server} (protocol {version}, client {client})",
                sid=session.shortId,
                server=server,
                version=session.protocolVersion,
                client=logs.clientText(session.clientInfo.get("name")),
            )
            # Answered once the session is on the disk (the write runs in a thread).
            return response if kept is None else kept.addCallback(lambda _: response)

        def failed(reason: Any) -> Any:
            self._endSession(session, "initialize failed")
            return reason

        return session, pool.open(session, initialize).addCallbacks(opened, failed)

    def openAggregate(
        self,
        endpoint: str,
        mode: str,
        initialize: jsonrpc.Message,
        protocolVersion: str,
        clientPid: int | None = None,
        connection: Connection | None = None,
        *,
        scope: str = "",
        principal: str = "",
        mayUse: Callable[[str], bool] | None = None,
    ) -> tuple[AggregateSession, Deferred[jsonrpc.Message]]:
        """Create a session on the aggregate endpoint C{endpoint} (the
        settings of that name) for the workspace C{scope} (C{""}: the global
        routes), in C{mode} (C{"full"} or C{"search"}); the Deferred fires
        with the answer to its C{initialize}. C{mayUse} says which servers
        the principal may use (C{None}: all)."""
        params = initialize.get("params") or {}
        capabilities = params.get("capabilities")
        clientInfo = params.get("clientInfo")
        declared = capabilities if isinstance(capabilities, dict) else {}
        server = SERVER_PREFIX if endpoint == "default" else f"{SERVER_PREFIX}/{endpoint}"
        settings = self._aggregate.aggregator.endpoint(endpoint)
        facts = SessionFacts(
            server=server,
            scope=scope,
            principal=principal,
            credential="",
            protocolVersion=protocolVersion,
            capabilities=routedCapabilities(declared),
            # Another replica can rebuild it (its members open lazily there),
            # unless its mode is not its endpoint's: the id does not say it.
            owned=settings is None or settings.mode != mode,
            created=self._clock.seconds(),
        )
        from mcpgateway.core.aggregate.session import AggregateSession

        session = self._sessions.create(
            server,
            protocolVersion,
            declared,
            clientInfo if isinstance(clientInfo, dict) else {},
            facts,
            factory=AggregateSession,
        )
        assert isinstance(session, AggregateSession)
        session.endpoint = endpoint
        session.mode = mode
        session.scope = scope
        session.principal = principal
        if mayUse is not None:
            session.mayUse = mayUse
        session.clientPid = ownerlookup.clientPid(clientPid, clientInfo, principal)
        if session.clientPid is None and connection is not None and self._owners is not None:
            self._owners.find(session, connection)

        def opened(response: jsonrpc.Message) -> jsonrpc.Message | Deferred[jsonrpc.Message]:
            kept = None
            if isinstance(response.get("result"), dict) and not session.ended:
                kept = self._journal.remember(session)
            self.log.info(
                "session {sid} opened on the aggregate endpoint {server} ({mode} mode,"
                " protocol {version}, client {client})",
                sid=session.shortId,
                server=server,
                mode=mode,
                version=session.protocolVersion,
                client=logs.clientText(session.clientInfo.get("name")),
            )
            return response if kept is None else kept.addCallback(lambda _: response)

        def failed(reason: Any) -> Any:
            self._endSession(session, "initialize failed")
            return reason

        return session, self._aggregate.aggregator.open(session, initialize).addCallbacks(
            opened, failed
        )

    def lookForOwner(self, session: Session, connection: Connection | None) -> None:
        """A later request of C{session}, whose client pid is not known, on
        C{connection}: look for the socket's owner, at once on a connection
        not looked at yet, again after
        L{mcpgateway.core.gateway.ownerlookup.OWNER_RETRY} seconds on one
        that was (L{mcpgateway.core.gateway.ownerlookup.OwnerLookup.lookFor}).
        The lookup at C{initialize} finds nothing when the client closed
        that connection before the look got to it (a script, a client
        without a connection pool, an SDK client that goes on on other
        connections, a loaded machine); until a pid is known, the session
        counts as attached to a shared child (L{mcpgateway.core.fanout})
        and the reaper can only end it for idleness. Cheap when there is
        nothing to do: the web layer calls it only for sessions with no
        pid."""
        if session.clientPid is not None or self._owners is None or connection is None:
            return
        self._owners.lookFor(session, connection)

# -*- test-case-name: tests.core.test_gateway -*-
"""How sessions come into the gateway: L{SessionOpening}, a part of
L{mcpgateway.core.gateway.Gateway}.

A new session needs room under the session limits (L{SessionOpening.makeRoom},
L{mcpgateway.core.room}); it opens on a server's route
(L{SessionOpening.openSession}) or on an aggregate endpoint
(L{SessionOpening.openAggregate}), and is journaled once its C{initialize}
is answered (L{mcpgateway.core.continuity}). In a cluster, a session another
replica opened is served here, rebuilt from its sealed id, when its owner
does not answer (L{SessionOpening.visit}); a restored credential-scoped
session waits for its client's credentials (L{SessionOpening.rebind}).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeGuard

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.core import owners, room
from mcpgateway.core.aggregate.types import SERVER_PREFIX
from mcpgateway.core.continuity import SessionContinuity
from mcpgateway.core.gatewaysettings import Connection
from mcpgateway.core.owners import OwnerLookup
from mcpgateway.core.pools.pool import ServerPool, UnknownRoute
from mcpgateway.core.sessions import Session, SessionFacts, SessionRegistry, routedCapabilities
from mcpgateway.core.spec import Sharing
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs

if TYPE_CHECKING:
    # The aggregate endpoint's side loads on its first use (a smaller idle footprint).
    from mcpgateway.core.aggregate.aggregator import Aggregator
    from mcpgateway.core.aggregate.session import AggregateSession, MemberSession


class SessionOpening:
    """The sessions' way in: room under the limits, opening, visiting,
    rebinding, and who owns them. The gateway sets what it reads."""

    log: Logger
    clock: IReactorTime
    sessions: SessionRegistry
    pools: dict[str, ServerPool]
    roomCounts: room.RoomCounts
    """What the session limits did to C{initialize}s (L{makeRoom})."""
    _visitors: set[str]
    """The ids of the visiting sessions in the registry (another
    replica's: L{visit}), which the session limit does not count."""
    _aggregator: Aggregator | None
    _continuity: SessionContinuity
    _owners: OwnerLookup | None
    """Finds the client pid of a loopback connection (C{None}: no lookups)."""

    @property
    def aggregator(self) -> Aggregator:
        """Every aggregate session and what they share (the gateway's)."""
        raise NotImplementedError

    def endSession(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        """End C{session} (the gateway's)."""
        raise NotImplementedError

    def _isAggregate(self, session: Session) -> TypeGuard[AggregateSession]:
        """Whether C{session} is an aggregate session (there is none before
        the aggregator is made)."""
        if self._aggregator is None:
            return False
        from mcpgateway.core.aggregate.session import AggregateSession

        return isinstance(session, AggregateSession)

    def _isMember(self, session: Session) -> TypeGuard[MemberSession]:
        """Whether C{session} is an aggregate session's member (there is
        none before the aggregator is made)."""
        if self._aggregator is None:
            return False
        from mcpgateway.core.aggregate.session import MemberSession

        return isinstance(session, MemberSession)

    @property
    def liveSessions(self) -> int:
        """How many sessions this process has open, not counting the
        visiting ones (another replica's, L{visit}): what the session limit
        counts (L{makeRoom})."""
        return len(self.sessions) - len(self._visitors)

    def liveSessionsOf(self, principal: str) -> int:
        """How many live sessions C{principal} has (C{""}: no authentication,
        so every caller is one: L{liveSessions})."""
        if not principal:
            return self.liveSessions
        return sum(1 for s in self.sessions if s.principal == principal and not s.visiting)

    def makeRoom(self, limit: int, principal: str = "", perPrincipal: int | None = None) -> bool:
        """Whether one more session of C{principal} may open under C{limit}
        live sessions (L{liveSessions}) and, for an authenticated principal,
        C{perPrincipal} live sessions of its own. At either limit, the
        session of C{principal} idle longest that no one is using (no GET
        stream open, no request in flight; not a visiting one) is ended to
        make room, and logged; C{False} when it has no such session (the
        newcomer is refused). Room is only ever made among the requester's
        own sessions: one caller opening sessions never ends another's
        (L{mcpgateway.core.room}). Counted in L{roomCounts}.

        Below the limits this costs nothing but a count of the principal's
        sessions when it is authenticated; at one, one pass over the
        sessions."""
        registry = self.sessions
        own = self.liveSessionsOf(principal) if principal and perPrincipal is not None else 0
        short = room.shortage(self.liveSessions, limit, principal, own, perPrincipal)
        if short is None:
            return True
        inFlight: Counter[str] = Counter()
        for pool in self.pools.values():
            inFlight.update(pool.inFlightBySession())

        def busy(session: Session) -> bool:
            return bool(
                session.visiting
                or session.inFlight
                or inFlight[session.id]
                or room.streamOpen(session)
                or (self._isAggregate(session) and session.inflight)
            )

        found = room.idlestOwn(registry, principal, busy, registry.activity)
        if found is None:
            self.roomCounts.note(short.kind, room.REFUSED)
            return False
        self.roomCounts.note(short.kind, room.EVICTED)
        evicted, since = found
        perCaller = short.kind == room.PRINCIPAL
        self.log.info(
            "session limit of {limit} reached: ending session {sid} on {server}, idle for"
            " {seconds:g} s with no GET stream and no request in flight, for a new one of"
            " the same caller{caller} ({which})",
            limit=short.limit,
            which="the limit per caller" if perCaller else "the gateway's limit",
            caller=f" {principal}" if principal else "",
            principal=principal,
            sid=evicted.shortId,
            server=evicted.server,
            seconds=round(self.clock.seconds() - since, 1),
        )
        per = " per caller" if perCaller else ""
        self.endSession(
            evicted, f"evicted: the session limit of {short.limit}{per} was reached"
        ).addErrback(
            lambda f: self.log.failure(
                "stopping the child of session {sid} failed", failure=f, sid=evicted.shortId
            )
        )
        return True

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
        local port), looked up off the reactor thread.
        """
        pool = self.pools[server]
        variant = pool.variantFor(scope, credentialKey, credentials, principal)
        if variant is None:
            raise UnknownRoute(f"server '{server}' has no route '{scope}'")
        params = initialize.get("params") or {}
        capabilities = params.get("capabilities")
        clientInfo = params.get("clientInfo")
        declared = capabilities if isinstance(capabilities, dict) else {}
        credential = credentialKey if credentialKey and pool.spec.credentialEnv else ""
        facts = SessionFacts(
            server=server,
            scope=scope,
            principal=principal,
            credential=credential,
            protocolVersion=protocolVersion,
            capabilities=routedCapabilities(declared),
            owned=pool.ownsChildren(),
            created=self.clock.seconds(),
        )
        session = self.sessions.create(
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
        session.clientPid = owners.clientPid(clientPid, clientInfo, principal)
        if session.clientPid is None and connection is not None and self._owners is not None:
            self._owners.find(session, connection)

        def opened(response: jsonrpc.Message) -> jsonrpc.Message | Deferred[jsonrpc.Message]:
            result = response.get("result")
            if not isinstance(result, dict):
                self.endSession(session, "initialize failed")
                return response
            kept = self._continuity.remember(session)
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
            self.endSession(session, "initialize failed")
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
        settings = self.aggregator.endpoint(endpoint)
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
            created=self.clock.seconds(),
        )
        from mcpgateway.core.aggregate.session import AggregateSession

        session = self.sessions.create(
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
        session.clientPid = owners.clientPid(clientPid, clientInfo, principal)
        if session.clientPid is None and connection is not None and self._owners is not None:
            self._owners.find(session, connection)

        def opened(response: jsonrpc.Message) -> jsonrpc.Message | Deferred[jsonrpc.Message]:
            kept = None
            if isinstance(response.get("result"), dict) and not session.ended:
                kept = self._continuity.remember(session)
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
            self.endSession(session, "initialize failed")
            return reason

        return session, self.aggregator.open(session, initialize).addCallbacks(opened, failed)

    def visit(self, sessionId: str, facts: SessionFacts, owner: bool = False) -> Session | None:
        """Serve here a session another gateway process of a cluster opened
        (its id's owner does not answer): a session C{sessionId} rebuilt
        from C{facts} (what its sealed id carries) and attached to its
        server's shared child like a session restored from a previous
        process, marked I{visiting} (never saved: it is the owner's, and
        the id carries it). C{owner}: this process is the id's owner (it
        lost the session in a restart): the session is its own again, not
        visiting.

        A credential-scoped session waits for its client's credentials
        (L{rebind}) as a restored one does. C{None}: the session had a child
        of its own (gone with its owner; its client initializes again), or
        this process serves the server with a child per session, or has no
        such server or route. The session C{sessionId} if this process has
        it already (on that server, route and principal; else C{None}).
        """
        known = self.sessions.get(sessionId)
        if known is not None:
            same = (known.server, known.scope, known.principal)
            return known if same == (facts.server, facts.scope, facts.principal) else None
        if facts.server.startswith(SERVER_PREFIX):
            return self._visitAggregate(sessionId, facts, owner)
        pool = self.pools.get(facts.server)
        if pool is None or facts.owned or pool.spec.sharing is Sharing.SESSION:
            return None
        variant = pool.variantFor(facts.scope, principal=facts.principal)
        if variant is None:
            return None
        session = Session(
            sessionId,
            facts.server,
            facts.protocolVersion,
            facts.capabilitiesDict(),
            {},
            facts.created,
        )
        session.lastActivity = self.clock.seconds()
        session.scope = facts.scope
        session.principal = facts.principal
        session.restored = True
        session.visiting = not owner
        if session.visiting:
            self._visitors.add(sessionId)
        if facts.credential and pool.spec.credentialEnv:
            session.credential = facts.credential  # bound by rebind(), with its credentials
        else:
            session.variant = variant
        self.sessions.add(session)
        if session.variant is not None:
            pool.restore(session)
        self.log.info(
            "session {sid} on {server} {how} (rebuilt from its sealed id)",
            sid=session.shortId,
            server=facts.server,
            how="visiting: its owner does not answer" if session.visiting else "taken back",
        )
        return session

    def _visitAggregate(
        self, sessionId: str, facts: SessionFacts, owner: bool
    ) -> AggregateSession | None:
        """L{visit} for a session of an aggregate endpoint: rebuilt with no
        members (they open here at their next use); C{None} for a session
        whose mode is not its endpoint's (L{openAggregate})."""
        from mcpgateway.core.aggregate.session import AggregateSession

        endpoint = facts.server[len(SERVER_PREFIX) :].lstrip("/") or "default"
        settings = self.aggregator.endpoint(endpoint)
        if facts.owned or settings is None:
            return None
        session = AggregateSession(
            sessionId,
            facts.server,
            facts.protocolVersion,
            facts.capabilitiesDict(),
            {},
            facts.created,
        )
        session.endpoint = endpoint
        session.mode = settings.mode
        session.lastActivity = self.clock.seconds()
        session.scope = facts.scope
        session.principal = facts.principal
        session.restored = True
        session.visiting = not owner
        if session.visiting:
            self._visitors.add(sessionId)
        self.sessions.add(session)
        self.aggregator.restore(session)
        self.log.info(
            "session {sid} on {server} {how} (rebuilt from its sealed id)",
            sid=session.shortId,
            server=facts.server,
            how="visiting: its owner does not answer" if session.visiting else "taken back",
        )
        return session

    def rebind(
        self, session: Session, credentialKey: str, credentials: tuple[tuple[str, str], ...]
    ) -> bool:
        """Give a session restored from a previous process the credentials
        its client sent again (their keyed hash C{credentialKey} must be the
        one it opened with): it is bound to its child. Whether it is served
        now (C{False}: other credentials, or its route is gone)."""
        if session.variant is not None:
            return credentialKey == session.credential
        pool = self.pools.get(session.server)
        if pool is None or credentialKey != session.credential:
            return False
        variant = pool.variantFor(session.scope, credentialKey, credentials, session.principal)
        if variant is None:
            return False
        session.variant = variant
        pool.restore(session)
        return True

    def lookForOwner(self, session: Session, connection: Connection | None) -> None:
        """A later request of C{session}, whose client pid is not known, on
        C{connection}: look for the socket's owner again, at most once per
        L{mcpgateway.core.owners.OWNER_RETRY} seconds. The lookup at
        C{initialize} finds nothing when the client closed that connection at
        once (a script, a client without a connection pool); until a pid is
        known, the session counts as attached to a shared child
        (L{mcpgateway.core.fanout}) and the reaper can only end it for
        idleness. Cheap when there is nothing to do: the web layer calls it
        only for sessions with no pid."""
        if session.clientPid is not None or self._owners is None or connection is None:
            return
        self._owners.lookFor(session, connection)

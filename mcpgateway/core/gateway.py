# -*- test-case-name: tests.core.test_gateway -*-
"""The gateway as a service: its pools and sessions, and a clean stop.

L{Gateway} holds one L{ServerPool} per configured server and the session
registry; it opens and ends sessions, and takes the snapshot of it all that
every renderer reads (L{Gateway.status}). L{GatewayService} is its place in the
twistd service tree: C{stopService} ends every session and fires only after
every child has exited.

With a L{SessionPersistence}, the sessions outlive the process: L{Gateway.start}
restores the sessions a previous process saved and from then on saves the
registry at most once a second while it changes (on the injected clock, no
write per request); L{Gateway.stop} saves it a last time before it ends the
sessions of this process, so a graceful restart keeps every one of them and a
crash loses at most the last second. The saved sessions of a server not
configured at start (one that only another client's file defines: those
files are adopted once the gateway listens) are held, and saved, until the
configuration is complete (L{Gateway.configured}): then restored, or
dropped if their server is really gone; a request for one waits meanwhile.

A gateway started by a restart (L{mcpgateway.ops.handover}) has a
I{predecessor} that still serves for a moment: until that process has
exited, this one does not write the sessions file (the predecessor saves it
a last time when it stops), and a request for a session it does not know
waits (L{Gateway.waitForPredecessor}): once the predecessor is gone, its
last sessions are merged in, and the request is looked at again.

In a cluster (replicas sharing a key, no session store), the ids of new
sessions are made from their facts by the injected L{SessionIds} (a sealer
the core knows only by that protocol), and L{Gateway.visit} serves a session
another replica opened, rebuilt from those facts, when its owner does not
answer; such a I{visiting} session is never saved.

The web's modern endpoint reaches the core only through the gateway, which
is its L{ModernService}: each call goes to the server's pool (its bridge of
multi round-trip calls, its listen streams; L{mcpgateway.core.era2026.mrtr},
L{mcpgateway.core.era2026.listen}).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, fail, maybeDeferred, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway import __version__
from mcpgateway.core import room
from mcpgateway.core.aggregate.types import (
    BUILTIN_ENDPOINTS,
    SERVER_PREFIX,
    EndpointSpec,
    NameSettings,
    ToolFilter,
    isAggregateRecord,
)
from mcpgateway.core.catalog import CatalogService, catalogKeyOf
from mcpgateway.core.era2026.mrtr import BridgeLimits
from mcpgateway.core.era2026.types import (
    ListenFilter,
    ListenHandle,
    ModernRequest,
    ModernStats,
    Sink,
)
from mcpgateway.core.healing import HealingPolicy
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.pool import (
    PromotionSink,
    ServerPool,
    ServerUnavailable,
    UnknownRoute,
    sameServer,
    variantsOf,
)
from mcpgateway.core.sessions import (
    Session,
    SessionFacts,
    SessionIds,
    SessionPersistence,
    SessionRegistry,
    routedCapabilities,
)
from mcpgateway.core.spawn import Spawner
from mcpgateway.core.spec import ServerSpec, Sharing
from mcpgateway.core.status import (
    GatewayStatus,
    Resolution,
    Savings,
    ServerStatus,
    SessionStatus,
)
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs, procfs, timers

if TYPE_CHECKING:
    # The aggregate endpoint's side loads on its first use (issue 19: idle RSS).
    from mcpgateway.core.aggregate.aggregator import (
        AggregateSession,
        Aggregator,
        MemberSession,
        ToolsLike,
    )

SAVE_INTERVAL = 1.0
"""Seconds between two saves of the session registry while it changes."""
CONFIG_WAIT = 30.0
"""Seconds after start that the saved sessions of servers not configured
yet are kept for the configuration pass that brings the rest of the
servers (L{Gateway.configured}: the other clients' files, adopted once the
gateway listens); if none comes by then, they are dropped."""
OWNER_RETRY = 60.0
"""Seconds between two looks for the client pid of a session that has none
(L{Gateway.lookForOwner})."""
Connection = tuple[str, int, str, int]
"""A loopback TCP connection: peer host, peer port, local host, local port."""
PidFinder = Callable[[str, int, str, int, Sequence[int]], Deferred[int | None]]
RunInThread = Callable[..., Deferred[Any]]


class Resolve(Protocol):
    """What the gateway needs of L{mcpgateway.config.resolve.Resolver}."""

    def wrapperOf(self, spec: ServerSpec) -> tuple[str, str, list[str]] | None: ...

    def resolve(self, spec: ServerSpec) -> Deferred[ServerSpec]: ...

    def failureOf(self, spec: ServerSpec) -> str | None: ...


class Gateway:
    """Every server pool and every session of this gateway process."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        specs: Mapping[str, ServerSpec],
        spawner: Spawner,
        *,
        healing: HealingPolicy | None = None,
        pidFinder: PidFinder | None = None,
        resolver: Resolve | None = None,
        drainTimeout: float = 5.0,
        persistence: SessionPersistence | None = None,
        predecessor: Deferred[None] | None = None,
        promotions: PromotionSink | None = None,
        modernInputTimeout: float = BridgeLimits.inputTimeout,
        maxSuspendedCalls: int = BridgeLimits.maxSuspended,
        sessionIds: SessionIds | None = None,
        catalogs: CatalogService | None = None,
        tools: ToolsLike | None = None,
        resultBytes: int | None = None,
        runInThread: RunInThread | None = None,
        clientAlive: Callable[[int], bool] | None = None,
    ) -> None:
        """
        @param spawner: starts every child (and holds the clock).
        @param healing: when failing servers are restarted and given up on.
        @param pidFinder: finds the pid of the process on the other end of a
            loopback connection, given (peer host, peer port, local host,
            local port, known pids to try first); C{None} disables it.
        @param persistence: where the sessions outlive the process; C{None}:
            they end with it.
        @param predecessor: fires when the gateway process this one took
            over from has exited (C{None}: there is none).
        @param promotions: keeps the servers promoted to a child per
            session (C{None}: promotions last as long as the process).
        @param modernInputTimeout: seconds a modern call waits for its
            client's next round (then it is cancelled on its child).
        @param maxSuspendedCalls: modern calls per server that may wait
            for their client's input at once.
        @param sessionIds: makes the ids of new sessions from their facts
            (a cluster's sealer: L{mcpgateway.cluster.sealing}); C{None}:
            random ids.
        @param catalogs: what every server lists (the aggregate endpoint's
            source), kept up to date from every child that starts; C{None}:
            in memory only, and listed only when the aggregate asks.
        @param tools: the aggregate endpoint's own tools (search, describe,
            invoke, get_result); C{None}: theirs, made with the aggregator
            (L{aggregator}), with the search index and the schema checks
            worked on by C{runInThread}.
        @param resultBytes: what the aggregate's kept results may take in
            all (C{None}: the default).
        @param runInThread: runs a function in a worker thread, firing with
            its value (C{deferToThread}); C{None}: in the reactor thread
            (tests and embedders).
        @param clientAlive: whether a client process (a session's
            C{clientPid}) still runs; a saved session whose client exited
            while no gateway ran is not restored (its child would start for
            nobody). C{None}: every saved session is restored (the reaper
            ends those of dead clients).
        """
        clock = spawner.clock
        self.clock = clock
        self.sessions = SessionRegistry(clock, sessionIds)
        self._spawner = spawner
        self._healing = healing if healing is not None else HealingPolicy()
        self._promotions = promotions
        self._limits = BridgeLimits(modernInputTimeout, maxSuspendedCalls)
        self.pools: dict[str, ServerPool] = {
            name: makePool(spec, spawner, self._healing, promotions, self._limits, clientAlive)
            for name, spec in specs.items()
        }
        self._watchChildren = catalogs is not None
        self.catalogs = catalogs if catalogs is not None else CatalogService(clock)
        for pool in self.pools.values():
            self._attach(pool)
        self._tools = tools
        self._resultBytes = resultBytes
        self._runInThread = runInThread
        self._clientAlive = clientAlive
        self._aggregator: Aggregator | None = None
        self._endpoints: tuple[Mapping[str, EndpointSpec], NameSettings] | None = None
        self.started = clock.seconds()
        self.running = False
        """Whether the service tree runs (children may be started)."""
        self._pidFinder = pidFinder
        self._resolver = resolver
        self.drainTimeout = drainTimeout
        """Seconds requests in flight may take to finish when the gateway stops."""
        self._draining: Deferred[Any] | None = None
        """While a stop waits for the requests in flight: that wait."""
        self._cutShort = False
        """The drain was cut short before the stop began it (two stop
        signals in one reactor turn): the stop waits for nothing."""
        self._stopBegun = False
        self.sessionEnded: Callable[[Session], object] | None = None
        """Told of each session that ends for good (a cluster replica keeps
        their ids, so none is rebuilt from its sealed id); not of those a
        stop hands on to the next process."""
        self._persistence = persistence
        self._saving = timers.Every(clock, SAVE_INTERVAL, self.saveSessions)
        self._predecessor = predecessor
        self.predecessorWait = 60.0
        """Seconds a request for a session this process does not know waits
        for the predecessor to exit (the wiring sets it from the restart's
        timeouts)."""
        self._waiting: list[Deferred[None]] = []
        self._endedMeanwhile: set[str] = set()
        self._inherited: set[str] = set()
        """Sessions restored at start while the predecessor still ran."""
        self._held: dict[str, dict[str, Any]] = {}
        """Saved sessions of servers not configured at start (or not yet
        when the predecessor's last save is merged in), by id, kept (and
        saved) until the configuration is complete (L{configured})."""
        self._heldCounts = (0, 0, 0)
        """What the start's restore did (restored, dropped, ended), told
        with what L{configured} does of the held sessions, in one line."""
        self._configured = False
        self._configWait: IDelayedCall | None = None
        self._heldWaiting: list[Deferred[None]] = []
        self._visitors: set[str] = set()
        """The ids of the visiting sessions in the registry (another
        replica's: L{visit}), which the session limit does not count."""
        self.roomCounts = room.RoomCounts()
        """What the session limits did to C{initialize}s (L{makeRoom})."""
        self.savings: Callable[[GatewayStatus], Savings] | None = None
        """Estimates what sharing children saves from a status and the last
        sample of the children (L{mcpgateway.ops.savings}, set by the
        wiring); C{None}: the read model has no savings."""

    def start(self) -> None:
        """Start work: resolve C{npx}/C{uvx} servers and prewarm children.

        Called from L{GatewayService.startService}, after twistd has
        daemonized: anything started earlier (a process, a timer, a
        Deferred waiting on one) would belong to the parent that exits.
        """
        self.running = True
        self.catalogs.start().addErrback(
            lambda reason: self.log.failure("reading the catalog snapshots failed", reason)
        )
        restored = self._restoreSessions()
        for pool in self.pools.values():
            self._resolve(pool)
        self.prewarm()
        self._prewarmFor(restored)
        if self._held and not self._configured:
            self._configWait = self.clock.callLater(CONFIG_WAIT, self.configured)
        if self._predecessor is not None and not self._predecessor.called:
            self._predecessor.addCallback(self._predecessorGone)
        elif self._persistence is not None:
            self._saving.start()

    @property
    def spawner(self) -> Spawner:
        """What starts every child (its clock, environment and flusher)."""
        return self._spawner

    # -- the aggregate endpoint (loaded on its first use) ------------------------

    @property
    def aggregator(self) -> Aggregator:
        """Every aggregate session and what they share
        (L{mcpgateway.core.aggregate.aggregator}), made on the first use: an idle
        gateway, or one whose clients use only C{/<server>/mcp}, never
        loads the aggregate side, its search and its schema checks."""
        if self._aggregator is None:
            from mcpgateway.core.aggregate.aggregator import Aggregator
            from mcpgateway.core.aggregate.results import ResultBudget
            from mcpgateway.core.aggregate.schemas import Schemas
            from mcpgateway.core.aggregate.search import SearchService
            from mcpgateway.core.aggregate.tools import GatewayTools

            tools = self._tools
            if tools is None:
                threads = self._runInThread
                search = SearchService(threads if threads is not None else maybeDeferred)
                tools = GatewayTools(search, Schemas(), threads)
            resultBytes = self._resultBytes
            aggregator = Aggregator(
                self.pools,
                self.catalogs,
                self.clock,
                tools=tools,
                budget=ResultBudget(resultBytes) if resultBytes is not None else None,
                filters=self._filterOf,
                catalogKey=catalogKeyOf,
            )
            if self._endpoints is not None:
                aggregator.useEndpoints(*self._endpoints)
                self._endpoints = None
            self._aggregator = aggregator
        return self._aggregator

    def useEndpoints(self, endpoints: Mapping[str, EndpointSpec], names: NameSettings) -> None:
        """Serve the aggregate endpoints C{endpoints} under C{names} from
        now on (C{aggregate.json}): kept for the aggregator until it is
        made."""
        if self._aggregator is None:
            self._endpoints = (endpoints, names)
        else:
            self._aggregator.useEndpoints(endpoints, names)

    def hasAggregateEndpoint(self, name: str) -> bool:
        """Whether the aggregate endpoint C{name} exists, answered without
        making the aggregator: a request for C{/mcp} that is refused (no
        token, an unknown endpoint, a probe) does not load its side."""
        if self._aggregator is not None:
            return self._aggregator.endpoint(name) is not None
        if name in BUILTIN_ENDPOINTS:
            return True
        return self._endpoints is not None and name in self._endpoints[0]

    def _isAggregate(self, session: Session) -> TypeGuard[AggregateSession]:
        """Whether C{session} is an aggregate session (there is none before
        the aggregator is made)."""
        if self._aggregator is None:
            return False
        from mcpgateway.core.aggregate.aggregator import AggregateSession

        return isinstance(session, AggregateSession)

    def _isMember(self, session: Session) -> TypeGuard[MemberSession]:
        """Whether C{session} is an aggregate session's member (there is
        none before the aggregator is made)."""
        if self._aggregator is None:
            return False
        from mcpgateway.core.aggregate.aggregator import MemberSession

        return isinstance(session, MemberSession)

    def _attach(self, pool: ServerPool) -> None:
        """Let the catalogs serve C{pool}, and list each new child of it
        (only with a catalog service given: without one, catalogs come
        from probes)."""
        self.catalogs.attach(pool, watch=self._watchChildren)

    def _filterOf(self, server: str) -> ToolFilter:
        pool = self.pools.get(server)
        return pool.spec.aggregate if pool is not None else ToolFilter()

    def _prewarmFor(self, servers: set[str]) -> None:
        for name in sorted(servers - {n for n, p in self.pools.items() if p.spec.prewarm}):
            # A shared child the restored sessions will use: started (and
            # initialized by the gateway) now rather than on their first call.
            self.pools[name].prewarm().addErrback(self._prewarmFailed, name)

    # -- sessions that outlive the process ---------------------------------------

    def waitForPredecessor(self, sessionId: str | None = None) -> Deferred[None] | None:
        """A Deferred that fires once the sessions this process may still
        get are in: the predecessor's last sessions merged in, and the saved
        sessions of servers not configured at start restored or dropped
        (L{configured}); C{None} when there is nothing to wait for (any
        more). A request for a session this process does not know waits for
        it, then is looked at again (L{mcpgateway.web.mcp}).

        @param sessionId: the id the request names. Once the predecessor is
            gone, only the ids of the held sessions are waited for (any
            other id is not found at once, whatever is held); C{None}: any
            held session."""
        if self._predecessor is not None and not self._predecessor.called:
            waiting: Deferred[None] = Deferred()
            self._waiting.append(waiting)
            return waiting
        if self._held and not self._configured and (sessionId is None or sessionId in self._held):
            held: Deferred[None] = Deferred()
            self._heldWaiting.append(held)
            return held
        return None

    def _predecessorGone(self, _: object) -> None:
        self._predecessor = None
        if self.running:
            merged = self._restoreSessions(merging=True)
            self._prewarmFor(merged)
            if self._persistence is not None:
                self._saving.start(now=True)  # saves now, then while the sessions change
        self._endedMeanwhile.clear()
        self._inherited.clear()
        waiting, self._waiting = self._waiting, []
        for each in waiting:
            each.callback(None)

    def configured(self) -> None:
        """The configuration is complete: every server this process will
        serve at start is known (the first pass of the config service once
        the gateway listens, every client's file adopted: the first
        L{reconfigure}; or L{CONFIG_WAIT} seconds after start, whichever
        comes first). The saved sessions of servers that were not configured
        at start are restored now if their server is known, else dropped;
        the requests that waited for them (L{waitForPredecessor}) are looked
        at again. Only the first call does something."""
        if self._configured:
            return
        self._configured = True
        timer, self._configWait = self._configWait, None
        if timer is not None and timer.active():
            timer.cancel()
        held, self._held = list(self._held.values()), {}
        if held:
            servers: set[str] = set()
            added, dropped, gone = self._heldCounts
            for record in held:
                outcome = self._restoreRecord(record, merging=False)
                if outcome == "dropped":
                    dropped += 1
                elif outcome == "gone":
                    gone += 1
                else:
                    added += 1
                    servers.add(outcome)
            self._logRestored(added, dropped, gone)
            if self.running:
                self._prewarmFor(servers)
        waiting, self._heldWaiting = self._heldWaiting, []
        for each in waiting:
            each.callback(None)

    def _restoreSessions(self, merging: bool = False) -> set[str]:
        """Rebuild the sessions a previous process saved; the names of the
        servers that got some. C{merging}: after a restart's predecessor
        exited, add the sessions this process does not have (and did not
        end meanwhile). At start, and in that merge, the sessions of a
        server not configured yet are held until the configuration is
        complete (L{configured}): the other clients' servers come only once
        the gateway listens (a record merged in replaces the held one of
        its id: the predecessor's last save is the newest)."""
        if self._persistence is None:
            return set()
        servers: set[str] = set()
        dropped = known = added = gone = 0
        records = self._persistence.load()
        if merging:
            # Restored at start but absent from the predecessor's last save:
            # it ended them meanwhile (a DELETE, its reaper); so must we.
            final = {record["id"] for record in records}
            for sessionId in sorted(self._inherited - final):
                session = self.sessions.get(sessionId)
                if session is not None:
                    self.endSession(session, "ended by the predecessor")
            for sessionId in [i for i in self._held if i not in final]:
                del self._held[sessionId]  # held here, ended there meanwhile
        held: dict[str, dict[str, Any]] = {}
        for record in records:
            if isAggregateRecord(record):
                if self.sessions.get(record["id"]) is None and record["id"] not in (
                    self._endedMeanwhile
                ):
                    from mcpgateway.core.aggregate.aggregator import AggregateSession

                    aggregate = AggregateSession.fromRecord(record)
                    aggregator = self.aggregator  # made first: it knows its sessions
                    self.sessions.add(aggregate)
                    aggregator.restore(aggregate)
                    added += 1
                    if not merging and self._predecessor is not None:
                        self._inherited.add(aggregate.id)
                else:
                    known += 1
                continue
            if not self._configured and record["server"] not in self.pools:
                if merging and record["id"] in self._endedMeanwhile:
                    known += 1
                else:
                    held[record["id"]] = record  # its server may come with the other clients' files
                continue
            outcome = self._restoreRecord(record, merging)
            if outcome == "known":
                known += 1
            elif outcome == "dropped":
                dropped += 1
            elif outcome == "gone":
                gone += 1
            else:
                servers.add(outcome)
                added += 1
        if merging:
            self.log.info(
                "merged {count} session(s) the predecessor opened last ({known} known already)",
                count=added,
                known=known,
            )
        if held:
            self._held.update(held)
            if not merging:
                self._heldCounts = (added, dropped, gone)
            elif self._configWait is None:
                self._configWait = self.clock.callLater(CONFIG_WAIT, self.configured)
            self.log.info(
                "keeping {count} saved session(s) of server(s) not configured yet ({names})"
                " until the configuration is complete (at most {seconds:g} s)",
                count=len(held),
                names=", ".join(sorted({str(record["server"]) for record in held.values()})),
                seconds=CONFIG_WAIT,
            )
        elif not merging and (servers or dropped or gone):
            self._logRestored(added, dropped, gone)
        return servers

    def _restoreRecord(self, record: dict[str, Any], merging: bool) -> str:
        """Rebuild the session of C{record} (not an aggregate one): the name
        of its server once it is restored, else C{"known"} (merging: this
        process has it, or ended it), C{"dropped"} (its server or route is
        not configured, or a session of its id exists) or C{"gone"} (its
        client exited while no gateway ran)."""
        pool = self.pools.get(record["server"])
        if merging and (
            self.sessions.get(record["id"]) is not None or record["id"] in self._endedMeanwhile
        ):
            return "known"
        if pool is None or self.sessions.get(record["id"]) is not None:
            return "dropped"
        session = Session.fromRecord(record)
        if not merging and not self._clientRuns(session.clientPid):
            return "gone"  # its client exited while no gateway ran
        variant = pool.variantFor(session.scope, principal=session.principal)
        if variant is None:
            return "dropped"  # its workspace route is gone
        if session.credential and pool.spec.credentialEnv:
            session.variant = None  # bound by rebind(), when its client sends them again
        else:
            session.credential = ""
            session.variant = variant
        self.sessions.add(session)
        if session.variant is not None:
            pool.restore(session)
        if not merging and self._predecessor is not None:
            self._inherited.add(session.id)
        return session.server

    def _logRestored(self, added: int, dropped: int, gone: int) -> None:
        self.log.info(
            "restored {count} session(s) of the previous gateway process"
            " ({dropped} of servers or routes no longer configured dropped,"
            " {gone} of clients that exited meanwhile ended)",
            count=added,
            dropped=dropped,
            gone=gone,
        )

    def _clientRuns(self, pid: int | None) -> bool:
        """Whether the client process C{pid} runs (C{True} when unknown, or
        when it cannot be told)."""
        probe = self._clientAlive
        if pid is None or probe is None:
            return True
        try:
            return probe(pid)
        except Exception:
            self.log.failure("probing client pid {pid} failed", pid=pid)
            return True

    def _remember(self, session: Session) -> None:
        """Make the new C{session} durable before its id is answered (a
        crash in the second before the next save would lose it)."""
        if self._persistence is None or session.visiting:
            return
        try:
            self._persistence.remember(session.record())
        except Exception:
            self.log.failure("keeping session {sid} failed", sid=session.shortId)

    def _forget(self, session: Session) -> None:
        """C{session} ended for its client: not to come back after a crash
        before the next save (none at stop: the persistence is let go
        before the sessions end with the process, L{_stopNow})."""
        if self._persistence is None or session.visiting:
            return
        try:
            self._persistence.forget(session.id)
        except Exception:
            self.log.failure("forgetting session {sid} failed", sid=session.shortId)

    def saveSessions(self) -> None:
        """Hand the registry to the persistence (it writes only what changed):
        every session but the visiting ones (another replica's), and the
        saved ones still held for their server (L{configured})."""
        if self._persistence is None:
            return
        try:
            self._persistence.save(
                [session.record() for session in self.sessions if not session.visiting]
                + list(self._held.values())
            )
        except Exception:
            self.log.failure("saving the sessions failed; they may not survive a restart")

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
                or _streamOpen(session)
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
        session.clientPid = _clientPid(clientPid, clientInfo, principal)
        if session.clientPid is None and connection is not None and self._pidFinder is not None:
            self._findOwner(session, connection)

        def opened(response: jsonrpc.Message) -> jsonrpc.Message:
            result = response.get("result")
            if not isinstance(result, dict):
                self.endSession(session, "initialize failed")
                return response
            self._remember(session)
            self.log.info(
                "session {sid} opened on {server} (protocol {version}, client {client})",
                sid=session.shortId,
                server=server,
                version=session.protocolVersion,
                client=logs.clientText(session.clientInfo.get("name")),
            )
            return response

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
        from mcpgateway.core.aggregate.aggregator import AggregateSession

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
        session.clientPid = _clientPid(clientPid, clientInfo, principal)
        if session.clientPid is None and connection is not None and self._pidFinder is not None:
            self._findOwner(session, connection)

        def opened(response: jsonrpc.Message) -> jsonrpc.Message:
            if isinstance(response.get("result"), dict) and not session.ended:
                self._remember(session)
            self.log.info(
                "session {sid} opened on the aggregate endpoint {server} ({mode} mode,"
                " protocol {version}, client {client})",
                sid=session.shortId,
                server=server,
                mode=mode,
                version=session.protocolVersion,
                client=logs.clientText(session.clientInfo.get("name")),
            )
            return response

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
        from mcpgateway.core.aggregate.aggregator import AggregateSession

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

    def _resolve(self, pool: ServerPool) -> None:
        """Have C{npx}/C{uvx} servers launch their real binary (no wrapper)."""
        resolver = self._resolver
        wrapper = resolver.wrapperOf(pool.spec) if resolver is not None else None
        if resolver is None or wrapper is None:
            return
        kind, package, _ = wrapper
        what = f"`{kind} {package}` to be installed into the gateway's cache"
        pool.resolution = Resolution("pending", f"installing {kind} {package}")
        spec = pool.spec

        def done(resolved: ServerSpec) -> ServerSpec:
            why = resolver.failureOf(spec)
            if why is not None:
                pool.resolution = Resolution("failed", f"{kind} {package}: {why}")
            else:
                pool.resolution = Resolution(
                    "resolved", " ".join([resolved.command, *resolved.args])
                )
            return resolved

        pool.launchAfter(resolver.resolve(spec).addCallback(done), what, resolver.resolve)

    def lookForOwner(self, session: Session, connection: Connection | None) -> None:
        """A later request of C{session}, whose client pid is not known, on
        C{connection}: look for the socket's owner again, at most once per
        L{OWNER_RETRY} seconds. The lookup at C{initialize} finds nothing
        when the client closed that connection at once (a script, a client
        without a connection pool); until a pid is known, the session
        counts as attached to a shared child (L{mcpgateway.core.fanout}) and
        the reaper can only end it for idleness. Cheap when there is
        nothing to do: the web layer calls it only for sessions with no pid."""
        if session.clientPid is not None or self._pidFinder is None or connection is None:
            return
        now = self.clock.seconds()
        if session.ownerLookedUp is not None and now - session.ownerLookedUp < OWNER_RETRY:
            return
        self._findOwner(session, connection)

    def _findOwner(self, session: Session, connection: Connection) -> None:
        assert self._pidFinder is not None
        session.ownerLookedUp = self.clock.seconds()
        hints = sorted({s.clientPid for s in self.sessions if s.clientPid is not None})

        def found(pid: int | None) -> None:
            if pid is None or session.clientPid is not None:
                return
            if self.sessions.get(session.id) is session:
                session.clientPid = pid
                self.sessions.touch(session)
                self.log.info(
                    "session {sid} belongs to client pid {pid} (socket owner)",
                    sid=session.shortId,
                    pid=pid,
                )

        def failed(reason: Any) -> None:
            self.log.failure(
                "looking up the client pid of session {sid} failed",
                failure=reason,
                sid=session.shortId,
            )

        self._pidFinder(*connection, hints).addCallbacks(found, failed)

    def endSessions(self, sessions: list[Session], reason: str) -> tuple[list[str], list[int]]:
        """End C{sessions}; the ids ended and the pids of the children stopped."""
        childPids: list[int] = []
        for session in sessions:
            if self._isAggregate(session):
                childPids += self.aggregator.ownChildPids(session)
            else:
                childPids += self.pools[session.server].ownChildPids(session)
            self.endSession(session, reason)
        return [s.id for s in sessions], childPids

    def endSession(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        """End C{session}: cancel its requests, close its streams, stop its own child."""
        if self._isMember(session):
            # Found by a reaper: the aggregate session lives on without it.
            return self.aggregator.memberGone(session, reason)
        self.sessions.remove(session)
        self._visitors.discard(session.id)
        self._forget(session)
        if self.sessionEnded is not None:
            self.sessionEnded(session)
        if self._predecessor is not None:
            self._endedMeanwhile.add(session.id)
        stream, session.getStream = session.getStream, None
        if stream is not None:
            stream.close()
        if self._isAggregate(session):
            return self.aggregator.close(session, reason)
        return self.pools[session.server].close(session, reason)

    def reconfigure(self, specs: Mapping[str, ServerSpec]) -> Deferred[Any]:
        """Serve C{specs} from now on: new servers appear, removed ones end
        their sessions and stop their children, changed ones are replaced
        (their sessions end; clients re-initialize on the 404). A change of
        the environment alone keeps the pool and its sessions
        (L{mcpgateway.core.pools.pool.sameServer}, L{ServerPool.useSpec})."""
        stopping = []
        for name in sorted(set(self.pools) | set(specs)):
            old, new = self.pools.get(name), specs.get(name)
            if (
                old is not None
                and new is not None
                and sameServer(old.spec, new, old.promoted, old.perLaunch)
            ):
                if new.disabled and not old.disabled:
                    self.log.info("server {server} disabled; ending its sessions", server=name)
                    self._endServer(name, old, "was disabled")
                    stopping.append(old.stopAll())
                self._endRerouted(name, old.spec, new)
                for session in old.useSpec(new):
                    self._routeGone(name, session)
                refusal = old.modernRefusal()
                if refusal is not None:
                    old.endModern(refusal)  # "modern": false now: no call or listen goes on
                continue
            if old is not None:
                self.log.info(
                    "config: server {server} {what}; ending its sessions",
                    server=name,
                    what="removed" if new is None else "changed",
                )
                self._endServer(
                    name, old, "was removed" if new is None else "was replaced (its entry changed)"
                )
                stopping.append(old.stopAll())
                del self.pools[name]
                if new is None:
                    self.catalogs.forget(name)
            if new is not None:
                if old is None:
                    self.log.info("config: server {server} added", server=name)
                self.pools[name] = makePool(
                    new,
                    self._spawner,
                    self._healing,
                    self._promotions,
                    self._limits,
                    self._clientAlive,
                )
                self._attach(self.pools[name])
                if self.running:
                    self._resolve(self.pools[name])
                    self.prewarm([name])
        if self._aggregator is not None:
            self._aggregator.membersChanged()
        if self.running:
            self.configured()  # the held sessions' servers are known now, or gone
        return DeferredList(stopping, consumeErrors=True)

    def _endServer(self, name: str, pool: ServerPool, what: str) -> None:
        """End every session of server C{name} (served by C{pool}): each
        request in flight on its children is answered first with a
        JSON-RPC error (-32003) naming the server and saying C{what}
        happened to it, as when a child goes away (docs/routing.md), and
        cancelled on its child; then the sessions end (their streams close
        with nothing left unanswered)."""
        pool.failAll(jsonrpc.CHILD_EXITED, f"server '{name}' {what}")
        for session in self.sessions.forServer(name):
            self.endSession(session, f"server {name} {what}")

    def _endRerouted(self, name: str, old: ServerSpec, new: ServerSpec) -> None:
        """Before the pool of server C{name} serves C{new}: end the sessions
        of each route C{new} does not have (whatever kind of pool it is).
        The other routes' sessions carry on: the pool moves them to their
        route's new child if its launch changed (L{ServerPool.useSpec})."""
        before, after = variantsOf(old), variantsOf(new)
        if before.keys() <= after.keys():
            return
        for session in self.sessions.forServer(name):
            if not self._isAggregate(session) and session.scope not in after:
                self._routeGone(name, session)

    def _routeGone(self, name: str, session: Session) -> None:
        self.log.info(
            "config: server {server} has no route {scope} any more; ending session {sid}",
            server=name,
            scope=session.scope,
            sid=session.shortId,
        )
        self.endSession(session, f"its route of server {name} was removed")

    def prewarm(self, names: Sequence[str] | None = None) -> None:
        """Start the shared children of servers marked C{prewarm}."""
        for name in self.pools if names is None else names:
            pool = self.pools[name]
            if pool.spec.prewarm:
                self.log.info("server {server}: prewarming its shared child", server=name)
                pool.prewarm().addErrback(self._prewarmFailed, name)

    def _prewarmFailed(self, reason: Failure, name: str) -> None:
        self.log.warn(
            "server {server}: prewarm failed: {why}", server=name, why=reason.getErrorMessage()
        )

    @property
    def stopBegun(self) -> bool:
        """Whether L{stop} has begun (read-only): a session request that
        comes now is answered 503, retry (L{mcpgateway.web.mcp}), not looked
        up, as its session is being saved for the next gateway process."""
        return self._stopBegun

    def stop(self) -> Deferred[Any]:
        """Let requests in flight finish (at most L{drainTimeout} seconds),
        then answer what is left with an error, end every session, and stop
        every child; fires when all have exited."""
        self.running = False
        self._stopBegun = True
        timer, self._configWait = self._configWait, None
        if timer is not None and timer.active():
            timer.cancel()  # the held sessions are saved as they are, for the next process
        waiting, self._heldWaiting = self._heldWaiting, []
        for each in waiting:
            each.callback(None)  # looked at again: the gateway is stopping
        pools = list(self.pools.values())
        for pool in pools:
            # Calls waiting for a human would only hold the drain up.
            pool.endModern("the gateway is shutting down")
        inFlight = sum(pool.clientRequestsInFlight() for pool in pools)
        if not inFlight or self._cutShort:
            return self._stopNow()
        self.log.info(
            "gateway stopping: letting {count} request(s) in flight finish (at most {seconds:g} s)",
            count=inFlight,
            seconds=self.drainTimeout,
        )
        # Cancelled (the deadline, or cutDrainShort), every wait fails with
        # CancelledError: consumed here, or each is an unhandled error.
        drained: Deferred[Any] = DeferredList(
            [pool.whenDrained() for pool in pools], consumeErrors=True
        )
        self._draining = drained
        drained.addTimeout(self.drainTimeout, self.clock)
        drained.addErrback(lambda _: None)
        return drained.addCallback(self._drained)

    def _drained(self, _: object) -> Deferred[Any]:
        self._draining = None
        return self._stopNow()

    def cutDrainShort(self, announce: Callable[[int], object] | None = None) -> int | None:
        """Stop waiting for the requests in flight of a stop (a second
        SIGTERM or SIGINT): what is left is answered with an error and every
        child is stopped now, as when L{drainTimeout} has passed. Asked
        while the gateway still runs (the stop is asked for but has not
        begun: two signals in one reactor turn), the stop waits for none.

        @param announce: called with the count before anything is stopped
            (so the caller's log line comes before the stop's).
        @return: how many requests in flight were still waited for; C{None}
            when no stop is waiting for any (the children are being stopped
            already)."""
        draining = self._draining
        if (draining is None or draining.called) and self._stopBegun:
            return None
        inFlight = sum(pool.clientRequestsInFlight() for pool in self.pools.values())
        if announce is not None:
            announce(inFlight)
        if draining is None or draining.called:
            self._cutShort = True
        else:
            draining.cancel()
        return inFlight

    def _stopNow(self) -> Deferred[Any]:
        # The sessions end with this process, not for their clients: saved
        # before they are ended, and never saved again.
        if self._saving.running:
            self._saving.stop()
            self.saveSessions()
        self._persistence = None
        for pool in self.pools.values():
            pool.failAll(jsonrpc.SERVER_UNAVAILABLE, "the gateway is shutting down")
        for session in self.sessions:
            # The session goes on in the next gateway process: its client is
            # told (retry:) to open its GET stream again, there.
            stream = session.getStream
            if stream is not None:
                stream.suspend()
        self.sessionEnded = None  # these go on in the next process: not ended
        stopping = [self.endSession(session, "gateway stopping") for session in self.sessions]
        stopping += [pool.stopAll() for pool in self.pools.values()]
        stopping.append(self.catalogs.stop())
        return DeferredList(stopping, consumeErrors=True)

    # -- MCP 2026-07-28 clients (ModernService) ----------------------------------

    def modernRefusal(self, server: str) -> str | None:
        if server.startswith(SERVER_PREFIX):
            return (
                "the aggregate endpoint serves MCP 2025-11-25 and earlier sessions: send"
                " initialize (2026-07-28 requests are served on /<server>/mcp)"
            )
        pool = self.pools.get(server)
        if pool is None:
            return f"no server '{server}'"
        return pool.modernRefusal()

    def modernCall(
        self, server: str, request: ModernRequest, sink: Sink
    ) -> Deferred[jsonrpc.Message]:
        pool = self.pools.get(server)
        if pool is None:
            return succeed(
                jsonrpc.errorResponse(
                    request.clientId, jsonrpc.METHOD_NOT_FOUND, f"no server '{server}'"
                )
            )
        return pool.modern(request, sink)

    def listen(
        self, server: str, request: ModernRequest, wanted: ListenFilter, sink: Sink
    ) -> Deferred[ListenHandle]:
        pool = self.pools.get(server)
        if pool is None:
            return fail(ServerUnavailable(f"no server '{server}'"))
        return pool.listen(request, wanted, sink)

    def paramHeaders(self, server: str, scope: str, tool: str) -> dict[str, str] | None:
        pool = self.pools.get(server)
        return None if pool is None else pool.paramHeaders(scope, tool)

    def modernStats(self, server: str) -> ModernStats:
        pool = self.pools.get(server)
        return ModernStats() if pool is None else pool.modernStats()

    # -- the read model ----------------------------------------------------------

    def status(self, procRoot: str = procfs.PROC) -> GatewayStatus:
        """A snapshot of the gateway, its servers and its sessions (what
        C{/health}, C{/sessions}, C{/metrics}, the management API and the
        manhole render). C{procRoot}: where the gateway's own resident
        memory is read."""
        counts = Counter(session.server for session in self.sessions)
        status = GatewayStatus(
            version=__version__,
            pid=os.getpid(),
            started=self.started,
            now=self.clock.seconds(),
            rssBytes=procfs.rss("self", procRoot),
            servers=MappingProxyType(
                {name: pool.status(counts[name]) for name, pool in self.pools.items()}
            ),
            sessions=self._sessionStatuses(),
        )
        if self.savings is None:
            return status
        return replace(status, savings=self.savings(status))

    def aggregateStatus(self) -> dict[str, Any]:
        """The aggregate endpoint's line of C{/health} (docs/aggregate.md):
        its sessions, members, kept results and each server's catalog."""
        if self._aggregator is not None:
            aggregate = self._aggregator.status()
        else:
            # What an aggregator with no session would say, without loading it.
            endpoints = self._endpoints[0] if self._endpoints is not None else {}
            aggregate = {
                "sessions": 0,
                "members": 0,
                "endpoints": sorted({*endpoints, "default", "search"}),
                "results": {"stored": 0, "bytes": 0, "evicted": 0},
            }
        return {**aggregate, "catalogs": self.catalogs.status()}

    def serverStatus(self, name: str) -> ServerStatus:
        """A snapshot of server C{name} (C{KeyError} if there is none)."""
        return self.pools[name].status(len(self.sessions.forServer(name)))

    def _sessionStatuses(self) -> tuple[SessionStatus, ...]:
        inFlight: Counter[str] = Counter()
        for pool in self.pools.values():
            inFlight.update(pool.inFlightBySession())
        return tuple(
            self._sessionStatus(session, inFlight[session.id]) for session in self.sessions
        )

    def _sessionStatus(self, session: Session, inFlight: int) -> SessionStatus:
        if self._isAggregate(session):
            return SessionStatus(
                id=session.id,
                server=session.server,
                clientPid=session.clientPid,
                client=session.clientInfo.get("name"),
                protocolVersion=session.protocolVersion,
                sharing=Sharing.GLOBAL,
                childPid=None,
                created=session.created,
                lastActivity=self.sessions.activity(session),
                inFlight=len(session.inflight),
                getStream=session.getStream is not None,
                scope=session.scope,
                credential="",
                principal=session.principal,
                members=tuple(sorted(session.members)),
            )
        pool = self.pools[session.server]
        return SessionStatus(
            id=session.id,
            server=session.server,
            clientPid=session.clientPid,
            client=session.clientInfo.get("name"),
            protocolVersion=session.protocolVersion,
            sharing=pool.spec.sharing,
            childPid=pool.childPid(session),
            created=session.created,
            lastActivity=self.sessions.activity(session),
            inFlight=inFlight,
            getStream=session.getStream is not None,
            scope=session.scope,
            credential=session.credential,
            principal=session.principal,
            visiting=session.visiting,
        )


def _streamOpen(session: Session) -> bool:
    """Whether a connection carries C{session}'s GET stream now (a stream
    kept for its client to resume, with no connection, is not in use: as
    the reaper sees it, L{mcpgateway.ops.reaper})."""
    stream = session.getStream
    return (
        stream is not None
        and bool(getattr(stream, "open", False))
        and bool(getattr(stream, "connected", True))
    )


def _clientPid(given: int | None, clientInfo: object, principal: object) -> int | None:
    """The pid a client says it runs as (C{X-Client-Pid}, else
    C{clientInfo.pid}); none for an authenticated client (C{principal}), which
    may run on another machine, where its pid names nothing here."""
    if principal:
        return None
    infoPid = clientInfo.get("pid") if isinstance(clientInfo, dict) else None
    return given if given is not None else _validPid(infoPid)


def _validPid(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        return value
    return None


class GatewayService(Service):
    """Stops the gateway's children when the service tree stops."""

    log = Logger(observer=logs.observer)

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def startService(self) -> None:
        super().startService()
        self.gateway.start()
        self.log.info(
            "gateway {version} serving {count} server(s): {names}",
            version=__version__,
            count=len(self.gateway.pools),
            names=", ".join(sorted(self.gateway.pools)) or "(none)",
        )

    def stopService(self) -> Deferred[Any]:
        super().stopService()
        started = self.gateway.clock.seconds()

        def done(result: Any) -> Any:
            self.log.info(
                "all children stopped in {seconds:.2f}s",
                seconds=self.gateway.clock.seconds() - started,
            )
            return result

        if not self.gateway.pools:
            return succeed(None)
        return self.gateway.stop().addCallback(done)

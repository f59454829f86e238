# -*- test-case-name: tests.core.test_gateway -*-
"""The gateway as a service: its pools and sessions, and a clean stop.

L{Gateway} holds one L{ServerPool} per configured server and the session
registry; it opens and ends sessions, and takes the snapshot of it all that
every renderer reads (L{Gateway.status}). L{GatewayService} is its place in the
twistd service tree: C{stopService} ends every session and fires only after
every child has exited. What it is made with is one
L{mcpgateway.core.gatewaysettings.GatewaySettings}.

Its parts, one job each: the sessions' way in (room under the limits,
opening, visiting: L{mcpgateway.core.opening}), who owns a session
(L{mcpgateway.core.owners}), and the sessions that outlive the process
(restore, save, journal, a restart's predecessor, the sessions held for
servers not configured yet: L{mcpgateway.core.continuity}).

The web's modern endpoint reaches the core only through the gateway, which
is its L{Era2026Service}: each call goes to the server's pool (its bridge of
multi round-trip calls, its listen streams; L{mcpgateway.core.era2026.mrtr},
L{mcpgateway.core.era2026.listen}).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Unpack

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, fail, maybeDeferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway import __version__
from mcpgateway.core import room
from mcpgateway.core.aggregate.types import (
    BUILTIN_ENDPOINTS,
    EndpointSpec,
    NameSettings,
    ToolFilter,
)
from mcpgateway.core.catalog import CatalogService
from mcpgateway.core.continuity import SessionContinuity
from mcpgateway.core.era2026.mrtr import BridgeLimits
from mcpgateway.core.era2026.types import (
    Era2026Request,
    Era2026Stats,
    ListenFilter,
    ListenHandle,
    Sink,
)
from mcpgateway.core.gatewaysettings import GatewayOptions, GatewaySettings
from mcpgateway.core.healing import HealingPolicy
from mcpgateway.core.opening import SessionOpening
from mcpgateway.core.owners import OwnerLookup
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.pool import (
    ServerPool,
    ServerUnavailable,
    sameServer,
    variantsOf,
)
from mcpgateway.core.sessions import Session, SessionRegistry
from mcpgateway.core.spawn import Spawner
from mcpgateway.core.spec import ServerSpec, Sharing
from mcpgateway.core.status import (
    GatewayStatus,
    Resolution,
    Savings,
    ServerStatus,
    SessionCounts,
    SessionStatus,
    TaskCounts,
)
from mcpgateway.core.tasks.manager import withTasksExtension
from mcpgateway.protocol import jsonrpc, wire2026
from mcpgateway.runtime import logs, procfs

if TYPE_CHECKING:
    # The aggregate endpoint's side loads on its first use (a smaller idle footprint).
    from mcpgateway.core.aggregate.aggregator import Aggregator


class Gateway(SessionOpening):
    """Every server pool and every session of this gateway process."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        specs: Mapping[str, ServerSpec],
        spawner: Spawner,
        settings: GatewaySettings | None = None,
        **options: Unpack[GatewayOptions],
    ) -> None:
        """
        @param specs: the servers, by name.
        @param spawner: starts every child (and holds the clock).
        @param settings: its tunables and collaborators (C{None}: the
            defaults, or those C{options} name).
        @param options: the fields of L{GatewaySettings} as keywords, for a
            caller that names a few instead of giving C{settings}.
        """
        if settings is None:
            settings = GatewaySettings(**options)
        elif options:
            raise TypeError("give the gateway settings or their fields as keywords, not both")
        self.settings = settings
        clock = spawner.clock
        self.clock = clock
        self.sessions = SessionRegistry(clock, settings.sessionIds)
        self._spawner = spawner
        self._healing = settings.healing if settings.healing is not None else HealingPolicy()
        self._promotions = settings.promotions
        self._limits = BridgeLimits(settings.era2026InputTimeout, settings.maxSuspendedCalls)
        self._clientAlive = settings.clientAlive
        self.pools: dict[str, ServerPool] = {
            name: self._makePool(spec) for name, spec in specs.items()
        }
        self._watchChildren = settings.catalogs is not None
        self.catalogs = (
            settings.catalogs if settings.catalogs is not None else CatalogService(clock)
        )
        for pool in self.pools.values():
            self._attach(pool)
        self._aggregator: Aggregator | None = None
        self._endpoints: tuple[Mapping[str, EndpointSpec], NameSettings] | None = None
        self.started = clock.seconds()
        self.running = False
        """Whether the service tree runs (children may be started)."""
        self._pidFinder = settings.pidFinder
        self._owners = (
            None
            if settings.pidFinder is None
            else OwnerLookup(settings.pidFinder, self.sessions, clock, self.log)
        )
        self._resolver = settings.resolver
        self.drainTimeout = settings.drainTimeout
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
        self._continuity = SessionContinuity(
            self,
            clock,
            self.log,
            settings.persistence,
            settings.predecessor,
            settings.clientAlive,
        )
        self.predecessorWait = settings.predecessorWait
        """Seconds a request for a session this process does not know waits
        for the predecessor to exit."""
        self._visitors: set[str] = set()
        self.roomCounts = room.RoomCounts()
        self.savings: Callable[[GatewayStatus], Savings] | None = None
        """Estimates what sharing children saves from a status and the last
        sample of the children (L{mcpgateway.ops.savings}, set by the
        wiring); C{None}: the read model has no savings."""

    def _makePool(self, spec: ServerSpec) -> ServerPool:
        pool = makePool(
            spec, self._spawner, self._healing, self._promotions, self._limits, self._clientAlive
        )
        pool.toolPins = self.settings.toolPins  # its children's routers apply them
        return pool

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
        restored = self._continuity.restore()
        for pool in self.pools.values():
            self._resolve(pool)
        self.prewarm()
        self.prewarmRestored(restored)
        self._continuity.begin()

    @property
    def spawner(self) -> Spawner:
        """What starts every child (its clock, environment and flusher)."""
        return self._spawner

    # -- sessions that outlive the process ---------------------------------------

    def waitForPredecessor(self, sessionId: str | None = None) -> Deferred[None] | None:
        """A Deferred that fires once the sessions this process may still
        get are in (L{SessionContinuity.waitFor}); C{None} when there is
        nothing to wait for (any more)."""
        return self._continuity.waitFor(sessionId)

    def configured(self) -> None:
        """The configuration is complete: the saved sessions held for
        servers not configured at start are restored or dropped
        (L{SessionContinuity.configured})."""
        self._continuity.configured()

    def saveSessions(self) -> None:
        """Hand the registry to the persistence, changed or not
        (L{SessionContinuity.save}): before a restart hands over."""
        self._continuity.save(always=True)

    def prewarmRestored(self, servers: set[str]) -> None:
        """Start the shared children restored sessions of C{servers} will
        use now rather than on their first call (those marked C{prewarm}
        are started already)."""
        for name in sorted(servers - {n for n, p in self.pools.items() if p.spec.prewarm}):
            self.pools[name].prewarm().addErrback(self._prewarmFailed, name)

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

            tools = self.settings.tools
            if tools is None:
                threads = self.settings.runInThread
                search = SearchService(threads if threads is not None else maybeDeferred)
                tools = GatewayTools(search, Schemas(), threads, self.settings.tasks)
            resultBytes = self.settings.resultBytes
            aggregator = Aggregator(
                self.pools,
                self.catalogs,
                self.clock,
                tools=tools,
                budget=ResultBudget(resultBytes) if resultBytes is not None else None,
                filters=self._filterOf,
                catalogKey=self.catalogs.keyFor,
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

    def _attach(self, pool: ServerPool) -> None:
        """Let the catalogs serve C{pool}, and list each new child of it
        (only with a catalog service given: without one, catalogs come
        from probes)."""
        self.catalogs.attach(pool, watch=self._watchChildren)

    def _filterOf(self, server: str) -> ToolFilter:
        pool = self.pools.get(server)
        return pool.spec.aggregate if pool is not None else ToolFilter()

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
        self._continuity.ended(session)
        if self.sessionEnded is not None:
            self.sessionEnded(session)
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
                refusal = old.era2026Refusal()
                if refusal is not None:
                    old.endEra2026(refusal)  # "modern": false now: no call or listen goes on
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
                self.pools[name] = self._makePool(new)
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
        self._continuity.stopping()
        pools = list(self.pools.values())
        for pool in pools:
            # Calls waiting for a human would only hold the drain up.
            pool.endEra2026("the gateway is shutting down")
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
        # before they are ended, and never saved again (the stop waits for
        # the write, which runs in the reactor's thread pool).
        saved = self._continuity.lastSave()
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
        if saved is not None:
            stopping.append(saved)
        return DeferredList(stopping, consumeErrors=True)

    # -- MCP 2026-07-28 clients (Era2026Service) ----------------------------------

    def era2026Refusal(self, server: str) -> str | None:
        """Why C{server}'s route cannot serve 2026-07-28 requests (the
        aggregate endpoints have a service of their own:
        L{mcpgateway.core.aggregate.modern})."""
        pool = self.pools.get(server)
        if pool is None:
            return f"no server '{server}'"
        return pool.era2026Refusal()

    def era2026Call(
        self, server: str, request: Era2026Request, sink: Sink
    ) -> Deferred[jsonrpc.Message]:
        pool = self.pools.get(server)
        if pool is None:
            return succeed(
                jsonrpc.errorResponse(
                    request.clientId, jsonrpc.METHOD_NOT_FOUND, f"no server '{server}'"
                )
            )
        tasks = self.settings.tasks
        method = request.method
        if method in wire2026.TASK_METHODS:
            if tasks is None:
                return succeed(
                    jsonrpc.errorResponse(
                        request.clientId,
                        jsonrpc.METHOD_NOT_FOUND,
                        f"Method not found: {method} (this gateway does not serve tasks)",
                    )
                )
            return tasks.afterLoad(lambda: tasks.serve(server, request, pool.modern))
        if tasks is not None and method == "tools/call" and pool.era2026Refusal() is None:
            return tasks.call(server, request, sink, pool.modern, pool.toolTaskSupport)
        answered = pool.modern(request, sink)
        if tasks is not None and method == "server/discover":
            answered.addCallback(withTasksExtension)
        return answered

    def listen(
        self, server: str, request: Era2026Request, wanted: ListenFilter, sink: Sink
    ) -> Deferred[ListenHandle]:
        pool = self.pools.get(server)
        if pool is None:
            return fail(ServerUnavailable(f"no server '{server}'"))
        return pool.listen(request, wanted, sink)

    def paramHeaders(self, server: str, scope: str, tool: str) -> dict[str, str] | None:
        pool = self.pools.get(server)
        return None if pool is None else pool.paramHeaders(scope, tool)

    def era2026Stats(self, server: str) -> Era2026Stats:
        pool = self.pools.get(server)
        return Era2026Stats() if pool is None else pool.era2026Stats()

    # -- the read model ----------------------------------------------------------

    def status(
        self, procRoot: str = procfs.PROC, rows: bool = True, byClient: bool = False
    ) -> GatewayStatus:
        """A snapshot of the gateway, its servers and its sessions (what
        C{/health}, C{/sessions}, C{/metrics}, the management API and the
        manhole render). C{procRoot}: where the gateway's own resident
        memory is read. Without C{rows}, the sessions are counted
        (L{GatewayStatus.counts}) and no row is made for each (C{/health},
        which shows the counts: a row costs some microseconds, and a
        gateway may hold tens of thousands of sessions); C{byClient} adds the
        counts by client (L{SessionCounts.clients}: the status page's)."""
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
            sessions=self._sessionStatuses() if rows else (),
            tasks=self._taskCounts(),
            counts=None if rows else self._sessionCounts(byClient),
        )
        if self.savings is None:
            return status
        return replace(status, savings=self.savings(status))

    def _taskCounts(self) -> TaskCounts | None:
        """Its tasks by status, and how many it made (C{None}: it serves none)."""
        tasks = self.settings.tasks
        if tasks is None:
            return None
        return TaskCounts(MappingProxyType(tasks.counts()), tasks.created, tasks.fastAnswers)

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

    def _sessionCounts(self, byClient: bool) -> SessionCounts:
        """The sessions counted, in one walk that makes nothing per session
        (C{byClient}: a key per client and server, and its pids)."""
        total = visiting = 0
        members: Counter[str] = Counter()
        clients: dict[tuple[object, str], tuple[int, set[int]]] = {}
        aggregate = self._aggregator is not None
        for session in self.sessions:
            total += 1
            if session.visiting:
                visiting += 1
            if aggregate and self._isAggregate(session):
                for member in session.members:
                    members[member] += 1
            if not byClient:
                continue
            key = (session.clientInfo.get("name"), session.server)
            count, pids = clients.get(key) or (0, set())
            if session.clientPid is not None:
                pids.add(session.clientPid)
            clients[key] = (count + 1, pids)
        return SessionCounts(
            total,
            visiting,
            MappingProxyType(dict(members)),
            MappingProxyType({key: (n, frozenset(p)) for key, (n, p) in clients.items()}),
        )

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

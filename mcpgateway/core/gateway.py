# -*- test-case-name: tests.core.test_gateway -*-
"""The gateway as a service: its pools and sessions, and a clean stop.

L{Gateway} holds one L{ServerPool} per configured server and the session
registry, and is what the web, the operations and the wiring talk to. It
ends sessions itself; each of its other jobs is a collaborator it holds:
its servers (L{mcpgateway.core.serverset}) and their changes
(L{mcpgateway.core.reconfiguring}), the aggregate side, made on its first
use (L{mcpgateway.core.aggregateside}), room under the session limits
(L{mcpgateway.core.sessionroom}), opening sessions
(L{mcpgateway.core.opening}), the sessions other processes opened
(L{mcpgateway.core.visits}), who owns a session
(L{mcpgateway.core.owners}), the sessions that outlive the process
(L{mcpgateway.core.continuity}), its stop (L{mcpgateway.core.shutdown}) and
its read model (L{mcpgateway.core.readmodel}). L{GatewayService} is its
place in the twistd service tree: C{stopService} ends every session and
fires only after every child has exited. What it is made with is one
L{mcpgateway.core.gatewaysettings.GatewaySettings}.

The web's 2026 endpoint reaches the core only through the gateway, which
is its L{Era2026Gateway}: each call goes to the server's pool (its bridge of
multi round-trip calls, its listen streams; L{mcpgateway.core.era2026.mrtr},
L{mcpgateway.core.era2026.listen}).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Unpack

from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger

from mcpgateway import __version__
from mcpgateway.core.aggregate.types import EndpointSpec, NameSettings
from mcpgateway.core.aggregateside import AggregateSide
from mcpgateway.core.catalog import Catalogs
from mcpgateway.core.continuity import SessionContinuity
from mcpgateway.core.era2026.types import Era2026Request, ListenFilter, ListenHandle, Sink
from mcpgateway.core.gatewaysettings import Connection, GatewayOptions, GatewaySettings
from mcpgateway.core.opening import SessionOpener
from mcpgateway.core.owners import OwnerLookup
from mcpgateway.core.pools.pool import ServerPool, ServerUnavailable
from mcpgateway.core.readmodel import ReadModel
from mcpgateway.core.reconfiguring import Reconfigurer
from mcpgateway.core.serverset import ServerSet
from mcpgateway.core.sessionroom import SessionRoom
from mcpgateway.core.sessions import Session, SessionFacts, SessionRegistry
from mcpgateway.core.shutdown import Shutdown
from mcpgateway.core.spawn import Spawner
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.status import Era2026Stats, GatewayStatus, Savings, ServerStatus
from mcpgateway.core.tasks.listening import openListen, ownedOn
from mcpgateway.core.tasks.manager import withTasksExtension
from mcpgateway.core.visits import SessionVisits
from mcpgateway.protocol import era2026wire, jsonrpc
from mcpgateway.runtime import logs, procfs

if TYPE_CHECKING:
    # The aggregate endpoint's side loads on its first use (a smaller idle footprint).
    from mcpgateway.core.aggregate.aggregator import Aggregator
    from mcpgateway.core.aggregate.session import AggregateSession


class Gateway:
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
        self.catalogs = settings.catalogs if settings.catalogs is not None else Catalogs(clock)
        self.servers = ServerSet(self, specs, spawner, self.log)
        """The servers: a pool each, made, resolved and prewarmed."""
        self.pools: dict[str, ServerPool] = self.servers.pools
        """Every pool by server name (the live mapping of L{servers})."""
        self.aggregateSide = AggregateSide(self, self.pools, clock)
        """The aggregate endpoint's side, made on its first use."""
        self.started = clock.seconds()
        self.running = False
        """Whether the service tree runs (children may be started)."""
        self.drainTimeout = settings.drainTimeout
        """Seconds requests in flight may take to finish when the gateway stops."""
        self.sessionEnded: Callable[[Session], object] | None = None
        """Told of each session that ends for good (a cluster replica keeps
        their ids, so none is rebuilt from its sealed id); not of those a
        stop hands on to the next process."""
        self.predecessorWait = settings.predecessorWait
        """Seconds a request for a session this process does not know waits
        for the predecessor to exit."""
        self.savings: Callable[[GatewayStatus], Savings] | None = None
        """Estimates what sharing children saves from a status and the last
        sample of the children (L{mcpgateway.ops.savings}, set by the
        wiring); C{None}: the read model has no savings."""
        self._continuity = SessionContinuity(
            self,
            clock,
            self.log,
            settings.persistence,
            settings.predecessor,
            settings.clientAlive,
        )
        self._room = SessionRoom(
            self.sessions, self.pools, self.aggregateSide, self.endSession, clock, self.log
        )
        self.roomCounts = self._room.counts
        """What the session limits did to C{initialize}s (L{makeRoom})."""
        finder = settings.pidFinder
        self._opener = SessionOpener(
            self.sessions,
            self.pools,
            self.aggregateSide,
            self._continuity,
            None if finder is None else OwnerLookup(finder, self.sessions, clock, self.log),
            self.endSession,
            clock,
            self.log,
        )
        self.lookForOwner = self._opener.lookForOwner
        """A later request of a session whose client pid is not known, on a
        connection: look for its socket's owner again
        (L{SessionOpener.lookForOwner}). The opener's own method: the web
        calls it on every request of such a session."""
        self._visits = SessionVisits(
            self.sessions, self.pools, self.aggregateSide, self._room.visiting, clock, self.log
        )
        self._reconfigurer = Reconfigurer(
            self, self.servers, self.sessions, self.aggregateSide, self.log
        )
        self._shutdown = Shutdown(
            self, self.pools, self.sessions, self._continuity, clock, self.log
        )
        self._readModel = ReadModel(
            self, self.pools, self.sessions, self.aggregateSide, clock, self.started
        )

    def start(self) -> None:
        """Start work: resolve C{npx}/C{uvx} servers and prewarm children.

        Called from L{GatewayService.startService}, after twistd has
        daemonized: anything started earlier (a process, a timer, a
        Deferred waiting on one) would belong to the parent that exits.
        """
        self.running = True
        # Start-ups answered from a saved catalog wait for the catalogs to be read.
        self.servers.catalogServe.loading(self.catalogs.start()).addErrback(
            lambda reason: self.log.failure("reading the catalog snapshots failed", reason)
        )
        restored = self._continuity.restore()
        self.servers.start()
        self.servers.prewarmRestored(restored)
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
        use now (L{ServerSet.prewarmRestored})."""
        self.servers.prewarmRestored(servers)

    # -- the aggregate endpoint (loaded on its first use) ------------------------

    @property
    def aggregator(self) -> Aggregator:
        """Every aggregate session and what they share, made on the first
        use (L{AggregateSide.aggregator}): an idle gateway, or one whose
        clients use only C{/<server>/mcp}, never loads the aggregate side."""
        return self.aggregateSide.aggregator

    def useEndpoints(self, endpoints: Mapping[str, EndpointSpec], names: NameSettings) -> None:
        """Serve the aggregate endpoints C{endpoints} under C{names} from
        now on (C{aggregate.json}; L{AggregateSide.useEndpoints})."""
        self.aggregateSide.useEndpoints(endpoints, names)

    def hasAggregateEndpoint(self, name: str) -> bool:
        """Whether the aggregate endpoint C{name} exists, answered without
        making the aggregator: a request for C{/mcp} that is refused (no
        token, an unknown endpoint, a probe) does not load its side."""
        return self.aggregateSide.hasEndpoint(name)

    # -- sessions: room, opening, visiting, ending -------------------------------

    @property
    def liveSessions(self) -> int:
        """How many sessions this process has open, not counting the
        visiting ones (L{SessionRoom.live})."""
        return self._room.live

    def liveSessionsOf(self, principal: str) -> int:
        """How many live sessions C{principal} has (L{SessionRoom.liveOf})."""
        return self._room.liveOf(principal)

    def makeRoom(self, limit: int, principal: str = "", perPrincipal: int | None = None) -> bool:
        """Whether one more session of C{principal} may open under the
        session limits, its own idlest unused session ended to make room if
        need be (L{SessionRoom.makeRoom})."""
        return self._room.makeRoom(limit, principal, perPrincipal)

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
        """Create a session on C{server}'s route C{scope}; the Deferred
        fires with the answer to its C{initialize} (L{SessionOpener.openSession}).

        @raise mcpgateway.core.pools.pool.UnknownRoute: the server has no
            route C{scope}."""
        return self._opener.openSession(
            server,
            initialize,
            protocolVersion,
            clientPid,
            connection,
            scope=scope,
            credentialKey=credentialKey,
            credentials=credentials,
            principal=principal,
        )

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
        """Create a session on the aggregate endpoint C{endpoint}; the
        Deferred fires with the answer to its C{initialize}
        (L{SessionOpener.openAggregate})."""
        return self._opener.openAggregate(
            endpoint,
            mode,
            initialize,
            protocolVersion,
            clientPid,
            connection,
            scope=scope,
            principal=principal,
            mayUse=mayUse,
        )

    def visit(self, sessionId: str, facts: SessionFacts, owner: bool = False) -> Session | None:
        """Serve here a session another gateway process of a cluster opened,
        rebuilt from its sealed id's C{facts} (L{SessionVisits.visit})."""
        return self._visits.visit(sessionId, facts, owner)

    def rebind(
        self, session: Session, credentialKey: str, credentials: tuple[tuple[str, str], ...]
    ) -> bool:
        """Give a restored session the credentials its client sent again;
        whether it is served now (L{SessionVisits.rebind})."""
        return self._visits.rebind(session, credentialKey, credentials)

    def endSessions(self, sessions: list[Session], reason: str) -> tuple[list[str], list[int]]:
        """End C{sessions}; the ids ended and the pids of the children stopped."""
        childPids: list[int] = []
        aggregate = self.aggregateSide
        for session in sessions:
            if aggregate.isAggregate(session):
                childPids += aggregate.aggregator.ownChildPids(session)
            else:
                childPids += self.pools[session.server].ownChildPids(session)
            self.endSession(session, reason)
        return [s.id for s in sessions], childPids

    def endSession(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        """End C{session}: cancel its requests, close its streams, stop its own child."""
        aggregate = self.aggregateSide
        if aggregate.isMember(session):
            # Found by a reaper: the aggregate session lives on without it.
            return aggregate.aggregator.memberGone(session, reason)
        self.sessions.remove(session)
        self._room.left(session.id)
        self._continuity.ended(session)
        if self.sessionEnded is not None:
            self.sessionEnded(session)
        stream, session.getStream = session.getStream, None
        if stream is not None:
            stream.close()
        if aggregate.isAggregate(session):
            return aggregate.aggregator.close(session, reason)
        return self.pools[session.server].close(session, reason)

    # -- the servers, and the stop -----------------------------------------------

    def reconfigure(self, specs: Mapping[str, ServerSpec]) -> Deferred[Any]:
        """Serve C{specs} from now on: new servers appear, removed ones end
        their sessions and stop their children, changed ones are replaced
        (their sessions end; clients re-initialize on the 404). A change of
        the environment alone keeps the pool and its sessions
        (L{Reconfigurer.reconfigure})."""
        return self._reconfigurer.reconfigure(specs)

    @property
    def stopBegun(self) -> bool:
        """Whether L{stop} has begun (read-only): a session request that
        comes now is answered 503, retry (L{mcpgateway.web.endpoints.mcp}), not looked
        up, as its session is being saved for the next gateway process."""
        return self._shutdown.begun

    def stop(self) -> Deferred[Any]:
        """Let requests in flight finish (at most L{drainTimeout} seconds),
        then answer what is left with an error, end every session, and stop
        every child; fires when all have exited (L{Shutdown.stop})."""
        self.running = False
        return self._shutdown.stop(self.drainTimeout)

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
        return self._shutdown.cutShort(announce)

    # -- MCP 2026-07-28 clients (Era2026Gateway) ----------------------------------

    def era2026Refusal(self, server: str) -> str | None:
        """Why C{server}'s route cannot serve 2026-07-28 requests (the
        aggregate endpoints have a service of their own:
        L{mcpgateway.core.aggregate.era2026})."""
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
        if method in era2026wire.TASK_METHODS:
            if tasks is None:
                return succeed(
                    jsonrpc.errorResponse(
                        request.clientId,
                        jsonrpc.METHOD_NOT_FOUND,
                        f"Method not found: {method} (this gateway does not serve tasks)",
                    )
                )
            return tasks.afterLoad(lambda: tasks.serve(server, request, pool.serveEra2026))
        if tasks is not None and method == "tools/call" and pool.era2026Refusal() is None:
            return tasks.call(server, request, sink, pool.serveEra2026, pool.toolTaskSupport)
        answered = pool.serveEra2026(request, sink)
        if tasks is not None and method == "server/discover":
            answered.addCallback(withTasksExtension)
        return answered

    def listen(
        self, server: str, request: Era2026Request, wanted: ListenFilter, sink: Sink
    ) -> Deferred[ListenHandle]:
        pool = self.pools.get(server)
        if pool is None:
            return fail(ServerUnavailable(f"no server '{server}'"))
        tasks = self.settings.tasks
        if tasks is not None and wanted.taskIds:
            find = ownedOn(tasks, server, request)
            return openListen(
                tasks, request, wanted, sink, find, lambda rest: pool.listen(request, rest, sink)
            )
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
        manhole render; L{ReadModel.status}). Without C{rows}, the sessions
        are counted and no row is made for each; C{byClient} adds the counts
        by client."""
        return self._readModel.status(procRoot, rows, byClient)

    def aggregateStatus(self) -> dict[str, Any]:
        """The aggregate endpoint's line of C{/health} (docs/guide/aggregate.md;
        L{AggregateSide.status})."""
        return self.aggregateSide.status()

    def serverStatus(self, name: str) -> ServerStatus:
        """A snapshot of server C{name} (C{KeyError} if there is none)."""
        return self._readModel.server(name)


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

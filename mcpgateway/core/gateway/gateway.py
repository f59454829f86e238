# -*- test-case-name: tests.core.gateway.test_gateway -*-
"""The gateway as a service: its pools and sessions, and a clean stop.

L{Gateway} holds one L{PoolLike} per configured server and the session
registry, and is what the web, the operations and the wiring are given. It
ends sessions itself; each of its other jobs is a collaborator it holds in
the open, and a caller calls the collaborator that does the work (the
gateway forwards nothing): its servers (C{servers},
L{mcpgateway.core.gateway.serverset}) and their changes (C{reconfigurer},
L{mcpgateway.core.gateway.reconfiguring}), the aggregate side, made on its first
use (C{aggregateSide}, L{mcpgateway.core.gateway.aggregateside}), the capacity
for sessions under the session limits (C{sessionCapacity},
L{mcpgateway.core.gateway.sessioncapacity}), opening sessions
(C{opener}, L{mcpgateway.core.gateway.sessionopener}), the sessions other processes
opened (C{foreignSessions}, L{mcpgateway.core.gateway.foreignsessions}), who owns a session
(L{mcpgateway.core.gateway.ownerlookup}), the sessions that outlive the process
(C{continuity}, L{mcpgateway.core.gateway.continuity}), its stop (C{shutdown},
L{mcpgateway.core.gateway.shutdown}) and its read model (C{readModel},
L{mcpgateway.core.gateway.readmodel}). L{GatewayService} is its place in the twistd
service tree: C{stopService} ends every session and fires only after every
child has exited. What it is made with is one
L{mcpgateway.core.gateway.settings.GatewaySettings}.

The web's 2026 endpoint reaches the core only through the gateway, which
is its L{Era2026Gateway}: each call goes to the server's pool (its bridge of
multi round-trip calls, its listen streams; L{mcpgateway.core.era2026.mrtr},
L{mcpgateway.core.era2026.listen}).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger

from mcpgateway import __version__
from mcpgateway.core.catalogdata import entryOf
from mcpgateway.core.gateway.aggregateside import AggregateSide
from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.gateway.continuity import SessionContinuity
from mcpgateway.core.gateway.foreignsessions import ForeignSessions
from mcpgateway.core.gateway.ownerlookup import OwnerLookup
from mcpgateway.core.gateway.readmodel import ReadModel
from mcpgateway.core.gateway.reconfiguring import Reconfigurer
from mcpgateway.core.gateway.serverset import ServerSet
from mcpgateway.core.gateway.sessioncapacity import SessionCapacity
from mcpgateway.core.gateway.sessionopener import SessionOpener
from mcpgateway.core.gateway.settings import GatewayOptions, GatewaySettings
from mcpgateway.core.gateway.shutdown import Shutdown
from mcpgateway.core.pools.pool import PoolLike, ServerUnavailable
from mcpgateway.core.pools.scopecatalogfile import SavedScopeCatalogs
from mcpgateway.core.sessions import Session, SessionRegistry
from mcpgateway.core.spawn import Spawner
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.status import Era2026Stats, GatewayStatus, Savings
from mcpgateway.core.tasks.manager import TASK_METHODS, withTasksExtension
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs

if TYPE_CHECKING:
    # The 2026-07-28 era loads on the first 2026 request (L{Gateway.era2026Call}).
    from mcpgateway.core.era2026.types import Era2026Request, ListenFilter, ListenHandle, Sink

    # The aggregate endpoint's side loads on its first use (a smaller idle footprint).
    from mcpgateway.flow.step import FlowStep


class AnswersElsewhere(Protocol):
    """Where a client's answer goes that another process is owed
    (L{mcpgateway.ops.lateanswers.AnswerPassing})."""

    def takes(self, session: Session, message: jsonrpc.Message) -> bool:
        """Whether C{session}'s answer C{message} went there (else it is this process's)."""
        ...


class Gateway:
    """Every server pool and every session of this gateway process."""

    log = Logger(observer=logs.observer)
    flow: FlowStep | None = None
    """The flow rule on the tool calls of a server's route and of the
    aggregate (L{mcpgateway.flow.step}, set by the wiring): told of each
    session that ends, as what a client gathered is kept per session."""
    answersElsewhere: AnswersElsewhere | None = None
    """In a restart's successor, what passes back to the predecessor the
    answers of clients to the requests it sent them (set by the wiring);
    the endpoints ask it before they take an answer."""

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
        self.spawner = spawner
        """What starts every child (its clock, environment and flusher)."""
        self.catalogs = settings.catalogs if settings.catalogs is not None else Catalogs(clock)
        self.scopeCatalogs = SavedScopeCatalogs(clock, settings.scopeStore, settings.runInThread)
        """The catalogs of the servers' scopes, kept across restarts."""
        self.servers = ServerSet(self, specs, spawner, self.log)
        """The servers: a pool each, made, resolved and prewarmed."""
        self.pools: dict[str, PoolLike] = self.servers.pools
        """Every pool by server name (the live mapping of L{servers})."""
        self.aggregateSide = AggregateSide(self, self.pools, clock, self.sessions.served)
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
        self.continuity = SessionContinuity(
            self,
            clock,
            self.log,
            settings.persistence,
            settings.predecessor,
            settings.clientAlive,
        )
        """The sessions that outlive the process: restored, saved, handed
        over (C{waitFor} a predecessor, C{configured}, C{save})."""
        capacity = self.sessionCapacity = SessionCapacity(
            self.sessions, self.pools, self.aggregateSide, self.endSession, clock, self.log
        )
        """The session limits' capacity (C{admitSession}, C{live}, C{liveOf})."""
        self.capacityCounts = capacity.counts
        """What the session limits did to C{initialize}s (L{SessionCapacity.admitSession})."""
        finder = settings.pidFinder
        self.opener = SessionOpener(
            self.sessions,
            self.pools,
            self.aggregateSide,
            self.continuity,
            None if finder is None else OwnerLookup(finder, self.sessions, clock, self.log),
            self.endSession,
            clock,
            self.log,
        )
        """Opens sessions on a server's route (C{openSession}) or on an
        aggregate endpoint (C{openAggregate})."""
        self.lookForOwner = self.opener.lookForOwner
        """A later request of a session whose client pid is not known, on a
        connection: look for its socket's owner again
        (L{SessionOpener.lookForOwner}). The opener's own method: the web
        calls it on every request of such a session."""
        self.foreignSessions = ForeignSessions(
            self.sessions, self.pools, self.aggregateSide, capacity.visiting, clock, self.log
        )
        """Serves here the sessions other processes of a cluster opened
        (C{rebuild}), and gives restored sessions their credentials (C{rebind})."""
        self.reconfigurer = Reconfigurer(
            self, self.servers, self.sessions, self.aggregateSide, self.log
        )
        """Makes the servers those of a new configuration (C{reconfigure})."""
        self.shutdown = Shutdown(self, self.pools, self.sessions, self.continuity, clock, self.log)
        """The stop (L{stop}): whether it has C{begun}, and cutting its drain
        short (C{cutShort}, a second signal)."""
        self.readModel = ReadModel(
            self, self.pools, self.sessions, self.aggregateSide, clock, self.started
        )
        """The read model: C{status} of the gateway, C{server} of one."""

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
        # Those of the servers' scopes too; the files of entries gone or changed go.
        self.scopeCatalogs.start(lambda: {n: entryOf(p.spec) for n, p in self.pools.items()})
        restored = self.continuity.restore()
        self.servers.start()
        self.servers.prewarmRestored(restored)
        self.continuity.begin()

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
        self.sessionCapacity.left(session.id)
        self.continuity.ended(session)
        if self.sessionEnded is not None:
            self.sessionEnded(session)
        if self.flow is not None:
            self.flow.closed(session.id)
        stream, session.getStream = session.getStream, None
        if stream is not None:
            stream.close()
        if aggregate.isAggregate(session):
            return aggregate.aggregator.close(session, reason)
        return self.pools[session.server].close(session, reason)

    # -- the stop ----------------------------------------------------------------

    def stop(self) -> Deferred[Any]:
        """Let requests in flight finish (at most L{drainTimeout} seconds),
        then answer what is left with an error, end every session, and stop
        every child; fires when all have exited (L{Shutdown.stop})."""
        self.running = False
        return self.shutdown.stop(self.drainTimeout)

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
        from mcpgateway.core.era2026.types import gated

        tasks = self.settings.tasks
        method = request.method
        if method in TASK_METHODS:
            if tasks is None:
                return succeed(
                    jsonrpc.errorResponse(
                        request.clientId,
                        jsonrpc.METHOD_NOT_FOUND,
                        f"Method not found: {method} (this gateway does not serve tasks)",
                    )
                )
            return tasks.afterLoad(lambda: tasks.serve(server, request, pool.era2026.serve))
        run = gated(server, pool.era2026.serve, request.gate if method == "tools/call" else None)
        if tasks is not None and method == "tools/call" and pool.era2026Refusal() is None:
            return tasks.call(server, request, sink, run, pool.era2026.toolTaskSupport)
        answered = run(request, sink)
        if tasks is not None and method == "server/discover":
            answered.addCallback(withTasksExtension)
        return answered

    def listen(
        self, server: str, request: Era2026Request, wanted: ListenFilter, sink: Sink
    ) -> Deferred[ListenHandle]:
        pool = self.pools.get(server)
        if pool is None:
            return fail(ServerUnavailable(f"no server '{server}'"))
        side, tasks = pool.era2026, self.settings.tasks
        if tasks is not None and wanted.taskIds:
            from mcpgateway.core.tasks.listening import openListen, ownedOn

            find = ownedOn(tasks, server, request)
            return openListen(
                tasks, request, wanted, sink, find, lambda rest: side.listen(request, rest, sink)
            )
        return side.listen(request, wanted, sink)

    def paramHeaders(self, server: str, scope: str, tool: str) -> dict[str, str] | None:
        pool = self.pools.get(server)
        return None if pool is None else pool.era2026.paramHeaders(scope, tool)

    def era2026Stats(self, server: str) -> Era2026Stats:
        pool = self.pools.get(server)
        return Era2026Stats() if pool is None else pool.era2026Stats()


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

# -*- test-case-name: tests.startup.test_tap,tests.startup.test_wiring -*-
"""The gateway's service tree, built from parsed options.

L{makeService} is the only place that resolves the reactor; everything
below is handed it (or a clock). It runs the checks that must fail before
twistd daemonizes (L{mcpgateway.startup.preflight}) and wires: nothing in
it spawns, opens a file for later or starts a timer, since twistd forks
between C{makeService} and C{startService}. Heavy imports (the web tree,
Klein, the cluster's cryptography) happen inside the functions that need
them, so C{twistd --help} stays fast.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.application.service import IService

from mcpgateway.protocol import bounds
from mcpgateway.runtime import logs
from mcpgateway.runtime.paths import stateFile
from mcpgateway.tuned.switch import STOCK

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IStreamServerEndpoint

    from mcpgateway.config.configservice import ConfigService
    from mcpgateway.config.promotions import PromotionStore
    from mcpgateway.core.gateway.gateway import Gateway
    from mcpgateway.core.gateway.settings import GatewaySettings
    from mcpgateway.core.spawn import Confiner, RemoteConnector, Spawner
    from mcpgateway.core.spec import ServerSpec
    from mcpgateway.core.tasks.manager import TaskManager
    from mcpgateway.ops.handover import Successor
    from mcpgateway.ops.services import InstanceService, ListenerService
    from mcpgateway.runtime.reactortype import IReactor
    from mcpgateway.startup.cluster import ClusterWiring
    from mcpgateway.startup.heldcalls import HeldCallsService
    from mcpgateway.startup.preflight import Preflight
    from mcpgateway.startup.selfservice import BuiltinServer
    from mcpgateway.web.app import GatewaySite
    from mcpgateway.web.teamcluster import TeamServices
from mcpgateway.startup.childwiring import adoptionFor, wardenFor, wireAdoption
from mcpgateway.startup.configuredlimits import ConfiguredLimits
from mcpgateway.startup.dooroptions import doorFor
from mcpgateway.startup.endpoints import (
    endpointInterface,
    isLoopbackEndpoint,
    isTLSEndpoint,
    requireAuth,
    tlsContext,
)
from mcpgateway.startup.flowwiring import FlowWiring, wireFlow
from mcpgateway.startup.handoverwiring import successorOf, wirePredecessor
from mcpgateway.startup.heldcalls import wireHeldCalls
from mcpgateway.startup.lazyresolver import LazyResolver
from mcpgateway.startup.options import Options
from mcpgateway.startup.otelwiring import OTEL_ENDPOINT_ENV, tracing
from mcpgateway.startup.pinoptions import keepPins, pinPolicy
from mcpgateway.startup.process import refuse, threadRunner
from mcpgateway.startup.remotewiring import remoteConnector
from mcpgateway.startup.sandboxing import serverPaths, wireSandbox
from mcpgateway.startup.teamwiring import clusterOf, selfServiceOf, teamOf, wirePolicy, wirePolicyOn


@dataclass(frozen=True)
class Wiring:
    """What every step of L{makeService} is built from, made once before
    the gateway: the parsed options, the preflight's findings, the reactor,
    the root service, a restart's link to its predecessor, the workspace
    secret, the cluster and the built-in C{gateway} server. What a step
    makes (the gateway, its config service, the team's door) is handed to
    the next steps on its own."""

    options: Options
    pre: Preflight
    reactor: IReactor
    top: InstanceService
    successor: Successor | None = None
    """A restart's link to its predecessor (L{successorOf}), or C{None}."""
    secret: bytes | None = None
    """The key of workspace routes and credential headers."""
    cluster: ClusterWiring | None = None
    selfService: BuiltinServer | None = None
    """C{--self-service}'s built-in server, or C{None}."""


def makeService(options: Options, reactor: IReactor | None = None) -> IService:
    """Build the gateway's service tree from parsed C{options}: the checks
    that must fail before daemonizing (L{preflight}), then wiring only."""
    from mcpgateway.runtime.lazyimport import deferImports

    deferImports()  # before the web tree: Twisted's error-page helpers load when used
    if reactor is None:
        from mcpgateway.runtime.reactortype import installedReactor

        reactor = installedReactor()
    from mcpgateway.ops.reaper import OrphanCleanup
    from mcpgateway.ops.statedir import processStartTime
    from mcpgateway.startup.preflight import PreflightError, preflight

    try:
        pre = preflight(options, _interfaceOf(options))
    except PreflightError as e:
        refuse(str(e))
    cluster = clusterOf(options, pre)  # a replica's, or None
    secret = cluster.secret if cluster is not None else _workspaceSecret(pre)
    top = _root(options, pre, reactor)
    if pre.logFile is not None:
        pre.logFile.reactor = reactor  # its stop is this reactor's shutdown
        pre.logFile.setServiceParent(top)
    if options["otel"] or os.environ.get(OTEL_ENDPOINT_ENV):
        tracingService = tracing(reactor, required=bool(options["otel"]))
        if tracingService is not None:
            tracingService.setServiceParent(top)
    if pre.orphans:
        OrphanCleanup(pre.orphans, reactor, processStartTime).setServiceParent(top)
    successor = successorOf(options, reactor, top)
    selfService = selfServiceOf(options)  # --self-service's built-in server, or None
    wiring = Wiring(options, pre, reactor, top, successor, secret, cluster, selfService)
    gateway, configService, reload = _gatewayAndConfig(wiring)
    team = teamOf(options, pre, reactor, top, gateway, secret, cluster)
    limits = ConfiguredLimits(
        reactor, gateway, team, configService.gatewayQuotas, bool(options.get("policy"))
    )
    limits.use({name: pool.spec for name, pool in gateway.pools.items()})
    reload.limits = limits  # and again with each reload's servers
    wirePolicy(options, reactor, top, team)  # --policy's gate, or none
    if selfService is not None:
        selfService.guard(team.gate)  # admin principals only
    heldCalls = wireHeldCalls(reactor, top, team.audit)  # made on first use
    reload.flow = wireFlow(reactor, top, gateway, heldCalls, pre.stateDir)  # and at each reload
    wirePolicyOn(team, gateway, reload.flow.step)
    listener, site = _listener(wiring, gateway, configService, team, heldCalls)
    listener.setServiceParent(top)
    # Its socket first: a port taken refuses the start before anything is spawned.
    top.listensFirst(listener, *([] if pre.logFile is None else [pre.logFile]))
    wirePredecessor(options, pre, reactor, top, gateway, configService, listener, site, successor)
    if options["manhole"] or options["manhole-ssh"] is not None:
        _manhole(options, pre, reactor, gateway, top).setServiceParent(top)
    from mcpgateway.ops.heap import HeapTrim
    from mcpgateway.runtime.gctuning import GcTuning

    GcTuning(reactor).setServiceParent(top)  # last: it freezes what start-up left alive
    HeapTrim(reactor).setServiceParent(top)  # then the C heap's free pages go back
    return top


def _workspaceSecret(pre: Preflight) -> bytes:
    """The secret of the state directory's workspace and credential keys
    (C{workspace.key}, made on first use), read once here: routes and
    credential headers are keyed with it without any file I/O later. A file
    that cannot be used refuses the start, in one line (every adopted
    workspace route depends on it)."""
    from mcpgateway.config.workspaces import WorkspaceKeyError, loadSecret
    from mcpgateway.runtime.paths import WORKSPACE_KEY_FILE

    try:
        return loadSecret(pre.stateDir)
    except WorkspaceKeyError as e:
        refuse(str(e))
    except OSError as e:
        refuse(
            f"cannot make the workspace key file {pre.stateDir / WORKSPACE_KEY_FILE}:"
            f" {e.strerror or e}"
        )


def _root(options: Options, pre: Preflight, reactor: IReactor) -> InstanceService:
    """The root service: it holds the instance lock and state.json, and lets
    go of them only after every service below it has stopped."""
    from mcpgateway.ops.services import InstanceService
    from mcpgateway.runtime.pathrecord import pathOrigin, readRecord

    details = {
        "interface": _interfaceOf(options),
        "config": str(pre.configPath) if pre.configPath else None,
        "stateDir": str(pre.stateDir),
        "rewriteConfig": bool(options["rewrite-config"]),
        "tls": isTLSEndpoint(options["endpoint"]),
        "clients": options["clients"] if options["rewrite-config"] else "none",
        "sandbox": options.get("sandbox", "off"),
        # whose PATH its children's commands are looked up on (`status` says it)
        "path": pathOrigin(os.environ, readRecord(pre.stateDir)),
        # whose installed mcpgateway a restart runs (`status` compares it with its own)
        "python": sys.executable,
    }
    return InstanceService(pre.stateDir, pre.lock, details, reactor)


class GatewayReload:
    """The config service's reload target: the gateway, once it is made.

    The config service computes the first specs the gateway is made with,
    and the gateway's promotions reload the config: each needs the other.
    A reload cannot come before the gateway starts (the config service
    starts watching after it), so the gateway is set right after it is
    made, before any service starts."""

    def __init__(self, timeout: float, selfService: BuiltinServer | None = None) -> None:
        self.timeout = timeout
        self.gateway: Gateway | None = None
        self.selfService = selfService
        """Adds the built-in C{gateway} server to every set of servers."""
        self.limits: ConfiguredLimits | None = None
        """Wires the rate limits and decided names each set of servers
        configures, before the gateway serves it."""
        self.flow: FlowWiring | None = None
        """Tells the flow rule each set of servers and the C{"flow"} setting."""

    def __call__(self, specs: dict[str, ServerSpec]) -> Deferred[Any]:
        assert self.gateway is not None, "a reload before the gateway was made"
        if self.selfService is not None:
            specs = self.selfService.withBuiltin(specs)
        if self.limits is not None:
            self.limits.use(specs)
        if self.flow is not None:
            self.flow(specs)
        return self.gateway.reconfigurer.reconfigure(withTimeout(specs, self.timeout))


def _gatewayAndConfig(wiring: Wiring) -> tuple[Gateway, ConfigService, GatewayReload]:
    """The gateway (pools, sessions, children), the config service that
    keeps it current (workspace routes keyed with the wiring's C{secret};
    promotions kept in C{promotions.json}) and its reload target, with the reaper and the monitor;
    all under C{top}. A cluster replica's sessions get sealed ids
    (C{cluster.sealer})."""
    from mcpgateway.config.promotions import TTL, PromotionStore
    from mcpgateway.core.environment import childEnvironment
    from mcpgateway.core.gateway.gateway import Gateway, GatewayService

    options, pre, reactor, top = wiring.options, wiring.pre, wiring.reactor, wiring.top
    successor, secret, cluster = wiring.successor, wiring.secret, wiring.cluster
    selfService = wiring.selfService

    reload = GatewayReload(options["request-timeout"], selfService)
    promotions = PromotionStore(pre.stateDir, ttl=TTL)  # a promotion expires
    configService = _configService(pre, reactor, top, secret, reload, promotions)
    specs = withTimeout(configService.specs(pre.loaded), options["request-timeout"])
    if selfService is not None:
        specs = selfService.withBuiltin(specs)
    _logServers(specs, pre.loaded.source)
    environ = childEnvironment(os.environ)  # never the gateway's own secrets
    settings = _gatewaySettings(
        options, pre, reactor, environ, successor, cluster, promotions, configService
    )
    # its probe: after daemonizing; the gateway's own files masked in every child
    sandbox = wireSandbox(options, pre.stateDir, reactor, top, pre.configPath)
    remotes, remotePools = remoteConnector(options, specs, reactor, pre.stateDir)
    spawner = _spawner(options, pre, reactor, environ, successor, remotes, sandbox)
    if isinstance(settings.resolver, LazyResolver):
        # a package's install runs confined too, given the secrets its entry's env references
        settings.resolver.sandbox, settings.resolver.secrets = sandbox, spawner.secrets
    gateway = Gateway(specs, spawner, settings)
    wireAdoption(gateway, top, reactor, pre.stateDir, successor)  # a restart's or a crash's
    sandbox.others = partial(serverPaths, gateway.pools)  # what each child must not see
    reload.gateway = gateway
    # Read at start, before restored sessions build their views.
    gateway.aggregateSide.useEndpoints(
        configService.aggregate.endpoints, configService.aggregate.names
    )
    # Before the gateway's service: stopped after it, once its sessions are DELETEd.
    remotePools.setServiceParent(top)
    keepPins(settings.toolPins, top)  # before the gateway's service: stopped after it
    GatewayService(gateway).setServiceParent(top)
    if settings.tasks is not None:
        from mcpgateway.core.tasks.keeping import TaskKeeping

        # A restart's successor reads the journal once its predecessor has exited.
        TaskKeeping(
            settings.tasks, reactor, settings.predecessor, settings.predecessorWait
        ).setServiceParent(top)
    _operations(options, reactor, top, gateway, configService)
    return gateway, configService, reload


def _configService(
    pre: Preflight,
    reactor: IReactor,
    top: Any,
    secret: bytes | None,
    reload: GatewayReload,
    promotions: PromotionStore,
) -> ConfigService:
    """The service that reads the config, watches it and reloads the
    gateway (L{GatewayReload}) when it changes."""
    from mcpgateway.config.configservice import ConfigService, ConfigSettings
    from mcpgateway.config.workspaces import WorkspaceKeys

    def keys() -> WorkspaceKeys:
        # One instance per load (it caches real paths); the secret read at start.
        return (
            WorkspaceKeys(secret) if secret is not None else WorkspaceKeys.forStateDir(pre.stateDir)
        )

    def useAggregate(settings: Any) -> None:
        # aggregate.json (docs/guide/aggregate.md): its endpoints and names, from now on.
        if reload.gateway is not None:
            reload.gateway.aggregateSide.useEndpoints(settings.endpoints, settings.names)

    onPath = getattr(top, "configChanged", None)
    return ConfigService(
        pre.source,
        pre.stateDir,
        reactor,
        reactor,
        threadRunner(reactor),
        reload,
        ConfigSettings(
            keys=keys, promotions=promotions, onAggregate=useAggregate, onConfigPath=onPath
        ),
    )


def _logServers(specs: Mapping[str, ServerSpec], source: str) -> None:
    """One line per server whose command cannot run, and the count."""
    from twisted.logger import Logger

    log = Logger(observer=logs.observer, namespace="mcpgateway.tap")
    for spec in specs.values():
        if not spec.runnable:
            log.warn(
                "server {server}: command {command!r} {where}; its endpoint answers with an error",
                server=spec.name,
                command=spec.command,
                where="not found on PATH"
                if "/" not in spec.command
                else "not executable"
                if os.path.exists(spec.command)
                else "not found",
            )
    log.info("config: {count} server(s) from {source}", count=len(specs), source=source)


def _spawner(
    options: Options,
    pre: Preflight,
    reactor: IReactor,
    environ: Mapping[str, str],
    successor: Any,
    remotes: RemoteConnector,
    sandbox: Confiner | None = None,
) -> Spawner:
    """What starts the children: the reactor, their environment, the line
    cap, the ledger of their pids in the state directory, what resolves
    their secret references, and their sandbox."""
    from mcpgateway.core.spawn import Spawner
    from mcpgateway.ops.statedir import ChildLedger
    from mcpgateway.runtime.turnwrites import Unflushed
    from mcpgateway.secrets.resolve import SecretResolver
    from mcpgateway.tuned.turnflush import TurnFlusher

    ledger = ChildLedger(pre.stateDir)
    warden = wardenFor(options, reactor, ledger, pre.stateDir)  # with --adopt-grace
    if successor is not None:
        # The predecessor's children exiting rewrote the ledger: this process's again.
        successor.gone.addCallback(lambda _: ledger.rewrite())
    return Spawner(
        reactor=reactor,
        clock=reactor,
        environ=environ,
        setsid=shutil.which("setsid"),
        maxLine=options["max-line"],
        watcher=warden,
        marker=warden.marker,
        remotes=remotes,
        secrets=SecretResolver(reactor, pre.stateDir, environ, threadRunner(reactor)),
        runInThread=threadRunner(reactor),  # looks for a file a confined tool did not find
        confiner=sandbox,
        startTimeout=options["start-timeout"],
        flusher=Unflushed() if options["twisted"] == STOCK else TurnFlusher(reactor),
        adoptions=adoptionFor(successor, reactor, options, pre.stateDir),
    )


def _gatewaySettings(
    options: Options,
    pre: Preflight,
    reactor: IReactor,
    environ: Mapping[str, str],
    successor: Any,
    cluster: ClusterWiring | None,
    promotions: PromotionStore,
    configService: ConfigService,
) -> GatewaySettings:
    """The gateway's tunables and collaborators, from the options."""
    from mcpgateway.config.promotions import Promoter
    from mcpgateway.core.gateway.catalog import Catalogs
    from mcpgateway.core.gateway.settings import GatewaySettings
    from mcpgateway.core.healing import HealingPolicy
    from mcpgateway.ops.catalogstore import CatalogStore
    from mcpgateway.ops.scopecatalogstore import ScopeCatalogStore
    from mcpgateway.ops.sessionstore import SessionStore
    from mcpgateway.ops.statedir import pidAlive
    from mcpgateway.runtime.paths import SESSIONS_FILE

    runInThread = threadRunner(reactor)
    return GatewaySettings(
        # The aggregate endpoint /mcp (docs/guide/aggregate.md): what every server lists,
        # and each scope's start-ups are answered from, kept in the state directory.
        catalogs=Catalogs(reactor, CatalogStore(pre.stateDir), runInThread),
        scopeStore=ScopeCatalogStore(pre.stateDir),
        runInThread=runInThread,
        resultBytes=options["result-store-bytes"],
        healing=HealingPolicy(
            base=options["restart-backoff"], coolDown=options["circuit-cool-down"]
        ),
        # Behind a proxy or a load balancer (a team gateway, a cluster) the
        # socket's owner is the proxy, not the client: its pid says nothing
        # of when the client is gone (the proxy's restart would end them all).
        pidFinder=None if _behindProxy(options) else _pidFinder(runInThread),
        resolver=None if options["no-resolve"] else LazyResolver(pre.stateDir, reactor, environ),
        drainTimeout=options["drain-timeout"],
        # read at start, saved while running and at stop (see docs/design/continuity.md);
        # written in the reactor's thread pool, one write at a time
        persistence=SessionStore(stateFile(pre.stateDir, SESSIONS_FILE), runInThread=runInThread),
        predecessor=None if successor is None else successor.gone,
        # The predecessor lets its connections finish, then drains: then it exits.
        predecessorWait=options["restart-timeout"] + options["drain-timeout"] + 15.0,
        # a promotion is kept in promotions.json, then the config reloads
        promotions=Promoter(promotions, reactor, runInThread, configService.reload),
        # MCP 2026-07-28 calls waiting for their client (docs/design/era.md)
        era2026InputTimeout=options["limits"].era2026InputTimeout,
        maxSuspendedCalls=options["limits"].maxSuspendedCalls,
        sessionIds=None if cluster is None else cluster.sealer,
        # a saved session whose client exited while no gateway ran is not restored
        clientAlive=pidAlive,
        # the Tasks extension, kept in tasks.journal (docs/guide/tasks.md)
        tasks=_tasks(options, pre, reactor, cluster),
        # the servers' pinned tools, in pins.json (docs/guide/trust.md)
        toolPins=pinPolicy(options, pre.stateDir, reactor, runInThread, refuse),
        # start-ups answered from the saved catalogs (docs/guide/lifecycle.md)
        lazyStart=not options["no-lazy-start"],
    )


def _tasks(
    options: Options, pre: Preflight, reactor: IReactor, cluster: ClusterWiring | None
) -> TaskManager:
    """The tasks of the gateway, in C{<task-dir>/tasks.journal} (read when
    the service tree starts: L{mcpgateway.core.tasks.keeping.TaskKeeping}).
    A cluster replica's task ids are sealed with its address, its journal is
    C{tasks-<replica-id>.journal}, and a task whose owner cannot be reached
    is read from the owner's journal when the replicas share the directory."""
    from mcpgateway.core.tasks.archive import TaskArchive, journalName
    from mcpgateway.core.tasks.manager import TaskManager
    from mcpgateway.core.tasks.store import TaskStore
    from mcpgateway.startup.taskoptions import taskTerms

    directory = pre.stateDir
    if options["task-dir"]:
        directory = Path(options["task-dir"]).expanduser().absolute()
        if not directory.is_dir():
            refuse(f"--task-dir {options['task-dir']}: no such directory")
    replica = None if cluster is None else cluster.replica
    store = TaskStore(directory / journalName(replica), options["task-result-bytes"])
    if cluster is None:
        return TaskManager(store, reactor, taskTerms(options))
    sealer = cluster.taskIds()

    def labelOf(taskId: str, server: str, scope: str, principal: str) -> str | None:
        owner = sealer.owner(taskId, server, scope, principal)
        return None if owner is None else owner.label

    archive = TaskArchive(directory, cluster.replica, labelOf, store.now)
    return TaskManager(store, reactor, taskTerms(options), sealer.newId, archive)


def _operations(
    options: Options, reactor: IReactor, top: Any, gateway: Gateway, configService: ConfigService
) -> None:
    """The services around the gateway: stop signals, the config watcher,
    the reaper, the monitor, the savings sampler and the status page's series."""
    from mcpgateway.ops.monitor import Monitor, MonitorService
    from mcpgateway.ops.reaper import Reaper, ReaperService
    from mcpgateway.ops.savings import SavingsSampler, SavingsService
    from mcpgateway.ops.seriessampler import SeriesService
    from mcpgateway.ops.signals import IGNORED_ENV, StopSignals

    # SIGTERM/SIGINT: a second one while stopping cuts the drain short (no traceback).
    StopSignals(
        reactor, gateway.shutdown.cutShort, inherited=os.environ.get(IGNORED_ENV, "")
    ).setServiceParent(top)
    configService.setServiceParent(top)
    reaper = Reaper(gateway, reactor, options["idle-timeout"], options["child-idle-timeout"])
    ReaperService(reaper, reactor, options["reap-interval"]).setServiceParent(top)
    # What sharing saves (docs/guide/operations.md): /proc read in the thread pool.
    sampler = SavingsSampler(
        partial(gateway.readModel.status, rows=False), reactor, threadRunner(reactor)
    )
    gateway.savings = sampler.estimate
    MonitorService(Monitor(gateway, reactor, rss=sampler.rss), reactor).setServiceParent(top)
    SavingsService(sampler, reactor).setServiceParent(top)
    # The status page's plots: the last hour and day of the figures above.
    SeriesService(gateway, reactor).setServiceParent(top)


def _pollSpin(
    reactor: IReactor, microseconds: float, worthIt: Callable[[], bool], twisted: str
) -> None:
    """Have the gateway's own reactor (L{mcpgateway.tuned.reactor}) poll up to
    C{microseconds} before it sleeps, while C{worthIt()}; never on a single
    CPU, where the process it waits for needs that CPU to answer, nor on
    C{--twisted=stock}. Logs which Twisted (C{twisted}) and reactor run."""
    from twisted.logger import Logger

    log = Logger(observer=logs.observer, namespace="mcpgateway.tap")
    kind = f"{type(reactor).__module__}.{type(reactor).__name__}"
    log.info("twisted: {twisted}, reactor: {reactor}", twisted=twisted, reactor=kind)
    spinBeforeWaiting = None if twisted == STOCK else getattr(reactor, "spinBeforeWaiting", None)
    if spinBeforeWaiting is None:  # Twisted's own reactor: it never spins
        if microseconds != bounds.POLL_SPIN:
            log.info(
                "--poll-spin does nothing on this reactor ({reactor}): it is the gateway's"
                " own reactor's (--reactor=mcpgateway, as `mcpgateway start` runs it)",
                reactor=type(reactor).__name__,
            )
        return
    if microseconds and usableCpus() < 2:
        log.info("--poll-spin is off: this process may run on one CPU only")
        microseconds = 0.0
    spinBeforeWaiting(microseconds / 1e6, worthIt)


def usableCpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _listener(
    wiring: Wiring,
    gateway: Gateway,
    configService: ConfigService,
    team: TeamServices | None = None,
    heldCalls: HeldCallsService | None = None,
) -> tuple[ListenerService, GatewaySite]:
    """The HTTP side on C{--port} (or on the socket a restart's predecessor
    passed down): the MCP endpoints (credential headers keyed with the
    wiring's C{secret}) behind C{team}'s door, /health, and the management apps
    (Klein, loaded on their first call; with C{heldCalls}); the listener and the site.

    A gateway reachable from other machines with no authentication is
    refused here (L{requireAuth}), once the socket is known. A restart's
    successor on a TLS endpoint wraps the socket it adopted in TLS again,
    with the same key and certificate."""
    from mcpgateway.config.workspaces import WorkspaceKeys
    from mcpgateway.ops.services import ListenerService
    from mcpgateway.ops.systemd import SystemdNotifyService, adoptsLoopback
    from mcpgateway.web.app import makeSite

    options, pre, reactor, top = wiring.options, wiring.pre, wiring.reactor, wiring.top
    successor, secret, cluster = wiring.successor, wiring.secret, wiring.cluster
    selfService = wiring.selfService
    endpoint = options["endpoint"]

    api = _managementApi(wiring, gateway, configService, team, heldCalls)
    tls: Any = None
    if successor is not None and isTLSEndpoint(endpoint):
        tls = tlsContext(reactor, endpoint)
    server = _serverEndpoint(options, reactor, successor)
    loopbackOnly = isLoopbackEndpoint(endpoint) or adoptsLoopback(server)
    refusal = requireAuth(endpoint, loopbackOnly, options)
    if refusal is not None:
        refuse(refusal)
    site = makeSite(
        gateway,
        reactor,
        loopbackOnly=loopbackOnly,
        api=api,
        limits=options["limits"],
        keys=None if secret is None else WorkspaceKeys(secret),
        team=team,
        flusher=gateway.spawner.flusher,
        twisted=options["twisted"],
        door=doorFor(options, reactor, pre.stateDir),
        config=configService.problems,
        apiHasToken=bool(options["api-token"]),  # the status page asks it, not Klein
        approvals=None if heldCalls is None else heldCalls.existing,
        settling=configService.settling,
    )
    _pollSpin(reactor, options["poll-spin"], site.servesAtMostOne, options["twisted"])
    notify = SystemdNotifyService(os.environ.get("NOTIFY_SOCKET"))
    notify.setServiceParent(top)

    def listening(port: int) -> None:
        if cluster is not None:
            cluster.listening(port)
        top.listening(port, listener.host)  # the bound address, as the socket reports it
        for told in team.listeners if team is not None else ():
            told(port)
        if selfService is not None:
            selfService.listening(port, listener.host)  # before the servers are served again
        configService.listening(port)
        notify.listening(port)  # READY=1 once it serves
        if successor is not None:
            successor.listening(port)  # the predecessor stops accepting

    factory: Any = site
    if tls is not None:
        # The adopted socket is a plain one: TLS is this process's to add.
        from twisted.protocols.tls import TLSMemoryBIOFactory

        factory = TLSMemoryBIOFactory(tls, False, site)
    from mcpgateway.ops.openfiles import raiseOpenFiles

    def putBackEverything(stateDir: Path) -> list[str]:
        # Only when another account holds the port: the clients' files' modules
        # would cost every start 40 ms, and their memory for the process's life.
        from mcpgateway.ops.putback import putBackEverything as putBackAll

        return putBackAll(stateDir)

    putBack = threadRunner(reactor)
    listener = ListenerService(
        server,
        endpoint,
        factory,
        reactor,
        onListening=listening,
        openFiles=raiseOpenFiles,
        putBack=lambda: putBack(putBackEverything, pre.stateDir),
    )
    return listener, site


def _managementApi(
    wiring: Wiring,
    gateway: Gateway,
    configService: ConfigService,
    team: TeamServices | None,
    heldCalls: HeldCallsService | None,
) -> Callable[[], Any]:
    """What makes the management API's resource on its first request (the
    site keeps what it returns): Klein and the API's modules load then."""
    options, pre, reactor = wiring.options, wiring.pre, wiring.reactor
    selfService = wiring.selfService

    def api() -> Any:
        from mcpgateway.config.serversfile import ServersFile
        from mcpgateway.ops.management import ServerChanges
        from mcpgateway.sandbox.confine import Sandbox
        from mcpgateway.web.admin.api import ApiApp

        principals = team is not None and team.gate is not None
        management = ServerChanges(
            gateway, configService, ServersFile(pre.stateDir), principals=principals
        )
        confiner = gateway.spawner.confiner
        return ApiApp(
            management,
            gateway,
            reactor,
            options["api-token"],
            authLine=None if team is None else team.authLine,
            serversToken=None if selfService is None else selfService.token,
            audit=None if team is None else team.audit,
            sandbox=confiner if isinstance(confiner, Sandbox) else None,
            approvals=None if heldCalls is None else heldCalls.store,
        ).resource()

    return api


def _serverEndpoint(options: Options, reactor: IReactor, successor: Any) -> IStreamServerEndpoint:
    """The endpoint C{--port} names, or the socket a restart's predecessor
    passed down; a bad one refuses the start in one line."""
    from twisted.internet.endpoints import AdoptedStreamServerEndpoint, serverFromString

    endpoint = options["endpoint"]
    try:
        if successor is not None:
            from mcpgateway.ops.handover import socketFamily

            fd = options["handover"].listenFd
            return AdoptedStreamServerEndpoint(reactor, fd, socketFamily(fd))
        parsed: IStreamServerEndpoint = serverFromString(reactor, endpoint)
        return parsed
    except OSError as e:
        if successor is not None:
            refuse(f"the restart passed no listening socket: {e}")
        refuse(f"--port {endpoint}: {e.strerror or e}: {e.filename or ''}".rstrip(": "))
    except (IndexError, KeyError, ValueError) as e:
        if endpoint.split(":", 1)[0].lower() == "systemd":
            # Twisted indexes the sockets systemd passed (LISTEN_FDS,
            # LISTEN_FDNAMES): none passed is an IndexError or a KeyError.
            refuse(
                f"--port {endpoint}: systemd passed no such socket (LISTEN_FDS, LISTEN_FDNAMES):"
                " start it from its .socket unit (mcpgateway service install)"
            )
        refuse(f"--port {endpoint}: {e or 'no socket passed in (LISTEN_FDS, LISTEN_FDNAMES)'}")
    except TypeError:
        # Twisted's parsers take an unknown or repeated key (an IPv6
        # address's bare colons split it) as a keyword argument.
        refuse(
            f"--port {endpoint}: not a valid endpoint string (an unknown or repeated option;"
            " escape an IPv6 address's colons: tcp6:9100:interface=\\:\\:1)"
        )


def _manhole(options: Options, pre: Preflight, reactor: IReactor, gateway: Any, top: Any) -> Any:
    """The SSH debugging prompt (C{--manhole}, C{--manhole-ssh}); refuses in
    one line when its files or socket are not private."""
    from mcpgateway.ops.manhole import ManholeError, gatewayNamespace, makeManholeService

    try:
        return makeManholeService(
            reactor,
            pre.stateDir,
            gatewayNamespace(gateway, top, reactor),
            socketPath=Path(options["manhole"]) if options["manhole"] else None,
            sshPort=options["manhole-ssh"],
        )
    except ManholeError as e:
        refuse(str(e))


def _interfaceOf(options: Options) -> str:
    """The address clients should use: the bound interface, or loopback when
    bound to every interface. (C{state.json} records the address the
    listening socket reports instead, once it listens: L{_listener}.)"""
    interface = endpointInterface(options["endpoint"])
    return "127.0.0.1" if interface in (None, "", "0.0.0.0", "::") else interface


def withTimeout(specs: dict[str, Any], seconds: float | None) -> dict[str, Any]:
    """Apply --request-timeout to servers that did not set their own."""
    if seconds is None:
        return specs
    return {name: _withDefaultTimeout(spec, seconds) for name, spec in specs.items()}


def _behindProxy(options: Options) -> bool:
    """Whether this gateway's clients come through a proxy or a load
    balancer: it authenticates them (a team gateway) or is a cluster's
    replica. Then the process holding a connection's other end is not an MCP
    client, and its exit must not end the sessions (docs/guide/lifecycle.md)."""
    return bool(options["auth-tokens"] or options["oauth-issuer"] or options["cluster-key-file"])


def _pidFinder(runInThread: Any) -> Any:
    """Look up sockets' owners in a thread (it reads /proc, which may be
    slow), the look-ups asked for together in one scan."""
    from mcpgateway.ops.ownerscan import CoalescedPidFinder

    return CoalescedPidFinder(runInThread)


def _withDefaultTimeout(spec: Any, seconds: float) -> Any:
    """C{spec} with C{seconds} as its request timeout, unless its entry set
    one itself (even one equal to the built-in default)."""
    from dataclasses import replace

    if spec.requestTimeoutDeclared:
        return spec
    return replace(spec, requestTimeout=seconds)

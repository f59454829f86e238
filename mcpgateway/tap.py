# -*- test-case-name: tests.test_tap -*-
"""C{Options} (every command-line flag) and C{makeService} (the service tree).

The only place that resolves the reactor. Heavy imports (klein, the web tree)
happen inside L{makeService}, so C{twistd --help} stays fast and the plugin
file stays inert.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from twisted.application.service import IService
from twisted.python import usage

from mcpgateway import limits, logs
from mcpgateway.paths import API_TOKEN_ENV, DEFAULT_PORT, defaultStateDir

if TYPE_CHECKING:
    from mcpgateway.ops.services import StateFileService
    from mcpgateway.preflight import Preflight


def _positiveFloat(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("must be positive")
    return number


def _positiveInt(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be positive")
    return number


class Options(usage.Options):
    """mcpgateway's command line (C{twistd mcpgateway --help})."""

    synopsis = "[options]"
    longdesc = (
        "Serve every stdio MCP server of a config file at http://INTERFACE:PORT/<server>/mcp"
        " (MCP Streamable HTTP), sharing one child process per server between all clients."
        " Without --config: ~/.claude.json if it exists, else a bundled demo server."
    )
    optFlags: list[list[Any]] = [
        [
            "no-resolve",
            None,
            "Run npx/uvx commands as configured instead of resolving them once to the real"
            " binary (which saves a ~40 MB wrapper process per child).",
        ],
        [
            "rewrite-config",
            None,
            "Adopt the client config: back up its stdio entries, point them at this gateway,"
            " serve them from the backup, and restore them on stop.",
        ],
    ]
    optParameters: list[list[Any]] = [
        [
            "port",
            "p",
            str(DEFAULT_PORT),
            "TCP port to listen on, or a Twisted endpoint string (e.g. tcp:9100:interface=::1).",
        ],
        [
            "interface",
            "i",
            "127.0.0.1",
            "Address to bind when --port is a number. Keep loopback unless you know why not.",
        ],
        [
            "config",
            "c",
            None,
            "A JSON file with a top-level mcpServers object (~/.claude.json, .mcp.json, or your"
            " own). Default: ~/.claude.json if present, else the bundled demo.",
        ],
        [
            "state-dir",
            None,
            None,
            "Directory for the gateway's state. Default: $MCPGATEWAY_HOME or ~/.mcpgateway.",
        ],
        ["log-level", None, "info", "One of " + ", ".join(logs.LEVELS) + "."],
        [
            "request-timeout",
            None,
            None,
            "Seconds a child may take to answer a request (default 60; a server's"
            " requestTimeout, in ms, overrides it).",
            _positiveFloat,
        ],
        [
            "max-body",
            None,
            limits.MAX_BODY,
            "Largest accepted POST body, in bytes (413 beyond).",
            _positiveInt,
        ],
        [
            "max-batch",
            None,
            limits.MAX_BATCH,
            "Most messages in one JSON-RPC batch (413 beyond).",
            _positiveInt,
        ],
        [
            "max-depth",
            None,
            limits.MAX_DEPTH,
            "Deepest nesting of arrays and objects in a message (-32700 beyond).",
            _positiveInt,
        ],
        [
            "max-number-digits",
            None,
            limits.MAX_NUMBER_DIGITS,
            "Longest JSON number, in characters (-32700 beyond; below 4300).",
            _positiveInt,
        ],
        [
            "max-in-flight",
            None,
            limits.MAX_IN_FLIGHT_PER_SESSION,
            "Most requests one session may have waiting for a child (-32004 beyond).",
            _positiveInt,
        ],
        [
            "header-timeout",
            None,
            limits.HEADER_TIMEOUT,
            "Seconds a request's headers may take to arrive (408 beyond).",
            _positiveFloat,
        ],
        [
            "max-connections-per-peer",
            None,
            limits.MAX_CONNECTIONS_PER_PEER,
            "Most open connections from one address (503 beyond).",
            _positiveInt,
        ],
        [
            "keepalive-interval",
            None,
            limits.KEEPALIVE_INTERVAL,
            "Seconds of silence after which an SSE stream gets a keep-alive comment.",
            _positiveFloat,
        ],
        [
            "max-modern-in-flight",
            None,
            limits.MAX_MODERN_IN_FLIGHT,
            "Most MCP 2026-07-28 requests and listen streams one endpoint may have waiting"
            " (-32004 beyond).",
            _positiveInt,
        ],
        [
            "max-suspended-calls",
            None,
            limits.MAX_SUSPENDED_CALLS,
            "Most MCP 2026-07-28 calls of one server waiting for their client's input_required"
            " answer (-32004 beyond).",
            _positiveInt,
        ],
        [
            "modern-input-timeout",
            None,
            limits.MODERN_INPUT_TIMEOUT,
            "Seconds an MCP 2026-07-28 call waits for its client's input_required answer;"
            " then the child's questions are declined and its call cancelled.",
            _positiveFloat,
        ],
        [
            "max-line",
            None,
            16 * 1024 * 1024,
            "Longest stdout line accepted from a child, in bytes; longer kills the child.",
            _positiveInt,
        ],
        [
            "reap-interval",
            None,
            60.0,
            "Seconds between reaper sweeps (dead children, dead clients, idle sessions).",
            _positiveFloat,
        ],
        [
            "idle-timeout",
            None,
            1800.0,
            "Seconds after which a session with no known client pid, no open GET stream and"
            " no activity is ended.",
            _positiveFloat,
        ],
        [
            "log-file",
            None,
            None,
            "Also write the log to this file, rotated at 5 MB (mcpgateway start uses"
            " <state-dir>/gateway.log).",
        ],
        [
            "api-token",
            None,
            None,
            "Bearer token the management API (/api/v1) requires. Prefer $MCPGATEWAY_API_TOKEN"
            " (a command-line value shows in ps). Without one, only loopback clients are served.",
        ],
        [
            "manhole",
            None,
            None,
            "Serve a debugging Python prompt over SSH on this UNIX socket (mode 0600; a relative"
            " path is taken in the state dir, e.g. manhole.sock). Keys only:"
            " <state-dir>/manhole_authorized_keys. Needs mcpgateway[manhole].",
        ],
        [
            "manhole-ssh",
            None,
            None,
            "Serve the debugging prompt over SSH on this 127.0.0.1 TCP port (keys only).",
            int,
        ],
        [
            "restart-backoff",
            None,
            1.0,
            "Seconds before a failed server's first restart; doubles per consecutive failure up"
            " to 60 s.",
            _positiveFloat,
        ],
        [
            "circuit-cool-down",
            None,
            60.0,
            "Seconds a server's circuit stays open (after 5 failures in 5 minutes) before one"
            " attempt is let through.",
            _positiveFloat,
        ],
        [
            "drain-timeout",
            None,
            5.0,
            "Seconds requests in flight may take to finish when the gateway stops; what is"
            " still running then is answered with an error.",
            _positiveFloat,
        ],
        [
            "restart-timeout",
            None,
            30.0,
            "Seconds the old process of a restart (mcpgateway restart, SIGUSR2) goes on serving"
            " the requests of its open connections before it closes them.",
            _positiveFloat,
        ],
        [
            "clients",
            None,
            "all",
            "With --rewrite-config: the MCP clients adopted besides Claude Code, 'all'"
            " (every one found on this machine), 'none', or a comma list of ids (cursor,"
            " vscode, codex, gemini, windsurf, claude-desktop, cline, roo, continue,"
            " opencode, zed, goose, copilot, amazonq, kiro, junie).",
        ],
        [
            "child-idle-timeout",
            None,
            None,
            "Seconds after which a shared child with no session is stopped (default: never;"
            " it restarts on demand).",
            _positiveFloat,
        ],
    ]

    def parseOptions(self, options: Any = None) -> None:
        """Parse; a bad command line is one line naming the problem and where
        the options are listed (twistd and twist would print the whole help
        first), then exit status 1."""
        self.pluginArgs = list(sys.argv[1:] if options is None else options)
        """The arguments as given: a restart's successor gets the same."""
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            sys.stderr.write(f"mcpgateway: {e}\n`twistd mcpgateway --help` lists the options\n")
            raise SystemExit(1) from None

    def opt_version(self) -> NoReturn:
        """Display mcpgateway's and Twisted's versions and exit."""
        from mcpgateway import __version__
        from twisted import copyright

        print(f"mcpgateway {__version__} (Twisted {copyright.version})")
        raise SystemExit(0)

    def postOptions(self) -> None:
        port = str(self["port"])
        if ":" in port:
            self["endpoint"] = port
        else:
            try:
                number = int(port)
            except ValueError:
                raise usage.UsageError(
                    f"--port must be a number or an endpoint string, not {port!r}"
                ) from None
            if not 0 <= number <= 65535:
                raise usage.UsageError(f"--port {number} is out of range")
            interface = self["interface"].replace(":", "\\:")
            self["endpoint"] = f"tcp:{number}:interface={interface}"
        try:
            self["limits"] = limits.Limits(
                maxBody=self["max-body"],
                maxBatch=self["max-batch"],
                maxDepth=self["max-depth"],
                maxNumberDigits=self["max-number-digits"],
                maxInFlightPerSession=self["max-in-flight"],
                headerTimeout=self["header-timeout"],
                maxConnectionsPerPeer=self["max-connections-per-peer"],
                keepAliveInterval=self["keepalive-interval"],
                maxModernInFlight=self["max-modern-in-flight"],
                maxSuspendedCalls=self["max-suspended-calls"],
                modernInputTimeout=self["modern-input-timeout"],
            )
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        if self["log-level"] not in logs.LEVELS:
            raise usage.UsageError(f"--log-level must be one of {', '.join(logs.LEVELS)}")
        if self["clients"] not in ("all", "none"):
            from mcpgateway.clientconfigs.clients import select

            try:
                select(self["clients"])
            except KeyError as e:
                raise usage.UsageError(
                    f"--clients: no client named {e} (use all, none, or a comma list of ids)"
                ) from None
        if not self["api-token"]:
            self["api-token"] = os.environ.get(API_TOKEN_ENV) or None
        if self["state-dir"] is None:
            self["state-dir"] = defaultStateDir()
        if self["config"] is not None and not Path(self["config"]).expanduser().is_file():
            raise usage.UsageError(f"--config {self['config']}: no such file")
        from mcpgateway.ops.handover import BadHandover, Inherited

        try:
            self["handover"] = Inherited.fromEnviron(os.environ)
        except BadHandover as e:
            raise usage.UsageError(str(e)) from None
        leaveOutTLS(self["endpoint"])


def leaveOutTLS(endpoint: str) -> bool:
    """Keep pyOpenSSL out of a gateway that serves no TLS.

    Importing the reactor imports C{twisted.internet.tcp}, which imports
    pyOpenSSL (about 18 MB resident) only to offer C{startTLS} on TCP
    connections. A gateway listening on plain TCP or a UNIX socket never uses
    it, so before the reactor is imported (twistd and twist parse options
    first) mark pyOpenSSL unavailable; Twisted then leaves C{startTLS} out.
    A TLS endpoint (C{ssl:}, C{tls:}) keeps it. Returns whether it did so.
    """
    if (
        endpoint.split(":", 1)[0].lower() in ("ssl", "tls")
        or "OpenSSL" in sys.modules
        or "twisted.internet.reactor" in sys.modules
    ):
        return False
    sys.modules["OpenSSL"] = None  # type: ignore[assignment]
    return True


def makeService(options: Options, reactor: Any = None) -> IService:
    """Build the gateway's service tree from parsed C{options}: the checks
    that must fail before daemonizing (L{preflight}), then wiring only."""
    if reactor is None:
        from twisted.internet import reactor as _reactor

        reactor = _reactor
    from mcpgateway.ops.reaper import OrphanCleanup
    from mcpgateway.ops.statedir import processStartTime
    from mcpgateway.preflight import PreflightError, preflight

    try:
        pre = preflight(options, _interfaceOf(options))
    except PreflightError as e:
        _refuse(str(e))
    secret = _workspaceSecret(pre)
    top = _root(options, pre, reactor)
    if pre.logFile is not None:
        pre.logFile.setServiceParent(top)
    if pre.orphans:
        OrphanCleanup(pre.orphans, reactor, processStartTime).setServiceParent(top)
    successor = _successor(options, reactor, top)
    gateway, configService = _gatewayAndConfig(options, pre, reactor, top, successor, secret)
    listener, site = _listener(
        options, pre, reactor, gateway, configService, top, successor, secret
    )
    listener.setServiceParent(top)
    _predecessor(options, pre, reactor, gateway, configService, top, listener, site)
    if options["manhole"] or options["manhole-ssh"] is not None:
        _manhole(options, pre, reactor, gateway, top).setServiceParent(top)
    return top


def _workspaceSecret(pre: Preflight) -> bytes:
    """The secret of the state directory's workspace and credential keys
    (C{workspace.key}, made on first use), read once here: routes and
    credential headers are keyed with it without any file I/O later. A file
    that cannot be used refuses the start, in one line (every adopted
    workspace route depends on it)."""
    from mcpgateway.config.workspaces import WorkspaceKeyError, loadSecret
    from mcpgateway.paths import WORKSPACE_KEY_FILE

    try:
        return loadSecret(pre.stateDir)
    except WorkspaceKeyError as e:
        _refuse(str(e))
    except OSError as e:
        _refuse(
            f"cannot make the workspace key file {pre.stateDir / WORKSPACE_KEY_FILE}:"
            f" {e.strerror or e}"
        )


def _successor(options: Options, reactor: Any, top: Any) -> Any:
    """In a process a restart started: the link to its predecessor, whose
    C{gone} fires when that process has exited; else C{None}."""
    from twisted.internet.defer import Deferred

    from mcpgateway.ops.handover import HANDOVER_ENV, Successor

    inherited = options.get("handover")
    if inherited is None:
        return None
    os.environ.pop(HANDOVER_ENV, None)  # the next restart sets its own
    successor = Successor(reactor, inherited, Deferred())
    successor.setServiceParent(top)
    return successor


def _predecessor(
    options: Options,
    pre: Preflight,
    reactor: Any,
    gateway: Any,
    configService: Any,
    top: Any,
    listener: Any,
    site: Any,
) -> None:
    """Restart on C{SIGUSR2}: start a successor and hand over to it (see
    L{mcpgateway.ops.handover})."""
    from mcpgateway.ops.handover import Predecessor, successorCommand

    args = list(getattr(options, "pluginArgs", []))
    if options["log-file"] is None:
        # Detached, the successor's log would go nowhere: it writes the state dir's.
        from mcpgateway.paths import LOG_FILE

        args += ["--log-file", str(pre.stateDir / LOG_FILE)]

    def handOver() -> Any:
        listener.handOver()
        configService.handOver()
        top.handOver()
        return site.handOver(options["restart-timeout"])

    Predecessor(
        reactor,
        successorCommand(args),
        os.environ,
        listener.fileno,
        pre.lock.fileno,
        gateway.saveSessions,
        handOver,
    ).setServiceParent(top)


def _root(options: Options, pre: Preflight, reactor: Any) -> StateFileService:
    """The root service: it holds the instance lock and state.json, and lets
    go of them only after every service below it has stopped."""
    from mcpgateway.ops.services import StateFileService

    details = {
        "interface": _interfaceOf(options),
        "config": str(pre.configPath) if pre.configPath else None,
        "stateDir": str(pre.stateDir),
        "rewriteConfig": bool(options["rewrite-config"]),
        "clients": options["clients"] if options["rewrite-config"] else "none",
    }
    return StateFileService(pre.stateDir, pre.lock, details, reactor)


def _gatewayAndConfig(
    options: Options,
    pre: Preflight,
    reactor: Any,
    top: Any,
    successor: Any = None,
    secret: bytes | None = None,
) -> tuple[Any, Any]:
    """The gateway (pools, sessions, children) and the config service that
    keeps it current (workspace routes keyed with C{secret}; promotions kept
    in C{promotions.json}), with the reaper and the monitor; all under C{top}."""
    from twisted.logger import Logger

    from mcpgateway.config.promotions import Promoter, PromotionStore
    from mcpgateway.config.resolve import Resolver
    from mcpgateway.config.source import ConfigService
    from mcpgateway.config.workspaces import WorkspaceKeys
    from mcpgateway.core.environment import childEnvironment
    from mcpgateway.core.gateway import Gateway, GatewayService
    from mcpgateway.core.healing import HealingPolicy
    from mcpgateway.core.spawn import Spawner
    from mcpgateway.ops.monitor import Monitor, MonitorService
    from mcpgateway.ops.reaper import Reaper, ReaperService
    from mcpgateway.ops.sessionstore import SessionStore
    from mcpgateway.ops.statedir import ChildLedger
    from mcpgateway.paths import SESSIONS_FILE, stateFile

    log = Logger(observer=logs.observer, namespace="mcpgateway.tap")
    timeout, runInThread = options["request-timeout"], _threadRunner(reactor)
    gateway: list[Gateway] = []  # bound below; a reload cannot come before start

    def reload(specs: dict[str, Any]) -> Any:
        return gateway[0].reconfigure(_withTimeout(specs, timeout))

    promotions = PromotionStore(pre.stateDir)

    def keys() -> WorkspaceKeys:
        # One instance per load (it caches real paths); the secret read at start.
        return (
            WorkspaceKeys(secret) if secret is not None else WorkspaceKeys.forStateDir(pre.stateDir)
        )

    configService = ConfigService(
        pre.source,
        pre.stateDir,
        reactor,
        reactor,
        runInThread,
        reload,
        keys=keys,
        promotions=promotions,
    )
    specs = _withTimeout(configService.specs(pre.loaded), timeout)
    for spec in specs.values():
        if spec.executable is None:
            log.warn(
                "server {server}: command {command!r} not found on PATH; its endpoint"
                " answers with an error",
                server=spec.name,
                command=spec.command,
            )
    log.info(
        "config: {count} stdio server(s) from {source}", count=len(specs), source=pre.loaded.source
    )
    environ = childEnvironment(os.environ)  # never the gateway's own secrets
    ledger = ChildLedger(pre.stateDir)
    if successor is not None:
        # The predecessor's children exiting rewrote the ledger: this process's again.
        successor.gone.addCallback(lambda _: ledger.rewrite())
    spawner = Spawner(
        reactor=reactor,
        clock=reactor,
        environ=environ,
        setsid=shutil.which("setsid"),
        maxLine=options["max-line"],
        watcher=ledger,
    )
    gateway.append(
        Gateway(
            specs,
            spawner,
            healing=HealingPolicy(
                base=options["restart-backoff"], coolDown=options["circuit-cool-down"]
            ),
            pidFinder=_pidFinder(runInThread),
            resolver=None
            if options["no-resolve"]
            else Resolver(pre.stateDir, reactor, reactor, environ),
            drainTimeout=options["drain-timeout"],
            # read at start, saved while running and at stop (see docs/continuity.md)
            persistence=SessionStore(stateFile(pre.stateDir, SESSIONS_FILE)),
            predecessor=None if successor is None else successor.gone,
            # a promotion is kept in promotions.json, then the config reloads
            promotions=Promoter(promotions, reactor, runInThread, configService.reload),
            # MCP 2026-07-28 calls waiting for their client (docs/era.md)
            modernInputTimeout=options["limits"].modernInputTimeout,
            maxSuspendedCalls=options["limits"].maxSuspendedCalls,
        )
    )
    # The predecessor lets its connections finish, then drains: then it exits.
    gateway[0].predecessorWait = options["restart-timeout"] + options["drain-timeout"] + 15.0
    GatewayService(gateway[0]).setServiceParent(top)
    configService.setServiceParent(top)
    reaper = Reaper(gateway[0], reactor, options["idle-timeout"], options["child-idle-timeout"])
    ReaperService(reaper, reactor, options["reap-interval"]).setServiceParent(top)
    MonitorService(Monitor(gateway[0], reactor), reactor).setServiceParent(top)
    return gateway[0], configService


def _listener(
    options: Options,
    pre: Preflight,
    reactor: Any,
    gateway: Any,
    configService: Any,
    top: Any,
    successor: Any = None,
    secret: bytes | None = None,
) -> tuple[Any, Any]:
    """The HTTP side on C{--port} (or on the socket a restart's predecessor
    passed down): the MCP endpoints (credential headers keyed with
    C{secret}), /health, and the management apps (Klein, loaded on their
    first call); the listener and the site."""
    from twisted.internet.endpoints import AdoptedStreamServerEndpoint, serverFromString

    from mcpgateway.config.gatewayfile import ManagedConfig
    from mcpgateway.config.workspaces import WorkspaceKeys
    from mcpgateway.ops.management import Management
    from mcpgateway.ops.services import ListenerService
    from mcpgateway.ops.systemd import NotifyService, adoptsLoopback
    from mcpgateway.web.app import makeSite

    endpoint = options["endpoint"]
    management = Management(gateway, configService, ManagedConfig(pre.stateDir))

    def api() -> Any:
        from mcpgateway.web.api import ApiApp

        return ApiApp(management, gateway, reactor, options["api-token"]).resource()

    try:
        if successor is not None:
            from mcpgateway.ops.handover import socketFamily

            fd = options["handover"].listenFd
            server = AdoptedStreamServerEndpoint(reactor, fd, socketFamily(fd))
        else:
            server = serverFromString(reactor, endpoint)
    except OSError as e:
        _refuse(f"the restart passed no listening socket: {e}")
    except (IndexError, KeyError, ValueError) as e:
        _refuse(f"--port {endpoint}: {e or 'no socket passed in (LISTEN_FDS, LISTEN_FDNAMES)'}")
    site = makeSite(
        gateway,
        reactor,
        loopbackOnly=_isLoopbackEndpoint(endpoint) or adoptsLoopback(server),
        api=api,
        limits=options["limits"],
        keys=None if secret is None else WorkspaceKeys(secret),
    )
    notify = NotifyService(os.environ.get("NOTIFY_SOCKET"))
    notify.setServiceParent(top)

    def listening(port: int) -> None:
        top.listening(port)
        configService.listening(port)
        notify.listening(port)  # READY=1 once it serves
        if successor is not None:
            successor.listening(port)  # the predecessor stops accepting

    return ListenerService(server, endpoint, site, reactor, onListening=listening), site


def _manhole(options: Options, pre: Preflight, reactor: Any, gateway: Any, top: Any) -> Any:
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
        _refuse(str(e))


def _refuse(message: str) -> NoReturn:
    """Stop before starting, with one line and exit status 1."""
    sys.stderr.write(f"mcpgateway: {message}\n")
    raise SystemExit(1)


def _interfaceOf(options: Options) -> str:
    """The address clients should use: the bound interface, or loopback when
    bound to every interface."""
    interface = _endpointInterface(options["endpoint"])
    return "127.0.0.1" if interface in (None, "", "0.0.0.0", "::") else interface


def _withTimeout(specs: dict[str, Any], seconds: float | None) -> dict[str, Any]:
    """Apply --request-timeout to servers that did not set their own."""
    if seconds is None:
        return specs
    return {name: _withDefaultTimeout(spec, seconds) for name, spec in specs.items()}


def _threadRunner(reactor: Any) -> Any:
    """C{deferToThread} on C{reactor}'s own thread pool (never the global
    reactor's), looked up when first used: after daemonizing."""
    from twisted.internet.threads import deferToThreadPool

    def runInThread(f: Any, *args: Any, **kwargs: Any) -> Any:
        return deferToThreadPool(reactor, reactor.getThreadPool(), f, *args, **kwargs)

    return runInThread


def _pidFinder(runInThread: Any) -> Any:
    """Look up a socket's owner in a thread: it reads /proc, which may be slow."""

    def findClientPid(
        peerHost: str, peerPort: int, localHost: str, localPort: int, hints: Any
    ) -> Any:
        from mcpgateway.ops.peerpid import findClientPid

        return runInThread(findClientPid, peerHost, peerPort, localHost, localPort, hints=hints)

    return findClientPid


def _withDefaultTimeout(spec: Any, seconds: float) -> Any:
    from dataclasses import replace

    from mcpgateway.core.spec import DEFAULT_REQUEST_TIMEOUT

    if spec.requestTimeout != DEFAULT_REQUEST_TIMEOUT:
        return spec
    return replace(spec, requestTimeout=seconds)


def _endpointInterface(endpoint: str) -> str | None:
    """The C{interface=} of a TCP endpoint string (C{None} when absent)."""
    for part in endpoint.replace("\\:", "\0").split(":")[1:]:
        if part.startswith("interface="):
            return part[len("interface=") :].replace("\0", ":")
    return None


def _isLoopbackEndpoint(endpoint: str) -> bool:
    """Whether the listening endpoint only accepts loopback connections, in
    which case Host must be loopback too (DNS-rebinding guard)."""
    from mcpgateway.web.guard import isLoopbackHost

    if endpoint.startswith("unix:"):
        return True
    interface = _endpointInterface(endpoint)
    return interface is not None and isLoopbackHost(interface)

# -*- test-case-name: tests.cli.test_start -*-
"""C{mcpgateway start}: launch C{twistd mcpgateway}, detached (wait until
C{/health} answers, or show why it did not start: twistd's output and this
run's lines of the log) or in the foreground (until it exits).

Two starts at once: the one whose twistd finds the state directory locked
by the other (starting) gateway waits for it and reports it as already
running. A port another socket holds is said in one line, with the pid
holding it when C{/proc} shows it (L{mcpgateway.cli.portheld}): checked before twistd
runs, and read from the gateway's log when it is taken meanwhile. A state
directory other users can enter is warned of on stderr
(with the C{chmod 700} that fixes it) before the gateway starts. Once
started, it waits (a few seconds at most) until the servers
adopted from every client's file are served, then prints the routes the
gateway serves, as the gateway
lists them (L{mcpgateway.cli.routes}): C{/<server>/mcp} only for a server
with a user-scope entry, C{/<server>~<key>/mcp} with its project's path for
each project's own entry; the client files it adopted, each it did not (and
why) and each entry it does not serve (L{mcpgateway.cli.configreport}); and,
when entries of the Claude config point at
a gateway on another port (one of another state directory adopted them),
how many and where (L{mcpgateway.cli.elsewhere.adoptedElsewhere}).

The gateway runs with the caller's umask (twistd's default for a daemon is
C{0077}: every file a server wrote would be private), and with the C{PATH}
of L{mcpgateway.cli.userpath}: a start the user runs records its own; a
start a bridge makes (C{--auto-started}) puts the recorded one first.

In the foreground, Ctrl-C in the terminal reaches the gateway through the
terminal (twistd shares this command's process group); a SIGINT sent to
this command alone (C{kill -INT}, an IDE, a supervisor) is passed on to it
(L{runForeground})."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from mcpgateway.cli.context import START_TIMEOUT, CliContext, gatewayPython
from mcpgateway.cli.elsewhere import adoptedElsewhere, shown
from mcpgateway.cli.health import healthServers
from mcpgateway.cli.logfile import LOG_TAIL, LogPosition, logPosition, tail
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands, plural, portArgument
from mcpgateway.cli.portheld import portInUse, putBack
from mcpgateway.cli.routes import (
    LINES_SHOWN,
    Route,
    fetchRoutes,
    projectPaths,
    routeLines,
    routesOf,
)
from mcpgateway.cli.startclients import checkClients, demoNote
from mcpgateway.cli.startteam import addTeamOptions, teamArgv
from mcpgateway.cli.userpath import currentUmask, startPath
from mcpgateway.ops.gatewayprobe import (
    GatewayProbe,
    claudeConfigPath,
    gatewayUrl,
    pidFromFile,
    positiveInt,
    removeStalePidFile,
    resolveStateDir,
)
from mcpgateway.ops.statedir import (
    lockHeld,
    openStateDir,
    pidAlive,
    removeState,
    unsafeSecrets,
    unsafeStateDir,
)
from mcpgateway.runtime.pathrecord import PATH_FROM_ENV, recordedPath, recordPath
from mcpgateway.runtime.paths import (
    DEFAULT_PORT,
    LOG_FILE,
    PID_FILE,
    STATE_FILE,
)
from mcpgateway.runtime.portuse import reportedInUse
from mcpgateway.startup.sandboxing import MODES as SANDBOX_MODES

TWISTD_LOGGER = "mcpgateway.runtime.logs.discarding"
"""A detached C{twistd}'s C{--logger} (L{mcpgateway.runtime.logs.DISCARD}, named
here: the CLI imports no Twisted)."""
LOG_LEVELS = ("debug", "info", "warn", "error", "critical")
"""The gateway's C{--log-level} words (L{mcpgateway.runtime.logs.LEVELS},
named here for the same reason)."""


def gatewayArgv(
    stateDir: Path,
    port: int,
    config: Path | None,
    foreground: bool,
    rewrite: bool,
    clients: str = "all",
    umask: int | None = None,
    remote: str | None = None,
    trust: Sequence[str] = (),
    logLevel: str | None = None,
    sandbox: str | None = None,
    bytecodeFolder: str | None = None,
) -> list[str]:
    """The C{twistd mcpgateway} command line C{start} runs (C{clients}: its
    C{--clients}, given only with C{rewrite} and when not C{all}; C{umask}:
    twistd's C{--umask}, the one the gateway and its children get;
    C{remote}: its C{--remote}, given only with C{rewrite} and when given
    to C{start}, else the gateway reads its C{servers.json}; C{trust}: the
    trust and self-service options given to C{start}, L{trustArgv};
    C{logLevel}: its C{--log-level}, when given to C{start}; C{sandbox}: its
    C{--sandbox}, when given to C{start}, else the gateway's default or
    C{$MCPGATEWAY_SANDBOX}, which it inherits; C{bytecodeFolder}: where its
    interpreter keeps its bytecode, L{gatewayPython})."""
    argv = [
        *gatewayPython(bytecodeFolder),
        "--pidfile",
        str(stateDir / PID_FILE),
        # Detached, twistd's own log goes nowhere (logs.discarding, not
        # /dev/null: see there): the gateway writes gateway.log itself. In
        # the foreground, show it on stdout.
        *(["--logfile", "-"] if foreground else ["--logger", TWISTD_LOGGER]),
    ]
    if umask is not None:
        # Daemonizing, twistd would set 0077 (its default): every file a
        # server writes would be private, unlike when the client runs it.
        argv += ["--umask", f"{umask:04o}"]
    if foreground:
        argv.append("-n")
    argv += [
        "mcpgateway",
        "--port",
        str(port),
        "--state-dir",
        str(stateDir),
        "--log-file",
        str(stateDir / LOG_FILE),
    ]
    if rewrite:
        argv.append("--rewrite-config")
        if clients != "all":
            argv += ["--clients", clients]
        if remote is not None:
            argv += ["--remote", remote]
    if config is not None:
        argv += ["--config", str(config)]
    if logLevel is not None:
        argv += ["--log-level", logLevel]
    if sandbox is not None:
        argv += ["--sandbox", sandbox]
    argv += trust
    return argv


def keepingArgv(args: argparse.Namespace) -> list[str]:
    """The gateway options of C{--adopt-grace} and C{--restart-timeout}, if given."""
    argv = []
    for option in ("adopt-grace", "restart-timeout"):
        seconds = getattr(args, option.replace("-", "_"), None)
        argv += [] if seconds is None else [f"--{option}", f"{seconds:g}"]
    return argv


def trustArgv(args: argparse.Namespace) -> list[str]:
    """The gateway options of C{start}'s C{--pins}, C{--quarantine-new},
    C{--self-service} and C{--owner-accepts-root} (docs/guide/trust.md,
    docs/guide/self-service.md, docs/guide/security.md), as given."""
    argv: list[str] = []
    if args.pins is not None:
        argv += ["--pins", args.pins]
    if args.quarantine_new:
        argv.append("--quarantine-new")
    if args.self_service:
        argv.append("--self-service")
    if args.owner_accepts_root:
        argv.append("--owner-accepts-root")
    return argv


def cmdStart(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    port: int = args.port if args.port is not None else DEFAULT_PORT
    # The arguments are checked first: a mistake is said whether or not a
    # gateway already runs.
    config: Path | None = None
    if args.config is not None:
        config = Path(args.config).expanduser().absolute()
        if not config.is_file():
            raise CliError(f"--config {args.config}: no such file")
    clients = checkClients(args.clients)
    found = ctx.probe(stateDir)
    if found.running:
        wanted = None if args.port is None else port
        return alreadyRunning(out, found, wanted, adopt=not (args.no_rewrite or args.auto_started))
    unsafe = unsafeStateDir(stateDir) or unsafeSecrets(stateDir)
    if unsafe is not None:  # the gateway would refuse it: say so here, in one line
        raise CliError(unsafe)
    if not lockHeld(stateDir):  # held: one is starting here, reported once it runs
        taken = ctx.checkPort(port)
        if taken is not None:
            portInUse(out, taken)
            if taken.foreign and adoptionInEffect(stateDir):  # its entries reach that account
                putBack(out, ctx, stateDir, found.state)
            return 1
    rewrite = not args.no_rewrite
    if args.remote == "adopt" and not rewrite:
        raise CliError(
            "--remote adopt and --no-rewrite: adopting the clients' remote entries"
            " rewrites their files; drop one of them"
        )
    if rewrite and args.auto_started and config is None and not adoptionInEffect(stateDir):
        # A program a client launched (the bridge) never edits that client's
        # files: it serves them as they are. Only an adoption the user's own
        # start left in place (its backups) is carried on.
        rewrite = False
    if rewrite and config is None and not claudeConfigPath(None).is_file():
        # Nothing to adopt yet: the gateway serves its bundled demo, and
        # adopts the Claude config (and a client's file) once one is written.
        out.note(demoNote(claudeConfigPath(None), clients))
    if rewrite and (config is not None or claudeConfigPath(None).is_file()):
        # before anything is changed
        refuseUnwritable(ctx, config or claudeConfigPath(None), stateDir, config is not None, port)
    try:
        stateDir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise CliError(f"cannot create the state directory {stateDir}: {e.strerror}") from None
    opened = openStateDir(stateDir)
    if opened is not None:  # the gateway says it only in its log, which nobody reads here
        out.note(f"mcpgateway: warning: {opened[1]}")
    if found.stale:
        removeState(stateDir)
    removeStalePidFile(stateDir)
    bytecode = ctx.bytecodeFolder(str(stateDir))
    argv = gatewayArgv(
        stateDir,
        port,
        config,
        args.foreground,
        rewrite,
        clients,
        umask=currentUmask(),
        remote=args.remote,
        trust=trustArgv(args) + teamArgv(args) + keepingArgv(args),
        logLevel=args.log_level,
        sandbox=args.sandbox,
        bytecodeFolder=bytecode,
    )
    env = startEnvironment(stateDir, autoStarted=args.auto_started)
    ctx.warm(bytecode)
    if args.foreground:
        return runForeground(ctx, argv, out, env)
    return startDetached(ctx, argv, stateDir, port, out, anyPort=args.port is None, env=env)


def startEnvironment(stateDir: Path, autoStarted: bool) -> dict[str, str]:
    """The environment the gateway is started with: this process's own,
    but its C{PATH} (L{mcpgateway.cli.userpath.startPath}), and where that
    comes from (L{PATH_FROM_ENV}: C{start} or C{bridge}). A start the user
    runs records its C{PATH} for the starts bridges make."""
    own = os.environ.get("PATH", "")
    recorded = recordedPath(stateDir)
    if not autoStarted:
        recordPath(stateDir, own, "start")
    path = startPath(own, recorded, autoStarted)
    started = {**os.environ, PATH_FROM_ENV: "bridge" if autoStarted else "start"}
    return started if path == own else {**started, "PATH": path}


def alreadyRunning(out: Output, found: GatewayProbe, port: int | None, adopt: bool = False) -> int:
    """Report the running gateway C{found} (exit 0), or refuse when it is
    not on C{port} (C{None}: any port will do). C{adopt}: this start would
    have adopted the clients' files; when the running one does not (a
    bridge started it, or a start with C{--no-rewrite}), a note says how to
    have them adopted."""
    running = f"already running (pid {found.pid}, port {found.port})"
    if port is not None and found.port != port:
        raise CliError(f"{running}; `mcpgateway stop` it first to run it on port {port}")
    if out.json:
        out.emit({"ok": True, "alreadyRunning": True, "pid": found.pid, "port": found.port})
    else:
        out.line(f"mcpgateway is {running}")
    if adopt and (found.state or {}).get("rewriteConfig") is False:
        out.note(
            "mcpgateway: it serves the config as it is, adopting no client's file;"
            " `mcpgateway stop`, then `mcpgateway start`, has them adopted"
        )
    return 0


def adoptionInEffect(stateDir: Path) -> bool:
    """Whether client files of C{stateDir}'s gateway are adopted and not
    put back (L{mcpgateway.ops.putback.adoptionInEffect}, of the user's own
    Claude config)."""
    from mcpgateway.ops import putback

    return putback.adoptionInEffect(stateDir, claudeConfigPath(None))


def refuseUnwritable(ctx: CliContext, config: Path, stateDir: Path, named: bool, port: int) -> None:
    """Refuse, saying what to do instead, a config the gateway would refuse
    to adopt: the library's rule (C{ClaudeConfig}), files inside the home
    directory or the state directory only, symlinks resolved."""
    try:
        ctx.claudeConfigClass()(config, stateDir)
    except ValueError as e:
        option = f" --config {config}" if named else ""
        raise CliError(
            f"{e}; to serve it without rewriting it, add --no-rewrite (`mcpgateway"
            f" start --no-rewrite{option}`: its entries stay as they are, point"
            f" clients at {gatewayUrl(port)}/<server>/mcp yourself)"
        ) from None


def runForeground(
    ctx: CliContext, argv: list[str], out: Output, env: dict[str, str] | None = None
) -> int:
    """Run twistd -n until it exits; every stop signal this command gets
    reaches it exactly once (a second one would cut its graceful stop
    short).

    In a terminal whose foreground process group this command leads,
    twistd shares that group: Ctrl-C (and Ctrl-Z) reach it through
    the terminal, and a SIGINT here is taken for that one, unless this
    group is no longer the terminal's foreground one (then it came from
    C{kill}: passed on). Anywhere else (no terminal, a background job, an
    IDE or a supervisor) twistd gets a session of its own, so that a signal
    to this command's group does not reach it twice, and SIGINT is passed
    on like SIGTERM and SIGHUP."""
    out.note("mcpgateway: running in the foreground (Ctrl-C stops it)")
    shared = ctx.terminalForeground()
    kwargs: dict[str, Any] = {} if shared else {"start_new_session": True}
    if env is not None:
        kwargs["env"] = env
    process = ctx.launch(argv, **kwargs)

    def forward(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(OSError):
            process.send_signal(signum)

    forwarded = [signal.SIGTERM, signal.SIGHUP]
    if not shared and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        forwarded.append(signal.SIGINT)  # (an ignored one stays ignored, as in twistd)
    previous = {sig: signal.signal(sig, forward) for sig in forwarded}
    try:
        while True:
            try:
                code = process.wait()
                break
            except KeyboardInterrupt:
                # From the terminal, the gateway got SIGINT too: wait for its
                # clean stop. Otherwise it was sent to this command alone.
                if not ctx.terminalForeground():
                    forward(signal.SIGINT, None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # twistd re-raises the signal that stopped it once it has shut down cleanly.
    if code in (-signal.SIGINT, -signal.SIGTERM):
        return 0
    return 128 - code if code < 0 else code


def startDetached(
    ctx: CliContext,
    argv: list[str],
    stateDir: Path,
    port: int,
    out: Output,
    anyPort: bool = False,
    env: dict[str, str] | None = None,
) -> int:
    """Run twistd (which daemonizes and exits), then wait for C{/health}.

    When twistd fails because another gateway holds the state directory's
    lock (two starts at once: the other one is starting), wait (within the
    same timeout) for that one's C{state.json} and C{/health} and report it
    as already running (L{waitForOther}). C{anyPort}: no C{--port} was
    given, so a gateway on any port will do."""
    timeout = ctx.timeouts.start
    deadline = ctx.clock() + timeout
    logStart = logPosition(stateDir / LOG_FILE)  # earlier runs' lines are not this run's
    process = ctx.launch(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **({} if env is None else {"env": env}),
    )

    def failed(message: str, output: bytes = b"") -> int:
        return _startFailed(out, stateDir, message, output, logStart, port)

    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        return failed(f"twistd did not finish starting within {timeout:.0f} s", output)
    if process.returncode != 0:
        message = f"the gateway did not start (twistd exit status {process.returncode})"
        if lockHeld(stateDir):
            return waitForOther(
                ctx,
                out,
                stateDir,
                None if anyPort else port,
                deadline,
                lambda: failed(message, output),
            )
        return failed(message, output)
    url = gatewayUrl(port)
    reason = "no answer yet"
    while True:
        found = ctx.probe(stateDir)
        if found.running:
            url = found.baseUrl()
            try:
                health = ctx.http.getJson(url + "/health", ctx.timeouts.poll)
            except CliError as e:
                reason = e.message
            else:
                if (
                    isinstance(health, dict)
                    and health.get("status") == "ok"
                    and health.get("pid", found.pid) == found.pid
                ):
                    health, adopting = settle(ctx, found, url, health, deadline)
                    return _started(ctx, out, found, url, health, adopting)
                reason = f"{url}/health answered {json.dumps(health)[:80]}"
        else:
            daemon = pidFromFile(stateDir / PID_FILE)
            if daemon is None or not pidAlive(daemon):
                message = "the gateway exited while starting"
                if lockHeld(stateDir):  # not by ours, gone: by another one, starting
                    return waitForOther(
                        ctx,
                        out,
                        stateDir,
                        None if anyPort else port,
                        deadline,
                        functools.partial(failed, message),
                    )
                return failed(message)
            reason = f"{STATE_FILE} not written yet"
        if ctx.clock() >= deadline:
            break
        ctx.sleep(0.1)
    return failed(f"the gateway did not answer {url}/health within {timeout:.0f} s ({reason})")


def waitForOther(
    ctx: CliContext,
    out: Output,
    stateDir: Path,
    port: int | None,
    deadline: float,
    failed: Callable[[], int],
) -> int:
    """Another gateway holds the lock of C{stateDir}: one that is starting
    (another C{mcpgateway start}, or a bridge that started one). Wait until
    C{deadline} for its C{state.json} and C{/health}, and report it as
    already running (L{alreadyRunning}); C{failed()} when it lets go of the
    lock without running, or does not answer in time."""
    while True:
        found = ctx.probe(stateDir)
        if found.running:
            try:
                health = ctx.http.getJson(found.baseUrl() + "/health", ctx.timeouts.poll)
            except CliError:
                health = None
            if (
                isinstance(health, dict)
                and health.get("status") == "ok"
                and health.get("pid", found.pid) == found.pid
            ):
                return alreadyRunning(out, found, port)
        elif not lockHeld(stateDir):
            return failed()  # it did not start either: say why this one did not
        if ctx.clock() >= deadline:
            return failed()
        ctx.sleep(0.1)


SETTLE_TIMEOUT = 5.0
"""Seconds C{start} waits, at most, for the servers of the other clients'
files to be served after the first C{/health} (within the start's timeout)."""


def adoptedNames(stateDir: Path, found: GatewayProbe) -> set[str]:
    """The servers the gateway adopted (every record of its backups: the
    Claude config's and every other client's). The gateway adopts as it
    starts listening and serves them once its config is loaded again, a
    moment later."""
    from mcpgateway.cli.configreport import adoptedBackups

    backups = adoptedBackups(stateDir, claudeConfigPath(found.state))
    return {name for backup in backups for _, name in backup.records}


def settle(
    ctx: CliContext, found: GatewayProbe, url: str, health: dict[str, Any], deadline: float
) -> tuple[dict[str, Any], list[str]]:
    """The first C{/health} may come before the servers of the other
    clients' files are served (they are adopted once the gateway listens,
    then loaded): ask again until every adopted server is there (at most
    L{SETTLE_TIMEOUT} s, within C{deadline}). The last C{/health}, and the
    adopted servers still not served."""
    expected = adoptedNames(found.stateDir, found)
    until = min(deadline, ctx.clock() + SETTLE_TIMEOUT)
    while True:
        missing = sorted(expected - set(healthServers(health)))
        if not missing or ctx.clock() >= until:
            return health, missing
        ctx.sleep(0.1)
        try:
            again = ctx.http.getJson(url + "/health", ctx.timeouts.poll)
        except CliError:
            continue
        if isinstance(again, dict) and again.get("status") == "ok":
            health = again


def _started(
    ctx: CliContext,
    out: Output,
    found: GatewayProbe,
    url: str,
    health: dict[str, Any],
    adopting: list[str] | None = None,
) -> int:
    from mcpgateway.cli.configreport import adoptedFiles, invalidEntries, refusedFiles, startLines

    servers = healthServers(health)
    pid = found.pid or positiveInt(health.get("pid"))
    config = claudeConfigPath(found.state)
    elsewhere = adoptedElsewhere(config, found.port)
    adopted = adoptedFiles(found.stateDir, config)  # only those it did adopt: a backup each
    routes: dict[str, list[Route]] | None = None
    unlisted = ""
    try:
        keys = fetchRoutes(ctx.http, found, ctx.timeouts.http, health)
    except CliError as e:
        unlisted = e.message
    else:
        every = {key for serverKeys in keys.values() for key in serverKeys}
        routes = routesOf(keys, projectPaths(found.stateDir, found, every))
    if out.json:
        document: dict[str, Any] = {
            "ok": True,
            "alreadyRunning": False,
            "pid": pid,
            "port": found.port,
            "url": url,
            "servers": sorted(servers),
            "routes": None
            if routes is None
            else {
                name: [route.toJson(url) for route in serverRoutes]
                for name, serverRoutes in sorted(routes.items())
            },
        }
        if routes is None:
            document["routesError"] = unlisted
        if adopting:
            document["adopting"] = adopting
        document["adoptedFiles"] = adopted
        document["refusedFiles"] = refusedFiles(health)
        document["invalidEntries"] = invalidEntries(health)
        if elsewhere:
            document["adoptedElsewhere"] = elsewhere
        out.emit(document)
        return 0
    projectRoutes = routes is not None and any(r.key for rs in routes.values() for r in rs)
    where = f"{url}/<server>/mcp"
    if projectRoutes:
        where += " (a project's own entry: /<server>~<key>/mcp)"
    out.line(f"mcpgateway started (pid {pid}): {plural(len(servers), 'server')} at {where}")
    if adopting:
        more = f" and {len(adopting) - LINES_SHOWN} more" if len(adopting) > LINES_SHOWN else ""
        out.line(
            f"  still being adopted: {', '.join(adopting[:LINES_SHOWN])}{more}"
            " (`mcpgateway servers list` shows them once served)"
        )
    for other, count in elsewhere.items():
        one = count == 1
        out.line(
            f"  {plural(count, 'entry', 'entries')} of {shown(config)}"
            f" {'points' if one else 'point'} at {other}, another gateway's (of another"
            f" state directory): {'it is' if one else 'they are'} served there, not here"
        )
    for line in startLines(adopted, health):  # adopted files; those refused, entries not served
        out.line(line)
    if routes is None:
        # Never guess /<server>/mcp: a server only projects define has none.
        names = sorted(servers)
        more = f" and {len(names) - LINES_SHOWN} more" if len(names) > LINES_SHOWN else ""
        out.line(f"  servers: {', '.join(names[:LINES_SHOWN]) or 'none'}{more}")
        out.line(f"  (their routes are not listed: {unlisted})")
        return 0
    for line in routeLines(url, routes):
        out.line(line)
    return 0


def _startFailed(
    out: Output,
    stateDir: Path,
    message: str,
    output: bytes,
    logStart: LogPosition | None = None,
    port: int | None = None,
) -> int:
    """Say why the gateway did not start: when it could not listen on
    C{port} because another socket holds it, that alone, in one line
    (L{mcpgateway.cli.portheld.portInUse}); else C{message}, what twistd said (C{output}) and the
    lines this start added to the log."""
    lines = output.decode("utf-8", "replace").splitlines()[-LOG_TAIL:]
    logLines = tail(stateDir / LOG_FILE, since=logStart)
    taken = None if port is None else reportedInUse([*logLines, *lines], port)
    if taken is not None:
        return portInUse(out, taken)
    if out.json:
        out.emit({"ok": False, "error": message, "output": lines, "log": logLines})
        return 1
    out.note(f"mcpgateway: {message}")
    if lines:
        out.note("twistd said:")
        for line in lines:
            out.note(f"  {line}")
    if logLines:
        out.note(f"last lines of {stateDir / LOG_FILE} from this start:")
        for line in logLines:
            out.note(f"  {line}")
    return 1


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    start = commands.add_parser(
        "start",
        parents=common,
        help="start the gateway (detached; returns once it answers)",
        description="Start the gateway with twistd, detached unless --foreground, and wait"
        f" until /health answers (at most {START_TIMEOUT:.0f} s). The gateway"
        " points the stdio servers of the config at itself and puts them back"
        " when it stops.",
    )
    start.add_argument(
        "--foreground",
        action="store_true",
        help="run in this terminal, logging to stdout, until Ctrl-C",
    )
    start.add_argument(
        "--port",
        type=portArgument,
        default=None,
        help=f"TCP port on 127.0.0.1 (default {DEFAULT_PORT})",
    )
    start.add_argument(
        "--config",
        metavar="PATH",
        help="the config to serve (default ~/.claude.json, else the demo)",
    )
    start.add_argument(
        "--clients",
        metavar="LIST",
        default="all",
        help="the MCP clients adopted besides Claude Code: all (every one found),"
        " none, or a comma list of ids (`mcpgateway clients` lists them)",
    )
    start.add_argument(
        "--remote",
        choices=("keep", "adopt"),
        default=None,
        help="the clients' remote (http, sse) entries: keep (left to the clients) or adopt"
        ' (served through the gateway too); default: "remote" in <state-dir>/servers.json,'
        " else keep",
    )
    start.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=None,
        help="the least severe events the gateway logs (to <state-dir>/gateway.log, or"
        " stdout with --foreground): debug, info (the default), warn, error or critical",
    )
    start.add_argument(
        "--sandbox",
        choices=SANDBOX_MODES,
        default=None,
        help="confine the servers' children (docs/guide/sandbox.md): auto (every stdio server but"
        ' those whose entry says "sandbox": false; the default, or $MCPGATEWAY_SANDBOX),'
        " bubblewrap or landlock (the same, with that mechanism only: a child it cannot confine"
        " does not start) or off (only those whose entry asks for it)",
    )
    start.add_argument(
        "--no-rewrite",
        action="store_true",
        help="serve the config without pointing its entries at the gateway",
    )
    addTrustOptions(start)
    start.add_argument(
        "--adopt-grace",
        type=float,
        metavar="SECONDS",
        default=None,
        help="seconds a killed gateway's children wait, with their memory, for the next gateway"
        " on the same state directory to take them (default 60; 0: they stop at once)",
    )
    start.add_argument(
        "--restart-timeout",
        type=float,
        metavar="SECONDS",
        help="seconds `mcpgateway restart` lets a call under way finish before it is answered"
        " with an error and its child moves on (default 30)",
    )
    # A bridge's start (mcpgateway.bridge.main.startCommand): the user's
    # recorded PATH comes first, and the client's is not recorded; no client
    # file is rewritten unless an adoption is still in effect
    # (adoptionInEffect).
    start.add_argument("--auto-started", action="store_true", help=argparse.SUPPRESS)
    addTeamOptions(start)
    start.set_defaults(handler=cmdStart)


def addTrustOptions(start: Parser) -> None:
    """C{start}'s options that L{trustArgv} passes on to the gateway."""
    start.add_argument(
        "--pins",
        choices=("warn", "enforce", "off"),
        default=None,
        help="what a server's changed or new tools get (docs/guide/trust.md): warn (served and"
        " flagged; the default on loopback), enforce (withheld until `mcpgateway tools"
        " approve`) or off",
    )
    start.add_argument(
        "--quarantine-new",
        action="store_true",
        help="hold a newly added server's tools until `mcpgateway tools approve`",
    )
    start.add_argument(
        "--self-service",
        action="store_true",
        help="serve the `gateway` server on /mcp: sessions find and add servers, each change"
        " confirmed by the person (docs/guide/self-service.md)",
    )
    start.add_argument(
        "--owner-accepts-root",
        action="store_true",
        help="let root's connections in too (the gateway serves only your account's:"
        " docs/guide/security.md, who may connect)",
    )

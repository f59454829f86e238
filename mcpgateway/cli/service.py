# -*- test-case-name: tests.cli.test_service -*-
"""C{mcpgateway service install|uninstall}: run the gateway as a user
service, started at login and restarted on failure.

On Linux, a systemd user socket + service unit pair in
C{~/.config/systemd/user/}: systemd holds the listening socket
(C{127.0.0.1:PORT}) and passes it to the gateway
(C{--port systemd:domain=INET:index=0}), so a restart refuses no connection;
the gateway says C{READY=1} once it serves. On macOS, a LaunchAgent in
C{~/Library/LaunchAgents/} that runs the gateway in the foreground.

C{install} writes the files even when they cannot be loaded now (the user
may be preparing them), and says so in a note a line each
(L{installNotes}): the systemd user manager cannot be reached, or a gateway
already runs on the same state directory (the service would fail on its
lock). It still exits 0: the files are written.

The templates are the files of C{deploy/} (a test keeps them equal); the
placeholders are filled in with this installation's paths. Files are written
atomically, and only over files this command wrote (they carry its marker
line); the commands that load them are printed, not run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands, portArgument
from mcpgateway.ops.gatewayprobe import GatewayProbe, claudeConfigPath, resolveStateDir
from mcpgateway.runtime import interpreter
from mcpgateway.runtime.atomicfile import writeFileAtomic
from mcpgateway.runtime.pathrecord import recordPath
from mcpgateway.runtime.paths import DEFAULT_PORT, LOG_FILE

MARKER = "Written by `mcpgateway service install`"
"""The line that says a file is ours to overwrite and remove."""
LABEL = "local.mcpgateway"
"""The LaunchAgent's label."""
SOCKET_UNIT = "mcpgateway.socket"
SERVICE_UNIT = "mcpgateway.service"
PLIST = f"{LABEL}.plist"

SOCKET_TEMPLATE = """# Written by `mcpgateway service install` (`uninstall` removes it).
# systemd keeps this socket open while the gateway restarts: connections wait in
# the backlog instead of being refused.
[Unit]
Description=mcpgateway listening socket (stdio MCP servers over HTTP, loopback only)

[Socket]
ListenStream=127.0.0.1:@PORT@
FileDescriptorName=mcpgateway
Service=mcpgateway.service

[Install]
WantedBy=sockets.target
"""

SERVICE_TEMPLATE = r"""# Written by `mcpgateway service install` (`uninstall` removes it).
[Unit]
Description=mcpgateway: one shared child per stdio MCP server, for every MCP client
Requires=mcpgateway.socket
After=mcpgateway.socket

[Service]
# READY=1 once it listens on the socket systemd passes in, STOPPING=1 when it stops.
Type=notify
NotifyAccess=main
ExecStart=@TWIST@ --log-format=text mcpgateway \
    --port systemd:domain=INET:index=0 \
    --state-dir @STATE_DIR@ --log-file @LOG_FILE@@OPTIONS@
Environment=@PATH@ MCPGATEWAY_PATH_FROM=service
WorkingDirectory=%h
# SIGTERM to the gateway only: it drains, stops its children and puts the client
# configs back; whatever is left after TimeoutStopSec is killed, children included.
KillMode=mixed
TimeoutStopSec=60
Restart=on-failure
RestartSec=2

[Install]
WantedBy=default.target
"""

PLIST_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by `mcpgateway service install` (`uninstall` removes it). -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>local.mcpgateway</string>
  <key>ProgramArguments</key>
  <array>
@ARGUMENTS@
  </array>
  <key>EnvironmentVariables</key>
  <dict>
    <key>PATH</key>
    <string>@PATH@</string>
    <key>MCPGATEWAY_PATH_FROM</key>
    <string>service</string>
  </dict>
  <key>WorkingDirectory</key>
  <string>@HOME@</string>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ExitTimeOut</key>
  <integer>60</integer>
  <key>StandardOutPath</key>
  <string>@STDOUT@</string>
  <key>StandardErrorPath</key>
  <string>@STDOUT@</string>
</dict>
</plist>
"""

SYSTEMD_RUNTIME = Path("/run/systemd/system")
"""There when systemd runs the machine (what C{sd_booted(3)} checks)."""
SYSTEMCTL_TIMEOUT = 5.0
"""Seconds C{systemctl --user} may take to say whether it reaches the manager."""

Systemctl = Callable[[list[str]], "subprocess.CompletedProcess[str]"]
"""Runs a C{systemctl} command line to its end, its output captured."""


def runSystemctl(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """C{argv} run to its end (at most L{SYSTEMCTL_TIMEOUT} seconds), its
    output captured as text. The command is a plain process: no reactor to
    block."""
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=SYSTEMCTL_TIMEOUT,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def systemdUnreachable(
    runtime: Path = SYSTEMD_RUNTIME, systemctl: Systemctl = runSystemctl
) -> str | None:
    """Why the current user's systemd manager cannot be reached (no systemd
    here, or C{systemctl --user} cannot connect to it), or C{None}."""
    if not runtime.is_dir():
        return f"systemd does not run this system (there is no {runtime})"
    argv = ["systemctl", "--user", "show", "--property=Version"]
    try:
        result = systemctl(argv)
    except FileNotFoundError:
        return "there is no systemctl on PATH"
    except subprocess.TimeoutExpired:
        return f"`systemctl --user` did not answer within {SYSTEMCTL_TIMEOUT:g} s"
    except OSError as e:
        return f"cannot run systemctl: {e.strerror or e}"
    if result.returncode == 0:
        return None
    said = next((line.strip() for line in (result.stderr or "").splitlines() if line.strip()), "")
    return f"`systemctl --user` cannot reach it ({said or f'exit status {result.returncode}'})"


def installNotes(
    manager: str, found: GatewayProbe, unreachable: Callable[[], str | None]
) -> list[str]:
    """What stands in the way of loading the files written, a line each:
    the systemd user manager cannot be reached (C{unreachable}), a gateway
    already runs on the state directory of C{found}."""
    notes = []
    if manager == "systemd":
        why = unreachable()
        if why is not None:
            notes.append(
                f"the systemd user manager is not reachable: {why}; the units are written,"
                " but the systemctl commands below fail here"
            )
    if found.running:
        notes.append(
            f"a gateway already runs on {found.stateDir} (pid {found.pid}, port"
            f" {found.port}): the service cannot start while it holds that state"
            " directory; stop it first (`mcpgateway stop`)"
        )
    return notes


TEMPLATES = {SOCKET_UNIT: SOCKET_TEMPLATE, SERVICE_UNIT: SERVICE_TEMPLATE, PLIST: PLIST_TEMPLATE}
"""Each file of C{deploy/} by name, placeholders and all."""


@dataclass(frozen=True)
class Settings:
    """What the rendered files say: where things are, and the gateway's options."""

    twist: tuple[str, ...]
    """The C{twist} command: L{twistCommand}."""
    stateDir: Path
    port: int
    config: Path | None
    rewrite: bool
    path: str
    """C{$PATH} for the gateway (a service manager's is minimal: no npx, no uvx)."""
    home: Path


def twistCommand(
    python: str = sys.executable, manager: str = "systemd", bytecodeFolder: str | None = None
) -> tuple[str, ...]:
    """C{twist} as the service runs it: C{python -m twisted}, this Python's
    absolute path (so a service manager finds it), with the interpreter's
    flags (L{mcpgateway.runtime.interpreter}: C{-OO}, C{-P}, its bytecode in
    C{bytecodeFolder} when given); on Linux (systemd) on the gateway's
    reactor (L{mcpgateway.tuned.reactor}, epoll: macOS has none)."""
    command = interpreter.command("-m", "twisted", python=python, bytecodeFolder=bytecodeFolder)
    return (*command, "--reactor=mcpgateway") if manager == "systemd" else command


def gatewayOptions(settings: Settings) -> list[str]:
    """The options after C{--log-file}: adopting the config or not, which config."""
    options = ["--rewrite-config"] if settings.rewrite else []
    if settings.config is not None:
        options += ["--config", str(settings.config)]
    return options


def systemdQuote(word: str) -> str:
    """One word of an C{ExecStart=}/C{Environment=} line, as systemd reads it:
    double-quoted, with C{\\}, C{"}, C{%} (a specifier) and C{$} (a variable)
    kept literal."""
    escaped = word.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("%", "%%").replace("$", "$$") + '"'


def renderSystemd(settings: Settings) -> dict[str, str]:
    """The socket and service units, filled in."""
    options = "".join(" " + systemdQuote(o) for o in gatewayOptions(settings))
    fields = {
        "@TWIST@": " ".join(systemdQuote(w) for w in settings.twist),
        "@STATE_DIR@": systemdQuote(str(settings.stateDir)),
        "@LOG_FILE@": systemdQuote(str(settings.stateDir / LOG_FILE)),
        "@OPTIONS@": options,
        "@PATH@": systemdQuote(f"PATH={settings.path}"),
        "@PORT@": str(settings.port),
    }
    return {
        SOCKET_UNIT: fill(SOCKET_TEMPLATE, fields),
        SERVICE_UNIT: fill(SERVICE_TEMPLATE, fields),
    }


def renderLaunchd(settings: Settings) -> dict[str, str]:
    """The LaunchAgent, filled in: the gateway in the foreground on
    C{127.0.0.1:PORT} (launchd's socket passing is not Twisted's)."""
    argv = [
        *settings.twist,
        "--log-format=text",
        "mcpgateway",
        "--port",
        str(settings.port),
        "--state-dir",
        str(settings.stateDir),
        "--log-file",
        str(settings.stateDir / LOG_FILE),
        *gatewayOptions(settings),
    ]
    fields = {
        "@ARGUMENTS@": "\n".join(f"    <string>{escape(word)}</string>" for word in argv),
        "@PATH@": escape(settings.path),
        "@HOME@": escape(str(settings.home)),
        "@STDOUT@": escape(str(settings.stateDir / "launchd.log")),
    }
    return {PLIST: fill(PLIST_TEMPLATE, fields)}


def fill(template: str, fields: dict[str, str]) -> str:
    """C{template} with each placeholder replaced, in one pass (a value that
    looks like a placeholder stays as it is)."""
    out, rest = [], template
    while "@" in rest:
        head, _, tail = rest.partition("@")
        name = next((n for n in fields if tail.startswith(n[1:])), None)
        out.append(head)
        if name is None:
            out.append("@")
            rest = tail
        else:
            out.append(fields[name])
            rest = tail[len(name) - 1 :]
    out.append(rest)
    return "".join(out)


def unitDirectory(manager: str, home: Path, environ: dict[str, str]) -> Path:
    """Where the current user's units go: C{$XDG_CONFIG_HOME/systemd/user}
    (C{~/.config/systemd/user}), or C{~/Library/LaunchAgents}."""
    if manager == "launchd":
        return home / "Library" / "LaunchAgents"
    config = environ.get("XDG_CONFIG_HOME")
    base = Path(config) if config and Path(config).is_absolute() else home / ".config"
    return base / "systemd" / "user"


def enableLinks(directory: Path) -> list[Path]:
    """The links C{systemctl --user enable} makes for our units."""
    return [
        directory / "sockets.target.wants" / SOCKET_UNIT,
        directory / "default.target.wants" / SERVICE_UNIT,
    ]


def installCommands(manager: str, directory: Path) -> list[list[str]]:
    if manager == "launchd":
        target = f"gui/{os.getuid()}"
        return [
            ["launchctl", "bootstrap", target, str(directory / PLIST)],
            ["launchctl", "kickstart", "-k", f"{target}/{LABEL}"],
        ]
    return [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", SOCKET_UNIT],
        ["systemctl", "--user", "start", SERVICE_UNIT],
    ]


def uninstallCommands(manager: str) -> list[list[str]]:
    if manager == "launchd":
        return [["launchctl", "bootout", f"gui/{os.getuid()}/{LABEL}"]]
    return [
        ["systemctl", "--user", "stop", SERVICE_UNIT, SOCKET_UNIT],
        ["systemctl", "--user", "daemon-reload"],
    ]


def ours(path: Path) -> bool:
    """Whether the file at C{path} was written by this command."""
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def refuseForeign(paths: list[Path]) -> None:
    for path in paths:
        if (path.exists() or path.is_symlink()) and not ours(path):
            raise CliError(
                f"{path} exists and was not written by `mcpgateway service install`;"
                " move it away first (it is left as it is)"
            )


def cmdService(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    home = Path.home()
    manager: str = args.manager or ("launchd" if sys.platform == "darwin" else "systemd")
    directory = unitDirectory(manager, home, dict(os.environ))
    if args.action == "install":
        return install(args, out, manager, directory, home, ctx)
    return uninstall(out, manager, directory)


def install(
    args: argparse.Namespace,
    out: Output,
    manager: str,
    directory: Path,
    home: Path,
    ctx: CliContext,
) -> int:
    config = Path(args.config).expanduser().absolute() if args.config else None
    if config is not None and not config.is_file():
        raise CliError(f"--config {args.config}: no such file")
    rewrite = not args.no_rewrite and (config is not None or claudeConfigPath(None).is_file())
    stateDir = resolveStateDir(args.state_dir)
    bytecode = ctx.bytecodeFolder(str(stateDir))
    settings = Settings(
        twist=twistCommand(manager=manager, bytecodeFolder=bytecode),
        stateDir=stateDir,
        port=args.port if args.port is not None else DEFAULT_PORT,
        config=config,
        rewrite=rewrite,
        path=os.environ.get("PATH") or os.defpath,
        home=home,
    )
    files = renderLaunchd(settings) if manager == "launchd" else renderSystemd(settings)
    paths = [directory / name for name in files]
    refuseForeign(paths)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path, text in zip(paths, files.values(), strict=True):
            writeFileAtomic(path, text.encode("utf-8"), mode=0o644)
    except OSError as e:
        raise CliError(f"cannot write {e.filename or directory}: {e.strerror}") from None
    # The PATH the unit records is the user's: a start a bridge makes (with a
    # GUI client's PATH) puts it first too (mcpgateway.cli.userpath).
    with contextlib.suppress(OSError):
        settings.stateDir.mkdir(mode=0o700, parents=True, exist_ok=True)
    recordPath(settings.stateDir, settings.path, "service install")
    ctx.warm(bytecode)  # the service's -OO bytecode, before the service manager starts it
    commands = installCommands(manager, directory)
    notes = installNotes(manager, ctx.probe(settings.stateDir), systemdUnreachable)
    if out.json:
        out.emit(
            {
                "ok": True,
                "action": "install",
                "manager": manager,
                "files": [str(p) for p in paths],
                "port": settings.port,
                "rewriteConfig": rewrite,
                "commands": commands,
                "notes": notes,
            }
        )
        return 0
    for path in paths:
        out.line(f"wrote {path}")
    for note in notes:
        out.note(f"mcpgateway: {note}")
    out.line("to start it now and at every login, run:")
    for command in commands:
        out.line("  " + " ".join(command))
    if manager == "systemd":
        out.line(
            "(to keep it running when you are logged out: loginctl enable-linger"
            f" {os.environ.get('USER', '$USER')})"
        )
    return 0


def uninstall(out: Output, manager: str, directory: Path) -> int:
    names = [PLIST] if manager == "launchd" else [SOCKET_UNIT, SERVICE_UNIT]
    paths = [directory / name for name in names]
    refuseForeign(paths)
    links = [] if manager == "launchd" else enableLinks(directory)
    removed: list[str] = []
    try:
        for link in links:  # what `systemctl --user enable` made, if it points at ours
            if link.is_symlink() and Path(os.readlink(link)).name == link.name:
                link.unlink()
                removed.append(str(link))
        for path in paths:
            if path.exists():
                path.unlink()
                removed.append(str(path))
    except OSError as e:
        raise CliError(f"cannot remove {e.filename}: {e.strerror}") from None
    commands = uninstallCommands(manager)
    if out.json:
        out.emit(
            {
                "ok": True,
                "action": "uninstall",
                "manager": manager,
                "removed": removed,
                "commands": commands,
            }
        )
        return 0
    if not removed:
        out.line(f"nothing to remove: no mcpgateway service in {directory}")
    for name in removed:
        out.line(f"removed {name}")
    out.line("to stop a running one, run:")
    for command in commands:
        out.line("  " + " ".join(command))
    return 0


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    service = commands.add_parser(
        "service",
        parents=common,
        help="run the gateway as a user service (systemd, launchd)",
        description="Write (install) or remove (uninstall) the current user's service"
        " files: a systemd socket + service unit pair in ~/.config/systemd/user/, or a"
        " LaunchAgent in ~/Library/LaunchAgents/. Prints the commands that load them"
        " (it runs none). install says, a line each on stderr, when the systemd user"
        " manager cannot be reached or a gateway already runs on the same state"
        " directory; it writes the files all the same and exits 0.",
    )
    service.add_argument("action", choices=("install", "uninstall"))
    service.add_argument(
        "--manager",
        choices=("systemd", "launchd"),
        default=None,
        help="which service manager (default: launchd on macOS, else systemd)",
    )
    service.add_argument(
        "--port",
        type=portArgument,
        default=None,
        help=f"TCP port on 127.0.0.1 (default {DEFAULT_PORT})",
    )
    service.add_argument(
        "--config",
        metavar="PATH",
        help="the config to serve (default ~/.claude.json, else the demo)",
    )
    service.add_argument(
        "--no-rewrite",
        action="store_true",
        help="serve the config without pointing its entries at the gateway",
    )
    service.set_defaults(handler=cmdService)

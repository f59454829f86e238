"""The C{mcpgateway} command: C{start}, C{stop}, C{status}, C{doctor}, C{restore},
C{servers list|add|remove|enable|disable|restart|reset-circuit}, C{logs}.

A short-lived, synchronous program (argparse, urllib, subprocess): it never
runs the reactor. It finds the running gateway through its state directory
(C{state.json} with the pid and port, the C{gateway.lock} flock the gateway
holds while it runs) and talks to it over loopback HTTP (C{/health},
C{/sessions}, the management API C{/api/v1} with C{Authorization: Bearer
$MCPGATEWAY_API_TOKEN} when that is set) with short timeouts, except C{logs},
which follows a server's log stream until Ctrl-C. C{start} launches
C{twistd mcpgateway} (detached unless C{--foreground}) and returns once
C{/health} answers.

Every failure is one line on stderr (or C{{"ok": false, "error": ...}} with
C{--json}), never a traceback; C{MCPGATEWAY_DEBUG=1} shows tracebacks of
unexpected errors. A command line argparse rejects is one line and a pointer
to C{--help} (exit 2). Colours only when stdout is a terminal and C{NO_COLOR}
is unset.

The gateway's files are read with the library's own readers, never with a
copy: the config backup with L{mcpgateway.clientconfigs.claude.inspectBackup} (what
C{restore} accepts), the npx cache with L{mcpgateway.config.resolve.readCacheFile},
C{classification.json} with L{mcpgateway.config.classification.loadOverrides}, the
client config with L{mcpgateway.clientconfigs.jsonfile.readJson}.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import http.client
import importlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple, NoReturn, TextIO
from urllib.parse import urlsplit

from mcpgateway import __version__
from mcpgateway.clientconfigs.claude import USER_BACKUP, backupPathFor, inspectBackup
from mcpgateway.clientconfigs.jsonfile import readJson
from mcpgateway.config.classification import OVERRIDES_FILE, loadOverrides
from mcpgateway.config.resolve import CACHE_FILE, readCacheFile
from mcpgateway.config.servers import ConfigError
from mcpgateway.ops.statedir import LOCK_FILE, STATE_FILE, pidAlive
from mcpgateway.paths import DEFAULT_PORT, defaultStateDir

PID_FILE = "twistd.pid"
LOG_FILE = "gateway.log"
BACKUP_FILE = USER_BACKUP
NPX_CACHE_FILE = CACHE_FILE
CLASSIFICATION_FILE = OVERRIDES_FILE
MODES = ("stateful", "stateless")

START_TIMEOUT = 15.0
"""Seconds C{start} waits for C{/health} to answer."""
STOP_TIMEOUT = 15.0
"""Seconds C{stop} waits for the gateway to exit after SIGTERM."""
HTTP_TIMEOUT = 2.0
"""Seconds any one HTTP request to the gateway may take."""
CHANGE_TIMEOUT = 20.0
"""Seconds a change through the management API may take (stopping a child
may take 5 s, a reload reads the config)."""
LOG_STREAM_TIMEOUT = 60.0
"""Seconds of silence after which a log stream is given up (the gateway
sends a keep-alive every 15 s)."""
API_PREFIX = "/api/v1"
API_TOKEN_ENV = "MCPGATEWAY_API_TOKEN"
LOG_TAIL = 20
MAX_BODY = 16 * 1024 * 1024

STATEFUL_MARK = "◆"
STATELESS_MARK = "○"
LEGEND = f"{STATEFUL_MARK} = stateful (per-session children) | {STATELESS_MARK} = stateless" \
         " (shared child)"
SYMBOLS = {"pass": "✓", "info": "○", "fail": "✗"}
COLOURS = {"pass": "32", "info": "33", "fail": "31"}


class CliError(Exception):
    """A failure the user can act on: one line, and the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# --- output -----------------------------------------------------------------


class Output:
    """Where and how to print: plain or coloured text, or one JSON document."""

    def __init__(self, asJson: bool, stdout: TextIO | None = None,
                 stderr: TextIO | None = None) -> None:
        self.json = asJson
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.colour = useColour(self.stdout)

    def line(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def note(self, text: str) -> None:
        """A message for people: stderr, so stdout stays clean for scripts."""
        self.stderr.write(text + "\n")

    def paint(self, text: str, status: str) -> str:
        """C{text} in the colour of C{status} (C{pass}, C{info}, C{fail})."""
        if not self.colour or status not in COLOURS:
            return text
        return f"\x1b[{COLOURS[status]}m{text}\x1b[0m"

    def emit(self, document: dict[str, Any]) -> None:
        self.line(json.dumps(document, indent=2, sort_keys=False))


def useColour(stream: TextIO) -> bool:
    """Colours only on a terminal, and never when C{NO_COLOR} is set."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


# --- the state directory and the gateway process ----------------------------


def lockHeld(stateDir: Path) -> bool:
    """Whether some process holds the gateway's flock on C{gateway.lock}.

    Probes with a shared, non-blocking flock that is released at once; the
    file is never created."""
    import fcntl

    try:
        fd = os.open(stateDir / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        return e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def isGatewayProcess(pid: int) -> bool:
    """Whether C{pid}'s command line names mcpgateway (Linux C{/proc})."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"mcpgateway" in f.read()
    except OSError:
        return False


def _intOrNone(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


@dataclass
class GatewayProbe:
    """What the state directory says about the gateway."""

    stateDir: Path
    state: dict[str, Any] | None = None
    stateError: str | None = None
    alive: bool = False
    locked: bool = False
    isGateway: bool = False

    @property
    def pid(self) -> int | None:
        return _intOrNone((self.state or {}).get("pid"))

    @property
    def port(self) -> int | None:
        return _intOrNone((self.state or {}).get("port"))

    @property
    def running(self) -> bool:
        """state.json names a live process that holds the lock (or, when
        the lock is not held, is at least an mcpgateway process)."""
        return self.pid is not None and self.alive and (self.locked or self.isGateway)

    @property
    def stale(self) -> bool:
        """state.json is there, but its gateway is gone."""
        return (self.state is not None or self.stateError is not None) and not self.running

    def baseUrl(self) -> str:
        return gatewayUrl(self.port or DEFAULT_PORT, (self.state or {}).get("interface"))


def probe(stateDir: Path) -> GatewayProbe:
    """Read C{state.json} and check its pid and the lock."""
    result = GatewayProbe(stateDir)
    path = stateDir / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = None
    except (OSError, ValueError) as e:
        result.stateError = f"{path}: {e}"
        data = None
    if data is not None and not isinstance(data, dict):
        result.stateError = f"{path}: not a JSON object"
        data = None
    result.state = data
    pid = result.pid
    if pid is not None:
        result.alive = pidAlive(pid)
        result.locked = lockHeld(stateDir)
        result.isGateway = result.alive and isGatewayProcess(pid)
    return result


def gatewayUrl(port: int, interface: Any = None) -> str:
    """C{http://host:port} of a gateway bound to C{interface}."""
    host = interface if isinstance(interface, str) and interface else "127.0.0.1"
    if host == "0.0.0.0":
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def removeStateFile(stateDir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (stateDir / STATE_FILE).unlink()


def removeStalePidFile(stateDir: Path) -> None:
    """Remove C{twistd.pid} unless a live mcpgateway has it (twistd would
    refuse to start over a zombie's pid, as left where nothing reaps)."""
    path = stateDir / PID_FILE
    pid = _pidFromFile(path)
    if pid is not None and pidAlive(pid) and isGatewayProcess(pid):
        return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _pidFromFile(path: Path) -> int | None:
    try:
        return _intOrNone(int(path.read_text().strip()))
    except (OSError, ValueError):
        return None


def resolveStateDir(value: str | None) -> Path:
    return Path(value or defaultStateDir()).expanduser().absolute()


def claudeConfigPath(state: dict[str, Any] | None) -> Path:
    """The config the gateway serves (from state.json), else C{~/.claude.json}."""
    configured = (state or {}).get("config")
    if isinstance(configured, str) and configured:
        return Path(configured).expanduser()
    return Path.home() / ".claude.json"


class LogPosition(NamedTuple):
    """Where a log file ended: its inode and size."""

    inode: int
    size: int


def logPosition(path: Path) -> LogPosition | None:
    """Where C{path} ends now (C{None}: there is no such file)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return LogPosition(st.st_ino, st.st_size)


def tail(path: Path, lines: int = LOG_TAIL, since: LogPosition | None = None) -> list[str]:
    """The last C{lines} lines of C{path} (nothing if it cannot be read);
    with C{since}, only of what was written after that position (the whole
    file if it was replaced since: rotated, or new)."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            start = 0
            if since is not None and since.inode == st.st_ino and since.size <= st.st_size:
                start = since.size
            f.seek(max(start, st.st_size - 64 * 1024))
            data = f.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-lines:]


# --- HTTP ---------------------------------------------------------------------

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""Loopback only: never through an C{http_proxy} from the environment."""


def fetchJson(url: str, timeout: float = HTTP_TIMEOUT) -> Any:
    """GET C{url} and decode its JSON body, or raise L{CliError} in one line."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with _opener.open(request, timeout=timeout) as response:
            body = response.read(MAX_BODY)
    except urllib.error.HTTPError as e:
        raise CliError(f"{url} answered HTTP {e.code}") from None
    except urllib.error.URLError as e:
        raise CliError(f"no answer from {url}: {_reason(e.reason)}") from None
    except (OSError, http.client.HTTPException) as e:
        raise CliError(f"no answer from {url}: {_reason(e)}") from None
    try:
        return json.loads(body)
    except ValueError:
        raise CliError(f"{url} did not answer JSON") from None


def _reason(error: Any) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return str(error.strerror).lower()
    return str(error) or type(error).__name__


def fetchHealth(probeResult: GatewayProbe, timeout: float = HTTP_TIMEOUT) -> dict[str, Any]:
    health = fetchJson(probeResult.baseUrl() + "/health", timeout)
    if not isinstance(health, dict):
        raise CliError(f"{probeResult.baseUrl()}/health did not answer a JSON object")
    return health


def fetchSessions(probeResult: GatewayProbe, timeout: float = HTTP_TIMEOUT
                  ) -> list[dict[str, Any]]:
    """C{GET /sessions}: a list, or C{{"sessions": [...]}}."""
    sessions = fetchJson(probeResult.baseUrl() + "/sessions", timeout)
    if isinstance(sessions, dict):
        sessions = sessions.get("sessions")
    if not isinstance(sessions, list):
        raise CliError(f"{probeResult.baseUrl()}/sessions did not answer a list")
    return [s for s in sessions if isinstance(s, dict)]


# --- formatting ---------------------------------------------------------------


def formatBytes(size: float) -> str:
    megabytes = size / (1024 * 1024)
    if megabytes >= 10:
        return f"{megabytes:.0f} MB"
    return f"{megabytes:.1f} MB"


def formatDuration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


def modeMark(mode: Any) -> str:
    return STATEFUL_MARK if mode == "stateful" else STATELESS_MARK


def serverSummary(name: str, server: dict[str, Any]) -> str:
    """One server as C{doctor} shows it: C{○ name (stateless, 1 child, 3 reqs)}."""
    mode = server.get("mode", "?")
    children = _count(server.get("children"))
    parts = [str(mode)]
    if server.get("error"):
        parts.append(f"unavailable: {server['error']}")
    elif children:
        parts.append(plural(children, "child", "children"))
    else:
        parts.append("idle")
    parts.append(f"{_count(server.get('requests'))} reqs")
    return f"{modeMark(mode)} {name} ({', '.join(parts)})"


def healthServers(health: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The C{servers} of a C{/health} answer (malformed parts left out)."""
    servers = health.get("servers")
    if not isinstance(servers, dict):
        return {}
    return {str(name): server for name, server in servers.items() if isinstance(server, dict)}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# --- start --------------------------------------------------------------------


def gatewayArgv(stateDir: Path, port: int, config: Path | None, foreground: bool,
                rewrite: bool) -> list[str]:
    """The C{twistd mcpgateway} command line C{start} runs."""
    argv = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
            "--pidfile", str(stateDir / PID_FILE),
            # Detached, twistd's own log goes nowhere: the gateway writes
            # gateway.log itself. In the foreground, show it on stdout.
            "--logfile", "-" if foreground else "/dev/null"]
    if foreground:
        argv.append("-n")
    argv += ["mcpgateway", "--port", str(port), "--state-dir", str(stateDir),
             "--log-file", str(stateDir / LOG_FILE)]
    if rewrite:
        argv.append("--rewrite-config")
    if config is not None:
        argv += ["--config", str(config)]
    return argv


def cmdStart(args: argparse.Namespace, out: Output) -> int:
    stateDir = resolveStateDir(args.state_dir)
    port: int = args.port if args.port is not None else DEFAULT_PORT
    found = probe(stateDir)
    if found.running:
        same = args.port is None or found.port == port
        running = f"already running (pid {found.pid}, port {found.port})"
        if not same:
            raise CliError(f"{running}; `mcpgateway stop` it first to run it on port {port}")
        if out.json:
            out.emit({"ok": True, "alreadyRunning": True, "pid": found.pid, "port": found.port})
        else:
            out.line(f"mcpgateway is {running}")
        return 0
    config: Path | None = None
    if args.config is not None:
        config = Path(args.config).expanduser().absolute()
        if not config.is_file():
            raise CliError(f"--config {args.config}: no such file")
    rewrite = not args.no_rewrite
    if rewrite and config is None and not claudeConfigPath(None).is_file():
        # Nothing to adopt: the gateway serves its bundled demo.
        out.note(f"mcpgateway: no {claudeConfigPath(None)}: serving the bundled demo server")
        rewrite = False
    if rewrite:  # before anything is changed
        refuseUnwritable(config or claudeConfigPath(None), stateDir, config is not None, port)
    try:
        stateDir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise CliError(f"cannot create the state directory {stateDir}: {e.strerror}") from None
    if found.stale:
        removeStateFile(stateDir)
    removeStalePidFile(stateDir)
    argv = gatewayArgv(stateDir, port, config, args.foreground, rewrite)
    warmPluginCache()
    if args.foreground:
        return runForeground(argv, out)
    return startDetached(argv, stateDir, port, out)


def refuseUnwritable(config: Path, stateDir: Path, named: bool, port: int) -> None:
    """Refuse, saying what to do instead, a config the gateway would refuse
    to adopt: the library's rule (L{ClaudeConfig}), files inside the home
    directory or the state directory only, symlinks resolved."""
    try:
        _claudeConfigClass()(config, stateDir)
    except ValueError as e:
        option = f" --config {config}" if named else ""
        raise CliError(f"{e}; to serve it without rewriting it, add --no-rewrite (`mcpgateway"
                       f" start --no-rewrite{option}`: its entries stay as they are, point"
                       f" clients at {gatewayUrl(port)}/<server>/mcp yourself)") from None


def warmPluginCache() -> None:
    """Have Twisted's plugin cache (dropin.cache) up to date before the
    gateway starts. A stale cache makes twistd import every plugin of every
    installed package, pyOpenSSL among them, into the gateway for its whole
    life (about 13 MB more); building it in a throw-away process avoids that.
    Best effort: a read-only install just keeps its cache as it is."""
    code = "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60, check=False)


def _launch(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start the gateway's twistd (a seam for the tests)."""
    home = Path.home()  # a stable working directory for the gateway and its children
    try:
        return subprocess.Popen(argv, cwd=str(home) if home.is_dir() else "/", **kwargs)
    except OSError as e:
        raise CliError(f"cannot run {argv[0]}: {e.strerror}") from None


def runForeground(argv: list[str], out: Output) -> int:
    """Run twistd -n in this terminal until it exits; SIGTERM and SIGHUP are
    passed on to it, Ctrl-C reaches it through the terminal."""
    out.note("mcpgateway: running in the foreground (Ctrl-C stops it)")
    process = _launch(argv)

    def forward(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(OSError):
            process.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        while True:
            try:
                code = process.wait()
                break
            except KeyboardInterrupt:
                continue  # the gateway got SIGINT too: wait for its clean stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # twistd re-raises the signal that stopped it once it has shut down cleanly.
    if code in (-signal.SIGINT, -signal.SIGTERM):
        return 0
    return 128 - code if code < 0 else code


def startDetached(argv: list[str], stateDir: Path, port: int, out: Output) -> int:
    """Run twistd (which daemonizes and exits), then wait for C{/health}."""
    deadline = time.monotonic() + START_TIMEOUT
    logStart = logPosition(stateDir / LOG_FILE)  # earlier runs' lines are not this run's
    process = _launch(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                      stderr=subprocess.STDOUT)

    def failed(message: str, output: bytes = b"") -> int:
        return _startFailed(out, stateDir, message, output, logStart)

    try:
        output, _ = process.communicate(timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        return failed(f"twistd did not finish starting within {START_TIMEOUT:.0f} s", output)
    if process.returncode != 0:
        return failed(f"the gateway did not start (twistd exit status {process.returncode})",
                      output)
    url = gatewayUrl(port)
    reason = "no answer yet"
    while True:
        found = probe(stateDir)
        if found.running:
            url = found.baseUrl()
            try:
                health = fetchJson(url + "/health", timeout=1.0)
            except CliError as e:
                reason = e.message
            else:
                if isinstance(health, dict) and health.get("status") == "ok" \
                        and health.get("pid", found.pid) == found.pid:
                    return _started(out, found, url, health)
                reason = f"{url}/health answered {json.dumps(health)[:80]}"
        else:
            daemon = _pidFromFile(stateDir / PID_FILE)
            if daemon is None or not pidAlive(daemon):
                return failed("the gateway exited while starting")
            reason = f"{STATE_FILE} not written yet"
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    return failed(f"the gateway did not answer {url}/health within {START_TIMEOUT:.0f} s"
                  f" ({reason})")


def _started(out: Output, found: GatewayProbe, url: str, health: dict[str, Any]) -> int:
    servers = healthServers(health)
    pid = found.pid or _intOrNone(health.get("pid"))
    if out.json:
        out.emit({"ok": True, "alreadyRunning": False, "pid": pid, "port": found.port,
                  "url": url, "servers": sorted(servers)})
    else:
        out.line(f"mcpgateway started (pid {pid}): {plural(len(servers), 'server')} at"
                 f" {url}/<server>/mcp")
        for name in sorted(servers):
            out.line(f"  {url}/{name}/mcp")
    return 0


def _startFailed(out: Output, stateDir: Path, message: str, output: bytes,
                 logStart: LogPosition | None = None) -> int:
    lines = output.decode("utf-8", "replace").splitlines()[-LOG_TAIL:]
    logLines = tail(stateDir / LOG_FILE, since=logStart)
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


# --- the client config and its backup -------------------------------------------


def _viaGateway(entry: dict[str, Any], port: int) -> bool:
    if entry.get("type") not in ("http", "streamable-http"):
        return False
    url = entry.get("url", entry.get("serverUrl"))
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
        return parts.hostname in ("127.0.0.1", "localhost", "::1") and parts.port == port
    except ValueError:
        return False


def _entries(data: dict[str, Any]) -> Iterator[tuple[str, str | None, Any]]:
    """Every C{mcpServers} entry (user scope, then every project) as
    C{(name, project or None, entry)}."""
    blocks: list[tuple[str | None, Any]] = [(None, data.get("mcpServers"))]
    projects = data.get("projects")
    if isinstance(projects, dict):
        blocks += [(str(path), project.get("mcpServers"))
                   for path, project in projects.items() if isinstance(project, dict)]
    for scope, block in blocks:
        if isinstance(block, dict):
            for name, entry in block.items():
                yield str(name), scope, entry


def entryLabel(name: str, scope: str | None) -> str:
    return name if scope is None else f"{name} (project {scope})"


def classifyEntries(data: dict[str, Any], port: int) -> dict[str, int]:
    """Counts of C{mcpServers} entries (user scope and every project): via
    the gateway on C{port}, stdio, other."""
    counts = {"gateway": 0, "stdio": 0, "other": 0}
    for _, _, entry in _entries(data):
        if isinstance(entry, dict) and _viaGateway(entry, port):
            counts["gateway"] += 1
        elif isinstance(entry, dict) and entry.get("type", "stdio") == "stdio" \
                and "command" in entry:
            counts["stdio"] += 1
        else:
            counts["other"] += 1
    return counts


def gatewayEntries(data: dict[str, Any], port: int) -> list[str]:
    """The entries pointing at the gateway on C{port}, as C{name} or
    C{name (project P)}."""
    return [entryLabel(name, scope) for name, scope, entry in _entries(data)
            if isinstance(entry, dict) and _viaGateway(entry, port)]


@dataclass
class ClientConfig:
    """The client config of a gateway (the one in its C{state.json}, else
    C{~/.claude.json}): its entries pointing at the gateway, and its backup
    as the library's reader (the one C{restore} uses) sees it."""

    path: Path
    url: str
    """The gateway the entries are checked against."""
    backupPath: Path
    exists: bool = False
    error: str | None = None
    """Why the config cannot be read (it exists)."""
    counts: dict[str, int] = field(default_factory=lambda: {"gateway": 0, "stdio": 0,
                                                            "other": 0})
    viaGateway: list[str] = field(default_factory=list)
    backupServers: int | None = None
    """Servers in the backup; C{None}: no usable backup."""
    backupError: str | None = None
    """Why C{restore} would reject the backup."""

    @property
    def noBackup(self) -> str | None:
        """Why no usable backup holds the originals, or C{None} if one does."""
        if self.backupServers is not None:
            return None
        return self.backupError or f"there is no {self.backupPath}"

    def toJson(self) -> dict[str, Any]:
        return {"path": str(self.path), "url": self.url, "exists": self.exists,
                "error": self.error, "counts": self.counts, "viaGateway": self.viaGateway,
                "backup": {"path": str(self.backupPath), "servers": self.backupServers,
                           "error": self.backupError}}


def readClientConfig(stateDir: Path, found: GatewayProbe) -> ClientConfig:
    """Read the client config and its backup with the library's readers."""
    path = claudeConfigPath(found.state)
    port = found.port or DEFAULT_PORT
    report = ClientConfig(path, found.baseUrl(), backupPathFor(stateDir, path))
    if path.exists():
        report.exists = True
        try:
            data, _ = readJson(path)
        except ConfigError as e:
            report.error = str(e)
        else:
            report.counts = classifyEntries(data, port)
            report.viaGateway = gatewayEntries(data, port)
    try:
        report.backupServers = inspectBackup(stateDir, path)
    except (ConfigError, OSError, ValueError) as e:
        report.backupError = str(e)
    return report


def restoreCommand(config: ClientConfig) -> str:
    """C{mcpgateway restore}, with C{--config} unless it is the default file."""
    if config.path == claudeConfigPath(None):
        return "`mcpgateway restore`"
    return f"`mcpgateway restore --config {config.path}`"


LOST_FIX = ("re-add {entries} with `claude mcp add NAME -- COMMAND [ARGS...]`, or copy their"
            " stdio entries from your own copy of {path} over the gateway's")


def clientConfigProblem(config: ClientConfig, found: GatewayProbe) -> tuple[str, str] | None:
    """What is wrong with the config's entries pointing at the gateway, as
    C{(message, fix)}; C{None} when nothing is."""
    count = len(config.viaGateway)
    if not count:
        return None
    entries = plural(count, "entry points", "entries point")
    stopped = "" if found.running else ", where the gateway is not running"
    if (found.state or {}).get("rewriteConfig", True) is False:
        # A gateway that does not adopt: the user pointed them at it.
        if found.running:
            return None
        option = "" if config.path == claudeConfigPath(None) else f" --config {config.path}"
        return (f"{entries} at {config.url}{stopped}",
                f"start it again as before: `mcpgateway start --no-rewrite{option}`")
    lost = config.noBackup
    if lost is None:
        if found.running:
            return None
        return (f"{entries} at {config.url}{stopped}",
                f"run `mcpgateway start` to serve them again, or {restoreCommand(config)} to"
                " put the stdio entries back")
    fix = LOST_FIX.format(entries=", ".join(config.viaGateway), path=config.path)
    if not found.running:
        fix += ("; entries you pointed at the gateway yourself work again once it runs"
                " (`mcpgateway start`)")
    return (f"{entries} at {config.url}{stopped}, and no usable backup holds their"
            f" originals ({lost}): `mcpgateway restore` cannot put them back", fix)


# --- stop and restore ---------------------------------------------------------


def waitGone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pidAlive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _twistdPid(stateDir: Path) -> int | None:
    """The pid in C{twistd.pid} when it is a live mcpgateway (a gateway that
    wrote no state.json)."""
    pid = _pidFromFile(stateDir / PID_FILE)
    return pid if pid is not None and pidAlive(pid) and isGatewayProcess(pid) else None


def cmdStop(args: argparse.Namespace, out: Output) -> int:
    stateDir = resolveStateDir(args.state_dir)
    found = probe(stateDir)
    pid = found.pid if found.running else None
    if pid is None and found.state is None and found.stateError is None:
        pid = _twistdPid(stateDir)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        except OSError as e:
            raise CliError(f"cannot stop pid {pid}: {e.strerror}") from None
        if not waitGone(pid, STOP_TIMEOUT):
            raise CliError(f"the gateway (pid {pid}) is still running {STOP_TIMEOUT:.0f} s"
                           f" after SIGTERM; see {stateDir / LOG_FILE}, or `kill -KILL {pid}`"
                           " then `mcpgateway restore`")
        removeStateFile(stateDir)  # normally gone already: the gateway removes it
        document: dict[str, Any] = {"ok": True, "stopped": True, "pid": pid}
        leftover = None
        if (found.state or {}).get("rewriteConfig"):
            leftover = checkRestored(stateDir, found, document)
        if out.json:
            out.emit(document)
        else:
            out.line(f"mcpgateway stopped (pid {pid})")
            if leftover:
                out.note(f"mcpgateway: {leftover}")
        return 0 if leftover is None else 1
    if found.stale:
        what = (f"pid {found.pid} is gone" if found.pid is not None
                else found.stateError or "no pid in it")
        document = {"ok": True, "stopped": False, "stale": True, "pid": found.pid}
        report = None
        leftover = None
        if (found.state or {}).get("rewriteConfig", True) is not False:
            report = restoreConfig(claudeConfigPath(found.state), stateDir)
            document["restore"] = report
            leftover = checkRestored(stateDir, found, document)
        removeStateFile(stateDir)
        removeStalePidFile(stateDir)
        if out.json:
            out.emit(document)
        else:
            out.line(f"mcpgateway was not running (stale state.json: {what}); removed it")
            if report is not None:
                printRestore(out, report)
            if leftover:
                out.note(f"mcpgateway: {leftover}")
        return 0 if leftover is None else 1
    if out.json:
        out.emit({"ok": True, "stopped": False, "stale": False, "pid": None})
    else:
        out.line("mcpgateway is not running")
    return 0


def checkRestored(stateDir: Path, found: GatewayProbe, document: dict[str, Any]) -> str | None:
    """After the gateway is gone (and its restore ran): what is left in the
    config pointing at it, as an error line; C{None} when nothing is. Adds
    C{config}, C{viaGateway} (and C{ok}, C{error}) to the JSON C{document}."""
    config = readClientConfig(stateDir, found)
    document.update(config=str(config.path), viaGateway=config.viaGateway)
    error = None
    if config.error is not None:
        error = (f"cannot check that {config.path} was restored: {config.error}; fix it, then"
                 f" {restoreCommand(config)}")
    elif config.viaGateway:
        entries = plural(len(config.viaGateway), "entry", "entries")
        error = (f"{config.path} still has {entries} pointing at the stopped gateway"
                 f" {config.url}: {', '.join(config.viaGateway)}; ")
        lost = config.noBackup
        if lost is None:
            error += (f"{restoreCommand(config)} puts the stdio entries back (the log,"
                      f" {stateDir / LOG_FILE}, says why the gateway did not)")
        else:
            error += (f"no usable backup holds their originals ({lost}), so"
                      " `mcpgateway restore` cannot put them back: "
                      + LOST_FIX.format(entries="them", path=config.path))
    if error is not None:
        document.update(ok=False, error=error)
    return error


def _claudeConfigClass() -> Any:
    """C{mcpgateway.clientconfigs.claude.ClaudeConfig} (looked up late: a seam)."""
    try:
        module = importlib.import_module("mcpgateway.clientconfigs.claude")
    except ImportError as e:
        raise CliError(f"cannot restore: {e}") from None
    return module.ClaudeConfig


def restoreConfig(configPath: Path, stateDir: Path) -> dict[str, Any]:
    """Put the backed-up stdio entries back into C{configPath}."""
    try:
        report = _claudeConfigClass()(configPath, stateDir).restore()
    except CliError:
        raise
    except Exception as e:
        raise CliError(f"cannot restore {configPath}: {e}") from None
    return {"config": str(configPath),
            "restored": list(getattr(report, "restored", [])),
            "kept": list(getattr(report, "kept", [])),
            "notes": list(getattr(report, "notes", []))}


def printRestore(out: Output, report: dict[str, Any]) -> None:
    restored, kept = report["restored"], report["kept"]
    if restored:
        out.line(f"restored {plural(len(restored), 'server')} in {report['config']}:"
                 f" {', '.join(restored)}")
    elif not report["notes"]:
        out.line(f"nothing to restore in {report['config']}")
    if kept:
        out.line(f"kept as they are: {', '.join(kept)}")
    for note in report["notes"]:
        out.line(f"  {note}")


def cmdRestore(args: argparse.Namespace, out: Output) -> int:
    stateDir = resolveStateDir(args.state_dir)
    found = probe(stateDir)
    if found.running:
        raise CliError(f"the gateway is running (pid {found.pid}): `mcpgateway stop` stops it"
                       " and restores the config")
    configPath = (Path(args.config).expanduser().absolute() if args.config
                  else claudeConfigPath(found.state))
    report = restoreConfig(configPath, stateDir)
    if found.stale:
        removeStateFile(stateDir)
    if out.json:
        out.emit({"ok": True, **report})
    else:
        printRestore(out, report)
    return 0


# --- status -------------------------------------------------------------------


def cmdStatus(args: argparse.Namespace, out: Output) -> int:
    stateDir = resolveStateDir(args.state_dir)
    found = probe(stateDir)
    config = readClientConfig(stateDir, found)
    problem = clientConfigProblem(config, found)
    document: dict[str, Any] = {"running": found.running, "stale": found.stale,
                                "pid": found.pid, "port": found.port,
                                "stateDir": str(stateDir), "state": found.state,
                                "health": None, "sessions": None,
                                "clientConfig": {**config.toJson(), "problem": None if problem
                                                 is None else {"message": problem[0],
                                                               "fix": problem[1]}}}
    warning = [] if problem is None else [f"  ! {problem[0]}", f"    → {problem[1]}"]
    if not found.running:
        if found.stale:
            message = (f"mcpgateway is not running (stale state.json from pid {found.pid};"
                       " `mcpgateway stop` cleans up and restores the config)")
        else:
            message = "mcpgateway is not running"
        if out.json:
            out.emit({**document, "error": message})
        else:
            for line in [message, *warning]:
                out.line(line)
        return 1
    try:
        health = fetchHealth(found)
        sessions = fetchSessions(found)
    except CliError as e:
        if out.json:
            out.emit({**document, "error": e.message})
        else:
            for line in [f"mcpgateway is running (pid {found.pid}, port {found.port}) but"
                         f" {e.message}", *warning]:
                out.line(line)
        return 1
    document.update(health=health, sessions=sessions)
    if out.json:
        out.emit(document)
    else:
        lines = renderStatus(found, health, sessions)
        if warning:  # under the config line, where it cannot be missed
            at = next((i + 1 for i, line in enumerate(lines)
                       if line.startswith("  config ")), len(lines))
            lines[at:at] = warning
        for line in lines:
            out.line(line)
    return 0


def serverNotes(server: dict[str, Any]) -> list[str]:
    """The lines under a server in C{status}: its warning, refused
    server-to-client requests, an npx/uvx resolution not done."""
    notes = []
    ambiguous = _count(server.get("ambiguousServerRequests"))
    if server.get("warning"):
        notes.append(f"! {server['warning']}")
    elif ambiguous:
        notes.append(f"! {plural(ambiguous, 'server-to-client request')} refused: no way to"
                     " tell which session they belong to; run it per session (\"mode\":"
                     " \"stateful\")")
    resolution = resolutionOf(server)
    if resolution is not None and resolution[0] != "resolved":
        state, detail = resolution
        what = {"failed": "! npx/uvx resolution failed",
                "pending": "… npx/uvx resolution under way"}.get(state, f"! npx/uvx"
                                                                    f" resolution {state}")
        notes.append(f"{what}: {detail}" if detail else what)
    return notes


def renderStatus(found: GatewayProbe, health: dict[str, Any],
                 sessions: list[dict[str, Any]]) -> list[str]:
    """One screen: the gateway, then one line per server, then the sessions."""
    state = found.state or {}
    uptime = health.get("uptime")
    if not isinstance(uptime, (int, float)) and isinstance(state.get("startTime"),
                                                           (int, float)):
        uptime = time.time() - state["startTime"]
    version = health.get("version") or state.get("version") or "?"
    head = f"mcpgateway {version} running: pid {found.pid}, port {found.port}"
    if isinstance(uptime, (int, float)):
        head += f", up {formatDuration(uptime)}"
    servers = healthServers(health)
    children = sum(_count(s.get("children")) for s in servers.values())
    requests = sum(_count(s.get("requests")) for s in servers.values())
    facts = [plural(len(servers), "server"), plural(children, "child", "children"),
             plural(requests, "request"), plural(len(sessions), "session")]
    if isinstance(health.get("rssBytes"), (int, float)):
        facts.append(formatBytes(health["rssBytes"]))
    lines = [head, "  " + ", ".join(facts)]
    config = state.get("config") or "the bundled demo"
    rewritten = " (rewritten to point at the gateway)" if state.get("rewriteConfig") else ""
    lines.append(f"  config {config}{rewritten}")
    lines.append(f"  {found.baseUrl()}/<server>/mcp    state {found.stateDir}")
    lines.append("")
    width = max((len(name) for name in servers), default=0)
    perServer: dict[str, int] = {}
    for session in sessions:
        perServer[str(session.get("server"))] = perServer.get(str(session.get("server")), 0) + 1
    for name in sorted(servers):
        server = servers[name]
        mode = server.get("mode", "?")
        count = _count(server.get("children"))
        cells = [f"{modeMark(mode)} {name.ljust(width)}", f"{mode!s:9}",
                 f"{server.get('state', '?')!s:11}",
                 f"{plural(count, 'child', 'children'):11}",
                 f"{_count(server.get('requests')):>5} reqs",
                 plural(_count(server.get("sessions", perServer.get(name, 0))), "session")]
        extra = []
        if _count(server.get("inFlight")):
            extra.append(f"{server['inFlight']} in flight")
        if _count(server.get("restarts")):
            extra.append(plural(server["restarts"], "restart"))
        if server.get("error"):
            extra.append(str(server["error"]))
        elif server.get("lastExit") and not count:
            extra.append(f"last exit: {server['lastExit']}")
        lines.append("  " + "  ".join(cells) + ("  · " + "; ".join(extra) if extra else ""))
        lines += [f"      {line}" for line in serverNotes(server)]
    if not servers:
        lines.append("  (no servers configured)")
    clients: dict[str, int] = {}
    for session in sessions:
        pid = session.get("clientPid")
        key = f"pid {pid}" if pid else "unknown pid"
        clients[key] = clients.get(key, 0) + 1
    lines.append("")
    if clients:
        lines.append(f"  {plural(len(sessions), 'session')} from"
                     f" {plural(len(clients), 'client')}: "
                     + ", ".join(f"{key} ({count})" for key, count in sorted(clients.items())))
    else:
        lines.append("  no sessions")
    lines.append(f"  {LEGEND}")
    return lines


# --- doctor -------------------------------------------------------------------


class Check(NamedTuple):
    """One doctor check: C{status} is C{pass}, C{info} or C{fail}; C{fix} says
    what to do about a failure; C{details} are extra lines (the servers)."""

    status: str
    message: str
    fix: str | None = None
    details: tuple[str, ...] = ()


@dataclass
class DoctorContext:
    """What the checks look at; the health check leaves C{/health} here."""

    stateDir: Path
    found: GatewayProbe
    health: dict[str, Any] | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    _clientConfig: ClientConfig | None = None

    def clientConfig(self) -> ClientConfig:
        """The client config and its backup, read once for every check."""
        if self._clientConfig is None:
            self._clientConfig = readClientConfig(self.stateDir, self.found)
        return self._clientConfig


def checkGatewayRunning(ctx: DoctorContext) -> Check:
    found = ctx.found
    if found.running:
        extra = "" if found.locked else "; gateway.lock is not held"
        return Check("pass", f"Gateway running (PID {found.pid}, port {found.port}){extra}")
    if found.stateError is not None:
        return Check("fail", f"Gateway state unreadable: {found.stateError}",
                     "run `mcpgateway stop` (clears it and restores the config), then"
                     " `mcpgateway start`")
    if found.state is not None:
        why = "is gone" if not found.alive else "is not the gateway (no lock held)"
        if found.pid is None:
            why = "is missing from state.json"
        return Check("fail", f"Gateway not running (stale state.json: pid {found.pid} {why})",
                     "run `mcpgateway stop` (clears it and restores the config), then"
                     " `mcpgateway start`")
    return Check("fail", f"Gateway not running (no state.json in {ctx.stateDir})",
                 "run `mcpgateway start`")


def checkHealth(ctx: DoctorContext) -> Check:
    found = ctx.found
    if not found.running:
        return Check("info", "Health endpoint not checked (gateway not running)")
    try:
        health = fetchHealth(found)
    except CliError as e:
        return Check("fail", f"Health endpoint: {e.message}",
                     f"see {ctx.stateDir / LOG_FILE}; then `mcpgateway stop` and"
                     " `mcpgateway start`")
    ctx.health = health
    answeredPid = health.get("pid")
    if answeredPid is not None and answeredPid != found.pid:
        return Check("fail", f"Health endpoint on port {found.port} is pid {answeredPid},"
                             f" not the gateway of state.json (pid {found.pid})",
                     "another program answers on that port: `mcpgateway stop`, then"
                     " `mcpgateway start --port N` with a free port")
    if health.get("status") != "ok":
        return Check("fail", f"Health endpoint says status {health.get('status')!r}",
                     f"see {ctx.stateDir / LOG_FILE}")
    servers = healthServers(health)
    children = sum(_count(s.get("children")) for s in servers.values())
    message = (f"Health endpoint OK — {plural(len(servers), 'server')},"
               f" {plural(children, 'child', 'children')}")
    if isinstance(health.get("rssBytes"), (int, float)):
        message += f", {formatBytes(health['rssBytes'])}"
    details = tuple(serverSummary(name, servers[name]) for name in sorted(servers))
    broken = sorted(name for name, server in servers.items() if server.get("error"))
    if broken:
        return Check("fail", f"{message}; {len(broken)} unavailable ({', '.join(broken)})",
                     f"install the command of {', '.join(broken)} or fix its entry in"
                     f" {claudeConfigPath(found.state)}", details)
    return Check("pass", message, None, details)


def resolutionOf(server: dict[str, Any]) -> tuple[str, str] | None:
    """A server's npx/uvx resolution in C{/health}: C{(state, detail)}; C{None}
    when it has none (not an npx/uvx server, or resolution is off)."""
    resolution = server.get("resolution")
    if not isinstance(resolution, dict) or not isinstance(resolution.get("state"), str):
        return None
    detail = resolution.get("detail")
    return resolution["state"], detail if isinstance(detail, str) else ""


def _notChecked(ctx: DoctorContext, what: str) -> Check:
    why = "gateway not running" if not ctx.found.running else "no answer from /health"
    return Check("info", f"{what} not checked ({why})")


def checkResolution(ctx: DoctorContext) -> Check:
    """npx/uvx servers whose resolution failed (✗) or is under way (○)."""
    if ctx.health is None:
        return _notChecked(ctx, "npx/uvx resolution")
    states: dict[str, list[str]] = {"failed": [], "pending": [], "resolved": []}
    details = []
    servers = healthServers(ctx.health)
    for name in sorted(servers):
        resolution = resolutionOf(servers[name])
        if resolution is None:
            continue
        state, detail = resolution
        states.setdefault(state, []).append(name)
        if state != "resolved":
            details.append(f"{name}: {state}{': ' + detail if detail else ''}")
    failed, pending = states["failed"], states["pending"]
    under = f"; under way for {', '.join(pending)}" if pending else ""
    if failed:
        return Check("fail", f"npx/uvx resolution failed for {', '.join(failed)}{under}",
                     "fix the cause the detail names (network, registry, package name; more"
                     f" in {ctx.stateDir / LOG_FILE}), then `mcpgateway stop` and"
                     " `mcpgateway start` to resolve again", tuple(details))
    if pending:
        return Check("info", f"npx/uvx resolution under way for {', '.join(pending)}: their"
                             " requests wait for it (at most the request timeout)",
                     None, tuple(details))
    if not any(states.values()):
        return Check("info", "No npx/uvx server to resolve")
    count = sum(len(names) for names in states.values())
    return Check("pass", f"npx/uvx resolution: {plural(count, 'server')} resolved")


def checkServerRequests(ctx: DoctorContext) -> Check:
    """Shared servers whose sampling/elicitation/roots requests the gateway
    refused because it could not tell which session they belong to."""
    if ctx.health is None:
        return _notChecked(ctx, "Server-to-client requests")
    servers = healthServers(ctx.health)
    counted = {name: server["ambiguousServerRequests"] for name, server in servers.items()
               if isinstance(server.get("ambiguousServerRequests"), int)
               and not isinstance(server.get("ambiguousServerRequests"), bool)}
    refused = sorted(name for name, count in counted.items() if count > 0)
    if refused:
        details = tuple(f"{name}: {servers[name]['warning']}"
                        if isinstance(servers[name].get("warning"), str) else name
                        for name in refused)
        return Check("fail", "Server-to-client requests refused (no way to tell which session"
                             " they belong to on a shared child): "
                             + ", ".join(f"{name} ({counted[name]})" for name in refused),
                     f"run {', '.join(refused)} per session (\"mode\": \"stateful\" in its"
                     f" entry or {ctx.stateDir / CLASSIFICATION_FILE})", details)
    if not counted:
        return Check("info", "Server-to-client requests not counted by this gateway")
    return Check("pass", "Server-to-client requests: none refused")


def checkBackup(ctx: DoctorContext) -> Check:
    """The backup, read by the one reader C{restore} uses."""
    config = ctx.clientConfig()
    if config.backupError is not None:
        return Check("fail", f"Config backup: {config.backupError}",
                     "`mcpgateway restore` refuses it for the same reason: do as the message"
                     f" says, or put its 'original' entries back into {config.path} by hand"
                     f" (or `claude mcp add`) and move {config.backupPath} away")
    if config.backupServers is None:
        if config.viaGateway:  # the Claude config check says what that means
            return Check("info", f"No config backup ({config.backupPath})")
        return Check("info", "No config backup (no entry is rewritten to the gateway)")
    if config.backupServers == 0:
        return Check("pass", f"Config backup kept, every entry restored ({config.backupPath})")
    return Check("pass", f"Config backup valid ({plural(config.backupServers, 'server')}"
                         " backed up)")


def checkClaudeConfig(ctx: DoctorContext) -> Check:
    config = ctx.clientConfig()
    if not config.exists:
        return Check("info", f"No Claude config at {config.path}")
    if config.error is not None:
        return Check("fail", f"Claude config unreadable: {config.error}",
                     f"fix {config.path} (Claude Code will not read it either)")
    counts = config.counts
    message = (f"Claude config: {counts['gateway']} via gateway, {counts['stdio']} stdio,"
               f" {counts['other']} other")
    problem = clientConfigProblem(config, ctx.found)
    if problem is not None:
        return Check("fail", f"{message}; {problem[0]}", problem[1])
    return Check("pass", message)


def checkNpxCache(ctx: DoctorContext) -> Check:
    """The cache, read by the gateway's own reader (L{readCacheFile})."""
    path = ctx.stateDir / NPX_CACHE_FILE
    fix = f"delete {path}; the gateway resolves the packages again on its next start"
    try:
        entries = readCacheFile(path)
    except FileNotFoundError:
        return Check("info", "No npx cache (no npx/uvx server resolved yet)")
    except OSError as e:
        return Check("fail", f"npx cache unreadable: {path}: {e.strerror or e}", fix)
    except ValueError as e:
        return Check("fail", f"npx cache {path} is not usable: {e}", fix)
    stale = {key: missing for key, command in entries.items()
             if (missing := [w for w in command if os.path.isabs(w) and not os.path.exists(w)])}
    if stale:
        # The gateway resolves a stale entry again by itself: worth knowing only.
        key = sorted(stale)[0]
        return Check("info", f"npx cache: {len(entries)} resolved path(s), {len(stale)} stale"
                             f" (e.g. {key}: {stale[key][0]} is gone; resolved again on"
                             " next use)")
    return Check("pass", f"npx cache: {len(entries)} resolved path(s), all existing")


def checkClassification(ctx: DoctorContext) -> Check:
    """The overrides, read by the gateway's own reader (L{loadOverrides})."""
    path = ctx.stateDir / CLASSIFICATION_FILE
    if not path.exists():
        return Check("info", "No classification overrides (using defaults)")
    overrides = loadOverrides(ctx.stateDir)
    if overrides.warnings:
        problems = [w.removeprefix(f"{path}: ") for w in overrides.warnings]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return Check("fail", f"Classification overrides: {problems[0]}{more}",
                     f"edit {path}: {{\"name\": {{\"mode\": \"stateful\"|\"stateless\","
                     " \"requestTimeout\": ms}}", tuple(problems[1:]))
    modes = [override.mode for override in overrides.servers.values()]
    return Check("pass", f"Classification overrides: {plural(len(modes), 'server')}"
                         f" ({modes.count('stateful')} stateful,"
                         f" {modes.count('stateless')} stateless)")


def checkLogFile(ctx: DoctorContext) -> Check:
    path = ctx.stateDir / LOG_FILE
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return Check("info", "No log file yet")
    except OSError as e:
        return Check("fail", f"Log file {path}: {e.strerror}",
                     f"check the permissions of {ctx.stateDir}")
    return Check("pass", f"Log file: {size / (1024 * 1024):.1f} MB ({path})")


DOCTOR_CHECKS: list[tuple[str, Callable[[DoctorContext], Check]]] = [
    ("gateway", checkGatewayRunning),
    ("health", checkHealth),
    ("resolution", checkResolution),
    ("serverRequests", checkServerRequests),
    ("backup", checkBackup),
    ("claudeConfig", checkClaudeConfig),
    ("npxCache", checkNpxCache),
    ("classification", checkClassification),
    ("logFile", checkLogFile),
]


def runChecks(stateDir: Path) -> Iterator[tuple[str, Check]]:
    ctx = DoctorContext(stateDir, probe(stateDir))
    for name, check in DOCTOR_CHECKS:
        try:
            result = check(ctx)
        except Exception as e:  # a bug in one check must not hide the others
            result = Check("fail", f"{name}: check failed: {type(e).__name__}: {e}",
                           "report this as a bug in mcpgateway doctor")
        yield name, result


def cmdDoctor(args: argparse.Namespace, out: Output) -> int:
    stateDir = resolveStateDir(args.state_dir)
    results = list(runChecks(stateDir))
    ok = all(check.status != "fail" for _, check in results)
    if out.json:
        out.emit({"checks": [{"name": name, "status": check.status, "message": check.message,
                              "fix": check.fix, "details": list(check.details)}
                             for name, check in results], "ok": ok})
        return 0 if ok else 1
    out.line()
    for _, check in results:
        out.line(f"  {out.paint(SYMBOLS[check.status], check.status)} {check.message}")
        for detail in check.details:
            out.line(f"    {detail}")
        if check.status == "fail" and check.fix:
            out.line(f"    → {check.fix}")
    passed = sum(check.status == "pass" for _, check in results)
    issues = sum(check.status == "fail" for _, check in results)
    out.line()
    summary = f"{passed} passed, {issues} issue(s)"
    out.line(out.paint(summary, "fail" if issues else "pass"))
    if any(check.details for _, check in results):
        out.line()
        out.line(LEGEND)
    return 0 if ok else 1


# --- servers and logs: the management API ---------------------------------------


def runningGateway(stateDir: Path) -> GatewayProbe:
    """The running gateway of C{stateDir}, or a L{CliError} saying it is not."""
    found = probe(stateDir)
    if not found.running:
        stale = " (stale state.json)" if found.stale else ""
        raise CliError(f"the gateway is not running{stale}; `mcpgateway start` starts it")
    return found


def apiHeaders(body: bool = False) -> dict[str, str]:
    """Accept JSON; the bearer token from C{$MCPGATEWAY_API_TOKEN} when set."""
    headers = {"Accept": "application/json"}
    if body:
        headers["Content-Type"] = "application/json"
    token = os.environ.get(API_TOKEN_ENV)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def apiCall(found: GatewayProbe, method: str, path: str, body: Any = None,
            timeout: float = HTTP_TIMEOUT) -> Any:
    """C{method /api/v1<path>} with an optional JSON C{body}; the decoded
    answer, or a L{CliError} carrying the API's own message."""
    url = found.baseUrl() + API_PREFIX + path
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method,
                                     headers=apiHeaders(body is not None))
    try:
        with _opener.open(request, timeout=timeout) as response:
            payload = response.read(MAX_BODY)
    except urllib.error.HTTPError as e:
        raise CliError(apiErrorMessage(url, e.code, _readError(e))) from None
    except urllib.error.URLError as e:
        raise CliError(f"no answer from {url}: {_reason(e.reason)}") from None
    except (OSError, http.client.HTTPException) as e:
        raise CliError(f"no answer from {url}: {_reason(e)}") from None
    try:
        return json.loads(payload)
    except ValueError:
        raise CliError(f"{url} did not answer JSON") from None


def _readError(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read(MAX_BODY)
    except (OSError, http.client.HTTPException):
        return b""
    finally:
        error.close()


def apiErrorMessage(url: str, status: int, body: bytes) -> str:
    """One line for a refused API call: the API's C{error}, else the status."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    message = document.get("error") if isinstance(document, dict) else None
    if status == 404 and message == "not found":
        # The gateway's catch-all, not the API's: an older gateway.
        return (f"{url}: this gateway has no management API (/api/v1); restart it"
                " (`mcpgateway stop`, `mcpgateway start`) to run this version")
    if not isinstance(message, str) or not message:
        return f"{url} answered HTTP {status}"
    if status == 401 and not os.environ.get(API_TOKEN_ENV):
        return f"{message}; {API_TOKEN_ENV} is not set"
    return message


def cmdServersList(args: argparse.Namespace, out: Output) -> int:
    found = runningGateway(resolveStateDir(args.state_dir))
    answer = apiCall(found, "GET", "/servers")
    servers = answer.get("servers") if isinstance(answer, dict) else None
    if not isinstance(servers, list):
        raise CliError(f"{found.baseUrl()}{API_PREFIX}/servers did not answer a list")
    servers = [s for s in servers if isinstance(s, dict)]
    if out.json:
        out.emit({"servers": servers})
        return 0
    for line in renderServers(servers):
        out.line(line)
    return 0


SERVER_COLUMNS = [("NAME", "name"), ("STATE", "state"), ("MODE", "mode"),
                  ("CHILDREN", "children"), ("SESSIONS", "sessions"),
                  ("REQUESTS", "requests"), ("RESTARTS", "restarts"), ("FROM", "origin")]


def renderServers(servers: list[dict[str, Any]]) -> list[str]:
    """C{servers list} as a table, one row per server, problems below it."""
    if not servers:
        return ["(no servers: `mcpgateway servers add NAME -- COMMAND` adds one)"]
    rows = [[title for title, _ in SERVER_COLUMNS]]
    for server in servers:
        rows.append([str(server.get(key, "?")) for _, key in SERVER_COLUMNS])
    widths = [max(len(row[i]) for row in rows) for i in range(len(SERVER_COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths,
                                                                 strict=True)).rstrip()
             for row in rows]
    for server in servers:
        for key in ("error", "warning"):
            if server.get(key):
                lines.append(f"  ! {server.get('name')}: {server[key]}")
    return lines


def parseEnv(pairs: Sequence[str] | None) -> dict[str, str]:
    """C{--env KEY=VALUE} (or C{--env KEY}: the value of KEY here) as a dict."""
    env: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not key:
            raise CliError(f"--env {pair!r}: must be KEY=VALUE (or KEY, to pass on its value"
                           " from this shell)")
        if not sep:
            if key not in os.environ:
                raise CliError(f"--env {key}: {key} is not set in this shell; use"
                               f" --env {key}=VALUE")
            value = os.environ[key]
        env[key] = value
    return env


def cmdServersAdd(args: argparse.Namespace, out: Output) -> int:
    command = list(args.argv)
    if command and command[0] == "--":
        command.pop(0)
    if not command:
        raise CliError("no command: `mcpgateway servers add NAME -- COMMAND [ARGS...]`")
    if os.sep in command[0] and not os.path.isabs(command[0]):
        command[0] = os.path.abspath(command[0])  # the gateway runs in another directory
    body: dict[str, Any] = {"name": args.name, "command": command[0], "args": command[1:]}
    env = parseEnv(args.env)
    if env:
        body["env"] = env
    if args.mode is not None:
        body["mode"] = args.mode
    if args.cwd is not None:
        body["cwd"] = os.path.abspath(os.path.expanduser(args.cwd))
    found = runningGateway(resolveStateDir(args.state_dir))
    summary = apiCall(found, "POST", "/servers", body, timeout=CHANGE_TIMEOUT)
    url = f"{found.baseUrl()}/{args.name}/mcp"
    if out.json:
        out.emit({"ok": True, "server": summary, "url": url})
    else:
        mode = summary.get("mode", "?") if isinstance(summary, dict) else "?"
        out.line(f"added {args.name} ({mode}): {url}")
    return 0


def _change(args: argparse.Namespace, out: Output, method: str, path: str, body: Any,
            done: Callable[[Any], str]) -> int:
    found = runningGateway(resolveStateDir(args.state_dir))
    answer = apiCall(found, method, path, body, timeout=CHANGE_TIMEOUT)
    if out.json:
        out.emit({"ok": True, **(answer if isinstance(answer, dict) else {"answer": answer})})
    else:
        out.line(done(answer if isinstance(answer, dict) else {}))
    return 0


def _serverPath(name: str, action: str = "") -> str:
    return f"/servers/{urllib.parse.quote(name, safe='')}{action}"


def cmdServersRemove(args: argparse.Namespace, out: Output) -> int:
    return _change(args, out, "DELETE", _serverPath(args.name), None,
                   lambda _: f"removed {args.name}")


def cmdServersEnable(args: argparse.Namespace, out: Output) -> int:
    return _change(args, out, "PATCH", _serverPath(args.name), {"enabled": True},
                   lambda answer: f"enabled {args.name} (state: {answer.get('state', '?')})")


def cmdServersDisable(args: argparse.Namespace, out: Output) -> int:
    return _change(args, out, "PATCH", _serverPath(args.name), {"enabled": False},
                   lambda _: f"disabled {args.name}: its children are stopped and its"
                             " requests refused until `mcpgateway servers enable`")


def cmdServersRestart(args: argparse.Namespace, out: Output) -> int:
    def done(answer: Any) -> str:
        stopped = [str(pid) for pid in answer.get("stopped") or []]
        if not stopped:
            return f"restarted {args.name} (no child was running)"
        return (f"restarted {args.name}: stopped pid {', '.join(stopped)}; the next request"
                " starts a fresh child")

    return _change(args, out, "POST", _serverPath(args.name, "/restart"), None, done)


def cmdServersResetCircuit(args: argparse.Namespace, out: Output) -> int:
    return _change(args, out, "POST", _serverPath(args.name, "/reset-circuit"), None,
                   lambda answer: f"reset the circuit of {args.name} (state:"
                                  f" {answer.get('state', '?')})")


def formatEvent(event: dict[str, Any]) -> str:
    """One log event as C{HH:MM:SS kind text} (local time)."""
    when = event.get("time")
    stamp = (time.strftime("%H:%M:%S", time.localtime(when))
             if isinstance(when, (int, float)) and not isinstance(when, bool) else "--:--:--")
    return f"{stamp} {event.get('kind', '?')!s:<13} {event.get('text', '')}"


def printEvent(out: Output, event: dict[str, Any]) -> None:
    if out.json:
        out.line(json.dumps(event, separators=(",", ":")))
    else:
        out.line(formatEvent(event))
    with contextlib.suppress(OSError, ValueError):
        out.stdout.flush()


def readEvents(lines: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    """The JSON objects of an SSE stream, one per C{data:} frame."""
    data: list[bytes] = []
    for raw in lines:
        line = raw.rstrip(b"\r\n")
        if line:
            if line.startswith(b"data:"):
                data.append(line[5:].removeprefix(b" "))
            continue
        if data:
            try:
                event = json.loads(b"\n".join(data))
            except ValueError:
                event = None
            data = []
            if isinstance(event, dict):
                yield event


def cmdLogs(args: argparse.Namespace, out: Output) -> int:
    found = runningGateway(resolveStateDir(args.state_dir))
    path = _serverPath(args.name, "/logs")
    if args.no_follow:
        answer = apiCall(found, "GET", path + "?follow=false")
        events = answer.get("events") if isinstance(answer, dict) else None
        if not isinstance(events, list):
            raise CliError(f"{found.baseUrl()}{API_PREFIX}{path} did not answer events")
        if out.json and not events:
            return 0
        for event in events:
            if isinstance(event, dict):
                printEvent(out, event)
        if not events and not out.json:
            out.note(f"mcpgateway: no events for {args.name} yet")
        return 0
    url = found.baseUrl() + API_PREFIX + path
    headers = {**apiHeaders(), "Accept": "text/event-stream"}
    request = urllib.request.Request(url, headers=headers)
    last: dict[str, Any] = {}
    try:
        with _opener.open(request, timeout=LOG_STREAM_TIMEOUT) as response:
            for event in readEvents(iter(response.readline, b"")):
                printEvent(out, event)
                last = event
    except KeyboardInterrupt:
        return 0  # Ctrl-C is how one stops following
    except urllib.error.HTTPError as e:
        raise CliError(apiErrorMessage(url, e.code, _readError(e))) from None
    except urllib.error.URLError as e:
        raise CliError(f"no answer from {url}: {_reason(e.reason)}") from None
    except (OSError, http.client.HTTPException) as e:
        raise CliError(f"the log stream of {args.name} broke off: {_reason(e)}") from None
    if last.get("kind") == "removed":
        return 0
    raise CliError(f"the gateway ended the log stream of {args.name}")


# --- the command line ---------------------------------------------------------


def _port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a port (1-65535)")
    return number


class UsageError(Exception):
    """A command line argparse rejected: the program (C{mcpgateway start})
    and argparse's one-line message."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog
        self.message = message


class Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line and a pointer to
    C{--help} (printed by L{main}), not the usage block. Subcommand parsers
    are of this class too (argparse makes them of their parent's class)."""

    def error(self, message: str) -> NoReturn:
        # An argument may hold a line break (argparse quotes it as it is): keep one line.
        oneLine = message.replace("\r", "\\r").replace("\n", "\\n")
        raise UsageError(self.prog, oneLine)


def _globalOptions(suppress: bool) -> Parser:
    """--state-dir and --json, accepted before or after the command."""
    parser = Parser(add_help=False)
    parser.add_argument("--state-dir", metavar="DIR",
                        default=argparse.SUPPRESS if suppress else None,
                        help="the gateway's state directory (default: $MCPGATEWAY_HOME or"
                             " ~/.mcpgateway)")
    parser.add_argument("--json", action="store_true",
                        default=argparse.SUPPRESS if suppress else False,
                        help="print one JSON document, for scripts")
    return parser


def makeParser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="mcpgateway", parents=[_globalOptions(False)],
        description="Run and inspect the mcpgateway singleton: one shared child per stdio"
                    " MCP server, served at http://127.0.0.1:PORT/<server>/mcp.")
    parser.add_argument("--version", action="version", version=f"mcpgateway {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = [_globalOptions(True)]
    start = commands.add_parser(
        "start", parents=common, help="start the gateway (detached; returns once it answers)",
        description="Start the gateway with twistd, detached unless --foreground, and wait"
                    f" until /health answers (at most {START_TIMEOUT:.0f} s). The gateway"
                    " points the stdio servers of the config at itself and puts them back"
                    " when it stops.")
    start.add_argument("--foreground", action="store_true",
                       help="run in this terminal, logging to stdout, until Ctrl-C")
    start.add_argument("--port", type=_port, default=None,
                       help=f"TCP port on 127.0.0.1 (default {DEFAULT_PORT})")
    start.add_argument("--config", metavar="PATH",
                       help="the config to serve (default ~/.claude.json, else the demo)")
    start.add_argument("--no-rewrite", action="store_true",
                       help="serve the config without pointing its entries at the gateway")
    start.set_defaults(handler=cmdStart)
    commands.add_parser(
        "stop", parents=common, help="stop the gateway (it restores the config)",
        description="Send the gateway SIGTERM and wait until it has exited (at most"
                    f" {STOP_TIMEOUT:.0f} s); it puts the config's stdio entries back"
                    " itself. Then check the config: exit 1, naming the file, if an entry"
                    " still points at the stopped gateway (`mcpgateway restore` puts them"
                    " back). A stale state.json (the gateway died) is cleaned up after"
                    " restoring the config.").set_defaults(handler=cmdStop)
    commands.add_parser(
        "status", parents=common, help="pid, port, uptime, servers, children, requests",
        description="One screen: the gateway's version, pid, port, uptime and memory; each"
                    " server with its mode (◆ stateful, ○ stateless), state, children,"
                    " requests and sessions, and what is wrong with it; the sessions by"
                    " client pid; and config entries pointing at a gateway that is not"
                    " running or that no backup can restore. Exit 1 when the gateway is"
                    " not running or does not answer.").set_defaults(handler=cmdStatus)
    commands.add_parser(
        "doctor", parents=common,
        help="check the gateway, its config and state (exit 0 if all pass)",
        description="Check the gateway (running, /health, npx/uvx resolution, server-to-"
                    "client requests refused on shared children), the config backup, the"
                    " Claude config, the npx cache, classification.json and the log file,"
                    " reading each file as the gateway and `restore` do. Each check is ✓"
                    " (pass), ○ (info) or ✗ (fail, with a fix); exit 0 only when nothing"
                    " fails.").set_defaults(handler=cmdDoctor)
    restore = commands.add_parser(
        "restore", parents=common, help="put the backed-up stdio entries back (gateway stopped)",
        description="Put the stdio entries the gateway adopted back into the config, from"
                    " the backup in the state directory (what `stop` does by itself; for"
                    " after a crash). Entries changed since are kept as they are.")
    restore.add_argument("--config", metavar="PATH",
                         help="the config to restore (default: the one the gateway served,"
                              " else ~/.claude.json)")
    restore.set_defaults(handler=cmdRestore)
    addServerCommands(commands, common)
    return parser


def addServerCommands(commands: Any, common: list[Parser]) -> None:
    """C{servers ...} and C{logs}: the management API of the running gateway."""
    token = (f"Sends Authorization: Bearer ${API_TOKEN_ENV} when that is set (needed when the"
             " gateway runs with --api-token).")
    servers = commands.add_parser(
        "servers", parents=common, help="list, add, remove, enable, disable, restart servers",
        description="Change the servers of the running gateway through its management API"
                    f" ({API_PREFIX}). Changes are live at once and kept in"
                    f" <state-dir>/servers.json, so they survive a restart. {token}")
    actions = servers.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", parents=common,
                       help="every server: state, mode, children, sessions, requests",
                       description="A table of every server of the running gateway: state,"
                                   " mode, children, sessions, requests, restarts and where"
                                   " it comes from (config or api), with its problems"
                                   f" below. {token}").set_defaults(handler=cmdServersList)
    add = actions.add_parser(
        "add", parents=common, help="add a stdio server: servers add NAME -- COMMAND [ARGS...]",
        usage="mcpgateway servers add [--env KEY=VALUE]... [--mode MODE] [--cwd DIR] NAME"
              " -- COMMAND [ARGS...]",
        description="Add a stdio MCP server, served at once at /NAME/mcp. Put the command"
                    " after --, so its own options are not read as ours. The gateway refuses"
                    " a command it cannot find on its PATH, and env keys that change what a"
                    " child runs (LD_PRELOAD, DYLD_*, PYTHONPATH, NODE_OPTIONS, ...).")
    add.add_argument("name", metavar="NAME", help="the server's name (letters, digits, - _ .)")
    add.add_argument("argv", nargs="+", metavar="COMMAND", help="the command and its arguments")
    add.add_argument("--env", action="append", metavar="KEY=VALUE",
                     help="an environment variable for its children (repeatable); --env KEY"
                          " passes on KEY's value from this shell")
    add.add_argument("--mode", choices=MODES,
                     help="stateless (one shared child) or stateful (one child per session);"
                          " default: the gateway's classification")
    add.add_argument("--cwd", metavar="DIR", help="the working directory of its children")
    add.set_defaults(handler=cmdServersAdd)
    for action, handler, text, more in [
            ("remove", cmdServersRemove, "remove a server added with `servers add`",
             "Its children stop and its route goes away. A server of the config file is"
             " removed there instead (or disabled here)."),
            ("enable", cmdServersEnable, "serve a disabled server again",
             "Its next request starts a child."),
            ("disable", cmdServersDisable,
             "stop a server's children and refuse its requests (kept across restarts)",
             "Its requests are refused until `mcpgateway servers enable`."),
            ("restart", cmdServersRestart,
             "stop a server's children; the next request starts a fresh one",
             "Sessions of a shared child stay; a stateful child's session ends."),
            ("reset-circuit", cmdServersResetCircuit,
             "forget a server's failures: the next request starts a child at once",
             "For a server in `error` after repeated failures, once its cause is fixed.")]:
        command = actions.add_parser(action, parents=common, help=text,
                                     description=f"{text[0].upper()}{text[1:]}. {more}"
                                                 f" {token}")
        command.add_argument("name", metavar="NAME")
        command.set_defaults(handler=handler)
    logs = commands.add_parser(
        "logs", parents=common, help="follow a server's stderr and lifecycle events",
        description="Print the recent events of server NAME (its children's stderr lines,"
                    " starts, exits, restarts), then follow new ones until Ctrl-C."
                    f" With --json, one JSON object per line. {token}")
    logs.add_argument("name", metavar="NAME")
    logs.add_argument("--no-follow", action="store_true",
                      help="print the recent events and exit")
    logs.set_defaults(handler=cmdLogs)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line C{argv} (default C{sys.argv[1:]}); the exit code."""
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        args = makeParser().parse_args(words)
    except UsageError as e:
        options = words[:words.index("--")] if "--" in words else words
        return usageError(e, Output("--json" in options), _commandOf(options))
    out = Output(bool(args.json))
    try:
        code: int = args.handler(args, out)
        return code
    except CliError as e:
        if out.json:
            out.emit({"ok": False, "error": e.message})
        else:
            out.note(f"mcpgateway: {e.message}")
        return e.code
    except KeyboardInterrupt:
        out.note("mcpgateway: interrupted")
        return 130
    except Exception as e:
        if os.environ.get("MCPGATEWAY_DEBUG"):
            raise
        message = f"unexpected error: {type(e).__name__}: {e} (MCPGATEWAY_DEBUG=1 shows more)"
        if out.json:
            out.emit({"ok": False, "error": message})
        else:
            out.note(f"mcpgateway: {message}")
        return 1


def _commandOf(words: list[str]) -> str:
    """C{mcpgateway}, C{mcpgateway start}, C{mcpgateway servers add}: the
    command the words name (argparse reports unknown options as the top
    level's, wherever they were)."""
    names = ["mcpgateway"]
    parser: argparse.ArgumentParser = makeParser()
    skip = False
    for word in words:
        if skip or word.startswith("-"):
            skip = word == "--state-dir"
            continue
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)),
                   None)
        if sub is None or word not in sub.choices:
            break
        names.append(word)
        parser = sub.choices[word]
    return " ".join(names)


def usageError(error: UsageError, out: Output, command: str = "mcpgateway") -> int:
    """A rejected command line: one line, and where the options are; exit 2."""
    prog = error.prog if len(error.prog) > len(command) else command
    if out.json:
        out.emit({"ok": False, "error": f"{prog}: {error.message}"})
    else:
        out.note(f"{prog}: {error.message}")
        out.note(f"`{prog} --help` lists the options")
    return 2


if __name__ == "__main__":
    sys.exit(main())

# -*- test-case-name: tests.cli.test_doctor,tests.cli.test_cli_properties -*-
"""The checks of C{mcpgateway doctor}: each looks at one thing (the gateway,
its C{/health}, npx/uvx resolution, promoted servers, pool limits, the
config backup, the Claude config, the
npx cache, C{classification.json}, the state directory's mode, the
workspace key, the C{.env} files, the log file) and says L{Check}: pass, info, or fail with a fix.

Each file is read by the gateway's own reader, never a copy: the backup by
L{mcpgateway.clientconfigs.claude.inspectBackup} (what C{restore} accepts),
the npx cache by L{mcpgateway.config.resolvecache.readCacheFile},
C{classification.json} by L{mcpgateway.config.classification.loadOverrides},
C{workspace.key} by L{mcpgateway.config.workspaces.WorkspaceKeys}, the
C{.env} files by L{mcpgateway.config.envfiles}. Promotions are read from
C{/health} (what the running gateway does), not from C{promotions.json}.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from mcpgateway.cli.clientconfig import ClientConfig, clientConfigProblem, readClientConfig
from mcpgateway.cli.context import CliContext, defaultContext
from mcpgateway.cli.health import count, healthServers, livenessOnly, resolutionOf
from mcpgateway.cli.http import TOKEN_ENV, fetchHealth
from mcpgateway.cli.output import CliError, formatBytes, plural, shareMark
from mcpgateway.cli.portheld import startAdvice
from mcpgateway.cli.servers import SHARES, serverShare
from mcpgateway.clientconfigs.jsonfile import readJson
from mcpgateway.config.classification import loadOverrides
from mcpgateway.config.envfiles import EnvFile, readGatewayEnv, readWorkspaceEnv
from mcpgateway.config.resolvecache import readCacheFile
from mcpgateway.config.servers import ConfigError
from mcpgateway.config.workspaces import WorkspaceKeyError, WorkspaceKeys
from mcpgateway.ops.gatewayprobe import GatewayProbe, claudeConfigPath
from mcpgateway.ops.statedir import openStateDir
from mcpgateway.ops.wardenfiles import wardenWaits
from mcpgateway.runtime.paths import (
    DEFAULT_PORT,
    ENV_FILE,
    LOG_FILE,
    NPX_CACHE_FILE,
    OVERRIDES_FILE,
    WORKSPACE_KEY_FILE,
)


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
    livenessOnly: bool = False
    """C{/health} told only that the gateway lives (a gateway that requires
    tokens, asked without an admin's): the server checks cannot look."""
    notes: dict[str, Any] = field(default_factory=dict)
    _clientConfig: ClientConfig | None = None
    cli: CliContext = field(default_factory=defaultContext)
    """The HTTP client and the timeouts."""

    def clientConfig(self) -> ClientConfig:
        """The client config and its backup, read once for every check."""
        if self._clientConfig is None:
            self._clientConfig = readClientConfig(self.stateDir, self.found)
        return self._clientConfig


def serverSummary(name: str, server: dict[str, Any]) -> str:
    """One server as C{doctor} shows it: C{● name (global, 1 child, 3 reqs)},
    marked and named by its C{share} (an older gateway's C{mode}, read as the
    share it means: L{serverShare})."""
    share = serverShare(server)
    children = count(server.get("children"))
    parts = [share]
    failed = lastFailure(server)
    if server.get("error"):
        parts.append(f"unavailable: {server['error']}")
    elif failed is not None:
        said = "fails at start" if not count(server.get("requests")) else "stopped by a failure"
        parts.append(f"{said}: {failed}")
    elif children:
        parts.append(plural(children, "child", "children"))
    else:
        parts.append("idle")
    parts.append(f"{count(server.get('requests'))} reqs")
    return f"{shareMark(share)} {name} ({', '.join(parts)})"


QUIET_STATES = ("starting", "disabled")
"""Server states in which a past exit says nothing about now."""


def lastFailure(server: dict[str, Any]) -> str | None:
    """How a server's last child ended, when that was a failure and no child
    has run since: no error (those are said as they are), no child now, a
    failure counted (C{failures}) and a C{lastExit} that is not the gateway's
    own stop. A server that exits at every start is that (C{/mcp} calls it
    not available), not idle; its next request tries again."""
    if server.get("error") or count(server.get("children")) or server.get("state") in QUIET_STATES:
        return None
    lastExit = server.get("lastExit")
    if not count(server.get("failures")) or not isinstance(lastExit, str) or not lastExit:
        return None
    if lastExit.startswith("was stopped by the gateway"):
        return None
    return lastExit


def checkGatewayRunning(ctx: DoctorContext) -> Check:
    found = ctx.found
    if found.running:
        extra = "" if found.locked else "; gateway.lock is not held"
        return Check("pass", f"Gateway running (PID {found.pid}, port {found.port}){extra}")
    if found.stateError is not None:
        return Check(
            "fail",
            f"Gateway state unreadable: {found.stateError}",
            "run `mcpgateway stop` (clears it and restores the config), then `mcpgateway start`",
        )
    if found.state is not None:
        why = "is gone" if not found.alive else "is not the gateway (no lock held)"
        if found.pid is None:
            why = "is missing from state.json"
        if wardenWaits(ctx.stateDir):
            return Check(
                "fail",
                f"Gateway not running (stale state.json: pid {found.pid} {why}); its warden keeps"
                " its children for the next start (--adopt-grace)",
                "run `mcpgateway start` now: it takes them with what they hold in memory"
                " (`mcpgateway stop` stops them, and restores the config)",
            )
        return Check(
            "fail",
            f"Gateway not running (stale state.json: pid {found.pid} {why})",
            "run `mcpgateway stop` (clears it and restores the config), then"
            f" {startAdvice(found.port or DEFAULT_PORT)}",
        )
    return Check(
        "fail",
        f"Gateway not running (no state.json in {ctx.stateDir})",
        f"run {startAdvice(found.port or DEFAULT_PORT)}",
    )


def checkHealth(ctx: DoctorContext) -> Check:
    found = ctx.found
    if not found.running:
        return Check("info", "Health endpoint not checked (gateway not running)")
    try:
        health = fetchHealth(ctx.cli.http, found, ctx.cli.timeouts.http)
    except CliError as e:
        return Check(
            "fail",
            f"Health endpoint: {e.message}",
            f"see {ctx.stateDir / LOG_FILE}; then `mcpgateway stop` and `mcpgateway start`",
        )
    ctx.health = health
    answeredPid = health.get("pid")
    if answeredPid is not None and answeredPid != found.pid:
        return Check(
            "fail",
            f"Health endpoint on port {found.port} is pid {answeredPid},"
            f" not the gateway of state.json (pid {found.pid})",
            "another program answers on that port: `mcpgateway stop`, then"
            " `mcpgateway start --port N` with a free port",
        )
    if health.get("status") != "ok":
        return Check(
            "fail",
            f"Health endpoint says status {health.get('status')!r}",
            f"see {ctx.stateDir / LOG_FILE}",
        )
    if livenessOnly(health):
        ctx.health = None  # no server in it: the checks of the servers say so
        ctx.livenessOnly = True
        return Check(
            "pass",
            "Health endpoint OK (liveness only: the servers are not shown without an admin's"
            f" token; set {TOKEN_ENV} to one to check them)",
        )
    servers = healthServers(health)
    children = sum(count(s.get("children")) for s in servers.values())
    facts = f"{plural(len(servers), 'server')}, {plural(children, 'child', 'children')}"
    if isinstance(health.get("rssBytes"), (int, float)):
        facts += f", {formatBytes(health['rssBytes'])}"
    details = tuple(serverSummary(name, servers[name]) for name in sorted(servers))
    broken = sorted(
        name
        for name, server in servers.items()
        if server.get("error") or lastFailure(server) is not None
    )
    if broken:
        return Check(
            "fail",
            f"Health endpoint answers ({facts}), but {len(broken)}"
            f" {'is' if len(broken) == 1 else 'are'} unavailable: {', '.join(broken)}",
            unavailableFix(servers, broken, claudeConfigPath(found.state)),
            details,
        )
    return Check("pass", f"Health endpoint OK — {facts}", None, details)


MISSING_COMMAND = "missing"
CRASH_LOOP = "crash loop"
SANDBOX = "sandbox"
FAILED = "failed"
OTHER = "other"


def unavailableReason(server: dict[str, Any]) -> str:
    """Why C{/health} says a server is unavailable: its command is missing
    (C{"command '…' not found…"}), its sandbox refused it something (its
    exit reason says what, L{mcpgateway.sandbox.failures}), its circuit is
    open (a crash loop: C{"circuit": "open"}), its last child failed and
    none runs (L{lastFailure}), or something else its C{error} says."""
    error = server.get("error")
    if isinstance(error, str) and error.startswith("command '"):
        return MISSING_COMMAND
    failure = lastFailure(server) if not error else None
    if failure is not None and "the sandbox" in failure:
        return SANDBOX
    if server.get("circuit") == "open":
        return CRASH_LOOP
    if failure is not None:
        return FAILED
    return OTHER


def unavailableFix(servers: dict[str, dict[str, Any]], broken: list[str], config: Path) -> str:
    """What to do about each unavailable server, by its reason (one clause
    per reason, its servers named)."""
    byReason: dict[str, list[str]] = {}
    for name in broken:
        byReason.setdefault(unavailableReason(servers[name]), []).append(name)
    fixes = []
    missing = byReason.get(MISSING_COMMAND)
    if missing:
        fixes.append(
            f"install the command of {', '.join(missing)} or fix "
            + entriesIn({name: servers[name] for name in missing}, config)
        )
    confined = byReason.get(SANDBOX)
    if confined:
        fixes.append(
            f"{', '.join(confined)} failed because of {'its' if len(confined) == 1 else 'their'}"
            " sandbox (see the line under each: what it refused and the key that allows it):"
            ' add that key to the "sandbox" of'
            f" {'its entry' if len(confined) == 1 else 'their entries'} (docs/guide/sandbox.md),"
            ' or let it learn what it needs: "sandbox": "learn", then'
            f" `mcpgateway sandbox suggest {confined[0]}`"
        )
    looping = byReason.get(CRASH_LOOP)
    if looping:
        logs = " and ".join(f"`mcpgateway logs {name}`" for name in looping[:3])
        resets = " and ".join(f"`mcpgateway servers reset-circuit {name}`" for name in looping[:3])
        more = f" (and the same for {', '.join(looping[3:])})" if len(looping) > 3 else ""
        fixes.append(
            f"{', '.join(looping)} kept crashing (circuit open): {logs} shows why;"
            f" fix that, then {resets}{more}"
        )
    failed = byReason.get(FAILED)
    if failed:
        logs = " and ".join(f"`mcpgateway logs {name}`" for name in failed[:3])
        more = f" (and the same for {', '.join(failed[3:])})" if len(failed) > 3 else ""
        fixes.append(
            f"{', '.join(failed)} exited (see the line under each): {logs} shows why;"
            f" fix that, and the next request starts it again{more}"
        )
    other = byReason.get(OTHER)
    if other:
        named = " and ".join(f"`mcpgateway logs {name}`" for name in other[:3])
        more = f" (and the same for {', '.join(other[3:])})" if len(other) > 3 else ""
        fixes.append(
            f"{', '.join(other)}: do as the error under each says; {named} shows more{more}"
        )
    return "; ".join(fixes)


def entriesIn(servers: dict[str, dict[str, Any]], config: Path) -> str:
    """Where the entries of C{servers} are written: the file each came from
    (its C{/health} line's C{configFile}), else C{config}; a file named
    once, with the servers in it when there are several files."""
    byFile: dict[str, list[str]] = {}
    for name, server in servers.items():
        where = server.get("configFile")
        byFile.setdefault(where if isinstance(where, str) else str(config), []).append(name)
    if len(byFile) == 1:
        [where] = byFile
        return f"{'its entry' if len(servers) == 1 else 'their entries'} in {where}"
    return "; ".join(f"{', '.join(names)} in {where}" for where, names in byFile.items())


def notChecked(ctx: DoctorContext, what: str) -> Check:
    """A check of the servers that cannot look (no gateway, no C{/health},
    or one that shows liveness only), saying why."""
    why = "gateway not running" if not ctx.found.running else "no answer from /health"
    if ctx.found.running and ctx.livenessOnly:
        why = f"/health shows liveness only: set {TOKEN_ENV} to an admin's token"
    return Check("info", f"{what} not checked ({why})")


def checkResolution(ctx: DoctorContext) -> Check:
    """npx/uvx servers whose resolution failed (✗) or is under way (○)."""
    if ctx.health is None:
        return notChecked(ctx, "npx/uvx resolution")
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
            # A line after the first says what to do (what ~/.npmrc names, say)
            first, *more = detail.splitlines() or [""]
            details.append(f"{name}: {state}{': ' + first if first else ''}")
            details += [f"  {line}" for line in more if line.strip()]
    failed, pending = states["failed"], states["pending"]
    under = f"; under way for {', '.join(pending)}" if pending else ""
    if failed:
        return Check(
            "fail",
            f"npx/uvx resolution failed for {', '.join(failed)}{under}",
            "fix the cause the detail names (network, registry, package name; more"
            f" in {ctx.stateDir / LOG_FILE}), then `mcpgateway stop` and"
            " `mcpgateway start` to resolve again",
            tuple(details),
        )
    if pending:
        return Check(
            "info",
            f"npx/uvx resolution under way for {', '.join(pending)}: their"
            " requests wait for it (at most the request timeout)",
            None,
            tuple(details),
        )
    if not any(states.values()):
        return Check("info", "No npx/uvx server to resolve")
    resolved = sum(len(names) for names in states.values())
    return Check("pass", f"npx/uvx resolution: {plural(resolved, 'server')} resolved")


def checkPromotions(ctx: DoctorContext) -> Check:
    """Servers the gateway made session-scoped (their shared child asked
    something no session could be proven to own), each with its undo."""
    if ctx.health is None:
        return notChecked(ctx, "Promoted servers")
    servers = healthServers(ctx.health)
    promoted = sorted(name for name, s in servers.items() if isinstance(s.get("promoted"), str))
    if not promoted:
        if not any("promoted" in s for s in servers.values()):
            return Check("info", "Promotions not reported by this gateway")
        return Check("pass", "Promoted servers: none")
    overrides = ctx.stateDir / OVERRIDES_FILE
    details = []
    scopes = set()
    for name in promoted:
        server = servers[name]
        share = server.get("share")
        scope = "workspace" if share == "workspace" else "session"
        scopes.add(scope)
        back = share if isinstance(share, str) and share not in _PROMOTED_SHARES else "global"
        details.append(f"{name} (a child per {scope}): {str(server['promoted'])[:300]}")
        details.append(
            f"  undo: mcpgateway servers share {name} (or pin it:"
            f' {{"{name}": {{"share": "{back}"}}}} in {overrides})'
        )
    per = " or ".join(f"per {scope}" for scope in sorted(scopes, reverse=True))
    return Check(
        "info",
        f"Promoted to a child {per}: {', '.join(promoted)} (new sessions get a child of their"
        " scope; the gateway saw their shared child ask its client something while several"
        " sessions used it)",
        None,
        tuple(details),
    )


_PROMOTED_SHARES = frozenset({"session", "workspace"})
"""The shares a promotion gives a server: its undo is back to C{global}."""


def checkPoolCapacity(ctx: DoctorContext) -> Check:
    """Workspace- and credential-scoped servers whose requests waited for a
    child (the pool at C{maxChildren}, nothing idle), or timed out waiting."""
    if ctx.health is None:
        return notChecked(ctx, "Pool limits")
    servers = healthServers(ctx.health)
    reported = {name: s for name, s in servers.items() if "poolWaits" in s}
    if not reported:
        return Check("info", "Pool limits not reported by this gateway")
    timedOut = sorted(name for name, s in reported.items() if count(s.get("poolTimeouts")))
    waited = sorted(name for name, s in reported.items() if count(s.get("poolWaits")))
    details = tuple(
        f"{name}: {plural(count(reported[name].get('poolWaits')), 'request')} waited,"
        f" {count(reported[name].get('poolTimeouts'))} timed out, maxChildren"
        f" {count(reported[name].get('maxChildren'))},"
        f" {plural(count(reported[name].get('evictions')), 'eviction')}"
        for name in waited
    )
    if timedOut:
        name = timedOut[0]
        raised = max(2 * count(reported[name].get("maxChildren")), 2)
        return Check(
            "fail",
            "Requests timed out waiting for a child (every child busy at maxChildren): "
            + ", ".join(timedOut),
            f'raise maxChildren: "maxChildren": {raised} in the entry of {name}, or'
            f' {{"{name}": {{"maxChildren": {raised}}}}} in {ctx.stateDir / OVERRIDES_FILE}',
            details,
        )
    if waited:
        return Check(
            "info",
            f"Requests waited for a child at maxChildren (none timed out): {', '.join(waited)}",
            None,
            details,
        )
    return Check("pass", "Pool limits: no request waited for a child")


def checkStateDir(ctx: DoctorContext) -> Check:
    """The state directory is the user's alone (it holds the workspace key,
    the sessions and the logs)."""
    path = ctx.stateDir
    if not path.is_dir():
        return Check("info", f"No state directory yet ({path}: the gateway makes it, mode 0700)")
    opened = openStateDir(path)
    if opened is not None:
        mode, _ = opened
        return Check(
            "fail",
            f"State directory {path} is mode {mode:04o}: other users can enter it"
            " (it holds the sessions, the logs and the workspace key)",
            f"chmod 700 {path}",
        )
    return Check("pass", f"State directory: {path} (private)")


def checkWorkspaceKey(ctx: DoctorContext) -> Check:
    """The secret that workspace and credential keys are made with."""
    path = ctx.stateDir / WORKSPACE_KEY_FILE
    replace = (
        f"remove {path}: the gateway makes a new one at its next start (every workspace"
        " route then changes: adopted configs are re-pointed, open sessions of workspace"
        " routes end)"
    )
    try:
        st = path.lstat()
    except FileNotFoundError:
        return Check("info", "No workspace key yet (the gateway makes it at its first start)")
    except OSError as e:
        return Check("fail", f"Workspace key {path}: {e.strerror or e}", replace)
    if not stat.S_ISREG(st.st_mode):
        return Check("fail", f"Workspace key {path} is not a regular file", replace)
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        return Check(
            "fail",
            f"Workspace key {path} may be read by others (mode {mode:04o})",
            f"chmod 600 {path} (the gateway also tightens it at its next start)",
        )
    try:
        WorkspaceKeys.forStateDir(ctx.stateDir)
    except (WorkspaceKeyError, OSError) as e:
        return Check("fail", f"Workspace key unusable: {e}", replace)
    return Check("pass", f"Workspace key: {path} (0600)")


def envFilesOf(ctx: DoctorContext) -> list[EnvFile]:
    """The gateway's C{.env} and that of every project of the client config
    with servers (C{mcpServers} in its entry, or a C{.mcp.json})."""
    files = [readGatewayEnv(ctx.stateDir)]
    try:
        data, _ = readJson(claudeConfigPath(ctx.found.state))
    except (ConfigError, OSError):
        return files
    projects = data.get("projects") if isinstance(data, dict) else None
    for project, entry in sorted(projects.items()) if isinstance(projects, dict) else ():
        if not isinstance(project, str) or not os.path.isabs(project):
            continue
        servers = entry.get("mcpServers") if isinstance(entry, dict) else None
        if servers or os.path.isfile(os.path.join(project, ".mcp.json")):
            files.append(readWorkspaceEnv(project))
    return files


def checkEnvFiles(ctx: DoctorContext) -> Check:
    """Every C{.env} a child's environment may come from, read as the
    gateway reads it: what it would warn about (names and line numbers,
    never a value)."""
    files = envFilesOf(ctx)
    present = [f for f in files if f.stamp is not None or f.warning is not None]
    bad = [f for f in files if f.warning is not None]
    if bad:
        return Check(
            "fail",
            f"{plural(len(bad), 'env file')} not fully used: {bad[0].warning}",
            "fix the file as the message says (the gateway reads it again within seconds)",
            tuple(str(f.warning) for f in bad[1:]),
        )
    if not present:
        return Check(
            "info",
            f"No {ENV_FILE} files (neither {ctx.stateDir / ENV_FILE} nor one in a project)",
        )
    return Check(
        "pass",
        f"{plural(len(present), 'env file')}: "
        + ", ".join(f"{f.path} ({plural(len(f.names), 'variable')})" for f in present),
    )


def checkBackup(ctx: DoctorContext) -> Check:
    """The backup, read by the one reader C{restore} uses."""
    config = ctx.clientConfig()
    if config.backupError is not None:
        return Check(
            "fail",
            f"Config backup: {config.backupError}",
            "`mcpgateway restore` refuses it for the same reason: do as the message"
            f" says, or put its 'original' entries back into {config.path} by hand"
            f" (or `claude mcp add`) and move {config.backupPath} away",
        )
    if config.backupServers is None:
        if config.viaGateway:  # the Claude config check says what that means
            return Check("info", f"No config backup ({config.backupPath})")
        return Check("info", "No config backup (no entry is rewritten to the gateway)")
    if config.backupServers == 0:
        return Check("pass", f"Config backup kept, every entry restored ({config.backupPath})")
    return Check(
        "pass", f"Config backup valid ({plural(config.backupServers, 'server')} backed up)"
    )


def checkClientBackups(ctx: DoctorContext) -> Check:
    """Every other client's backup (C{client-backups/}), read by the reader
    C{restore} uses: each must be usable, and while no gateway runs none
    should hold entries (they point at a stopped gateway). Nor should a
    file no longer adopted hold entries a client wrote back from a copy it
    read while a gateway served them (L{staleClientFiles}): C{restore} puts
    their originals back, as the next C{start} does."""
    from mcpgateway.clientconfigs.backups import backupPaths, readBackup

    problems: list[str] = []
    adopted: list[str] = []
    for path in backupPaths(ctx.stateDir):
        try:
            backup = readBackup(path)
        except ConfigError as e:
            problems.append(str(e))
            continue
        if backup is None or not backup.records:
            continue
        label = f"{backup.configPath} ({backup.client}): {', '.join(backup.names())}"
        if not Path(backup.configPath).exists():
            problems.append(f"{backup.configPath} is gone; its backup {path} holds {label}")
            continue
        adopted.append(label)
    if problems:
        return Check(
            "fail",
            f"Client backups: {plural(len(problems), 'problem')}",
            "do as each message says, or put the 'original' entries of the backup back"
            " into the client's file by hand (docs/guide/clients.md) and move the backup away",
            tuple(problems),
        )
    stale = staleClientFiles(ctx)
    if stale:
        return Check(
            "fail",
            f"Client files: {plural(len(stale), 'file')} {'holds' if len(stale) == 1 else 'hold'}"
            " entries a client wrote back"
            " from a copy it read while the gateway served them; they point at a gateway"
            " that is not running"
            + (
                f" (and {plural(len(adopted), 'file')} still point at the gateway)"
                if adopted and not ctx.found.running
                else ""
            ),
            "run `mcpgateway restore` to put their originals back from the kept backups"
            " (the next `mcpgateway start` does it too)",
            (*stale, *(adopted if not ctx.found.running else ())),
        )
    if not adopted:
        return Check("info", "No other client's file adopted (no client backup)")
    if not ctx.found.running:
        return Check(
            "fail",
            f"Client files: {plural(len(adopted), 'file')} still point at the gateway,"
            " which is not running",
            f"run {startAdvice(ctx.found.port or DEFAULT_PORT)} to serve them again, or"
            " `mcpgateway restore` to put their stdio entries back",
            tuple(adopted),
        )
    return Check(
        "pass",
        f"Client backups valid ({plural(len(adopted), 'client file')} adopted)",
        None,
        tuple(adopted),
    )


def staleClientFiles(ctx: DoctorContext) -> list[str]:
    """The client files no longer adopted whose entries point at a gateway
    address where none runs, as C{path (client): names at URL}: a client
    wrote back a copy it had read while they were adopted
    (L{mcpgateway.clientconfigs.restoring.staleFiles}). An entry at the
    running gateway's address is not counted: that gateway adopts it again."""
    from mcpgateway.clientconfigs.restoring import staleFiles

    live = ctx.found.baseUrl() + "/" if ctx.found.running else None
    out = []
    for stale in staleFiles(ctx.stateDir):
        byUrl: dict[str, list[str]] = {}
        for label, url in stale.entries:
            if live is None or not url.startswith(live):
                byUrl.setdefault(_gatewayAddress(url), []).append(label)
        out += [
            f"{stale.path} ({stale.client}): {', '.join(labels)} at {address}"
            for address, labels in byUrl.items()
        ]
    return out


def _gatewayAddress(url: str) -> str:
    """C{scheme://host:port} of an entry's URL (the gateway it points at)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}" if rest else url


def configLabel(path: Path) -> str:
    """What the config a gateway serves is called in doctor's lines: the
    Claude config (C{~/.claude.json}, or a file of that name given with
    C{--config}), else the config file given with C{--config}, by its path."""
    if path == claudeConfigPath(None) or path.name == ".claude.json":
        return "Claude config"
    return f"Config file {path}"


def checkClaudeConfig(ctx: DoctorContext) -> Check:
    config = ctx.clientConfig()
    label = configLabel(config.path)
    claude = label == "Claude config"
    if not config.exists:
        return Check("info", f"No {'Claude config' if claude else 'config file'} at {config.path}")
    if config.error is not None:
        return Check(
            "fail",
            f"{label} unreadable: {config.error}",
            f"fix {config.path} ("
            + ("Claude Code will not read it either" if claude else "the gateway cannot serve it")
            + ")",
        )
    counts = config.counts
    message = (
        f"{label}: {counts['gateway']} via gateway, {counts['stdio']} stdio,"
        f" {counts['other']} other"
    )
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
    stale = {
        key: missing
        for key, command in entries.items()
        if (missing := [w for w in command if os.path.isabs(w) and not os.path.exists(w)])
    }
    if stale:
        # The gateway resolves a stale entry again by itself: worth knowing only.
        key = sorted(stale)[0]
        return Check(
            "info",
            f"npx cache: {len(entries)} resolved path(s), {len(stale)} stale"
            f" (e.g. {key}: {stale[key][0]} is gone; resolved again on"
            " next use)",
        )
    return Check("pass", f"npx cache: {len(entries)} resolved path(s), all existing")


def checkClassification(ctx: DoctorContext) -> Check:
    """The overrides, read by the gateway's own reader (L{loadOverrides})."""
    path = ctx.stateDir / OVERRIDES_FILE
    if not path.exists():
        return Check("info", "No classification overrides (using defaults)")
    overrides = loadOverrides(ctx.stateDir)
    if overrides.warnings:
        problems = [w.removeprefix(f"{path}: ") for w in overrides.warnings]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return Check(
            "fail",
            f"Classification overrides: {problems[0]}{more}",
            f'edit {path}: {{"name": {{"share": "global"|"workspace"|"credential"|"session",'
            ' "requestTimeout": ms, "maxChildren": n}}',
            tuple(problems[1:]),
        )
    return Check(
        "pass",
        f"Classification overrides: {plural(len(overrides.servers), 'server')}"
        f"{classificationCounts([o.share for o in overrides.servers.values()])}",
    )


def classificationCounts(shares: list[str | None]) -> str:
    """The overrides by C{share} (the reader gives the file's older C{mode}
    as the share it means), widest first, and those that set none:
    C{" (1 global, 2 session; 1 sets no share)"}; nothing for no server."""
    counts = [f"{shares.count(share)} {share}" for share in SHARES if share in shares]
    unset = shares.count(None)
    text = ", ".join(counts)
    if unset:
        text += f"{'; ' if text else ''}{unset} {'sets' if unset == 1 else 'set'} no share"
    return f" ({text})" if text else ""


def checkLogFile(ctx: DoctorContext) -> Check:
    path = ctx.stateDir / LOG_FILE
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return Check("info", "No log file yet")
    except OSError as e:
        return Check(
            "fail", f"Log file {path}: {e.strerror}", f"check the permissions of {ctx.stateDir}"
        )
    return Check("pass", f"Log file: {size / (1024 * 1024):.1f} MB ({path})")

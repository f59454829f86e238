# -*- test-case-name: tests.cli.test_doctor,tests.cli.test_cli_properties -*-
"""The checks of C{mcpgateway doctor}: each looks at one thing (the gateway,
its C{/health}, npx/uvx resolution, refused server-to-client requests, the
config backup, the Claude config, the npx cache, C{classification.json},
the log file) and says L{Check}: pass, info, or fail with a fix.

Each file is read by the gateway's own reader, never a copy: the backup by
L{mcpgateway.clientconfigs.claude.inspectBackup} (what C{restore} accepts),
the npx cache by L{mcpgateway.config.resolvecache.readCacheFile},
C{classification.json} by L{mcpgateway.config.classification.loadOverrides}.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from mcpgateway.cli.clientconfig import ClientConfig, clientConfigProblem, readClientConfig
from mcpgateway.cli.context import CliContext, defaultContext
from mcpgateway.cli.health import count, healthServers, resolutionOf
from mcpgateway.cli.http import fetchHealth
from mcpgateway.cli.output import CliError, formatBytes, modeMark, plural
from mcpgateway.cli.probe import GatewayProbe, claudeConfigPath
from mcpgateway.config.classification import loadOverrides
from mcpgateway.config.resolvecache import readCacheFile
from mcpgateway.paths import LOG_FILE, NPX_CACHE_FILE, OVERRIDES_FILE


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
    cli: CliContext = field(default_factory=defaultContext)
    """The HTTP client and the timeouts."""

    def clientConfig(self) -> ClientConfig:
        """The client config and its backup, read once for every check."""
        if self._clientConfig is None:
            self._clientConfig = readClientConfig(self.stateDir, self.found)
        return self._clientConfig


def serverSummary(name: str, server: dict[str, Any]) -> str:
    """One server as C{doctor} shows it: C{○ name (stateless, 1 child, 3 reqs)}."""
    mode = server.get("mode", "?")
    children = count(server.get("children"))
    parts = [str(mode)]
    if server.get("error"):
        parts.append(f"unavailable: {server['error']}")
    elif children:
        parts.append(plural(children, "child", "children"))
    else:
        parts.append("idle")
    parts.append(f"{count(server.get('requests'))} reqs")
    return f"{modeMark(mode)} {name} ({', '.join(parts)})"


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
        return Check(
            "fail",
            f"Gateway not running (stale state.json: pid {found.pid} {why})",
            "run `mcpgateway stop` (clears it and restores the config), then `mcpgateway start`",
        )
    return Check(
        "fail", f"Gateway not running (no state.json in {ctx.stateDir})", "run `mcpgateway start`"
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
    servers = healthServers(health)
    children = sum(count(s.get("children")) for s in servers.values())
    message = (
        f"Health endpoint OK — {plural(len(servers), 'server')},"
        f" {plural(children, 'child', 'children')}"
    )
    if isinstance(health.get("rssBytes"), (int, float)):
        message += f", {formatBytes(health['rssBytes'])}"
    details = tuple(serverSummary(name, servers[name]) for name in sorted(servers))
    broken = sorted(name for name, server in servers.items() if server.get("error"))
    if broken:
        return Check(
            "fail",
            f"{message}; {len(broken)} unavailable ({', '.join(broken)})",
            f"install the command of {', '.join(broken)} or fix its entry in"
            f" {claudeConfigPath(found.state)}",
            details,
        )
    return Check("pass", message, None, details)


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


def checkServerRequests(ctx: DoctorContext) -> Check:
    """Shared servers whose sampling/elicitation/roots requests the gateway
    refused because it could not tell which session they belong to."""
    if ctx.health is None:
        return _notChecked(ctx, "Server-to-client requests")
    servers = healthServers(ctx.health)
    counted = {
        name: server["ambiguousServerRequests"]
        for name, server in servers.items()
        if isinstance(server.get("ambiguousServerRequests"), int)
        and not isinstance(server.get("ambiguousServerRequests"), bool)
    }
    refused = sorted(name for name, n in counted.items() if n > 0)
    if refused:
        details = tuple(
            f"{name}: {servers[name]['warning']}"
            if isinstance(servers[name].get("warning"), str)
            else name
            for name in refused
        )
        return Check(
            "fail",
            "Server-to-client requests refused (no way to tell which session"
            " they belong to on a shared child): "
            + ", ".join(f"{name} ({counted[name]})" for name in refused),
            f'run {", ".join(refused)} per session ("mode": "stateful" in its'
            f" entry or {ctx.stateDir / OVERRIDES_FILE})",
            details,
        )
    if not counted:
        return Check("info", "Server-to-client requests not counted by this gateway")
    return Check("pass", "Server-to-client requests: none refused")


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


def checkClaudeConfig(ctx: DoctorContext) -> Check:
    config = ctx.clientConfig()
    if not config.exists:
        return Check("info", f"No Claude config at {config.path}")
    if config.error is not None:
        return Check(
            "fail",
            f"Claude config unreadable: {config.error}",
            f"fix {config.path} (Claude Code will not read it either)",
        )
    counts = config.counts
    message = (
        f"Claude config: {counts['gateway']} via gateway, {counts['stdio']} stdio,"
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
            f'edit {path}: {{"name": {{"mode": "stateful"|"stateless", "requestTimeout": ms}}}}',
            tuple(problems[1:]),
        )
    modes = [override.mode for override in overrides.servers.values()]
    return Check(
        "pass",
        f"Classification overrides: {plural(len(modes), 'server')}"
        f" ({modes.count('stateful')} stateful,"
        f" {modes.count('stateless')} stateless)",
    )


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

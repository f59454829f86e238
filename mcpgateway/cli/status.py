# -*- test-case-name: tests.cli.test_status -*-
"""C{mcpgateway status}: one screen. The gateway (version, pid, port, uptime,
memory), one line per server with its scope (its C{share}) and what is wrong
with it, a line per aggregate endpoint (C{/mcp}) with sessions, the sessions
by client pid, the client files the gateway did not adopt and the
entries it does not serve (each with its file and why:
L{mcpgateway.cli.configreport}), and config entries pointing at a gateway
that is not running
or that no backup can restore, in the Claude config and in every other
client's file (their backups in C{client-backups/}, and
C{restore-failed.json}). The gateway's tasks, by status, when it keeps
any (L{tasksSummary}). The calls waiting for the user's yes, and a
gateway that runs another version than the one installed
(L{mcpgateway.cli.statusnotes}). Exit 1 when the gateway is not running or
does not answer.

On a team gateway (docs/guide/team.md) C{/health} is open but C{/sessions}, and
the text a child wrote, are for an admin's token: without one, everything
C{/health} tells is shown all the same (exit 0), with a line saying what
is not and which token shows it (L{withoutAdmin}; C{--json}: C{"notShown"}).

The sessions the gateway's line counts are every row of C{/sessions}: those
opened on a server's own endpoint (each server's line counts its own, from
C{/health}) and those opened on an aggregate endpoint, which belong to no
server: their line says how many there are, so the column adds up. The
member sessions an aggregate session opens on servers are in no count.
Beside them, each server's line counts the MCP 2026-07-28 clients that used
it lately (C{/health}'s C{era2026Clients}): they open no session, yet each
would have launched the server itself (L{SESSIONLESS}).

C{/health} names a workspace child by its key only (a keyed hash); the key
is mapped back to the project's path here, on the user's own machine, with
the state directory's C{workspace.key} and the projects of the client
config (L{workspacePaths}). A key no project gives stays a key."""

from __future__ import annotations

import argparse
import os
import time
import urllib.error
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcpgateway.cli.clientconfig import (
    clientConfigProblem,
    readClientConfig,
    restoreFailureNote,
    strandedClientFiles,
)
from mcpgateway.cli.configreport import statusLines
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.health import count, healthServers, livenessOnly, resolutionOf
from mcpgateway.cli.http import TOKEN_ENV, fetchHealth, fetchSessions
from mcpgateway.cli.output import (
    LEGEND,
    SHARE_MARKS,
    CliError,
    Output,
    Parser,
    Subcommands,
    formatBytes,
    formatDuration,
    plural,
    shareMark,
)
from mcpgateway.cli.pathnotes import notFoundNotes
from mcpgateway.cli.routes import projectPaths
from mcpgateway.cli.sandboxrefusals import refusalNotes
from mcpgateway.cli.servers import serverShare
from mcpgateway.cli.statusnotes import noteJson, noteLines
from mcpgateway.cli.tools import pinsSummary, summaryLines
from mcpgateway.ops.gatewayprobe import GatewayProbe, resolveStateDir
from mcpgateway.ops.wardenfiles import wardenWaits
from mcpgateway.runtime.paths import API_TOKEN_ENV, OVERRIDES_FILE

SCOPED = ("workspace", "credential")
"""The shares whose children are bounded by C{maxChildren}."""
PER_USER = "/user"
"""What a server's share word is followed by when each user gets children
of its own (C{"perUser": true} in C{/health}): C{global/user}."""
PER_USER_LEGEND = f"{PER_USER} a child per user"
"""The legend's entry for L{PER_USER}, shown when a line has it."""


def shareLabel(server: Mapping[str, Any]) -> str:
    """A server's share word, and L{PER_USER} when each user gets children of
    its own while the word does not say so (C{global}, C{workspace}: a
    C{credential} server is per user by its share, a C{session} one per
    session)."""
    share = serverShare(dict(server))
    if server.get("perUser") is True and share in ("global", "workspace"):
        return share + PER_USER
    return share


def legend(servers: Mapping[str, Mapping[str, Any]]) -> str:
    """The marks' legend, with L{PER_USER_LEGEND} when a server's line
    shows L{PER_USER}."""
    if not any(shareLabel(server).endswith(PER_USER) for server in servers.values()):
        return LEGEND
    marks, sep, rest = LEGEND.partition(" (")
    return f"{marks} · {PER_USER_LEGEND}{sep}{rest}"


def cmdStatus(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    found = ctx.probe(stateDir)
    config = readClientConfig(stateDir, found)
    problem = clientConfigProblem(config, found)
    document: dict[str, Any] = {
        "running": found.running,
        "stale": found.stale,
        "pid": found.pid,
        "port": found.port,
        "stateDir": str(stateDir),
        "state": found.state,
        "health": None,
        "sessions": None,
        "clientConfig": {
            **config.toJson(),
            "problem": None if problem is None else {"message": problem[0], "fix": problem[1]},
        },
    }
    warning = [] if problem is None else [f"  ! {problem[0]}", f"    → {problem[1]}"]
    # Every other client's file too (as doctor checks them): a backup still
    # holding entries while no gateway runs is a file pointing at a stopped one.
    stranded = [] if found.running else strandedClientFiles(stateDir)
    failure = None if found.running else restoreFailureNote(stateDir)
    document["clientFiles"] = {"stranded": stranded, "restoreFailed": failure}
    warning += _strandedLines(stranded, failure, found.stale)
    if not found.running:
        if found.stale and wardenWaits(stateDir):
            message = (
                f"mcpgateway is not running (stale state.json from pid {found.pid}); its warden"
                " keeps its children for the next start (--adopt-grace): `mcpgateway start`"
                " takes them with what they hold in memory, `mcpgateway stop` stops them and"
                " restores the config"
            )
        elif found.stale:
            message = (
                f"mcpgateway is not running (stale state.json from pid {found.pid};"
                " `mcpgateway stop` cleans up and restores the config)"
            )
        else:
            message = "mcpgateway is not running"
        if out.json:
            out.emit({**document, "error": message})
        else:
            for line in [message, *warning]:
                out.line(line)
        return 1
    refused: int | None = None
    try:
        health = fetchHealth(ctx.http, found, ctx.timeouts.http)
        try:
            sessions: list[dict[str, Any]] | None = fetchSessions(
                ctx.http, found, ctx.timeouts.http
            )
        except CliError as e:
            refused = refusedStatus(e)
            if refused is None:
                raise
            sessions = None  # a team gateway's /sessions is for admins; /health is open
    except CliError as e:
        if out.json:
            out.emit({**document, "error": e.message})
        else:
            for line in [
                f"mcpgateway is running (pid {found.pid}, port {found.port}) but {e.message}",
                *warning,
            ]:
                out.line(line)
        return 1
    paths = workspacePaths(stateDir, found, health)
    notShown = withoutAdmin(health, refused, ctx.http.principalToken is not None)
    document.update(health=health, sessions=sessions, workspaces=paths, notShown=notShown)
    document["pins"] = pins = pinsSummary(stateDir)  # tools changed since approved
    warning += summaryLines(pins)
    warning += statusLines(health)  # client files not adopted, entries not served
    warning += noteLines(health, found.state or {})  # calls held for a yes, a version skew
    document.update(noteJson(health, found.state or {}))
    if notShown is not None:
        warning = [f"  ○ {notShown['message']}", *warning]
    if out.json:
        out.emit(document)
    else:
        lines = renderStatus(found, health, sessions, paths)
        if warning:  # under the config line, where it cannot be missed
            at = next(
                (i + 1 for i, line in enumerate(lines) if line.startswith("  config ")), len(lines)
            )
            lines[at:at] = warning
        for line in lines:
            out.line(line)
    return 0


def refusedStatus(error: CliError) -> int | None:
    """The HTTP status, 401 or 403, of the refusal L{fetchSessions} raised
    C{error} for (the answer is its context); C{None} for any other
    failure."""
    cause = error.__context__
    if isinstance(cause, urllib.error.HTTPError) and cause.code in (401, 403):
        return cause.code
    return None


def withoutAdmin(
    health: Mapping[str, Any], refused: int | None, tokenSent: bool
) -> dict[str, Any] | None:
    """What C{status} cannot show without an admin's token (a team gateway:
    docs/guide/team.md), and how to get it: C{{"parts": [...], "status": 401 or
    403 or None, "message": ...}}, where the parts are C{"sessions"} (C{GET
    /sessions} was refused), C{"servers"} (C{/health} tells only that the
    gateway lives: C{"detail": "liveness"}) and C{"detail"} (C{/health}
    hides the text a child wrote: C{"detail": "hidden"}); C{None} when
    everything is shown."""
    parts = [] if refused is None else ["sessions"]
    if livenessOnly(dict(health)):
        parts.append("servers")
    if health.get("detail") == "hidden":
        parts.append("detail")
    if not parts:
        return None
    what = " and ".join(
        {
            "sessions": "the sessions",
            "servers": "the servers",
            "detail": "what the servers' children wrote",
        }[part]
        for part in parts
    )
    if not tokenSent:
        why = f"neither {TOKEN_ENV} nor {API_TOKEN_ENV} is set"
    elif refused == 401:
        why = "the token sent was refused"
    else:
        why = "the token sent is not an admin's"
    return {
        "parts": parts,
        "status": refused,
        "message": (
            f"{what} not shown: they need an admin's token ({why}); set {TOKEN_ENV} to an"
            f" admin's token (`mcpgateway token new NAME --admin`), or {API_TOKEN_ENV} to the"
            " gateway's --api-token"
        ),
    }


def _strandedLines(stranded: list[str], failure: str | None, stale: bool) -> list[str]:
    """The warning under the config line for the other clients' files left
    pointing at a gateway that is not running, with the way out."""
    if not stranded and failure is None:
        return []
    restore = "`mcpgateway stop` (or `mcpgateway restore`)" if stale else "`mcpgateway restore`"
    if not stranded:
        return [f"  ! {failure}", f"    → {restore} puts its entries back once the file is quiet"]
    files = plural(len(stranded), "client file still points", "client files still point")
    message = f"  ! {files} at the gateway, which is not running: {'; '.join(stranded)}"
    if failure is not None:
        message += f" ({failure})"
    return [
        message,
        f"    → {restore} puts their stdio entries back, or `mcpgateway start` serves them again",
    ]


def workspacePaths(stateDir: Path, found: GatewayProbe, health: dict[str, Any]) -> dict[str, str]:
    """The project path of each workspace key C{/health} shows, as far as
    the client config's projects give them (L{projectPaths})."""
    shown = {
        key
        for server in healthServers(health).values()
        if isinstance(server.get("scopes"), dict)
        for key in server["scopes"]
        if key != "global"
    }
    return projectPaths(stateDir, found, shown)


def serverNotes(
    server: dict[str, Any],
    name: str = "",
    paths: Mapping[str, str] | None = None,
    stateDir: Path | None = None,
) -> list[str]:
    """The lines under a server in C{status}: its promotion, pool waits,
    its workspace children, its warning, refused server-to-client requests,
    an npx/uvx resolution not done, what its sandbox likely refused its
    tool calls (L{refusalNotes})."""
    notes = []
    promoted = server.get("promoted")
    if isinstance(promoted, str):
        share = server.get("share")
        back = (
            share if isinstance(share, str) and share not in ("session", "workspace") else "global"
        )
        where = stateDir / OVERRIDES_FILE if stateDir is not None else OVERRIDES_FILE
        what = (
            "each workspace gets a child of its own"
            if server.get("share") == "workspace"
            else "new sessions get a child of their own"
        )
        notes.append(f"↑ promoted: {what} ({promoted[:200]})")
        notes.append(
            f"  undo: mcpgateway servers share {name} (or pin it:"
            f' {{"{name}": {{"share": "{back}"}}}} in {where})'
        )
    timeouts, waits = count(server.get("poolTimeouts")), count(server.get("poolWaits"))
    if timeouts or waits:
        notes.append(
            f"{'!' if timeouts else '·'} {plural(waits, 'request')} waited for a child"
            f" (maxChildren {count(server.get('maxChildren'))} reached),"
            f" {timeouts} timed out"
        )
    evictions = count(server.get("evictions"))
    if evictions:
        notes.append(
            f"· {plural(evictions, 'idle child', 'idle children')} stopped to make room"
            " (least recently used first)"
        )
    scopes = server.get("scopes")
    if isinstance(scopes, dict) and server.get("share") in SCOPED:
        for key in sorted(k for k in scopes if k != "global"):
            child = scopes[key] if isinstance(scopes[key], dict) else {}
            where = (paths or {}).get(key) or f"~{key}"
            pid, serving = child.get("pid"), count(child.get("children"))
            if serving > 1:
                state = f"{serving} children"
            else:
                state = f"pid {pid}" if count(pid) else "stopped"
            notes.append(f"{where}: {state}, {plural(count(child.get('sessions')), 'session')}")
    ambiguous = count(server.get("ambiguousServerRequests"))
    if isinstance(promoted, str):
        pass  # the refused requests are why it was promoted: said above
    elif server.get("warning"):
        notes.append(f"! {server['warning']}")
    elif ambiguous:
        notes.append(
            f"! {plural(ambiguous, 'server-to-client request')} refused: no way to"
            ' tell which session they belong to; run it per session ("share":'
            ' "session")'
        )
    resolution = resolutionOf(server)
    if resolution is not None and resolution[0] != "resolved":
        state, detail = resolution
        what = {
            "failed": "! npx/uvx resolution failed",
            "pending": "… npx/uvx resolution under way",
        }.get(state, f"! npx/uvx resolution {state}")
        # A line after the first says what to do (what ~/.npmrc names, say)
        first, *more = detail.splitlines() or [""]
        notes.append(f"{what}: {first}" if first else what)
        notes += [f"  {line}" for line in more if line.strip()]
    notes += refusalNotes(server, name)
    return notes


def renderStatus(
    found: GatewayProbe,
    health: dict[str, Any],
    sessions: list[dict[str, Any]] | None,
    paths: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """One screen: the gateway, then one line per server, then the sessions.
    C{paths}: the project path of a workspace key (L{workspacePaths}).
    C{sessions} is C{None} when C{GET /sessions} was refused (it needs an
    admin's token on a team gateway): the count is C{/health}'s, and the
    sessions are not listed by client. C{environ}: this shell's (by
    default this process's), whose C{PATH} a command the gateway did not
    find is looked for on (L{notFoundNotes})."""
    state = found.state or {}
    uptime = health.get("uptime")
    if not isinstance(uptime, (int, float)) and isinstance(state.get("startTime"), (int, float)):
        uptime = time.time() - state["startTime"]
    version = health.get("version") or state.get("version") or "?"
    head = f"mcpgateway {version} running: pid {found.pid}, port {found.port}"
    if isinstance(uptime, (int, float)):
        head += f", up {formatDuration(uptime)}"
    if livenessOnly(health):
        return [
            head,
            "  servers, children, requests and sessions not shown (/health tells only that"
            " the gateway lives)",
            f"  config {configLine(state)}",
            f"  {found.baseUrl()}/<server>/mcp    state {found.stateDir}",
        ]
    servers = healthServers(health)
    children = sum(count(s.get("children")) for s in servers.values())
    requests = sum(count(s.get("requests")) for s in servers.values())
    facts = [
        plural(len(servers), "server"),
        plural(children, "child", "children"),
        plural(requests, "request"),
        plural(len(sessions) if sessions is not None else count(health.get("sessions")), "session"),
    ]
    if isinstance(health.get("rssBytes"), (int, float)):
        facts.append(formatBytes(health["rssBytes"]))
    lines = [head, "  " + ", ".join(facts), *savingsSummary(health), *tasksSummary(health)]
    lines += restartSummary(health, state)
    lines.append(f"  config {configLine(state)}")
    lines.append(f"  {found.baseUrl()}/<server>/mcp    state {found.stateDir}")
    lines.append("")
    shell = os.environ if environ is None else environ
    lines += _serverLines(servers, sessions or [], paths, found.stateDir, state, shell)
    lines.append("")
    lines.append(_sessionLine(sessions, sessionlessClients(servers)))
    lines.append(f"  {legend(servers)}")
    return lines


def restartSummary(health: Mapping[str, Any], state: Mapping[str, Any] | None = None) -> list[str]:
    """What the restart (or the crash) before this process kept
    (C{/health}'s C{restart}): the children it went on with, those started
    anew, each named with why, and how long they took to come; nothing
    when no restart or crash came before it. While the previous process
    still hands its children over (C{/health}'s C{pending}, or
    C{state.json}'s C{handingOver} when C{/health} does not tell), that:
    the servers show no running child until then, and none is lost."""
    line = health.get("restart")
    if isinstance(line, dict) and line.get("pending") is True:
        return [_pendingLine(line.get("from"), line.get("waited"))]
    handing = (state or {}).get("handingOver")
    if not isinstance(line, dict) and isinstance(handing, dict):
        return [_pendingLine(handing.get("from"), None)]
    if not isinstance(line, dict):
        return []
    from mcpgateway.ops.anew import named

    kept, started = count(line.get("kept")), count(line.get("started"))
    seconds = line.get("seconds")
    took = f" (handed over in {seconds:.1f} s)" if isinstance(seconds, (int, float)) else ""
    lines = [
        f"  restart: kept {plural(kept, 'running child', 'running children')} with their"
        f" memory, {started} started anew{took}"
    ]
    for one in named(line.get("anew")):
        whose = f", session {one.session}" if one.session else ""
        lines.append(f"    started anew: {one.server} (pid {one.pid}{whose}): {one.why}")
    return lines


def _pendingLine(pid: object, waited: object) -> str:
    """The C{restart} line while the previous process (C{pid}) still hands
    its running children over, for C{waited} seconds so far."""
    since = f" for {waited:.1f} s" if isinstance(waited, int | float) else ""
    if not isinstance(pid, int) or isinstance(pid, bool):  # a crashed gateway's warden has them
        return (
            f"  restart: taking over the running children the previous gateway left{since}"
            " (until then the servers show them stopped)"
        )
    return (
        f"  restart: handing over from pid {pid}{since}: its running children come, with"
        " their memory, once its open connections have finished (until then the servers"
        " show them stopped)"
    )


def configLine(state: Mapping[str, Any]) -> str:
    """What the gateway serves and rewrites, from its C{state.json}: the
    config file (or the bundled demo, which is never rewritten) and the
    other clients' files its C{--clients} adopts."""
    config = state.get("config")
    rewrite = bool(state.get("rewriteConfig"))
    if isinstance(config, str) and config:
        line = config + (" (rewritten to point at the gateway)" if rewrite else "")
    else:
        line = "the bundled demo"
    clients = state.get("clients", "all") if rewrite else "none"
    if not isinstance(clients, str) or clients == "none" or not clients.strip(" ,"):
        return line
    which = (
        "every other client's file found"
        if clients == "all"
        else f"the files of {', '.join(w.strip() for w in clients.split(',') if w.strip())}"
    )
    if isinstance(config, str) and config:
        return f"{line}, and {which}"
    return f"{line}, and {which} (rewritten to point at the gateway)"


def savingsSummary(health: dict[str, Any]) -> list[str]:
    """One or two lines: the processes and memory the gateway saves against
    a launch per session (docs/guide/operations.md, "What it saves"), what
    runs against what would run without it (else the gateway's own memory),
    and the npx/uvx wrappers avoided. Nothing when
    C{/health} has no C{"savings"} (an older gateway)."""
    savings = health.get("savings")
    if not isinstance(savings, dict):
        return []
    avoided = savings.get("processesAvoided")
    avoided = avoided if isinstance(avoided, int) and not isinstance(avoided, bool) else 0
    memory = savings.get("memoryAvoidedBytes")
    measure = savings.get("measure")
    if avoided > 0:
        line = f"saves {plural(avoided, 'process', 'processes')}"
    elif avoided < 0:
        line = (
            f"runs {plural(-avoided, 'process', 'processes')} more than a launch per session"
            " would (the gateway, sandboxes, children serving no session)"
        )
    else:
        line = "saves no process yet (no server has more sessions than children)"
    if isinstance(memory, (int, float)) and isinstance(measure, str):
        if memory > 0 and avoided >= 0:
            line += f" and {formatBytes(memory)} ({measure.upper()})"
        elif memory < 0 and avoided < 0:
            line += f", and {formatBytes(-memory)} ({measure.upper()}) more"
    if avoided > 0:
        line += " against a launch per session"
    if measure is None and avoided:
        line += " (memory not measured yet)"
    used, without = count(savings.get("processesUsed")), count(savings.get("processesWithout"))
    gateway = savings.get("gatewayBytes")
    if savings.get("processesUsed") is not None:
        line += f"; {used} running (the gateway's whole tree) against {without} without it"
    elif isinstance(gateway, (int, float)) and gateway > 0:
        line += f"; the gateway uses {formatBytes(gateway)}"
    lines = [f"  {line}"]
    wrappers = count(savings.get("wrappersAvoided"))
    if wrappers:
        counted = savings.get("wrapperMemory") == "counted"
        lines.append(
            f"  · {plural(wrappers, 'npx/uvx wrapper')} avoided: in the processes"
            + (
                " and the memory"
                if counted
                else ", not in the memory (the gateway never ran one to measure)"
            )
        )
    return lines


TASK_WORDS = (
    ("working", "running"),
    ("input_required", "waiting for input"),
    ("completed", "done"),
    ("failed", "failed"),
    ("cancelled", "cancelled"),
)
"""How C{status} names each task status of C{/health}'s C{"tasks"}."""


def tasksSummary(health: Mapping[str, Any]) -> list[str]:
    """One line, C{tasks: 2 running, 1 waiting for input, 5 done, 1 failed}
    (and C{, 1 cancelled} when some were), while the gateway keeps any
    task (docs/guide/tasks.md); nothing when it keeps none, or does not serve
    tasks (C{/health} has no C{"tasks"})."""
    tasks = health.get("tasks")
    if not isinstance(tasks, dict):
        return []
    counts = {status: max(0, count(tasks.get(status))) for status, _ in TASK_WORDS}
    if not any(counts.values()):
        return []
    parts = [
        f"{counts[status]} {word}"
        for status, word in TASK_WORDS
        if status != "cancelled" or counts[status]
    ]
    return ["  tasks: " + ", ".join(parts)]


def _serverLines(
    servers: dict[str, dict[str, Any]],
    sessions: list[dict[str, Any]],
    paths: Mapping[str, str] | None = None,
    stateDir: Path | None = None,
    state: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """One line per server, marked and named by its C{share} (a C{/health}
    without one: its C{mode}, read as the share it means), and its notes
    under it (whose C{PATH} a command not found means: L{notFoundNotes},
    the gateway's C{state}, this shell's C{environ}); then one line per
    aggregate endpoint with sessions (L{_aggregateLines})."""
    endpoints = aggregateSessions(sessions)
    if not servers:
        return ["  (no servers configured)", *_aggregateLines(endpoints, 0)]
    width = max(len(name) for name in [*servers, *endpoints])
    labels = {name: shareLabel(server) for name, server in servers.items()}
    shareWidth = max(10, *(len(label) for label in labels.values()))
    perServer: dict[str, int] = {}
    for session in sessions:
        perServer[str(session.get("server"))] = perServer.get(str(session.get("server")), 0) + 1
    lines = []
    for name in sorted(servers):
        server = servers[name]
        share = serverShare(server)
        children = count(server.get("children"))
        childCell = plural(children, "child", "children")
        if share in SCOPED and count(server.get("maxChildren")):
            childCell = f"{children}/{server['maxChildren']} children"
        cells = [
            f"{shareMark(share)} {name.ljust(width)}",
            labels[name].ljust(shareWidth),
            f"{server.get('state', '?')!s:11}",
            f"{childCell:13}",
            f"{count(server.get('requests')):>5} reqs",
            sessionCell(server, perServer.get(name, 0)),
        ]
        extra = []
        if count(server.get("inFlight")):
            extra.append(f"{server['inFlight']} in flight")
        if count(server.get("restarts")):
            extra.append(plural(server["restarts"], "restart"))
        if server.get("error"):
            extra.append(str(server["error"]))
        elif server.get("lastExit") and not children:
            extra.append(f"last exit: {server['lastExit']}")
        lines.append("  " + "  ".join(cells) + ("  · " + "; ".join(extra) if extra else ""))
        notes = serverNotes(server, name, paths, stateDir)
        notes += notFoundNotes(server, state or {}, os.environ if environ is None else environ)
        lines += [f"      {line}" for line in notes]
    return lines + _aggregateLines(endpoints, width, shareWidth)


SESSIONLESS = "without a session (2026-07-28)"
"""What C{status} says of the clients of a server that speak MCP 2026-07-28,
beside its sessions: they use it without one."""

AGGREGATE = "aggregate"
"""The share column of an aggregate endpoint's line (C{/sessions} says
C{"mode": "aggregate"} for its sessions)."""
MEMBERS_SHOWN = 5
"""Servers named on an aggregate endpoint's line at most."""


def aggregateSessions(sessions: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The sessions of C{/sessions} opened on an aggregate endpoint, by
    endpoint (C{/mcp}, C{/mcp/search}, C{/mcp/<name>}: what their C{server}
    says; a server's name never starts with C{/})."""
    endpoints: dict[str, list[dict[str, Any]]] = {}
    for session in sessions:
        server = session.get("server")
        isPath = isinstance(server, str) and server.startswith("/")
        if isPath or session.get("mode") == AGGREGATE:
            endpoints.setdefault(str(server) if isPath else "/mcp", []).append(session)
    return endpoints


def _aggregateLines(
    endpoints: dict[str, list[dict[str, Any]]], width: int, shareWidth: int = 10
) -> list[str]:
    """One line per aggregate endpoint with sessions, its count under the
    servers' session counts (the header counts both), and the servers its
    sessions opened member sessions on (counted in none of the lines)."""
    lines = []
    for endpoint in sorted(endpoints):
        opened = endpoints[endpoint]
        members = sorted(
            {
                str(member)
                for session in opened
                if isinstance(session.get("members"), list)
                for member in session["members"]
            }
        )
        cells = [
            f"  {endpoint.ljust(width)}",
            AGGREGATE.ljust(shareWidth),
            " " * 11,
            " " * 13,
            " " * len("    0 reqs"),
            plural(len(opened), "session"),
        ]
        line = "  " + "  ".join(cells)
        if members:
            named = ", ".join(members[:MEMBERS_SHOWN])
            if len(members) > MEMBERS_SHOWN:
                named += f" and {len(members) - MEMBERS_SHOWN} more"
            line += f"  · using {named} (not in their counts)"
        lines.append(line)
    return lines


def sessionCell(server: Mapping[str, Any], counted: int) -> str:
    """A server's sessions (C{/health}'s, else C{counted} from
    C{/sessions}), and the 2026-07-28 clients that used it lately, when some
    did: C{0 sessions · 3 clients without a session (2026-07-28)}."""
    cell = plural(count(server.get("sessions", counted)), "session")
    sessionless = count(server.get("era2026Clients"))
    if sessionless > 0:
        cell += f" · {plural(sessionless, 'client')} {SESSIONLESS}"
    return cell


def sessionlessClients(servers: Mapping[str, Mapping[str, Any]]) -> int:
    """How many 2026-07-28 clients used the gateway lately, at least: the
    most any one server counts (C{/health} counts them by server, and one
    client may use several)."""
    return max((count(server.get("era2026Clients")) for server in servers.values()), default=0)


def _sessionLine(sessions: list[dict[str, Any]] | None, sessionless: int = 0) -> str:
    """The sessions, counted by client: its pid where the gateway knows it
    (a client on this machine); else, as on a team gateway, where a pid
    names nothing, by the principal's key and the client's name. Then the
    C{sessionless} 2026-07-28 clients, at least (L{sessionlessClients}).
    C{sessions} is C{None} when C{/sessions} was refused."""
    also = f"; at least {plural(sessionless, 'client')} {SESSIONLESS}" if sessionless > 0 else ""
    if sessions is None:
        return "  sessions by client not shown (GET /sessions needs an admin's token)" + also
    clients: dict[str, int] = {}
    for session in sessions:
        key = _clientOf(session)
        clients[key] = clients.get(key, 0) + 1
    if not clients:
        return "  no sessions" + also
    return (
        f"  {plural(len(sessions), 'session')} from {plural(len(clients), 'client')}: "
        + ", ".join(f"{key} ({n})" for key, n in sorted(clients.items()))
        + also
    )


def _clientOf(session: dict[str, Any]) -> str:
    """The client a session is counted under (see L{_sessionLine})."""
    pid = session.get("clientPid")
    if pid:
        return f"pid {pid}"
    principal, name = session.get("principal"), session.get("client")
    if principal or name:
        who = f"principal {principal}" if principal else ""
        return " ".join(part for part in (who, str(name or "")[:40]) if part)
    return "unknown client"


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    commands.add_parser(
        "status",
        parents=common,
        help="pid, port, uptime, servers, children, requests",
        description="One screen: the gateway's version, pid, port, uptime and memory; each"
        f" server with its share ({', '.join(f'{m} {w}' for w, m in SHARE_MARKS.items())}),"
        " state, children, requests and sessions, and what is wrong with it; the"
        " sessions of the aggregate endpoint (/mcp), which the gateway's session"
        " count includes; the sessions by client (its pid; on a team gateway, the"
        " principal's key and the client's name); the calls waiting for your yes"
        " (`mcpgateway approvals list`); a gateway that runs another version than the"
        " one installed (`mcpgateway restart`); and config entries pointing"
        " at a gateway that is not running or that no backup can restore. On a team"
        " gateway the sessions and what children wrote need an admin's token"
        f" (${TOKEN_ENV}); without one the rest is shown. Exit 1 when the gateway is not"
        " running or does not answer.",
    ).set_defaults(handler=cmdStatus)

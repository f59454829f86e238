# -*- test-case-name: tests.report.test_health -*-
"""The JSON bodies of C{GET /health} and C{GET /sessions}, rendered from the read model.

Every place that shows a server's line (C{/health}, C{/api/v1/health},
C{/api/v1/servers}, the manhole) renders a
L{mcpgateway.core.status.ServerStatus} here; nothing else builds these
dictionaries. Their keys and order are what clients (the C{mcpgateway} CLI,
monitors) read: change them only on purpose. No env value or secret ever
appears, and no workspace path: a child is shown by the scope keys it
serves (keyed hashes, see docs/guide/scopes.md), C{"global"} for the key-less route.

A line rendered without C{detail} (the open C{/health} of a gateway reachable
from other machines, to a caller that is not an admin) holds no text a
child wrote and no launch path or command: an error is L{HIDDEN}, an exit
reason only how the process ended (L{exitOf}), a resolution its state.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mcpgateway.config.problems import ConfigProblems
from mcpgateway.core.spec import routesOf
from mcpgateway.core.status import (
    ChildStatus,
    GatewayStatus,
    Savings,
    ServerSavings,
    ServerStatus,
    SessionStatus,
    TaskCounts,
)
from mcpgateway.core.tasks.model import STATUSES as TASK_STATUSES

GLOBAL_SCOPE = "global"
"""How C{/health} names the key-less route's scope (C{/<server>/mcp})."""

HIDDEN = (
    "hidden: the open /health of a gateway reachable from other machines does not show it;"
    " send an admin's token (or read /api/v1/health)"
)
"""What stands for an error's text in a line without detail: an error may
quote a child's stderr, a launch command or a path."""

_EXIT = re.compile(
    r"exited with code -?[0-9]+|killed by signal [0-9]+|closed its stdout but kept running"
    r"|vanished|was stopped by the gateway|killed by the gateway"
)
"""The gateway's own words for how a child's process ended
(L{mcpgateway.core.child.describeExit}, L{mcpgateway.core.child.ChildProtocol.howItEnded}
and the upstream's), before any C{"; last stderr: ..."}."""


def exitOf(lastExit: str) -> str:
    """How a child's process ended, without what it wrote: the gateway's own
    words at the start of C{lastExit}, else C{"exited"}."""
    match = _EXIT.match(lastExit)
    return match.group() if match is not None else "exited"


def serverLine(server: ServerStatus, detail: bool = True) -> dict[str, Any]:
    """What a server is doing: its line of C{/health}, without its session
    count; without C{detail}, no text a child wrote, no path, no command
    (see the module)."""
    line: dict[str, Any] = {"mode": server.sharing.modeWord, "share": server.share}
    remote = server.spec.remote
    if remote is not None:
        # A remote server: its URL (with detail) and how it is reached; never
        # its headers or a token. "login": the gateway's own OAuth login, once
        # the server asked for one ("needed", or "ok" while a grant is held).
        line["remote"] = (
            {"transport": remote.transport, "url": remote.url}
            if detail
            else {"transport": remote.transport}
        )
        if server.login is not None:
            line["remote"]["login"] = server.login
    if server.perUser:
        # A child per principal: why a "global" server runs several. Only
        # when true, as "warning" is: the other servers' lines stay as they were.
        line["perUser"] = True
    line |= {
        "state": server.state.value,
        "children": len(server.pids),
        "maxChildren": server.maxChildren,
        "pids": server.pids,
        "scopes": scopeLines(server.children),
        "requests": server.requests.count,
        "inFlight": server.inFlight,
        "lateReplies": server.requests.lateReplies,
        "restarts": server.restarts,
        "failures": server.failures,
        "circuit": server.circuit.value,
        "ambiguousServerRequests": server.requests.ambiguousServerRequests,
        "poolWaits": server.waits,
        "poolTimeouts": server.waitTimeouts,
        "evictions": server.evictions,
        "promoted": server.promoted,
        **era2026Line(server),
        # Start-ups answered from the saved catalog, no child started for them.
        "catalogStartups": server.catalogStartups,
        "catalogAnswers": server.catalogAnswers,
    }
    warning = server.warning
    if warning is not None:
        line["warning"] = warning
    if detail and server.spec.configFile is not None:
        line["configFile"] = server.spec.configFile  # the file to fix its entry in
    resolution = server.resolution
    if resolution is not None:
        line["resolution"] = (
            {"state": resolution.state, "detail": resolution.detail}
            if detail
            else {"state": resolution.state}
        )
    lastExit = server.lastExit
    if lastExit:
        line["lastExit"] = lastExit if detail else exitOf(lastExit)
    refusals = server.requests.sandboxRefusals
    if refusals and detail:
        # What its sandbox likely refused its tool calls: a line each, naming
        # the path and the key that allows it (text a child wrote: detail only).
        line["sandboxRefusals"] = list(refusals)
    if server.error is not None:
        line["error"] = server.error if detail else HIDDEN
    return line


def era2026Line(server: ServerStatus) -> dict[str, Any]:
    """How a server serves MCP 2026-07-28 clients (docs/design/era.md): C{"era2026"}
    is C{true}, or why not (they get 404 and fall back to C{initialize});
    then its 2026 counters: requests, the clients that sent some lately
    (C{era2026Clients}: they open no session, so C{"sessions"} never counts
    them; L{mcpgateway.core.era2026.callers}), calls waiting for their client's
    C{input_required} answer, C{input_required} rounds sent, rounds whose
    client never came back, retries refused for their C{requestState}, open
    listen streams, and the child's server-to-client requests refused
    because a 2026 client could not be asked them (during a list, say)."""
    stats = server.era2026Stats
    return {
        "era2026": True if server.era2026 is None else server.era2026,
        "era2026Requests": stats.requests,
        "era2026Clients": stats.clients,
        "suspendedCalls": stats.suspendedCalls,
        "inputRounds": stats.inputRounds,
        "inputExpired": stats.inputExpired,
        "badRequestStates": stats.badRequestStates,
        "listenStreams": stats.listenStreams,
        "refusedServerRequests": stats.refusedServerRequests,
    }


def scopeLines(children: tuple[ChildStatus, ...]) -> dict[str, dict[str, Any]]:
    """Which children serve which scope, by scope key (a route key,
    C{"global"} for the key-less route, or a credential key): how many
    running children serve it (as the server's C{"children"} counts them: a
    child with no process now is not counted), the pid when that is one
    child (C{None} while none runs, or when several do: each credential set
    of a route has its own child, listed under its credential key) and the
    sessions of its children, running or not. A child a session owns
    (C{session} scope) has no key and is not listed."""
    scopes: dict[str, dict[str, Any]] = {}
    for child in children:
        pid = child.pid
        running = 0 if pid is None else 1
        for key in child.scopes:
            name = key or GLOBAL_SCOPE
            line = scopes.get(name)
            if line is None:
                scopes[name] = {"pid": pid, "sessions": child.sessions, "children": running}
            else:
                line["sessions"] += child.sessions
                line["children"] += running
                if pid is not None:
                    line["pid"] = pid if line["children"] == 1 else None
    return scopes


def healthLine(server: ServerStatus, detail: bool = True) -> dict[str, Any]:
    """A server's line of C{/health} (C{detail}: see L{serverLine}); with
    C{detail}, its routes too (L{routesOf}: what C{mcpgateway start} prints,
    read here rather than from the management API, whose first request
    would load Klein into the gateway for its whole life)."""
    line = {**serverLine(server, detail), "sessions": server.sessions}
    if detail:
        line["routes"] = routesOf(server.spec.name, server.spec)
    return line


def healthBody(
    status: GatewayStatus,
    auth: dict[str, Any] | None = None,
    cluster: dict[str, Any] | None = None,
    aggregate: dict[str, Any] | None = None,
    detail: bool = True,
    network: Callable[[str], dict[str, Any] | None] | None = None,
    config: ConfigProblems | None = None,
) -> dict[str, Any]:
    """The body of C{GET /health} (and C{GET /api/v1/health}); C{config}:
    the entries of the config the gateway does not serve and the client
    files it does not adopt (L{configLine}), shown with C{detail} when
    there is any; C{network}:
    a confined server's line of the sandbox's allow-list proxy (its open
    connections, its refusals and the hosts refused), shown with C{detail}
    for the servers that use it; C{aggregate}:
    the aggregate endpoint's line (docs/guide/aggregate.md: its sessions, members,
    kept results, and each server's catalog); C{auth}: how
    callers are authenticated (docs/guide/team.md: C{{"mode": "none"}}, or the
    mode and its counts; never a name or a token), shown when given;
    C{cluster}: a replica's line (docs/guide/cluster.md: C{replica}, C{advertise},
    C{visiting}, C{forwarded}, C{failedOver}, C{ownersDown}), shown only
    when clustered. C{"savings"} (L{savingsLine}) is there when the gateway
    samples its children (the read model has a L{Savings} record);
    C{"tasks"} (L{tasksLine}), last, when it serves the Tasks extension.
    Without C{detail} (see the module), C{"detail": "hidden"} says so, and
    neither the servers' lines nor the aggregate's catalogs hold an error's
    text."""
    body: dict[str, Any] = {
        "status": "ok",
        "version": status.version,
        "pid": status.pid,
        "uptime": round(status.uptime, 3),
        "rssBytes": status.rssBytes,
        "sessions": status.sessionCount,
    }
    savings = getattr(status, "savings", None)
    if savings is not None:
        body["savings"] = savingsLine(savings, status.now)
    if auth is not None:
        body["auth"] = auth
    if cluster is not None:
        body["cluster"] = cluster
    if aggregate is not None:
        body["aggregate"] = aggregate if detail else _withoutErrors(aggregate)
    if not detail:
        body["detail"] = "hidden"
    body["servers"] = {name: healthLine(server, detail) for name, server in status.servers.items()}
    for name, line in body["servers"].items():
        proxied = network(name) if network is not None and detail else None
        if proxied is not None:
            line["network"] = proxied
    if config and detail:
        body["config"] = configLine(config)
    tasks = getattr(status, "tasks", None)
    if tasks is not None:
        body["tasks"] = tasksLine(tasks)
    return body


def configLine(problems: ConfigProblems) -> dict[str, Any]:
    """What the config holds that the gateway cannot use
    (L{mcpgateway.config.problems}): each entry it does not serve (its
    name, file, scope in that file, and why) and each client file it does
    not adopt (the file, the client's id, and why), and, when there are
    any, the keys added next to the gateway's URL of an adopted entry
    (C{ignoredKeys}: the server, file, keys and fix). Paths and the user's
    own words: shown with detail only."""
    line: dict[str, Any] = {
        "invalidEntries": [
            {"server": e.server, "file": e.file, "scope": e.scope, "why": e.why}
            for e in problems.invalidEntries
        ],
        "refusedFiles": [
            {"file": f.file, "client": f.client, "why": f.why} for f in problems.refusedFiles
        ],
    }
    if problems.ignoredKeys:  # the keys added next to the gateway's URLs, and the fix
        line["ignoredKeys"] = [
            {"server": i.server, "file": i.file, "keys": list(i.keys), "fix": i.fix}
            for i in problems.ignoredKeys
        ]
    return line


def tasksLine(tasks: TaskCounts) -> dict[str, int]:
    """The gateway's tasks by status (docs/guide/tasks.md): every status word,
    in the extension's order, 0 when none is in it. Counts only: no task
    id, tool or principal."""
    return {status: tasks.count(status) for status in TASK_STATUSES}


def _withoutErrors(aggregate: dict[str, Any]) -> dict[str, Any]:
    """The aggregate line with L{HIDDEN} for each catalog's error (the text
    of a child's failure)."""
    catalogs = aggregate.get("catalogs")
    if not isinstance(catalogs, dict):
        return aggregate
    return {
        **aggregate,
        "catalogs": {
            name: {**line, "error": HIDDEN}
            if isinstance(line, dict) and line.get("error")
            else line
            for name, line in catalogs.items()
        },
    }


def savingsLine(savings: Savings, now: float) -> dict[str, Any]:
    """What sharing children saves (docs/guide/operations.md, "What it saves"):
    what runs (the gateway's whole process tree, the sandbox's processes
    included) against what the same sessions would start with a launch
    each, and the difference,
    the npx/uvx wrappers avoided (C{"wrapperMemory"}: C{"counted"}, or
    C{"not counted"} when the gateway never measured a wrapper; C{null}
    with none avoided), the gateway's own memory, how old the sample is,
    and each server's figures."""
    return {
        "processesAvoided": savings.processesAvoided,
        "memoryAvoidedBytes": savings.memoryAvoidedBytes,
        "processesUsed": savings.processesUsed,
        "processesWithout": savings.processesWithout,
        "memoryUsed": savings.memoryUsed,
        "memoryWithout": savings.memoryWithout,
        "measure": savings.measure,
        "wrappersAvoided": savings.wrappersAvoided,
        "wrapperMemory": _wrapperMemory(savings),
        "gatewayBytes": savings.gatewayBytes,
        "sampleAge": None if savings.sampledAt is None else round(now - savings.sampledAt, 3),
        "servers": {name: serverSavings(line) for name, line in savings.servers.items()},
    }


def _wrapperMemory(savings: Savings) -> str | None:
    if not savings.wrappersAvoided:
        return None
    return "counted" if savings.wrappersCounted else "not counted"


def serverSavings(figures: ServerSavings) -> dict[str, Any]:
    """One server's line of C{"savings"}."""
    return {
        "sessions": figures.sessions,
        "children": figures.children,
        "processes": figures.processes,
        "pssBytes": figures.pssBytes,
        "rssBytes": figures.rssBytes,
        "cpuSeconds": None if figures.cpuSeconds is None else round(figures.cpuSeconds, 2),
        "processesPerLaunch": figures.processesPerLaunch,
        "bytesPerLaunch": figures.bytesPerLaunch,
        "measure": figures.measure,
        "wrapper": figures.wrapper,
        "wrappersAvoided": figures.wrappersAvoided,
        "wrapperBytes": figures.wrapperBytes,
        "processesAvoided": figures.processesAvoided,
        "memoryAvoidedBytes": figures.memoryAvoidedBytes,
        "processesWithout": figures.processesWithout,
    }


def sessionRow(session: SessionStatus) -> dict[str, Any]:
    """One session, as C{GET /sessions} lists it (C{"visiting": true} for a
    session of another replica served here, docs/guide/cluster.md)."""
    row = {
        "id": session.id,
        "server": session.server,
        "clientPid": session.clientPid,
        "client": session.client,
        "protocolVersion": session.protocolVersion,
        "mode": session.sharing.modeWord,
        "scope": session.scope,
        "credential": session.credential,
        "principal": getattr(session, "principal", ""),
        "childPid": session.childPid,
        "created": session.created,
        "lastActivity": session.lastActivity,
        "inFlight": session.inFlight,
        "getStream": session.getStream,
    }
    if getattr(session, "visiting", False):
        row["visiting"] = True
    members = getattr(session, "members", None)
    if members is not None:
        row["mode"] = "aggregate"
        row["members"] = list(members)
    return row


def visitingSessions(status: GatewayStatus) -> int:
    """How many sessions of another replica are served here (docs/guide/cluster.md)."""
    return status.visitingCount


def sessionsBody(status: GatewayStatus) -> dict[str, Any]:
    """The body of C{GET /sessions}."""
    return {"sessions": [sessionRow(session) for session in status.sessions]}

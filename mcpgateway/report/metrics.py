# -*- test-case-name: tests.report.test_metrics -*-
"""C{GET /metrics}: the gateway's state in the Prometheus text exposition format.

Everything is rendered at scrape time from the gateway's read model
(L{mcpgateway.core.gateway.readmodel.ReadModel.status}: each server's state, request
statistics and bytes), plus the resident memory of its children, read
through L{mcpgateway.runtime.procfs}; nothing on the request path knows this module
exists.

The format (version 0.0.4) is written by L{mcpgateway.report.exposition}:
counters are named C{_total}, histograms are cumulative C{_bucket} samples up
to C{le="+Inf"} plus C{_sum} and C{_count}.

The OpenTelemetry MCP conventions' histograms (docs/guide/observability.md) are
here under the names their Prometheus mapping gives:
C{mcp_server_operation_duration_seconds} (a client's request, from the
gateway receiving it until it answered), C{mcp_client_operation_duration_seconds}
(the gateway's request to a child) by C{server}, C{mcp_method_name} and
C{outcome}, and C{mcp_server_session_duration_seconds} by C{server}; and
C{mcpgateway_build_info{version,python,twisted}}.

Every label is bounded: C{server} (a configured name), C{method} (the MCP
method set, anything else is C{other}), C{outcome}, C{state} (a server's or
circuit's, or a task's status word), C{le},
C{version}, C{limit} (C{gateway}, C{principal}), C{scope} (the four scope
words) and C{scope_key} (the scope keys a server's children serve: at most
its C{maxChildren} children, each a keyed hash or C{global}; never a path or
a value). No session id, task id, tool
name, argument or pid ever becomes a label.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Callable, Iterable, Mapping

import twisted
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.spec import SHARES
from mcpgateway.core.stats import BUCKETS, OUTCOMES, Histogram, Operations, operationsFor
from mcpgateway.core.status import Circuit, GatewayStatus, ServerState, ServerStatus
from mcpgateway.core.tasks.model import STATUSES as TASK_STATUSES
from mcpgateway.report.exposition import Labels, MetricFamily, formatValue
from mcpgateway.report.savings import savingsLines
from mcpgateway.runtime import procfs

PREFIX = "mcpgateway_"
"""The prefix of the gateway's own metric names."""
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
"""The C{Content-Type} of L{renderMetrics}' output."""


def renderMetrics(gateway: Gateway, procRoot: str = procfs.PROC) -> bytes:
    """The body of C{GET /metrics} (serve it with L{CONTENT_TYPE}).

    @param gateway: whose servers, sessions and children to describe.
    @param procRoot: where resident memory is read (C{<pid>/statm}, and
        C{self} for the gateway itself); a file that cannot be read leaves
        its sample out.
    @return: the Prometheus text format, UTF-8.
    """
    status = gateway.readModel.status(procRoot)
    operations = operationsFor(gateway.clock)
    body = renderStatus(status, lambda pid: procfs.rss(pid, procRoot), operations)
    return body + renderSessionCapacity(gateway.capacityCounts.counts())


def renderSessionCapacity(counts: Mapping[tuple[str, str], int]) -> bytes:
    """C{mcpgateway_session_limit_total{limit,outcome}}: the C{initialize}s
    that met a session limit (C{gateway}: the process's; C{principal}: one
    caller's), by what came of them (C{evicted}: the caller's own idlest
    unused session ended for it; C{refused}: HTTP 503). Never by caller:
    the audit log names who was refused."""
    family = MetricFamily(
        "mcpgateway_session_limit_total",
        "counter",
        "Initialize requests that met a session limit (gateway, principal), by outcome"
        " (evicted: the caller's own idlest session ended for it; refused: HTTP 503).",
    )
    for (limit, outcome), count in sorted(counts.items()):
        family.add((("limit", limit), ("outcome", outcome)), count)
    return ("\n".join(family.render()) + "\n").encode("utf-8", "replace")


SERVER_FAMILIES: tuple[tuple[str, str, str, str], ...] = (
    (
        "requests",
        "requests_total",
        "counter",
        "Client requests forwarded to a child and ended, by server, MCP method (methods "
        "outside the MCP set count as other) and outcome (ok, error, timeout, child_exit, "
        "cancelled).",
    ),
    (
        "duration",
        "request_duration_seconds",
        "histogram",
        "Time from forwarding a client request to a child until it ended, by server.",
    ),
    (
        "inFlight",
        "requests_in_flight",
        "gauge",
        "Requests forwarded to the server's children and not answered yet.",
    ),
    (
        "sessions",
        "sessions",
        "gauge",
        "Open client sessions, by server.",
    ),
    (
        "children",
        "children",
        "gauge",
        "Running child processes, by server.",
    ),
    (
        "restarts",
        "child_restarts_total",
        "counter",
        "Shared children started again after the previous one exited (a stateful server's "
        "child is never restarted: its session ends with it).",
    ),
    (
        "failures",
        "child_failures_total",
        "counter",
        "Unexpected child exits (any exit status or signal, or a failed initialize), by server.",
    ),
    (
        "circuit",
        "circuit_state",
        "gauge",
        "The server's circuit breaker: 1 for the current state (closed, open, half-open), else 0.",
    ),
    (
        "state",
        "server_state",
        "gauge",
        "The server's state as in /health: 1 for the current one, else 0.",
    ),
    (
        "late",
        "late_replies_total",
        "counter",
        "Child replies to requests that had already timed out or been cancelled, dropped.",
    ),
    (
        "ambiguous",
        "server_requests_refused_ambiguous_total",
        "counter",
        "Sampling/elicitation requests of a shared child refused because several "
        "sessions used it (the session each was for could not be proven).",
    ),
    (
        "bytesIn",
        "child_bytes_received_total",
        "counter",
        "Bytes read from the stdout of the server's children, exited ones included.",
    ),
    (
        "bytesOut",
        "child_bytes_sent_total",
        "counter",
        "Bytes written to the stdin of the server's children, exited ones included.",
    ),
    (
        "childRss",
        "child_resident_bytes",
        "gauge",
        "Resident memory of the server's running children (the child processes themselves, "
        "not their descendants).",
    ),
    (
        "scopeChildren",
        "server_children",
        "gauge",
        "Running child processes, by server and scope (global, workspace, credential, "
        "session: a child a session owns, as a promoted server gives new sessions).",
    ),
    (
        "scopeSessions",
        "scope_sessions",
        "gauge",
        "Sessions served by the child of each scope key of a server (global: the key-less "
        "route; else a workspace or credential key, a keyed hash).",
    ),
    (
        "waits",
        "pool_waits_total",
        "counter",
        "Requests that found the server's pool at maxChildren with no idle child, and waited.",
    ),
    (
        "waitTimeouts",
        "pool_wait_timeouts_total",
        "counter",
        "Requests that waited for a child of a full pool until their timeout (answered with "
        "an error that names maxChildren).",
    ),
    (
        "evictions",
        "pool_evictions_total",
        "counter",
        "Idle children stopped to make room in a full pool (least recently used first).",
    ),
    (
        "promoted",
        "server_promoted",
        "gauge",
        "1 when the gateway gives the server's new sessions a child of their own (promoted to"
        " session scope: its shared child asked something no session could be proven to own).",
    ),
    (
        "catalogStartups",
        "server_catalog_startups_total",
        "counter",
        "Client start-ups (initialize, server/discover) answered from the server's saved"
        " catalog while no child of it ran: no child was started for them.",
    ),
    (
        "catalogAnswers",
        "server_catalog_answers_total",
        "counter",
        "Requests answered from the server's saved catalog while no child of it ran"
        " (start-ups, lists, log levels).",
    ),
    (
        "era2026Served",
        "era2026_served",
        "gauge",
        "1 when the server serves MCP 2026-07-28 clients, 0 when they get 404 and fall back "
        'to initialize (its entry says "era2026": false, or it runs a child per session).',
    ),
    (
        "era2026Requests",
        "era2026_requests_total",
        "counter",
        "MCP 2026-07-28 requests that passed the endpoint's checks (each retry of an "
        "input_required call counts as one).",
    ),
    (
        "suspendedCalls",
        "era2026_suspended_calls",
        "gauge",
        "2026 calls waiting for their client's answer to an input_required result.",
    ),
    (
        "inputRounds",
        "era2026_input_rounds_total",
        "counter",
        "input_required results sent to 2026 clients (a child's sampling, elicitation or "
        "roots request during their call).",
    ),
    (
        "inputExpired",
        "era2026_input_expired_total",
        "counter",
        "Suspended 2026 calls whose client did not come back within --era2026-input-timeout "
        "(their child's questions declined, the call cancelled).",
    ),
    (
        "badStates",
        "era2026_bad_request_states_total",
        "counter",
        "2026 retries refused for their requestState (forged, expired, used, or for another call).",
    ),
    (
        "listenStreams",
        "era2026_listen_streams",
        "gauge",
        "Open subscriptions/listen streams of 2026 clients.",
    ),
)
"""The per-server families, in the order they are written: (key, name
after the C{mcpgateway_} prefix, type, help)."""


def renderStatus(
    status: GatewayStatus,
    rss: Callable[[int], int | None],
    operations: Operations | None = None,
) -> bytes:
    """The metrics of C{status}; C{rss} reads the resident memory of a
    child; C{operations}: the convention's duration histograms (C{None}:
    none observed)."""
    families = {
        key: MetricFamily(PREFIX + name, kind, text) for key, name, kind, text in SERVER_FAMILIES
    }
    for name in sorted(status.servers):
        server = status.servers[name]
        labels: Labels = (("server", name),)
        _requestSamples(families, labels, server)
        _childSamples(families, labels, server, rss)
        _scopeSamples(families, labels, server)
        _era2026Samples(families, labels, server)
    conventions = _operationFamilies(operations if operations is not None else Operations())
    every = (*families.values(), *_gatewayFamilies(status), *conventions)
    lines = [line for family in every for line in family.render()]
    lines += _olderNames(families.values())
    lines += savingsLines(status)  # mcpgateway_processes_avoided, ..._memory_avoided_bytes
    lines += [line for family in _taskFamilies(status) for line in family.render()]
    return ("\n".join(lines) + "\n").encode("utf-8", "replace")


def _requestSamples(
    families: dict[str, MetricFamily], labels: Labels, server: ServerStatus
) -> None:
    """Requests by method and outcome, their duration histogram, the ones
    in flight, late replies and refused ambiguous server requests."""
    stats = server.requests
    counts = stats.requests
    outcomes = [*OUTCOMES, *sorted({o for _, o in counts} - set(OUTCOMES))]
    for method in sorted({m for m, _ in counts}):
        for outcome in outcomes:
            families["requests"].add(
                (*labels, ("method", method), ("outcome", outcome)),
                counts.get((method, outcome), 0),
            )
    duration = families["duration"]
    cumulative = 0
    for bound, n in zip((*BUCKETS, math.inf), stats.bucketCounts, strict=True):
        cumulative += n
        duration.add((*labels, ("le", formatValue(float(bound)))), cumulative, "_bucket")
    duration.add(labels, stats.sum, "_sum")
    duration.add(labels, stats.count, "_count")
    families["inFlight"].add(labels, server.inFlight)
    families["late"].add(labels, stats.lateReplies)
    families["ambiguous"].add(labels, stats.ambiguousServerRequests)


def _childSamples(
    families: dict[str, MetricFamily],
    labels: Labels,
    server: ServerStatus,
    rss: Callable[[int], int | None],
) -> None:
    """Sessions, children, restarts and failures, the circuit and the
    state, bytes to and from the children, and their resident memory."""
    pids = server.pids
    families["sessions"].add(labels, server.sessions)
    families["children"].add(labels, len(pids))
    families["restarts"].add(labels, server.restarts)
    families["failures"].add(labels, server.failures)
    for value in Circuit:
        families["circuit"].add((*labels, ("state", value.value)), int(value is server.circuit))
    for current in ServerState:
        families["state"].add((*labels, ("state", current.value)), int(current is server.state))
    families["bytesIn"].add(labels, server.bytesIn)
    families["bytesOut"].add(labels, server.bytesOut)
    known = [r for r in map(rss, pids) if r is not None]
    if known or not pids:
        families["childRss"].add(labels, sum(known))


def _scopeSamples(families: dict[str, MetricFamily], labels: Labels, server: ServerStatus) -> None:
    """Children by scope, sessions by scope key, the pool's waits and
    evictions, and whether the server is promoted."""
    byScope = dict.fromkeys(SHARES, 0)
    perKey: dict[str, int] = {}
    for child in server.children:
        if child.pid is not None:
            byScope["session" if child.owner is not None else server.share] += 1
        for key in child.scopes:
            perKey[key or "global"] = perKey.get(key or "global", 0) + child.sessions
    for word, n in byScope.items():
        if n or word == server.share:
            families["scopeChildren"].add((*labels, ("scope", word)), n)
    for key in sorted(perKey):
        families["scopeSessions"].add((*labels, ("scope_key", key)), perKey[key])
    families["waits"].add(labels, server.waits)
    families["waitTimeouts"].add(labels, server.waitTimeouts)
    families["evictions"].add(labels, server.evictions)
    families["promoted"].add(labels, int(server.promoted is not None))
    families["catalogStartups"].add(labels, server.catalogStartups)
    families["catalogAnswers"].add(labels, server.catalogAnswers)


OLD_ERA2026_PREFIX = PREFIX + "modern_"
"""The prefix the 2026-07-28 families had before C{era2026_}: their samples
are written under it as well, marked deprecated, so that dashboards and
alerts keep working while they move to the new names."""


def _olderNames(families: Iterable[MetricFamily]) -> list[str]:
    """The C{mcpgateway_era2026_*} families again under their older names."""
    current = PREFIX + "era2026_"
    lines: list[str] = []
    for family in families:
        if family.name.startswith(current):
            old = OLD_ERA2026_PREFIX + family.name[len(current) :]
            older = MetricFamily(old, family.kind, f"Deprecated: the older name of {family.name}.")
            older.lines = [old + line[len(family.name) :] for line in family.lines]
            lines += older.render()
    return lines


def _era2026Samples(
    families: dict[str, MetricFamily], labels: Labels, server: ServerStatus
) -> None:
    """What the server does for MCP 2026-07-28 clients."""
    era2026 = server.era2026Stats
    families["era2026Served"].add(labels, int(server.era2026 is None))
    families["era2026Requests"].add(labels, era2026.requests)
    families["suspendedCalls"].add(labels, era2026.suspendedCalls)
    families["inputRounds"].add(labels, era2026.inputRounds)
    families["inputExpired"].add(labels, era2026.inputExpired)
    families["badStates"].add(labels, era2026.badRequestStates)
    families["listenStreams"].add(labels, era2026.listenStreams)


def _gatewayFamilies(status: GatewayStatus) -> tuple[MetricFamily, ...]:
    """The gateway's own memory, uptime, version and build."""
    gatewayRss = MetricFamily(
        PREFIX + "gateway_resident_bytes", "gauge", "Resident memory of the gateway process."
    )
    if status.rssBytes is not None:
        gatewayRss.add((), status.rssBytes)
    uptime = MetricFamily(
        PREFIX + "gateway_uptime_seconds", "gauge", "Seconds since the gateway started."
    )
    uptime.add((), max(0.0, status.uptime))
    info = MetricFamily(
        PREFIX + "gateway_info", "gauge", "The gateway's version, as a label; always 1."
    )
    info.add((("version", status.version),), 1)
    build = MetricFamily(
        PREFIX + "build_info",
        "gauge",
        "The gateway's version and the Python and Twisted it runs on, as labels; always 1.",
    )
    build.add(
        (
            ("version", status.version),
            ("python", platform.python_version()),
            ("twisted", twisted.__version__),
        ),
        1,
    )
    return gatewayRss, uptime, info, build


def _taskFamilies(status: GatewayStatus) -> tuple[MetricFamily, ...]:
    """The gateway's tasks (docs/guide/tasks.md), when it serves the extension:
    C{mcpgateway_tasks{state}}, every status word, and the tasks made since
    it started. Never by tool, principal or task id."""
    tasks = getattr(status, "tasks", None)
    if tasks is None:
        return ()
    kept = MetricFamily(
        PREFIX + "tasks",
        "gauge",
        "Tasks kept, by state (working, input_required, completed, failed, cancelled); a task"
        " is forgotten once its time to live is over.",
    )
    for state in TASK_STATUSES:
        kept.add((("state", state),), tasks.count(state))
    created = MetricFamily(
        PREFIX + "tasks_created_total",
        "counter",
        "Calls that became tasks (they took longer than --task-after, or their caller asked"
        " for one) since the gateway started.",
    )
    created.add((), tasks.created)
    return kept, created


def _operationFamilies(operations: Operations) -> tuple[MetricFamily, ...]:
    """The OpenTelemetry MCP conventions' histograms, under their
    Prometheus names (dots to underscores, the unit as C{_seconds})."""
    server = MetricFamily(
        "mcp_server_operation_duration_seconds",
        "histogram",
        "mcp.server.operation.duration: a client's MCP request, from the gateway receiving it"
        " until it answered, by server, method (outside the MCP set: other) and outcome.",
    )
    client = MetricFamily(
        "mcp_client_operation_duration_seconds",
        "histogram",
        "mcp.client.operation.duration: the gateway's request to a child for a client, from"
        " sending it until its response (or timeout, cancel, exit), by server, method and"
        " outcome.",
    )
    sessions = MetricFamily(
        "mcp_server_session_duration_seconds",
        "histogram",
        "mcp.server.session.duration: client sessions that ended, from initialize to their"
        " end, by server.",
    )
    for family, table in ((server, operations.server), (client, operations.client)):
        for key in sorted(table):
            name, method, outcome = key
            labels: Labels = (("server", name), ("mcp_method_name", method), ("outcome", outcome))
            _histogram(family, labels, table[key])
    for name in sorted(operations.sessions):
        _histogram(sessions, (("server", name),), operations.sessions[name])
    return server, client, sessions


def _histogram(family: MetricFamily, labels: Labels, histogram: Histogram) -> None:
    cumulative = 0
    for bound, n in zip((*histogram.bounds, math.inf), histogram.counts, strict=True):
        cumulative += n
        family.add((*labels, ("le", formatValue(float(bound)))), cumulative, "_bucket")
    family.add(labels, histogram.sum, "_sum")
    family.add(labels, histogram.count, "_count")


def renderTeam(refusals: Mapping[tuple[int, str], int], throttled: Mapping[str, int]) -> bytes:
    """The metrics of a team gateway's door (docs/guide/team.md): requests the
    authentication gate refused, by HTTP status and reason (a bounded set
    of words, never a token or a name), and requests over a principal's
    limits (429), by kind (C{rate}, C{concurrency})."""
    refused = MetricFamily(
        PREFIX + "auth_refusals_total",
        "counter",
        "Requests refused by authentication, by HTTP status (400, 401, 403, 503) and reason.",
    )
    for (status, reason), count in sorted(refusals.items()):
        refused.add((("status", str(status)), ("reason", reason[:64])), count)
    limited = MetricFamily(
        PREFIX + "principal_throttled_total",
        "counter",
        "Requests refused (429) for being over a principal's limit, by kind (rate, concurrency).",
    )
    for kind, count in sorted(throttled.items()):
        limited.add((("kind", kind[:32]),), count)
    lines = [line for family in (refused, limited) for line in family.render()]
    return ("\n".join(lines) + "\n").encode("utf-8", "replace")


def renderDoor(refusals: Mapping[str, int]) -> bytes:
    """The metrics of the front door of a gateway that authenticates no one
    (docs/guide/security.md, "Who may connect"): connections and requests
    it refused, by reason (a bounded set of words: C{account}, C{absent},
    C{untold}, C{token-missing}, C{token-wrong}; never an account or an
    address)."""
    refused = MetricFamily(
        PREFIX + "door_refusals_total",
        "counter",
        "Connections refused because another account (or none the kernel could name) holds"
        " their other end, and requests refused for want of the owner token where the"
        " system cannot name an account, by reason.",
    )
    for reason, count in refusals.items():
        refused.add((("reason", reason[:32]),), count)
    return ("\n".join(refused.render()) + "\n").encode("utf-8", "replace")


def renderCluster(forwarded: Mapping[str, int], visiting: int) -> bytes:
    """The metrics of a cluster's replica (docs/guide/cluster.md): requests it
    forwarded to the replicas owning their sessions, by outcome (C{ok},
    C{unreachable}: served here or 404 instead, C{failed} after it was
    sent, C{cancelled} by the client), and the sessions of other replicas
    it serves now (their owner was down)."""
    counted = MetricFamily(
        PREFIX + "forwarded_requests_total",
        "counter",
        "Requests forwarded to the replica that owns their session, by outcome.",
    )
    for outcome, count in sorted(forwarded.items()):
        counted.add((("outcome", outcome[:32]),), count)
    visitors = MetricFamily(
        PREFIX + "visiting_sessions",
        "gauge",
        "Sessions of another replica served here (their owner was down).",
    )
    visitors.add((), visiting)
    lines = [line for family in (counted, visitors) for line in family.render()]
    return ("\n".join(lines) + "\n").encode("utf-8", "replace")

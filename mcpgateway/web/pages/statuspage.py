# -*- test-case-name: tests.web.pages.test_statuspage -*-
"""C{GET /}: the status page a person looks at (docs/guide/status-page.md).

Server-side HTML rendered from the read model
(L{mcpgateway.core.gateway.readmodel.ReadModel.status} and
L{mcpgateway.core.gateway.aggregateside.AggregateSide.status}): the gateway and its
tasks, each server with its state, scope, children, sessions by client,
requests, errors, restarts and circuit, the memory and processes it saves
(when the status has C{savings}), and the last stderr lines of a failing
server; what the restart that started the process kept (its children kept
with their memory, those started anew, the hand-over's time); the sessions
by client; the calls rate limits refused
(L{mcpgateway.governance.quotapage}). Readable without JavaScript. A few
lines of inline script (no build step, nothing fetched from elsewhere: the
page's Content-Security-Policy allows nothing else) follow C{GET
/status/events} (L{mcpgateway.web.pages.statusfeed}), whose every event
carries the page's data and its live part rendered here, and drive the buttons
(restart, enable, disable, reset circuit) through C{/api/v1}. Its icon is the
gateway's own too (L{mcpgateway.web.pages.favicon}).

CSRF: a browser's request that changes something through the API must carry
the C{X-Mcpgateway-Csrf} header (L{csrfRefusal}; the buttons send it). A page
of another origin cannot send that header (it would need a CORS preflight the
gateway never grants), and a form cannot send a header at all; clients that
are not browsers (no C{Origin}, no C{Sec-Fetch-*}: the CLI) need none. The
management API's own rules still apply behind it (loopback peer, C{Origin},
its token).

Every text that comes from outside (server names, client names, stderr lines,
errors) is escaped, stripped of terminal escapes and control characters, and
cut to a bounded length.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields, is_dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from twisted.internet.interfaces import IReactorTime
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from twisted.web.server import Request

from mcpgateway.config.problems import ConfigProblems
from mcpgateway.core import stats
from mcpgateway.core.eventlog import EventLog
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.status import Circuit, GatewayStatus, ServerState, ServerStatus, TaskCounts
from mcpgateway.core.stderrlines import telling
from mcpgateway.core.tasks.model import STATUSES as TASK_STATUSES
from mcpgateway.ops.anew import named
from mcpgateway.ops.seriessampler import seriesFor
from mcpgateway.protocol import jsonrpc
from mcpgateway.report.health import configLine
from mcpgateway.web.endpoints.guard import Refusal, header
from mcpgateway.web.pages.approvalspage import (
    APPROVALS_PATH,
    HeldCallsIfAny,
    heldCount,
    serveApprovals,
)
from mcpgateway.web.pages.consoleassets import serveAsset
from mcpgateway.web.pages.consolepage import renderPage as consolePage
from mcpgateway.web.pages.consolepage import setPageHeaders
from mcpgateway.web.pages.pinspage import pinsData, renderPins
from mcpgateway.web.pages.statusfeed import StatusFeed
from mcpgateway.web.pages.statusneeds import renderNeeds
from mcpgateway.web.plumbing.replies import jsonReply

if TYPE_CHECKING:
    from mcpgateway.governance.quotagate import QuotaGate  # loaded with call limits

PAGE_PATH = b"/"
STREAM_PATH = b"/status/events"
SERIES_PATH = b"/status/series"
ASSETS_PATH = b"/status/assets/"
CSRF_HEADER = "X-Mcpgateway-Csrf"
STDERR_LINES = 8
"""Stderr lines shown under a failing server."""
MAX_LINE = 300
"""Characters shown of one stderr line, error or reason."""
MAX_NAME = 120
"""Characters shown of a server's or a client's name."""
_SAFE_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS"})
_BROWSER_HEADERS = ("origin", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest")
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")
_FAILING = frozenset({ServerState.ERROR, ServerState.DEGRADED, ServerState.RESTARTING})


# -- CSRF --------------------------------------------------------------------


def fromBrowser(request: IRequest) -> bool:
    """Whether C{request} shows the headers every current browser sends
    with a request that changes something (C{Origin}, C{Sec-Fetch-*})."""
    return any(request.getHeader(name.encode("ascii")) is not None for name in _BROWSER_HEADERS)


def csrfRefusal(request: IRequest) -> Refusal | None:
    """Refuse a browser's request that changes something and lacks the
    C{X-Mcpgateway-Csrf} header (a cross-site form post, a page of another
    origin); C{None} lets it through."""
    if request.method in _SAFE_METHODS or not fromBrowser(request):
        return None
    if header(request, CSRF_HEADER.lower()):
        return None
    return 403, (
        f"a browser's request that changes something must carry the {CSRF_HEADER} header"
        " (the status page's buttons send it; a form or a page of another site cannot)"
    )


class CsrfRefused(Resource):
    """The API's answer to a request L{csrfRefusal} refused: 403, in the API's
    C{{"error": ...}} shape."""

    isLeaf = True

    def __init__(self, refusal: Refusal) -> None:
        super().__init__()
        self._refusal = refusal

    def render(self, request: IRequest) -> bytes:
        status, text = self._refusal
        return jsonReply(request, status, {"error": text})


# -- the page's data -----------------------------------------------------------


def clean(text: object, limit: int = MAX_LINE) -> str:
    """C{text} as one displayable line: terminal escapes and control
    characters gone (a tab is a space), cut to C{limit} characters."""
    value = text if isinstance(text, str) else _label(text)
    value = _CONTROL.sub("\ufffd", _ANSI.sub("", value.replace("\t", " ")))
    return value if len(value) <= limit else value[: limit - 1] + "\u2026"


def _label(value: object) -> str:
    """A name a client sent that is not a string (any JSON value)."""
    if value is None:
        return "(no name)"
    try:
        return jsonrpc.dumps(value)[: 4 * MAX_NAME].decode("utf-8", "replace")
    except (TypeError, ValueError):
        return type(value).__name__


class Trouble(NamedTuple):
    """What the read model does not say of a server's recent trouble, read
    off the gateway: its children's unexpected exits (crash or not) within
    its breaker's window (what makes a running server C{degraded}; a server
    whose child dies at start has none running, and is C{stopped}), and the
    client C{initialize} requests that failed (an answer without a session:
    the child could not start or did not answer its handshake), as the
    operation metrics count them."""

    recentExits: int = 0
    window: float = 300.0
    """Seconds the breaker remembers an exit (L{Breaker.window})."""
    failedInitializes: int = 0


_NO_TROUBLE = Trouble()


def troubles(gateway: Gateway) -> dict[str, Trouble]:
    """Each server's L{Trouble}, from its pool's breaker and the gateway's
    operation metrics (L{stats.operationsFor})."""
    failed: Counter[str] = Counter()
    for (server, method, outcome), histogram in stats.operationsFor(gateway.clock).server.items():
        if method == "initialize" and outcome not in ("ok", "cancelled"):
            failed[server] += histogram.count
    found: dict[str, Trouble] = {}
    for name, pool in gateway.pools.items():
        breaker = getattr(pool, "breaker", None)
        if breaker is None:
            found[name] = Trouble(failedInitializes=failed[name])
        else:
            found[name] = Trouble(breaker.recentFailures(), breaker.window, failed[name])
    return found


def failing(server: ServerStatus, trouble: Trouble | None = None) -> bool:
    """Whether a server is failing: in error, degraded or restarting, its
    circuit not closed, or (C{trouble}) a child of it exited unexpectedly
    within the breaker's window, running or not now."""
    return (
        server.state in _FAILING
        or server.circuit is not Circuit.CLOSED
        or bool(server.error)
        or (trouble is not None and trouble.recentExits > 0)
    )


def stderrTails(
    gateway: Gateway, status: GatewayStatus, trouble: Mapping[str, Trouble] | None = None
) -> dict[str, list[str]]:
    """The last stderr lines of each failing server (from its event log),
    after the first that looks like an error (L{telling})."""
    trouble = trouble or {}
    tails: dict[str, list[str]] = {}
    for name, server in status.servers.items():
        pool = gateway.pools.get(name)
        if pool is None or not failing(server, trouble.get(name)):
            continue
        lines = [event["text"] for event in pool.events.recent() if event.get("kind") == "stderr"]
        tails[name] = [clean(line) for line in telling(lines, STDERR_LINES)]
    return tails


def _byClient(status: GatewayStatus) -> Iterable[tuple[object, str, int, Iterable[int]]]:
    """(client name, server, sessions, their client pids), from the counts
    when the snapshot has them (L{mcpgateway.core.gateway.readmodel.ReadModel.status}
    without rows), else from the rows."""
    if status.counts is not None:
        for (client, server), (count, pids) in status.counts.clients.items():
            yield client, server, count, pids
        return
    for session in status.sessions:
        pid = session.clientPid
        yield session.client, session.server, 1, () if pid is None else (pid,)


def pageData(
    status: GatewayStatus,
    aggregate: Mapping[str, Any] | None = None,
    stderr: Mapping[str, list[str]] | None = None,
    trouble: Mapping[str, Trouble] | None = None,
) -> dict[str, Any]:
    """What the page shows, as JSON-ready data (every event of the stream
    carries it). C{stderr}: the tails of the failing servers (L{stderrTails});
    C{None} when they may not be shown (then each failing server says so).
    C{trouble}: each server's L{Trouble} (L{troubles}; none: no recent exits
    and no failed C{initialize} are shown)."""
    trouble = trouble or {}
    clients: Counter[tuple[str, str]] = Counter()
    byClient: dict[str, Counter[str]] = {}
    pids: dict[str, set[int]] = {}
    for client, serverName, count, clientPids in _byClient(status):
        name = clean(client, MAX_NAME)
        clients[(name, clean(serverName, MAX_NAME))] += count
        byClient.setdefault(serverName, Counter())[name] += count
        if clientPids:
            pids.setdefault(name, set()).update(clientPids)
    servers = []
    for name, server in status.servers.items():
        seen = trouble.get(name, _NO_TROUBLE)
        line: dict[str, Any] = {
            "key": name,
            "name": clean(name, MAX_NAME),
            "state": server.state.value,
            "share": server.share,
            "circuit": server.circuit.value,
            "disabled": server.disabled,
            "children": len(server.pids),
            "maxChildren": server.maxChildren,
            "sessions": server.sessions,
            "clients": dict(sorted(byClient.get(name, Counter()).items())),
            "requests": server.requests.count,
            "errors": sum(
                count for (_, outcome), count in server.requests.requests.items() if outcome != "ok"
            ),
            "inFlight": server.inFlight,
            "failedInitializes": seen.failedInitializes,
            "restarts": server.restarts,
            "failures": server.failures,
            "recentExits": seen.recentExits,
            "exitWindow": seen.window,
            "failing": failing(server, seen),
            "error": None if server.error is None else clean(server.error),
            "lastExit": None if server.lastExit is None else clean(server.lastExit),
            # The file its entry is written in: where its fix is made (statusneeds).
            "configFile": None if server.spec.configFile is None else clean(server.spec.configFile),
            "warning": None if server.warning is None else clean(server.warning),
            "login": server.login,
            "promoted": None if server.promoted is None else clean(server.promoted),
            "sandboxRefusals": [clean(note) for note in server.requests.sandboxRefusals],
            "savings": _serverSavings(status, name),
        }
        if line["failing"]:
            line["stderr"] = None if stderr is None else stderr.get(name, [])
        servers.append(line)
    return {
        "version": clean(status.version, 40),
        "pid": status.pid,
        "uptime": round(status.uptime, 1),
        "rssBytes": status.rssBytes,
        "sessions": status.sessionCount,
        "savings": _savings(getattr(status, "savings", None)),
        "servers": servers,
        "clients": [
            {
                "client": client,
                "server": server,
                "sessions": count,
                "pids": sorted(pids.get(client, ())),
            }
            for (client, server), count in sorted(clients.items())
        ],
        "aggregate": _aggregate(aggregate),
        "tasks": _tasks(getattr(status, "tasks", None)),
    }


def restartData(report: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the restart (or the crash's hand-over) that started this process
    did with the children (C{/health}'s C{restart}): how many it went on
    with (kept, with their memory), how many were started anew, each named
    with why (L{mcpgateway.ops.anew}), and how long the hand-over took
    (C{None}: not over yet); C{None} when no restart started this process."""
    if not isinstance(report, Mapping):
        return None

    def count(value: object) -> int:
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    seconds = report.get("seconds")
    took = round(seconds, 2) if isinstance(seconds, int | float) else None
    data: dict[str, Any] = {
        "kept": count(report.get("kept")),
        "started": count(report.get("started")),
        "seconds": took,
        "anew": [one.toJson() for one in named(report.get("anew"))],
    }
    if report.get("pending") is True:  # the children have not come yet
        data["pending"] = True
        if "from" in report:
            data["from"] = count(report["from"])
    return data


def _restartItem(restart: Mapping[str, Any]) -> str:
    """The gateway line's C{restart} item: the children kept and started
    anew, each of those named with why."""
    took = "" if restart["seconds"] is None else f", handed over in {restart['seconds']:.1f} s"
    children = "child" if restart["kept"] == 1 else "children"
    text = f"kept {restart['kept']} running {children}, {restart['started']} started anew{took}"
    if restart.get("pending"):
        source = f" from pid {restart['from']}" if restart.get("from") else ""
        text = f"handing over{source}: its running children come once its connections finished"
    anew = "".join(
        f"<li>{esc(one['server'])} (pid {one['pid']}): {esc(one['why'])}</li>"
        for one in restart.get("anew") or ()
    )
    listed = f'<ul class="anew">{anew}</ul>' if anew else ""
    return f'<div class="restart"><dt>restart</dt><dd>{esc(text)}{listed}</dd></div>'


def _tasks(tasks: TaskCounts | None) -> dict[str, int] | None:
    """The gateway's tasks by status word (C{None}: it serves none)."""
    if tasks is None:
        return None
    return {status: int(tasks.count(status)) for status in TASK_STATUSES}


def _aggregate(line: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if line is None:
        return None
    endpoints = line.get("endpoints") or []
    return {
        "sessions": int(line.get("sessions") or 0),
        "members": int(line.get("members") or 0),
        "endpoints": [clean(e, MAX_NAME) for e in endpoints if isinstance(e, str)],
    }


def _savings(savings: object) -> dict[str, Any] | None:
    """The scalar figures of a savings record (L{mcpgateway.core.status.Savings}
    or L{ServerSavings}): numbers, flags and short words."""
    if savings is None or not is_dataclass(savings) or isinstance(savings, type):
        return None
    out: dict[str, Any] = {}
    for f in fields(savings):
        value = getattr(savings, f.name)
        if value is None or isinstance(value, (bool, int, float)):
            out[f.name] = value
        elif isinstance(value, str):
            out[f.name] = clean(value, 40)
    return out


def _serverSavings(status: GatewayStatus, name: str) -> dict[str, Any] | None:
    savings = getattr(status, "savings", None)
    servers = getattr(savings, "servers", None)
    return _savings(servers.get(name)) if isinstance(servers, Mapping) else None


# -- HTML ----------------------------------------------------------------------


def esc(text: object) -> str:
    """C{text} escaped for HTML text and quoted attribute values."""
    return html.escape(str(text), quote=True)


def duration(seconds: float | None) -> str:
    """Seconds as a person reads them: C{45 s}, C{12 min}, C{3 h 5 min}, C{2 d 4 h}."""
    if seconds is None:
        return "\u2013"
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def size(count: float | None) -> str:
    """Bytes as MiB (or KiB under one MiB)."""
    if count is None:
        return "\u2013"
    if abs(count) < 1 << 20:
        return f"{count / 1024:.0f} KiB"
    return f"{count / (1 << 20):.1f} MiB"


def _savingsText(savings: Mapping[str, Any] | None, whole: bool = True) -> str | None:
    """What a savings line says: processes and memory avoided (and how
    memory was measured), the npx/uvx wrappers avoided, or why nothing
    (C{whole}: the gateway's line; a server's says nothing then)."""
    if not savings:
        return None
    processes = savings.get("processesAvoided")
    memory = savings.get("memoryAvoidedBytes")
    if "sampledAt" in savings and savings["sampledAt"] is None:
        return "not measured yet"
    if not (isinstance(processes, int) and processes > 0):
        return "nothing yet (no server has more sessions than children)" if whole else None
    parts = [f"{processes} process{'es' if processes != 1 else ''}"]
    if isinstance(memory, (int, float)) and memory > 0:
        measure = savings.get("measure")
        parts.append(size(memory) + (f" ({measure.upper()})" if isinstance(measure, str) else ""))
    text = " and ".join(parts)
    wrappers = savings.get("wrappersAvoided")
    if isinstance(wrappers, int) and wrappers > 0:
        counted = savings.get("wrappersCounted", savings.get("wrapperBytes") is not None)
        text += f", {wrappers} npx/uvx wrapper{'s' if wrappers != 1 else ''} among them"
        if not counted:
            text += " (their memory not counted: never measured)"
    return text


TASK_WORDS = (
    ("working", "running"),
    ("input_required", "input required"),
    ("completed", "done"),
    ("failed", "failed"),
    ("cancelled", "cancelled"),
)
"""How the gateway's line names each task status (cancelled only when some are)."""


def _tasksItem(tasks: Mapping[str, int]) -> str:
    """The gateway's line's C{tasks}: running, input required, done and
    failed (in red when some did), and cancelled when some were."""
    parts = []
    for status, word in TASK_WORDS:
        n = tasks.get(status, 0)
        if status == "cancelled" and not n:
            continue
        text = esc(f"{n} {word}")
        parts.append(f'<span class="bad">{text}</span>' if status == "failed" and n else text)
    return f'<div class="tasks"><dt>tasks</dt><dd>{", ".join(parts)}</dd></div>'


def _clientsCell(clients: Mapping[str, int]) -> str:
    if not clients:
        return ""
    return (
        '<span class="sub">'
        + ", ".join(f"{esc(name)}\u00a0\u00d7{count}" for name, count in clients.items())
        + "</span>"
    )


def _exitsCell(server: Mapping[str, Any]) -> str:
    """Under the state: the unexpected exits of the breaker's window (a
    server whose child dies at start is C{stopped}, and failing)."""
    exits = server.get("recentExits", 0)
    if not exits:
        return ""
    window = duration(server.get("exitWindow"))
    return (
        f'<span class="sub bad">{exits} unexpected exit{"s" if exits != 1 else ""}'
        f" in {window}</span>"
    )


def _errorsCell(errors: int, failedInitializes: int) -> str:
    """The errors, in red only when there are some (a red C{0} reads as
    trouble that is not there), and under them the failed C{initialize}
    requests, when there are some."""
    cell = f'<span class="bad">{errors}</span>' if errors else "0"
    if failedInitializes:
        cell += f'<span class="sub">{failedInitializes} initialize failed</span>'
    return cell


def _buttons(server: Mapping[str, Any]) -> str:
    name = esc(server["key"])
    toggle = ("enable", "Enable") if server["disabled"] else ("disable", "Disable")
    reset = "" if server["circuit"] != "closed" else " disabled"
    tryIt = (
        ""
        if server["disabled"]
        else f'<button type="button" data-action="try" data-server="{name}">Try</button>'
    )
    return (
        f'<button type="button" data-action="logs" data-server="{name}">Log</button>{tryIt}'
        f'<button type="button" data-action="restart" data-server="{name}">Restart</button>'
        f'<button type="button" data-action="{toggle[0]}" data-server="{name}">{toggle[1]}'
        "</button>"
        f'<button type="button" data-action="reset-circuit" data-server="{name}"{reset}>'
        "Reset circuit</button>"
    )


def _serverRows(server: Mapping[str, Any], controls: bool) -> str:
    name = esc(server["name"])
    key = esc(server["key"])
    state = esc(server["state"])
    children = str(server["children"])
    if server["share"] in ("workspace", "credential"):
        children += f"/{server['maxChildren']}"
    circuit = esc(server["circuit"])
    errors = server["errors"]
    failedInitializes = server.get("failedInitializes", 0)
    saved = _savingsText(server.get("savings"), whole=False)
    cells = [
        f'<th scope="row">{name}</th>',
        f'<td><span class="state {state}">{state}</span>{_exitsCell(server)}</td>',
        f"<td>{esc(server['share'])}</td>",
        f"<td>{children}</td>",
        f"<td>{server['sessions']}{_clientsCell(server['clients'])}</td>",
        f"<td>{server['requests']}"
        + (f'<span class="sub">{server["inFlight"]} in flight</span>' if server["inFlight"] else "")
        + "</td>",
        f"<td>{_errorsCell(errors, failedInitializes)}</td>",
        f"<td>{server['restarts']}</td>",
        f'<td><span class="circuit {circuit}">{circuit}</span></td>',
        f"<td>{esc(saved) if saved else ''}</td>",
    ]
    if controls:
        cells.append(f'<td class="actions">{_buttons(server)}</td>')
    row = f'<tr class="server" data-server="{key}">' + "".join(cells) + "</tr>"
    details = []
    if server.get("login") == "needed":
        details.append(
            f'<p class="bad login">needs login: run <code>mcpgateway login {name}</code></p>'
        )
    for field, label in (("error", "error"), ("lastExit", "last exit"), ("warning", "warning")):
        if server.get(field) and (field != "lastExit" or server["failing"]):
            details.append(f"<p><b>{label}:</b> {esc(server[field])}</p>")
    if server["failing"]:
        stderr = server.get("stderr")
        if stderr is None:
            details.append(
                '<p class="sub">stderr not shown: the management API has a token;'
                f" read it with <code>mcpgateway logs {name}</code></p>"
            )
        elif stderr:
            details.append(
                '<pre class="stderr" aria-label="last stderr lines">'
                + "\n".join(esc(line) for line in stderr)
                + "</pre>"
            )
        else:
            details.append('<p class="sub">no stderr lines</p>')
    if details:
        span = 11 if controls else 10
        row += (
            f'<tr class="details" data-server="{key}"><td colspan="{span}">'
            + "".join(details)
            + "</td></tr>"
        )
    return row


def renderLive(data: Mapping[str, Any], controls: bool = True) -> str:
    """The part of the page the stream replaces: the gateway's line (its
    tasks too, when it serves them), the servers, the clients, the
    aggregate endpoint, the pinned tools and the rate limits."""
    saved = _savingsText(data.get("savings"))
    out = [
        '<section class="summary"><dl>',
        f"<div><dt>version</dt><dd>{esc(data['version'])}</dd></div>",
        f"<div><dt>pid</dt><dd>{data['pid']}</dd></div>",
        f"<div><dt>uptime</dt><dd>{duration(data['uptime'])}</dd></div>",
        f"<div><dt>memory</dt><dd>{size(data['rssBytes'])}</dd></div>",
        f"<div><dt>sessions</dt><dd>{data['sessions']}</dd></div>",
        f"<div><dt>servers</dt><dd>{len(data['servers'])}</dd></div>",
    ]
    if saved:
        out.append(f'<div class="saved"><dt>saved</dt><dd>{esc(saved)}</dd></div>')
    tasks = data.get("tasks")
    if tasks:
        out.append(_tasksItem(tasks))
    restart = data.get("restart")
    if restart:
        out.append(_restartItem(restart))
    out.append("</dl></section>")
    out.append('<section><h2>Servers</h2><div class="scroll"><table class="servers"><thead><tr>')
    heads = [
        "server",
        "state",
        "scope",
        "children",
        "sessions",
        "requests",
        "errors",
        "restarts",
        "circuit",
        "saved",
    ]
    if controls:
        heads.append("actions")
    out.append("".join(f'<th scope="col">{h}</th>' for h in heads))
    out.append("</tr></thead><tbody>")
    if not data["servers"]:
        out.append(f'<tr><td colspan="{len(heads)}">no servers configured</td></tr>')
    out.extend(_serverRows(server, controls) for server in data["servers"])
    out.append("</tbody></table></div></section>")
    out.append("<section><h2>Clients</h2>")
    if data["clients"]:
        out.append(
            '<div class="scroll"><table class="clients"><thead><tr><th scope="col">client</th>'
            '<th scope="col">pids</th><th scope="col">server</th>'
            '<th scope="col">sessions</th></tr></thead><tbody>'
        )
        for row in data["clients"]:
            pids = ", ".join(str(pid) for pid in row["pids"]) or "\u2013"
            out.append(
                f"<tr><td>{esc(row['client'])}</td><td>{pids}</td>"
                f"<td>{esc(row['server'])}</td><td>{row['sessions']}</td></tr>"
            )
        out.append("</tbody></table></div>")
    else:
        out.append('<p class="sub">no sessions open</p>')
    out.append("</section>")
    aggregate = data.get("aggregate")
    if aggregate is not None:
        endpoints = ", ".join(esc(e) for e in aggregate["endpoints"]) or "none named"
        out.append(
            "<section><h2>Aggregate endpoint <code>/mcp</code></h2>"
            f"<p>{aggregate['sessions']} session(s), {aggregate['members']} member"
            f" session(s) open; endpoints: {endpoints}</p></section>"
        )
    pins = data.get("pins")
    if not (pins and pins["changes"]):  # changes waiting are shown with what needs a person
        out.append(renderPins(pins, controls))
    limits = data.get("limits")
    if limits:  # calls refused by a rate limit
        from mcpgateway.governance.quotapage import renderQuotas

        out.append(renderQuotas(limits))
    return "".join(out)


def renderPage(data: Mapping[str, Any], controls: bool = True) -> bytes:
    """The whole page: C{controls} says whether it has buttons and the
    panels that use the management API (it is mounted)."""
    held = (data.get("approvals") or {}).get("pending", 0)
    needs, live = renderNeeds(data, controls), renderLive(data, controls)
    return consolePage(needs, live, STREAM_PATH.decode(), controls, held)


def limitsData(gate: QuotaGate | None) -> dict[str, Any] | None:
    """The page's limits part (L{mcpgateway.governance.quotapage.quotasData});
    C{None} without call limits, which then never load governance."""
    if gate is None:
        return None
    from mcpgateway.governance.quotapage import quotasData

    return quotasData(gate)


# -- the resource --------------------------------------------------------------


class StatusPage(Resource):
    """Serves C{GET /} (the page), C{GET /status/events} (its stream),
    C{GET /status/series} (its plots' data: L{mcpgateway.ops.timeseries}),
    C{GET /status/assets/<name>} (its style and scripts) and C{GET
    /status/approvals} (the held calls' page:
    L{mcpgateway.web.pages.approvalspage}); mounted by
    L{mcpgateway.web.root.GatewayRoot}, behind the same door as C{/sessions}
    on a team gateway."""

    isLeaf = True

    def __init__(
        self,
        gateway: Gateway,
        clock: IReactorTime,
        controls: bool = True,
        stderrShown: Callable[[], bool] = lambda: True,
        limits: Callable[[], QuotaGate | None] = lambda: None,
        config: Callable[[], ConfigProblems] | None = None,
        approvals: HeldCallsIfAny = lambda: None,
    ) -> None:
        """
        @param approvals: the gateway's held calls (C{None}: none made).
        @param config: what the config holds that the gateway cannot use
            (C{None}: nothing known), which the page lists as C{/health}
            does.
        @param controls: whether the page has buttons (C{/api/v1} is mounted).
        @param stderrShown: whether a failing server's stderr lines may be
            shown (not when the management API, which serves them, has a
            token the page's viewer did not give).
        @param limits: the rate limits of calls now (C{None}: none), whose
            refusals the page shows as C{/health} does.
        """
        super().__init__()
        self._gateway = gateway
        self._controls = controls
        self._stderrShown = stderrShown
        self._limits = limits
        self._config = config
        self._approvals = approvals
        self._clock = clock
        self.feed = StatusFeed(clock, self._event, self._eventLogs)
        self.series = seriesFor(gateway, clock)
        """The plots' data; sampled from the page's first request on when
        no service samples it already (L{mcpgateway.ops.seriessampler.SeriesService})."""

    def data(self) -> dict[str, Any]:
        """The page's data now."""
        gateway = self._gateway
        status = gateway.readModel.status(rows=False, byClient=True)  # counts by client, no rows
        trouble = troubles(gateway)
        stderr = stderrTails(gateway, status, trouble) if self._stderrShown() else None
        report = getattr(gateway.spawner.adoptions, "report", None)  # a restart started it
        return {
            **pageData(status, gateway.aggregateSide.status(), stderr, trouble),
            "pins": pinsData(gateway),
            "limits": limitsData(self._limits()),
            "restart": None if report is None else restartData(report()),
            "config": None if self._config is None else configLine(self._config()),
            "approvals": heldCount(self._approvals()),
        }

    def _event(self) -> dict[str, Any]:
        data = self.data()
        return {
            "html": renderLive(data, self._controls),
            "needs": renderNeeds(data, self._controls),
            "status": data,
        }

    def _eventLogs(self) -> Iterable[EventLog]:
        return [pool.events for pool in self._gateway.pools.values()]

    def render(self, request: Request) -> bytes | int:
        if request.method not in (b"GET", b"HEAD"):
            request.setHeader(b"allow", b"GET, HEAD")
            return jsonReply(request, 405, {"error": "only GET is allowed here"})
        path = request.path
        self.series.start()
        if path == STREAM_PATH:
            return self.feed.watch(request)
        if path == SERIES_PATH:
            return self._seriesReply(request)
        if path.startswith(ASSETS_PATH):
            return serveAsset(request, path[len(ASSETS_PATH) :].decode("utf-8", "replace"))
        if path == APPROVALS_PATH or path.startswith(APPROVALS_PATH + b"/"):
            now = self._clock.seconds()
            return serveApprovals(request, self._approvals(), now, self._controls)
        if path != PAGE_PATH:
            return jsonReply(request, 404, {"error": "not found"})
        setPageHeaders(request)
        return renderPage(self.data(), self._controls)

    def _seriesReply(self, request: Request) -> bytes:
        """The plots' data: C{?span=day} the last day by minute, else the
        last hour, and the clock's now (L{mcpgateway.ops.timeseries.SeriesRecorder.export})."""
        given = (request.args or {}).get(b"span") or [b"hour"]
        span = "day" if given[0] == b"day" else "hour"
        request.setHeader(b"cache-control", b"no-store")
        return jsonReply(request, 200, self.series.export(span))

# -*- test-case-name: tests.core.test_status -*-
"""The one read model: what the gateway, each server and each session are doing.

L{mcpgateway.core.pools.serverpool.ServerPool.status} and
L{mcpgateway.core.gateway.readmodel.ReadModel.status} take a frozen snapshot of the live
objects; every renderer (C{/health}, C{/sessions}, C{/metrics}, the
management API, the manhole) reads the snapshot instead of walking pools,
upstreams and routers, and the quantities derived from it (pids, restarts,
requests in flight, bytes, uptime, mean time between failures, the
refused-request warning) are computed here, once.

The states are enums whose values are the words C{/health} and C{/metrics}
show (a member compares equal to its word, so a reader of the JSON, a test
or the manhole prompt sees the same strings); inside the package, compare
with the members.

Pure: no Twisted, no I/O; anything may import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from mcpgateway.core.spec import DEFAULT_MAX_CHILDREN, ServerSpec, Sharing

__all__ = [
    "ChildStatus",
    "Circuit",
    "Era2026Stats",
    "GatewayStatus",
    "Lifecycle",
    "RequestSnapshot",
    "Resolution",
    "Savings",
    "ServerSavings",
    "ServerState",
    "ServerStatus",
    "SessionStatus",
    "TaskCounts",
]


class Lifecycle(StrEnum):
    """Where one child of a server (an upstream) is in its life."""

    STOPPED = "stopped"
    """No child: never started, exited, or stopped."""
    STARTING = "starting"
    """Spawned; a shared child is being initialized by the gateway."""
    RUNNING = "running"
    """Serving requests."""
    RESTARTING = "restarting"
    """Waiting out the restart backoff before the next spawn."""


class ServerState(StrEnum):
    """What a configured server is doing, all its children taken together
    (see docs/guide/operations.md for what moves a server between them)."""

    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    DEGRADED = "degraded"
    """Running, with an unexpected exit within the breaker's window."""
    ERROR = "error"
    """Its command is not found, or its circuit is open."""
    RESTARTING = "restarting"
    DISABLED = "disabled"
    """Disabled through the management API (or its config)."""
    CATALOG = "catalog"
    """No child runs; its sessions were answered from its saved catalog
    (L{mcpgateway.core.pools.fromcatalog}): the child starts at the first
    request the catalog cannot answer."""


class Circuit(StrEnum):
    """The state of a server's circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    """Requests are refused at once, with the reason."""
    HALF_OPEN = "half-open"
    """The cool-down has passed: one attempt is let through."""


@dataclass
class CatalogCounts:
    """What a shared pool answered from its saved catalog while its child
    did not run (L{mcpgateway.core.pools.fromcatalog}), for C{/health} and
    C{/metrics}."""

    startups: int = 0
    """Client start-ups (C{initialize}, C{server/discover}) answered from it."""
    answers: int = 0
    """Every request answered from it, the start-ups included."""


@dataclass
class Era2026Stats:
    """Counters of one server's 2026 traffic (MCP 2026-07-28 requests,
    L{mcpgateway.core.era2026}), kept by its pool and shown as they are by
    C{/health} and C{/metrics}."""

    requests: int = 0
    inputRounds: int = 0
    inputExpired: int = 0
    badRequestStates: int = 0
    listenStreams: int = 0
    suspendedCalls: int = 0
    refusedServerRequests: int = 0
    """The child's questions refused because a 2026 client could not be
    asked them (L{mcpgateway.core.era2026.mrtr.InputBridge})."""
    clients: int = 0
    """Its 2026 callers seen lately (L{mcpgateway.core.era2026.callers}):
    clients without a session, each of which would launch the server itself
    without the gateway; a lower bound (two processes that send the same
    C{clientInfo} name and no pid are one)."""


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where the resolution of an C{npx}/C{uvx} command to its real binary is."""

    state: str
    """C{pending}, C{failed} or C{resolved}."""
    detail: str


@dataclass(frozen=True, slots=True)
class ChildStatus:
    """One child of a server (an upstream: it may have no process right now)."""

    pid: int | None
    """The pid of its live process, if it has one."""
    lifecycle: Lifecycle
    startedAt: float | None
    """When its live process was spawned; C{None} without one."""
    spawns: int
    """Processes spawned for it so far."""
    inFlight: int
    """Client requests waiting for it (the gateway's own are not counted)."""
    bytesIn: int
    """Bytes read from its live process (exited ones count in L{RequestSnapshot})."""
    bytesOut: int
    lastExit: str | None
    """Why its last process went away."""
    owner: str | None
    """The id of the session it belongs to (a per-session child), else C{None}."""
    scopes: tuple[str, ...] = ()
    """The route keys (C{""}: the global route) and credential keys it
    serves (keyed hashes, never a path or a value)."""
    sessions: int = 0
    """Sessions attached to it."""
    principal: str = ""
    """The key of the principal it is the child of (a per-user or
    credential-scoped server under authentication); C{""}: anyone's."""


@dataclass(frozen=True, slots=True)
class RequestSnapshot:
    """A copy of a server's request statistics (L{mcpgateway.core.stats.RequestStats})."""

    requests: Mapping[tuple[str, str], int]
    """Requests ended, by (MCP method or C{other}, outcome)."""
    count: int
    sum: float
    """Seconds, summed over every request ended."""
    bucketCounts: tuple[int, ...]
    """The latency histogram, per bucket (not cumulative), C{+Inf} last."""
    lateReplies: int
    ambiguousServerRequests: int
    bytesIn: int
    """Bytes read from children that have exited."""
    bytesOut: int
    sandboxRefusals: tuple[str, ...] = ()
    """What its sandbox likely refused its tool calls, a line each (the
    first few: L{mcpgateway.core.stats.RequestStats.refused})."""


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """One configured server and its children, at one moment (L{now})."""

    name: str
    sharing: Sharing
    state: ServerState
    circuit: Circuit
    children: tuple[ChildStatus, ...]
    sessions: int
    """Open sessions on this server."""
    requests: RequestSnapshot
    failures: int
    """Every unexpected exit of a child so far, crash or not."""
    created: float
    """When the server was configured (its pool made)."""
    now: float
    disabled: bool
    resolution: Resolution | None
    error: str | None
    """Why it is in L{ServerState.ERROR}."""
    launch: tuple[str, ...] | None
    """The real command line its children start with, when it is not the
    configured one (an C{npx}/C{uvx} command resolved to its binary)."""
    spec: ServerSpec = field(repr=False)
    """The server as configured (its env holds secrets: render its keys only)."""
    maxChildren: int = DEFAULT_MAX_CHILDREN
    """Most children of a workspace- or credential-scoped server at once."""
    waits: int = 0
    """Requests that found the pool full with nothing idle and waited for a child."""
    waitTimeouts: int = 0
    """Of those, the ones that waited their whole timeout (answered with an error)."""
    evictions: int = 0
    """Idle children stopped to make room for another (least recently used first)."""
    promoted: str | None = None
    """Why new sessions get a child of their own (the server was promoted to
    C{session}), else C{None}."""
    era2026: str | None = None
    """Why it does not serve MCP 2026-07-28 clients (C{None}: it does)."""
    era2026Stats: Era2026Stats = field(default_factory=Era2026Stats)
    """Its 2026 traffic's counters."""
    login: str | None = None
    """A remote server's OAuth login for the gateway itself: C{"ok"} (a
    grant is held), C{"needed"} (it refused a request for want of one),
    C{None} (it never asked, or it is not remote)."""
    catalogStartups: int = 0
    """Client start-ups answered from its saved catalog, no child started."""
    catalogAnswers: int = 0
    """Every request answered from its saved catalog (start-ups included)."""

    @property
    def share(self) -> str:
        """Its C{"share"} word: C{global}, C{workspace}, C{credential} or C{session}."""
        return self.sharing.value

    @property
    def perUser(self) -> bool:
        """Whether each authenticated principal gets children of its own
        (C{"perUser": true}, or the C{credential} share:
        L{ServerSpec.perPrincipal}): why a C{global} server may run a child
        per user."""
        return self.spec.perPrincipal

    @property
    def pids(self) -> list[int]:
        """The pids of the live children."""
        return [child.pid for child in self.children if child.pid is not None]

    @property
    def principalChildren(self) -> dict[str, int]:
        """Its children by the key of the principal they serve (a per-user
        or credential-scoped server under authentication; empty otherwise)."""
        counts: dict[str, int] = {}
        for child in self.children:
            if child.principal:
                counts[child.principal] = counts.get(child.principal, 0) + 1
        return counts

    @property
    def restarts(self) -> int:
        """Children started again after the previous one of theirs exited."""
        return sum(max(0, child.spawns - 1) for child in self.children)

    @property
    def inFlight(self) -> int:
        """Client requests waiting for a child."""
        return sum(child.inFlight for child in self.children)

    @property
    def bytesIn(self) -> int:
        """Bytes read from the children, exited ones included."""
        return self.requests.bytesIn + sum(child.bytesIn for child in self.children)

    @property
    def bytesOut(self) -> int:
        """Bytes written to the children, exited ones included."""
        return self.requests.bytesOut + sum(child.bytesOut for child in self.children)

    @property
    def lastExit(self) -> str | None:
        """Why a child last went away (the first child that says)."""
        return next((child.lastExit for child in self.children if child.lastExit), None)

    @property
    def startedAt(self) -> float | None:
        """When the longest-running live child was spawned."""
        started = [child.startedAt for child in self.children if child.startedAt is not None]
        return min(started) if started else None

    @property
    def uptime(self) -> float | None:
        """Seconds the longest-running live child has run."""
        started = self.startedAt
        return self.now - started if started is not None else None

    @property
    def mtbf(self) -> float | None:
        """Mean seconds between failures since the server was configured."""
        return (self.now - self.created) / self.failures if self.failures else None

    @property
    def warning(self) -> str | None:
        """Why a shared server should run per session, if its children asked
        questions that could not be routed."""
        ambiguous = self.requests.ambiguousServerRequests
        if not ambiguous:
            return None
        return (
            f"{ambiguous} sampling/elicitation request(s) of this shared server were"
            " refused: several sessions used its child, so the session each was for could"
            ' not be proven; run this server per session ("share": "session")'
        )


@dataclass(frozen=True, slots=True)
class SessionStatus:
    """One client session (a row of C{GET /sessions})."""

    id: str
    server: str
    clientPid: int | None
    client: object
    """The name in the client's C{clientInfo}, as it sent it."""
    protocolVersion: str
    sharing: Sharing
    childPid: int | None
    """The pid of the child serving it."""
    created: float
    lastActivity: float
    """When it, or another session of the same client process, was last active."""
    inFlight: int
    """Its requests waiting for its child."""
    getStream: bool
    """Whether it has a standalone GET stream open."""
    scope: str = ""
    """The route key it came through (C{""}: the server's global route)."""
    credential: str = ""
    """The keyed hash of the credentials it gave (C{""}: none)."""
    principal: str = ""
    """The key of the principal that opened it (C{""}: no authentication)."""
    visiting: bool = False
    """Served here for another replica of a cluster that owns it and does
    not answer (rebuilt from its sealed id, never saved)."""
    members: tuple[str, ...] | None = None
    """An aggregate session's (C{/mcp}) open member servers; C{None}: not one."""


@dataclass(frozen=True, slots=True)
class ServerSavings:
    """What one server's children cost, and what sharing them saves
    (estimated by L{mcpgateway.ops.savings}; docs/guide/operations.md, "What it
    saves")."""

    sessions: int
    """Sessions it serves: its own, and aggregate (C{/mcp}) sessions that
    opened it as a member; and the MCP 2026-07-28 clients that used it
    lately (L{Era2026Stats.clients}), which open none: each would start a
    launch of its own without the gateway."""
    children: int
    """Its children with a live process."""
    processes: int
    """Processes its children run, their descendants included (as sampled)."""
    pssBytes: int | None
    """Their proportional memory (C{None}: unreadable, or not sampled yet)."""
    rssBytes: int | None
    """Their resident memory."""
    cpuSeconds: float | None
    """CPU time its live children's processes have used."""
    processesPerLaunch: float
    """Processes one launch of the server runs (measured; 1 until sampled)."""
    bytesPerLaunch: int | None
    """The memory one launch takes: the mean over its children (PSS, or RSS
    where PSS cannot be read); the last measure while none runs; C{None}:
    never measured."""
    measure: str | None
    """What L{bytesPerLaunch} is: C{"pss"}, C{"rss"} or C{"pss+rss"}."""
    wrapper: str | None
    """C{"npx"} or C{"uvx"} when its entry runs through that wrapper."""
    wrappersAvoided: int
    """The wrapper processes its sessions' own launches would have run, that
    the gateway does not (the entry resolved to the real binary): per
    launch, as many as measured on a launch of that wrapper the gateway
    ran (C{npx}: npm's node process and its C{sh -c}), else one."""
    wrapperBytes: int | None
    """What the wrappers of one launch take, measured on a launch of that
    wrapper the gateway ran; C{None}: never measured (not counted)."""
    processesAvoided: int
    """What the same sessions would have run with a launch each, minus what
    runs: negative while children serve no session."""
    memoryAvoidedBytes: int | None
    """The memory of those processes (C{None}: not measured yet)."""
    processesWithout: int = 0
    """What its sessions would start with a launch each: per session, one
    launch at idle after its start (and the wrappers avoided)."""
    pssWithout: int | None = None
    """Their memory, as PSS (C{None}: not measured)."""
    rssWithout: int | None = None
    """Their memory, as RSS (C{None}: not measured)."""


@dataclass(frozen=True, slots=True)
class Savings:
    """What the gateway saves its clients, all servers taken together."""

    sampledAt: float | None
    """When the children were last measured (C{None}: not yet)."""
    measure: str | None
    """What memory is: C{"pss"}, C{"rss"} (PSS unreadable) or C{"pss+rss"}
    (C{None}: nothing measured yet)."""
    processesAvoided: int
    memoryAvoidedBytes: int
    """The servers' figures known so far, summed."""
    wrappersAvoided: int
    wrappersCounted: bool
    """Whether the avoided wrappers' memory is in L{memoryAvoidedBytes}
    (only when the gateway measured a wrapper of that kind)."""
    gatewayBytes: int | None
    """The gateway's own process's memory (PSS, else RSS), within
    L{memoryUsed}."""
    servers: Mapping[str, ServerSavings] = field(default_factory=dict)
    processesUsed: int | None = None
    """What runs: the gateway's process and every process below it (the
    sandbox's, the wrappers', what the servers spawned), as sampled
    (C{None}: not sampled yet). L{processesAvoided} is L{processesWithout}
    minus this."""
    processesWithout: int | None = None
    """What the same sessions would start without the gateway: the servers'
    L{ServerSavings.processesWithout}, summed."""
    memoryUsed: int | None = None
    """The memory of L{processesUsed}, in L{measure} (C{None}: not sampled)."""
    memoryWithout: int | None = None
    """The memory of L{processesWithout}, in L{measure}.
    L{memoryAvoidedBytes} is this minus L{memoryUsed}."""


@dataclass(frozen=True, slots=True)
class TaskCounts:
    """The gateway's tasks (the Tasks extension, docs/guide/tasks.md) at one
    moment: what C{/health}, C{/metrics}, the status page and
    C{mcpgateway status} show of them."""

    byStatus: Mapping[str, int]
    """Tasks kept, by status word (C{working}, C{input_required},
    C{completed}, C{failed}, C{cancelled}: each, in that order)."""
    created: int = 0
    """Tasks made since the gateway started."""
    fastAnswers: int = 0
    """Calls that could have become tasks and were answered in time instead."""

    def count(self, status: str) -> int:
        """How many tasks are in C{status} (0 for a word it does not know)."""
        return self.byStatus.get(status, 0)


@dataclass(frozen=True, slots=True)
class SessionCounts:
    """The sessions counted, without a row each (what C{/health} shows)."""

    total: int
    visiting: int = 0
    """Another cluster replica's sessions served here."""
    members: Mapping[str, int] = field(default_factory=dict)
    """Server -> the aggregate sessions that opened it as a member."""
    clients: Mapping[tuple[object, str], tuple[int, frozenset[int]]] = field(default_factory=dict)
    """(the client's C{clientInfo.name}, server) -> its sessions and their
    client pids (what the status page shows by client; empty unless the
    snapshot was asked for them)."""


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    """The whole gateway at one moment (L{now}).

    C{sessions} has a row per session, unless the snapshot was taken
    without them (C{ReadModel.status(rows=False)}: C{/health} shows counts
    only, and a row costs microseconds a session); C{counts} then holds
    what the rows would have added up to."""

    version: str
    pid: int
    started: float
    now: float
    rssBytes: int | None
    """The gateway's resident memory, if C{/proc} says."""
    servers: Mapping[str, ServerStatus]
    """By name, in configuration order."""
    sessions: tuple[SessionStatus, ...]
    savings: Savings | None = None
    """What sharing children saves, as last sampled (C{None}: not sampled)."""
    tasks: TaskCounts | None = None
    """Its tasks by status (C{None}: the gateway does not serve tasks)."""
    counts: SessionCounts | None = None
    """The sessions counted (C{None}: count C{sessions})."""

    @property
    def uptime(self) -> float:
        """Seconds since the gateway started."""
        return self.now - self.started

    @property
    def sessionCount(self) -> int:
        """How many sessions are open."""
        return len(self.sessions) if self.counts is None else self.counts.total

    @property
    def visitingCount(self) -> int:
        """How many of them are another replica's (docs/guide/cluster.md)."""
        if self.counts is not None:
            return self.counts.visiting
        return sum(1 for session in self.sessions if session.visiting)

    def memberSessions(self) -> dict[str, int]:
        """Server -> the aggregate sessions that opened it as a member."""
        if self.counts is not None:
            return dict(self.counts.members)
        members: dict[str, int] = {}
        for session in self.sessions:
            for member in session.members or ():
                members[member] = members.get(member, 0) + 1
        return members

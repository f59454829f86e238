# -*- test-case-name: tests.ops.test_savings,tests.ops.test_savings_figure -*-
"""What sharing children saves: processes and memory avoided.

A L{SavingsSampler} measures the gateway's whole process tree and every
child of every server every L{SAMPLE_INTERVAL} seconds: the child's process
and its descendants (an C{npx} wrapper's server, a shell's command), their PSS (RSS where PSS cannot
be read), RSS and CPU time, read from C{/proc} through L{mcpgateway.runtime.procfs}
in the reactor's thread pool, never on the reactor thread (C{smaps_rollup}
walks page tables). The reactor thread only keeps the last sample;
L{SavingsSampler.estimate} combines it with a L{GatewayStatus} (the sessions
each server serves now) into a L{Savings} record, with no I/O.

The figure (docs/guide/operations.md, "What it saves") is one comparison,
made here only (L{savingsOf}) and read by C{/health}, C{/metrics},
C{mcpgateway status}, the status page and the console's plots:

  - what runs: the gateway's process and every process below it at the
    last sample (L{Sample.running}): the sandbox's C{bwrap} processes and
    helpers, wrappers, and whatever a server spawned (a browser a tool call
    opened) included;
  - what the same sessions would start without it: for each server, each
    of its sessions (its own, and the aggregate C{/mcp} sessions that
    opened it as a member) and each MCP 2026-07-28 client that used it
    lately (it opens no session, and would launch the server itself:
    L{mcpgateway.core.status.Era2026Stats.clients}, a lower bound) runs
    one launch, costed as the first sample
    that saw a child initialized measured it (below its sandbox, without
    the sandbox's helpers), never what the child spawned later; plus the
    wrapper processes of a launch per session when the entry's
    C{npx}/C{uvx} was resolved to the real binary: as many as measured on
    a launch of that wrapper the gateway ran itself, else one;
  - memory is PSS on both sides when every process's PSS was read, else
    RSS on both sides.

A remote server (an MCP server's URL, an OpenAPI service) runs no process,
and its sessions would run none: it avoids nothing. A server no session
uses adds nothing to what the sessions would start. The last measure of a
server is kept while it has no child (stopped when idle: its sessions' own
launches would still run).
L{mcpgateway.report.savings.savingsLines} renders the figures for C{/metrics}.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.status import (
    GatewayStatus,
    Lifecycle,
    Savings,
    ServerSavings,
    ServerStatus,
)
from mcpgateway.runtime import logs, procfs
from mcpgateway.runtime.threads import RunInThread
from mcpgateway.runtime.timers import Every
from mcpgateway.sandbox.proxyplan import FORWARDER

__all__ = [
    "LaunchCost",
    "ProcessCost",
    "Sample",
    "SavingsSampler",
    "SavingsService",
    "TreeCost",
    "WrapperCost",
    "estimateServer",
    "readSample",
]

SAMPLE_INTERVAL = 10.0
"""Seconds between two samples of every child."""
REFRESH_GAP = 2.0
"""An estimate that finds a child the last sample has not seen asks for a
sample now, unless one started less than this many seconds ago."""
WRAPPERS = frozenset({"npx", "uvx"})
"""Entry commands that start the real server below processes of their own."""
WRAPPER_COMMANDS = frozenset({b"npm", b"npx", b"uv", b"uvx", b"sh", b"dash", b"bash", b"env"})
"""Commands of the processes at the top of a launch that only start the next
one: npm's C{npm exec} (which npx runs), the C{sh -c} it starts the bin
with, C{uv}/C{uvx}."""
SANDBOX_COMMANDS = frozenset({b"bwrap"})
"""The processes a confined child's sandbox adds at the top of its tree
(bubblewrap's, L{mcpgateway.sandbox.bwrap}): not the server's."""
SANDBOX_HELPERS = frozenset({FORWARDER.encode()})
"""Scripts of the processes a confined child's sandbox runs beside its
server (the network proxy's forwarder, L{mcpgateway.sandbox.proxyplan}):
not the server's."""
NODE_WRAPPERS = frozenset({b"npm-cli.js", b"npx-cli.js"})
"""Scripts that make a C{node} process a wrapper."""


@dataclass(frozen=True, slots=True)
class ProcessCost:
    """What one process costs, read from C{/proc}."""

    rss: int | None
    pss: int | None
    cpu: float | None

    @property
    def memory(self) -> int | None:
        """PSS, or RSS when PSS cannot be read."""
        return self.pss if self.pss is not None else self.rss


@dataclass(frozen=True, slots=True)
class LaunchCost:
    """What one child costs: its process and every descendant."""

    root: ProcessCost
    """The child's own process (the wrapper, for an unresolved C{npx} entry)."""
    processes: int
    rss: int | None
    """Summed over the processes whose RSS was read (C{None}: none)."""
    pss: int | None
    """Summed, when every process's PSS was read; else C{None}."""
    cpu: float | None
    wrappers: int = 0
    """How many processes at its top are wrappers (L{wrapperChain})."""
    wrapperMemory: int | None = None
    """Their memory (PSS, else RSS), when there are some."""

    @property
    def memory(self) -> int | None:
        """PSS, or RSS when the PSS of a process cannot be read."""
        return self.pss if self.pss is not None else self.rss

    @property
    def measure(self) -> str | None:
        return "pss" if self.pss is not None else "rss" if self.rss is not None else None


@dataclass(frozen=True, slots=True)
class TreeCost:
    """What a whole process tree runs: every process in it counted, the
    sandbox's (C{bwrap}, its helpers), the wrappers' and whatever the
    server spawned since it started (a browser a tool call opened)."""

    processes: int
    pss: int | None
    """Summed, when every process's PSS was read; else C{None}."""
    rss: int | None
    """Summed, when every process's RSS was read; else C{None}."""
    cpu: float | None = None

    @classmethod
    def of(cls, costs: Iterable[ProcessCost]) -> TreeCost:
        """The sum of C{costs}, without the processes none of whose memory
        could be read (gone since the tree was listed, or zombies)."""
        items = [c for c in costs if c.rss is not None or c.pss is not None]
        pss = [c.pss for c in items]
        rss = [c.rss for c in items]
        cpu = [c.cpu for c in items if c.cpu is not None]
        return cls(
            processes=len(items),
            pss=None if not items or None in pss else sum(p for p in pss if p is not None),
            rss=None if not items or None in rss else sum(r for r in rss if r is not None),
            cpu=sum(cpu) if cpu else None,
        )

    @classmethod
    def ofLaunch(cls, launch: LaunchCost) -> TreeCost:
        """A launch's cost as a tree (a sample that did not read the whole
        tree of a child)."""
        return cls(launch.processes, launch.pss, launch.rss, launch.cpu)


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of every child (by pid) and of the gateway itself."""

    launches: Mapping[int, LaunchCost]
    """Each child's server: its tree below its sandbox, without the
    sandbox's helpers (what a client running the server would run)."""
    gateway: ProcessCost
    trees: Mapping[int, TreeCost] = field(default_factory=dict)
    """Each child's whole tree, its sandbox and its spawns included."""
    running: TreeCost | None = None
    """The gateway's process and every process below it (C{None}: not read)."""


def processCost(pid: int | str, procRoot: str = procfs.PROC) -> ProcessCost:
    return ProcessCost(
        procfs.rss(pid, procRoot), procfs.pss(pid, procRoot), procfs.cpuSeconds(pid, procRoot)
    )


Children = Mapping[int, list[int]]
"""The children of each process, by pid."""


def childrenOf(procRoot: str = procfs.PROC) -> dict[int, list[int]]:
    """Every process's children (in pid order), from the parent pid of each
    process under C{procRoot}."""
    children: dict[int, list[int]] = {}
    for pid in sorted(procfs.pids(procRoot)):
        parent = procfs.parentPid(pid, procRoot)
        if parent is not None and parent != pid:
            children.setdefault(parent, []).append(pid)
    return children


def treeOf(root: int, children: Children) -> list[int]:
    """C{root} and its descendants, root first, each once."""
    tree, seen, todo = [], {root}, [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        for child in reversed(children.get(pid, ())):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return tree


def descendants(roots: Iterable[int], procRoot: str = procfs.PROC) -> dict[int, list[int]]:
    """Each root and its descendants (root first). A root that is gone has
    none."""
    wanted = list(roots)
    if not wanted:
        return {}
    children = childrenOf(procRoot)
    return {root: treeOf(root, children) for root in wanted}


def isWrapperCommand(cmdline: bytes | None) -> bool:
    """Whether a process's C{cmdline} is one of L{WRAPPER_COMMANDS} (its
    first word: npm rewrites its title to C{npm exec <package>}), or
    C{node} running npm's or npx's script."""
    if not cmdline:
        return False
    args = cmdline.split(b"\0")
    words = args[0].split(b" ")
    program = os.path.basename(words[0])
    if program in WRAPPER_COMMANDS:
        return True
    if program in (b"node", b"nodejs"):
        script = args[1] if len(args) > 1 else words[1] if len(words) > 1 else b""
        return os.path.basename(script) in NODE_WRAPPERS
    return False


def wrapperChain(root: int, children: Children, procRoot: str = procfs.PROC) -> list[int]:
    """The processes at the top of a launch that only start the next one:
    from C{root} down, each with exactly one child and a wrapper's command
    (L{isWrapperCommand}). The last process of a chain (the server) is
    never in it."""
    chain: list[int] = []
    pid = root
    while pid not in chain:
        below = children.get(pid, [])
        if len(below) != 1 or not isWrapperCommand(procfs.cmdline(pid, procRoot)):
            break
        chain.append(pid)
        pid = below[0]
    return chain


def launchCost(
    tree: list[int], procRoot: str = procfs.PROC, wrappers: list[int] | None = None
) -> LaunchCost | None:
    """The cost of one child's process tree, C{wrappers} the pids at its top
    that are wrappers (C{None}: its process is gone)."""
    costs = {pid: processCost(pid, procRoot) for pid in tree}
    first = costs.get(tree[0]) if tree else None
    if first is None or (first.rss is None and first.pss is None):
        return None
    rss = [c.rss for c in costs.values() if c.rss is not None]
    cpu = [c.cpu for c in costs.values() if c.cpu is not None]
    pss = [c.pss for c in costs.values()]
    wrapping = [costs[pid].memory for pid in wrappers or () if pid in costs]
    return LaunchCost(
        root=first,
        processes=len(costs),
        rss=sum(rss) if rss else None,
        pss=None if None in pss else sum(p for p in pss if p is not None),
        cpu=sum(cpu) if cpu else None,
        wrappers=len(wrapping),
        wrapperMemory=None
        if not wrapping or None in wrapping
        else sum(m for m in wrapping if m is not None),
    )


def belowSandbox(root: int, children: Children, procRoot: str = procfs.PROC) -> int:
    """The top of what a confined child runs: below the bubblewrap processes
    at the top of its tree (L{SANDBOX_COMMANDS}, each with exactly one
    child), which a client running the server itself would not run, so they
    count neither as the server's processes nor its memory; C{root} itself
    for an unconfined child."""
    pid, seen = root, set()
    while pid not in seen:
        seen.add(pid)
        below = children.get(pid, [])
        cmdline = procfs.cmdline(pid, procRoot)
        program = os.path.basename(cmdline.split(b"\0")[0]) if cmdline else b""
        if len(below) != 1 or program not in SANDBOX_COMMANDS:
            break
        pid = below[0]
    return pid


def isSandboxHelper(pid: int, procRoot: str = procfs.PROC) -> bool:
    """Whether process C{pid} runs one of L{SANDBOX_HELPERS}."""
    cmdline = procfs.cmdline(pid, procRoot) or b""
    return not SANDBOX_HELPERS.isdisjoint(cmdline.split(b"\0")[:4])


def gatewayPid(procRoot: str = procfs.PROC) -> int | None:
    """The pid of this process as C{procRoot} names it (its C{self} link;
    C{None}: no such link)."""
    try:
        return int(os.readlink(os.path.join(procRoot, "self")))
    except (OSError, ValueError):
        return None


def readSample(pids: Iterable[int], procRoot: str = procfs.PROC) -> Sample:
    """Measure the children C{pids} and this process: blocking reads, run
    it in a thread. A confined child's server is measured below its sandbox
    (L{belowSandbox}), without its sandbox's helpers (L{isSandboxHelper});
    its whole tree (L{Sample.trees}) and the gateway's whole tree
    (L{Sample.running}: this process and every process below it, each
    child's tree included however its parent pids read) count everything."""
    launches: dict[int, LaunchCost] = {}
    wanted = list(pids)
    whole = childrenOf(procRoot)
    children: Children = whole
    trees: dict[int, TreeCost] = {}
    running: dict[int | str, ProcessCost] = {"self": processCost("self", procRoot)}
    me = gatewayPid(procRoot)
    if me is not None:
        running.update((pid, processCost(pid, procRoot)) for pid in treeOf(me, whole)[1:])
    for root in wanted:
        tree = treeOf(root, whole)
        costs = [running.get(pid) or processCost(pid, procRoot) for pid in tree]
        if costs[0].rss is not None or costs[0].pss is not None:
            trees[root] = TreeCost.of(costs)
            running.update(zip(tree, costs, strict=True))
        top = belowSandbox(root, children, procRoot)
        helpers = {pid for pid in treeOf(top, children) if isSandboxHelper(pid, procRoot)}
        if helpers:  # not the server's: neither counted nor a second child of a wrapper
            children = {p: [c for c in cs if c not in helpers] for p, cs in children.items()}
        tree = treeOf(top, children)
        cost = launchCost(tree, procRoot, wrapperChain(top, children, procRoot))
        if cost is not None:
            launches[root] = cost
    return Sample(launches, running["self"], trees, TreeCost.of(running.values()))


def wrapperOf(server: ServerStatus) -> str | None:
    """C{"npx"} or C{"uvx"} when the server's entry runs through one."""
    name = os.path.basename(server.spec.command)
    return name if name in WRAPPERS else None


@dataclass(frozen=True, slots=True)
class _Known:
    """A server's last measure: per launch, at idle after its start."""

    processes: float
    memory: int | None
    measure: str | None
    pss: int | None = None
    rss: int | None = None

    @classmethod
    def of(cls, launches: list[LaunchCost]) -> _Known:
        """The mean of C{launches} (at least one)."""
        memories = [c.memory for c in launches]
        memory = None if None in memories else _mean(m for m in memories if m is not None)
        pss = [c.pss for c in launches]
        rss = [c.rss for c in launches]
        return cls(
            processes=sum(c.processes for c in launches) / len(launches),
            memory=memory,
            measure=None if memory is None else _measureOf(c.measure for c in launches),
            pss=None if None in pss else _mean(p for p in pss if p is not None),
            rss=None if None in rss else _mean(r for r in rss if r is not None),
        )


UNMEASURED = _Known(processes=1.0, memory=None, measure=None)
"""What a launch of a server never measured counts: one process, no memory."""


@dataclass(frozen=True, slots=True)
class WrapperCost:
    """What the wrappers of one launch of a kind cost, as measured."""

    processes: float
    memory: int | None


def _total(values: Iterable[int | None]) -> int | None:
    items = list(values)
    return None if None in items else sum(v for v in items if v is not None)


def _used(values: Iterable[int | None], perLaunch: int | None, unsampled: int) -> int | None:
    """What a server's children use: the sampled ones summed, a child not
    sampled yet as one launch."""
    total = _total(values)
    if total is None or not unsampled:
        return total
    return None if perLaunch is None else total + unsampled * perLaunch


def _remote(sessions: int) -> ServerSavings:
    return ServerSavings(
        sessions=sessions,
        children=0,
        processes=0,
        pssBytes=None,
        rssBytes=None,
        cpuSeconds=None,
        processesPerLaunch=0.0,
        bytesPerLaunch=None,
        measure=None,
        wrapper=None,
        wrappersAvoided=0,
        wrapperBytes=None,
        processesAvoided=0,
        memoryAvoidedBytes=0,
        pssWithout=0,
        rssWithout=0,
    )


def estimateServer(
    server: ServerStatus,
    sessions: int,
    launches: Mapping[int, LaunchCost],
    known: _Known | None,
    wrapperCosts: Mapping[str, WrapperCost],
    trees: Mapping[int, TreeCost] | None = None,
) -> ServerSavings:
    """One server's figures: what its children run against what its
    C{sessions} would start with a launch each.

    A remote server runs no process, and its sessions would run none: it
    avoids nothing.

    @param sessions: the clients it serves (L{servedSessions}): its
        sessions and the MCP 2026-07-28 clients that used it lately, each
        of which would launch it itself; a lower bound.
    @param launches: its sampled children (by pid), each as measured at
        idle after its start (the first sample that saw it): what a client
        runs at its start, never what a tool call spawned later.
    @param known: its last such measure, for when none of its children is
        sampled.
    @param wrapperCosts: the wrappers of a launch of each kind, as measured
        (never measured: one process, its memory not counted).
    @param trees: its sampled children's whole trees as they run now (the
        sandbox's processes and any spawns included); a child missing here
        counts as its launch.
    """
    if server.spec.remote is not None:
        return _remote(sessions)
    pids = server.pids
    live = [launches[pid] for pid in pids if pid in launches]
    per = _Known.of(live) if live else known if known is not None else UNMEASURED
    sampled = [
        (trees or {}).get(pid) or TreeCost.ofLaunch(launches[pid])
        for pid in pids
        if pid in launches
    ]
    unsampled = len(pids) - len(sampled)
    processes = sum(t.processes for t in sampled) + round(unsampled * per.processes)
    pssUsed = _used((t.pss for t in sampled), per.pss, unsampled)
    rssUsed = _used((t.rss for t in sampled), per.rss, unsampled)
    cpu = [t.cpu for t in sampled]
    wrapper = wrapperOf(server)
    wrappers, wrapperMemory = 0, None
    if wrapper is not None and server.launch is not None:
        cost = wrapperCosts.get(wrapper)
        wrappers = round(sessions * (cost.processes if cost is not None else 1.0))
        wrapperMemory = cost.memory if cost is not None else None
    processesWithout = round(sessions * per.processes) + wrappers
    extra = sessions * (wrapperMemory or 0)
    pssWithout = None if per.pss is None else sessions * per.pss + extra
    rssWithout = None if per.rss is None else sessions * per.rss + extra
    avoided: int | None = None
    if pssWithout is not None and pssUsed is not None:
        avoided = pssWithout - pssUsed
    elif rssWithout is not None and rssUsed is not None:
        avoided = rssWithout - rssUsed
    elif sessions == len(pids):
        avoided = 0
    return ServerSavings(
        sessions=sessions,
        children=len(pids),
        processes=processes,
        pssBytes=None if not sampled else _total(t.pss for t in sampled),
        rssBytes=None if not sampled else _total(t.rss for t in sampled),
        cpuSeconds=None if not sampled or None in cpu else sum(c for c in cpu if c is not None),
        processesPerLaunch=round(per.processes, 3),
        bytesPerLaunch=per.memory,
        measure=per.measure,
        wrapper=wrapper,
        wrappersAvoided=wrappers,
        wrapperBytes=wrapperMemory,
        processesAvoided=processesWithout - processes,
        memoryAvoidedBytes=avoided,
        processesWithout=processesWithout,
        pssWithout=pssWithout,
        rssWithout=rssWithout,
    )


def _measureOf(measures: Iterable[str | None]) -> str | None:
    """One word for several measures: C{pss}, C{rss} or C{pss+rss}."""
    words = {word for measure in measures if measure for word in measure.split("+")}
    return "+".join(sorted(words)) if words else None


def _mean(values: Iterable[int]) -> int:
    items = list(values)
    return round(sum(items) / len(items)) if items else 0


def servedSessions(status: GatewayStatus) -> dict[str, int]:
    """The clients each server serves, each of which would start a launch
    of its own without the gateway: its sessions, the aggregate sessions
    that opened it as a member, and the MCP 2026-07-28 clients that used it
    lately, which open no session (L{Era2026Stats.clients
    <mcpgateway.core.status.Era2026Stats.clients>}). Those are a lower
    bound: two processes that send the same C{clientInfo} name and no pid
    count once."""
    served = {
        name: server.sessions + server.era2026Stats.clients
        for name, server in status.servers.items()
    }
    for member, count in status.memberSessions().items():
        if member in served:
            served[member] += count
    return served


def savingsOf(
    servers: Mapping[str, ServerSavings], sample: Sample | None, sampledAt: float | None
) -> Savings:
    """The whole figure: what runs (the gateway's process tree in
    C{sample}) against what the sessions of C{servers} would start
    without it (their L{ServerSavings.processesWithout} and memory,
    summed). Memory is PSS when every process's PSS was read on both
    sides, else RSS on both sides. Without a reading of the gateway's
    tree, the servers' figures are summed."""
    running = sample.running if sample is not None else None
    processesWithout = sum(s.processesWithout for s in servers.values())
    memoryUsed = memoryWithout = None
    measure = None
    if running is not None:
        for word, used, without in (
            ("pss", running.pss, _total(s.pssWithout for s in servers.values())),
            ("rss", running.rss, _total(s.rssWithout for s in servers.values())),
        ):
            if used is not None and without is not None:
                measure, memoryUsed, memoryWithout = word, used, without
                break
    if running is not None:
        processesAvoided = processesWithout - running.processes
    else:
        processesAvoided = sum(s.processesAvoided for s in servers.values())
    if memoryUsed is not None and memoryWithout is not None:
        memoryAvoided = memoryWithout - memoryUsed
    else:
        memoryAvoided = sum(s.memoryAvoidedBytes or 0 for s in servers.values())
        measure = _measureOf(s.measure for s in servers.values())
    return Savings(
        sampledAt=sampledAt,
        measure=measure,
        processesAvoided=processesAvoided,
        memoryAvoidedBytes=memoryAvoided,
        wrappersAvoided=sum(s.wrappersAvoided for s in servers.values()),
        wrappersCounted=all(
            s.wrapperBytes is not None for s in servers.values() if s.wrappersAvoided
        ),
        gatewayBytes=sample.gateway.memory if sample is not None else None,
        servers=servers,
        processesUsed=None if running is None else running.processes,
        processesWithout=processesWithout,
        memoryUsed=memoryUsed,
        memoryWithout=memoryWithout,
    )


class SavingsSampler:
    """Samples the children in a thread; estimates the savings from the
    last sample (on the reactor thread, no I/O)."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        status: Callable[[], GatewayStatus],
        clock: IReactorTime,
        runInThread: RunInThread,
        procRoot: str = procfs.PROC,
        read: Callable[[Iterable[int], str], Sample] = readSample,
    ) -> None:
        """
        @param status: the gateway's read model (C{ReadModel.status}).
        @param runInThread: runs the C{/proc} reads off the reactor thread.
        @param read: what reads one sample (tests count its calls).
        """
        self._status = status
        self._clock = clock
        self._runInThread = runInThread
        self._procRoot = procRoot
        self._read = read
        self._reading = False
        self._startedAt: float | None = None
        self.sampledAt: float | None = None
        """When the last sample was taken."""
        self.last: Sample | None = None
        self._owners: dict[int, str] = {}
        """The server of each pid in L{last}, when it was taken."""
        self._known: dict[str, _Known] = {}
        self._baselines: dict[int, tuple[str, LaunchCost]] = {}
        """Each child's server (by pid, with its server's name) as the
        first sample that saw it measured it: at idle after its start, what
        a client's own launch would run, whatever tool calls spawn later."""
        self._wrappers: dict[str, WrapperCost] = {}
        """The wrappers of a launch of each kind, measured on the children
        of an entry the gateway runs through its wrapper."""

    def sample(self) -> Deferred[None] | None:
        """Read every child now, in a thread (C{None}: a read is under way)."""
        if self._reading:
            return None
        self._reading = True
        try:
            status = self._status()
            self._startedAt = self._clock.seconds()
            owners = {pid: name for name, server in status.servers.items() for pid in server.pids}
            ready = {
                child.pid
                for server in status.servers.values()
                for child in server.children
                if child.pid is not None and child.lifecycle is Lifecycle.RUNNING
            }
            reading: Deferred[Sample] = self._runInThread(self._read, list(owners), self._procRoot)
        except BaseException:
            self._reading = False
            raise

        def done(sample: Sample) -> None:
            self._sampled(sample, owners, ready, status)

        def failed(reason: Failure) -> None:
            self.log.failure("measuring the children failed", reason)

        def settle(result: object) -> None:
            self._reading = False

        return reading.addCallback(done).addErrback(failed).addBoth(settle)

    def _sampled(
        self, sample: Sample, owners: dict[int, str], ready: set[int], status: GatewayStatus
    ) -> None:
        """Keep C{sample}; freeze the launch of each child it is the first
        to see initialized (L{Lifecycle.RUNNING} when it began: a child
        still starting may not have started its server yet)."""
        self.last, self._owners, self.sampledAt = sample, owners, self._clock.seconds()
        baselines = self._baselines
        for pid in [p for p, (name, _) in baselines.items() if owners.get(p) != name]:
            del baselines[pid]
        for pid, launch in sample.launches.items():
            if pid in owners and pid in ready and pid not in baselines:
                baselines[pid] = (owners[pid], launch)
        for name, server in status.servers.items():
            launches = [baselines[pid][1] for pid in server.pids if pid in baselines]
            if launches:
                self._known[name] = _Known.of(launches)
            wrapper = wrapperOf(server)
            wrapped = [c for c in launches if c.wrappers]
            if wrapper is not None and server.launch is None and wrapped:
                memories = [c.wrapperMemory for c in wrapped]
                self._wrappers[wrapper] = WrapperCost(
                    processes=sum(c.wrappers for c in wrapped) / len(wrapped),
                    memory=None
                    if None in memories
                    else _mean(m for m in memories if m is not None),
                )
        for name in set(self._known) - set(status.servers):
            del self._known[name]

    def estimate(self, status: GatewayStatus) -> Savings:
        """The savings of C{status}'s sessions, from the last sample
        (docs/guide/operations.md, "What it saves"): what runs (the
        gateway's whole process tree) against what the same sessions would
        start without it (each session, and each 2026-07-28 client seen
        lately, a launch of each server it serves, at that server's idle
        cost). A live child the sample has not seen
        asks for a new one (in a thread)."""
        sample = self.last
        launches: dict[str, dict[int, LaunchCost]] = {}
        trees: dict[str, dict[int, TreeCost]] = {}
        unseen = False
        for name, server in status.servers.items():
            mine, grown = launches.setdefault(name, {}), trees.setdefault(name, {})
            for pid in server.pids:
                if sample is not None and pid in sample.launches and self._owners.get(pid) == name:
                    _, baseline = self._baselines.get(pid, (name, sample.launches[pid]))
                    mine[pid] = baseline
                    grown[pid] = sample.trees.get(pid) or TreeCost.ofLaunch(sample.launches[pid])
                    unseen = unseen or pid not in self._baselines  # its idle cost: not yet
                else:
                    unseen = True
        served = servedSessions(status)
        servers = {
            name: estimateServer(
                server,
                served[name],
                launches[name],
                self._known.get(name),
                self._wrappers,
                trees[name],
            )
            for name, server in status.servers.items()
        }
        if unseen and not self._reading and self._due():
            try:
                self.sample()
            except Exception:  # the read model must render whatever happens
                self.log.failure("sampling the children failed")
        return savingsOf(servers, sample, self.sampledAt)

    def rss(self, pid: int) -> int | None:
        """The resident memory of child C{pid}'s own process (not its
        descendants), as last sampled: for readers that must not read
        C{/proc} on the reactor thread (C{/metrics}, the memory cap)."""
        launch = self.last.launches.get(pid) if self.last is not None else None
        return None if launch is None else launch.root.rss

    def _due(self) -> bool:
        return self._startedAt is None or self._clock.seconds() - self._startedAt >= REFRESH_GAP


class SavingsService(Service):
    """Samples every L{SAMPLE_INTERVAL} seconds while it runs (started with
    the service tree: after daemonizing)."""

    log = Logger(observer=logs.observer)

    def __init__(
        self, sampler: SavingsSampler, clock: IReactorTime, interval: float = SAMPLE_INTERVAL
    ) -> None:
        self.sampler = sampler
        self._loop = Every(clock, interval, self._tick)

    def _tick(self) -> None:
        try:
            self.sampler.sample()
        except Exception:
            self.log.failure("sampling the children failed")

    def startService(self) -> None:
        super().startService()
        self._loop.start(now=True)

    def stopService(self) -> None:
        super().stopService()
        self._loop.stop()

# -*- test-case-name: tests.ops.test_childhandover, tests.ops.test_childletgo -*-
"""A restart keeps the running children: the old process passes them to
the new one over the hand-over link (L{mcpgateway.ops.handover}).

The old process (L{ChildSender}) sends them once its connections are gone
(or C{--restart-timeout} has passed), so nothing of its own is routed to
them any more: each movable child (L{mcpgateway.core.adopted.whyNotMovable})
is let go of, its three pipes are sent with C{SCM_RIGHTS} and its record
after them (L{mcpgateway.core.handedchild}), then an C{end} record that
counts the children that could not move. Before the children go the
listening sockets of the network allow-list proxy (a C{proxy} record
each, its descriptor with it): a kept confined child's way out. The new process answers
C{adopted} once it holds them; the old one then tells its warden they are
no longer its own to stop (L{mcpgateway.ops.warden.Warden.handedOver}) and
exits. If no answer comes (the new process died, or took longer than
L{ACK_TIMEOUT}), the old process stops the children it let go of: none is
left running unowned.

The new process (L{ChildAdoption}) holds every child start
(L{mcpgateway.core.spawn.AdoptionGate}) until the C{end} record has come,
the link has closed or L{gateWait} seconds have passed. Then it serves
each child in place of starting one: a shared child as its server's
shared child, a session's child as that session's, when its server is
still configured with the same fingerprint (command, arguments,
environment, sandbox). A session's child whose session it does not know
yet waits for the sessions the old process saves last (they are merged
once it has exited); the children left then, and those whose server is
gone or changed, are stopped (C{SIGTERM} to their process group, C{SIGKILL}
L{KILL_AFTER} seconds later).

A confined child is kept only when the new process would lay its sandbox
out the same (L{mcpgateway.core.adopted.compareLayout}), what its
own sandbox probe found included, or the same but for servers added
since it started whose paths its sandbox hides all the same (read off
this machine's files in a worker thread, its server's starts held
meanwhile): a confined child waits for that probe
to answer (L{PROBE_WAIT} seconds at most; its server's starts are held
meanwhile), and is compared with what a probe that did not answer would
give (C{auto}) after that. A child given secrets is kept only when this
process resolves its server's references to the values its record seals
(L{mcpgateway.core.handedchild.secretsMatch}; its server's starts held
meanwhile). Any child is kept only while its pid names the
process its start time says (L{mcpgateway.core.adoptedprocess.openChild}):
a child stopped is signalled only then.

What the new process kept and had to start anew, each of those named with
why (L{mcpgateway.ops.anew}), is in its L{ChildAdoption.report}, for
C{/health}, C{mcpgateway status} and the console.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.adopted import (
    LayoutCheck,
    attachAdopted,
    buildOfLayout,
    compareLayout,
    confinementNow,
    fingerprintMatches,
    probeAnswered,
    releaseChild,
    unmaskedWhy,
    unsentTo,
    whyNotKept,
    whyNotMovable,
)
from mcpgateway.core.adoptedprocess import openChild, pidfdExited
from mcpgateway.core.envsecrets import GivenSecrets
from mcpgateway.core.handedchild import (
    BadRecord,
    HandedChild,
    RecordDecoder,
    encodeRecord,
    secretsMatch,
)
from mcpgateway.core.pools.runningchildren import ownedOf, placedAs, runningChildren
from mcpgateway.core.sessions import shortId
from mcpgateway.core.spawn import SecretsUnavailable, Spawner
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.upstream import Upstream
from mcpgateway.ops.anew import MAX_NAMED, StartedAnew, named
from mcpgateway.runtime import logs, procfs
from mcpgateway.runtime.threads import RunInThread

Given = tuple[GivenSecrets, ServerSpec]
"""A kept child's secrets' values, resolved here, and its spec with them in place."""

ADOPTED = b"adopted\n"
"""The new process's answer once it holds the children."""
ACK_TIMEOUT = 10.0
"""Seconds the old process waits for L{ADOPTED}."""
KILL_AFTER = 3.0
"""Seconds between the C{SIGTERM} and the C{SIGKILL} of a child not kept."""
END = "end"
PROXY = "proxy"
PROBE_WAIT = 30.0
"""Seconds a kept confined child waits, at most, for this process's
sandbox probe to answer before it is compared (a root gateway's probe
looks through its system's directories: a second or so)."""
LET_GO = (
    "server '{server}': the gateway restarted while this request ran and cannot pass its"
    " answer on; the server goes on running with what it holds: send the request again"
)
"""What a request still in flight when its child moves is answered
(L{ChildSender.letGo}), and the child's own request still waiting for a
client is refused with."""
WRITES_WAIT = 2.0
"""Seconds the children's last writes (the cancellations L{ChildSender.letGo}
sends) may take to leave before they are handed over all the same: a child
with writes left does not move."""
WRITES_POLL = 0.02
"""Seconds between two looks at whether those writes have left."""


def gateWait(restartTimeout: float) -> float:
    """Seconds the new process holds child starts at most: the old one's
    connections may take C{--restart-timeout}, then a little more."""
    return restartTimeout + ACK_TIMEOUT


def stopProcess(handed: HandedChild, clock: IReactorTime, close: bool = True) -> None:
    """Stop a child not kept: close its pipes here, C{SIGTERM} its process
    group (its process, when it leads none), C{SIGKILL} L{KILL_AFTER}
    seconds later if it is still there (found through its pidfd). Only the
    process its record names is signalled (its pid and start time:
    L{openChild}): a pid given to another process since is left alone (the
    child, gone, closed its pipes; closing ours is all there is to do)."""
    if close:
        for fd in handed.fds:
            _closeQuietly(fd)
    try:
        pidfd = openChild(handed.pid, handed.startTime)
    except ProcessLookupError:
        return
    group = handed.pgid == handed.pid
    _signal(handed.pid, signal.SIGTERM, group, pidfd)

    def kill() -> None:
        try:
            _signal(handed.pid, signal.SIGKILL, group, pidfd, handed.startTime)
        finally:
            if pidfd is not None:
                _closeQuietly(pidfd)

    clock.callLater(KILL_AFTER, kill)


def _signal(pid: int, signum: int, group: bool, pidfd: int | None, startTime: int = 0) -> None:
    """Signal C{pid} (its group, when it leads one) while it is the process
    C{pidfd} names (without a pidfd: while a process of its pid started at
    C{startTime}, when given)."""
    if pidfd is not None and pidfdExited(pidfd):
        return
    if pidfd is None and startTime and procfs.startTime(pid) != startTime:
        return
    try:
        if group:
            os.killpg(pid, signum)
        else:
            send = getattr(signal, "pidfd_send_signal", None)
            if pidfd is not None and send is not None:
                send(pidfd, signum)
            else:
                os.kill(pid, signum)
    except OSError:
        pass


def _closeQuietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


class ChildPassing(Protocol):
    """Passes the running children to the successor
    (L{ChildSender})."""

    def send(self, transport: Any) -> Deferred[bool]:
        """Send them on the link C{transport}; fires with whether the
        successor took them (told through L{acknowledged} or L{linkLost})."""
        ...

    def acknowledged(self) -> None: ...

    def linkLost(self) -> None: ...


class ChildReceiving(Protocol):
    """Takes the children the predecessor passes
    (L{ChildAdoption})."""

    reply: Callable[[bytes], None] | None

    def start(self) -> None: ...

    def descriptor(self, fd: int) -> None: ...

    def data(self, data: bytes) -> None: ...

    def linkLost(self) -> None: ...

    def stopping(self) -> None:
        """This process stops: a child that still comes is stopped, not served."""
        ...


# -- the old process's side -----------------------------------------------------------


class ChildSender:
    """Passes the running children of C{pools} to the next process."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        pools: Callable[[], dict[str, Any]],
        clock: IReactorTime,
        handedOver: Callable[[int], None] | None = None,
        proxy: Any = None,
    ) -> None:
        """
        @param pools: the gateway's pools now, by server name.
        @param handedOver: told the pid of each child the next process
            took (the warden: it is no longer this process's to stop).
        @param proxy: the network allow-list proxy
            (L{mcpgateway.startup.netproxy.NetworkProxy}), whose listening
            sockets go with the children.
        """
        self._pools = pools
        self._clock = clock
        self._handedOver = handedOver
        self._proxy = proxy
        self._proxySent = False
        self._handed: list[HandedChild] = []
        self._answer: Deferred[bool] | None = None
        self._timer: IDelayedCall | None = None

    def children(self) -> tuple[list[HandedChild], list[StartedAnew]]:
        """Let go of every movable child; the running ones left, each with
        why it cannot move."""
        handed: list[HandedChild] = []
        left: list[StartedAnew] = []
        for pool in self._pools().values():
            for running in runningChildren(pool):
                session, upstream = running.session, running.upstream
                why = running.why or whyNotMovable(upstream)
                one = None
                if why is None:
                    one = releaseChild(
                        running.configured,
                        upstream,
                        session,
                        running.level,
                        running.subscriptions,
                        childKey=running.childKey,
                    )
                    why = "its pipes could not be passed on"
                if one is None:
                    pid = upstream.pid or 0
                    self.log.info(
                        "restart: server {server}'s child pid {pid} is not handed over ({why});"
                        " it stops with this process",
                        server=upstream.spec.name,
                        pid=pid,
                        why=why,
                    )
                    left.append(StartedAnew(upstream.spec.name, pid, why, _named(session)))
                else:
                    handed.append(one)
        return handed, left

    def letGo(self) -> int:
        """End what this process still waits for of the children it can
        keep: a request still in flight once C{--restart-timeout} has passed
        is answered with an error (L{LET_GO}), on its stream while that is
        still open, and cancelled on its child, and a request of the child's
        own that waits for a client is refused. The child then moves to the
        next process with what it holds, for every session it serves,
        rather than stop with this one. How many requests were ended."""
        ended = 0
        for pool in self._pools().values():
            for running in runningChildren(pool):
                upstream = running.upstream
                if running.why is None and whyNotKept(upstream) is None:
                    ended += upstream.router.letGo(LET_GO.format(server=upstream.spec.name))
        if ended:
            self.log.info(
                "restart: {count} request(s) still in flight ended with an error, so that"
                " their children move to the next process with what they hold",
                count=ended,
            )
        return ended

    def _writesLeft(self) -> bool:
        """Whether a child that can be kept has writes that have not left."""
        return any(
            running.why is None and whyNotKept(upstream) is None and unsentTo(upstream) > 0
            for pool in self._pools().values()
            for running in runningChildren(pool)
            for upstream in (running.upstream,)
        )

    def _written(self) -> Deferred[None]:
        """Fires once the children's writes have left, or after
        L{WRITES_WAIT} seconds."""
        done: Deferred[None] = Deferred()
        waited = [0.0]

        def look() -> None:
            if not self._writesLeft() or waited[0] >= WRITES_WAIT:
                done.callback(None)
                return
            waited[0] += WRITES_POLL
            self._clock.callLater(WRITES_POLL, look)

        look()
        return done

    def send(self, transport: Any) -> Deferred[bool]:
        """Send the children over C{transport} (an C{IUNIXTransport}) once
        their last writes have left (the cancellations of L{letGo}, at the
        deadline); fires with whether the next process took them (else they
        are being stopped). A child with a request still in flight here (a
        task's call, whose client holds no connection) does not move: its
        request ends in this process's drain, as it stops."""
        return self._written().addCallback(lambda _: self._send(transport))

    def _send(self, transport: Any) -> Deferred[bool]:
        handed, notMoved = self.children()
        left = len(notMoved)
        stopped = [one.toJson() for one in notMoved[:MAX_NAMED] if one.pid > 0]
        self._handed = handed
        if handed and self._proxy is not None:
            for record, fd in self._proxy.listening():
                transport.sendFileDescriptor(fd)
                transport.write(encodeRecord({**record, "kind": PROXY, "fds": 1}))
                self._proxySent = True
        for one in handed:
            if self._handedOver is not None:
                self._handedOver(one.pid)  # this process's warden no longer stops it
            for fd in one.fds:
                transport.sendFileDescriptor(fd)
            transport.write(encodeRecord(one.toJson()))
        transport.write(encodeRecord({"kind": END, "left": left, "stopped": stopped, "fds": 0}))
        self.log.info(
            "restart: handed {count} running child(ren) to the next process ({left} not movable)",
            count=len(handed),
            left=left,
        )
        answer: Deferred[bool] = Deferred()
        self._answer = answer
        self._timer = self._clock.callLater(ACK_TIMEOUT, self._settle, False)
        return answer

    def acknowledged(self) -> None:
        """The next process holds the children."""
        self._settle(True)

    def linkLost(self) -> None:
        self._settle(False)

    def _settle(self, taken: bool) -> None:
        answer, self._answer = self._answer, None
        if answer is None:
            return
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        handed, self._handed = self._handed, []
        if taken and self._proxySent and self._proxy is not None:
            self._proxy.handOver()
        for one in handed:
            if taken:
                for fd in one.fds:
                    _closeQuietly(fd)
            else:
                stopProcess(one, self._clock)
        if not taken and handed:
            self.log.warn(
                "restart: the next process did not take the {count} child(ren) handed to it;"
                " stopping them",
                count=len(handed),
            )
        answer.callback(taken)


# -- the new process's side -------------------------------------------------------------


class ChildAdoption:
    """Takes the children the previous process hands over (see the module
    docstring); the spawner's L{AdoptionGate<mcpgateway.core.spawn.AdoptionGate>}.

    @ivar pools: the gateway's pools, by server name (set once it is made).
    @ivar reply: writes to the link (set once it is connected).
    """

    log = Logger(observer=logs.observer)

    def __init__(self, clock: IReactorTime, wait: float) -> None:
        self._clock = clock
        self._wait = wait
        self._holding = True
        self._gated: list[tuple[str, Deferred[None]]] = []
        self._gateTimer: IDelayedCall | None = None
        self._started = clock.seconds()
        self._decoder = RecordDecoder(self._record)
        self._waiting: list[HandedChild] = []
        """Children of sessions not known yet (until the sessions are merged)."""
        self._probing: list[tuple[HandedChild, bool]] = []
        """Confined children waiting for this process's sandbox probe, each
        with whether its placing is the last one (L{_place}'s C{final})."""
        self._probeTimer: IDelayedCall | None = None
        self._probeDone = False
        """Whether the probe answered, or was waited for long enough."""
        self._checking: list[HandedChild] = []
        """Confined children whose sandbox is being read against the paths
        of servers added since they started (L{LayoutCheck})."""
        self._checked: dict[tuple[int, int], str | None] = {}
        """What those reads found, by child (pid, start time): why it is
        not kept, or C{None}."""
        self._reading: list[HandedChild] = []
        """Children given secrets whose server's references are being resolved."""
        self._resolved: dict[tuple[int, int], tuple[str | None, Given | None]] = {}
        """What those resolutions gave, by child (pid, start time): why it is
        not kept (C{None}: it may be), and the values with the spec they
        went into."""
        self.runInThread: RunInThread | None = None
        """Where those reads run (C{None}: none is made, and such a child
        is not kept)."""
        self._linkGone = False
        """Whether the previous process has exited (L{linkLost})."""
        self._stopping = False
        """Whether this process stops (L{stopping}): what still comes is stopped."""
        self.predecessor: int | None = None
        """The pid of the process that hands the children over, for
        L{report} while they have not come (C{None}: a crashed gateway's
        warden hands them over)."""
        self.pools: Callable[[], dict[str, Any]] | None = None
        self.spawner: Spawner | None = None
        self.proxy: Any = None
        """The network allow-list proxy, which takes the previous process's
        listening sockets (L{mcpgateway.startup.netproxy.NetworkProxy.adopt})."""
        self.reply: Callable[[bytes], None] | None = None
        self.kept = 0
        self.notKept = 0
        self.anew: list[StartedAnew] = []
        """The children not kept, each with why (at most L{MAX_NAMED})."""
        self.proof = b""
        """The secret a crashed gateway's warden asks for before it hands
        its children over (L{mcpgateway.ops.crashkeep.CrashAdoption})."""
        self.seconds: float | None = None
        """How long the children took to come (from this process's start)."""

    def start(self) -> None:
        """Hold child starts L{gateWait} seconds at most from now (the
        service tree starts: after C{twistd} has daemonized)."""
        self._started = self._clock.seconds()
        if self._holding and self._gateTimer is None:
            self._gateTimer = self._clock.callLater(self._wait, self._open, "timed out")

    @property
    def holding(self) -> bool:
        """Whether the children have not come yet: every child start is
        held, so no child of this process has asked a client anything."""
        return self._holding

    def pending(self, server: str) -> Deferred[None] | None:
        """Hold a start of a child of C{server} until the children have
        come, and, for one of a session not known yet, until the sessions
        are merged."""
        if not self._holding and server not in self._held():
            return None
        waiter: Deferred[None] = Deferred()
        self._gated.append((server, waiter))
        return waiter

    def report(self) -> dict[str, Any]:
        """What C{/health}'s C{restart} shows: the children kept, the count
        of those started anew and each one's server and why (L{anew});
        while they have not come yet, C{pending} (and C{from}, the pid
        handing them over, and C{waited}, the seconds since this process
        started): the servers show no running child until then, which is
        not a child lost."""
        report: dict[str, Any] = {
            "kept": self.kept,
            "started": self.notKept,
            "seconds": self.seconds,
            "anew": [one.toJson() for one in self.anew],
        }
        if self._holding:
            report.update(pending=True, waited=round(self._clock.seconds() - self._started, 1))
            if self.predecessor is not None:
                report["from"] = self.predecessor
        return report

    def startedAnew(self, ones: list[StartedAnew], counted: int | None = None) -> None:
        """Count C{counted} children not kept (all of C{ones} by default)
        and name C{ones}, each with why."""
        self.notKept += len(ones) if counted is None else counted
        self.anew += ones[: max(0, MAX_NAMED - len(self.anew))]

    # -- what the link brings ---------------------------------------------

    def descriptor(self, fd: int) -> None:
        self._decoder.descriptor(fd)

    def data(self, data: bytes) -> None:
        self._decoder.feed(data)
        if self._decoder.broken is not None:
            self.log.error(
                "restart: the children handed over are unreadable ({why}); starting them anew",
                why=self._decoder.broken,
            )
            self._endAll("unreadable")

    def linkLost(self) -> None:
        """The previous process has exited: the sessions it saved last
        are merged now; serve or stop the children still waiting."""
        self._linkGone = True
        for fd in self._decoder.leftover():
            _closeQuietly(fd)
        waiting, self._waiting = self._waiting, []
        for handed in waiting:
            self._place(handed, final=True)
        self._open(None if self._stopping else "the previous process exited")
        self._release()

    def stopping(self) -> None:
        """This process stops before the children have come: a child that
        still comes is stopped, not served by a gateway on its way out."""
        self._stopping = True

    def _record(self, record: dict[str, Any], fds: tuple[int, ...]) -> None:
        if record.get("kind") == END:
            left = record.get("left")
            self.startedAnew(named(record.get("stopped")), left if type(left) is int else 0)
            if self.reply is not None:
                self.reply(ADOPTED)
            self._open(None)
            return
        if record.get("kind") == PROXY:
            if len(fds) != 1 or self.proxy is None or not self.proxy.adopt(record, fds[0]):
                for fd in fds:
                    _closeQuietly(fd)
                self.log.warn("restart: a network proxy socket handed over was refused")
            return
        try:
            handed = HandedChild.fromJson(record, fds)
        except BadRecord as e:
            self.log.warn("restart: a child's record was refused: {why}", why=str(e))
            for fd in fds:
                _closeQuietly(fd)
            self.notKept += 1
            return
        self._place(handed, final=False)

    def _open(self, why: str | None) -> None:
        if not self._holding:
            return
        self._holding = False
        if self._gateTimer is not None and self._gateTimer.active():
            self._gateTimer.cancel()
        self._gateTimer = None
        self.seconds = self._clock.seconds() - self._started
        if why is not None:
            self.log.info("restart: starting children without waiting any more ({why})", why=why)
        self._release()

    def _held(self) -> set[str]:
        """The servers with a child still waiting for its session, for
        this process's sandbox probe, or for its sandbox to be read."""
        held = {h.server for h in self._waiting} | {h.server for h, _ in self._probing}
        return held | {h.server for h in (*self._checking, *self._reading)}

    def _release(self) -> None:
        """Let the held starts go on, but those of a server with a child
        still waiting (L{_held})."""
        waiting = self._held()
        gated = self._gated
        self._gated = [(server, w) for server, w in gated if server in waiting]
        for server, waiter in gated:
            if server not in waiting:
                waiter.callback(None)

    def _endAll(self, why: str) -> None:
        waiting, self._waiting = self._waiting, []
        for handed in waiting:
            self._stop(handed, why)
        self._open(why)

    # -- serving or stopping each child -----------------------------------------

    def _place(self, handed: HandedChild, final: bool) -> None:
        if self._stopping:
            self._stop(handed, "this process is stopping")
            return
        pools = {} if self.pools is None else self.pools()
        pool = pools.get(handed.server)
        if pool is None or self.spawner is None:
            self._stop(handed, "its server is no longer configured")
            return
        placed = placedAs(pool, handed)
        if placed is None:
            if handed.session and not final:
                self._waiting.append(handed)
            else:
                self._stop(handed, "its session was not kept" if handed.session else "not served")
            return
        upstream, configured = placed
        if upstream.child is not None:
            self._stop(handed, "a new child was started meanwhile")
            return
        if not fingerprintMatches(configured, upstream, handed):
            self._stop(handed, "its server's command, arguments, environment or sandbox changed")
            return
        if confinementNow(self.spawner, upstream.spec) != handed.confinement:
            self._stop(handed, "its server's sandbox setting changed")
            return
        key = (handed.pid, handed.startTime)
        if upstream.spec.references and key not in self._resolved:
            self._resolve(handed, upstream, final)
            return
        why, given = self._resolved.get(key, (None, None))
        if why is not None:
            self._stop(handed, why)
            return
        if handed.confinement and self._awaitProbe(handed, final):
            return
        why, check = compareLayout(self.spawner, upstream, handed, given and given[1])
        if check is not None:
            key = (handed.pid, handed.startTime)
            if key not in self._checked:
                self._check(handed, final, check)
                return
            why = self._checked.pop(key)
        if why is not None:
            self._stop(handed, why)
            return
        secrets, launch = given or (None, None)
        if not attachAdopted(upstream, handed, self.spawner, secrets, launch):
            self._stop(handed, "its process is gone (or its pid is another process's now)")
            return
        self._resolved.pop(key, None)
        self.kept += 1
        owned = ownedOf(pool)
        if handed.session and owned is not None:
            owner = owned.owner(handed.session)
            if owner is not None:
                owned.adopted(owner)
        self.log.info(
            "restart: server {server} goes on with child pid {pid}{whose}, kept from the"
            " previous process with what it holds in memory",
            server=handed.server,
            pid=handed.pid,
            whose=f" of session {shortId(handed.session)}" if handed.session else "",
        )

    def _resolve(self, handed: HandedChild, upstream: Upstream, final: bool) -> None:
        """Resolve the secret references of C{handed}'s server as for a
        child of this process (its starts held meanwhile), then place it
        again: it is kept only when they give the values its record seals."""
        key = (handed.pid, handed.startTime)
        resolver = None if self.spawner is None else self.spawner.secrets
        if resolver is None or not handed.secrets:
            # Without a resolver, references stay text here, as its fingerprint says.
            why = "its record does not say what secrets it was given"
            if resolver is None:
                why = "this process resolves no secret references" if handed.secrets else ""
            self._resolved[key] = (why or None, None)
            self._place(handed, final)
            return
        self._reading.append(handed)

        def resolved(result: tuple[ServerSpec, GivenSecrets]) -> None:
            launch, given = result
            if secretsMatch(handed.secrets, given):
                self._resolved[key] = (None, (given, launch))
            else:
                self._resolved[key] = ("the values of its secret references changed", None)

        def unresolved(failure: Failure) -> None:
            why = failure.getErrorMessage() if failure.check(SecretsUnavailable) else ""
            why = why or f"resolving them failed ({type(failure.value).__name__})"
            self._resolved[key] = (f"its secret references cannot be resolved: {why}", None)

        def placed(_: object) -> None:
            self._reading.remove(handed)
            self._place(handed, final)
            self._release()

        reading = resolver.resolve(upstream.spec)
        reading.addCallbacks(resolved, unresolved).addCallback(placed)

    def _check(self, handed: HandedChild, final: bool, check: LayoutCheck) -> None:
        """Read, in a worker thread, whether C{handed}'s sandbox hides what
        the servers added since it started name, then place it again (its
        server's starts held meanwhile)."""
        key = (handed.pid, handed.startTime)
        if self.runInThread is None:
            self._checked[key] = unmaskedWhy(("not read here",))
            self._place(handed, final)
            return
        buildOfLayout()  # imported here, on the reactor's thread
        self._checking.append(handed)

        def read(unmasked: tuple[str, ...]) -> None:
            self._checked[key] = unmaskedWhy(unmasked) if unmasked else None

        def unread(failure: Any) -> None:
            self.log.failure(
                "restart: server {server}'s child pid {pid}: its sandbox could not be read",
                failure,
                server=handed.server,
                pid=handed.pid,
            )
            self._checked[key] = "its sandbox could not be compared with this process's"

        def placed(_: object) -> None:
            self._checking.remove(handed)
            self._place(handed, final)
            self._release()

        reading = self.runInThread(check.unmasked)
        reading.addCallbacks(read, unread).addCallback(placed)

    def _awaitProbe(self, handed: HandedChild, final: bool) -> bool:
        """Whether confined C{handed} waits for this process's sandbox
        probe (placed again once it answered, or after L{PROBE_WAIT}
        seconds): what it found is part of the layout compared."""
        if self._probeDone or self.spawner is None:
            return False
        if self._probeTimer is not None:  # others wait already
            self._probing.append((handed, final))
            return True
        answered = probeAnswered(self.spawner)
        if answered is None:
            self._probeDone = True
            return False
        self.log.info("restart: the kept confined children wait for the sandbox probe")
        self._probing.append((handed, final))
        self._probeTimer = self._clock.callLater(PROBE_WAIT, self._probed, "timed out")
        answered.addCallback(lambda _: self._probed(None))
        return True

    def _probed(self, why: str | None) -> None:
        """This process's sandbox probe answered (C{why}: C{None}), or was
        waited for long enough: place the confined children that waited."""
        if self._probeDone:
            return
        self._probeDone = True
        if self._probeTimer is not None and self._probeTimer.active():
            self._probeTimer.cancel()
        self._probeTimer = None
        if why is not None:
            self.log.warn(
                "restart: the sandbox probe has not answered in {seconds:g} s: the kept"
                " confined children are compared with what it would give before it answers",
                seconds=PROBE_WAIT,
            )
        probing, self._probing = self._probing, []
        for handed, final in probing:
            self._place(handed, final or self._linkGone)
        if not self._holding:
            self._release()

    def _stop(self, handed: HandedChild, why: str) -> None:
        self._resolved.pop((handed.pid, handed.startTime), None)
        self.startedAnew([StartedAnew(handed.server, handed.pid, why, _named(handed.session))])
        self.log.info(
            "restart: server {server}'s child pid {pid} from the previous process is stopped:"
            " {why}",
            server=handed.server,
            pid=handed.pid,
            why=why,
        )
        stopProcess(handed, self._clock)


def _named(sessionId: str) -> str:
    """How the log, C{status} and C{/health} name the session C{sessionId}
    (C{""}: none): its L{shortId}, never a piece of the id itself, which is
    the session's only secret."""
    return shortId(sessionId) if sessionId else ""

"""Which child serves a session: one shared child, or one child per session.

A L{ServerPool} holds the L{Upstream}s of one configured server. A stateless
server has one shared upstream, started lazily and initialized by the gateway;
every client C{initialize} is answered from its cached result. A stateful
server gets one upstream per session, spawned at that session's C{initialize}
(which is forwarded to it) and stopped when the session ends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.internet.interfaces import IReactorProcess, IReactorTime
from twisted.logger import Logger

from mcpgateway import jsonrpc, logs
from mcpgateway.core.child import DEFAULT_MAX_LINE
from mcpgateway.core.events import EventLog
from mcpgateway.core.healing import OPEN, Breaker
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.stats import RequestStats
from mcpgateway.core.upstream import ChildWatcher, ServerUnavailable, Upstream

T = TypeVar("T")


class SessionGone(Exception):
    """The session's own child has exited; the client must initialize again."""


class ServerPool:
    """The children of one configured server."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        spec: ServerSpec,
        reactor: IReactorProcess,
        clock: IReactorTime,
        environ: Mapping[str, str],
        maxLine: int = DEFAULT_MAX_LINE,
        useProcessGroup: bool = True,
        watcher: ChildWatcher | None = None,
        backoff: float = 1.0,
        coolDown: float = 60.0,
    ) -> None:
        self.spec = spec
        """The server as configured."""
        self.launchSpec = spec
        """What children are started with: the configured command, or the
        real binary an C{npx}/C{uvx} wrapper resolved to."""
        self._watcher = watcher
        self._reactor = reactor
        self._clock = clock
        self._environ = environ
        self._maxLine = maxLine
        self._useProcessGroup = useProcessGroup
        self.shared: Upstream | None = None
        self.perSession: dict[str, Upstream] = {}
        self.breaker = Breaker(clock, base=backoff, coolDown=coolDown)
        self.stats = RequestStats()
        self.created = clock.seconds()
        self.events = EventLog(clock)
        self._resolving: Deferred[ServerSpec] | None = None
        self._resolvingWhat = ""
        self._launchWaiters: list[Deferred[None]] = []
        self.resolution: dict[str, str] | None = None
        """C{{"state": "pending"|"failed"|"resolved", "detail": ...}} for a
        server whose C{npx}/C{uvx} command is resolved to its real binary."""
        self.disabled = spec.disabled
        """Set through the management API: requests are refused, children stopped."""
        self.closedRouters = 0

    @property
    def stateful(self) -> bool:
        return self.spec.mode == "stateful"

    def _newUpstream(self, owner: Session | None) -> Upstream:
        return Upstream(self.launchSpec, self._reactor, self._clock, self._environ, owner,
                        self._maxLine, self._useProcessGroup, self._watcher, self.breaker,
                        self.stats, self.events)

    def prewarm(self) -> Deferred[None]:
        """Start the shared child now instead of on first use."""
        if self.stateful or self.disabled or self.spec.executable is None:
            return succeed(None)
        if self.shared is None:
            self.shared = self._newUpstream(None)
        return self._whenLaunchable(self.shared.ensure)

    def resetCircuit(self) -> None:
        """Forget the failures: the next request starts a child at once."""
        self.breaker.reset()
        for upstream in self.upstreams():
            upstream.resetBackoff()

    def launchAfter(self, resolving: Deferred[ServerSpec], what: str) -> None:
        """Start no child until C{resolving} (the real binary behind an
        C{npx}/C{uvx} command, described by C{what}) fires; then start
        children with its result. Requests wait for it at most their timeout."""
        self._resolving = resolving
        self._resolvingWhat = what

        def done(spec: ServerSpec) -> None:
            self._resolving = None
            self.useLaunchSpec(spec)
            waiters, self._launchWaiters = self._launchWaiters, []
            for waiter in waiters:
                waiter.callback(None)

        resolving.addCallback(done)

    def _whenLaunchable(self, start: Callable[[], Deferred[T]]) -> Deferred[T]:
        """C{start()} now, or once a pending resolution has finished; fails
        with L{ServerUnavailable} if that takes longer than the server's
        request timeout (the resolution goes on for later requests)."""
        if self._resolving is None:
            return start()
        waiter: Deferred[None] = Deferred()
        self._launchWaiters.append(waiter)
        timeout = self.spec.requestTimeout
        timer = self._clock.callLater(timeout, self._launchTimedOut, waiter, timeout)

        def launch(_: None) -> Deferred[T]:
            if timer.active():
                timer.cancel()
            return start()

        return waiter.addCallback(launch)

    def _launchTimedOut(self, waiter: Deferred[None], timeout: float) -> None:
        if waiter in self._launchWaiters:
            self._launchWaiters.remove(waiter)
            self.log.warn("server {server}: a request waited {timeout:g} s for {what}; answered"
                          " with an error", server=self.spec.name, timeout=timeout,
                          what=self._resolvingWhat)
            waiter.errback(ServerUnavailable(
                f"server '{self.spec.name}' is not ready: still waiting for {self._resolvingWhat}"
                f" after {timeout:g} s; try again shortly (`mcpgateway doctor` shows progress)"))

    def useLaunchSpec(self, spec: ServerSpec) -> None:
        """Start children with C{spec} from the next spawn on; running ones
        are left alone."""
        self.launchSpec = spec
        for upstream in self.upstreams():
            upstream.spec = spec

    def upstreamFor(self, session: Session) -> Upstream | None:
        """The upstream serving C{session} (C{None} after it was closed)."""
        if self.stateful:
            return self.perSession.get(session.id)
        return self.shared

    def open(self, session: Session, initialize: jsonrpc.Message) -> Deferred[jsonrpc.Message]:
        """Attach a new session and produce the answer to its C{initialize}.

        Fails with L{ServerUnavailable} when no child can serve it.
        """
        if self.disabled:
            return fail(ServerUnavailable(f"server '{self.spec.name}' is disabled"))
        if self.stateful:
            upstream = self._newUpstream(session)
            self.perSession[session.id] = upstream
            upstream.router.attach(session)

            def forward(_: None) -> Deferred[jsonrpc.Message]:
                return upstream.router.request(session, initialize, None)

            return self._whenLaunchable(upstream.ensure).addCallback(forward)
        if self.shared is None:
            self.shared = self._newUpstream(None)
        shared = self.shared

        def answer(_: None) -> jsonrpc.Message:
            assert shared.initializeResult is not None
            shared.router.attach(session)
            result = {**shared.initializeResult, "protocolVersion": session.protocolVersion}
            return jsonrpc.resultResponse(initialize["id"], result)

        return self._whenLaunchable(shared.ensure).addCallback(answer)

    def ready(self, session: Session) -> Deferred[Upstream]:
        """The session's upstream, with a running child (restarted if it died)."""
        upstream = self.upstreamFor(session)
        if upstream is not None and upstream.state == "running":
            return succeed(upstream)
        if self.disabled:
            return fail(ServerUnavailable(f"server '{self.spec.name}' is disabled"))
        if upstream is None or self.stateful:
            raise SessionGone(f"the child of server '{self.spec.name}' for this session is gone")
        return self._whenLaunchable(upstream.ensure).addCallback(lambda _: upstream)

    def close(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        """Detach C{session}; stop its child if it had one of its own."""
        if self.stateful:
            upstream = self.perSession.pop(session.id, None)
            if upstream is None:
                return succeed(None)
            upstream.router.detach(session, reason)
            self.closedRouters += 1
            return upstream.stop()
        if self.shared is not None:
            self.shared.router.detach(session, reason)
        return succeed(None)

    def upstreams(self) -> list[Upstream]:
        return ([self.shared] if self.shared is not None else []) + list(self.perSession.values())

    def stopAll(self) -> Deferred[Any]:
        """Stop every child of this server; fires when all have exited."""
        return DeferredList([u.stop() for u in self.upstreams()], consumeErrors=True)

    def state(self) -> str:
        """One of C{stopped starting running degraded error restarting disabled}
        (see docs/operations.md for what moves a server between them)."""
        states = {u.state for u in self.upstreams()}
        if self.disabled:
            return "disabled"
        if self.spec.executable is None or self.breaker.state == OPEN:
            return "error"
        if "restarting" in states:
            return "restarting"
        if "running" in states:
            return "degraded" if self.breaker.recentFailures() else "running"
        if "starting" in states:
            return "starting"
        return "stopped"

    def describe(self) -> dict[str, Any]:
        """The server's line in C{/health}: no env, no secrets."""
        ups = self.upstreams()
        pids = [u.pid for u in ups if u.pid is not None]
        lastExit = next((u.lastExit for u in ups if u.lastExit), None)
        described: dict[str, Any] = {
            "mode": self.spec.mode,
            "state": self.state(),
            "children": len(pids),
            "pids": pids,
            "requests": self.stats.count,
            "inFlight": sum(u.router.clientRequestsInFlight() for u in ups),
            "lateReplies": self.stats.lateReplies,
            "restarts": sum(max(0, u.spawns - 1) for u in ups),
            "failures": self.breaker.totalFailures,
            "circuit": self.breaker.state,
            "ambiguousServerRequests": self.stats.ambiguousServerRequests,
        }
        ambiguous = self.stats.ambiguousServerRequests
        if ambiguous:
            described["warning"] = (
                f"{ambiguous} sampling/elicitation/roots request(s) of this shared server were"
                " refused: several sessions had requests in flight, so the asking session could"
                " not be proven; run this server per session (\"mode\": \"stateful\")")
        if self.resolution is not None:
            described["resolution"] = dict(self.resolution)
        if lastExit:
            described["lastExit"] = lastExit
        if self.breaker.state == OPEN:
            described["error"] = (self.shared or self._newUpstream(None)).circuitReason()
        if self.spec.executable is None:
            described["error"] = f"command '{self.spec.command}' not found on PATH"
        return described

"""One child process of a server, wired to its router, with its handshake.

An L{Upstream} spawns the child (in its own process group when C{setsid} is
available), connects the child's messages to a L{Router}, and, for a shared
child, performs the MCP C{initialize} handshake itself, once, however many
clients wait on it. When the child exits, every pending request fails at once
and the next L{Upstream.ensure} spawns and initializes a fresh child.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any, Protocol

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorProcess, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway import __version__, jsonrpc, logs, versions
from mcpgateway.child import DEFAULT_MAX_LINE, ChildProtocol, describeExit
from mcpgateway.config import ServerSpec
from mcpgateway.events import EventLog
from mcpgateway.healing import OPEN, Breaker
from mcpgateway.router import Client, Router
from mcpgateway.stats import RequestStats

SETSID = shutil.which("setsid")

GATEWAY_CLIENT_INFO = {"name": "mcpgateway", "version": __version__}
GATEWAY_CAPABILITIES: dict[str, Any] = {
    "sampling": {},
    "elicitation": {"form": {}, "url": {}},
    "roots": {"listChanged": True},
}
"""What the gateway declares to a shared child: everything it can route."""


class ChildWatcher(Protocol):
    """Told of every child spawned and ended (the state directory's ledger)."""

    def spawned(self, server: str, pid: int) -> None: ...

    def exited(self, pid: int) -> None: ...


class ServerUnavailable(Exception):
    """The server's child cannot be started or initialized; says why."""


class Upstream:
    """One child of a server and the router of its id space.

    @ivar initializeResult: the child's C{InitializeResult} (shared children).
    @ivar state: C{"stopped"}, C{"starting"} or C{"running"}.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        spec: ServerSpec,
        reactor: IReactorProcess,
        clock: IReactorTime,
        environ: Mapping[str, str],
        owner: Client | None = None,
        maxLine: int = DEFAULT_MAX_LINE,
        useProcessGroup: bool = True,
        watcher: ChildWatcher | None = None,
        breaker: Breaker | None = None,
        stats: RequestStats | None = None,
        events: EventLog | None = None,
    ) -> None:
        self.spec = spec
        self._watcher = watcher
        self.breaker = breaker if breaker is not None else Breaker(clock)
        self.events = events if events is not None else EventLog(clock)
        self._notBefore = 0.0
        self._restartTimer: IDelayedCall | None = None
        self._initializedAt: float | None = None
        self.startedAt: float | None = None
        """When the current child was spawned."""
        self._reactor = reactor
        self._clock = clock
        self._environ = environ
        self._maxLine = maxLine
        self._useProcessGroup = useProcessGroup and SETSID is not None
        self.router = Router(spec.name, clock, spec.requestTimeout, owner, stats)
        self.child: ChildProtocol | None = None
        self.initializeResult: dict[str, Any] | None = None
        self.state = "stopped"
        self.spawns = 0
        self.lastExit: str | None = None
        self._waiters: list[Deferred[None]] = []

    @property
    def handshake(self) -> bool:
        """Whether the gateway initializes this child itself (shared children)."""
        return self.router.owner is None

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child is not None else None

    def ensure(self) -> Deferred[None]:
        """Fire when a child is running (and initialized, if shared); fail at
        once with the reason while the server's circuit is open."""
        if self.state == "running":
            return succeed(None)
        if self.breaker.state == OPEN:
            return fail(ServerUnavailable(self.circuitReason()))
        waiter: Deferred[None] = Deferred()
        self._waiters.append(waiter)
        if self.state == "stopped":
            delay = self._notBefore - self._clock.seconds()
            if delay > 0:
                self.state = "restarting"
                self._restartTimer = self._clock.callLater(delay, self._start)
            else:
                self._start()
        return waiter

    def resetBackoff(self) -> None:
        """Start the next child without waiting (after a circuit reset)."""
        self._notBefore = 0.0

    def circuitReason(self) -> str:
        """Why requests are refused while the circuit is open."""
        breaker = self.breaker
        return (f"server '{self.spec.name}' is failing: {breaker.recentFailures()} failure(s)"
                f" in the last {breaker.window / 60:g} minutes (last: {breaker.lastFailure});"
                f" the gateway tries again in {breaker.retryIn():.0f} s")

    def _start(self) -> None:
        self._restartTimer = None
        try:
            self._spawn()
        except ServerUnavailable as e:
            self.state = "stopped"
            self._release(Failure(e))
            return
        if self.handshake:
            self._initialize()
        else:
            self._running()
            self._release(None)

    def _running(self) -> None:
        self.state = "running"
        self._initializedAt = self._clock.seconds()
        self.breaker.succeeded()

    def _spawn(self) -> None:
        spec = self.spec
        if spec.executable is None:
            raise ServerUnavailable(
                f"server '{spec.name}' cannot start: command '{spec.command}' was not found"
                " on PATH")
        child = ChildProtocol(spec.name, self.router.childMessage, self._clock, self._maxLine,
                              killGroup=os.killpg if self._useProcessGroup else None,
                              onStderr=lambda line: self.events.emit("stderr", line))
        argv = [spec.executable, *spec.args]
        if self._useProcessGroup:
            assert SETSID is not None
            argv = [SETSID, *argv]
        try:
            self._reactor.spawnProcess(child, argv[0], argv,
                                       env=spec.environment(self._environ), path=spec.cwd)
        except OSError as e:
            raise ServerUnavailable(f"server '{spec.name}' cannot start: {e}") from None
        self.child = child
        self.startedAt = self._clock.seconds()
        self.spawns += 1
        self.state = "starting"
        self.router.send = child.send
        child.ended.addCallback(self._childEnded, child)
        if self._watcher is not None and child.pid is not None:
            self._watcher.spawned(spec.name, child.pid)
        self.events.emit("started", f"child pid {child.pid} started", pid=child.pid)
        self.log.info("server {server} started child pid {pid}: {command}",
                      server=spec.name, pid=child.pid, command=spec.command)

    def _initialize(self) -> None:
        params = {
            "protocolVersion": versions.LATEST,
            "capabilities": GATEWAY_CAPABILITIES,
            "clientInfo": GATEWAY_CLIENT_INFO,
        }
        child = self.child
        self.router.call("initialize", params).addCallback(self._initialized, child)

    def _initialized(self, response: jsonrpc.Message, child: ChildProtocol | None) -> None:
        if child is not self.child or child is None:
            return  # that child is gone; its exit already failed the waiters
        result = response.get("result")
        if not isinstance(result, dict):
            error = response.get("error") or {}
            why = f"server '{self.spec.name}' refused initialize: {error.get('message', error)}"
            self.log.error("{why}", why=why)
            self._release(Failure(ServerUnavailable(why)))
            child.signal("KILL")
            return
        self.initializeResult = result
        self.events.emit("initialized", "initialized", pid=child.pid)
        self.router.send(jsonrpc.notification("notifications/initialized"))
        self._running()
        self.router.resubscribe()
        self.log.info("server {server} initialized (protocol {version}, {name})",
                      server=self.spec.name, version=result.get("protocolVersion"),
                      name=(result.get("serverInfo") or {}).get("name"))
        self._release(None)

    def _release(self, result: Failure | None) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if result is None:
                waiter.callback(None)
            else:
                waiter.errback(result)

    def _childEnded(self, _: None, child: ChildProtocol) -> None:
        if child is not self.child:
            return
        assert child.exitReason is not None
        now = self._clock.seconds()
        uptime = None if self._initializedAt is None else now - self._initializedAt
        why = describeExit(child.exitReason)
        tail = list(child.stderrTail)[-3:]
        self.breaker.failed(why + ("; last stderr: " + " | ".join(tail) if tail else ""), uptime)
        self._forget(child, why)
        self._notBefore = now + self.breaker.delay()
        if self.handshake and self.router.sessions and self.breaker.state != OPEN:
            # Sessions are attached: bring the shared child back now (after the backoff).
            self.events.emit("restarting", f"restarting in {self.breaker.delay():g} s")
            self.log.info("server {server}: restarting its shared child in {delay:g} s",
                          server=self.spec.name, delay=self.breaker.delay())
            self.ensure().addErrback(lambda f: None)  # failures reach the next request
        elif self.breaker.state == OPEN:
            self.events.emit("circuit-open", self.circuitReason())
            self.log.error("{why}", why=self.circuitReason())

    def childVanished(self) -> None:
        """The reaper found the child's process gone without an exit event:
        forget it as if it had exited."""
        if self.child is not None:
            self._forget(self.child, "vanished (found gone by the reaper)")

    def _forget(self, child: ChildProtocol, why: str, gone: bool = True) -> None:
        """Let go of C{child}; C{gone}: its process no longer runs."""
        self.router.stats.bytesIn += child.bytesIn
        self.router.stats.bytesOut += child.bytesOut
        tail = list(child.stderrTail)[-3:]
        if tail:
            why += "; last stderr: " + " | ".join(tail)
        if gone and self._watcher is not None and child.pid is not None:
            self._watcher.exited(child.pid)
        self.events.emit("exited", f"child pid {child.pid} {why}", pid=child.pid)
        self.lastExit = why
        self.child = None
        self.state = "stopped"
        self._initializedAt = None
        self.router.childExited(why)
        self._release(Failure(ServerUnavailable(f"server '{self.spec.name}' {why}")))

    def stop(self, graceTime: float = 2.0, termTime: float = 3.0) -> Deferred[None]:
        """Stop the child (stdin EOF, then TERM, then KILL); fires when gone.

        The upstream lets go of it at once: the next L{ensure} spawns a fresh
        child instead of using one that is on its way out."""
        if self._restartTimer is not None and self._restartTimer.active():
            self._restartTimer.cancel()
            self._restartTimer = None
            self.state = "stopped"
            self._release(Failure(ServerUnavailable(f"server '{self.spec.name}' was stopped")))
        child = self.child
        if child is None:
            return succeed(None)
        self._forget(child, "was stopped by the gateway", gone=False)
        self.router.send = _discard
        done = child.stop(graceTime, termTime)
        if self._watcher is not None and child.pid is not None:
            watcher, pid = self._watcher, child.pid
            done.addCallback(lambda _: watcher.exited(pid))
        return done


def _discard(message: jsonrpc.Message) -> None:
    """Where messages go while no child is attached: nowhere."""

# -*- test-case-name: tests.core.test_upstream, tests.core.test_start_timeout -*-
"""One child process of a server, wired to its router, with its handshake.

An L{Upstream} spawns the child through the gateway's L{Spawner}, connects
the child's messages to a L{Router}, and, when its L{Fanout} says so (a shared
child), performs the MCP C{initialize} handshake itself, once, however many
clients wait on it. When the child exits, or closes its stdout (it can never
answer again, even if its process lives on: that one is stopped), every
pending request fails at once and the next L{Upstream.ensure} spawns and
initializes a fresh child, after the backoff its L{Breaker} says. Whether an
exit counts as a crash (for backoff and circuit) is the breaker's rule; the
upstream tells it what the child did: initialized, answered requests, uptime.
Nothing here raises into a Twisted callback: failures are logged and turned
into errors for the waiting requests.

Each child process has an I{era}: the handshake era (2025), or MCP
2026-07-28 for a child that speaks only that revision, which its
L{Era2026Start<mcpgateway.core.era2026start.Era2026Start>} finds out and
discovers in place of the handshake. The gateway's health C{ping} of a 2026
child is a C{server/discover}. The next process is tried in the handshake
era again (unless the entry says C{"era2026"}): the era is the process's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway import __version__
from mcpgateway.core.child import Child
from mcpgateway.core.environment import redirecting
from mcpgateway.core.envsecrets import GivenSecrets, childRedactor
from mcpgateway.core.era2026start import Era2026Start
from mcpgateway.core.era2026support import ChildAdapter, Era2026Support
from mcpgateway.core.eventlog import EventLog
from mcpgateway.core.healing import Breaker, circuitReason
from mcpgateway.core.identity import presentedResult
from mcpgateway.core.refusals import RefusalCheck
from mcpgateway.core.router import Fanout, Router
from mcpgateway.core.sessions import SessionLike
from mcpgateway.core.spawn import ConfinedChild, SecretsUnavailable, Spawner, notFoundFor
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.stats import RequestStats
from mcpgateway.core.status import Circuit, Lifecycle
from mcpgateway.core.stderrlines import stderrNote
from mcpgateway.protocol import jsonrpc, versions
from mcpgateway.runtime import logs

if TYPE_CHECKING:
    from mcpgateway.protocol.requeststate import StateWrapper

GATEWAY_CLIENT_INFO = {"name": "mcpgateway", "version": __version__}
GATEWAY_CAPABILITIES: dict[str, Any] = {
    "sampling": {},
    "elicitation": {"form": {}, "url": {}},
    "roots": {"listChanged": True},
}
"""What the gateway declares to a shared child: everything it can route."""


class ServerUnavailable(Exception):
    """The server's child cannot be started or initialized; says why."""


def _named(child: Child) -> str:
    """A child as the log and the events name it: its process (C{child pid
    N}), or, for a remote server's child, which has none, its session."""
    return f"child pid {child.pid}" if child.pid is not None else "remote session"


class Upstream:
    """One child of a server and the router of its id space.

    @ivar initializeResult: the child's C{InitializeResult} (shared
        children; a 2026 child's is made from its C{DiscoverResult}), as
        clients see it: with the entry's chosen C{serverInfo}
        (L{mcpgateway.core.identity}).
    @ivar state: where the child is in its life (L{Lifecycle}).
    @ivar era: what the current (or last) child speaks: C{"handshake"} or C{"era2026"}.
    @ivar adapter: the wire of a 2026 child (C{None}: a handshake child).
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        spec: ServerSpec,
        spawner: Spawner,
        fanout: Fanout,
        breaker: Breaker | None = None,
        stats: RequestStats | None = None,
        events: EventLog | None = None,
        onAmbiguous: Callable[[str, int], None] | None = None,
        wrapper: StateWrapper | None = None,
        onReady: Callable[[Upstream], None] | None = None,
        era2026: Era2026Support | None = None,
    ) -> None:
        """
        @param wrapper: seals a 2026 child's C{requestState} for its
            clients (default: the process's, L{mcpgateway.core.era2026.child.processWrapper}).
        @param era2026: the 2026-07-28 wire, for a child that speaks only
            that revision (the pools hand over
            L{mcpgateway.core.era2026.lazysupport.ERA2026_SUPPORT}); C{None}: every
            child is driven in the handshake era (a -32022 is a failed
            handshake, an entry that says C{"era2026"} is refused).
        @param onReady: told (once per child process) when a child can be
            listed: a shared child after its handshake (or discover), a
            child of one session after its session's
            C{notifications/initialized} passed to it.
        """
        clock = spawner.clock
        self.spec = spec
        self._spawner = spawner
        self._watcher = spawner.watcher
        self.breaker = breaker if breaker is not None else Breaker(clock)
        self.events = events if events is not None else EventLog(clock)
        self._notBefore = 0.0
        self._restartTimer: IDelayedCall | None = None
        self._initializedAt: float | None = None
        self.startedAt: float | None = None
        """When the current child was spawned."""
        self._clock = clock
        self.handshake = fanout.handshake
        """Whether the gateway initializes this child itself (shared children)."""
        self.router = Router(
            spec.name, clock, spec.requestTimeout, fanout, stats, onAmbiguous, spawner.startTimeout
        )
        self.child: Child | None = None
        self.redactor: Callable[[str], str] | None = None
        """Takes the values of the secrets the current child was given out of
        a text (C{None}: none, or no child): the audit log's payloads
        (L{mcpgateway.core.envsecrets.childRedactor})."""
        self.givenSecrets: GivenSecrets | None = None
        """The values of its references the current child was given (L{mcpgateway.core.adopted})."""
        self.initializeResult: dict[str, Any] | None = None
        self.childInitializeResult: dict[str, Any] | None = None
        """The child's C{InitializeResult} as the child gave it."""
        self.state = Lifecycle.STOPPED
        self.spawns = 0
        self.lastExit: str | None = None
        self._waiters: list[Deferred[None]] = []
        self._leaving: list[Child] = []
        """Children let go of (stdout closed) that are still being stopped."""
        self.era = spec.era
        self.adapter: ChildAdapter | None = None
        self.discoverResult: dict[str, Any] | None = None
        """A 2026 child's C{DiscoverResult}."""
        self._era2026 = Era2026Start(self, era2026, clock, GATEWAY_CLIENT_INFO, wrapper)
        """Finds out and discovers a child that speaks only 2026-07-28."""
        self.onReady = onReady
        self.sessionInitializeResult: dict[str, Any] | None = None
        """A child of one session: its answer to its session's C{initialize}
        (set by the pool; the catalogs read its capabilities)."""
        self.sessionCapabilities: dict[str, Any] | None = None
        """What the client that initialized this child declared (a child
        per session; C{None}: the gateway initialized it)."""
        self._toldReady: Child | None = None
        """The child L{onReady} was told of (once per child process)."""
        self.router.onClientInitialized = self._clientInitialized
        self.adopted = False
        """Whether the current child was kept from a restart's previous
        process (L{adoptChild}) rather than started by this one."""
        self._resolving: Deferred[Any] | None = None
        """The resolution of the secrets of the child being started."""
        self.onLost: Callable[[set[SessionLike], str], object] | None = None
        """Told, when a child is let go of (it exited, or the gateway stops
        it), the sessions it served and why (the shared pool tells them
        their child is new: L{mcpgateway.core.pools.lostchild})."""

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child is not None else None

    def ensure(self) -> Deferred[None]:
        """Fire when a child is running (and initialized, if shared); fail at
        once with the reason while the server's circuit is open."""
        if self.state is Lifecycle.RUNNING:
            return succeed(None)
        if self.breaker.state is Circuit.OPEN:
            return fail(ServerUnavailable(self.circuitReason()))
        waiter: Deferred[None] = Deferred()
        self._waiters.append(waiter)
        if self.state is Lifecycle.STOPPED:
            delay = self._notBefore - self._clock.seconds()
            if delay > 0:
                self.state = Lifecycle.RESTARTING
                self._restartTimer = self._clock.callLater(delay, self._start)
            else:
                self._start()
        return waiter

    def resetBackoff(self) -> None:
        """Start the next child without waiting (after a circuit reset)."""
        self._notBefore = 0.0

    def circuitReason(self) -> str:
        """Why requests are refused while the circuit is open."""
        return circuitReason(self.spec.name, self.breaker)

    def _start(self) -> None:
        self._restartTimer = None
        adoptions = self._spawner.adoptions
        waiting = None if adoptions is None else adoptions.pending(self.spec.name)
        if waiting is not None:  # a restart's children are on their way: one may be ours
            self.state = Lifecycle.STARTING
            self._resolving = waiting
            waiting.addBoth(self._adoptionsSettled, waiting)
            return
        secrets = self._spawner.secrets
        if secrets is None or not self.spec.references:
            self._launch(self.spec, None)
            return
        # Its secret references are resolved first (1Password's CLI, the
        # keyring: off the reactor); the values go to the spawner only.
        self.state = Lifecycle.STARTING
        resolving = secrets.resolve(self.spec)
        self._resolving = resolving
        resolving.addCallbacks(
            self._resolved,
            self._unresolved,
            callbackArgs=(resolving,),
            errbackArgs=(resolving,),
        ).addErrback(self._startBroke)

    def _adoptionsSettled(self, _: object, waiting: Deferred[Any]) -> None:
        if waiting is not self._resolving:
            return  # stopped meanwhile, or given the child it waited for (L{adoptChild})
        self._resolving = None
        self._start()

    def adoptChild(self, child: Child, came: str = "kept from the previous process") -> None:
        """Serve C{child}, a process another gateway process (or another
        pool: C{came} says which) started and initialized
        (L{mcpgateway.core.adopted}), as the running child."""
        self._resolving = None
        self.child = child
        self.adopted = True
        self.era = "handshake"
        self.startedAt = self._clock.seconds()
        self.spawns += 1
        self.router.attachChild(child.send, child.hurry)
        child.ended.addCallback(self._childEnded, child)
        if self._watcher is not None and child.pid is not None:
            try:
                self._watcher.spawned(self.spec.name, child.pid)
            except Exception:
                self.log.failure("server {server}: recording a kept child", server=self.spec.name)
        kept = f"child pid {child.pid} {came}"
        self._emit("started", kept, pid=child.pid)
        self._running()
        self._ready(child)
        self._release(None)

    def _resolved(self, result: tuple[ServerSpec, GivenSecrets], resolving: Deferred[Any]) -> None:
        if resolving is not self._resolving:
            return  # stopped while its secrets were read
        self._resolving = None
        self._launch(*result)

    def _unresolved(self, failure: Failure, resolving: Deferred[Any]) -> None:
        """Its secrets could not be had: no child; as a start that failed,
        for the backoff, the circuit and the status (the reason names the
        reference, never a value)."""
        if resolving is not self._resolving:
            return
        self._resolving = None
        if failure.check(SecretsUnavailable):
            why = failure.getErrorMessage()
        else:  # a bug's message might hold a value: its type only
            why = f"resolving its secret references failed ({type(failure.value).__name__})"
        self.log.error("server {server} cannot start: {why}", server=self.spec.name, why=why)
        self.breaker.exited(why, initialized=False, served=False, uptime=0.0)
        self._notBefore = self._clock.seconds() + self.breaker.delay()
        self.lastExit = f"not started: {why}"
        self._emit("exited", self.lastExit)
        self.state = Lifecycle.STOPPED
        self._release(Failure(ServerUnavailable(f"server '{self.spec.name}' cannot start: {why}")))

    def _startBroke(self, failure: Failure) -> None:
        """Starting the child after its secrets failed unexpectedly (a bug):
        logged, and its waiters told the server is unavailable, never left
        waiting in STARTING."""
        self.log.failure(
            "server {server}: starting its child failed", failure, server=self.spec.name
        )
        if self.state == Lifecycle.STARTING and self.child is None:
            self.state = Lifecycle.STOPPED
            self._release(Failure(ServerUnavailable(f"server '{self.spec.name}' failed to start")))

    def _launch(self, launch: ServerSpec, given: GivenSecrets | None) -> None:
        """Start a child of C{launch} (L{spec}, its secrets' values in place)."""
        try:
            self._spawn(launch, given)
        except ServerUnavailable as e:
            self.state = Lifecycle.STOPPED
            self._release(Failure(e))
            return
        except Exception as e:
            self.log.failure("server {server}: starting a child failed", server=self.spec.name)
            self.state = Lifecycle.STOPPED
            self._release(
                Failure(
                    ServerUnavailable(
                        f"server '{self.spec.name}' cannot start: {type(e).__name__}: {e}"
                    )
                )
            )
            return
        if self.spec.era == "era2026":
            assert self.child is not None
            self._era2026.discover(self.child)
        elif self.handshake:
            self._initialize()
        else:
            self._running()
            self._release(None)

    def _running(self) -> None:
        self.state = Lifecycle.RUNNING
        self._initializedAt = self._clock.seconds()
        self.breaker.succeeded()
        if self.spec.remote is not None:
            # A remote server that answers again is running, whatever ended its
            # last session (a refused start, a lost connection): no process flaps.
            self.breaker.failures.clear()
            self.lastExit = None

    def _stderr(self, line: str) -> None:
        """A line the child wrote on stderr: an event, and a word for its roots."""
        self.events.emit("stderr", line)
        self.router.childRoots.childSpoke()

    def _spawn(self, launch: ServerSpec, redact: GivenSecrets | None) -> None:
        spec = self.spec
        if not spec.runnable:
            raise ServerUnavailable(
                f"server '{spec.name}' cannot start: command '{spec.command}' {notFoundFor(spec)}"
            )
        spawned: list[Child] = []
        # A process's lines are redacted as it reads them; a remote child's here.
        lines = redact if launch.remote is not None else None
        try:
            child = self._spawner.spawn(
                launch,
                lambda message: self._fromChild(spawned, message),
                lambda line: self._stderr(line if lines is None else lines(line)),
                self._outputLost,
                redact,
            )
        except OSError as e:
            raise ServerUnavailable(f"server '{spec.name}' cannot start: {e}") from None
        spawned.append(child)
        self.child = child
        if isinstance(child, ConfinedChild):
            child.onKept = self._sandboxRefused
        self.router.resultCheck = (
            RefusalCheck(
                spec.name,
                child.explain,
                child.home,
                self._sandboxRefused,
                self._spawner.runInThread,
            )
            if isinstance(child, ConfinedChild)
            else None
        )
        self.redactor = childRedactor(launch, redact)
        self.givenSecrets = redact
        self.era = "handshake"
        self.startedAt = self._clock.seconds()
        self.spawns += 1
        self.state = Lifecycle.STARTING
        self.router.attachChild(child.send, child.hurry)
        child.ended.addCallback(self._childEnded, child)
        if self._watcher is not None and child.pid is not None:
            try:
                self._watcher.spawned(spec.name, child.pid)
            except Exception:
                self.log.failure(
                    "server {server}: recording child pid {pid} failed",
                    server=spec.name,
                    pid=child.pid,
                )
        if spec.remote is not None:
            self._emit("started", f"session with {spec.remote.url} opened", pid=None)
            self.log.info(
                "server {server} opened an upstream session with {url}",
                server=spec.name,
                url=spec.remote.url,
            )
            return
        self._emit("started", f"child pid {child.pid} started", pid=child.pid)
        self.log.info(
            "server {server} started child pid {pid}: {command}",
            server=spec.name,
            pid=child.pid,
            command=spec.command,
        )
        given = redirecting(launch.env)
        if given:
            self.log.info(
                "server {server}: child pid {pid} is given {names} (its connections'"
                " proxy or its Kerberos/SASL settings; values not logged)",
                server=spec.name,
                pid=child.pid,
                names=", ".join(given),
                variables=given,
            )

    def _initialize(self) -> None:
        params = {
            "protocolVersion": versions.LATEST,
            "capabilities": GATEWAY_CAPABILITIES,
            "clientInfo": GATEWAY_CLIENT_INFO,
        }
        child = self.child
        self.router.call("initialize", params).addCallback(self._initialized, child)

    def _initialized(self, response: jsonrpc.Message, child: Child | None) -> None:
        if child is not self.child or child is None:
            return  # that child is gone; its exit already failed the waiters
        try:
            self._handshakeAnswered(response, child)
        except Exception as e:
            self.log.failure(
                "server {server}: handling its initialize answer failed", server=self.spec.name
            )
            self._refused(
                child,
                "gave an initialize answer the gateway cannot use",
                f" ({type(e).__name__}: {e})",
            )

    def _handshakeAnswered(self, response: jsonrpc.Message, child: Child) -> None:
        result = response.get("result")
        if not isinstance(result, dict) and self._era2026.only(response.get("error")):
            self._era2026.discover(child, response.get("error"))
            return
        if not isinstance(result, dict):
            error = response.get("error")
            text = error.get("message", error) if isinstance(error, dict) else error
            silent = f"server '{self.spec.name}' did not answer initialize"
            timedOut = isinstance(error, dict) and error.get("code") == jsonrpc.REQUEST_TIMEOUT
            if timedOut and isinstance(text, str) and text.startswith(silent):
                # The router's timeout (it never answered), in the gateway's words.
                self._refused(child, text[len(f"server '{self.spec.name}' ") :])
            else:
                self._refused(child, "refused initialize", f": {text}")
            return
        self.childInitializeResult = result
        self.initializeResult = presentedResult(result, self.spec)
        self._emit("initialized", "initialized", pid=child.pid)
        self.router.send(jsonrpc.notification("notifications/initialized"))
        self._running()
        self.router.resubscribe()
        info = result.get("serverInfo")
        self.log.info(
            "server {server} initialized (protocol {version}, {name})",
            server=self.spec.name,
            version=result.get("protocolVersion"),
            name=info.get("name") if isinstance(info, dict) else None,
        )
        self._ready(child)
        self._release(None)

    def _clientInitialized(self) -> None:
        """A session's C{notifications/initialized} reached the child: a
        child of one session (no handshake of the gateway's) is ready."""
        child = self.child
        if child is not None and not self.handshake and self.era == "handshake":
            self._ready(child)

    def _ready(self, child: Child) -> None:
        """Tell L{onReady} that C{child} can be listed (once per child)."""
        if self.onReady is None or self._toldReady is child or child is not self.child:
            return
        self._toldReady = child
        try:
            self.onReady(self)
        except Exception:
            self.log.failure(
                "server {server}: a listener of its ready child failed", server=self.spec.name
            )

    def _sandboxRefused(self, key: str, note: str) -> None:
        """What its sandbox likely refused a tool call of its child
        (L{RefusalCheck}): kept on the server's record, logged and told its
        log's readers once per server and path."""
        if self.router.stats.refused(key, note):
            self.log.warn("server {server}: {note}", server=self.spec.name, note=note)
            self.events.emit("sandbox", note)

    def _fromChild(self, spawned: list[Child], message: jsonrpc.Message) -> None:
        """A message of the child C{spawned[0]}: through its adapter when it
        speaks the 2026 era, else to the router."""
        current = bool(spawned) and spawned[0] is self.child
        adapter = self.adapter
        if current and adapter is not None:
            adapter.fromChild(message)
            return
        if current and not self.handshake and self._era2026.refusesInitialize(message):
            assert self.child is not None
            self._era2026.discover(self.child, message.get("error"), held=message["id"])
            return
        self.router.childMessage(message)

    def _refused(self, child: Child, what: str, said: str = "") -> None:
        """Fail what waits on C{child} (C{"server 'NAME' "} + C{what} +
        C{said}) and kill it: its end says the gateway killed it because it
        C{what} (the gateway's own words; C{said}, what it wrote, stays in
        the waiters' error and the log)."""
        why = f"server '{self.spec.name}' {what}{said}"
        self.log.error("{why}", why=why)
        self._release(Failure(ServerUnavailable(why)))
        child.kill(what)

    def _release(self, result: Failure | None) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if result is None:
                waiter.callback(None)
            else:
                waiter.errback(result)

    def _childEnded(self, _: None, child: Child) -> None:
        try:
            if child is self.child:
                self._lost(child, child.howItEnded())
            elif child in self._leaving:
                self._leaving.remove(child)
                self._tellExited(child)
        except Exception:
            self.log.failure(
                "server {server}: handling the exit of child pid {pid} failed",
                server=self.spec.name,
                pid=child.pid,
            )

    def _outputLost(self, child: Child) -> None:
        """C{child} closed its stdout and still runs: it is gone for the
        gateway (it is being stopped); fail its requests, start anew."""
        if child is not self.child:
            return
        self._leaving.append(child)
        self._lost(child, "closed its stdout but kept running; stopping it", gone=False)

    def _lost(self, child: Child, why: str, gone: bool = True) -> None:
        """The current child is gone unasked: count it, fail what waits on
        it, and bring a shared child with sessions back after the backoff."""
        now = self._clock.seconds()
        started = self.startedAt if self.startedAt is not None else now
        crash = self.breaker.exited(
            why + stderrNote(child.stderrTail),
            initialized=self._initializedAt is not None and child.responses >= 1,
            served=child.responses >= 2,
            uptime=now - started,
        )
        self._forget(child, why, gone)
        delay = self.breaker.delay()
        self._notBefore = now + delay
        self.log.info(
            "server {server}: {child} {why} after {uptime:.1f} s, having written"
            " {responses} response(s): {verdict}",
            server=self.spec.name,
            child=_named(child),
            pid=child.pid,
            why=why,
            uptime=now - started,
            responses=child.responses,
            verdict=(f"a crash ({self.breaker.consecutive} in a row), next start after {delay:g} s")
            if crash
            else "not a crash, next start at once",
        )
        if self.handshake and self.router.sessions and self.breaker.state is not Circuit.OPEN:
            # Sessions are attached: bring the shared child back now (after the backoff).
            self._emit("restarting", f"restarting in {delay:g} s")
            self.log.info(
                "server {server}: restarting its shared child in {delay:g} s",
                server=self.spec.name,
                delay=delay,
            )
            self.ensure().addErrback(lambda f: None)  # failures reach the next request
        elif self.breaker.state is Circuit.OPEN:
            self._emit("circuit-open", self.circuitReason())
            self.log.error("{why}", why=self.circuitReason())

    def childVanished(self) -> None:
        """The reaper found the child's process gone without an exit event:
        forget it as if it had exited."""
        if self.child is not None:
            self._forget(self.child, "vanished (found gone by the reaper)")

    def _forget(self, child: Child, why: str, gone: bool = True) -> None:
        """Let go of C{child}; C{gone}: its process no longer runs."""
        self.router.stats.bytesIn += child.bytesIn
        self.router.stats.bytesOut += child.bytesOut
        served, self.router.childServed = self.router.childServed, set()
        if served and self.onLost is not None:
            try:
                self.onLost(served, why)  # without its stderr: other sessions' business
            except Exception:
                self.log.failure("server {server}: telling a lost child", server=self.spec.name)
        why += stderrNote(child.stderrTail)
        if gone:
            self._tellExited(child)
        self._emit("exited", f"{_named(child)} {why}", pid=child.pid)
        self.lastExit = why
        self.child = None
        self.adopted = False
        self.redactor = self.givenSecrets = None
        if self.adapter is not None:
            self.adapter.close()
            self.adapter = None
        self.state = Lifecycle.STOPPED
        self._initializedAt = None
        self.router.detachChild()
        self.router.childExited(why)
        self._release(Failure(ServerUnavailable(f"server '{self.spec.name}' {why}")))

    def _tellExited(self, child: Child) -> None:
        if self._watcher is not None and child.pid is not None:
            try:
                self._watcher.exited(child.pid)
            except Exception:
                self.log.failure(
                    "server {server}: recording the exit of child pid {pid} failed",
                    server=self.spec.name,
                    pid=child.pid,
                )

    def _emit(self, kind: str, text: str, **fields: Any) -> None:
        try:
            self.events.emit(kind, text, **fields)
        except Exception:
            self.log.failure(
                "server {server}: a listener of its events failed", server=self.spec.name
            )

    def stop(self, graceTime: float = 2.0, termTime: float = 3.0, why: str = "") -> Deferred[None]:
        """Stop the child (stdin EOF, then TERM, then KILL); fires when gone.
        C{why} (C{"no traffic for 300 s"}) follows "was stopped by the
        gateway" in its L{lastExit}.

        The upstream lets go of it at once: the next L{ensure} spawns a fresh
        child instead of using one that is on its way out."""
        if self._restartTimer is not None and self._restartTimer.active():
            self._restartTimer.cancel()
            self._restartTimer = None
            self.state = Lifecycle.STOPPED
            self._release(Failure(ServerUnavailable(f"server '{self.spec.name}' was stopped")))
        if self._resolving is not None:
            self._resolving = None  # its values, when they come, are dropped
            self.state = Lifecycle.STOPPED
            self._release(Failure(ServerUnavailable(f"server '{self.spec.name}' was stopped")))
        stopping = [leaving.stop(graceTime, termTime) for leaving in self._leaving]
        child = self.child
        if child is not None:
            self._forget(child, f"was stopped by the gateway{': ' if why else ''}{why}", False)
            done = child.stop(graceTime, termTime)
            done.addCallback(lambda _: self._tellExited(child))
            stopping.append(done)
        if not stopping:
            return succeed(None)
        if len(stopping) == 1:
            return stopping[0]
        return DeferredList(stopping, consumeErrors=True).addCallback(lambda _: None)

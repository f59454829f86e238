# -*- test-case-name: tests.core.gateway.test_gateway, tests.ops.test_listener -*-
"""The gateway's place in the twistd service tree: listening, the
instance lock and C{state.json}, and periodic jobs.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

from twisted.application.service import IService, MultiService, Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import (
    IListeningPort,
    IReactorCore,
    IReactorFromThreads,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway import __version__
from mcpgateway.ops.statedir import InstanceLock, removeState, writeState
from mcpgateway.runtime import logs
from mcpgateway.runtime.timers import Every


@runtime_checkable
class EndsListenStreams(Protocol):
    """A site's root resource that holds MCP 2026-07-28 listen streams
    (the gateway's, L{mcpgateway.web.root.GatewayRoot}): they are ended
    gracefully before the listener stops."""

    def endEra2026Streams(self, reason: str) -> int:
        """End every open listen stream, saying C{reason}; how many ended."""


class ListenerService(Service):
    """Listens on the gateway's endpoint; if it cannot, says so in one line
    and stops the process with exit status 1 (no traceback, no half-started
    gateway). A port another socket holds is said as such, with the process
    holding it when C{/proc} shows it (L{mcpgateway.runtime.portuse}): C{findHolder}
    looks it up, by default in the reactor's thread pool."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        endpoint: IStreamServerEndpoint,
        description: str,
        factory: Any,
        reactor: IReactorCore,
        exit: Callable[[int], Any] = os._exit,
        onListening: Callable[[int], Any] | None = None,
        findHolder: Callable[[int, str | None], Deferred[Holder]] | None = None,
        openFiles: Callable[[], object] | None = None,
        putBack: Callable[[], Deferred[list[str]]] | None = None,
    ) -> None:
        """
        @param openFiles: called before it listens: the gateway's raises
            its open-files limit (L{mcpgateway.ops.openfiles.raiseOpenFiles}).
        @param putBack: called when another account holds the port, before
            the process stops: puts back the client entries a gateway of
            this state directory adopted and left pointing there
            (L{mcpgateway.ops.putback.putBackEverything}, in a worker
            thread); what it did, a line each.
        """
        self._openFiles = openFiles
        self._putBack = putBack
        self._findHolder = findHolder or _holderInThread(reactor)
        self._onListening = onListening
        self._endpoint = endpoint
        self._description = description
        self._factory = factory
        self._reactor = reactor
        self._exit = exit
        self._port: IListeningPort | None = None
        self._bound: Deferred[None] | None = None
        self._refused = False

    def bind(self) -> bool:
        """Listen, once (later calls say the same): whether the start may
        go on. C{False}: the endpoint refused at once (a port another socket
        holds, an address this host does not have), which is said in one
        line (L{_failed}) before the process stops. twistd calls it after
        daemonizing (L{privilegedStartService}); C{twist} and a test, from
        L{startService}; L{InstanceService} calls it before any other
        service starts (L{InstanceService.listensFirst})."""
        if self._bound is None:
            if self._openFiles is not None:
                self._openFiles()
            self._bound = self._endpoint.listen(self._factory).addCallbacks(
                self._listened, self._failed
            )
        return not self._refused

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        self.bind()

    def startService(self) -> None:
        super().startService()
        self.bind()

    def _listened(self, port: IListeningPort) -> None:
        """The socket is bound; what listening sets in motion (C{state.json},
        the "listening on" line, systemd's C{READY=1}) waits for the reactor
        to run. Whoever reads any of them takes the gateway to be serving, and
        twistd and twist start the services before the reactor runs: until
        then a connection waits in the backlog, unanswered. The port is kept
        at once: a stop or a hand-over before then closes it or passes it on."""
        self._port = port
        self._reactor.callWhenRunning(self._listening, port)

    def _listening(self, port: IListeningPort) -> None:
        if not self.running or self._port is not port:
            return  # stopped, or handed over, before the reactor ran
        address = port.getHost()
        try:
            if self._onListening is not None:
                self._onListening(getattr(address, "port", 0))
        finally:
            # Said once what listening sets in motion is done (state.json
            # written): whoever waits for this line may read the state at once.
            # Said all the same when that failed (its traceback is logged).
            self.log.info(
                "listening on {where}",
                where=f"{getattr(address, 'host', address)}:{getattr(address, 'port', '')}",
            )

    def _failed(self, reason: Failure) -> None:
        self._refused = True
        taken = _takenPort(reason)
        if taken is None:
            self._cannotListen(reason.getErrorMessage())
            return
        from mcpgateway.runtime.portuse import inUseMessage

        port, host = taken
        found = self._findHolder(port, host)
        found.addErrback(lambda _: None)  # no pid, then: the port is said all the same

        def said(holder: int | tuple[int | None, int | None] | None) -> None:
            pid, uid = holder if isinstance(holder, tuple) else (holder, None)
            message = inUseMessage(port, pid, uid)
            if uid is None or uid == os.geteuid() or self._putBack is None:
                self._cannotListen(message, port, pid)
                return
            self._sayCannotListen(message, port, pid)
            putting = self._putBack()
            putting.addCallbacks(self._putBackSaid, self._putBackFailed)
            putting.addBoth(lambda _: self._stop())

        found.addCallback(said)

    def _putBackSaid(self, lines: list[str]) -> None:
        if lines:
            self.log.warn(
                "your clients' entries pointed at that port: put back as they were (as"
                " `mcpgateway restore` does), so none of them talks to that account's"
                " process: {lines}",
                lines="; ".join(lines),
            )

    def _putBackFailed(self, reason: Failure) -> None:
        self.log.failure(
            "putting back the client entries that point at that port failed: run"
            " `mcpgateway restore`",
            reason,
        )

    def _cannotListen(self, why: str, port: int | None = None, holder: int | None = None) -> None:
        self._sayCannotListen(why, port, holder)
        self._stop()

    def _sayCannotListen(self, why: str, port: int | None, holder: int | None) -> None:
        self.log.critical(
            "cannot listen on {endpoint}: {why}",
            endpoint=self._description,
            why=why,
            port=port,
            holder=holder,
        )

    def _stop(self) -> None:
        """Stop the process, exit status 1."""
        self._reactor.addSystemEventTrigger("after", "shutdown", self._exit, 1)
        # Listening may fail before the reactor runs (twist starts services first).
        self._reactor.callWhenRunning(self._reactor.stop)

    @property
    def host(self) -> str | None:
        """The address the listening socket is bound to, as it reports it
        (C{0.0.0.0} or C{::} when it listens on every address); C{None}
        before it listens, or for a socket without one (a UNIX socket)."""
        if self._port is None:
            return None
        host = getattr(self._port.getHost(), "host", None)
        return host if isinstance(host, str) and host else None

    def fileno(self) -> int | None:
        """The listening socket's descriptor (a restart passes it on)."""
        fileno = getattr(self._port, "fileno", None)
        return fileno() if callable(fileno) else None

    def handOver(self) -> Deferred[None] | None:
        """Stop accepting: a successor that inherited the socket goes on.

        Twisted's port ends with C{shutdown(2)} (which would stop the socket
        in every process that holds it) unless it adopted the socket; here it
        must only close this process's descriptor, as for an adopted one."""
        port, self._port = self._port, None
        if port is None:
            return None
        if hasattr(port, "_shouldShutdown"):
            port._shouldShutdown = False
        self.log.info("stopped accepting connections: the successor accepts them")
        return port.stopListening()

    def stopService(self) -> Deferred[None] | None:
        super().stopService()
        # Listen streams (MCP 2026-07-28) get their graceful end while their
        # connections are still up: their clients know to listen again.
        root = getattr(self._factory, "resource", None)
        try:
            if isinstance(root, EndsListenStreams):
                root.endEra2026Streams("the gateway is stopping")
        except Exception:
            self.log.failure("ending the listen streams failed")
        if self._port is None:
            return None
        port, self._port = self._port, None
        return port.stopListening()


def _takenPort(reason: Failure) -> tuple[int, str | None] | None:
    """The port and address (C{None}: every address) of a failure to
    listen because another socket holds the port; C{None} for any other."""
    error = reason.value
    if not isinstance(error, CannotListenError):
        return None
    cause = error.socketError
    if getattr(cause, "errno", None) != errno.EADDRINUSE or not isinstance(error.port, int):
        return None
    return error.port, error.interface or None


Holder = int | tuple[int | None, int | None] | None
"""Who holds a port: its process's pid, or C{(pid, uid)} with the account
whose socket listens there (either C{None}: not known)."""


def _holderInThread(reactor: IReactorCore) -> Callable[[int, str | None], Deferred[Holder]]:
    """L{mcpgateway.runtime.portuse.holderPid} and
    L{mcpgateway.runtime.portuse.listenerUid} in C{reactor}'s thread pool
    (they read C{/proc}): a port another account holds is said as such;
    C{None} at once on a reactor without threads."""

    def find(port: int, host: str | None) -> Deferred[Holder]:
        getThreadPool = getattr(reactor, "getThreadPool", None)
        if getThreadPool is None:
            return succeed(None)
        from twisted.internet.threads import deferToThreadPool

        from mcpgateway.runtime.portuse import holderPid, listenerUid

        def both() -> tuple[int | None, int | None]:
            return holderPid(port, host), listenerUid(port, host)

        # A reactor with a thread pool takes its results back from the threads.
        found: Deferred[Holder] = deferToThreadPool(
            cast("IReactorFromThreads", reactor), getThreadPool(), both
        )
        return found

    return find


class Binds(Protocol):
    """A service that takes its socket before the others start
    (L{ListenerService})."""

    def bind(self) -> bool:
        """Take the socket, once; whether the start may go on."""


class InstanceService(MultiService):
    """The root of the gateway's service tree: holds the single-instance
    lock, and C{<state-dir>/state.json} (pid, port, start time, version, …)
    once the gateway listens.

    Both are released only after every service below has stopped (children
    exited, the adopted config restored): until then a second gateway on
    the same state directory must not start, or it would run its own
    recovery against a backup this one is still restoring from.

    The listening socket is taken before any service below starts
    (L{listensFirst}): a port another process holds stops the start before
    a server is installed, probed or spawned, and the line that says so is
    the gateway's first after twistd's own.
    """

    def __init__(
        self, stateDir: Path, lock: InstanceLock, details: dict[str, Any], clock: IReactorTime
    ) -> None:
        super().__init__()
        self._stateDir = stateDir
        self._lock = lock
        self._details = details
        self._clock = clock
        self._written = False
        self._state: dict[str, Any] = {}
        self._first: Binds | None = None
        self._reporting: tuple[IService, ...] = ()

    def listensFirst(self, listener: Binds, *reporting: IService) -> None:
        """Have C{listener} take its socket before any service below
        starts: in L{privilegedStartService} under twistd (which calls it
        after daemonizing), else at the start of L{startService} (C{twist}
        calls no privileged start). When it cannot, nothing serves: every
        service below but C{reporting} (the log file, which must hold the
        line that says why) leaves the tree, so that none starts or stops,
        and the listener stops the process (exit status 1)."""
        self._first = listener
        self._reporting = reporting

    def _bindFirst(self) -> None:
        first, self._first = self._first, None
        if first is None or first.bind():
            return
        for service in list(self):
            if service not in self._reporting:
                service.disownServiceParent()

    def privilegedStartService(self) -> None:
        self._bindFirst()
        super().privilegedStartService()

    def startService(self) -> None:
        self._bindFirst()  # twist calls no privilegedStartService
        super().startService()

    def configChanged(self, path: Path | None) -> None:
        """The gateway serves another config file now (the Claude config
        appeared and was adopted): C{state.json} says so, for C{status}."""
        self._details["config"] = str(path) if path is not None else None
        if self._written:
            self._state["config"] = self._details["config"]
            writeState(self._stateDir, self._state)

    def handingOver(self, predecessor: int | None, within: float = 0.0) -> None:
        """A restart's previous process (pid C{predecessor}) still hands
        over to this one, for C{within} seconds at most: C{state.json}
        says so (C{handingOver}), so that C{mcpgateway restart} waits for
        it, C{stop} stops it too and C{status} names it; C{None}: it has
        stopped (the key goes)."""
        if predecessor is None:
            self._details.pop("handingOver", None)
            self._state.pop("handingOver", None)
        else:
            self._details["handingOver"] = {"from": predecessor, "within": within}
        if self._written:
            self._state.update(self._details)
            writeState(self._stateDir, self._state)

    def handOver(self) -> None:
        """A successor runs on this state directory: C{state.json} is its
        now, and stays when this process stops (the lock stays held too:
        the successor shares it, see L{mcpgateway.ops.handover})."""
        self._written = False

    def listening(self, port: int, interface: str | None = None) -> None:
        """The gateway listens on C{port}: write C{state.json}. C{interface}:
        the address the socket is bound to, as it reports it (C{0.0.0.0}
        when it listens on every address: a reader connects to loopback
        then, L{mcpgateway.healthcheck.hostFor}); it replaces the one the
        details give (C{None}: a socket without one, the details' stays)."""
        state = {
            "pid": os.getpid(),
            "port": port,
            "startTime": self._clock.seconds(),
            "version": __version__,
            **self._details,
        }
        if interface:
            state["interface"] = interface
        writeState(self._stateDir, state)
        self._state = state
        self._written = True

    def stopService(self) -> Deferred[Any]:
        stopping: Deferred[Any] = super().stopService()

        def release(result: Any) -> Any:
            if self._written:
                removeState(self._stateDir)
                self._written = False
            self._lock.release()
            return result

        return stopping.addBoth(release)


class PeriodicService(Service):
    """Calls L{run} every C{interval} seconds on the injected clock while the
    service runs. A failing call is logged and the loop goes on."""

    log = Logger(observer=logs.observer)
    failure = "periodic job failed"

    def __init__(self, clock: IReactorTime, interval: float) -> None:
        self.interval = interval
        self._clock = clock
        self._loop = Every(clock, interval, self._tick)

    def run(self) -> None:
        raise NotImplementedError

    def _tick(self) -> None:
        try:
            self.run()
        except Exception:
            self.log.failure(self.failure)

    def startService(self) -> None:
        super().startService()
        self._loop.start()

    def stopService(self) -> None:
        super().stopService()
        self._loop.stop()

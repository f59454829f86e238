# -*- test-case-name: tests.ops.test_signals -*-
"""SIGTERM, SIGINT (Ctrl-C) and SIGHUP: the first stops the gateway, one
more cuts its drain short, and none ever ends in a traceback.

SIGHUP is a stop like SIGTERM (a terminal hang-up means "stop"; the
gateway has no reload signal: it reloads its config files as they change,
and C{SIGUSR2} restarts it keeping its sessions, see
L{mcpgateway.ops.handover}). Nothing else handles SIGHUP, so its default
action would kill the process at once: no drain, no sessions saved, the
children left running. C{nohup} (SIGHUP inherited as ignored) keeps it
ignored.

Twisted's own handlers call C{reactor.stop()} on every signal: a second one
while the gateway stops (it lets requests in flight finish, at most
C{--drain-timeout} seconds, then stops its children) raised
C{ReactorNotRunning}, logged as a critical traceback. L{StopSignals}
replaces them as the service starts (under C{twistd}, after it daemonized;
a signal before the reactor runs stops it as soon as it does, the graceful
way, instead of killing the process outright) and again once the reactor
runs (after Twisted installed its own):

 - the first signal stops the reactor, as Twisted's handler does (the same
   C{Received SIGTERM, shutting down.} line; C{twistd} and C{twist} still
   exit by that signal);
 - a signal while the gateway stops (whatever began the stop) logs one
   line, C{already stopping}, and cuts the drain short: the requests still
   in flight are answered with an error and the children are stopped now,
   the normal way (stdin closed, then SIGTERM, then SIGKILL), so the rest of
   the stop (sessions saved, client configs restored, the state files let
   go of) still happens. Once the children are being stopped, more signals
   only log that line.

The handlers stay installed while the service tree stops: that is when they
are needed. A handler only schedules its work on the reactor
(C{callFromThread}); it does nothing inline. A signal the process inherited
as ignored (C{SIG_IGN}: SIGINT of a shell's background job) stays ignored.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol, cast

from twisted.application.service import Service
from twisted.internet.error import ReactorNotRunning
from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger

from mcpgateway.runtime import logs
from mcpgateway.runtime.twistedprivate import ISupportsExitSignalCapturing

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
IGNORED_ENV = "MCPGATEWAY_IGNORED_SIGNALS"
"""Set by a restarting gateway for its successor: the stop signals it found
ignored (C{SIGHUP} under C{nohup}), comma-separated names. Twisted's
C{spawnProcess} resets ignored signals to their default in the child, so
the successor ignores these again itself."""
"""The signals that stop the gateway."""

InstallSignal = Callable[[int, Any], Any]
"""C{signal.signal}: installs a handler, returns the one it replaced."""


class SignalReactor(Protocol):
    """What L{StopSignals} needs of the reactor."""

    def callWhenRunning(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> Any: ...

    def callFromThread(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> None: ...

    def stop(self) -> None: ...


def ignoredStopSignals(getSignal: Callable[[int], Any] = signal.getsignal) -> str:
    """The value of L{IGNORED_ENV} for a successor: the stop signals this
    process ignores, by name (C{""} for none)."""
    return ",".join(signalName(s) for s in STOP_SIGNALS if getSignal(s) is signal.SIG_IGN)


def signalName(signum: int) -> str:
    """C{SIGTERM} for 15; C{signal 99} for a number with no name."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class StopSignals(Service):
    """Handles SIGTERM, SIGINT and SIGHUP (see the module docstring)."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        reactor: SignalReactor,
        cutDrainShort: Callable[[Callable[[int], object]], int | None],
        installSignal: InstallSignal = signal.signal,
        inherited: str = "",
    ) -> None:
        """
        @param cutDrainShort: stops waiting for the requests in flight of a
            stop under way (L{mcpgateway.core.gateway.shutdown.Shutdown.cutShort});
            returns how many there were, C{None} when the stop waits for none.
        @param installSignal: C{signal.signal} (tests pass a fake).
        @param inherited: L{IGNORED_ENV}'s value: stop signals a predecessor
            ignored, ignored here too.
        """
        self._reactor = reactor
        self._cutDrainShort = cutDrainShort
        self._installSignal = installSignal
        self._inherited = {name.strip() for name in inherited.split(",") if name.strip()}
        self.installed: list[int] = []
        """The signals handled here (once the reactor runs)."""
        self.stopping = False
        """Whether a signal stopped the reactor already."""

    def startService(self) -> None:
        super().startService()
        # Now, for the moment before the reactor runs (twistd and twist start
        # the services first: a signal then would kill the process on the
        # spot, its configs left adopted); the stop it asks for waits for the
        # reactor, so only a reactor that takes calls from a signal handler
        # gets them now (an in-memory test reactor does not: the test
        # process's own handlers stay). Again once the reactor runs: it
        # installs its own as it starts.
        if IReactorFromThreads.providedBy(self._reactor):
            self._install()
        self._reactor.callWhenRunning(self._install)

    def stopService(self) -> None:
        # The handlers stay: a signal during the stop is what they are for.
        super().stopService()

    def _install(self) -> None:
        if not self.running:
            return
        for signum in STOP_SIGNALS:
            if signalName(signum) in self._inherited:
                self._installSignal(signum, signal.SIG_IGN)
                continue
            previous = self._installSignal(signum, self._signalled)
            if previous is signal.SIG_IGN:
                self._installSignal(signum, previous)
            elif signum not in self.installed:
                self.installed.append(signum)

    def _signalled(self, signum: int, frame: FrameType | None) -> None:
        self._reactor.callFromThread(self.received, signum)

    def received(self, signum: int) -> None:
        """Signal C{signum} arrived (called in the reactor thread)."""
        name = signalName(signum)
        if not self.stopping and self.running:
            self.stopping = True
            self.log.info("Received {signal}, shutting down.", signal=name)
            try:
                self._reactor.stop()
            except ReactorNotRunning:
                pass  # stopped meanwhile by something else: a stop is under way
            else:
                if ISupportsExitSignalCapturing.providedBy(self._reactor):
                    # twistd and twist exit by it, as after Twisted's own handler.
                    cast(Any, self._reactor)._exitSignal = signum
                return
        self.stopping = True

        def announce(count: int) -> None:
            self.log.info(
                "Received {signal}: already stopping; no longer waiting for {count} request(s)"
                " in flight: they get an error and the children are stopped now",
                signal=name,
                count=count,
            )

        if self._cutDrainShort(announce) is None:
            self.log.info(
                "Received {signal}: already stopping, waiting for the children to exit",
                signal=name,
            )

# -*- test-case-name: tests.tuned.test_reactor -*-
"""The gateway's reactor: Twisted's epoll reactor with a cheaper dispatch.

Twisted's C{EPollReactor} hands each ready descriptor to its handler inside
C{twisted.python.log.callWithLogger}, which asks the descriptor for its log
prefix and runs the handler in a fresh logging context, so that a message
logged through the older C{twisted.python.log} API during it says which
connection it came from. Per event that costs more than the rest of the
dispatch: at one call in flight it was 7-9% of the gateway's CPU per call
(docs/design/costs.md). The gateway logs through C{twisted.logger},
whose events say what they are about themselves, so L{GatewayReactor}
dispatches directly. What the context also did is kept: an exception that
escapes the handler (a C{connectionLost} that raises) is logged, and the loop
goes on with the other descriptors.

It reads three of C{EPollReactor}'s private names (C{_poller},
C{_selectables}, C{_doReadOrWrite}), which Twisted may rename: a Twisted
without one of them gets Twisted's own C{doPoll} back (and a warning), not
a reactor that fails on its first turn.

It also waits in two ways. After L{QUICK_RUN} quick waits in a row (each
less than twice C{--poll-spin}), when the last one ended with a single ready
descriptor and the site serves at most one request
(L{GatewayReactor.spinBeforeWaiting}'s probe), it asks epoll for ready
events without blocking, again and again, for up to C{--poll-spin}
microseconds (default L{SPIN}), before it blocks. At one call in flight a
call is a chain of hops (client to gateway, gateway to child, child to
gateway, gateway to client), each one waking the process it reaches; on a
virtual machine an idle vCPU is woken by the hypervisor, tens of
microseconds per wake-up, and a laptop core in a deep idle state takes as
long. A gateway that is still polling when the child's answer (or the
client's next request) comes is not woken at all (at one call in
flight, more calls per second and a lower p50 latency, at about the same
CPU per call; docs/design/costs.md). Only a run of quick waits, because a
spin that finds nothing costs its whole length, and one that finds its
event still costs the wait it replaced: a tool slower than twice the spin,
a client that pauses between calls (a person's, or an SDK that takes most
of a millisecond to make its next request), a child's stderr lines further
apart than that, or an idle gateway, never make it spin; under load (two
requests or more being served, or several events at once) the CPU goes to
the children and the clients instead. Twisted's own reactor, and this one
on a Twisted without the names it reads (above), never spin.

Linux only (epoll). Every way of running the gateway installs it:
C{mcpgateway start} (L{mcpgateway.launch}), and C{twistd -n mcpgateway},
C{twist mcpgateway} and a C{.tac} through the options they parse
(L{mcpgateway.tap.RunnerOptions}, L{installUnlessChosen}). A reactor named
with C{--reactor} is kept, Twisted's own epoll reactor too;
C{--reactor=mcpgateway} names this one (the gateway's plugin file publishes
it). Elsewhere the gateway runs on Twisted's default reactor.
"""

from __future__ import annotations

import errno
import math
import select
import time
from collections.abc import Callable
from typing import Any

from twisted.internet.epollreactor import EPollReactor
from twisted.logger import Logger

from mcpgateway.protocol.bounds import POLL_SPIN
from mcpgateway.runtime import logs

AVAILABLE = hasattr(select, "epoll")
"""Whether this system has epoll (the reactor's only poller)."""

_log = Logger(observer=logs.observer, namespace="mcpgateway.tuned.reactor")

RELIES_ON = ("_poller", "_selectables", "_doReadOrWrite")
"""The private names of Twisted's C{EPollReactor} that L{GatewayReactor.doPoll}
reads."""


SPIN = POLL_SPIN / 1e6
"""The default of C{--poll-spin}, in seconds: how long the reactor polls
before it blocks (L{GatewayReactor.spinBeforeWaiting})."""

QUICK_RUN = 6
"""The reactor spins only after this many quick waits in a row: three calls
of a chain at one call in flight (a wait for the child, one for the client,
each), more than the four quick waits an SDK client's call leaves between
its slow ones (connect, head, child, close; then it makes its next request
for most of a millisecond)."""


def missing(reactor: object) -> list[str]:
    """Which of L{RELIES_ON} C{reactor} lacks."""
    return [name for name in RELIES_ON if not hasattr(reactor, name)]


class GatewayReactor(EPollReactor):
    """C{EPollReactor}, dispatching each ready descriptor without a logging
    context of its own."""

    finalEvent = False
    """Whether the handler running now is the last of this turn's ready
    descriptors: nothing more is read in this turn (its timed calls are
    left), so what the handler writes may leave at once
    (L{mcpgateway.tuned.turnflush.TurnFlusher.sendIfFinal})."""

    _now: Callable[[], float] = staticmethod(time.monotonic)
    """The clock the waits are timed with (a test replaces it)."""

    def __init__(self) -> None:
        self._atTurnEnd: list[Callable[[], object]] = []
        self._spin = 0.0
        self._spinWhile: Callable[[], bool] = _never
        self._quick = 0
        """How many waits in a row were quick (under twice the spin)."""
        self._lastReady = 0
        """How many descriptors were ready after the last wait."""
        super().__init__()
        lacking = missing(self)
        if lacking:  # a Twisted that renamed what doPoll reads: its own doPoll
            own = EPollReactor.doPoll.__get__(self)
            self.doPoll = self.doIteration = own  # type: ignore[method-assign]
            _log.warn(
                "this Twisted's epoll reactor has no {names}: the gateway runs on its"
                " dispatch, unchanged (and never polls before it sleeps: --poll-spin does"
                " nothing)",
                names=", ".join(lacking),
            )

    def spinBeforeWaiting(self, seconds: float, worthIt: Callable[[], bool]) -> None:
        """Poll for up to C{seconds} before blocking (C{0}: never), when the
        wait is expected to be short (see the module's docstring) and
        C{worthIt()} says so (the site: it serves at most one request)."""
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise ValueError(f"a spin of {seconds!r} seconds")
        self._spin = seconds
        self._spinWhile = worthIt

    def _wait(self, timeout: float | None) -> list[tuple[int, int]]:
        """The ready descriptors, waiting up to C{timeout} seconds for one
        (C{None}: as long as it takes); see L{spinBeforeWaiting}."""
        poll: Callable[[float, int], list[tuple[int, int]]] = self._poller.poll
        size = len(self._selectables)
        if timeout == 0:  # timed calls are due: no wait at all
            ready = poll(0, size)
            self._lastReady = len(ready)
            return ready
        now = self._now
        start = now()
        spin = self._spin
        if spin and self._quick >= QUICK_RUN and self._lastReady == 1 and self._spinWhile():
            until = start + (spin if timeout is None else min(spin, timeout))
            ready = poll(0, size)
            while not ready and now() < until:
                ready = poll(0, size)
            if not ready:
                if timeout is not None:
                    timeout = max(0.0, timeout - (now() - start))
                ready = poll(-1 if timeout is None else timeout, size)
        else:
            ready = poll(-1 if timeout is None else timeout, size)
        self._quick = self._quick + 1 if now() - start < spin + spin else 0
        self._lastReady = len(ready)
        return ready

    def doPoll(self, timeout: float | None) -> None:
        """Wait up to C{timeout} seconds (C{None}: until an event) and run
        the handler of every descriptor that is ready."""
        try:
            ready = self._wait(timeout)
        except OSError as e:
            if e.errno == errno.EINTR:
                return  # a signal: the loop comes round again
            raise
        selectables = self._selectables
        dispatch = self._doReadOrWrite
        left = len(ready)
        try:
            for fd, event in ready:
                left -= 1
                selectable = selectables.get(fd)
                if selectable is None:
                    continue  # removed by an earlier handler of this same turn
                self.finalEvent = not left
                try:
                    dispatch(selectable, fd, event)
                except Exception:
                    _log.failure("{selectable!r}: its event handler raised", selectable=selectable)
        finally:
            self.finalEvent = False  # also when a handler lets a BaseException out

    doIteration = doPoll

    def callAtTurnEnd(self, f: Callable[[], object]) -> None:
        """Call C{f()} once at the end of this turn: after the handlers of
        the ready descriptors and the timed calls that are due, before the
        reactor computes its next wait. What C{callLater(0, f)} does, without
        a C{DelayedCall} (an object, a heap push and pop: L{TurnFlusher}
        asks for one in every turn that writes)."""
        self._atTurnEnd.append(f)

    def runUntilCurrent(self) -> None:
        """Twisted's, then what this turn asked for its end (in the order it
        asked, and what those ask for in their turn)."""
        super().runUntilCurrent()
        calls = self._atTurnEnd
        while calls:
            self._atTurnEnd = []
            for done, f in enumerate(calls, 1):
                try:
                    f()
                except Exception:
                    _log.failure("{f!r}, called at the end of a turn, raised", f=f)
                except BaseException:
                    # (SystemExit, KeyboardInterrupt): the others still run,
                    # at the next turn's end, whatever happens to this one.
                    self._atTurnEnd[:0] = calls[done:]
                    raise
            calls = self._atTurnEnd


def _never() -> bool:
    return False


def installUnlessChosen() -> bool:
    """Install a L{GatewayReactor} when this system has epoll and no reactor
    is installed yet; whether it did. Under C{twistd} and C{twist} a
    reactor named with C{--reactor} is installed by the time the gateway's
    options are checked (L{mcpgateway.tap.RunnerOptions}, whose
    C{postOptions} calls this), so the user's choice stands; otherwise the
    gateway runs on its own reactor however it is started."""
    import sys

    if not AVAILABLE or "twisted.internet.reactor" in sys.modules:
        return False
    install()
    return True


def install() -> Any:
    """Install a L{GatewayReactor} as the global reactor; return it."""
    from twisted.internet.main import installReactor

    reactor = GatewayReactor()
    installReactor(reactor)
    return reactor

# -*- test-case-name: tests.test_reactor -*-
"""The gateway's reactor: Twisted's epoll reactor with a cheaper dispatch.

Twisted's C{EPollReactor} hands each ready descriptor to its handler inside
C{twisted.python.log.callWithLogger}, which asks the descriptor for its log
prefix and runs the handler in a fresh logging context, so that a message
logged through the legacy C{twisted.python.log} API during it says which
connection it came from. Per event that costs more than the rest of the
dispatch: at one call in flight it was 7-9% of the gateway's CPU per call
(issue 19, docs/performance.md). The gateway logs through C{twisted.logger},
whose events say what they are about themselves, so L{GatewayReactor}
dispatches directly. What the context also did is kept: an exception that
escapes the handler (a C{connectionLost} that raises) is logged, and the loop
goes on with the other descriptors.

It reads three of C{EPollReactor}'s private names (C{_poller},
C{_selectables}, C{_doReadOrWrite}), which Twisted may rename: a Twisted
without one of them gets Twisted's own C{doPoll} back (and a warning), not
a reactor that fails on its first turn.

Linux only (epoll). C{mcpgateway start} installs it (L{mcpgateway.launch});
C{twist --reactor=mcpgateway} and C{twistd --reactor=mcpgateway} select it by
name (the gateway's plugin file publishes it). Elsewhere, and under plain
C{twistd -n mcpgateway}, the gateway runs on Twisted's default reactor.
"""

from __future__ import annotations

import errno
import select
from collections.abc import Callable
from typing import Any

from twisted.internet.epollreactor import EPollReactor
from twisted.logger import Logger

from mcpgateway import logs

AVAILABLE = hasattr(select, "epoll")
"""Whether this system has epoll (the reactor's only poller)."""

_log = Logger(observer=logs.observer, namespace="mcpgateway.reactor")

RELIES_ON = ("_poller", "_selectables", "_doReadOrWrite")
"""The private names of Twisted's C{EPollReactor} that L{GatewayReactor.doPoll}
reads."""


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
    (L{mcpgateway.turnflush.TurnFlusher.sendIfFinal})."""

    def __init__(self) -> None:
        self._atTurnEnd: list[Callable[[], object]] = []
        super().__init__()
        lacking = missing(self)
        if lacking:  # a Twisted that renamed what doPoll reads: its own doPoll
            own = EPollReactor.doPoll.__get__(self)
            self.doPoll = self.doIteration = own  # type: ignore[method-assign]
            _log.warn(
                "this Twisted's epoll reactor has no {names}: the gateway runs on its"
                " dispatch, unchanged",
                names=", ".join(lacking),
            )

    def doPoll(self, timeout: float | None) -> None:
        """Wait up to C{timeout} seconds (C{None}: until an event) and run
        the handler of every descriptor that is ready."""
        try:
            ready = self._poller.poll(-1 if timeout is None else timeout, len(self._selectables))
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


def install() -> Any:
    """Install a L{GatewayReactor} as the global reactor; return it."""
    from twisted.internet.main import installReactor

    reactor = GatewayReactor()
    installReactor(reactor)
    return reactor

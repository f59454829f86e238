"""The garbage collector tuned for a long-running server (the C=64 stall).

Once the gateway has started, everything alive then (modules, classes,
functions: tens of thousands of objects that live as long as the process) is
moved out of the collector's reach with C{gc.freeze()}, so that a full
collection walks only what requests created since. And the youngest
generation's threshold is raised, so that the objects of calls still in
flight (at C=64, more than the default 700) are not promoted by every young
collection, which is what made full collections come every few thousand
calls. Undone when the service stops (tests start and stop gateways in one
process).

The collector is turned on then as well: the runners' service maker
(L{mcpgateway.launch.GatewayMaker}) leaves it off while start-up imports
the gateway, when it would only walk what lives as long as the process.
"""

from __future__ import annotations

import gc

from twisted.application.service import Service
from twisted.internet.interfaces import IDelayedCall, IReactorTime

GEN0_THRESHOLD = 10_000
"""Tracked allocations between young collections (CPython's default: 700)."""


class GcTuning(Service):
    """Freeze what start-up left alive, raise the gen-0 threshold; undo on stop.

    The work (a full collection, then the freeze) is done from the reactor's
    first turn, not in C{startService}: until the reactor runs, its signal
    handlers are not installed, and a SIGTERM then would kill the process
    before it can restore the clients' config files."""

    def __init__(self, clock: IReactorTime, gen0: int = GEN0_THRESHOLD) -> None:
        self.gen0 = gen0
        self._clock = clock
        self._previous: tuple[int, int, int] | None = None
        self._pending: IDelayedCall | None = None

    def startService(self) -> None:
        super().startService()
        self._pending = self._clock.callLater(0, self._tune)

    def _tune(self) -> None:
        self._pending = None
        self._previous = gc.get_threshold()
        gc.collect()
        gc.freeze()
        gc.set_threshold(self.gen0, *self._previous[1:])
        gc.enable()

    def stopService(self) -> None:
        super().stopService()
        if self._pending is not None and self._pending.active():
            self._pending.cancel()
        self._pending = None
        if self._previous is not None:
            gc.set_threshold(*self._previous)
            self._previous = None
            gc.unfreeze()

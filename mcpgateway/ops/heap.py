# -*- test-case-name: tests.ops.test_lazy_heap -*-
"""Give the C heap's free pages back to the system once start-up is done
(idle RSS).

Starting the gateway allocates and frees a lot: the bytes of every module
read from disk, the config parsed, the start-up garbage collected by
L{mcpgateway.runtime.gctuning}. CPython's small objects live in its own arenas, but
anything larger comes from C{malloc}, and glibc returns only the free
memory at the top of its heap to the system: the free pages left between
the blocks that stay alive are still counted in the process's RSS, about
0.6 MB here. C{malloc_trim(0)} hands them back (C{MADV_DONTNEED}); they are
mapped again, zeroed, if the heap grows into them. Nothing else changes.

L{HeapTrim} does it once, in the reactor's second turn: after
L{mcpgateway.runtime.gctuning.GcTuning}'s full collection in the first.
Where the C library has no C{malloc_trim} (musl, macOS), nothing is done.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from twisted.application.service import Service
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from mcpgateway.runtime import logs

Trim = Callable[[int], int]


def mallocTrim() -> Trim | None:
    """The C library's C{malloc_trim}, or C{None} when it has none (or the
    process's symbols cannot be read)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    result: Trim = trim
    return result


class HeapTrim(Service):
    """Trims the C heap once, in the reactor's second turn after start."""

    log = Logger(observer=logs.observer)

    def __init__(self, clock: IReactorTime, trim: Callable[[], Trim | None] = mallocTrim) -> None:
        """
        @param trim: finds the trimming function (C{None}: there is none).
        """
        self._clock = clock
        self._find = trim
        self._pending: IDelayedCall | None = None
        self.trimmed: bool | None = None
        """Whether the trim ran (C{None}: not yet)."""

    def startService(self) -> None:
        super().startService()
        # The first turn runs the collection (scheduled before this one);
        # the trim is scheduled from that turn, so it runs in a later one.
        self._pending = self._clock.callLater(0, self._schedule)

    def _schedule(self) -> None:
        self._pending = self._clock.callLater(0, self._trim)

    def _trim(self) -> None:
        self._pending = None
        trim = self._find()
        if trim is None:
            self.trimmed = False
            return
        try:
            trim(0)
        except Exception:  # a C library that refuses: the memory just stays
            self.log.failure("trimming the C heap failed")
            self.trimmed = False
            return
        self.trimmed = True

    def stopService(self) -> None:
        super().stopService()
        if self._pending is not None and self._pending.active():
            self._pending.cancel()
        self._pending = None

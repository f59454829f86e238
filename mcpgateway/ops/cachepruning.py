# -*- test-case-name: tests.ops.test_cachepruning -*-
"""Removes the launchers' caches and the gateway's package installs no
entry wants any more, once the gateway has started and every
L{PRUNE_EVERY} seconds after.

What is wanted is decided by L{mcpgateway.sandbox.cachekeeping}: a folder
of caches goes when no child holds it and its entry has changed since, or
when no child has started on it for thirty days; and by
L{mcpgateway.sandbox.installkeeping}: an install goes when every entry that
ran it runs a newer one and no child holds it. The folders are walked
and deleted in the reactor's thread pool (a cache is thousands of files);
one line per folder removed says which server's it was, why and how much
it held, and one line what a pass could not remove.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.runtime import logs
from mcpgateway.runtime.threads import RunInThread
from mcpgateway.runtime.timers import Every
from mcpgateway.sandbox import cachekeeping, installkeeping
from mcpgateway.sandbox.defaults import STATE_CACHES

PRUNE_EVERY = 12 * 3600.0
"""Seconds between two passes."""
FIRST_PASS = 10.0
"""Seconds after start before the first pass: the disk is left to the
servers that start with the gateway first."""


class Removed:
    """What one pass removed, and what it could not."""

    def __init__(self) -> None:
        self.folders: list[tuple[cachekeeping.Folder, int]] = []
        self.installs: list[tuple[installkeeping.Install, int]] = []
        self.failed: list[tuple[str, str]] = []


def prune(stateDir: str, now: float, keepUnused: float = cachekeeping.KEEP_UNUSED) -> Removed:
    """One pass over the caches and installs of C{stateDir}: blocking, for a thread."""
    out = Removed()
    caches = os.path.join(stateDir, STATE_CACHES)
    for path in [*cachekeeping.leftovers(caches), *installkeeping.leftovers(stateDir)]:
        try:
            cachekeeping.delete(path)
        except OSError as e:
            out.failed.append((path, e.strerror or str(e)))
    found = cachekeeping.stale(caches, now, keepUnused)
    out.folders = _removeEach(found, cachekeeping.remove, out.failed)
    out.installs = _removeEach(
        installkeeping.superseded(stateDir), installkeeping.remove, out.failed
    )
    return out


class _Found(Protocol):
    path: str


F = TypeVar("F", bound=_Found)


def _removeEach(
    found: list[F], remove: Callable[[F], int | None], failed: list[tuple[str, str]]
) -> list[tuple[F, int]]:
    """Remove each of C{found}: those removed, with the bytes they held
    (one kept meanwhile is not among them); what could not be is added
    to C{failed}, with why."""
    removed = []
    for each in found:
        try:
            size = remove(each)
        except OSError as e:
            failed.append((each.path, e.strerror or str(e)))
            continue
        if size is not None:
            removed.append((each, size))
    return removed


class CachePruning(Service):
    """Runs L{prune} on the state directory's caches and installs in C{runInThread},
    L{FIRST_PASS} seconds after start and every L{PRUNE_EVERY} seconds
    after, one pass at a time."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        stateDir: str,
        clock: IReactorTime,
        runInThread: RunInThread,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.stateDir = stateDir
        self._clock = clock
        self._runInThread = runInThread
        self._now = now
        self._loop = Every(clock, PRUNE_EVERY, self.run)
        self._first: IDelayedCall | None = None
        self._running: Deferred[None] | None = None

    def startService(self) -> None:
        super().startService()
        self._first = self._clock.callLater(FIRST_PASS, self._begin)

    def _begin(self) -> None:
        self._first = None
        self._loop.start(now=True)

    def stopService(self) -> Deferred[None] | None:
        super().stopService()
        first, self._first = self._first, None
        if first is not None and first.active():
            first.cancel()
        if self._loop.running:
            self._loop.stop()
        return self._running  # a pass is not cut off halfway (a folder renamed, not deleted)

    def run(self) -> Deferred[None] | None:
        """One pass, unless one runs still: the Deferred of the pass begun."""
        if self._running is not None:
            return None
        running = self._running = self._runInThread(prune, self.stateDir, self._now())
        running.addCallbacks(self._said, self._failed)
        running.addBoth(self._ended)
        return running

    def _said(self, removed: Removed) -> None:
        for folder, size in removed.folders:
            self.log.info(
                "removed the launcher caches {folder} ({megabytes:.1f} MB): {why}",
                folder=folder.path,
                megabytes=size / 1e6,
                why=WHY[folder.why],
            )
        for install, size in removed.installs:
            self.log.info(
                "removed the package install {folder} ({megabytes:.1f} MB): every entry that"
                " ran it runs a newer one",
                folder=install.path,
                megabytes=size / 1e6,
            )
        if removed.failed:
            self.log.warn(
                "could not remove launcher caches or installs: {failed}",
                failed="; ".join(f"{path}: {why}" for path, why in removed.failed),
            )

    def _failed(self, reason: Failure) -> None:
        self.log.failure("the pass over the launcher caches failed", reason)

    def _ended(self, _: object) -> None:
        self._running = None


WHY = {
    "superseded": "its entry changed since (a newer folder serves it)",
    "unused": f"no child started on them for {cachekeeping.KEEP_UNUSED / 86400:g} days",
}
"""The log's words for L{cachekeeping.Folder.why}."""

# -*- test-case-name: tests.config.test_configservice -*-
"""Keeping the aggregate endpoints' settings current: the L{AggregateWatch}.

C{<state-dir>/aggregate.json} (L{mcpgateway.config.aggregate}) is read at
start, at every reload of the servers, and whenever it changes (once
things settle, L{mcpgateway.config.debounce}); changed settings go to the
C{onAggregate} callback once the service runs. A file that cannot be used
keeps the settings as they were (the defaults at start), with one warning
until it changes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from twisted.internet.defer import Deferred, DeferredLock
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.config.aggregate import (
    AggregateConfigError,
    AggregateSettings,
    readAggregateFile,
)
from mcpgateway.config.debounce import Debouncer
from mcpgateway.config.watched import OnAggregate
from mcpgateway.runtime import logs
from mcpgateway.runtime.threads import RunInThread


class AggregateWatch:
    """C{aggregate.json}: read, used, and read again when it changes.

    @ivar path: the file.
    @ivar settings: the settings in use (the defaults until the file is
        read, and while it is invalid from the start).
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        path: Path,
        clock: IReactorTime,
        debounce: float,
        maxWait: float,
        lock: DeferredLock,
        runInThread: RunInThread,
        running: Callable[[], bool],
        onAggregate: OnAggregate | None,
    ) -> None:
        """
        @param debounce: seconds of quiet after a change before reading it.
        @param maxWait: it is read at most this many seconds after the
            first change it covers.
        @param lock: held while the file is read after a change (the
            servers' reloads hold it too: one reading at a time).
        @param running: whether the service runs (only then are changed
            settings handed over, and logged).
        @param onAggregate: called with the settings when the service
            starts, then each time they change.
        """
        self.path = path
        self.settings = AggregateSettings()
        self._lock = lock
        self._runInThread = runInThread
        self._running = running
        self._onAggregate = onAggregate
        self._problem: str | None = None
        self._warned: set[str] = set()
        self._changes = Debouncer(clock, debounce, maxWait, self.reload)

    def read(self) -> AggregateSettings | AggregateConfigError:
        """The file's settings, or why not (blocking: at start or in a thread)."""
        try:
            return readAggregateFile(self.path)
        except AggregateConfigError as e:
            return e

    def use(self, read: AggregateSettings | AggregateConfigError) -> None:
        """Use what L{read} found: log its warnings once each; an error
        keeps the settings in use (the defaults at start) and is logged
        once (until it changes); changed settings go to C{onAggregate}
        once the service runs."""
        path = str(self.path)
        if isinstance(read, AggregateConfigError):
            problem = str(read)
            if problem != self._problem:
                self._problem = problem
                self.log.warn(
                    "config: {path} is invalid ({why}); {kept}",
                    path=path,
                    why=problem,
                    kept="keeping the aggregate settings as they were"
                    if self._running()
                    else "the aggregate endpoints use the defaults",
                )
            return
        self._problem = None
        for warning in read.warnings:
            if warning not in self._warned:
                self.log.warn("config: {path}: {warning}", path=path, warning=warning)
        self._warned = set(read.warnings)
        if read == self.settings:
            return
        self.settings = read
        if self._running():
            self.log.info(
                "config: aggregate settings from {path}: endpoints {endpoints}",
                path=path,
                endpoints=", ".join(sorted(read.endpoints)) or "(defaults)",
            )
            self.deliver()

    def deliver(self) -> None:
        """Hand the settings in use to C{onAggregate} (a failure is logged)."""
        if self._onAggregate is None:
            return
        try:
            self._onAggregate(self.settings)
        except Exception:
            self.log.failure("config: applying the aggregate settings failed")

    def changed(self) -> None:
        """The file changed: read it again once things settle (at most
        C{maxWait} after the first change), without reloading the servers."""
        self._changes.trigger()

    def stop(self) -> None:
        """Forget a change waiting to settle."""
        self._changes.cancel()

    def reload(self) -> Deferred[None]:
        """Read the file again (in a thread) and use it; fires once done,
        never fails (a failure is logged)."""
        self._changes.cancel()
        return Deferred.fromCoroutine(self._reload())

    async def _reload(self) -> None:
        try:
            read = await self._lock.run(self._runInThread, self.read)
        except Exception:
            self.log.warn(
                "config: reading {path} failed, keeping the aggregate settings: {why}",
                path=str(self.path),
                why=Failure().getErrorMessage(),
            )
            return
        self.use(read)

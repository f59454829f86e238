# -*- test-case-name: tests.clientconfigs.test_adoption_safety,tests.web.test_api -*-
"""Where the served servers come from, and keeping them current.

A L{ConfigSource} turns the config file into L{ServerSpec}s: read as it is
(L{PlainFile}), or, with C{--rewrite-config}, adopted from a Claude config
(L{AdoptedClaudeConfig}: stdio entries backed up and pointed at the gateway,
served from the backup, restored on stop). L{ConfigService} applies
classification, watches the file (inotify on Linux, polling elsewhere),
reloads it off the reactor thread when it changes, and tells the gateway.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredLock, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.filepath import FilePath

from mcpgateway import logs
from mcpgateway.config import classification
from mcpgateway.config import servers as config
from mcpgateway.config.gatewayfile import ManagedConfig
from mcpgateway.config.servers import LoadedConfig
from mcpgateway.core.spec import ServerSpec
from mcpgateway.timers import Every

MAX_WAIT = 2.0
"""Seconds after a change by which the reload starts, however busy the file."""
RESTORE_RETRIES = (0.2, 0.5, 1.0)
"""Delays before retrying a restore that failed at stop (at most ~2 s in all)."""
Reload = Callable[[dict[str, ServerSpec]], Any]
RunInThread = Callable[..., Deferred[Any]]


class ConfigSource(Protocol):
    """The file the servers come from."""

    @property
    def path(self) -> Path | None:
        """The file (C{None}: the bundled demo)."""

    def load(self) -> LoadedConfig:
        """Read the servers (synchronous: called at start, or in a thread)."""

    def listening(self, port: int) -> list[str]:
        """The gateway listens on C{port}; notes to log."""

    def stopping(self) -> list[str]:
        """The gateway stops; notes to log. May raise: retried, then reported
        through L{restoreFailed}."""

    def restoreFailed(self, reason: str) -> None:
        """L{stopping} failed for good: leave a marker for the CLI."""


class PlainFile:
    """A config file served as it is (or the bundled demo when C{path} is None)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def load(self) -> LoadedConfig:
        return config.loadConfig(self.path)

    def listening(self, port: int) -> list[str]:
        return []

    def stopping(self) -> list[str]:
        return []

    def restoreFailed(self, reason: str) -> None:
        pass


class ConfigService(Service):
    """Loads the servers, watches the file, and reloads the gateway on change."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        source: ConfigSource,
        stateDir: Path,
        clock: IReactorTime,
        reactor: Any,
        runInThread: RunInThread,
        reload: Reload,
        pollInterval: float = 2.0,
        debounce: float = 0.3,
        maxWait: float = MAX_WAIT,
        restoreRetries: Sequence[float] = RESTORE_RETRIES,
    ) -> None:
        """
        @param debounce: seconds of quiet after a change before reloading.
        @param maxWait: a reload happens at most this many seconds after the
            first change it covers, however busy the file stays.
        @param restoreRetries: the delays (seconds) before each retry of a
            restore that failed at stop; between attempts the reactor runs.
        """
        self.source = source
        self._stateDir = stateDir
        self._clock = clock
        self._reactor = reactor
        self._runInThread = runInThread
        self._reload = reload
        self._pollInterval = pollInterval
        self._debounce = debounce
        self._maxWait = maxWait
        self._restoreRetries = tuple(restoreRetries)
        self._lock = DeferredLock()
        self._pending: IDelayedCall | None = None
        self._firstChange: float | None = None
        self._poll: Every | None = None
        self._notifier: Any = None
        self._fingerprint: tuple[int, int] | None = None
        self._warned: set[str] = set()
        self._handedOver = False

    def specs(self, loaded: LoadedConfig) -> dict[str, ServerSpec]:
        """Add the servers of the gateway's own file (the management API's),
        then apply classification (built-in list and the overrides file)."""
        loaded = ManagedConfig(self._stateDir).merge(loaded)
        overrides = classification.loadOverrides(self._stateDir)
        for note in loaded.notes:
            self.log.info("config: {note}", note=note)
        for error in loaded.errors:
            self.log.error("config: {error}", error=error)
        warnings = loaded.warnings + overrides.warnings
        for warning in warnings:
            if warning not in self._warned:  # say each once, not on every reload
                self.log.warn("config: {warning}", warning=warning)
        self._warned = set(warnings)
        return classification.classify(loaded.servers, overrides)

    def startService(self) -> None:
        super().startService()
        path = self.source.path
        if path is None:
            return
        self._fingerprint = _fingerprint(path)
        if not self._watchWithInotify(path):
            self._poll = Every(self._clock, self._pollInterval, self._checkPoll)
            self._poll.start()

    def _watchWithInotify(self, path: Path) -> bool:
        try:
            from twisted.internet import inotify
        except ImportError:
            return False
        try:
            notifier = inotify.INotify(self._reactor)
            notifier.startReading()
            mask = (
                inotify.IN_CLOSE_WRITE
                | inotify.IN_MOVED_TO
                | inotify.IN_CREATE
                | inotify.IN_DELETE
                | inotify.IN_MOVED_FROM
            )
            # Watch the directory: editors and Claude Code replace the file by rename.
            notifier.watch(FilePath(str(path.parent)), mask=mask, callbacks=[self._inotifyEvent])
        except Exception:
            self.log.info(
                "config: inotify unavailable; polling {path} every {seconds}s",
                path=str(path),
                seconds=self._pollInterval,
            )
            return False
        self._notifier = notifier
        self.log.info("config: watching {path}", path=str(path))
        return True

    def _inotifyEvent(self, _: Any, filepath: FilePath[Any], mask: int) -> None:
        name = filepath.basename()  # inotify reports bytes paths
        if isinstance(name, bytes):
            name = os.fsdecode(name)
        if self.source.path is not None and name == self.source.path.name:
            self.changed()

    def _checkPoll(self) -> None:
        assert self.source.path is not None
        now = _fingerprint(self.source.path)
        if now != self._fingerprint:
            self._fingerprint = now
            self.changed()

    def changed(self) -> None:
        """The file changed: reload once things settle (events come in bursts),
        but no later than C{maxWait} after the first change: a writer that never
        pauses (Claude Code rewriting the file many times a second) must not
        starve the reload."""
        now = self._clock.seconds()
        if self._pending is not None and self._pending.active():
            first = now if self._firstChange is None else self._firstChange
            self._pending.reset(max(0.0, min(self._debounce, first + self._maxWait - now)))
            return
        self._firstChange = now
        self._pending = self._clock.callLater(self._debounce, self._reloadNow)

    def reload(self) -> Deferred[Any]:
        """Reload now (after the management API changed the gateway's file);
        fires once the gateway serves the result."""
        if self._pending is not None and self._pending.active():
            self._pending.cancel()
        return self._reloadNow(raiseErrors=True)

    def _reloadNow(self, raiseErrors: bool = False) -> Deferred[Any]:
        self._pending = None
        self._firstChange = None

        def load() -> Deferred[Any]:
            return self._runInThread(self.source.load)

        def apply(loaded: LoadedConfig) -> Any:
            return self._reload(self.specs(loaded))

        def failed(reason: Any) -> Any:
            self.log.warn(
                "config: reload of {path} failed, keeping the servers as they are: {why}",
                path=str(self.source.path),
                why=reason.getErrorMessage(),
            )
            return reason if raiseErrors else None

        return self._lock.run(load).addCallbacks(apply, failed)

    def listening(self, port: int) -> None:
        try:
            notes = self.source.listening(port)
        except Exception as e:
            # The file was caught half-written, or kept changing: try again
            # through the watcher's path (a reload adopts too).
            self.log.error(
                "config: could not adopt {path}: {why}; trying again shortly",
                path=str(self.source.path),
                why=_oneLine(e),
            )
            self.changed()
            return
        for note in notes:
            self.log.info("config: {note}", note=note)

    def _stopWatching(self) -> None:
        if self._pending is not None and self._pending.active():
            self._pending.cancel()
        if self._poll is not None and self._poll.running:
            self._poll.stop()
        if self._notifier is not None:
            self._notifier.loseConnection()
            self._notifier = None

    def handOver(self) -> None:
        """A successor serves the config now (see L{mcpgateway.ops.handover}):
        stop watching the file, and leave it adopted when this process stops."""
        self._stopWatching()
        self._handedOver = True
        if self.source.path is not None:
            self.log.info(
                "config: the successor watches {path} now; it is left as it is",
                path=str(self.source.path),
            )

    def stopService(self) -> Deferred[None]:
        super().stopService()
        self._stopWatching()
        if self._handedOver:
            return succeed(None)

        # Restore after any reload in progress; each attempt is synchronous and
        # small (as before), the retries are timers: the reactor runs between them.
        return self._lock.run(lambda: succeed(None)).addCallback(lambda _: self._restore(0))

    def _restore(self, attempt: int) -> Deferred[None] | None:
        """Give the config back; on failure (the file caught half-written by
        another writer, or changing all the time) log it and try again after
        each of C{restoreRetries}; the last failure is logged at error level
        and left as a marker (L{ConfigSource.restoreFailed})."""
        try:
            notes = self.source.stopping()
        except Exception as e:
            why = _oneLine(e)
            path = str(self.source.path)
            if attempt < len(self._restoreRetries):
                delay = self._restoreRetries[attempt]
                self.log.warn(
                    "config: restoring {path} failed ({why}); trying again in {delay}s",
                    path=path,
                    why=why,
                    delay=delay,
                )
                later: Deferred[None] = deferLater(self._clock, delay, lambda: None)
                return later.addCallback(lambda _: self._restore(attempt + 1))
            self.log.error(
                "config: could not restore {path} ({why}; {attempts} attempts): its entries"
                " still point at this gateway, which is stopping. The originals are kept in"
                " the backup in {stateDir}: run `mcpgateway restore` once the file is quiet",
                path=path,
                why=why,
                attempts=attempt + 1,
                stateDir=str(self._stateDir),
            )
            try:
                self.source.restoreFailed(why)
            except Exception as e2:
                self.log.error(
                    "config: could not leave the restore-failure marker in {stateDir}: {why}",
                    stateDir=str(self._stateDir),
                    why=_oneLine(e2),
                )
            return None
        for note in notes:
            self.log.info("config: {note}", note=note)
        return None


def _oneLine(error: BaseException) -> str:
    """An exception as one line: its message, or its type when it has none."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def _fingerprint(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size

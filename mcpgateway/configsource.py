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
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredLock, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.filepath import FilePath

from mcpgateway import classification, config, logs
from mcpgateway.config import LoadedConfig, ServerSpec
from mcpgateway.managed import ManagedConfig

Reload = Callable[[dict[str, ServerSpec]], Any]
RunInThread = Callable[..., Deferred[Any]]


class ConfigSource(Protocol):
    """The file the servers come from."""

    path: Path | None

    def load(self) -> LoadedConfig:
        """Read the servers (synchronous: called at start, or in a thread)."""

    def listening(self, port: int) -> list[str]:
        """The gateway listens on C{port}; notes to log."""

    def stopping(self) -> list[str]:
        """The gateway stops; notes to log."""


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


class AdoptedClaudeConfig:
    """A Claude config whose stdio entries the gateway adopts: backed up,
    rewritten to point at the gateway, served from the backup, restored on stop."""

    def __init__(self, path: Path, stateDir: Path, host: str) -> None:
        from mcpgateway.clients.claude import ClaudeConfig

        self.path = path
        self._claude = ClaudeConfig(path, stateDir)
        self._host = host
        self._port: int | None = None

    def recover(self) -> list[str]:
        """After a crash: put the user's entries back before adopting again."""
        report = self._claude.restore()
        return _notes("restored after an unclean stop", report.restored, report.kept,
                      report.notes)

    def load(self) -> LoadedConfig:
        notes = []
        if self._port is not None:
            report = self._claude.sync(self._urlFor)
            notes = _notes("adopted", report.adopted, report.removed, report.notes)
        loaded = config.parseConfig(self._claude.servedDocument(), str(self.path),
                                    defaultScope="user")
        loaded.notes.extend(notes)
        return loaded

    def listening(self, port: int) -> list[str]:
        self._port = port
        report = self._claude.adopt(self._urlFor)
        return _notes("adopted", report.adopted, report.removed, report.notes)

    def stopping(self) -> list[str]:
        if self._port is None:
            return []
        report = self._claude.restore()
        return _notes("restored", report.restored, report.kept, report.notes)

    def _urlFor(self, name: str) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}/{name}/mcp"


def _notes(verb: str, done: list[str], other: list[str], notes: list[str]) -> list[str]:
    out = []
    if done:
        out.append(f"{verb} {len(done)} entr{'y' if len(done) == 1 else 'ies'}: "
                   + ", ".join(done))
    if other:
        out.append(f"left as the user has them: {', '.join(other)}")
    return out + notes


class ConfigService(Service):
    """Loads the servers, watches the file, and reloads the gateway on change."""

    log = Logger(observer=logs.observer)

    def __init__(self, source: ConfigSource, stateDir: Path, clock: IReactorTime,
                 reactor: Any, runInThread: RunInThread, reload: Reload,
                 pollInterval: float = 2.0, debounce: float = 0.3) -> None:
        self.source = source
        self._stateDir = stateDir
        self._clock = clock
        self._reactor = reactor
        self._runInThread = runInThread
        self._reload = reload
        self._pollInterval = pollInterval
        self._debounce = debounce
        self._lock = DeferredLock()
        self._pending: IDelayedCall | None = None
        self._poll: LoopingCall | None = None
        self._notifier: Any = None
        self._fingerprint: tuple[int, int] | None = None
        self._warned: set[str] = set()

    def specs(self, loaded: LoadedConfig) -> dict[str, ServerSpec]:
        """Add the servers of the gateway's own file (the management API's),
        then apply classification (built-in list and the overrides file)."""
        loaded = ManagedConfig(self._stateDir).merge(loaded)
        overrides = classification.loadOverrides(self._stateDir)
        for note in loaded.notes:
            self.log.info("config: {note}", note=note)
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
            self._poll = LoopingCall(self._checkPoll)
            self._poll.clock = self._clock
            self._poll.start(self._pollInterval, now=False)

    def _watchWithInotify(self, path: Path) -> bool:
        try:
            from twisted.internet import inotify
        except ImportError:
            return False
        try:
            notifier = inotify.INotify(self._reactor)
            notifier.startReading()
            mask = (inotify.IN_CLOSE_WRITE | inotify.IN_MOVED_TO | inotify.IN_CREATE
                    | inotify.IN_DELETE | inotify.IN_MOVED_FROM)
            # Watch the directory: editors and Claude Code replace the file by rename.
            notifier.watch(FilePath(str(path.parent)), mask=mask,
                           callbacks=[self._inotifyEvent])
        except Exception:
            self.log.info("config: inotify unavailable; polling {path} every {seconds}s",
                          path=str(path), seconds=self._pollInterval)
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
        """The file changed: reload once things settle (events come in bursts)."""
        if self._pending is not None and self._pending.active():
            self._pending.reset(self._debounce)
            return
        self._pending = self._clock.callLater(self._debounce, self._reloadNow)

    def reload(self) -> Deferred[Any]:
        """Reload now (after the management API changed the gateway's file);
        fires once the gateway serves the result."""
        if self._pending is not None and self._pending.active():
            self._pending.cancel()
        return self._reloadNow(raiseErrors=True)

    def _reloadNow(self, raiseErrors: bool = False) -> Deferred[Any]:
        self._pending = None

        def load() -> Deferred[Any]:
            return self._runInThread(self.source.load)

        def apply(loaded: LoadedConfig) -> Any:
            return self._reload(self.specs(loaded))

        def failed(reason: Any) -> Any:
            self.log.warn("config: reload of {path} failed, keeping the servers as they are:"
                          " {why}", path=str(self.source.path), why=reason.getErrorMessage())
            return reason if raiseErrors else None

        return self._lock.run(load).addCallbacks(apply, failed)

    def listening(self, port: int) -> None:
        for note in self.source.listening(port):
            self.log.info("config: {note}", note=note)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        if self._pending is not None and self._pending.active():
            self._pending.cancel()
        if self._poll is not None and self._poll.running:
            self._poll.stop()
        if self._notifier is not None:
            self._notifier.loseConnection()
            self._notifier = None

        def restore(_: Any) -> None:
            for note in self.source.stopping():
                self.log.info("config: {note}", note=note)

        # Restore after any reload in progress; synchronous, small, and last.
        return self._lock.run(lambda: succeed(None)).addCallback(restore)


def _fingerprint(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size

# -*- test-case-name: tests.config.test_configservice,tests.config.test_configservice_clients -*-
"""Noticing that a watched file changed: the L{FileWatch}.

On Linux each file's folder is watched by inotify (editors and Claude Code
replace a file by rename, so the folder's events are the file's), or the
nearest folder above it while it does not exist yet
(L{mcpgateway.config.awaiting}); elsewhere, or when inotify cannot be
used, every file is looked at (one C{stat}) every C{pollInterval} seconds.
Which file changed is handed to the host, which knows what each one means.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.filepath import FilePath

from mcpgateway.config.awaiting import leadsTo, nearestExisting
from mcpgateway.config.watched import fingerprint, oneLine
from mcpgateway.runtime import logs
from mcpgateway.runtime.timers import Every

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorFDSet

Fingerprint = tuple[int, int] | None
"""A file's modification time and size, as L{fingerprint} gives them
(C{None}: it does not exist)."""


class FileWatch:
    """Watches files (see the module docstring) and says which one changed.

    @ivar fingerprints: every watched file (its absolute path) with its
        fingerprint when last looked at.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        reactor: IReactorFDSet | None,
        clock: IReactorTime,
        pollInterval: float,
        pathChanged: Callable[[str], None],
        reloadServers: Callable[[], None],
    ) -> None:
        """
        @param reactor: what inotify reads on (C{None}: the global reactor).
        @param pathChanged: called with the absolute path of a watched file
            that changed.
        @param reloadServers: called when a change is one only a reload of
            the servers covers: a folder created on the way to an awaited
            file, or a file written before its folder was watched.
        """
        self._reactor = reactor
        self._clock = clock
        self._pollInterval = pollInterval
        self._pathChanged = pathChanged
        self._reloadServers = reloadServers
        self.fingerprints: dict[str, Fingerprint] = {}
        self._watchedDirs: set[str] = set()
        self._notifier: Any = None
        self._poll: Every | None = None

    def start(self, paths: Sequence[Path]) -> None:
        """Watch C{paths}: by inotify where it can be used, else by a poll."""
        for path in paths:
            self.fingerprints[os.path.abspath(path)] = fingerprint(path)
        if not self.watchWithInotify(paths):
            self._poll = Every(self._clock, self._pollInterval, self.checkPoll)
            self._poll.start()

    def stop(self) -> None:
        """Watch nothing any more."""
        if self._poll is not None and self._poll.running:
            self._poll.stop()
        if self._notifier is not None:
            self._notifier.loseConnection()
            self._notifier = None

    def watchWithInotify(self, paths: Sequence[Path]) -> bool:
        """Watch C{paths} by inotify; C{False}: it cannot be used here (the
        paths are then watched by the poll's fingerprints)."""
        try:
            from twisted.internet import inotify
        except ImportError:
            self.watchMore(paths)
            return False
        try:
            notifier = inotify.INotify(self._reactor)
            notifier.startReading()
        except Exception:
            self.log.info(
                "config: inotify unavailable; polling {path} every {seconds}s",
                path=", ".join(str(p) for p in paths),
                seconds=self._pollInterval,
            )
            self.watchMore(paths)
            return False
        self._notifier = notifier
        self.watchMore(paths)
        return True

    def watchMore(self, paths: Sequence[Path]) -> None:
        """Watch C{paths} too (those not watched yet): their directory by
        inotify (editors and Claude Code replace a file by rename), or the
        nearest one above it while it does not exist, else by the poll's
        fingerprints."""
        for path in paths:
            key = os.path.abspath(path)
            self.fingerprints.setdefault(key, fingerprint(path))
            if self._notifier is None:
                continue
            folder = os.path.dirname(key)
            own = os.path.isdir(folder)  # else created later: awaiting.py
            folder = folder if own else nearestExisting(folder) or folder
            if folder in self._watchedDirs:
                continue
            self._watchFolder(path, key, folder, own)

    def _watchFolder(self, path: Path, key: str, folder: str, own: bool) -> None:
        from twisted.internet import inotify

        mask = (
            inotify.IN_CLOSE_WRITE
            | inotify.IN_MOVED_TO
            | inotify.IN_CREATE
            | inotify.IN_DELETE
            | inotify.IN_MOVED_FROM
        )
        try:
            self._notifier.watch(FilePath(folder), mask=mask, callbacks=[self.inotifyEvent])
        except Exception as e:
            self.log.warn(
                "config: cannot watch {path} ({why}); its changes are seen at the next reload",
                path=str(path),
                why=oneLine(e),
            )
            return
        self._watchedDirs.add(folder)
        message = "config: watching {path}" if own else "config: watching {folder} for {path}"
        self.log.info(message, path=str(path), folder=folder)
        if own and fingerprint(path) != self.fingerprints[key]:
            self.fingerprints[key] = fingerprint(path)  # written before its folder was
            self._reloadServers()  # watched (looked at once it is: no write falls in between)

    def inotifyEvent(self, _: Any, filepath: FilePath[Any], mask: int) -> None:
        """An event of a watched folder: a watched file's, or one on the way
        to an awaited file's."""
        path = filepath.path  # inotify reports bytes paths
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        key = os.path.abspath(path)
        if key in self.fingerprints:
            self._pathChanged(key)
        elif leadsTo(key, self.fingerprints):
            self._reloadServers()  # a folder on the way to an awaited file: watch it once reloaded

    def checkPoll(self) -> None:
        """Look at every watched file; say which changed since the last look."""
        for key, before in list(self.fingerprints.items()):
            now = fingerprint(Path(key))
            if now != before:
                self.fingerprints[key] = now
                self._pathChanged(key)

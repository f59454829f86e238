# -*- test-case-name: tests.config.test_configservice,tests.core.gateway.test_env_reload -*-
"""Watching the C{.env} files the children use: the L{EnvWatch}.

The workspace and gateway C{.env} files a load used are looked at every
few seconds (no timer runs while a load used none), in a thread (one
C{stat} each; a file is read again only when it changed,
L{mcpgateway.config.envfiles.refresh}); when one yields other values than
before, the servers are built again from the config last loaded (the
config file is not read again).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.config import envfiles
from mcpgateway.config.envfiles import EnvFile
from mcpgateway.runtime import logs
from mcpgateway.runtime.threads import RunInThread
from mcpgateway.runtime.timers import Every


class EnvWatch:
    """Looks at the C{.env} files in use every C{interval} seconds and
    rebuilds the servers when one changed (see the module docstring).

    @ivar files: the C{.env} files the servers served now were built with,
        by path (the host sets it after each load).
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        clock: IReactorTime,
        interval: float,
        runInThread: RunInThread,
        rebuild: Callable[[], Deferred[Any]],
        warnOnce: Callable[[str], None],
    ) -> None:
        """
        @param interval: seconds between two looks at the files.
        @param rebuild: serves the config last loaded again, with the
            files as they are now; never fails.
        @param warnOnce: logs a file's warning unless it was logged already.
        """
        self._clock = clock
        self._interval = interval
        self._runInThread = runInThread
        self._rebuild = rebuild
        self._warnOnce = warnOnce
        self._files: dict[str, EnvFile] = {}
        self._checking = False
        self._started = False
        self._poll = Every(self._clock, self._interval, self.check)

    @property
    def files(self) -> dict[str, EnvFile]:
        return self._files

    @files.setter
    def files(self, files: dict[str, EnvFile]) -> None:
        self._files = files
        self._schedule()

    def _schedule(self) -> None:
        """The timer runs only while started with files to look at: with
        none, an idle gateway does not wake to find there is nothing."""
        wanted = self._started and bool(self._files)
        if wanted and not self._poll.running:
            self._poll.start()
        elif not wanted and self._poll.running:
            self._poll.stop()

    @property
    def warnings(self) -> list[str]:
        """The paths of the files in use that have a warning (a skipped
        line, a refused name, unreadable); never their contents."""
        return sorted(path for path, f in self.files.items() if f.warning is not None)

    def start(self) -> None:
        """Look at the files every C{interval} seconds from now on (while
        there are any)."""
        self._started = True
        self._schedule()

    def stop(self) -> None:
        """Look at them no more."""
        self._started = False
        self._schedule()

    def check(self) -> None:
        """Look at the files (in a thread) unless a look is under way;
        rebuild the servers when one yields other values than before."""
        if self._checking or not self.files:
            return
        self._checking = True
        Deferred.fromCoroutine(self._check(dict(self.files)))

    async def _check(self, before: dict[str, EnvFile]) -> None:
        def look() -> dict[str, EnvFile]:
            return {path: envfiles.refresh(old) for path, old in before.items()}

        try:
            now = await self._runInThread(look)
            rebuilding = self._looked(now, before)
            if rebuilding is not None:
                await rebuilding
        except Exception:
            self.log.warn(
                "config: could not look at the .env files: {why}",
                why=Failure().getErrorMessage(),
            )
        finally:
            self._checking = False

    def _looked(self, now: dict[str, EnvFile], before: dict[str, EnvFile]) -> Deferred[Any] | None:
        changed = []
        for path, current in now.items():
            if self.files.get(path) is not before[path]:
                continue  # a reload since: it read the file itself
            self.files[path] = current  # the new stamp: not read again
            if envfiles.changed(before[path], current):
                changed.append(current)
            elif current.warning is not None:
                self._warnOnce(current.warning)
        if not changed:
            return None
        for envFile in changed:
            self.log.info(
                "config: {path} changed (it sets {names}); the shared children that use"
                " it restart when idle (a session's own child keeps its environment)",
                path=envFile.path,
                names=", ".join(envFile.names) or "nothing",
            )
        return self._rebuild()

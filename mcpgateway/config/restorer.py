# -*- test-case-name: tests.config.test_configservice_clients,tests.ops.test_handover -*-
"""Giving the config back when the gateway stops: the L{Restorer}.

An adopting source (L{mcpgateway.config.watched.ConfigSource.stopping})
points the client's entries back at their servers. Another writer may
catch the file half-written, or keep changing it: a failed restore is
logged and tried again after each of the retry delays (the reactor runs
in between); the last failure is logged at error level and left as a
marker for the CLI (L{mcpgateway.config.watched.ConfigSource.restoreFailed}).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger

from mcpgateway.config.watched import ConfigSource, oneLine
from mcpgateway.runtime import logs


class Restorer:
    """Restores C{source} at stop, with retries (see the module docstring)."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        source: ConfigSource,
        clock: IReactorTime,
        retries: Sequence[float],
        stateDir: Path,
    ) -> None:
        """
        @param retries: the delays (seconds) before each retry.
        @param stateDir: where the backup and the marker are (named in the
            last failure's message).
        """
        self._source = source
        self._clock = clock
        self._retries = tuple(retries)
        self._stateDir = stateDir

    async def restore(self) -> None:
        """Give the config back; each attempt is synchronous and small, the
        retries are timers. Never fails (a failure is logged)."""
        attempt = 0
        while True:
            try:
                notes = self._source.stopping()
            except Exception as e:
                if attempt < len(self._retries):
                    delay = self._retries[attempt]
                    self.log.warn(
                        "config: restoring {path} failed ({why}); trying again in {delay}s",
                        path=str(self._source.path),
                        why=oneLine(e),
                        delay=delay,
                    )
                    await deferLater(self._clock, delay, lambda: None)
                    attempt += 1
                    continue
                self._gaveUp(oneLine(e), attempt + 1)
                return
            for note in notes:
                self.log.info("config: {note}", note=note)
            return

    def _gaveUp(self, why: str, attempts: int) -> None:
        self.log.error(
            "config: could not restore {path} ({why}; {attempts} attempts): its entries"
            " still point at this gateway, which is stopping. The originals are kept in"
            " the backup in {stateDir}: run `mcpgateway restore` once the file is quiet",
            path=str(self._source.path),
            why=why,
            attempts=attempts,
            stateDir=str(self._stateDir),
        )
        try:
            self._source.restoreFailed(why)
        except Exception as e2:
            self.log.error(
                "config: could not leave the restore-failure marker in {stateDir}: {why}",
                stateDir=str(self._stateDir),
                why=oneLine(e2),
            )

# -*- test-case-name: tests.config.test_classification_reload -*-
"""Keeping the classification current: the L{ClassificationWatch}.

A change of C{<state-dir>/classification.json}
(L{mcpgateway.config.classification}) serves the config last loaded again
with it once things settle (L{mcpgateway.config.debounce}), and what it
changed is logged; a file that cannot be used keeps the classification it
gave last.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.config import classification
from mcpgateway.config.classification import Override, Overrides
from mcpgateway.config.debounce import Debouncer
from mcpgateway.runtime import logs


class ClassificationWatch:
    """C{classification.json}: read at each load, remembered, and the
    servers rebuilt when it changes.

    @ivar path: the file.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        stateDir: Path,
        clock: IReactorTime,
        debounce: float,
        maxWait: float,
        rebuild: Callable[[], object],
    ) -> None:
        """
        @param stateDir: where the file is.
        @param debounce: seconds of quiet after a change before rebuilding.
        @param maxWait: the rebuild starts at most this many seconds after
            the first change it covers.
        @param rebuild: serves the config last loaded again (the config
            file is not read again).
        """
        self._stateDir = stateDir
        self.path = stateDir / classification.OVERRIDES_FILE
        self._servers: dict[str, Override] = {}
        """The servers' lines of the last file that could be used (empty:
        none yet, the built-in classification)."""
        self._read = False
        self._changes = Debouncer(clock, debounce, maxWait, rebuild)

    def load(self) -> Overrides:
        """The file (blocking); when it cannot be used at all, the last one
        that could (one warning saying so)."""
        overrides = classification.loadOverrides(self._stateDir)
        if overrides.invalid is None or not self._read:
            return overrides  # at start: the built-in classification
        return Overrides(
            dict(self._servers),
            [
                f"{self.path} is invalid: {overrides.invalid};"
                " keeping the classification it gave before"
            ],
            overrides.invalid,
        )

    def use(self, overrides: Overrides) -> None:
        """Remember the classification in use; log what changed in it
        since the last reading."""
        servers = overrides.servers
        if self._read and servers != self._servers:
            self.log.info(
                "config: {path} changed: {changes}",
                path=str(self.path),
                changes="; ".join(classification.changes(self._servers, servers)),
            )
        self._servers = dict(servers)
        self._read = True

    def changed(self) -> None:
        """The file changed: serve the servers with it once things settle
        (at most C{maxWait} after the first change), from the config last
        loaded."""
        self._changes.trigger()

    def stop(self) -> None:
        """Forget a change waiting to settle."""
        self._changes.cancel()

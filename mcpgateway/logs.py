"""The gateway's log level: one filter every gateway L{Logger} emits through.

twistd and twist own the log observers; the gateway only decides which of its
own events pass, so C{--log-level} works the same under both.
"""

from __future__ import annotations

from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogPublisher,
)

LEVELS = ("debug", "info", "warn", "error", "critical")

_predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.info)

observer: ILogObserver = FilteringLogObserver(globalLogPublisher, [_predicate])
"""Pass as C{Logger(observer=observer)} in every gateway module."""


def setLevel(name: str) -> None:
    """Emit gateway events at level C{name} (one of L{LEVELS}) and above."""
    _predicate.setLogLevelForNamespace("", LogLevel.levelWithName(name))

# -*- test-case-name: tests.core.test_child,tests.core.test_layering,tests.test_tap -*-
"""The gateway's log level: one filter every gateway C{Logger} emits through.

twistd and twist own the log observers; the gateway only decides which of its
own events pass, so C{--log-level} works the same under both.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from twisted.application.service import Service
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LogEvent,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogPublisher,
    textFileLogObserver,
)
from twisted.python.logfile import LogFile
from zope.interface import implementer

LEVELS = ("debug", "info", "warn", "error", "critical")

_predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.info)

observer: ILogObserver = FilteringLogObserver(globalLogPublisher, [_predicate])
"""Pass as C{Logger(observer=observer)} in every gateway module."""


def setLevel(name: str) -> None:
    """Emit gateway events at level C{name} (one of L{LEVELS}) and above."""
    _predicate.setLogLevelForNamespace("", LogLevel.levelWithName(name))


class LogFileService(Service):
    """Writes every log event to C{path}, rotated at C{rotateLength} bytes
    (C{--log-file}; C{mcpgateway start} uses C{<state-dir>/gateway.log}).

    The file is opened in C{startService}, after twistd has daemonized; the
    events logged before that (while the service tree is built: skipped
    config entries, a crash recovery, an invalid override file) are held in
    memory from the moment this service is made (at most C{earlyLimit}) and
    written first, so the file tells everything from the gateway's first line.
    """

    def __init__(
        self,
        path: str,
        rotateLength: int = 5_000_000,
        maxRotatedFiles: int = 3,
        earlyLimit: int = 10_000,
    ) -> None:
        self.path = path
        self._rotateLength = rotateLength
        self._maxRotatedFiles = maxRotatedFiles
        self._file: LogFile | None = None
        self._observer: ILogObserver | None = None
        self._early: _EarlyEvents | None = _EarlyEvents(earlyLimit)
        globalLogPublisher.addObserver(self._early)

    def startService(self) -> None:
        super().startService()
        self._file = LogFile.fromFullPath(
            self.path,
            rotateLength=self._rotateLength,
            maxRotatedFiles=self._maxRotatedFiles,
            defaultMode=0o600,
        )
        self._observer = textFileLogObserver(self._file)  # type: ignore[arg-type]  # file-like
        early, self._early = self._early, None
        if early is not None:
            globalLogPublisher.removeObserver(early)
            for event in early.events:
                self._observer(event)
        globalLogPublisher.addObserver(self._observer)

    def stopService(self) -> None:
        super().stopService()
        if self._observer is not None:
            globalLogPublisher.removeObserver(self._observer)
            self._observer = None
        if self._file is not None:
            self._file.close()
            self._file = None


@implementer(ILogObserver)
class _EarlyEvents:
    """Holds the latest C{limit} events, each once: twistd replays the events
    it buffered before logging began to every observer of the global
    publisher, and this one saw them live already."""

    def __init__(self, limit: int) -> None:
        self.events: deque[LogEvent] = deque(maxlen=limit)
        self._seen: set[int] = set()

    def __call__(self, event: LogEvent) -> None:
        if id(event) in self._seen:
            return
        if len(self.events) == self.events.maxlen:
            self._seen.discard(id(self.events[0]))
        self._seen.add(id(event))
        self.events.append(event)


class LogBudget:
    """A token bucket over log lines: C{burst} at once, then C{rate} per second.

    L{allow} says whether one more line may be logged. Lines refused are
    counted; the count is handed to C{report} at most once per C{period}
    seconds (L{flush} hands it over at once), so a flood costs one log line
    per period. Time comes from the injected clock; no allocation per line.
    """

    def __init__(
        self,
        clock: IReactorTime,
        rate: float,
        burst: int,
        period: float,
        report: Callable[[int], None],
    ) -> None:
        self._clock = clock
        self.rate = rate
        self.burst = float(burst)
        self.period = period
        self._report = report
        self._tokens = float(burst)
        self._last = clock.seconds()
        self._timer: IDelayedCall | None = None
        self.dropped = 0
        """Lines refused since the last report."""
        self.totalDropped = 0

    def allow(self) -> bool:
        now = self._clock.seconds()
        tokens = self._tokens + (now - self._last) * self.rate
        self._last = now
        if tokens > self.burst:
            tokens = self.burst
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return True
        self._tokens = tokens
        self.dropped += 1
        self.totalDropped += 1
        if self._timer is None:
            self._timer = self._clock.callLater(self.period, self.flush)
        return False

    def flush(self) -> None:
        """Report the lines refused so far now (and stop the period's timer)."""
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()
        dropped, self.dropped = self.dropped, 0
        if dropped:
            self._report(dropped)

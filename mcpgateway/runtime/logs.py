# -*- test-case-name: tests.runtime.test_logfile_append,tests.startup.test_tap,tests.core.test_child -*-
"""The gateway's log level: one filter every gateway C{Logger} emits through;
and its log files (C{--log-file}, and the audit log's file).

twistd and twist own the log observers; the gateway only decides which of its
own events pass, so C{--log-level} works the same under both.

A log file (L{AppendFile}) may have two writers: during C{mcpgateway restart}
the old process and its successor both write C{gateway.log} (and the audit
log). Each write lands at the file's end whoever wrote last (C{O_APPEND}),
and rotation is safe with both: see L{AppendFile}.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections import deque
from collections.abc import Callable
from typing import cast

from twisted.application.service import Service
from twisted.internet.interfaces import IDelayedCall, IReactorCore, IReactorTime
from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LogEvent,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogPublisher,
    textFileLogObserver,
)
from zope.interface import implementer

LEVELS = ("debug", "info", "warn", "error", "critical")

_predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.info)

observer: ILogObserver = FilteringLogObserver(globalLogPublisher, [_predicate])
"""Pass as C{Logger(observer=observer)} in every gateway module."""


DISCARD = "mcpgateway.runtime.logs.discarding"
"""What a detached C{twistd} gets for C{--logger} (L{discarding}): the
gateway writes its own log (C{gateway.log}), which sees every event."""


@implementer(ILogObserver)
class _Discarding:
    def __call__(self, event: LogEvent) -> None:
        """Drop C{event}."""


def discarding() -> ILogObserver:
    """A log observer that drops every event: C{twistd}'s own observer for
    a detached gateway (C{--logger mcpgateway.runtime.logs.discarding}). Not
    C{--logfile /dev/null}: C{twistd}'s log file counts what it writes and,
    past 1 MB, I{rotates} the file by renaming it, which as root replaces
    the system's C{/dev/null} with a regular file (and as anyone else
    fails, which ends that observer)."""
    return _Discarding()


CLIENT_TEXT_LIMIT = 64
"""Characters of a client's text (L{clientText}) a log line carries at most."""


def clientText(value: object, limit: int = CLIENT_TEXT_LIMIT) -> str:
    """Text a client sent (its C{clientInfo.name}, say), made fit for one
    log line: control and other unprintable characters escaped as C{repr}
    writes them (a newline as C{\\n}, ESC as C{\\x1b}; a backslash doubled),
    and cut to C{limit} characters with an ellipsis. Only what is written
    is looked at: a long value costs no more than a short one.

    @param value: the client's text; anything else is written as C{str}
        makes it.
    """
    text = value if isinstance(value, str) else str(value)
    out: list[str] = []
    used = 0
    for char in text:
        if char == "\\":
            piece = "\\\\"
        elif char.isprintable():
            piece = char
        else:
            piece = repr(char)[1:-1]
        used += len(piece)
        if used > limit:
            out.append("\u2026")
            break
        out.append(piece)
    return "".join(out)


def setLevel(name: str) -> None:
    """Emit gateway events at level C{name} (one of L{LEVELS}) and above."""
    _predicate.setLogLevelForNamespace("", LogLevel.levelWithName(name))


class ShutdownWatch:
    """Tells whether the process's shutdown has begun, so a log's
    C{stopService} knows whether what the rest of the stop logs is still to
    come (children exiting, C{all children stopped in …s}, C{Main loop
    terminated.}: the log must stay open for it) or not (a test stopping
    the service: close at once).

    L{watch} (from C{startService}) adds a C{before shutdown} trigger to
    the reactor. twistd and twist add theirs, which stops the service tree,
    after starting it: this one comes first.
    """

    def __init__(self) -> None:
        self.begun = False
        self._reactor: IReactorCore | None = None
        self._trigger: object = None

    def watch(self, reactor: object) -> None:
        """Watch C{reactor} (nothing, if it is no C{IReactorCore}: a clock)."""
        if self._reactor is None and IReactorCore.providedBy(reactor):
            self._reactor = reactor
            self._trigger = self._reactor.addSystemEventTrigger("before", "shutdown", self._begin)

    def _begin(self) -> None:
        self.begun = True

    def forget(self) -> None:
        """Stop watching (the trigger is removed where the reactor can)."""
        reactor, self._reactor = self._reactor, None
        trigger, self._trigger = self._trigger, None
        if reactor is not None and trigger is not None and not self.begun:
            with contextlib.suppress(NotImplementedError, KeyError, ValueError, TypeError):
                reactor.removeSystemEventTrigger(trigger)


class AppendFile:
    """A log file any number of writers (processes, or objects in one)
    append to and rotate at once, each write whole and at the end.

    Opened C{O_APPEND}: every L{write} is one C{write(2)} that lands at the
    file's end, whoever wrote last, so two writers never overwrite each
    other's lines. Nothing is buffered: what L{write} returned from is in
    the file, even if the process dies next.

    Before each write, the file is rotated once it has C{rotateLength}
    bytes or more (as C{twisted.python.logfile.LogFile} did): C{path.N}
    becomes C{path.N+1} (those past C{maxRotatedFiles} are removed),
    C{path} becomes C{path.1}, and a new C{path} is made. The writer that
    rotates holds an exclusive C{flock} on the file it rotates and checks,
    holding it, that C{path} still is that file, so one file is rotated
    once however many writers saw it full; a writer that finds the lock
    taken writes on (its line ends in C{path.1}, not lost). Each write
    first checks that C{path} still names the file it has open (inode and
    device); when not (rotated by another writer, or moved or removed by
    an outside tool such as logrotate), it opens C{path} again.

    Files are created with C{mode} and set to it when opened (as the
    gateway's files always were: 0600); a file whose mode cannot be
    changed (another user's) is used as it is. Only regular files are
    rotated or have their mode set: C{--log-file /dev/null} or a FIFO is
    written and left alone (C{twisted.python.logfile.LogFile}, run as
    root, renamed C{/dev/null} away when it rotated).
    """

    autoRotate = True
    """Whether a write rotates a full file first. A writer whose new file
    must begin with what it says about the rotation (the audit log's)
    rotates only when it asks (C{_current(rotate=True)})."""

    def __init__(
        self, path: str, rotateLength: int, maxRotatedFiles: int, mode: int = 0o600
    ) -> None:
        self.path = os.path.abspath(path)
        self.rotateLength = rotateLength
        self.maxRotatedFiles = maxRotatedFiles
        self.mode = mode
        self._lock = threading.RLock()  # threads of one process share one descriptor
        self._retryAt = 0
        """After a rotation that failed (a folder that cannot be written, a
        bind-mounted file that cannot be renamed): the size at which it is
        tried again, not at every line."""
        self._fd: int | None = self._open()

    def _open(self) -> int:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, self.mode)
        if stat.S_ISREG(os.fstat(fd).st_mode):  # never a device's (root could: /dev/null)
            with contextlib.suppress(OSError):  # not ours to change: used as it is
                os.fchmod(fd, self.mode)
        return fd

    def write(self, data: str | bytes) -> None:
        """Append C{data} (text as UTF-8) in one write; rotate first if due."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        with self._lock:
            fd = self._current()
            view = memoryview(data)
            while view:  # a regular file takes it whole; a short write goes on at the end
                view = view[os.write(fd, view) :]

    def flush(self) -> None:
        """Nothing to do: nothing is buffered."""

    def close(self) -> None:
        """Close the file (later writes raise C{ValueError})."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _current(self, rotate: bool | None = None) -> int:
        """The descriptor to write to: C{path}'s file, rotated if full (and
        C{rotate}, by default L{autoRotate})."""
        if self._fd is None:
            raise ValueError(f"{self.path} is closed")
        mine = os.fstat(self._fd)
        if not self._isPath(mine):
            self._reopen()
            mine = os.fstat(self._fd)
        if (
            (self.autoRotate if rotate is None else rotate)
            and self.rotateLength
            and mine.st_size >= max(self.rotateLength, self._retryAt)
            and stat.S_ISREG(mine.st_mode)
        ):
            self._rotate()
        return self._fd

    def _isPath(self, mine: os.stat_result) -> bool:
        try:
            return os.path.samestat(os.stat(self.path), mine)
        except OSError:
            return False

    def _reopen(self) -> None:
        assert self._fd is not None
        try:
            fd = self._open()
        except OSError:
            return  # cannot (its folder is gone): write on to the file that is open
        os.close(self._fd)
        self._fd = fd

    def _rotate(self) -> None:
        import fcntl  # POSIX only: the bridge imports this module on Windows too

        fd = self._fd
        assert fd is not None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # another writer rotates it now; the next write follows
        try:
            mine = os.fstat(fd)
            if not self._isPath(mine):
                rotated = True  # by another writer, since this one looked
            elif mine.st_size >= self.rotateLength:
                rotated = self._shift()
                self._retryAt = 0 if rotated else mine.st_size + self.rotateLength
            else:
                rotated = False
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        if rotated:
            self._reopen()

    def _shift(self) -> bool:
        """Rename C{path.N} to C{path.N+1} (removing those past the limit)
        and C{path} to C{path.1}; whether it was done (a folder that cannot
        be written: not, and the file grows on)."""
        directory, name = os.path.split(self.path)
        numbers = []
        try:
            for entry in os.listdir(directory):
                head, dot, tail = entry.rpartition(".")
                if head == name and dot and tail.isdigit() and int(tail) > 0:
                    numbers.append(int(tail))
            for n in sorted(numbers, reverse=True):
                old = f"{self.path}.{n}"
                if n >= self.maxRotatedFiles:
                    os.remove(old)
                else:
                    os.rename(old, f"{self.path}.{n + 1}")
            os.rename(self.path, f"{self.path}.1")
        except OSError:
            return False
        return True


class LogFileService(Service):
    """Writes every log event to C{path} (an L{AppendFile}: appended to,
    rotated at C{rotateLength} bytes with C{maxRotatedFiles} old files,
    mode 0600; C{--log-file}; C{mcpgateway start} uses
    C{<state-dir>/gateway.log}).

    The file is opened in C{startService}, after twistd has daemonized; the
    events logged before that (while the service tree is built: skipped
    config entries, a crash recovery, an invalid override file) are held in
    memory from the moment this service is made (at most C{earlyLimit}) and
    written first, so the file tells everything from the gateway's first line.

    It is written to the process's last line. Stopped by the shutdown of
    C{reactor} (L{ShutdownWatch}; C{None}: the global reactor, looked up in
    C{startService}, once twistd installed it), it keeps writing what the
    rest of the stop logs: the other services stop at the same time and
    take their time (children exiting, C{all children stopped in …s}), and
    the reactor's own last lines (C{Main loop terminated.}) come after the
    tree's stop. The process's exit closes the file; nothing is buffered,
    so nothing is lost. Stopped otherwise (a test), it closes at once;
    L{close} closes it.
    """

    def __init__(
        self,
        path: str,
        rotateLength: int = 5_000_000,
        maxRotatedFiles: int = 3,
        earlyLimit: int = 10_000,
        reactor: IReactorCore | None = None,
    ) -> None:
        self.path = path
        self.reactor = reactor
        self._rotateLength = rotateLength
        self._maxRotatedFiles = maxRotatedFiles
        self._shutdown = ShutdownWatch()
        self._file: AppendFile | None = None
        self._observer: ILogObserver | None = None
        self._early: _EarlyEvents | None = _EarlyEvents(earlyLimit)
        globalLogPublisher.addObserver(self._early)

    def startService(self) -> None:
        super().startService()
        if self.reactor is None:
            from twisted.internet import reactor

            self.reactor = cast(IReactorCore, reactor)
        self._shutdown.watch(self.reactor)
        if self._file is not None:
            return  # started again before the process ended: still open
        self._file = AppendFile(self.path, self._rotateLength, self._maxRotatedFiles, 0o600)
        self._observer = textFileLogObserver(self._file)  # type: ignore[arg-type]  # file-like
        early, self._early = self._early, None
        if early is not None:
            globalLogPublisher.removeObserver(early)
            for event in early.events:
                self._observer(event)
        globalLogPublisher.addObserver(self._observer)

    def stopService(self) -> None:
        super().stopService()
        if not self._shutdown.begun:
            self.close()

    def close(self) -> None:
        """Stop writing and close the file."""
        self._shutdown.forget()
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

# -*- test-case-name: tests.core.test_child, tests.core.test_gateway_kills -*-
"""One stdio MCP server process: spawn arguments, newline framing, stderr, exit, stop.

L{ChildProtocol} turns the child's stdout into decoded JSON-RPC messages (one
per line), drains stderr into a bounded ring buffer and the log, writes compact
one-line JSON to stdin, and stops the child the way the MCP stdio transport
asks: close stdin, wait, SIGTERM, wait, SIGKILL, to the whole process group.
It knows nothing of sessions or routing.

Everything a child writes is hostile input. A stdout line that is not
acceptable JSON (whatever the parser raises) is skipped; only a line over the
framing limit kills the child. The end of stdout ends the child for the
gateway, even if its process lives on. A child the gateway kills (L{ChildProtocol.kill}:
a line over the limit, no answer to C{initialize} or to a health ping) says
so in how it ended (L{ChildProtocol.howItEnded}), with why, and, when it
never answered, the start of the first stdout line that was not JSON: a
server that prints a banner or its errors to stdout is told apart from one
the kernel killed. What a child can make the gateway log
is bounded by token buckets (L{logs.LogBudget}): stderr lines and skipped stdout
lines over their budget are counted, not logged, and the count is logged once
per period.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.abstract import FileDescriptor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.bigline import SKIP_MOST, OversizedLine
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs
from mcpgateway.runtime.turnwrites import Flusher, writerOf

DEFAULT_MAX_LINE = 16 * 1024 * 1024
STDERR_LINES = 200
_STDERR_LINE_CAP = 4096

STDERR_LOG_RATE = 20.0
"""Child stderr lines logged per second, per child, once the burst is spent."""
STDERR_LOG_BURST = 100
"""Child stderr lines logged at once before the rate applies."""
BAD_LINE_LOG_RATE = 0.1
"""Skipped (unacceptable) stdout lines logged per second, per child (one per 10 s)."""
BAD_LINE_LOG_BURST = 10
LOG_PERIOD = 10.0
"""Seconds between the log lines that count what a budget did not log."""
OUTPUT_GRACE = 0.5
"""Seconds a child whose stdout has closed may take to exit by itself before it
is taken for a child that closed its stdout and lives on, and is stopped."""
_EXCERPT = 200
STRAY_CHARS = 120
"""Characters of a child's first non-JSON stdout line kept to say how it ended."""
STDOUT_MARK = "; first stdout line: "
"""How the gateway's own words about a child's end introduce what it wrote
to stdout (as C{"; last stderr: "} does its stderr)."""


def describeExit(reason: Failure) -> str:
    """Say in a few words how a process ended."""
    value = reason.value
    if isinstance(value, ProcessDone):
        return "exited with code 0"
    if isinstance(value, ProcessTerminated):
        if value.signal is not None:
            return f"killed by signal {value.signal}"
        return f"exited with code {value.exitCode}"
    return str(value)


class Child(Protocol):
    """What the gateway holds of one child: a process (L{ChildProtocol}), or
    an upstream session with a remote server (L{mcpgateway.remote}). Both
    deliver each JSON-RPC message they receive to the callback they were made
    with, and fire C{ended} once, when they are gone."""

    name: str
    pid: int | None
    """The process id (C{None}: no process, a remote server)."""
    exited: bool
    exitReason: Failure | None
    ended: Deferred[None]
    stderrTail: deque[str]
    """The last lines of its stderr (a remote server's: what went wrong with it)."""
    responses: int
    bytesIn: int
    bytesOut: int

    def send(self, message: jsonrpc.Message) -> None: ...

    def hurry(self) -> None: ...

    def signal(self, name: str) -> None: ...

    def stop(self, graceTime: float = 2.0, termTime: float = 3.0) -> Deferred[None]: ...

    def kill(self, why: str) -> None:
        """Kill it now, for C{why} (a phrase without its subject: C{"did
        not answer initialize within 60 s"}): how it ended says the gateway
        killed it, and why."""
        ...

    def howItEnded(self) -> str: ...


def quotedLine(line: bytes, redact: Callable[[str], str] | None = None) -> str:
    """The start of a line a child wrote, safe to show on one line: decoded
    (bad bytes replaced), its secrets taken out (C{redact}, over the whole
    line: a value cut short would not be found), cut to L{STRAY_CHARS}
    characters and quoted with every control character escaped."""
    text = line.decode("utf-8", "replace")
    if redact is not None:
        text = redact(text)
    cut = text[:STRAY_CHARS]
    return repr(cut) + ("…" if len(text) > STRAY_CHARS else "")


class ChildProtocol(ProcessProtocol):
    """Frames one child's stdio as JSON-RPC messages.

    @ivar ended: fires (with C{None}) when the process has ended; the
        reason is in C{exitReason}.
    @ivar stderrTail: the last lines the child wrote to stderr.
    """

    log = Logger(observer=logs.observer)
    onStopping: Callable[[int], None] | None = None
    """Told the pid when the gateway starts stopping the child, before its
    stdin is closed (the warden lets go of its copy of that pipe:
    L{mcpgateway.ops.warden.Warden.stopping})."""

    def __init__(
        self,
        name: str,
        onMessage: Callable[[jsonrpc.Message], None],
        clock: IReactorTime,
        maxLine: int = DEFAULT_MAX_LINE,
        killGroup: Callable[[int, int], None] | None = os.killpg,
        onStderr: Callable[[str], None] | None = None,
        onOutputLost: Callable[[ChildProtocol], None] | None = None,
        flusher: Flusher | None = None,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        """
        @param name: the server name, for logs.
        @param onMessage: called with every JSON-RPC message the child writes.
        @param clock: for the stop sequence's timers.
        @param maxLine: the longest stdout line accepted; a longer one is
            dropped, failing the request it answers, or kills the child
            when it answers none it names (L{mcpgateway.core.bigline}).
        @param killGroup: C{os.killpg}, when the child leads its own process
            group; C{None} signals only the process through its transport.
        @param onStderr: called with every stderr line (not rate-limited).
        @param onOutputLost: called with this protocol when the child closed
            its stdout and was still running L{OUTPUT_GRACE} seconds later;
            the child is being stopped (L{stop}) at that point.
        @param flusher: adopts the child's stdin and sends what a turn
            wrote to it (L{mcpgateway.runtime.turnwrites}; C{None}: as
            Twisted sends it, when the reactor next wakes up).
        @param redact: applied to each stderr line before it is kept,
            passed on or logged (takes out the secrets the child was given).
        """
        self.name = name
        self._redact = redact
        self._onMessage = onMessage
        self._clock = clock
        self._maxLine = maxLine
        self._killGroup = killGroup
        self._onStderr = onStderr
        self._onOutputLost = onOutputLost
        self._flusher = flusher
        self._stdin: FileDescriptor | None = None
        """The child's stdin, once the flusher adopted it."""
        self._chunks: list[bytes] = []
        self._chunkBytes = 0
        self._oversized: OversizedLine | None = None
        """The line over the limit being dropped (L{OversizedLine})."""
        self._errPartial = b""
        self.stderrTail: deque[str] = deque(maxlen=STDERR_LINES)
        self.pid: int | None = None
        self.startTime: int | None = None
        """When the process started (field 22 of C{/proc/PID/stat}), read
        as it was spawned: with the pid, it names this process, whose pid
        another may get once it has ended."""
        self.exited = False
        self.exitReason: Failure | None = None
        self.ended: Deferred[None] = Deferred()
        self._stopTimers: list[IDelayedCall] = []
        self.bytesIn = 0
        self.bytesOut = 0
        self.responses = 0
        """Responses (messages without a C{method}) the child has written."""
        self.outputClosed = False
        """Whether the child's stdout has reached its end."""
        self.killedFor: str | None = None
        """Why the gateway killed the child itself (L{kill}), for
        L{howItEnded}; C{None}: it did not."""
        self.strayLine: str | None = None
        """The start of the first stdout line that was not JSON, quoted
        (L{quotedLine}); C{None}: none was."""
        self._outputTimer: IDelayedCall | None = None
        self._stderrBudget = logs.LogBudget(
            clock, STDERR_LOG_RATE, STDERR_LOG_BURST, LOG_PERIOD, self._stderrDropped
        )
        self._badLineBudget = logs.LogBudget(
            clock, BAD_LINE_LOG_RATE, BAD_LINE_LOG_BURST, LOG_PERIOD, self._badLinesDropped
        )

    # -- process events ------------------------------------------------------

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.pid = self.transport.pid
        stdin = writerOf(self.transport) if self._flusher is not None else None
        if stdin is not None:
            assert self._flusher is not None
            # A line leaves at the end of the turn that wrote it. Twisted's
            # "read hack" stays on (two epoll_ctl per line): it is how the
            # writer learns that the child closed its stdin, and Twisted calls
            # processEnded only once every pipe is closed, so without it a
            # child that dies on its own would not be noticed until the next
            # line written to it failed.
            self._flusher.adopt(stdin)
            self._stdin = stdin

    def outReceived(self, data: bytes) -> None:
        self.bytesIn += len(data)
        start = 0
        oversized = self._oversized
        if oversized is not None:  # the rest of a line over the limit: dropped
            newline = data.find(b"\n")
            oversized.add(data if newline < 0 else data[:newline])
            if newline < 0:
                if oversized.size > SKIP_MOST * self._maxLine:
                    self._lineTooLong(oversized.size)
                return
            if not self._lineDropped():
                return
            start = newline + 1
        while True:
            newline = data.find(b"\n", start)
            if newline < 0:
                break
            if self._chunks:
                self._chunks.append(data[start:newline])
                line = b"".join(self._chunks)
                self._chunks.clear()
                self._chunkBytes = 0
            else:
                line = data[start:newline]
            start = newline + 1
            if len(line) > self._maxLine:
                self._oversized = OversizedLine(line)
                if not self._lineDropped():
                    return
                continue
            self._lineReceived(line)
        if start < len(data):
            rest = data[start:]
            self._chunks.append(rest)
            self._chunkBytes += len(rest)
            if self._chunkBytes > self._maxLine:
                oversized = self._oversized = OversizedLine(b"".join(self._chunks))
                self._chunks.clear()
                self._chunkBytes = 0
                if not oversized.mayAnswer():
                    self._lineTooLong(oversized.size)

    def serveTo(
        self,
        onMessage: Callable[[jsonrpc.Message], None],
        onStderr: Callable[[str], None] | None,
        onOutputLost: Callable[[ChildProtocol], None] | None,
    ) -> None:
        """Give what the child writes, and the end of its stdout, to
        another upstream from now on (a reload moved the child to its
        server's new pool: L{mcpgateway.core.childmove.moveChild})."""
        self._onMessage, self._onStderr, self._onOutputLost = onMessage, onStderr, onOutputLost

    def pendingOutput(self) -> bytes:
        """The start of a stdout line read but not finished yet."""
        return b"".join(self._chunks)

    def errReceived(self, data: bytes) -> None:
        lines = (self._errPartial + data).split(b"\n")
        partial = lines.pop()
        if len(partial) > _STDERR_LINE_CAP and self._redact is not None:
            # Cut only once its secrets are out: a value across the cut would
            # be found by no one, and its end kept.
            partial = self._redact(partial.decode("utf-8", "replace")).encode("utf-8")
        self._errPartial = partial[-_STDERR_LINE_CAP:]
        for raw in lines:
            line = raw.rstrip(b"\r")
            if self._redact is None:
                text = line[:_STDERR_LINE_CAP].decode("utf-8", "replace")
            else:  # the whole line: a value cut at the cap would not be found
                text = self._redact(line.decode("utf-8", "replace"))[:_STDERR_LINE_CAP]
            if text:
                self.stderrTail.append(text)
                if self._onStderr is not None:
                    try:
                        self._onStderr(text)
                    except Exception:
                        if self._badLineBudget.allow():
                            self.log.failure(
                                "recording a stderr line of server {server} failed",
                                server=self.name,
                            )
                if self._stderrBudget.allow():
                    self.log.info("[{server}] {line}", server=self.name, line=text, stream="stderr")

    def outConnectionLost(self) -> None:
        """The child's stdout has ended: nothing more can come from it.

        A child that is exiting ends within moments (its exit says how and
        its stderr why); one still running after L{OUTPUT_GRACE} seconds has
        closed its stdout and lives on: it is stopped, and C{onOutputLost}
        is told."""
        self.outputClosed = True
        self._chunks.clear()
        self._chunkBytes = 0
        self._oversized = None
        if not self.exited and self._outputTimer is None:
            self._outputTimer = self._clock.callLater(OUTPUT_GRACE, self._outputLost)

    def _outputLost(self) -> None:
        self._outputTimer = None
        if self.exited:
            return
        self.log.warn(
            "server {server} child pid {pid} closed its stdout but is still running; stopping it"
            " (it is restarted on the next request)",
            server=self.name,
            pid=self.pid,
        )
        if self._onOutputLost is not None:
            try:
                self._onOutputLost(self)
            except Exception:
                self.log.failure(
                    "handling the closed stdout of server {server} failed", server=self.name
                )
        self.stop()

    def processExited(self, reason: Failure) -> None:
        """The child's process exited: what it left in its process group
        (a sandbox's processes, a helper it started) holds its pipes open,
        so it is killed, and the child's end is known at once."""
        if self._killGroup is not None and self.pid is not None:
            with contextlib.suppress(OSError):  # nothing was left in its group
                self._killGroup(self.pid, signal.SIGKILL)

    def processEnded(self, reason: Failure) -> None:
        if self._errPartial:
            self.stderrTail.append(self._errPartial.decode("utf-8", "replace"))
            self._errPartial = b""
        self.exited = True
        self.exitReason = reason
        for timer in self._stopTimers:
            if timer.active():
                timer.cancel()
        self._stopTimers.clear()
        if self._outputTimer is not None:
            if self._outputTimer.active():
                self._outputTimer.cancel()
            self._outputTimer = None
        self._stderrBudget.flush()
        self._badLineBudget.flush()
        self.log.info(
            "server {server} child pid {pid} {how}",
            server=self.name,
            pid=self.pid,
            how=self.howItEnded(),
        )
        self.ended.callback(None)

    # -- framing -------------------------------------------------------------

    def _lineReceived(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            return
        try:
            message = jsonrpc.loads(line, allowLoneSurrogates=True)
        except Exception as e:  # ParseError, or whatever else a hostile line provokes
            if self.strayLine is None:
                self.strayLine = quotedLine(line, self._redact)
            self._skipped(line, e)
            return
        if type(message) is dict:
            self._deliver(message)
        elif isinstance(message, list):
            for item in message:
                self._deliver(item)
        else:
            self._skipped(line, None)

    def _deliver(self, message: Any) -> None:
        if type(message) is not dict:
            self._skipped(None, None)
            return
        if "method" not in message:
            self.responses += 1
        try:
            self._onMessage(message)
        except Exception:
            if self._badLineBudget.allow():
                self.log.failure("routing a message from server {server} failed", server=self.name)

    def _skipped(self, line: bytes | None, error: BaseException | None) -> None:
        """Log (within the budget) one line that does not parse (C{error}),
        or one value that is not a message (C{line}: its line, if known)."""
        if not self._badLineBudget.allow():
            return
        excerpt = "" if line is None else line[:_EXCERPT].decode("utf-8", "replace")
        if error is None:
            self.log.warn(
                "server {server} wrote a JSON value that is not a message; skipped: {excerpt}",
                server=self.name,
                excerpt=excerpt,
            )
            return
        why = (
            str(error)
            if isinstance(error, jsonrpc.ParseError)
            else f"{type(error).__name__}: {error}"
        )
        self.log.warn(
            "server {server} wrote a non-JSON line to stdout ({error}); skipped: {excerpt}",
            server=self.name,
            error=why[:_EXCERPT],
            excerpt=excerpt,
            size=0 if line is None else len(line),
        )

    def _stderrDropped(self, count: int) -> None:
        self.log.warn(
            "server {server}: {count} stderr line(s) not logged in the last {period:g} s (over"
            " {rate:g} lines/s after a burst of {burst}); the latest {ring} are kept in its"
            " stderr ring",
            server=self.name,
            count=count,
            period=LOG_PERIOD,
            rate=STDERR_LOG_RATE,
            burst=STDERR_LOG_BURST,
            ring=STDERR_LINES,
        )

    def _badLinesDropped(self, count: int) -> None:
        self.log.warn(
            "server {server}: {count} more stdout line(s) that are not JSON-RPC messages were"
            " skipped in the last {period:g} s (not logged one by one)",
            server=self.name,
            count=count,
            period=LOG_PERIOD,
        )

    def howItEnded(self) -> str:
        """How the process ended (L{describeExit}), and why the gateway
        killed it when it did (L{kill}): a child killed for an over-long
        stdout line or a handshake it never answered is not taken for one
        the OOM killer ended. A child that never wrote a response but wrote
        a line that is not JSON to stdout (a banner, an error printed there)
        is said to have, with that line's start (after L{STDOUT_MARK})."""
        assert self.exitReason is not None
        how = describeExit(self.exitReason)
        stray = self.strayLine if self.responses == 0 else None
        why = self.killedFor
        if why is None:
            if stray is None:
                return how
            return f"{how} after writing non-JSON to stdout{STDOUT_MARK}{stray}"
        if stray is not None:
            why = f"wrote non-JSON to stdout and {why}"
        value = self.exitReason.value
        if isinstance(value, ProcessTerminated) and value.signal == signal.SIGKILL:
            said = f"killed by the gateway: it {why}"
        else:
            said = f"{how} while the gateway was killing it: it {why}"
        return said if stray is None else f"{said}{STDOUT_MARK}{stray}"

    def kill(self, why: str) -> None:
        """Kill the child's process group (SIGKILL) for C{why}, which
        L{howItEnded} gives (the first C{why}, if killed twice)."""
        if self.exited:
            return
        if self.killedFor is None:
            self.killedFor = why
        self.signal("KILL")

    def _lineDropped(self) -> bool:
        """The line over the limit has ended: when it answers a request
        (L{OversizedLine.answers}), that request is answered with an error
        and the child goes on (C{True}); else the child is killed."""
        line, self._oversized = self._oversized, None
        assert line is not None
        answer, requestId = line.answers()
        if not answer:
            self._lineTooLong(line.size)
            return False
        self.log.warn(
            "server {server} answered request {requestId} with a stdout line of {size} bytes,"
            " over the {limit}-byte limit: that answer was dropped, its caller told",
            server=self.name,
            requestId=requestId,
            size=line.size,
            limit=self._maxLine,
        )
        said = (
            f"server '{self.name}' answered with {line.size} bytes, over the gateway's"
            f" {self._maxLine}-byte limit of a message (--max-line): the answer was dropped"
        )
        self._deliver(jsonrpc.errorResponse(requestId, jsonrpc.SERVER_UNAVAILABLE, said))
        return True

    def _lineTooLong(self, size: int) -> None:
        self._chunks.clear()
        self._chunkBytes = 0
        self._oversized = None
        self.log.error(
            "server {server} wrote a stdout line of {size} bytes, over the {limit}-byte limit;"
            " killing the child (it is restarted on the next request)",
            server=self.name,
            size=size,
            limit=self._maxLine,
        )
        self.kill(f"wrote a stdout line of {size} bytes, over the {self._maxLine}-byte limit")

    # -- writing and stopping -----------------------------------------------

    def send(self, message: jsonrpc.Message) -> None:
        """Write one message to the child's stdin as a single line."""
        if self.exited or self.transport is None:
            return
        data = jsonrpc.dumps(message) + b"\n"
        self.bytesOut += len(data)
        self.transport.write(data)

    def hurry(self) -> None:
        """Send what this turn wrote to the child now, not at the turn's
        end, if nothing more is read in this turn (L{Flusher.sendIfFinal}):
        for a request to a child with no other in flight, which starts on it
        while the gateway finishes its own work (C=1 latency)."""
        stdin = self._stdin
        if stdin is not None:
            assert self._flusher is not None
            self._flusher.sendIfFinal(stdin)

    def signal(self, name: str) -> None:
        """Send signal C{name} ("TERM", "KILL") to the child's process group."""
        if self.exited or self.transport is None:
            return
        try:
            if self._killGroup is not None and self.pid is not None:
                self._killGroup(self.pid, getattr(signal, "SIG" + name))
            else:
                self.transport.signalProcess(name)
        except (ProcessExitedAlready, ProcessLookupError):
            pass
        except OSError as e:  # EPERM: the group is no longer ours to signal
            self.log.warn(
                "server {server}: cannot send SIG{name} to child pid {pid}: {error}",
                server=self.name,
                name=name,
                pid=self.pid,
                error=str(e),
            )

    def stop(self, graceTime: float = 2.0, termTime: float = 3.0) -> Deferred[None]:
        """Stop the child: close stdin, SIGTERM after C{graceTime}, SIGKILL
        C{termTime} later. Fires when the process has ended."""
        if self.exited:
            return succeed(None)
        if not self._stopTimers:
            if self.onStopping is not None and self.pid is not None:
                self.onStopping(self.pid)
            if self.transport is not None:
                self.transport.closeStdin()
            self._stopTimers = [
                self._clock.callLater(graceTime, self.signal, "TERM"),
                self._clock.callLater(graceTime + termTime, self.signal, "KILL"),
            ]
        waiter: Deferred[None] = Deferred()
        self.ended.addBoth(_relay, waiter)
        return waiter


def _relay(result: Any, waiter: Deferred[Any]) -> Any:
    waiter.callback(result)
    return result

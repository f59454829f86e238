"""One stdio MCP server process: spawn arguments, newline framing, stderr, exit, stop.

L{ChildProtocol} turns the child's stdout into decoded JSON-RPC messages (one
per line), drains stderr into a bounded ring buffer and the log, writes compact
one-line JSON to stdin, and stops the child the way the MCP stdio transport
asks: close stdin, wait, SIGTERM, wait, SIGKILL, to the whole process group.
It knows nothing of sessions or routing.
"""

from __future__ import annotations

import os
import signal
from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway import jsonrpc, logs

DEFAULT_MAX_LINE = 16 * 1024 * 1024
STDERR_LINES = 200
_STDERR_LINE_CAP = 4096


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


class ChildProtocol(ProcessProtocol):
    """Frames one child's stdio as JSON-RPC messages.

    @ivar ended: fires (with C{None}) when the process has ended; the
        reason is in C{exitReason}.
    @ivar stderrTail: the last lines the child wrote to stderr.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        name: str,
        onMessage: Callable[[jsonrpc.Message], None],
        clock: IReactorTime,
        maxLine: int = DEFAULT_MAX_LINE,
        killGroup: Callable[[int, int], None] | None = os.killpg,
        onStderr: Callable[[str], None] | None = None,
    ) -> None:
        """
        @param name: the server name, for logs.
        @param onMessage: called with every JSON-RPC message the child writes.
        @param clock: for the stop sequence's timers.
        @param maxLine: the longest stdout line accepted; longer kills the child.
        @param killGroup: C{os.killpg}, when the child leads its own process
            group; C{None} signals only the process through its transport.
        """
        self.name = name
        self._onMessage = onMessage
        self._clock = clock
        self._maxLine = maxLine
        self._killGroup = killGroup
        self._onStderr = onStderr
        self._chunks: list[bytes] = []
        self._chunkBytes = 0
        self._errPartial = b""
        self.stderrTail: deque[str] = deque(maxlen=STDERR_LINES)
        self.pid: int | None = None
        self.exited = False
        self.exitReason: Failure | None = None
        self.ended: Deferred[None] = Deferred()
        self._stopTimers: list[IDelayedCall] = []
        self.bytesIn = 0
        self.bytesOut = 0

    # -- process events ------------------------------------------------------

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.pid = self.transport.pid

    def outReceived(self, data: bytes) -> None:
        self.bytesIn += len(data)
        start = 0
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
                self._lineTooLong(len(line))
                return
            self._lineReceived(line)
        if start < len(data):
            rest = data[start:]
            self._chunks.append(rest)
            self._chunkBytes += len(rest)
            if self._chunkBytes > self._maxLine:
                self._lineTooLong(self._chunkBytes)

    def errReceived(self, data: bytes) -> None:
        lines = (self._errPartial + data).split(b"\n")
        self._errPartial = lines.pop()[-_STDERR_LINE_CAP:]
        for raw in lines:
            text = raw.rstrip(b"\r")[:_STDERR_LINE_CAP].decode("utf-8", "replace")
            if text:
                self.stderrTail.append(text)
                if self._onStderr is not None:
                    self._onStderr(text)
                self.log.info("[{server}] {line}", server=self.name, line=text, stream="stderr")

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
        self.log.info(
            "server {server} child pid {pid} {how}",
            server=self.name,
            pid=self.pid,
            how=describeExit(reason),
        )
        self.ended.callback(None)

    # -- framing -------------------------------------------------------------

    def _lineReceived(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            return
        try:
            message = jsonrpc.loads(line)
        except jsonrpc.ParseError as e:
            self.log.warn(
                "server {server} wrote a non-JSON line to stdout ({error}); skipped: {excerpt}",
                server=self.name,
                error=str(e),
                excerpt=line[:200].decode("utf-8", "replace"),
            )
            return
        if isinstance(message, list):
            for item in message:
                self._deliver(item)
        else:
            self._deliver(message)

    def _deliver(self, message: Any) -> None:
        if not isinstance(message, dict):
            self.log.warn("server {server} wrote a JSON value that is not a message; skipped",
                          server=self.name)
            return
        try:
            self._onMessage(message)
        except Exception:
            self.log.failure("routing a message from server {server} failed", server=self.name)

    def _lineTooLong(self, size: int) -> None:
        self._chunks.clear()
        self._chunkBytes = 0
        self.log.error(
            "server {server} wrote a stdout line of {size} bytes, over the {limit}-byte limit;"
            " killing the child (it is restarted on the next request)",
            server=self.name,
            size=size,
            limit=self._maxLine,
        )
        self.signal("KILL")

    # -- writing and stopping -----------------------------------------------

    def send(self, message: jsonrpc.Message) -> None:
        """Write one message to the child's stdin as a single line."""
        if self.exited or self.transport is None:
            return
        data = jsonrpc.dumps(message) + b"\n"
        self.bytesOut += len(data)
        self.transport.write(data)

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

    def stop(self, graceTime: float = 2.0, termTime: float = 3.0) -> Deferred[None]:
        """Stop the child: close stdin, SIGTERM after C{graceTime}, SIGKILL
        C{termTime} later. Fires when the process has ended."""
        if self.exited:
            return succeed(None)
        if not self._stopTimers:
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

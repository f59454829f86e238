# -*- test-case-name: tests.bridge.test_stdio -*-
"""The bridge's stdio side: the MCP stdio transport to its one client.

L{StdioProtocol} reads newline-delimited JSON-RPC from stdin (framed and
parsed by L{mcpgateway.bridge.framing}), hands each message on, answers what
cannot be forwarded (not JSON, not JSON-RPC, an overlong line) with a
JSON-RPC error at once, and writes each message for the client as one line
on stdout. stdin EOF is the end of the client (a half-close: stdout stays
open until the bridge has finished, so the answers to what the client sent
before still reach it); stdout is never written anything but messages (the
log goes to stderr). At the end, L{StdioProtocol.closeOutput} flushes what
was written before the reactor stops (a reactor that stops drops what its
pipes still buffer).
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IHalfCloseableProtocol, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from mcpgateway.bridge.framing import MAX_LINE, LineBuffer, Outgoing, parseLine
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs

FLUSH_TIMEOUT = 2.0
"""Seconds the end waits for the client to read what is still buffered for
stdout."""


@implementer(IHalfCloseableProtocol)
class StdioProtocol(Protocol):
    """One stdio client.

    @param onMessage: called with each message to relay to the gateway.
    @param onEnd: called once, when stdin ends (or the pipes break).
    @param onGone: called once, when stdout can no longer be written (no
        answer can reach the client any more), before C{onEnd} if both pipes
        went at once.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        onMessage: Callable[[Outgoing], None],
        onEnd: Callable[[], None],
        maxLine: int = MAX_LINE,
        onGone: Callable[[], None] | None = None,
    ) -> None:
        self._onMessage = onMessage
        self._onEnd = onEnd
        self._onGone = onGone
        self._lines = LineBuffer(maxLine)
        self._maxLine = maxLine
        self._ended = False
        self._flushed: Deferred[None] | None = None
        self._flushTimer: IDelayedCall | None = None
        self.writable = True

    def dataReceived(self, data: bytes) -> None:
        for line in self._lines.feed(data):
            self._line(line)

    def _line(self, line: bytes | None) -> None:
        if line is None:
            self.log.warn("dropped a stdin line over {max} bytes", max=self._maxLine)
            error = jsonrpc.errorResponse(
                None, jsonrpc.PARSE_ERROR, f"Parse error: line over {self._maxLine} bytes"
            )
            self.write(jsonrpc.dumps(error))
            return
        parsed = parseLine(line)
        for answer in parsed.answers:
            self.write(answer)
        for message in parsed.messages:
            self._onMessage(message)

    def write(self, line: bytes) -> None:
        """Write one message (one line, without its newline) to the client."""
        if self.writable and self.transport is not None:
            self.transport.writeSequence([line, b"\n"])

    def readConnectionLost(self) -> None:
        """stdin EOF: what is left unterminated is a last line; then the end."""
        rest = self._lines.pending
        if rest.strip():
            self._lines = LineBuffer(self._maxLine)
            self._line(rest)
        self._end()

    def writeConnectionLost(self) -> None:
        self._gone()
        self._outputClosed()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._gone()
        self._outputClosed()
        self._end()

    def closeOutput(self, clock: IReactorTime, timeout: float = FLUSH_TIMEOUT) -> Deferred[None]:
        """The end: close stdout once what was written to it is flushed.
        Fires then, or after C{timeout} seconds (a client that reads no
        more), or at once when stdout is gone already. Idempotent."""
        if self._flushed is None:
            if not self.writable or self.transport is None:
                return succeed(None)
            self._flushed = Deferred()
            self._flushTimer = clock.callLater(timeout, self._outputClosed)
            self.transport.loseConnection()  # flushes first, then connectionLost
        return self._flushed

    def _outputClosed(self) -> None:
        flushed = self._flushed
        if flushed is None or flushed.called:
            return
        if self._flushTimer is not None and self._flushTimer.active():
            self._flushTimer.cancel()
        self._flushTimer = None
        flushed.callback(None)

    def _gone(self) -> None:
        if self.writable:
            self.writable = False
            if self._onGone is not None:
                self._onGone()

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self._onEnd()

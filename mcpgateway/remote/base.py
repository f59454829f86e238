# -*- test-case-name: tests.remote.test_streamable,tests.remote.test_openapi -*-
"""What every child of a remote server keeps, as a process's protocol does:
its counters, the lines said about what went wrong (its "stderr"), and its
end, fired once with the reason (L{mcpgateway.core.child.Child})."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs

TAIL_LINES = 200
"""What went wrong with the server lately, kept for C{status} and the log."""


class RemoteEnded(Exception):
    """How a remote server's child ended (its message says why)."""


class RemoteChildBase:
    """The bookkeeping of one child of a remote server.

    @param name: the server's name, for the log and the errors.
    @param onMessage: told of every JSON-RPC message the server sends.
    @param onStderr: told of each line said about what went wrong.
    """

    log = Logger(observer=logs.observer, namespace="mcpgateway.remote")

    def __init__(
        self,
        name: str,
        onMessage: Callable[[jsonrpc.Message], None],
        onStderr: Callable[[str], None] | None,
    ) -> None:
        self.name = name
        self._onMessage = onMessage
        self._onStderr = onStderr
        self.pid: int | None = None
        self.exited = False
        self.exitReason: Failure | None = None
        self.ended: Deferred[None] = Deferred()
        self.stderrTail: deque[str] = deque(maxlen=TAIL_LINES)
        self.killedFor: str | None = None
        """Why the gateway ended the child (L{kill}); C{None}: it did not."""
        self.responses = 0
        self.bytesIn = 0
        self.bytesOut = 0

    def hurry(self) -> None:
        """Nothing waits to be sent: each message is its own request."""

    def _closed(self) -> None:
        """Let go of what the child holds open (called once, at its end)."""

    def _end(self, why: str) -> None:
        if self.exited:
            return
        self.exited = True
        self.exitReason = Failure(RemoteEnded(why))
        self._closed()
        self.log.info("server {server}: remote session {how}", server=self.name, how=why)
        self.ended.callback(None)

    def signal(self, name: str) -> None:
        """End the child now (what C{KILL} or C{TERM} does to a process)."""
        raise NotImplementedError

    def kill(self, why: str) -> None:
        """End the child now for C{why} (a phrase without its subject),
        which its end then says."""
        if self.exited:
            return
        self.killedFor = why
        self.signal("KILL")

    def howItEnded(self) -> str:
        """Why the child ended, in a few words (and why the gateway ended
        it, when it did: L{kill})."""
        if self.exitReason is None:
            return "still open"
        how = str(self.exitReason.value)
        return how if self.killedFor is None else f"{how}: it {self.killedFor}"

    def _said(self, line: str) -> None:
        self.stderrTail.append(line)
        self.log.warn("{line}", line=line)
        if self._onStderr is not None:
            self._onStderr(line)

    def _bug(self, reason: Failure, doing: str) -> None:
        self.log.failure("server {server}: {doing} failed", reason, server=self.name, doing=doing)

# -*- test-case-name: tests.test_turnflush -*-
"""Send what a reactor turn wrote before the reactor waits again.

Twisted's C{FileDescriptor.write} only buffers: it registers the descriptor
for writability, and the bytes leave when the next C{epoll_wait} says the
socket or pipe can take them, one more trip around the reactor loop for
every hop of a call (the client's request to the child's stdin, the child's
answer to the client's socket). At one call in flight that trip is most of
what a hop costs beyond the gateway's own work (issue 19: C=1 latency).

A L{TurnFlusher} is told which descriptors a turn wrote to (L{wrote}), and
at the end of the turn (a C{callLater(0)}: it runs before the reactor's next
wait) calls each one's C{doWrite}, the method the reactor itself would call
on writability (C{IWriteDescriptor}). What the kernel takes leaves at once,
and the descriptor stops watching for writability as it would have; what the
kernel does not take (a full buffer) stays registered, and the reactor sends
it on writability as before; a descriptor whose earlier send fell short is
left waiting for it. An error (a closed peer), returned or raised, closes
the connection as the reactor would (C{connectionLost}). A descriptor that
is closing (C{disconnecting}) or closed is left to the reactor: its last
write ends the connection, which is the reactor's to do. Writes made in one
turn still leave in one system call per descriptor.
"""

from __future__ import annotations

from twisted.internet.abstract import FileDescriptor
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway import logs


class TurnFlusher:
    """Sends, at the end of each reactor turn, what that turn wrote."""

    log = Logger(observer=logs.observer)

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._pending: dict[FileDescriptor, None] = {}
        self._call: IDelayedCall | None = None

    def wrote(self, descriptor: FileDescriptor) -> None:
        """C{descriptor} was written to in this turn: send it at its end."""
        pending = self._pending
        if descriptor in pending:
            return
        pending[descriptor] = None
        if self._call is None:
            self._call = self._clock.callLater(0, self.flush)

    def flush(self) -> None:
        """Send what every noted descriptor holds, as far as the kernel takes it."""
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()
        pending, self._pending = self._pending, {}
        for descriptor in pending:
            if not descriptor.connected or descriptor.disconnecting:
                continue  # its last write ends the connection: the reactor's to do
            if len(descriptor.dataBuffer) > descriptor.offset:
                continue  # a send fell short before: it waits for writability already
            try:
                why = descriptor.doWrite()
            except Exception as e:
                self.log.failure("sending what a turn wrote failed; closing the connection")
                why = e
            if why:
                # As the reactor does with what its own doWrite returns or raises.
                descriptor.stopReading()
                descriptor.stopWriting()
                descriptor.connectionLost(
                    Failure(why if isinstance(why, BaseException) else ConnectionLost())
                )


def writerOf(transport: object) -> FileDescriptor | None:
    """The descriptor a L{TurnFlusher} can send for C{transport}: the
    transport itself when it is one (a TCP connection), a process's stdin
    writer (C{pipes[0]}), else C{None} (TLS, in-memory test transports:
    their writes go as they always did)."""
    if isinstance(transport, FileDescriptor):
        return transport
    pipes = getattr(transport, "pipes", None)
    if isinstance(pipes, dict):
        stdin = pipes.get(0)
        if isinstance(stdin, FileDescriptor):
            return stdin
    return None

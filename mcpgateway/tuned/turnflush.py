# -*- test-case-name: tests.tuned.test_turnflush -*-
"""Send what a reactor turn wrote before the reactor waits again.

Twisted's C{FileDescriptor.write} only buffers: it registers the descriptor
for writability (an C{epoll_ctl}), and the bytes leave when the next
C{epoll_wait} says the socket or pipe can take them, one more trip around
the reactor loop for every hop of a call (the client's request to the
child's stdin, the child's answer to the client's socket), and one more
C{epoll_ctl} when the buffer is empty again. At one call in flight those
trips are most of what a hop costs beyond the gateway's own work (issue
19: C=1 latency and CPU per call).

A L{TurnFlusher} I{adopts} a descriptor (L{TurnFlusher.adopt}): from then
on, a write that would register it for writability notes it instead, and at
the end of the turn (before the reactor's next wait: the gateway reactor's
C{callAtTurnEnd}, another reactor's C{callLater(0)}) the flusher calls its
C{doWrite}, the method the reactor itself would call on writability
(C{IWriteDescriptor}). What the kernel takes leaves at
once, with no registration at all; what it does not take (a full buffer) is
handed to the reactor, which sends it on writability as before, and while it
does, later writes wait behind it there (no send is tried before the kernel
has room). An error (a
closed peer), returned or raised, closes the connection as the reactor
would (C{connectionLost}). A descriptor that is closing (C{loseConnection},
C{loseWriteConnection}) is handed to the reactor: its last write ends the
connection, which is the reactor's to do; an aborted one is left alone. All the bytes stay in
Twisted's own buffer, in the order they were written, whoever wrote them
(a response, a C{100 Continue}, a C{408}), so nothing can overtake anything.
Writes made in one turn still leave in one system call per descriptor.

Adopting sets the descriptor's C{startWriting} on the instance (as Twisted's
own C{abortConnection} sets C{doRead} and C{doWrite}): Twisted makes the
descriptors (C{tcp.Server} for an accepted connection, C{ProcessWriter} for
a child's stdin), so a subclass is not ours to choose. The replacement holds
the descriptor weakly, so a closed connection is freed at once, and one
descriptor's failure in a flush does not keep the others from being sent.

A child's stdin (Twisted's C{ProcessWriter}) is also kept watched for
readability while a line is written to it (how it learns that the child
closed its end), instead of being unwatched and watched again around every
write: two C{epoll_ctl} calls fewer per call.

Measured and left: sending a line to an idle child at once, not
at the end of the turn, took 4 µs off C=1 latency but added 7 µs of CPU per
call at C=16, where lines that would have gone together went one by one.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from twisted.internet.abstract import FileDescriptor
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.process import ProcessWriter
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.runtime import logs


class TurnFlusher:
    """Sends, at the end of each reactor turn, what that turn wrote to the
    descriptors it adopted: the gateway's
    L{mcpgateway.runtime.turnwrites.Flusher}."""

    log = Logger(observer=logs.observer)

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._atTurnEnd: Callable[[Callable[[], object]], None] | None = getattr(
            clock, "callAtTurnEnd", None
        )
        """The gateway's reactor (L{mcpgateway.tuned.reactor}) calls a function at
        the end of the turn without a C{DelayedCall}; another clock is asked
        for a C{callLater(0)}."""
        self._pending: dict[FileDescriptor, None] = {}
        self._scheduled = False
        self._call: IDelayedCall | None = None

    def adopt(self, descriptor: FileDescriptor) -> None:
        """From now on, what is written to C{descriptor} leaves at the end of
        the turn it was written in, and the reactor watches it for
        writability only when the kernel does not take it all."""
        # Through a weak reference: the descriptor holding itself would make
        # every closed connection wait for the cyclic collector.
        ref = weakref.ref(descriptor)
        wrote = self.wrote

        def startWriting() -> None:
            written = ref()
            if written is not None:
                wrote(written)

        descriptor.startWriting = startWriting  # type: ignore[method-assign]
        if isinstance(descriptor, ProcessWriter) and descriptor.enableReadHack:
            # Twisted's ProcessWriter stops watching a child's stdin for
            # readability on every write and watches it again once the pipe
            # is empty: two epoll_ctl calls per line. That was for
            # Linux before 2.6.11, where a non-empty pipe's write end polled
            # readable; since then only the reader's close makes it so
            # (POLLERR, which stays the ProcessWriter's connection lost), so
            # the watch stays as it is while the line is written.
            def write(data: bytes) -> None:
                written = ref()
                if written is not None:
                    FileDescriptor.write(written, data)

            descriptor.write = write  # type: ignore[method-assign]

    def wrote(self, descriptor: FileDescriptor) -> None:
        """C{descriptor} was written to in this turn: send it at its end."""
        pending = self._pending
        if descriptor in pending:
            return
        if descriptor.offset < len(descriptor.dataBuffer):
            # A send fell short before (only doWrite fills dataBuffer): the
            # reactor watches it for writability, and sends this after.
            return
        pending[descriptor] = None
        if not self._scheduled:
            self._scheduled = True
            atTurnEnd = self._atTurnEnd
            if atTurnEnd is not None:
                atTurnEnd(self._turnEnded)
            else:
                self._call = self._clock.callLater(0, self._turnEnded)

    def sendIfFinal(self, descriptor: FileDescriptor) -> None:
        """L{sendNow}, when the reactor says this is its turn's last ready
        descriptor (the gateway's reactor's C{finalEvent}): nothing else read
        in this turn could join C{descriptor}'s bytes, so they leave now, and
        the rest of the turn's work overlaps with the peer's (one request in
        flight: the child starts on it before the gateway is done with it).
        Otherwise they wait for the turn's end, with the others."""
        if getattr(self._clock, "finalEvent", False):
            self.sendNow(descriptor)

    def sendNow(self, descriptor: FileDescriptor) -> None:
        """Send what C{descriptor} was given in this turn now, not at the
        turn's end (a response is complete: its client need not wait for the
        rest of the turn); if the kernel does not take it all, or the send
        fails, the end of the turn deals with it as with any other."""
        if descriptor not in self._pending:
            return  # nothing written in this turn, or sent already
        if (
            not descriptor.connected
            or descriptor.disconnecting
            or descriptor._writeDisconnecting
            or getattr(descriptor, "_aborting", False)
        ):
            return
        try:
            why = descriptor.doWrite()
        except Exception:
            self.log.failure("sending what a turn wrote failed; the end of the turn tries again")
            return  # the flush sends again, and closes it if that fails too
        if why:
            return  # the flush gets the same error, and closes the connection
        del self._pending[descriptor]
        if _holds(descriptor):
            FileDescriptor.startWriting(descriptor)  # the kernel took part: writability

    def _turnEnded(self) -> None:
        self._scheduled = False
        self._call = None
        self.flush()

    def flush(self) -> None:
        """Send what every noted descriptor holds, as far as the kernel takes
        it; hand the rest to the reactor. One descriptor failing (its
        connectionLost raising) does not keep the others from being sent."""
        pending, self._pending = self._pending, {}
        for descriptor in pending:
            try:
                self._send(descriptor)
            except Exception:
                self.log.failure(
                    "closing a connection whose send failed raised; going on with the others"
                )

    def _send(self, descriptor: FileDescriptor) -> None:
        if not descriptor.connected or getattr(descriptor, "_aborting", False):
            return  # closed, or aborted: Twisted drops what it holds
        if descriptor.disconnecting or descriptor._writeDisconnecting:
            # Its last write ends the connection, which is the reactor's to
            # do (doWrite's result tells it to).
            FileDescriptor.startWriting(descriptor)
            return
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
        elif _holds(descriptor):
            FileDescriptor.startWriting(descriptor)  # the kernel took part: writability


def _holds(descriptor: FileDescriptor) -> bool:
    """Whether C{descriptor} has bytes the kernel has not taken yet."""
    return descriptor.offset < len(descriptor.dataBuffer) or bool(descriptor._tempDataLen)

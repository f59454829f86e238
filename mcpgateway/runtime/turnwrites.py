# -*- test-case-name: tests.runtime.test_turnwrites -*-
"""How what a reactor turn writes to a descriptor leaves: the interface the
children's stdin (L{mcpgateway.core.child}) and the HTTP connections are
written through, and its plain behaviour.

A L{Flusher} adopts a descriptor (a client's socket, a child's stdin) and
may send what a turn wrote to it before the reactor waits again. Who
writes does not know which one it has: L{Unflushed} leaves every descriptor
as Twisted made it (its bytes leave on its next writability), and the
gateway's own turn flusher (L{mcpgateway.tuned.turnflush.TurnFlusher}, the
default of C{--twisted=tuned}) sends them at the end of the turn. Start-up
picks one and hands it to the spawner and the site, which share it.
"""

from __future__ import annotations

from typing import Protocol

from twisted.internet.abstract import FileDescriptor


class Flusher(Protocol):
    """Sends what a reactor turn wrote to the descriptors it adopted."""

    def adopt(self, descriptor: FileDescriptor) -> None:
        """From now on, what is written to C{descriptor} is this flusher's
        to send."""
        ...

    def sendIfFinal(self, descriptor: FileDescriptor) -> None:
        """Send what C{descriptor} was given in this turn now, if nothing
        else read in this turn could join it (the turn's last ready
        descriptor); otherwise at the turn's end."""
        ...

    def sendNow(self, descriptor: FileDescriptor) -> None:
        """Send what C{descriptor} was given in this turn now, not at the
        turn's end (a complete response)."""
        ...


class Unflushed:
    """A L{Flusher} that adopts nothing: what a turn writes leaves as
    Twisted sends it, on the descriptor's next writability
    (C{--twisted=stock}, and a spawner nobody handed another)."""

    def adopt(self, descriptor: FileDescriptor) -> None:
        """Leave C{descriptor} as Twisted made it."""

    def sendIfFinal(self, descriptor: FileDescriptor) -> None:
        """Nothing: no descriptor is adopted."""

    def sendNow(self, descriptor: FileDescriptor) -> None:
        """Nothing: no descriptor is adopted."""


def writerOf(transport: object) -> FileDescriptor | None:
    """The descriptor a L{Flusher} can adopt for C{transport}: the
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

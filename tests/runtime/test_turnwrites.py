"""The interface a turn's writes leave through, and its plain behaviour:
L{Unflushed} leaves a descriptor as Twisted made it, and L{writerOf} finds
the descriptor a flusher adopts for a transport."""

from __future__ import annotations

from typing import Any

from twisted.internet.abstract import FileDescriptor
from twisted.internet.testing import MemoryReactorClock, StringTransport

from mcpgateway.runtime.turnwrites import Flusher, Unflushed, writerOf


class Process:
    """A child's process transport: its stdin is C{stdin} (C{pipes[0]}), as
    Twisted's is a C{ProcessWriter}."""

    def __init__(self, stdin: FileDescriptor) -> None:
        self.pipes = {0: stdin}


def test_writer_of() -> None:
    fd = FileDescriptor(MemoryReactorClock())

    assert writerOf(fd) is fd
    assert writerOf(Process(fd)) is fd
    assert writerOf(StringTransport()) is None
    assert writerOf(object()) is None
    assert writerOf(Process(StringTransport())) is None  # type: ignore[arg-type]


def test_an_unflushed_flusher_leaves_the_descriptors_alone() -> None:
    """Stock children's stdin and connections: nothing adopted, so Twisted's
    own writes."""

    class Descriptor:
        def startWriting(self) -> None:
            pass

    flusher: Flusher = Unflushed()
    descriptor: Any = Descriptor()
    own = descriptor.startWriting
    flusher.adopt(descriptor)
    assert "startWriting" not in vars(descriptor) and descriptor.startWriting == own
    flusher.sendNow(descriptor)
    flusher.sendIfFinal(descriptor)
    assert vars(descriptor) == {}

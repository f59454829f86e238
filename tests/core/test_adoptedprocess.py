"""A process served through pipes this gateway did not create: its data,
its writes, and its end (no socket, no real reactor: pipes and a
C{MemoryReactor})."""

from __future__ import annotations

import os
from typing import Any

import pytest
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.testing import MemoryReactor
from twisted.python.failure import Failure

from mcpgateway.core.adoptedprocess import STDERR, STDOUT, AdoptedExit, AdoptedProcess


class Recording(ProcessProtocol):
    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.err: list[bytes] = []
        self.lost: list[int] = []
        self.ended: list[Failure] = []

    def outReceived(self, data: bytes) -> None:
        self.out.append(data)

    def errReceived(self, data: bytes) -> None:
        self.err.append(data)

    def childConnectionLost(self, childFD: int) -> None:
        self.lost.append(childFD)

    def processEnded(self, reason: Failure) -> None:
        self.ended.append(reason)


def pipes() -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(what the process holds: its stdin to read, stdout and stderr to
    write; what is adopted: stdin to write, stdout and stderr to read)."""
    stdin, stdout, stderr = os.pipe(), os.pipe(), os.pipe()
    return (stdin[0], stdout[1], stderr[1]), (stdin[1], stdout[0], stderr[0])


def adopt(pending: bytes = b"") -> tuple[AdoptedProcess, Recording, tuple[int, int, int], Any]:
    theirs, ours = pipes()
    reactor = MemoryReactor()
    protocol = Recording()
    process = AdoptedProcess(reactor, protocol, 4242, ours, None, pending)
    return process, protocol, theirs, reactor


def test_what_was_read_before_comes_first_then_the_pipes() -> None:
    process, protocol, theirs, reactor = adopt(b'{"partial')
    os.write(theirs[1], b'":1}\n')
    os.write(theirs[2], b"warning\n")
    process.pipes[STDOUT].doRead()
    process.pipes[STDERR].doRead()
    assert b"".join(protocol.out) == b'{"partial":1}\n'
    assert protocol.err == [b"warning\n"]
    assert process.pipes[STDOUT] in reactor.readers
    for fd in theirs:
        os.close(fd)


def test_writes_reach_the_process_stdin() -> None:
    process, _, theirs, _ = adopt()
    process.write(b'{"id":1}\n')
    process.pipes[0].doWrite()
    assert os.read(theirs[0], 100) == b'{"id":1}\n'
    for fd in theirs:
        os.close(fd)


def test_without_a_pidfd_the_end_of_its_output_is_its_end() -> None:
    process, protocol, theirs, _ = adopt()
    for fd in theirs:
        os.close(fd)
    for name in (STDOUT, STDERR):
        reader = process.pipes[name]
        why = reader.doRead()
        assert why is not None
        reader.connectionLost(Failure(why))
    assert protocol.lost[:2] == [STDOUT, STDERR]
    [reason] = protocol.ended
    assert reason.check(AdoptedExit) and process.pid is None
    assert process.pipes == {}


def test_a_pidfd_end_waits_for_its_output() -> None:
    theirs, ours = pipes()
    reader, writer = os.pipe()  # stands for a pidfd: readable once "exited"
    protocol = Recording()
    process = AdoptedProcess(MemoryReactor(), protocol, 4242, ours, reader, b"")
    os.write(writer, b"x")
    process._processExited()
    assert protocol.ended == []  # its stdout is still open
    for fd in theirs:
        os.close(fd)
    for name in (STDOUT, STDERR):
        pipe = process.pipes[name]
        pipe.connectionLost(Failure(pipe.doRead()))
    assert len(protocol.ended) == 1
    os.close(writer)


def test_a_process_is_taken_by_its_pid_and_start_time() -> None:
    from mcpgateway.core.adoptedprocess import openChild

    me = os.getpid()
    with pytest.raises(ProcessLookupError):
        openChild(me, 0)  # a start time not known: never taken
    with pytest.raises(ProcessLookupError):
        openChild(me, 5, startTimeOf=lambda pid: 6)  # its pid is another process's now
    pidfd = openChild(me, 5, startTimeOf=lambda pid: 5)
    if pidfd is not None:
        os.close(pidfd)


def test_without_a_pidfd_a_process_whose_pid_was_reused_is_never_signalled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from twisted.internet.error import ProcessExitedAlready

    from mcpgateway.runtime import procfs

    theirs, ours = pipes()
    process = AdoptedProcess(MemoryReactor(), Recording(), 4242, ours, None, b"", startTime=77)
    sent: list[int] = []
    monkeypatch.setattr(os, "kill", lambda pid, signum: sent.append(pid))
    monkeypatch.setattr(procfs, "startTime", lambda pid: 78)
    assert not process.running()
    with pytest.raises(ProcessExitedAlready):
        process.signalProcess("TERM")
    monkeypatch.setattr(procfs, "startTime", lambda pid: 77)
    assert process.running()
    process.signalProcess("TERM")
    assert sent == [4242]
    for fd in (*theirs, *ours):
        os.close(fd)


def test_a_pidfd_says_when_its_process_has_exited() -> None:
    from mcpgateway.core.adoptedprocess import pidfdExited

    reader, writer = os.pipe()  # stands for a pidfd: readable once "exited"
    assert not pidfdExited(reader)
    os.write(writer, b"x")
    assert pidfdExited(reader)
    os.close(reader)
    os.close(writer)

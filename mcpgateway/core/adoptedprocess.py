# -*- test-case-name: tests.core.test_adoptedprocess -*-
"""A process this gateway did not start, served through its pipes:
L{AdoptedProcess}.

A child a restart passed over (L{mcpgateway.core.handedchild}) is not this
process's child: C{reactor.spawnProcess} has no way to adopt a running pid,
and C{waitpid} works only for one's own children. So its three pipes are
wrapped in Twisted's own pipe reader and writer (C{ProcessReader},
C{ProcessWriter}, the very ones C{spawnProcess} uses), and its exit is
watched through a I{pidfd} (C{os.pidfd_open}, Linux 5.3 and later), which
turns readable when the process has exited, whoever reaps it (its old
parent, or C{init} once that one is gone). The L{ChildProtocol
<mcpgateway.core.child.ChildProtocol>} it serves sees the same calls as
with a spawned child: its pipes' data and ends, then C{processEnded} once
the process has exited and its output pipes are closed. Only how it
exited is unknown (its status is for its parent to read): it ends with
L{AdoptedExit}.

Without a pidfd (an older kernel), the end of its stdout and stderr is
its end. A pid names the process only as long as it runs: once it has
exited and been reaped, the kernel may give its pid to another. So a
process is taken by its pid I{and} the start time read when it was spawned
(L{openChild}), and signalled through its pidfd, or, without one, only
while a process of that pid and start time runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet import process
from twisted.internet.abstract import FileDescriptor
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import IProcessProtocol, IProcessTransport, IReactorFDSet
from twisted.python.failure import Failure
from zope.interface import implementer

from mcpgateway.runtime import procfs, twistedprivate

if TYPE_CHECKING:
    from mcpgateway.runtime.twistedprivate import ProcessAddress

STDIN, STDOUT, STDERR = 0, 1, 2


class AdoptedExit(Exception):
    """An adopted process has exited; how is its former parent's to know."""

    def __str__(self) -> str:
        return "exited (its exit status went to the process that started it)"


def openChild(
    pid: int, startTime: int, startTimeOf: Callable[[int], int | None] = procfs.startTime
) -> int | None:
    """A pidfd of process C{pid} that started at C{startTime} (field 22 of
    its C{stat}), or C{None} where there is none (the process is then
    checked by its start time alone): the pidfd is opened first and the
    start time read after, so a pidfd given names that very process.

    @raise ProcessLookupError: no such process: it is gone, its pid is
        another process's now, or C{startTime} is not known (C{0})."""
    if startTime <= 0:
        raise ProcessLookupError(pid)
    pidfd = openPidfd(pid)
    if startTimeOf(pid) != startTime:
        if pidfd is not None:
            os.close(pidfd)
        raise ProcessLookupError(pid)
    return pidfd


def pidfdExited(pidfd: int) -> bool:
    """Whether the process of C{pidfd} has exited (its pidfd is readable)."""
    import select

    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(0))


def openPidfd(pid: int) -> int | None:
    """A pidfd of C{pid}, or C{None} where there is none (not Linux 5.3+).

    @raise ProcessLookupError: no such process."""
    opener: Callable[[int], int] | None = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return opener(pid)
    except ProcessLookupError:
        raise
    except OSError:
        return None


class _ExitWatch(FileDescriptor):
    """Readable once its process has exited."""

    def __init__(self, reactor: IReactorFDSet, fd: int, exited: Callable[[], None]) -> None:
        super().__init__(reactor)
        self.fd = fd
        self._exited = exited

    def fileno(self) -> int:
        return self.fd

    def doRead(self) -> None:
        self.stopReading()
        self._exited()

    def close(self) -> None:
        self.stopReading()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


@implementer(IProcessTransport)
class AdoptedProcess:
    """The transport of a running process whose pipes this process holds.

    @ivar pipes: its pipe reader and writers, by descriptor number (as a
        spawned process's: a turn flusher adopts C{pipes[0]}).
    """

    def __init__(
        self,
        reactor: Any,
        protocol: IProcessProtocol,
        pid: int,
        fds: tuple[int, int, int],
        pidfd: int | None,
        pending: bytes = b"",
        startTime: int = 0,
    ) -> None:
        """
        @param fds: its stdin (to write), stdout and stderr (to read).
        @param pidfd: a pidfd of C{pid} (L{openChild}); this object closes it.
        @param pending: the start of a stdout line read before it came here.
        @param startTime: when it started (L{openChild}): without a pidfd,
            what tells it from a process its pid was given to since.
        """
        self.pid: int | None = pid
        self._startTime = startTime
        self.proto = protocol
        self._reactor = reactor
        self.pipes: dict[int, FileDescriptor] = {}
        self._exited = False
        self._ended = False
        self._watch: _ExitWatch | None = None
        self._pidfd = pidfd
        self.pipes[STDIN] = process.ProcessWriter(reactor, self, STDIN, fds[0])
        protocol.makeConnection(self)
        if pending:
            protocol.childDataReceived(STDOUT, pending)
        self.pipes[STDOUT] = process.ProcessReader(reactor, self, STDOUT, fds[1])
        self.pipes[STDERR] = process.ProcessReader(reactor, self, STDERR, fds[2])
        if pidfd is None:
            self._exited = True  # its output's end is its end
        else:
            self._watch = _ExitWatch(reactor, pidfd, self._processExited)
            self._watch.startReading()

    # -- what the pipes and the pidfd tell ------------------------------------

    def childDataReceived(self, name: int, data: bytes) -> None:
        self.proto.childDataReceived(name, data)

    def childConnectionLost(self, name: int, reason: Failure) -> None:
        pipe = self.pipes.pop(name, None)
        if pipe is not None:
            _closeDescriptor(pipe)
        self.proto.childConnectionLost(name)
        self._maybeEnded()

    def _processExited(self) -> None:
        self._exited = True
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        writer = self.pipes.get(STDIN)
        if writer is not None:
            writer.loseConnection()  # nobody reads it any more
        self._maybeEnded()

    def _maybeEnded(self) -> None:
        if self._ended or not self._exited or STDOUT in self.pipes or STDERR in self.pipes:
            return
        self._ended = True
        writer = self.pipes.pop(STDIN, None)
        if writer is not None:
            writer.stopReading()
            writer.stopWriting()
            _closeDescriptor(writer)
        self.pid = None
        self.proto.processEnded(Failure(AdoptedExit()))

    # -- IProcessTransport ----------------------------------------------------

    def write(self, data: bytes) -> None:
        writer = self.pipes.get(STDIN)
        if writer is not None:
            writer.write(data)

    def writeSequence(self, data: Any) -> None:
        self.write(b"".join(data))

    def writeToChild(self, childFD: int, data: bytes) -> None:
        if childFD != STDIN:
            raise KeyError(childFD)
        self.write(data)

    def closeChildFD(self, childFD: int) -> None:
        pipe = self.pipes.get(childFD)
        if pipe is not None:
            pipe.loseConnection()

    def closeStdin(self) -> None:
        self.closeChildFD(STDIN)

    def closeStdout(self) -> None:
        self.closeChildFD(STDOUT)

    def closeStderr(self) -> None:
        self.closeChildFD(STDERR)

    def loseConnection(self) -> None:
        for name in (STDIN, STDOUT, STDERR):
            self.closeChildFD(name)

    def running(self) -> bool:
        """Whether the process still runs, as itself: its pidfd not yet
        readable, or (without one) a process with its pid and start time."""
        if self.pid is None:
            return False
        if self._pidfd is not None:
            return self._watch is not None and not pidfdExited(self._pidfd)
        return self._startTime > 0 and procfs.startTime(self.pid) == self._startTime

    def signalProcess(self, signalID: str | int) -> None:
        """Signal the process through its pidfd (its pid cannot have been
        given to another process meanwhile), else by pid once its start
        time says it is still the same process."""
        if not self.running():
            raise ProcessExitedAlready()
        assert self.pid is not None
        number = getattr(signal, f"SIG{signalID}") if isinstance(signalID, str) else signalID
        send = getattr(signal, "pidfd_send_signal", None)
        if self._pidfd is not None and self._watch is not None and send is not None:
            send(self._pidfd, number)
        else:
            os.kill(self.pid, number)

    def getPeer(self) -> ProcessAddress:
        """What Twisted's own process transports answer: a process has no address."""
        return twistedprivate.ProcessAddress()

    def getHost(self) -> ProcessAddress:
        """As L{getPeer}."""
        return twistedprivate.ProcessAddress()


def _closeDescriptor(pipe: FileDescriptor) -> None:
    """Close the descriptor of a pipe end that has stopped (Twisted's
    C{FileDescriptor.connectionLost} only forgets it: C{Process} closes them)."""
    fd = getattr(pipe, "fd", -1)
    if isinstance(fd, int) and fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)
        pipe.fd = -1  # type: ignore[attr-defined]

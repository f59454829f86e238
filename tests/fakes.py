"""Test doubles shared by the unit tests: a fake child process, a reactor that
"spawns" it, the spawner that uses that reactor, a fake client session and a
recording sink; thread runners that run their jobs when the test says, or
at once.

None of them touches the operating system: no processes, no sockets, no real
reactor. Time is a L{twisted.internet.testing.MemoryReactorClock} (or a
L{twisted.internet.task.Clock}) the test advances itself.

Typical use::

    reactor = FakeProcessReactor()
    proto = ChildProtocol("srv", received.append, reactor, killGroup=None)
    proc = reactor.spawnProcess(proto, "/bin/srv", ["/bin/srv"], env={})
    proc.stdout(b'{"jsonrpc":"2.0","id":1,"result":{}}\\n')   # child -> gateway
    proc.sentMessages()                                         # gateway -> child
    proc.exit(1)                                                # the child dies

or, without a reactor::

    proc = FakeProcess(proto).connect()
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import (
    IConnector,
    IDelayedCall,
    IListeningPort,
    IProcessProtocol,
    IProcessTransport,
    IReactorProcess,
    IReactorTime,
)
from twisted.internet.protocol import ConnectedDatagramProtocol, DatagramProtocol
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogEvent, LogLevel, capturedLogs
from twisted.python.failure import Failure
from zope.interface import implementer

from mcpgateway.core.spawn import ChildWatcher, Spawner
from mcpgateway.runtime import logs
from mcpgateway.runtime.reactortype import IReactor

Message = dict[str, Any]

SIGNAL_NUMBERS = {"HUP": 1, "INT": 2, "KILL": 9, "TERM": 15}


@implementer(IProcessTransport)
class FakeProcess:
    """The transport of one pretend child process.

    What the gateway does to the process is recorded:

      - C{written}: every C{bytes} written to the child's stdin, in order;
      - C{stdinClosed}: whether C{closeStdin()} was called (C{closeStdinCalls}
        counts the calls);
      - C{signals}: the signal names passed to C{signalProcess}, in order;
      - C{ended}: whether the process has ended (see L{exit}).

    By default C{signalProcess("KILL")} ends the process at once (as
    C{ProcessTerminated(signal=9)}); set C{killEnds=False} to model a process
    that survives it, C{termEnds=True} to model one that obeys SIGTERM.
    Signalling an ended process raises C{ProcessExitedAlready}, like Twisted.

    @ivar pid: the pid while the process runs, C{None} once it has ended
        (as Twisted's own process transport does); C{originalPid} keeps it.
    """

    def __init__(
        self,
        proto: IProcessProtocol,
        pid: int = 4242,
        executable: str | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        path: str | None = None,
        killEnds: bool = True,
        termEnds: bool = False,
    ) -> None:
        self.proto = proto
        self.pid: int | None = pid
        self.originalPid = pid
        self.executable = executable
        self.args = list(args)
        self.env = None if env is None else dict(env)
        self.path = path
        self.killEnds = killEnds
        self.termEnds = termEnds
        self.written: list[bytes] = []
        self.signals: list[str] = []
        self.stdinClosed = False
        self.closeStdinCalls = 0
        self.ended = False
        self.exitReason: Failure | None = None

    def connect(self) -> FakeProcess:
        """Connect the protocol to this transport (C{makeConnection}); returns self."""
        self.proto.makeConnection(self)
        return self

    # -- IProcessTransport / ITransport ---------------------------------------

    def write(self, data: bytes) -> None:
        assert isinstance(data, bytes), f"wrote {type(data).__name__}, not bytes"
        self.written.append(data)

    def writeSequence(self, seq: Iterable[bytes]) -> None:
        for data in seq:
            self.write(data)

    def writeToChild(self, childFD: int, data: bytes) -> None:
        assert childFD == 0, "only stdin is writable in this fake"
        self.write(data)

    def closeStdin(self) -> None:
        self.stdinClosed = True
        self.closeStdinCalls += 1

    def closeStdout(self) -> None:
        pass

    def closeStderr(self) -> None:
        pass

    def closeChildFD(self, descriptor: int) -> None:
        if descriptor == 0:
            self.closeStdin()

    def loseConnection(self) -> None:
        self.closeStdin()

    def getPeer(self) -> IPv4Address:
        return IPv4Address("TCP", "127.0.0.1", 0)

    def getHost(self) -> IPv4Address:
        return IPv4Address("TCP", "127.0.0.1", 0)

    def signalProcess(self, signalID: str | int) -> None:
        if self.ended:
            raise ProcessExitedAlready()
        self.signals.append(signalID)  # type: ignore[arg-type]
        if (signalID == "KILL" and self.killEnds) or (signalID == "TERM" and self.termEnds):
            self.exit(signal=SIGNAL_NUMBERS[signalID])

    # -- test helpers ---------------------------------------------------------

    def stdout(self, data: bytes) -> None:
        """The child writes C{data} to its stdout."""
        self.proto.childDataReceived(1, data)

    def stderr(self, data: bytes) -> None:
        """The child writes C{data} to its stderr."""
        self.proto.childDataReceived(2, data)

    def reply(self, message: Message) -> None:
        """The child writes one JSON message (compact, newline-terminated) to stdout."""
        self.stdout(json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n")

    def exit(self, code: int | None = 0, signal: int | None = None) -> None:
        """The process ends: with exit C{code}, or killed by C{signal}.

        Code 0 without a signal is C{ProcessDone}; anything else is
        C{ProcessTerminated}.
        """
        if self.ended:
            raise RuntimeError("FakeProcess.exit() called on a process that already ended")
        self.ended = True
        self.pid = None
        if signal is None and code == 0:
            reason = Failure(ProcessDone(0))
        else:
            reason = Failure(ProcessTerminated(exitCode=None if signal else code, signal=signal))
        self.exitReason = reason
        self.proto.processEnded(reason)

    def sentLines(self) -> list[bytes]:
        """What was written to stdin, split into lines.

        Fails if the data does not end with a newline (a message left unterminated).
        """
        data = b"".join(self.written)
        if not data:
            return []
        assert data.endswith(b"\n"), f"stdin data does not end with a newline: {data[-80:]!r}"
        return data[:-1].split(b"\n")

    def sentMessages(self) -> list[Any]:
        """Every JSON line written to stdin, decoded, in order."""
        return [json.loads(line) for line in self.sentLines()]

    def takeMessages(self) -> list[Any]:
        """Like L{sentMessages}, then forget them (so the next call sees only new ones)."""
        messages = self.sentMessages()
        self.written.clear()
        return messages


@implementer(IReactor)
class FakeProcessReactor(MemoryReactorClock):
    """A memory reactor and clock that also "spawns" L{FakeProcess}es.

    C{spawned} records C{(executable, args, env, path)} of each spawn;
    C{processes} holds the transports, in order. Pids count up from
    C{firstPid}. Set C{spawnError} to an exception to make the next spawns
    raise it (as a failing C{fork}/C{exec} setup would, e.g. C{OSError}).
    New processes get C{killEnds}/C{termEnds} from the reactor's attributes.
    """

    def __init__(self, firstPid: int = 1000) -> None:
        super().__init__()
        self.spawned: list[tuple[str, list[str], dict[str, str] | None, str | None]] = []
        self.processes: list[FakeProcess] = []
        self.spawnError: Exception | None = None
        self.killEnds = True
        self.termEnds = False
        self._nextPid = firstPid

    def spawnProcess(  # type: ignore[override]
        self,
        processProtocol: IProcessProtocol,
        executable: str,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        path: str | None = None,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: bool = False,
        childFDs: Mapping[int, object] | None = None,
    ) -> FakeProcess:
        self.spawning(childFDs)
        if self.spawnError is not None:
            raise self.spawnError
        self.spawned.append((executable, list(args), None if env is None else dict(env), path))
        proc = FakeProcess(
            processProtocol,
            pid=self._nextPid,
            executable=executable,
            args=args,
            env=env,
            path=path,
            killEnds=self.killEnds,
            termEnds=self.termEnds,
        )
        self._nextPid += 1
        self.processes.append(proc)
        proc.connect()
        return proc

    def spawning(self, childFDs: Mapping[int, object] | None) -> None:
        """What each spawn does first, before it can fail: nothing here. A
        subclass looks at the descriptors the child is given (C{childFDs},
        as the caller passed them) by overriding this, not spawnProcess."""

    @property
    def lastProcess(self) -> FakeProcess:
        """The most recently spawned process."""
        assert self.processes, "nothing was spawned"
        return self.processes[-1]

    def callInThread(self, callable: Callable[..., Any], *args: object, **kw: object) -> None:
        """Run C{callable} at once, on the calling thread."""
        callable(*args, **kw)

    def callFromThread(self, callable: Callable[..., Any], *args: object, **kw: object) -> None:
        """Run C{callable} at once (the test is the reactor's thread)."""
        callable(*args, **kw)

    def getThreadPool(self) -> InlineThreadPool:  # type: ignore[override]  # stands in for a ThreadPool
        """A pool whose jobs run at once; results come back through
        L{callFromThread}, so at once too."""
        return InlineThreadPool()

    def suggestThreadPoolSize(self, size: int) -> None:
        """Nothing to size: the pool runs its jobs inline."""

    def listenUDP(
        self, port: int, protocol: DatagramProtocol, interface: str = "", maxPacketSize: int = 8192
    ) -> IListeningPort:
        """No datagram sockets here: a test of them brings its own reactor."""
        raise NotImplementedError("FakeProcessReactor has no UDP sockets")

    def listenUNIXDatagram(
        self, address: str, protocol: DatagramProtocol, maxPacketSize: int = 8192, mode: int = 0o666
    ) -> IListeningPort:
        """No datagram sockets here: a test of them brings its own reactor."""
        raise NotImplementedError("FakeProcessReactor has no UNIX datagram sockets")

    def connectUNIXDatagram(
        self,
        address: str,
        protocol: ConnectedDatagramProtocol,
        maxPacketSize: int = 8192,
        mode: int = 0o666,
        bindAddress: tuple[str, int] | None = None,
    ) -> IConnector:
        """No datagram sockets here: a test of them brings its own reactor."""
        raise NotImplementedError("FakeProcessReactor has no UNIX datagram sockets")


def fakeSpawner(
    reactor: IReactorProcess,
    clock: IReactorTime | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    setsid: str | None = None,
    watcher: ChildWatcher | None = None,
    **fields: Any,
) -> Spawner:
    """The L{Spawner} of a unit test: children "spawned" on C{reactor} (a
    L{FakeProcessReactor}), time from C{clock} (the reactor itself unless
    given), an empty environment, no process group unless C{setsid} is given."""
    return Spawner(
        reactor=reactor,
        clock=clock if clock is not None else reactor,  # type: ignore[arg-type]
        environ=environ if environ is not None else {},
        setsid=setsid,
        watcher=watcher,
        **fields,
    )


class FakeSession:
    """A client session as L{mcpgateway.core.router.Client} (and the parts of
    L{mcpgateway.core.sessions.Session} the pool reads: C{protocolVersion}).

    C{deliver()} stands for the session's GET stream: accepted messages go to
    C{delivered}, and it returns C{True}; with C{accept=False} (no open
    stream) they go to C{refused} and it returns C{False}.
    """

    era2026 = False
    called = False

    def __init__(
        self,
        id: str = "session-1",
        capabilities: dict[str, Any] | None = None,
        protocolVersion: str = "2025-11-25",
        logLevel: str | None = None,
        accept: bool = True,
    ) -> None:
        self.id = id
        self.shortId = id[:8]
        self.capabilities: dict[str, Any] = {} if capabilities is None else capabilities
        self.protocolVersion = protocolVersion
        self.clientInfo: dict[str, Any] = {"name": "fake-client", "version": "0"}
        self.logLevel = logLevel
        self.subscriptions: set[str] = set()
        self.accept = accept
        self.delivered: list[Message] = []
        self.refused: list[Message] = []

    def deliver(self, message: Message) -> bool:
        if self.accept:
            self.delivered.append(message)
        else:
            self.refused.append(message)
        return self.accept

    def __repr__(self) -> str:
        return f"<FakeSession {self.id}>"


class RecordingSink:
    """A C{router.Sink} (the stream of one POST): records what it is given in
    C{messages}; returns C{accept} (C{False} models a closed stream, and then
    nothing is recorded in C{messages} but in C{refused})."""

    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.messages: list[Message] = []
        self.refused: list[Message] = []

    def __call__(self, message: Message) -> bool:
        (self.messages if self.accept else self.refused).append(message)
        return self.accept


@contextmanager
def capturedGatewayLogs() -> Iterator[list[LogEvent]]:
    """Like C{twisted.logger.capturedLogs}, with the gateway's own level
    filter (L{mcpgateway.runtime.logs}) opened to debug for the duration, so a test
    sees every event whatever level another test left behind. Assert on
    C{event["log_format"]} and the event's fields, not on rendered text."""
    predicate = logs._predicate
    previous = predicate.logLevelForNamespace("")
    predicate.setLogLevelForNamespace("", LogLevel.debug)
    try:
        with capturedLogs() as events:
            yield events  # type: ignore[misc]
    finally:
        predicate.setLogLevelForNamespace("", previous)


def scheduled(clock: IReactorTime) -> list[IDelayedCall]:
    """C{clock}'s delayed calls that still have work to do. The timer of a
    L{mcpgateway.runtime.timers.Deadlines} with no key left is not one: it is left to
    come and go, doing nothing, so that the next request needs no timer of
    its own."""
    from mcpgateway.runtime.timers import Deadlines

    def idle(call: IDelayedCall) -> bool:
        owner = getattr(getattr(call, "func", None), "__self__", None)
        return isinstance(owner, Deadlines) and len(owner) == 0

    return [call for call in clock.getDelayedCalls() if not idle(call)]


class HandThreads:
    """A L{mcpgateway.runtime.threads.RunInThread} the test drives by hand:
    each job waits in L{jobs} until L{runNext} (or L{runAll}) runs it, on
    the test's thread, and fires its Deferred with its value or its error,
    as the reactor would once a worker thread is done."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[..., Any], tuple[Any, ...], Deferred[Any]]] = []

    def __call__(self, f: Callable[..., Any], *args: Any) -> Deferred[Any]:
        done: Deferred[Any] = Deferred()
        self.jobs.append((f, args, done))
        return done

    def runNext(self) -> None:
        """Run the job handed over first (there must be one)."""
        f, args, done = self.jobs.pop(0)
        try:
            result = f(*args)
        except Exception:
            done.errback(Failure())
        else:
            done.callback(result)

    def runAll(self) -> None:
        """Run the jobs, and the ones they bring, until none is left."""
        while self.jobs:
            self.runNext()


class InlineThreadPool:
    """A reactor's thread pool (C{getThreadPool()}) whose jobs run at once,
    on the calling thread; the result goes back through the reactor's
    C{callFromThread}, as a worker's would."""

    def callInThreadWithCallback(
        self, onResult: Callable[[bool, Any], object], f: Callable[..., Any], *args: Any
    ) -> None:
        try:
            result = f(*args)
        except BaseException:
            onResult(False, Failure())
        else:
            onResult(True, result)


def isProbe(spawn: tuple[str, list[str], dict[str, str] | None, str | None]) -> bool:
    """Whether a L{FakeProcessReactor} spawn is the sandbox's probe
    (C{launch.py --probe}), which a gateway confining every child (the
    default C{--sandbox auto}) starts with its services."""
    return spawn[1][-1:] == ["--probe"]


def isWarden(spawn: tuple[str, list[str], dict[str, str] | None, str | None]) -> bool:
    """Whether a L{FakeProcessReactor} spawn is the gateway's warden
    (L{mcpgateway.ops.wardenrun}), started with the first child."""
    return any(arg.endswith("wardenrun.py") for arg in spawn[1])


def childSpawns(
    reactor: FakeProcessReactor,
) -> list[tuple[str, list[str], dict[str, str] | None, str | None]]:
    """C{reactor}'s spawns but the sandbox's probe (L{isProbe}) and the
    warden (L{isWarden})."""
    return [spawn for spawn in reactor.spawned if not isProbe(spawn) and not isWarden(spawn)]

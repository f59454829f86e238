"""C{mcpgateway restart}'s hand-over, piece by piece: what the
successor inherits (C{MCPGATEWAY_HANDOVER}), the predecessor's side
(SIGUSR2, spawning twistd with descriptors 3/4/5, the link, failures), the
successor's side (C{listening} on the link, C{gone}), and what handing over
means for the instance lock, the child ledger, the listener, C{state.json},
the config service, preflight and the service tree C{makeService} builds.

No reactor runs and no process starts: spawns are recorded by
L{FakeProcessReactor}; the only descriptors are the ones the behaviour is
about (a lock file, a socket pair, a bound but unconnected socket)."""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import os
import signal
import socket
import stat
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ConnectionDone, ReactorNotRunning
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import LogEvent, LogLevel, capturedLogs, formatEvent
from twisted.python.failure import Failure

from mcpgateway import tap
from mcpgateway.config.configservice import ConfigService, ConfigSettings
from mcpgateway.core.spec import ServerSpec
from mcpgateway.ops.handover import (
    EXIT_FD,
    LINK_FD,
    LISTEN_FD,
    LISTENING,
    LOCK_FD,
    PIDFILE_ENV,
    BadHandover,
    Inherited,
    Predecessor,
    Successor,
    ownPidfile,
    socketFamily,
    successorCommand,
    twistdPidfile,
)
from mcpgateway.ops.services import InstanceService, ListenerService
from mcpgateway.ops.signals import IGNORED_ENV, STOP_SIGNALS
from mcpgateway.ops.statedir import (
    LOCK_FILE,
    STATE_FILE,
    AlreadyRunning,
    ChildLedger,
    InstanceLock,
    lockHeld,
)
from mcpgateway.runtime import interpreter, logs
from mcpgateway.runtime.pathrecord import PATH_FROM_ENV
from mcpgateway.runtime.paths import HANDOVER_ENV, LEDGER_FILE, LOG_FILE
from mcpgateway.startup.handoverwiring import RestartOnSignal
from mcpgateway.startup.preflight import PreflightError, preflight
from tests.fakes import (
    FakeProcessReactor,
    InlineThreadPool,
    capturedGatewayLogs,
    childSpawns,
    isProbe,
    isWarden,
)

# -- helpers -------------------------------------------------------------------------


class Reactor(FakeProcessReactor):
    """A L{FakeProcessReactor} that also records the C{childFDs} of each
    spawn, the calls made from a signal handler (C{callFromThread}), and
    keeps a duplicate of each descriptor passed to the child as the link or
    adopted as a connection (the code closes its own right after)."""

    def __init__(self) -> None:
        super().__init__()
        self.childFDs: list[dict[int, Any]] = []
        self.fromThread: list[Any] = []
        self.kept: list[int] = []
        self.childLinks: list[int] = []
        self.childExits: list[int] = []
        self.adoptedLinks: list[int] = []
        self.order: list[str] = []
        self.listenFd: int | None = None

    def spawning(self, childFDs: Mapping[int, object]) -> None:
        self.order.append("spawn")
        fds = dict(childFDs)
        self.childFDs.append(fds)
        link = fds.get(LINK_FD)
        if isinstance(link, int):
            self.childLinks.append(self._keep(link))
        exitLink = fds.get(EXIT_FD)
        if isinstance(exitLink, int):
            self.childExits.append(self._keep(exitLink))

    def adoptStreamConnection(self, fileDescriptor: int, addressFamily: Any, factory: Any) -> None:
        self.adoptedLinks.append(self._keep(fileDescriptor))
        super().adoptStreamConnection(fileDescriptor, addressFamily, factory)

    def listenTCP(self, port: int, factory: Any, backlog: int = 50, interface: str = "") -> Any:
        listening = super().listenTCP(port, factory, backlog, interface)
        if self.listenFd is not None:
            fd = self.listenFd
            listening.fileno = lambda: fd
        return listening

    def callFromThread(self, callable: Any, *args: Any, **kw: Any) -> None:
        self.fromThread.append((callable, args, kw))

    def getThreadPool(self) -> InlineThreadPool:
        """Jobs for the thread pool (the sessions file's writes) run at
        once; their results come back through L{callFromThread}."""
        return InlineThreadPool()

    def runThreadCalls(self) -> None:
        calls, self.fromThread = self.fromThread, []
        for f, args, kw in calls:
            f(*args, **kw)

    def _keep(self, fd: int) -> int:
        copy = os.dup(fd)
        self.kept.append(copy)
        return copy

    def close(self) -> None:
        for fd in self.kept:
            with contextlib.suppress(OSError):
                os.close(fd)


@pytest.fixture
def reactor() -> Iterator[Reactor]:
    r = Reactor()
    yield r
    r.close()


@pytest.fixture
def keepTLS(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing the plugin's options may mark pyOpenSSL unavailable for the
    rest of the process (L{tap.leaveOutTLS}); put it back afterwards."""
    monkeypatch.setitem(sys.modules, "OpenSSL", sys.modules.get("OpenSSL"))


def texts(events: list[LogEvent]) -> list[str]:
    return [formatEvent(e) for e in events]


class Run:
    """A L{Predecessor} on C{reactor} with recording seams."""

    def __init__(
        self,
        reactor: Reactor,
        listenFd: int | None = 97,
        lockFd: int | None = 98,
        environ: Mapping[str, str] | None = None,
        pidfile: str | None = None,
        userPath: str | None = None,
    ) -> None:
        self.reactor = reactor
        self.handOvers: list[Deferred[None]] = []
        self.prepared = 0
        self.predecessor = Predecessor(
            reactor,
            ["/usr/bin/python3", "-c", "run()", "mcpgateway", "--port", "9100"],
            environ if environ is not None else {"HOME": "/home/u", "API": "secret"},
            lambda: listenFd,
            lambda: lockFd,
            self.prepare,
            self.handOver,
            pidfile=lambda: pidfile,
            userPath=lambda: userPath,
        )

    def prepare(self) -> None:
        self.prepared += 1
        self.reactor.order.append("prepare")

    def handOver(self) -> Deferred[None]:
        done: Deferred[None] = Deferred()
        self.handOvers.append(done)
        return done

    def link(self, index: int = -1) -> tuple[Any, StringTransport]:
        """The predecessor's end of the link, connected to a StringTransport."""
        _, family, factory = self.reactor.adoptedStreamConnections[index]
        assert family == socket.AF_UNIX
        protocol = factory.buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        return protocol, transport


# -- MCPGATEWAY_HANDOVER -------------------------------------------------------------

fds = st.integers(min_value=0, max_value=10**10 - 1)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=2**31 - 1), fds, fds, fds)
def test_encode_then_from_environ_is_the_identity(
    pid: int, listen: int, lock: int, link: int
) -> None:
    inherited = Inherited(pid, listen, lock, link)
    assert Inherited.fromEnviron({HANDOVER_ENV: inherited.encode()}) == inherited


def test_the_defaults_are_the_descriptors_the_predecessor_passes() -> None:
    inherited = Inherited.fromEnviron({HANDOVER_ENV: Inherited(4242).encode()})
    assert inherited == Inherited(4242, LISTEN_FD, LOCK_FD, LINK_FD)
    assert (LISTEN_FD, LOCK_FD, LINK_FD) == (3, 4, 5)


def test_no_variable_is_no_hand_over() -> None:
    assert Inherited.fromEnviron({}) is None
    assert Inherited.fromEnviron({"OTHER": "from=1,listen=3,lock=4,link=5"}) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "from=1",
        "from=1,listen=3,lock=4",
        "from=1,listen=3,lock=4,link=5,extra=6",
        "from=1,listen=3,lock=4,listen=5",
        "from=1,from=1,listen=3,lock=4,link=5",
        "from=0,listen=3,lock=4,link=5",
        f"from={2**31},listen=3,lock=4,link=5",
        "from=-1,listen=3,lock=4,link=5",
        "from=1,listen=-3,lock=4,link=5",
        "from=1,listen=3,lock=4,link=",
        "from=1,listen=3,lock=4,link=5,",
        "from=1,listen=3,lock=4,link=12345678901",
        "from=1,listen=3 ,lock=4,link=5",
        "from=1;listen=3;lock=4;link=5",
        "from=1,listen=0x3,lock=4,link=5",
        "from=²,listen=3,lock=4,link=5",  # str.isdigit() says yes, int() says no
        "from=\u0661,listen=3,lock=4,link=5",  # ARABIC-INDIC ONE: not what a predecessor writes
    ],
)
def test_malformed_values_are_refused(text: str) -> None:
    with pytest.raises(BadHandover, match=HANDOVER_ENV):
        Inherited.fromEnviron({HANDOVER_ENV: text})


def _fieldValue() -> st.SearchStrategy[str]:
    numeric = st.characters(categories=["Nd", "Nl", "No"])  # what str.isdigit() may accept
    return st.one_of(
        st.integers(-5, 2**32).map(str),
        st.text(numeric, min_size=1, max_size=3),
        st.text(max_size=12),
    )


@st.composite
def _handoverLike(draw: st.DrawFn) -> str:
    """Text shaped like the variable, with any value in any field."""
    names = draw(
        st.lists(
            st.sampled_from(["from", "listen", "lock", "link", "x", ""]), min_size=0, max_size=6
        )
    )
    return ",".join(f"{name}={draw(_fieldValue())}" for name in names)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), _handoverLike()))
def test_any_text_is_a_hand_over_or_bad_handover(text: str) -> None:
    """Whatever the variable holds, the gateway says so in one line (tap turns
    BadHandover into a usage error); any other exception is a traceback."""
    try:
        inherited = Inherited.fromEnviron({HANDOVER_ENV: text})
    except BadHandover as e:
        assert "\n" not in str(e)
        return
    assert inherited is not None
    assert 0 < inherited.predecessor < 2**31
    assert min(inherited.listenFd, inherited.lockFd, inherited.linkFd) >= 0
    assert Inherited.fromEnviron({HANDOVER_ENV: inherited.encode()}) == inherited


@pytest.mark.parametrize("value", ["garbage", "from=1\nlisten=3,lock=4,link=5"])
def test_tap_refuses_a_malformed_variable_with_a_one_line_usage_error(
    value: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    keepTLS: None,
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(HANDOVER_ENV, value)
    with pytest.raises(SystemExit) as exited:
        tap.Options().parseOptions(["--state-dir", str(tmp_path / "st")])
    assert exited.value.code == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"mcpgateway: {HANDOVER_ENV}=") and "malformed" in lines[0]
    assert "--help" in lines[1]


def test_tap_reads_a_well_formed_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keepTLS: None
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(HANDOVER_ENV, "from=77,listen=3,lock=4,link=5")
    options = tap.Options()
    options.parseOptions(["--state-dir", str(tmp_path / "st")])
    assert options["handover"] == Inherited(77)
    monkeypatch.delenv(HANDOVER_ENV)
    options = tap.Options()
    options.parseOptions(["--state-dir", str(tmp_path / "st")])
    assert options["handover"] is None


# -- the successor's command line ------------------------------------------------------


def test_successor_command_is_twistd_daemonized_without_a_pid_file_and_the_same_args() -> None:
    args = ["--port", "9100", "--config", "/c.json", "--log-file", "/l.log"]
    command = successorCommand(args, executable="/venv/bin/python")
    launch = ["/venv/bin/python", *interpreter.FLAGS, "-m", "mcpgateway.launch"]
    assert command[: len(launch)] == launch
    assert "-OO" in interpreter.FLAGS
    twistdArgs = command[len(launch) : command.index("mcpgateway")]
    assert "--pidfile=" in twistdArgs
    assert not {"-n", "--nodaemon"} & set(twistdArgs)
    assert command[command.index("mcpgateway") + 1 :] == args
    # Never twistd's log file on /dev/null: it rotates by renaming past 1 MB.
    assert not any("/dev/null" in arg or arg.startswith("--logfile") for arg in command)
    assert "--logger=mcpgateway.runtime.logs.discarding" in twistdArgs


def test_successor_command_parses_as_twistd_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keepTLS: None
) -> None:
    """twistd itself reads it: no pid file, daemonized, the mcpgateway
    plugin with the same arguments."""
    from twisted.scripts._twistd_unix import ServerOptions

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(HANDOVER_ENV, raising=False)
    args = ["--port", "9100", "--state-dir", str(tmp_path / "st")]
    options = ServerOptions()
    command = successorCommand(args)
    options.parseOptions(command[command.index("mcpgateway.launch") + 1 :])
    assert options["pidfile"] == ""
    assert not options["nodaemon"]
    assert options["logger"] is logs.discarding
    assert options.subCommand == "mcpgateway"
    assert options.subOptions.pluginArgs == args
    assert options.subOptions["port"] == "9100"


def test_socket_family_reads_a_duplicate() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as inet:
        inet.bind(("127.0.0.1", 0))
        assert socketFamily(inet.fileno()) == socket.AF_INET
        os.fstat(inet.fileno())  # still open
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        assert socketFamily(a.fileno()) == socket.AF_UNIX


# -- the predecessor ------------------------------------------------------------------


def test_restart_spawns_the_successor_with_the_socket_the_lock_and_the_link(
    reactor: Reactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whether the test runner ignores SIGHUP (nohup) is not this test's business.
    monkeypatch.setattr("mcpgateway.ops.handover.ignoredStopSignals", lambda: "")
    run = Run(reactor, listenFd=97, lockFd=98)
    assert run.predecessor.restart() is True
    [(executable, args, env, _)] = reactor.spawned
    assert executable == "/usr/bin/python3"
    assert args == ["/usr/bin/python3", "-c", "run()", "mcpgateway", "--port", "9100"]
    assert env is not None
    assert env[HANDOVER_ENV] == Inherited(os.getpid()).encode()
    assert {k: v for k, v in env.items() if k != HANDOVER_ENV} == {
        "HOME": "/home/u",
        "API": "secret",
        PATH_FROM_ENV: "restart",  # `status` names whose PATH a command was not found on
    }
    [fds] = reactor.childFDs
    assert fds[0] == "w" and fds[1] == "r" and fds[2] == "r"
    assert (fds[LISTEN_FD], fds[LOCK_FD]) == (97, 98)
    # Descriptor 5 is one end of a socket pair whose other end this process
    # adopted as the link.
    [theirs], [ours] = reactor.childLinks, reactor.adoptedLinks
    assert stat.S_ISSOCK(os.fstat(theirs).st_mode)
    with socket.socket(fileno=os.dup(ours)) as a, socket.socket(fileno=os.dup(theirs)) as b:
        assert a.family == b.family == socket.AF_UNIX
        b.sendall(b"listening\n")
        assert a.recv(64) == b"listening\n"
    assert run.predecessor.state == "starting"


def test_the_successor_runs_with_the_path_of_the_command_that_asked_for_it(
    reactor: Reactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mcpgateway.ops.handover.ignoredStopSignals", lambda: "")
    started = {"HOME": "/home/u", "PATH": "/usr/bin:/bin"}
    run = Run(reactor, environ=started, userPath="/home/u/.local/bin:/usr/bin")
    with capturedGatewayLogs() as events:
        assert run.predecessor.restart() is True
    [(_, _, env, _)] = reactor.spawned
    assert env is not None and env["PATH"] == "/home/u/.local/bin:/usr/bin:/bin"
    [said] = [e for e in events if "PATH of the command" in e.get("log_format", "")]
    assert said["added"] == "/home/u/.local/bin"
    # Nothing new recorded: the successor gets this process's own, unsaid.
    again = Reactor()
    try:
        Run(again, environ=started, userPath="/usr/bin").predecessor.restart()
        [(_, _, env, _)] = again.spawned
        assert env is not None and env["PATH"] == "/usr/bin:/bin"
    finally:
        again.close()


def test_restart_prepares_before_it_spawns(reactor: Reactor) -> None:
    run = Run(reactor)
    run.predecessor.restart()
    assert reactor.order == ["prepare", "spawn"]


def test_a_failing_prepare_does_not_stop_the_restart(reactor: Reactor) -> None:
    run = Run(reactor)

    def broken() -> None:
        raise RuntimeError("disk full")

    run.predecessor._prepare = broken
    with capturedGatewayLogs() as events:
        assert run.predecessor.restart() is True
    assert len(reactor.spawned) == 1
    assert any("preparing failed" in t for t in texts(events))


def test_a_second_restart_while_one_is_under_way_is_refused(reactor: Reactor) -> None:
    run = Run(reactor)
    assert run.predecessor.restart() is True
    with capturedGatewayLogs() as events:
        assert run.predecessor.restart() is False
    assert len(reactor.spawned) == 1 and run.prepared == 1
    assert any("under way" in t for t in texts(events))


def test_restart_before_listening_is_refused(reactor: Reactor) -> None:
    for listenFd, lockFd in ((None, 98), (97, None)):
        run = Run(reactor, listenFd=listenFd, lockFd=lockFd)
        with capturedGatewayLogs() as events:
            assert run.predecessor.restart() is False
        assert reactor.spawned == [] and run.prepared == 0
        assert run.predecessor.state == "serving"
        assert any("before the gateway listens" in t for t in texts(events))


def test_a_spawn_that_fails_leaves_the_gateway_serving(reactor: Reactor) -> None:
    run = Run(reactor)
    reactor.spawnError = OSError("fork failed")
    with capturedGatewayLogs() as events:
        assert run.predecessor.restart() is False
    assert run.predecessor.state == "serving"
    assert any("cannot start the successor" in t and "fork failed" in t for t in texts(events))
    reactor.spawnError = None
    assert run.predecessor.restart() is True


def test_listening_on_the_link_hands_over_once_then_stops_the_reactor(
    reactor: Reactor,
) -> None:
    run = Run(reactor)
    run.predecessor.restart()
    link, _ = run.link()
    link.dataReceived(b"liste")
    assert run.handOvers == []
    link.dataReceived(b"ning\n")
    assert len(run.handOvers) == 1
    assert run.predecessor.state == "handing over"
    link.dataReceived(LISTENING)  # said again: nothing more
    assert len(run.handOvers) == 1
    assert not reactor.hasStopped  # the open connections are finishing
    run.handOvers[0].callback(None)
    assert reactor.hasStopped


def test_a_failing_hand_over_stops_at_once(reactor: Reactor) -> None:
    run = Run(reactor)

    def broken() -> Deferred[None]:
        raise RuntimeError("boom")

    run.predecessor._handOver = broken
    run.predecessor.restart()
    link, _ = run.link()
    with capturedGatewayLogs():
        link.dataReceived(LISTENING)
    assert reactor.hasStopped


def test_a_hand_over_that_errs_still_stops_the_reactor(reactor: Reactor) -> None:
    run = Run(reactor)
    run.predecessor.restart()
    link, _ = run.link()
    link.dataReceived(LISTENING)
    run.handOvers[0].errback(RuntimeError("a connection would not close"))
    assert reactor.hasStopped


def test_a_reactor_stopped_meanwhile_by_a_signal_is_no_error(reactor: Reactor) -> None:
    """A SIGTERM during the hand-over stopped the reactor already: the
    hand-over's end stops nothing more, and logs no unhandled error."""
    run = Run(reactor)
    run.predecessor.restart()
    link, _ = run.link()
    link.dataReceived(LISTENING)

    def stopped() -> None:
        raise ReactorNotRunning("Can't stop reactor that isn't running.")

    reactor.stop = stopped  # type: ignore[method-assign]
    done = run.handOvers.pop()
    with capturedLogs() as events:
        done.callback(None)
        del done
        gc.collect()
    assert [formatEvent(e) for e in events if e.get("log_level") == LogLevel.critical] == []


def test_the_link_lost_before_listening_is_a_failed_restart_and_serving_goes_on(
    reactor: Reactor,
) -> None:
    run = Run(reactor)
    run.predecessor.restart()
    reactor.lastProcess.stderr(b"Traceback: ImportError: no module named mcpgateway\n")
    reactor.lastProcess.exit(0)  # twistd daemonized: nothing said yet
    link, _ = run.link()
    with capturedGatewayLogs() as events:
        link.connectionLost(Failure(ConnectionDone()))
    [line] = [t for t in texts(events) if "restart failed" in t]
    assert "goes on serving" in line and "ImportError" in line
    assert run.handOvers == [] and not reactor.hasStopped
    assert run.predecessor.state == "serving"
    assert run.predecessor.restart() is True  # a new restart is allowed
    assert len(reactor.spawned) == 2


def test_twistd_exiting_with_an_error_is_a_failed_restart_with_its_output(
    reactor: Reactor,
) -> None:
    run = Run(reactor)
    run.predecessor.restart()
    process = reactor.lastProcess
    process.stdout(b"mcpgateway: another gateway is running\n")
    process.stderr(b"`twistd mcpgateway --help` lists the options\n")
    with capturedGatewayLogs() as events:
        process.exit(1)
    [line] = [t for t in texts(events) if "restart failed" in t]
    assert "status 1" in line
    assert "another gateway is running" in line and "lists the options" in line
    assert run.predecessor.state == "serving"
    # The link closing too (the child's end died with it) says nothing more.
    link, _ = run.link()
    with capturedGatewayLogs() as events:
        link.connectionLost(Failure(ConnectionDone()))
    assert not [t for t in texts(events) if "restart failed" in t]
    assert run.predecessor.restart() is True


def test_twistd_daemonizing_is_not_a_failure(reactor: Reactor) -> None:
    run = Run(reactor)
    run.predecessor.restart()
    with capturedGatewayLogs() as events:
        reactor.lastProcess.exit(0)
    assert not [t for t in texts(events) if "restart failed" in t]
    assert run.predecessor.state == "starting"


def test_the_successor_output_kept_is_bounded(reactor: Reactor) -> None:
    run = Run(reactor)
    run.predecessor.restart()
    for _ in range(100):
        reactor.lastProcess.stderr(b"Q" * 1000)
    with capturedGatewayLogs() as events:
        reactor.lastProcess.exit(1)
    [line] = [t for t in texts(events) if "restart failed" in t]
    assert line.count("Q") == 4096


def test_a_link_lost_after_listening_changes_nothing(reactor: Reactor) -> None:
    run = Run(reactor)
    run.predecessor.restart()
    link, _ = run.link()
    link.dataReceived(LISTENING)
    with capturedGatewayLogs() as events:
        link.connectionLost(Failure(ConnectionDone()))
    assert not [t for t in texts(events) if "restart failed" in t]
    assert run.predecessor.state == "handing over"


# -- the successor ---------------------------------------------------------------------


@pytest.fixture
def linkPair() -> Iterator[tuple[int, socket.socket]]:
    """The successor's end of a link (a descriptor it will close), and the
    predecessor's end."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fd = os.dup(a.fileno())
    a.close()
    yield fd, b
    b.close()
    with contextlib.suppress(OSError):
        os.close(fd)


def closedOrReused(fd: int, before: os.stat_result) -> bool:
    """Whether C{fd} no longer is the file it was (closed, or its number
    taken by something opened since)."""
    try:
        now = os.fstat(fd)
    except OSError:
        return True
    return not os.path.samestat(now, before)


def successorOn(reactor: Reactor, fd: int) -> tuple[Successor, Deferred[None]]:
    gone: Deferred[None] = Deferred()
    return Successor(reactor, Inherited(4242, linkFd=fd), gone), gone


def connectLink(reactor: Reactor) -> tuple[Any, StringTransport]:
    _, family, factory = reactor.adoptedStreamConnections[-1]
    assert family == socket.AF_UNIX
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def test_the_successor_adopts_the_link_and_closes_its_descriptor(
    reactor: Reactor, linkPair: tuple[int, socket.socket]
) -> None:
    fd, _ = linkPair
    before = os.fstat(fd)
    successor, gone = successorOn(reactor, fd)
    successor.startService()
    [(adopted, family, _)] = reactor.adoptedStreamConnections
    assert (adopted, family) == (fd, socket.AF_UNIX)
    assert closedOrReused(fd, before)  # the reactor holds its own duplicate
    assert not gone.called


@pytest.mark.parametrize("linkFirst", [True, False], ids=["link first", "link after"])
def test_the_successor_says_listening_once_whenever_the_link_connects(
    reactor: Reactor, linkPair: tuple[int, socket.socket], linkFirst: bool
) -> None:
    successor, _ = successorOn(reactor, linkPair[0])
    successor.startService()
    if linkFirst:
        _, transport = connectLink(reactor)
        assert transport.value() == b""
        successor.listening(9100)
    else:
        successor.listening(9100)
        _, transport = connectLink(reactor)
    assert transport.value() == LISTENING
    successor.listening(9100)
    assert transport.value() == LISTENING


def test_gone_fires_once_when_the_link_closes(
    reactor: Reactor, linkPair: tuple[int, socket.socket]
) -> None:
    successor, gone = successorOn(reactor, linkPair[0])
    successor.startService()
    link, _ = connectLink(reactor)
    fired: list[object] = []
    gone.addCallback(fired.append)
    successor.listening(9100)
    assert fired == []
    with capturedGatewayLogs() as events:
        link.connectionLost(Failure(ConnectionDone()))
        successor.predecessorGone()  # again: no AlreadyCalledError
    assert fired == [None]
    assert any("4242" in t and "has stopped" in t for t in texts(events))


class RefusingReactor(Reactor):
    """Adopting a descriptor checks it, as the real reactor does."""

    def adoptStreamConnection(self, fileDescriptor: int, addressFamily: Any, factory: Any) -> None:
        os.fstat(fileDescriptor)
        super().adoptStreamConnection(fileDescriptor, addressFamily, factory)


def test_a_bad_link_descriptor_fires_gone_at_start() -> None:
    reactor = RefusingReactor()
    fd = os.open(os.devnull, os.O_RDONLY)
    os.close(fd)  # a descriptor number nothing holds
    successor, gone = successorOn(reactor, fd)
    with capturedGatewayLogs() as events:
        successor.startService()
    assert gone.called
    assert any("no link to the predecessor" in t for t in texts(events))
    successor.listening(9100)  # nothing to tell: no error


# -- the instance lock and the child ledger ---------------------------------------------


def test_an_inherited_lock_is_the_state_dirs_lock_and_keeps_it_held(tmp_path: Path) -> None:
    stateDir = tmp_path / "st"
    stateDir.mkdir()
    predecessors = InstanceLock(stateDir)
    predecessors.acquire()
    fd = predecessors.fileno()
    assert fd is not None
    passed = os.dup(fd)  # what spawning with childFDs {4: fd} gives the successor
    os.set_inheritable(passed, True)
    lock = InstanceLock.inherited(stateDir, passed)
    assert lock.fileno() == passed
    assert not os.get_inheritable(passed)  # not passed on to its own children
    predecessors.release()  # the predecessor exits...
    assert lockHeld(stateDir)  # ...and the lock stays held: the same open file
    with pytest.raises(AlreadyRunning):
        InstanceLock(stateDir).acquire()
    lock.release()
    assert lock.fileno() is None
    assert not lockHeld(stateDir)


def test_an_inherited_descriptor_of_another_file_is_refused(tmp_path: Path) -> None:
    stateDir = tmp_path / "st"
    stateDir.mkdir()
    (stateDir / LOCK_FILE).touch()
    other = os.open(tmp_path / "other.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        with pytest.raises(AlreadyRunning, match="passed no instance lock"):
            InstanceLock.inherited(stateDir, other)
        os.fstat(other)  # not closed: it was not the lock's
    finally:
        os.close(other)


def test_an_inherited_descriptor_that_is_not_open_is_refused(tmp_path: Path) -> None:
    stateDir = tmp_path / "st"
    stateDir.mkdir()
    (stateDir / LOCK_FILE).touch()
    fd = os.open(stateDir / LOCK_FILE, os.O_RDONLY)
    os.close(fd)
    with pytest.raises(AlreadyRunning):
        InstanceLock.inherited(stateDir, fd)


def test_an_inherited_lock_without_the_lock_file_is_refused(tmp_path: Path) -> None:
    stateDir = tmp_path / "st"
    stateDir.mkdir()
    fd = os.open(tmp_path / "gateway.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        with pytest.raises(AlreadyRunning):
            InstanceLock.inherited(stateDir, fd)
    finally:
        os.close(fd)


def test_the_ledger_rewrite_writes_this_process_and_its_children(tmp_path: Path) -> None:
    ledger = ChildLedger(tmp_path, procRoot=str(tmp_path / "proc"))
    ledger.spawned("srv", 1234)
    ledger.spawned("other", 1235)
    ledger.exited(1235)
    # The predecessor's own children exiting rewrote the file meanwhile.
    (tmp_path / LEDGER_FILE).write_text(
        json.dumps({"gatewayPid": 1, "children": {"999": {"server": "old", "start": 5}}})
    )
    ledger.rewrite()
    data = json.loads((tmp_path / LEDGER_FILE).read_text())
    assert data["gatewayPid"] == os.getpid()
    assert data["children"] == {"1234": {"server": "srv", "start": None}}


# -- the listener and state.json -----------------------------------------------------


class FakePort:
    """A listening port as Twisted's TCP port: C{_shouldShutdown}, C{stopListening}."""

    def __init__(self) -> None:
        self._shouldShutdown = True
        self.stops: list[bool] = []
        self.stopped: Deferred[None] = Deferred()

    def fileno(self) -> int:
        return 97

    def getHost(self) -> IPv4Address:
        return IPv4Address("TCP", "127.0.0.1", 9100)

    def stopListening(self) -> Deferred[None]:
        self.stops.append(self._shouldShutdown)
        return self.stopped


class FakeEndpoint:
    def __init__(self, port: Any) -> None:
        self.port = port

    def listen(self, factory: Any) -> Deferred[Any]:
        return succeed(self.port)


def listener(port: Any) -> ListenerService:
    service = ListenerService(
        FakeEndpoint(port),  # type: ignore[arg-type]
        "tcp:9100",
        object(),
        FakeProcessReactor(),
        exit=lambda code: None,
    )
    return service


def test_the_listener_passes_on_its_descriptor_once_listening() -> None:
    service = listener(FakePort())
    assert service.fileno() is None
    service.startService()
    assert service.fileno() == 97


def test_the_listener_hands_over_without_shutting_the_shared_socket_down() -> None:
    port = FakePort()
    service = listener(port)
    service.startService()
    with capturedGatewayLogs():
        stopping = service.handOver()
    assert port.stops == [False]  # _shouldShutdown was False when it stopped
    assert stopping is port.stopped
    assert service.fileno() is None
    assert service.stopService() is None  # nothing left to stop
    assert port.stops == [False]


def test_the_listener_stops_as_before_without_a_hand_over() -> None:
    port = FakePort()
    service = listener(port)
    service.startService()
    service.stopService()
    assert port.stops == [True]


def test_a_listener_that_does_not_listen_hands_over_nothing() -> None:
    service = ListenerService(
        FakeEndpoint(FakePort()),  # type: ignore[arg-type]
        "tcp:9100",
        object(),
        FakeProcessReactor(),
    )
    assert service.handOver() is None


def test_the_state_file_stays_after_a_hand_over(tmp_path: Path) -> None:
    lock = InstanceLock(tmp_path)
    lock.acquire()
    service = InstanceService(tmp_path, lock, {"interface": "127.0.0.1"}, Clock())
    service.startService()
    service.listening(9100)
    assert (tmp_path / STATE_FILE).exists()
    service.handOver()
    service.stopService()
    assert json.loads((tmp_path / STATE_FILE).read_text())["port"] == 9100
    assert lock.fileno() is None  # this process's descriptor is closed all the same


def test_the_state_file_goes_at_stop_without_a_hand_over(tmp_path: Path) -> None:
    lock = InstanceLock(tmp_path)
    lock.acquire()
    service = InstanceService(tmp_path, lock, {}, Clock())
    service.startService()
    service.listening(9100)
    service.stopService()
    assert not (tmp_path / STATE_FILE).exists()


def test_a_config_adopted_later_is_what_the_state_file_says_is_served(tmp_path: Path) -> None:
    """The Claude config appeared while the bundled demo was served (the
    config service calls C{configChanged}): C{state.json} names it, for
    C{mcpgateway status}, and keeps everything else it said; after a hand
    over it is the successor's file, and is left alone."""
    lock = InstanceLock(tmp_path)
    lock.acquire()
    service = InstanceService(tmp_path, lock, {"config": None, "rewriteConfig": True}, Clock())
    service.startService()
    service.configChanged(tmp_path / "early.json")  # before listening: nothing written yet
    assert not (tmp_path / STATE_FILE).exists()
    service.listening(9100, "127.0.0.1")
    assert json.loads((tmp_path / STATE_FILE).read_text())["config"] == str(tmp_path / "early.json")
    service.configChanged(tmp_path / ".claude.json")
    state = json.loads((tmp_path / STATE_FILE).read_text())
    assert state["config"] == str(tmp_path / ".claude.json")
    assert (state["port"], state["interface"], state["rewriteConfig"]) == (9100, "127.0.0.1", True)
    service.handOver()
    service.configChanged(None)
    stateAfter = json.loads((tmp_path / STATE_FILE).read_text())
    assert stateAfter["config"] == str(tmp_path / ".claude.json")
    service.stopService()


# -- the config service ----------------------------------------------------------------


class Source:
    """A config source on a file that records the calls."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.loads = 0
        self.stops = 0

    def load(self) -> Any:
        from mcpgateway.config.servers import LoadedConfig

        self.loads += 1
        return LoadedConfig(servers={})

    def listening(self, port: int) -> list[str]:
        return []

    def stopping(self) -> list[str]:
        self.stops += 1
        return ["restored"]

    def restoreFailed(self, reason: str) -> None:
        pass


def configService(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[ConfigService, Source, Clock, list[dict[str, ServerSpec]]]:
    path = tmp_path / "claude.json"
    path.write_text("{}")
    source = Source(path)
    clock = Clock()
    reloads: list[dict[str, ServerSpec]] = []
    service = ConfigService(
        source,
        tmp_path,
        clock,
        None,
        lambda f, *a: succeed(f(*a)),
        reloads.append,
        ConfigSettings(pollInterval=1.0, debounce=0.1),
    )
    # Poll on the clock (no inotify descriptor, no reactor).
    monkeypatch.setattr(service.files, "watchWithInotify", lambda path: False)
    return service, source, clock, reloads


def touch(path: Path, content: str) -> None:
    path.write_text(content)
    st_ = path.stat()
    os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns + 10**9))


def test_the_config_service_stops_watching_and_does_not_restore_after_a_hand_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, source, clock, reloads = configService(tmp_path, monkeypatch)
    service.startService()
    with capturedGatewayLogs() as events:
        service.handOver()
    assert any("successor watches" in t for t in texts(events))
    touch(source.path, '{"mcpServers": {}}')
    clock.advance(1.0)
    clock.advance(1.0)
    assert source.loads == 0 and reloads == []  # no longer watching
    stopped: list[Any] = []
    service.stopService().addBoth(stopped.append)
    assert stopped == [None]
    assert source.stops == 0  # left adopted: the successor serves it


def test_the_config_service_watches_and_restores_without_a_hand_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, source, clock, reloads = configService(tmp_path, monkeypatch)
    service.startService()
    touch(source.path, '{"mcpServers": {}}')
    clock.advance(1.0)
    clock.advance(1.0)
    assert source.loads == 1 and len(reloads) == 1
    service.stopService()
    assert source.stops == 1


# -- preflight ------------------------------------------------------------------------


def claudeConfig(home: Path) -> Path:
    path = home / ".claude.json"
    path.write_text(json.dumps({"mcpServers": {"search": {"command": "search-mcp"}}}))
    return path


def adopt(configPath: Path, stateDir: Path) -> None:
    """What the running gateway did: adopted the config (backup written)."""
    from mcpgateway.clientconfigs.adopted import AdoptedClaudeConfig

    source = AdoptedClaudeConfig(configPath, stateDir, "127.0.0.1")
    source.load()
    source.listening(9100)
    assert "url" in json.loads(configPath.read_text())["mcpServers"]["search"]


def preflightOptions(stateDir: Path, *extra: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(["--state-dir", str(stateDir), *extra])
    return options


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keepTLS: None) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(HANDOVER_ENV, raising=False)
    return tmp_path


def test_preflight_of_a_successor_takes_the_lock_over_and_leaves_the_config_adopted(
    home: Path,
) -> None:
    stateDir = home / "st"
    stateDir.mkdir(mode=0o700)
    config = claudeConfig(home)
    predecessors = InstanceLock(stateDir)
    predecessors.acquire()
    adopt(config, stateDir)
    # The predecessor's state.json: another pid (a stale one to a fresh start).
    (stateDir / STATE_FILE).write_text(json.dumps({"pid": 1, "port": 9100}))
    fd = predecessors.fileno()
    assert fd is not None
    passed = os.dup(fd)
    options = preflightOptions(stateDir, "--config", str(config), "--rewrite-config")
    options["handover"] = Inherited(1, lockFd=passed)
    found = preflight(options, "127.0.0.1")
    try:
        assert found.lock.fileno() == passed
        # Nothing recovered: the entries still point at the gateway.
        assert "url" in json.loads(config.read_text())["mcpServers"]["search"]
        assert list(found.loaded.servers) == ["search"]
    finally:
        found.lock.release()
        predecessors.release()


def test_preflight_of_a_fresh_start_recovers_the_same_config(home: Path) -> None:
    """The contrast: without a hand-over, that state.json is a crash's."""
    stateDir = home / "st"
    stateDir.mkdir(mode=0o700)
    config = claudeConfig(home)
    adopt(config, stateDir)
    (stateDir / STATE_FILE).write_text(json.dumps({"pid": 1, "port": 9100}))
    options = preflightOptions(stateDir, "--config", str(config), "--rewrite-config")
    found = preflight(options, "127.0.0.1")
    try:
        assert json.loads(config.read_text())["mcpServers"]["search"] == {"command": "search-mcp"}
    finally:
        found.lock.release()


def test_preflight_refuses_a_hand_over_without_the_lock(home: Path) -> None:
    stateDir = home / "st"
    other = os.open(home / "not-the-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        options = preflightOptions(stateDir)
        options["handover"] = Inherited(1, lockFd=other)
        with pytest.raises(PreflightError, match="passed no instance lock"):
            preflight(options, "127.0.0.1")
    finally:
        os.close(other)


# -- the service tree --------------------------------------------------------------------


def servicesOf(top: Any) -> dict[str, Any]:
    return {type(service).__name__: service for service in top}


def demoConfig(home: Path) -> Path:
    config = home / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"demo": {"command": "demo-mcp"}}}))
    return config


def test_the_predecessor_of_make_service_restarts_with_the_same_args_and_the_log_file(
    home: Path, reactor: Reactor
) -> None:
    """Detached, a successor without --log-file would log nowhere: it gets
    the state directory's."""
    stateDir = home / "st"
    config = demoConfig(home)
    args = ["--port", "9300", "--config", str(config), "--state-dir", str(stateDir)]
    options = tap.Options()
    options.parseOptions(args)
    reactor.listenFd = 97
    top = tap.makeService(options, reactor)
    restarter = servicesOf(top)["RestartOnSignal"]
    assert isinstance(restarter, RestartOnSignal) and restarter.predecessor is None
    previous = signal.getsignal(signal.SIGUSR2)
    top.startService()
    try:
        assert signal.getsignal(signal.SIGUSR2) != previous
        assert restarter.restart() is True
        assert isinstance(restarter.predecessor, Predecessor)  # made by the restart
        [(_, argv, env, _)] = childSpawns(reactor)
        assert argv == successorCommand([*args, "--log-file", str(stateDir / LOG_FILE)])
        assert env is not None and env[HANDOVER_ENV] == Inherited(os.getpid()).encode()
        spawns = zip(reactor.childFDs, reactor.spawned, strict=True)
        [fds] = [f for f, spawn in spawns if not isProbe(spawn) and not isWarden(spawn)]
        lockFd = fds[LOCK_FD]
        assert fds[LISTEN_FD] == 97
        assert os.path.samestat(os.fstat(lockFd), os.stat(stateDir / LOCK_FILE))
        assert (stateDir / "sessions.json").exists()  # prepared: the sessions saved
    finally:
        top.stopService()
    assert signal.getsignal(signal.SIGUSR2) == previous


def test_the_predecessor_keeps_a_log_file_given_and_its_bytecode_folder(
    home: Path, reactor: Reactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The successor keeps its bytecode where its predecessor does: a
    gateway C{mcpgateway start} gave a private bytecode folder
    (L{mcpgateway.runtime.interpreter}) hands it on."""
    stateDir = home / "st"
    monkeypatch.setattr(sys, "pycache_prefix", str(stateDir / "bytecode"))
    args = ["--port", "9301", "--state-dir", str(stateDir), "--log-file", str(home / "g.log")]
    options = tap.Options()
    options.parseOptions(args)
    reactor.listenFd = 97
    top = tap.makeService(options, reactor)
    top.startService()
    try:
        assert servicesOf(top)["RestartOnSignal"].restart() is True
        [(_, argv, _, _)] = childSpawns(reactor)
        assert argv == successorCommand(args, bytecodeFolder=str(stateDir / "bytecode"))
        assert f"pycache_prefix={stateDir / 'bytecode'}" in argv
    finally:
        top.stopService()


def test_make_service_of_a_successor_adopts_what_it_inherited(
    home: Path, reactor: Reactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    stateDir = home / "st"
    stateDir.mkdir(mode=0o700)
    config = demoConfig(home)
    # The predecessor: the lock, a listening socket (bound), the link.
    predecessors = InstanceLock(stateDir)
    predecessors.acquire()
    held = predecessors.fileno()
    assert held is not None
    lockFd = os.dup(held)
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    listenFd = os.dup(listening.fileno())  # the endpoint closes it once adopted
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    linkFd = os.dup(theirs.fileno())
    theirs.close()
    linkStat = os.fstat(linkFd)
    (stateDir / LEDGER_FILE).write_text(json.dumps({"gatewayPid": 1, "children": {}}))
    monkeypatch.setenv(
        HANDOVER_ENV,
        Inherited(4242, listenFd, lockFd, linkFd).encode(),
    )
    try:
        options = tap.Options()
        options.parseOptions(
            ["--port", "9300", "--config", str(config), "--state-dir", str(stateDir)]
        )
        top = tap.makeService(options, reactor)
        assert HANDOVER_ENV not in os.environ  # the next restart sets its own
        services = servicesOf(top)
        successor = services["Successor"]
        assert next(iter(services)) == "Successor"
        assert reactor.tcpServers == []
        top.startService()
        try:
            # The inherited socket, not --port; the link adopted, its descriptor closed.
            [(fd, family, _)] = reactor.adoptedPorts
            assert (fd, family) == (listenFd, socket.AF_INET)
            assert reactor.tcpServers == []
            link, _, factory = reactor.adoptedStreamConnections[0]  # then the probe's warden's
            assert link == linkFd
            assert closedOrReused(linkFd, linkStat)
            reactor.run()  # state.json is written once the reactor runs
            state = json.loads((stateDir / STATE_FILE).read_text())
            assert state["pid"] == os.getpid()
            protocol = factory.buildProtocol(None)
            transport = StringTransport()
            protocol.makeConnection(transport)
            assert transport.value() == LISTENING
            assert json.loads((stateDir / LEDGER_FILE).read_text())["gatewayPid"] == 1
            gateway = services["GatewayService"].gateway
            waiting = gateway.continuity.waitFor()  # unknown sessions wait for it
            assert waiting is not None and not waiting.called
            protocol.connectionLost(Failure(ConnectionDone()))  # the predecessor exited
            assert successor.gone.called and waiting.called
            assert gateway.continuity.waitFor() is None
            ledger = json.loads((stateDir / LEDGER_FILE).read_text())
            assert ledger["gatewayPid"] == os.getpid()
        finally:
            top.stopService()
            reactor.runThreadCalls()  # the last save of the sessions, back from its thread
        assert lockHeld(stateDir)  # the predecessor's descriptor still holds it
    finally:
        predecessors.release()
        listening.close()
        ours.close()
    assert not lockHeld(stateDir)


def test_make_service_without_a_hand_over_has_no_successor(home: Path, reactor: Reactor) -> None:
    options = tap.Options()
    options.parseOptions(["--port", "9300", "--state-dir", str(home / "st")])
    top = tap.makeService(options, reactor)
    top.startService()
    try:
        assert "Successor" not in servicesOf(top)
        assert reactor.adoptedPorts == [] and len(reactor.tcpServers) == 1
    finally:
        top.stopService()


def test_flock_of_a_duplicate_is_the_same_lock(tmp_path: Path) -> None:
    """What the design rests on: a descriptor passed down shares the open
    file, and so the flock, with the one it was duplicated from."""
    fd = os.open(tmp_path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    copy = os.dup(fd)
    os.close(fd)
    assert lockHeld(tmp_path)
    os.close(copy)
    assert not lockHeld(tmp_path)


# -- the pid file ---------------------------------------------------------


def test_twistd_pidfile_is_the_one_its_command_line_names() -> None:
    run = ["-c", "--pidfile", "/s/twistd.pid", "--logfile", "-", "mcpgateway", "--port", "1"]
    assert twistdPidfile(run) == "/s/twistd.pid"
    assert twistdPidfile(["-c", "--pidfile=/s/x.pid", "mcpgateway"]) == "/s/x.pid"
    assert twistdPidfile(["-c", "--pidfile=", "--logfile=/dev/null", "mcpgateway"]) == ""
    assert twistdPidfile(["twistd", "-n", "mcpgateway"]) == "twistd.pid"
    # The plugin's own arguments are not twistd's.
    assert twistdPidfile(["twistd", "mcpgateway", "--pidfile", "/x"]) == "twistd.pid"


def test_own_pidfile_is_the_one_that_holds_this_pid(tmp_path: Path) -> None:
    written = tmp_path / "twistd.pid"
    written.write_text("4242")
    argv = ["-c", f"--pidfile={written}", "mcpgateway"]
    assert ownPidfile(argv, {}, 4242) == str(written)
    assert ownPidfile(argv, {}, 4243) is None  # not ours: twist, or a stale file
    assert ownPidfile(["-c", "--pidfile=", "mcpgateway"], {}, 4242) is None
    # A successor owns the one it took over; its own twistd has none.
    taken = tmp_path / "taken.pid"
    taken.write_text("77\n")
    assert ownPidfile(["-c", "--pidfile=", "mcpgateway"], {PIDFILE_ENV: str(taken)}, 77) == str(
        taken
    )
    assert ownPidfile(argv, {PIDFILE_ENV: str(tmp_path / "missing")}, 4242) == str(written)


def test_the_pid_file_is_read_from_the_environment_with_a_hand_over() -> None:
    variable = Inherited(4242).encode()
    got = Inherited.fromEnviron({HANDOVER_ENV: variable, PIDFILE_ENV: "/s/twistd.pid"})
    assert got == Inherited(4242, pidfile="/s/twistd.pid")
    assert got is not None and got.exitFd == EXIT_FD == 6
    assert Inherited.fromEnviron({HANDOVER_ENV: variable, PIDFILE_ENV: "rel.pid"}) == Inherited(
        4242
    )
    assert Inherited.fromEnviron({HANDOVER_ENV: variable}) == Inherited(4242)
    assert Inherited.fromEnviron({PIDFILE_ENV: "/s/twistd.pid"}) is None


def test_restart_hands_the_pid_file_over_on_an_exit_link_held_outside_the_reactor(
    reactor: Reactor,
) -> None:
    run = Run(reactor, pidfile="/s/twistd.pid")
    assert run.predecessor.restart() is True
    [(_, _, env, _)] = reactor.spawned
    assert env is not None and env[PIDFILE_ENV] == "/s/twistd.pid"
    [theirs] = reactor.childExits
    # The reactor holds the link only: shutting it down at the reactor's
    # stop does not end the exit link, only this process's end does.
    assert len(reactor.adoptedStreamConnections) == 1
    with socket.socket(fileno=os.dup(theirs)) as peer:
        peer.setblocking(False)
        with pytest.raises(BlockingIOError):
            peer.recv(1)
        link, _ = run.link()
        link.dataReceived(LISTENING)
        run.handOvers[0].callback(None)
        with pytest.raises(BlockingIOError):
            peer.recv(1)  # handed over: held until the process exits


def test_a_failed_restart_lets_the_exit_link_go(reactor: Reactor) -> None:
    run = Run(reactor, pidfile="/s/twistd.pid")
    run.predecessor.restart()
    [theirs] = reactor.childExits
    run.predecessor.successorFailed("test")
    with socket.socket(fileno=os.dup(theirs)) as peer:
        peer.setblocking(False)
        assert peer.recv(1) == b""


def test_restart_without_a_pid_file_passes_no_exit_link_nor_a_stale_variable(
    reactor: Reactor,
) -> None:
    run = Run(reactor, environ={"HOME": "/h", PIDFILE_ENV: "/old/twistd.pid"})
    run.predecessor.restart()
    [(_, _, env, _)] = reactor.spawned
    assert env is not None and PIDFILE_ENV not in env
    [fds] = reactor.childFDs
    assert EXIT_FD not in fds


@pytest.fixture
def exitPair() -> Iterator[int]:
    """The successor's end of an exit link (a descriptor it will close)."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fd = os.dup(a.fileno())
    a.close()
    yield fd
    b.close()
    with contextlib.suppress(OSError):
        os.close(fd)


def pidfileSuccessor(
    reactor: Reactor, linkFd: int, exitFd: int, pidfile: Path
) -> tuple[Successor, Any, Any]:
    """A started successor taking C{pidfile} over; its link and exit link
    protocols."""
    inherited = Inherited(4242, linkFd=linkFd, pidfile=str(pidfile), exitFd=exitFd)
    successor = Successor(reactor, inherited, Deferred(), pid=lambda: 5151)
    successor.startService()
    [(exitAdopted, _, exitFactory), (linkAdopted, _, _)] = reactor.adoptedStreamConnections
    assert (exitAdopted, linkAdopted) == (exitFd, linkFd)
    exitSide = exitFactory.buildProtocol(None)
    exitSide.makeConnection(StringTransport())
    link, _ = connectLink(reactor)
    return successor, link, exitSide


def test_the_successor_writes_the_pid_file_once_the_predecessor_has_exited(
    reactor: Reactor, linkPair: tuple[int, socket.socket], exitPair: int, tmp_path: Path
) -> None:
    pidfile = tmp_path / "twistd.pid"
    pidfile.write_text("4242")
    successor, link, exitSide = pidfileSuccessor(reactor, linkPair[0], exitPair, pidfile)
    successor.listening(9100)
    link.connectionLost(Failure(ConnectionDone()))  # the predecessor's reactor stopped
    assert successor.gone.called
    assert pidfile.read_text() == "4242"  # not yet: its twistd deletes the file next
    pidfile.unlink()  # which it does, then exits
    with capturedGatewayLogs() as events:
        exitSide.connectionLost(Failure(ConnectionDone()))
    assert pidfile.read_text() == "5151"
    assert stat.S_IMODE(pidfile.stat().st_mode) == 0o644
    assert any("took over the pid file" in t for t in texts(events))
    successor.stopService()  # as twistd deletes its own
    assert not pidfile.exists()


def test_the_successor_writes_over_the_pid_file_of_a_killed_predecessor(
    reactor: Reactor, linkPair: tuple[int, socket.socket], exitPair: int, tmp_path: Path
) -> None:
    pidfile = tmp_path / "twistd.pid"
    pidfile.write_text("4242")
    _, link, exitSide = pidfileSuccessor(reactor, linkPair[0], exitPair, pidfile)
    exitSide.connectionLost(Failure(ConnectionDone()))
    link.connectionLost(Failure(ConnectionDone()))
    assert pidfile.read_text() == "5151"


def test_the_successor_deletes_only_a_pid_file_that_is_still_its_own(
    reactor: Reactor, linkPair: tuple[int, socket.socket], exitPair: int, tmp_path: Path
) -> None:
    pidfile = tmp_path / "twistd.pid"
    successor, _, exitSide = pidfileSuccessor(reactor, linkPair[0], exitPair, pidfile)
    exitSide.connectionLost(Failure(ConnectionDone()))
    pidfile.write_text("6161")  # a later gateway's
    successor.stopService()
    assert pidfile.read_text() == "6161"


def test_a_successor_stopped_first_writes_no_pid_file(
    reactor: Reactor, linkPair: tuple[int, socket.socket], exitPair: int, tmp_path: Path
) -> None:
    pidfile = tmp_path / "twistd.pid"
    successor, _, exitSide = pidfileSuccessor(reactor, linkPair[0], exitPair, pidfile)
    successor.stopService()
    exitSide.connectionLost(Failure(ConnectionDone()))
    assert not pidfile.exists()


def test_a_bad_exit_link_writes_no_pid_file(
    linkPair: tuple[int, socket.socket], tmp_path: Path
) -> None:
    reactor = RefusingReactor()
    fd = os.open(os.devnull, os.O_RDONLY)
    os.close(fd)
    pidfile = tmp_path / "twistd.pid"
    inherited = Inherited(4242, linkFd=linkPair[0], pidfile=str(pidfile), exitFd=fd)
    with capturedGatewayLogs() as events:
        Successor(reactor, inherited, Deferred()).startService()
    assert any("no exit link" in t for t in texts(events))
    assert len(reactor.adoptedStreamConnections) == 1  # the link
    assert not pidfile.exists()


def test_restart_passes_on_the_stop_signals_this_process_ignores(reactor: Reactor) -> None:
    """nohup: twistd's spawnProcess resets SIG_IGN in the child, so the
    successor is told which stop signals to ignore again (and a stale
    value of the variable is never passed on)."""
    saved = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    try:
        for s in STOP_SIGNALS:
            signal.signal(s, signal.SIG_IGN if s == signal.SIGHUP else signal.SIG_DFL)
        Run(reactor, environ={IGNORED_ENV: "SIGINT"}).predecessor.restart()
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        Run(reactor, environ={IGNORED_ENV: "SIGHUP"}).predecessor.restart()
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
    [first, second] = [env for (_, _, env, _) in reactor.spawned]
    assert first is not None and first[IGNORED_ENV] == "SIGHUP"
    assert second is not None and IGNORED_ENV not in second


def test_a_successor_of_a_gateway_started_under_nohup_is_told_which_stop_signals_to_ignore(
    reactor: Reactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mcpgateway.ops.handover.ignoredStopSignals", lambda: "SIGHUP")
    run = Run(reactor, listenFd=97, lockFd=98)
    assert run.predecessor.restart() is True
    [(_, _, env, _)] = reactor.spawned
    assert env is not None
    assert env["MCPGATEWAY_IGNORED_SIGNALS"] == "SIGHUP"

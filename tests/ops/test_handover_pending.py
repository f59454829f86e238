"""A restart's hand-over while it is still pending: the successor has
taken the listening socket, the predecessor has not handed its children
over (nor stopped) yet. A second restart waits for it; a stop of the
successor stops the predecessor too; the log, C{state.json}, C{/health}
and C{mcpgateway status} say the hand-over is pending, not that children
were lost.

No reactor runs and no process starts: the link is a StringTransport,
time is the fake reactor's clock."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import LogEvent, formatEvent
from twisted.python.failure import Failure

from mcpgateway.cli.status import restartSummary
from mcpgateway.core.handedchild import encodeRecord
from mcpgateway.ops import childhandover
from mcpgateway.ops.childhandover import ChildAdoption, gateWait
from mcpgateway.ops.handover import LISTENING, STOP, STOP_WAIT, Inherited, Predecessor, Successor
from mcpgateway.ops.services import InstanceService
from mcpgateway.ops.statedir import STATE_FILE, InstanceLock
from mcpgateway.startup.handoverwiring import RestartOnSignal, successorOf
from mcpgateway.web.pages.statuspage import restartData
from tests.fakes import FakeProcessReactor, capturedGatewayLogs
from tests.support.ops.handedrecord import RECORD


def texts(events: list[LogEvent]) -> list[str]:
    return [formatEvent(e) for e in events]


@pytest.fixture
def linkFd() -> Iterator[int]:
    """The successor's end of a link (a descriptor it closes)."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fd = os.dup(a.fileno())
    a.close()
    yield fd
    b.close()
    with contextlib.suppress(OSError):
        os.close(fd)


class FakeChildren:
    """What a successor tells of its children (L{ChildAdoption}'s seam)."""

    def __init__(self) -> None:
        self.reply: Any = None
        self.told: list[str] = []

    def start(self) -> None:
        self.told.append("start")

    def descriptor(self, fd: int) -> None:
        self.told.append("descriptor")

    def data(self, data: bytes) -> None:
        self.told.append("data")

    def linkLost(self) -> None:
        self.told.append("linkLost")

    def stopping(self) -> None:
        self.told.append("stopping")


def linkedSuccessor(
    reactor: FakeProcessReactor, fd: int, said: bool = True
) -> tuple[Successor, Any, StringTransport, FakeChildren]:
    """A started successor of pid 4242 whose link is connected (and which
    said C{listening}, when C{said})."""
    successor = Successor(reactor, Inherited(4242, linkFd=fd), Deferred())
    children = FakeChildren()
    successor.children = children
    successor.startService()
    _, _, factory = reactor.adoptedStreamConnections[-1]
    link = factory.buildProtocol(None)
    transport = StringTransport()
    link.makeConnection(transport)
    if said:
        successor.listening(9100)
    return successor, link, transport, children


# -- the successor's stop while its predecessor still hands over ------------------------


def test_a_stop_while_the_predecessor_hands_over_tells_it_and_waits_for_it(
    linkFd: int,
) -> None:
    reactor = FakeProcessReactor()
    successor, link, transport, children = linkedSuccessor(reactor, linkFd)
    transport.clear()
    with capturedGatewayLogs() as events:
        stopping = successor.stopService()
        assert transport.value() == STOP
        assert stopping is not None and not stopping.called
        assert "stopping" in children.told  # a child that still comes is not served
        link.connectionLost(Failure(ConnectionDone()))  # the predecessor has stopped
    assert stopping.called and successor.gone.called
    said = texts(events)
    assert any("4242" in t and "telling it to stop too" in t for t in said)
    assert any("4242" in t and "has stopped too" in t for t in said)
    assert not any("exited" in t for t in said)
    assert reactor.getDelayedCalls() == []  # the wait's timer went with it


def test_a_predecessor_that_does_not_stop_is_waited_for_a_bounded_time(linkFd: int) -> None:
    reactor = FakeProcessReactor()
    successor, _, _, _ = linkedSuccessor(reactor, linkFd)
    with capturedGatewayLogs() as events:
        stopping = successor.stopService()
        assert stopping is not None
        reactor.advance(STOP_WAIT - 0.1)
        assert not stopping.called
        reactor.advance(0.1)
    assert stopping.called
    assert any("has not stopped within" in t for t in texts(events))


def test_a_stop_after_the_predecessor_stopped_waits_for_nothing(linkFd: int) -> None:
    reactor = FakeProcessReactor()
    successor, link, transport, _ = linkedSuccessor(reactor, linkFd)
    link.connectionLost(Failure(ConnectionDone()))
    transport.clear()
    assert successor.stopService() is None
    assert transport.value() == b""


def test_a_link_closed_by_this_process_stopping_is_not_said_to_be_the_predecessor_exiting(
    linkFd: int,
) -> None:
    """A successor that had not listened yet stops: its own reactor closes
    the link, and the log says just that."""
    reactor = FakeProcessReactor()
    successor, link, transport, _ = linkedSuccessor(reactor, linkFd, said=False)
    assert successor.stopService() is None and transport.value() == b""
    with capturedGatewayLogs() as events:
        link.connectionLost(Failure(ConnectionDone()))
    [line] = [t for t in texts(events) if "4242" in t]
    assert "closed as this process stops" in line


def test_pending_fires_once_the_predecessor_has_stopped(linkFd: int) -> None:
    reactor = FakeProcessReactor()
    successor, link, _, _ = linkedSuccessor(reactor, linkFd)
    assert successor.predecessorPid == 4242
    waiting = successor.pending()
    assert waiting is not None and not waiting.called
    link.connectionLost(Failure(ConnectionDone()))
    assert waiting.called
    assert successor.pending() is None


# -- the predecessor told to stop ----------------------------------------------------------


class Passing:
    """A L{ChildSender} stand-in that records whether it was asked to send."""

    def __init__(self) -> None:
        self.sent = 0

    def send(self, transport: Any) -> Deferred[bool]:
        self.sent += 1
        return Deferred()

    def acknowledged(self) -> None:
        pass

    def linkLost(self) -> None:
        pass


def predecessorOn(reactor: FakeProcessReactor) -> tuple[Predecessor, list[Deferred[None]], Any]:
    handOvers: list[Deferred[None]] = []

    def handOver() -> Deferred[None]:
        handOvers.append(Deferred())
        return handOvers[-1]

    predecessor = Predecessor(
        reactor,
        ["/usr/bin/python3", "-c", "run()"],
        {"HOME": "/home/u"},
        lambda: 97,
        lambda: 98,
        lambda: None,
        handOver,
        pidfile=lambda: None,
        children=cast(Any, Passing()),
    )
    assert predecessor.restart()
    _, _, factory = reactor.adoptedStreamConnections[-1]
    link = factory.buildProtocol(None)
    link.makeConnection(StringTransport())
    return predecessor, handOvers, link


def test_told_to_stop_while_handing_over_it_stops_and_hands_no_child_over() -> None:
    reactor = FakeProcessReactor()
    predecessor, handOvers, link = predecessorOn(reactor)
    link.dataReceived(LISTENING)
    assert predecessor.state == "handing over" and not reactor.hasStopped
    with capturedGatewayLogs() as events:
        link.dataReceived(STOP)
    assert reactor.hasStopped  # now, not after --restart-timeout
    assert any("stops now too" in t for t in texts(events))
    handOvers[0].callback(None)  # its connections are gone meanwhile
    passing = cast(Passing, predecessor.children)
    assert passing.sent == 0  # the stopping successor gets no child


def test_stop_before_listening_is_not_a_stop_of_a_serving_gateway() -> None:
    reactor = FakeProcessReactor()
    predecessor, _, link = predecessorOn(reactor)
    link.dataReceived(STOP)
    assert predecessor.state == "starting" and not reactor.hasStopped


# -- a restart while the hand-over is pending ------------------------------------------------


class Restarts:
    def __init__(self) -> None:
        self.restarts = 0

    def restart(self) -> bool:
        self.restarts += 1
        return True


def test_a_restart_asked_while_the_hand_over_is_pending_follows_once_it_is_done(
    linkFd: int,
) -> None:
    """Restarting then would hand no child over: they are still with the
    predecessor, which stops them at its --restart-timeout."""
    reactor = FakeProcessReactor()
    successor, link, _, _ = linkedSuccessor(reactor, linkFd)
    made: list[Restarts] = []

    def make() -> Any:
        made.append(Restarts())
        return made[-1]

    restarter = RestartOnSignal(reactor, make, installSignal=lambda s, h: None, pending=successor)
    restarter.startService()
    with capturedGatewayLogs() as events:
        assert restarter.restart() is True
        assert restarter.restart() is True  # asked twice: restarts once
    assert made == []
    assert any("restart deferred" in t and "4242" in t for t in texts(events))
    link.connectionLost(Failure(ConnectionDone()))  # children adopted, predecessor stopped
    assert made == []  # after what else waited for the predecessor
    reactor.advance(0)
    assert [r.restarts for r in made] == [1]
    restarter.restart()  # nothing pending any more: at once
    assert [r.restarts for r in made] == [2]


def test_a_deferred_restart_of_a_process_that_stops_meanwhile_does_not_happen(
    linkFd: int,
) -> None:
    reactor = FakeProcessReactor()
    successor, link, _, _ = linkedSuccessor(reactor, linkFd)
    made: list[Restarts] = []

    def make() -> Any:
        made.append(Restarts())
        return made[-1]

    restarter = RestartOnSignal(reactor, make, lambda s, h: None, successor)
    restarter.startService()
    restarter.restart()
    restarter.stopService()
    link.connectionLost(Failure(ConnectionDone()))
    reactor.advance(0)
    assert made == []


# -- what state.json, /health and status say meanwhile -----------------------------------------


def test_state_json_names_the_predecessor_until_it_has_stopped(tmp_path: Path) -> None:
    lock = InstanceLock(tmp_path)
    lock.acquire()
    reactor = FakeProcessReactor()
    top = InstanceService(tmp_path, lock, {"interface": "127.0.0.1"}, Clock())
    options: dict[str, Any] = {
        "handover": Inherited(4242, linkFd=-1),
        "restart-timeout": 30.0,
        "drain-timeout": 5.0,
    }
    successor = successorOf(cast(Any, options), reactor, top)
    assert successor is not None
    top.listening(9100)
    state = json.loads((tmp_path / STATE_FILE).read_text())
    assert state["handingOver"] == {"from": 4242, "within": 50.0}
    successor.predecessorGone()
    state = json.loads((tmp_path / STATE_FILE).read_text())
    assert "handingOver" not in state and state["port"] == 9100
    lock.release()


@pytest.fixture
def stopped(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pids: list[int] = []
    monkeypatch.setattr(
        childhandover, "stopProcess", lambda handed, clock, close=True: pids.append(handed.pid)
    )
    return pids


def test_health_says_the_hand_over_is_pending_until_the_children_have_come(
    stopped: list[int],
) -> None:
    clock = Clock()
    taking = ChildAdoption(clock, gateWait(30.0))
    taking.predecessor = 4242
    taking.pools = dict
    taking.start()
    clock.advance(2.5)
    report = taking.report()
    assert report["pending"] is True and report["from"] == 4242 and report["waited"] == 2.5
    assert restartData(report) == {
        "kept": 0,
        "started": 0,
        "seconds": None,
        "anew": [],
        "pending": True,
        "from": 4242,
    }
    taking.data(encodeRecord({"kind": "end", "left": 0, "fds": 0}))
    assert "pending" not in taking.report()
    assert "pending" not in (restartData(taking.report()) or {})


def test_a_child_that_comes_while_this_process_stops_is_stopped(stopped: list[int]) -> None:
    clock = Clock()
    taking = ChildAdoption(clock, gateWait(30.0))
    taking.pools = dict
    taking.start()
    taking.stopping()
    for fd in (os.open(os.devnull, os.O_RDONLY) for _ in range(3)):
        taking.descriptor(fd)
    with capturedGatewayLogs() as events:
        taking.data(encodeRecord(RECORD))
        taking.linkLost()
    assert stopped == [77]
    said = texts(events)
    assert any("this process is stopping" in t for t in said)
    assert not any("previous process exited" in t or "starting children" in t for t in said)


def test_status_says_the_hand_over_is_pending_not_that_children_were_lost() -> None:
    restart: dict[str, Any] = {"kept": 0, "started": 0, "seconds": None, "anew": []}
    restart.update(pending=True, waited=3.24, **{"from": 4242})
    [line] = restartSummary({"restart": restart})
    assert line.startswith("  restart: handing over from pid 4242 for 3.2 s:")
    assert "kept 0" not in line and "started anew" not in line
    # Without the details of /health (no admin token): state.json says it.
    [line] = restartSummary({}, {"handingOver": {"from": 4242, "within": 50.0}})
    assert line.startswith("  restart: handing over from pid 4242:")
    assert restartSummary({}, {}) == []

"""L{ListenerService}: "listening on" is said once listening's work is
done; a port another socket holds is said in one line, with its holder.
L{InstanceService.listensFirst}: the socket is taken before any other
service starts, and a refused one starts nothing but the log file."""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from twisted.application.service import Service
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.internet.testing import MemoryReactor, MemoryReactorClock
from twisted.logger import LogEvent, LogLevel, capturedLogs, formatEvent
from zope.interface import implementer

from mcpgateway.ops.services import Holder, InstanceService, ListenerService
from mcpgateway.ops.statedir import InstanceLock


@implementer(IListeningPort)
class Port:
    """A listening port that says where it listens."""

    def getHost(self) -> IPv4Address:
        return IPv4Address("TCP", "127.0.0.1", 9100)

    def startListening(self) -> None:
        pass

    def stopListening(self) -> None:
        pass


@implementer(IStreamServerEndpoint)
class Endpoint:
    """An endpoint that listens at once."""

    def listen(self, factory: Any) -> Deferred[IListeningPort]:
        return succeed(Port())


def test_the_line_comes_after_what_listening_sets_in_motion() -> None:
    """Tests, C{start} and people wait for the line and then read
    C{state.json} (written by C{onListening}): it must exist by then."""
    said: list[bool] = []
    with capturedLogs() as events:

        def onListening(port: int) -> None:
            said.append(any(e.get("log_format") == "listening on {where}" for e in events))

        reactor = MemoryReactor()
        ListenerService(
            Endpoint(), "tcp:9100", object(), reactor, onListening=onListening
        ).startService()
        reactor.run()
    assert said == [False]
    assert [e["where"] for e in events if e.get("log_format") == "listening on {where}"] == [
        "127.0.0.1:9100"
    ]


def test_what_listening_sets_in_motion_waits_for_the_reactor_to_run() -> None:
    """C{state.json} and the line tell whoever waits that the gateway
    answers; until the reactor runs, a connection waits in the backlog. The
    port is held at once, so a stop before then closes it."""
    heard: list[int] = []
    reactor = MemoryReactor()
    with capturedLogs() as events:
        service = ListenerService(
            Endpoint(), "tcp:9100", object(), reactor, onListening=heard.append
        )
        service.startService()
        assert heard == [] and not [
            e for e in events if e.get("log_format") == "listening on {where}"
        ]
        assert service.host == "127.0.0.1"
        reactor.run()
    assert heard == [9100]
    assert [e["where"] for e in events if e.get("log_format") == "listening on {where}"] == [
        "127.0.0.1:9100"
    ]


def test_a_listener_stopped_before_the_reactor_runs_writes_nothing() -> None:
    heard: list[int] = []
    reactor = MemoryReactor()
    service = ListenerService(Endpoint(), "tcp:9100", object(), reactor, onListening=heard.append)
    service.startService()
    service.stopService()
    reactor.run()
    assert heard == []


def test_the_line_is_said_when_what_listening_sets_in_motion_fails() -> None:
    """C{start} waits for it: without it, it would wait its whole timeout."""

    def onListening(port: int) -> None:
        raise RuntimeError("state directory gone")

    with capturedLogs() as events:
        reactor = MemoryReactor()
        service = ListenerService(
            Endpoint(), "tcp:9100", object(), reactor, onListening=onListening
        )
        service.startService()
        with pytest.raises(RuntimeError):  # the real reactor logs it
            reactor.run()
    assert [e["where"] for e in events if e.get("log_format") == "listening on {where}"] == [
        "127.0.0.1:9100"
    ]


@implementer(IStreamServerEndpoint)
class Refusing:
    """An endpoint whose listen fails as a socket's bind did."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def listen(self, factory: Any) -> Deferred[IListeningPort]:
        return fail(self.error)


def inUse(port: int = 9101, interface: str = "127.0.0.1") -> CannotListenError:
    return CannotListenError(interface, port, OSError(errno.EADDRINUSE, "Address already in use"))


CANNOT_LISTEN = "cannot listen on {endpoint}: {why}"


def critical(events: Sequence[LogEvent]) -> list[str]:
    """The listener's lines of a failure (not another test's leftovers)."""
    said = [e for e in events if e.get("log_format") == CANNOT_LISTEN]
    assert all(e["log_level"] == LogLevel.critical for e in said)
    return [formatEvent(e) or "" for e in said]


def test_a_port_in_use_is_said_with_its_holder_then_the_gateway_stops() -> None:
    """The holder is looked up (off the reactor thread) before the line is
    said and the process stopped: the line names it."""
    reactor = MemoryReactor()
    asked: list[tuple[int, str | None]] = []
    holder: Deferred[Holder] = Deferred()

    def findHolder(port: int, host: str | None) -> Deferred[Holder]:
        asked.append((port, host))
        return holder

    exits: list[int] = []
    service = ListenerService(
        Refusing(inUse()),
        "tcp:9101:interface=127.0.0.1",
        object(),
        reactor,
        exit=exits.append,
        findHolder=findHolder,
    )
    with capturedLogs() as events:
        service.startService()
        assert asked == [(9101, "127.0.0.1")]
        assert critical(events) == [] and reactor.whenRunningHooks == []
        holder.callback(4321)
    assert critical(events) == [
        "cannot listen on tcp:9101:interface=127.0.0.1: port 9101 is in use (by pid 4321);"
        " stop that process, or pick another port with --port"
    ]
    [event] = [e for e in events if e.get("log_format") == CANNOT_LISTEN]
    assert (event["port"], event["holder"]) == (9101, 4321)
    assert [hook[0] for hook in reactor.whenRunningHooks] == [reactor.stop]
    [(exit, args, _)] = reactor.triggers["after"]["shutdown"]
    assert (exit, args) == (exits.append, (1,))


@pytest.mark.parametrize("found", [succeed(None), fail(OSError("no /proc"))])
def test_a_port_in_use_whose_holder_is_unknown_is_said_without_a_pid(
    found: Deferred[Holder],
) -> None:
    reactor = MemoryReactor()
    service = ListenerService(
        Refusing(inUse(9102, "")),
        "tcp:9102",
        object(),
        reactor,
        exit=lambda code: None,
        findHolder=lambda port, host: found,
    )
    with capturedLogs() as events:
        service.startService()
    assert critical(events) == [
        "cannot listen on tcp:9102: port 9102 is in use; stop what holds it,"
        " or pick another port with --port"
    ]
    assert [hook[0] for hook in reactor.whenRunningHooks] == [reactor.stop]


def test_any_other_listening_failure_is_said_as_twisted_words_it() -> None:
    reactor = MemoryReactor()
    looked: list[int] = []

    def findHolder(port: int, host: str | None) -> Deferred[Holder]:
        looked.append(port)
        return succeed(None)

    denied = CannotListenError("127.0.0.1", 80, OSError(errno.EACCES, "Permission denied"))
    with capturedLogs() as events:
        ListenerService(
            Refusing(denied),
            "tcp:80",
            object(),
            reactor,
            exit=lambda code: None,
            findHolder=findHolder,
        ).startService()
    assert looked == []
    [line] = critical(events)
    assert line.startswith("cannot listen on tcp:80: Couldn't listen on 127.0.0.1:80")
    assert "in use" not in line and "Permission denied" in line


def test_the_default_lookup_needs_a_reactor_with_threads() -> None:
    """A reactor without a thread pool (this one) gets no pid, never a
    blocking read of /proc on its own thread."""
    reactor = MemoryReactor()
    with capturedLogs() as events:
        ListenerService(
            Refusing(inUse(9103)), "tcp:9103", object(), reactor, exit=lambda code: None
        ).startService()
    assert critical(events) == [
        "cannot listen on tcp:9103: port 9103 is in use; stop what holds it,"
        " or pick another port with --port"
    ]


class Recording(Service):
    """A service that notes when it starts and stops in C{said}."""

    def __init__(self, name: str, said: list[str]) -> None:
        self.label = name
        self.said = said

    def startService(self) -> None:
        super().startService()
        self.said.append(f"{self.label} started")

    def stopService(self) -> None:
        super().stopService()
        self.said.append(f"{self.label} stopped")


@implementer(IStreamServerEndpoint)
class Noting:
    """An endpoint that notes its listen in C{said}, then does as C{inner}."""

    def __init__(self, inner: IStreamServerEndpoint, said: list[str]) -> None:
        self.inner = inner
        self.said = said

    def listen(self, factory: Any) -> Deferred[IListeningPort]:
        self.said.append("listen")
        return self.inner.listen(factory)


def tree(
    tmp_path: Path, endpoint: IStreamServerEndpoint, said: list[str]
) -> tuple[InstanceService, MemoryReactorClock]:
    """A root holding a log-file stand-in, a gateway stand-in and the
    listener, in the wiring's order, the listener taking its socket first."""
    lock = InstanceLock(tmp_path)
    lock.acquire()
    reactor = MemoryReactorClock()
    top = InstanceService(tmp_path, lock, {}, reactor)
    log, gateway = Recording("log", said), Recording("gateway", said)
    log.setServiceParent(top)
    gateway.setServiceParent(top)
    listener = ListenerService(
        Noting(endpoint, said), "tcp:9104", object(), reactor, exit=lambda code: None
    )
    listener.setServiceParent(top)
    top.listensFirst(listener, log)
    return top, reactor


@pytest.mark.parametrize("privileged", [True, False])
def test_the_socket_is_taken_before_any_service_starts(tmp_path: Path, privileged: bool) -> None:
    """twistd's privileged start, or C{twist}'s start alone: the listen
    comes first, once."""
    said: list[str] = []
    top, _ = tree(tmp_path, Endpoint(), said)
    if privileged:
        top.privilegedStartService()
        assert said == ["listen"]
    top.startService()
    assert said == ["listen", "log started", "gateway started"]
    top.stopService()
    assert said[3:] == ["gateway stopped", "log stopped"]


@pytest.mark.parametrize("privileged", [True, False])
def test_a_refused_socket_starts_only_the_reporting_services(
    tmp_path: Path, privileged: bool
) -> None:
    """Nothing serves: the services below leave the tree unstarted (none
    is stopped either), but the log file, which holds the line."""
    said: list[str] = []
    top, reactor = tree(tmp_path, Refusing(inUse(9104)), said)
    with capturedLogs() as events:
        if privileged:
            top.privilegedStartService()
        top.startService()
    assert said == ["listen", "log started"]
    assert critical(events) == [
        "cannot listen on tcp:9104: port 9104 is in use;"
        " stop what holds it, or pick another port with --port"
    ]
    assert [type(service).__name__ for service in top] == ["Recording"]
    assert [hook[0] for hook in reactor.whenRunningHooks] == [reactor.stop]
    top.stopService()
    assert said[2:] == ["log stopped"]


def test_a_port_another_account_holds_is_said_as_that_accounts() -> None:
    """A gateway that died left its port to whoever takes it: the line
    names the account whose socket listens there (its process is not this
    account's to see)."""
    reactor = MemoryReactor()
    other = os.geteuid() + 1
    service = ListenerService(
        Refusing(inUse()),
        "tcp:9101:interface=127.0.0.1",
        object(),
        reactor,
        exit=lambda code: None,
        findHolder=lambda port, host: succeed((None, other)),
    )
    with capturedLogs() as events:
        service.startService()
    [line] = critical(events)
    assert f"port 9101 is held by another account's process (uid {other}" in line
    assert "reaches that account, not your gateway" in line


def test_a_port_another_account_holds_has_the_adopted_entries_put_back_before_the_stop() -> None:
    """The client entries a gateway that died left pointing at the port
    would reach that account: they are put back (in a worker thread), said
    after the line that names the account, and only then does the process
    stop."""
    reactor = MemoryReactor()
    putting: Deferred[list[str]] = Deferred()
    asked: list[bool] = []

    def putBack() -> Deferred[list[str]]:
        asked.append(True)
        return putting

    service = ListenerService(
        Refusing(inUse()),
        "tcp:9101:interface=127.0.0.1",
        object(),
        reactor,
        exit=lambda code: None,
        findHolder=lambda port, host: succeed((None, os.geteuid() + 1)),
        putBack=putBack,
    )
    with capturedLogs() as events:
        service.startService()
        assert asked == [True] and len(critical(events)) == 1
        assert reactor.whenRunningHooks == []  # not stopped while they are put back
        putting.callback(["put back in /home/u/.claude.json: memory"])
    [said] = [e for e in events if e.get("log_level") == LogLevel.warn]
    assert "put back as they were" in formatEvent(said)
    assert "memory" in formatEvent(said)
    assert [hook[0] for hook in reactor.whenRunningHooks] == [reactor.stop]


@pytest.mark.parametrize("uid", [None, "own"])
def test_a_port_this_account_holds_or_no_one_knows_whose_puts_nothing_back(
    uid: str | None,
) -> None:
    asked: list[bool] = []

    def putBack() -> Deferred[list[str]]:
        asked.append(True)
        return succeed([])

    service = ListenerService(
        Refusing(inUse()),
        "tcp:9101:interface=127.0.0.1",
        object(),
        MemoryReactor(),
        exit=lambda code: None,
        findHolder=lambda port, host: succeed((4242, os.geteuid() if uid else None)),
        putBack=putBack,
    )
    service.startService()
    assert asked == []

"""The allow-list proxy outlives the confined children of a stopping
gateway: the gateway drains its calls in flight before it stops its
children, and a call that goes out during the drain needs its proxy
socket. The sockets close once every child held has ended, or after
L{STOP_WAIT} seconds."""

from __future__ import annotations

import os
from pathlib import Path

from twisted.internet.defer import Deferred

from mcpgateway.startup.netproxy import STOP_WAIT
from tests.support.startup.netproxy import proxyOf


def test_the_sockets_stay_until_the_children_held_have_ended(tmp_path: Path) -> None:
    proxy, _, _ = proxyOf(tmp_path)
    path = proxy.socketFor("a", ("x.com",))
    first: Deferred[None] = Deferred()
    second: Deferred[None] = Deferred()
    proxy.hold(first)
    proxy.hold(second)
    proxy.startService()
    stopping = proxy.stopService()
    assert stopping is not None and not stopping.called
    assert (tmp_path / "run").exists() and path in proxy.sockets.values()
    assert len(proxy.ports) == 1  # still listening
    first.callback(None)
    assert not stopping.called
    second.callback(None)
    assert stopping.called
    assert not (tmp_path / "run").exists() and proxy.ports == []


def test_a_child_that_ended_before_the_stop_holds_nothing(tmp_path: Path) -> None:
    proxy, _, _ = proxyOf(tmp_path)
    proxy.socketFor("a", ("x.com",))
    ended: Deferred[None] = Deferred()
    proxy.hold(ended)
    ended.callback(None)
    proxy.startService()
    assert proxy.stopService() is None
    assert not (tmp_path / "run").exists()


def test_the_childs_end_goes_on_to_its_other_listeners(tmp_path: Path) -> None:
    proxy, _, _ = proxyOf(tmp_path)
    ended: Deferred[None] = Deferred()
    proxy.hold(ended)
    heard: list[object] = []
    ended.addCallback(heard.append)
    ended.callback(None)
    assert heard == [None]


def test_without_sockets_nothing_is_waited_for(tmp_path: Path) -> None:
    proxy, _, _ = proxyOf(tmp_path)
    proxy.hold(Deferred())
    proxy.startService()
    assert proxy.stopService() is None


def test_a_child_never_seen_to_end_holds_the_stop_at_most_stop_wait(tmp_path: Path) -> None:
    proxy, reactor, _ = proxyOf(tmp_path)
    proxy.socketFor("a", ("x.com",))
    proxy.hold(Deferred())
    proxy.startService()
    stopping = proxy.stopService()
    assert stopping is not None
    reactor.advance(STOP_WAIT - 1)
    assert not stopping.called
    reactor.advance(1)
    assert stopping.called and not (tmp_path / "run").exists()


def test_a_restart_takes_the_listening_sockets_for_the_same_allow_lists(tmp_path: Path) -> None:
    import socket

    old, _, _ = proxyOf(tmp_path)
    path = old.socketFor("a", ("x.com",), ("y.x.com",))
    port = old.tcpPorts.get(("tcp:a", ("x.com",), ())) or old.portFor("a", ("x.com",))
    for fileno, listening in enumerate(old.ports, start=40):
        listening.fileno = lambda fileno=fileno: fileno  # type: ignore[attr-defined]
        listening.stopReading = lambda: None  # type: ignore[attr-defined]
    handed = old.listening()
    assert [(r["where"], r["server"], fd) for r, fd in handed] == [
        (path, "a", 40),
        (f"tcp:{port}", "a", 41),
    ]
    new, reactor, _ = proxyOf(tmp_path / "new")
    adopted: list[int] = []

    def adoptStreamPort(fd: int, family: int, factory: object) -> object:
        adopted.append(family)
        return type("Listening", (), {"stopListening": lambda self: None})()

    reactor.adoptStreamPort = adoptStreamPort  # type: ignore[method-assign]
    for record, _ in handed:
        assert new.adopt(record, os.open(os.devnull, os.O_RDONLY))
    assert adopted == [socket.AF_UNIX, socket.AF_INET]
    # The same allow lists get the same socket and port: nothing listens anew.
    assert new.socketFor("a", ("x.com",), ("y.x.com",)) == path
    assert new.portFor("a", ("x.com",)) == port
    assert new.directory == str(tmp_path / "run") and reactor.unixServers == []
    # The old process leaves them (and their files) to the new one.
    old.handOver()
    assert old.stopService() is None and os.path.isdir(tmp_path / "run")


def test_a_socket_record_that_is_not_the_proxys_is_refused_and_closed(tmp_path: Path) -> None:
    proxy, reactor, _ = proxyOf(tmp_path)
    fd = os.open(os.devnull, os.O_RDONLY)
    assert not proxy.adopt({"where": "relative.sock", "server": "a"}, fd)
    try:
        os.fstat(fd)
    except OSError:
        pass
    else:
        raise AssertionError("the descriptor of a refused record stays open")
    assert reactor.adoptedPorts == [] and proxy.sockets == {}

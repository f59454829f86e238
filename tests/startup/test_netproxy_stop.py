"""The allow-list proxy outlives the confined children of a stopping
gateway: the gateway drains its calls in flight before it stops its
children, and a call that goes out during the drain needs its proxy
socket. The sockets close once every child held has ended, or after
L{STOP_WAIT} seconds."""

from __future__ import annotations

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

"""The allow-list proxy is made when a child first asks for it, started
and stopped with the tree it is under."""

from __future__ import annotations

from pathlib import Path

from twisted.internet.defer import Deferred

from mcpgateway.runtime.threads import runInline
from mcpgateway.startup.ondemandproxy import OnDemandProxy
from tests.fakes import FakeProcessReactor


def test_the_allow_list_proxy_is_made_when_a_child_first_asks_for_its_socket() -> None:
    proxy = OnDemandProxy(FakeProcessReactor(), runInline)
    proxy.startService()
    proxy.hold(Deferred())  # a child with no allow list: nothing to keep open
    proxy.handOver()
    assert proxy.made is None
    assert proxy.status("s") is None and proxy.listening() == []
    path = proxy.socketFor("s", ("api.example.com",))
    made = proxy.made
    assert made is not None and made.running  # started, as the tree it is under
    assert proxy.socketFor("s", ("api.example.com",)) == path and proxy.made is made
    assert proxy.status("s") == {"open": 0, "refused": 0, "refusedHosts": []}
    proxy.stopService()
    assert not made.running and not Path(path).parent.exists()  # its sockets' directory


def test_a_proxy_made_before_the_tree_starts_starts_with_it() -> None:
    proxy = OnDemandProxy(FakeProcessReactor(), runInline)
    proxy.recorderFor("s", "/nonexistent/hosts")
    made = proxy.made
    assert made is not None and not made.running
    proxy.startService()
    assert made.running
    proxy.stopService()

"""The private Twisted names the gateway relies on are all still there: a
Twisted release that renames one fails here, not in a user's gateway."""

from __future__ import annotations

import importlib

from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.web.client import HTTPConnectionPool
from twisted.web.http import HTTPChannel
from zope.interface.interface import InterfaceClass

from mcpgateway.runtime import twistedprivate


def test_every_name_imports_and_is_what_it_is_used_as() -> None:
    assert isinstance(twistedprivate.IEncodingResource, InterfaceClass)
    assert isinstance(twistedprivate.ISupportsExitSignalCapturing, InterfaceClass)
    assert issubclass(twistedprivate.WrapperException, Exception)
    assert issubclass(twistedprivate.RequestNotSent, Exception)
    assert callable(twistedprivate.GenericHTTPChannelProtocol)
    assert callable(twistedprivate.HTTP11ClientFactory)
    args, kwargs = twistedprivate.parseEndpoint("tcp:9101:interface=127.0.0.1")
    assert (args, kwargs) == (["tcp", "9101"], {"interface": "127.0.0.1"})
    assert importlib.import_module(twistedprivate.TWIST_MODULE) is not None


def test_the_channel_attributes_exist() -> None:
    channel = HTTPChannel()
    channel.makeConnection(StringTransport())
    for name in twistedprivate.CHANNEL_ATTRIBUTES:
        assert hasattr(channel, name), name


def test_the_pool_attributes_exist() -> None:
    pool = HTTPConnectionPool(MemoryReactorClock(), persistent=True)
    for name in twistedprivate.POOL_ATTRIBUTES:
        assert hasattr(pool, name), name


def test_the_port_attributes_exist() -> None:
    from twisted.internet import tcp

    for name in twistedprivate.PORT_ATTRIBUTES:
        assert hasattr(tcp.Port, name), name


def test_the_reactor_attributes_exist() -> None:
    try:
        from twisted.internet.epollreactor import EPollReactor
    except ImportError:  # no epoll here: the gateway's reactor is not used
        return
    reactor = EPollReactor()
    try:
        for name in twistedprivate.REACTOR_ATTRIBUTES:
            assert hasattr(reactor, name), name
    finally:
        reactor._poller.close()


def test_the_launcher_warms_the_twist_runner_by_its_listed_name() -> None:
    """C{mcpgateway.launch} names Twisted's private C{twist} module as a
    string (it imports nothing heavy before twistd runs): the same name."""
    from mcpgateway import launch

    assert twistedprivate.TWIST_MODULE in launch.WARM_MODULES


def test_the_client_side_names_load_at_their_first_use() -> None:
    from twisted.web import client

    assert twistedprivate.HTTP11ClientFactory is client._HTTP11ClientFactory
    try:
        twistedprivate.nothing  # noqa: B018
    except AttributeError as e:
        assert "nothing" in str(e)
    else:
        raise AssertionError("an unknown name was found")

"""The private Twisted names the gateway relies on are all still there: a
Twisted release that renames one fails here, not in a user's gateway.
(C{test_twistedprivate_uses.py} checks the register lists every one the
gateway uses.)"""

from __future__ import annotations

import importlib
import inspect
import re

import pytest
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


def twistedObject(dotted: str) -> object:
    """What the dotted name C{dotted} names: a module, or a name in one."""
    try:
        return importlib.import_module(dotted)
    except ImportError:
        module, _, name = dotted.rpartition(".")
        return getattr(importlib.import_module(module), name)


def definesItself(cls: type, name: str) -> bool:
    """Whether C{cls} or a Twisted class of its MRO defines C{name}: as a
    class attribute or method, or as C{self.name = ...} in its source."""
    for klass in cls.__mro__:
        if not klass.__module__.startswith("twisted."):
            continue
        if name in vars(klass):
            return True
        if re.search(rf"\bself\.{name}\s*(?::[^=\n]*)?=(?!=)", inspect.getsource(klass)):
            return True
    return False


@pytest.mark.parametrize("owner", sorted(twistedprivate.ATTRIBUTES))
def test_each_registered_attribute_is_defined_by_its_twisted_class(owner: str) -> None:
    cls = twistedObject(owner)
    assert isinstance(cls, type), owner
    for name, why in twistedprivate.ATTRIBUTES[owner].items():
        assert why, name
        assert definesItself(cls, name), f"{owner}.{name}"


def test_the_attribute_check_fails_for_a_name_twisted_does_not_define() -> None:
    from twisted.web.http import Request

    assert definesItself(Request, "_disconnected")
    assert not definesItself(Request, "_noSuchAttribute")


def test_each_registered_import_imports() -> None:
    for dotted in sorted(twistedprivate.IMPORTS):
        assert twistedObject(dotted) is not None, dotted


def test_a_live_channel_has_the_attributes_the_gateways_channel_reads() -> None:
    channel = HTTPChannel()
    channel.makeConnection(StringTransport())
    for name in twistedprivate.ATTRIBUTES["twisted.web.http.HTTPChannel"]:
        assert hasattr(channel, name), name


def test_a_live_pool_has_its_factory() -> None:
    pool = HTTPConnectionPool(MemoryReactorClock(), persistent=True)
    assert hasattr(pool, "_factory")


def test_a_live_epoll_reactor_has_the_attributes_the_gateways_reactor_reads() -> None:
    try:
        from twisted.internet.epollreactor import EPollReactor
    except ImportError:  # no epoll here: the gateway's reactor is not used
        return
    reactor = EPollReactor()
    try:
        for owner in (
            "twisted.internet.epollreactor.EPollReactor",
            "twisted.internet.posixbase._PollLikeMixin",
        ):
            for name in twistedprivate.ATTRIBUTES[owner]:
                assert hasattr(reactor, name), name
    finally:
        reactor._poller.close()


def test_the_warm_up_warms_the_twist_runner_by_its_listed_name() -> None:
    """The bytecode warm-up names Twisted's private C{twist} module as a
    string (it imports nothing heavy before it runs): the same name."""
    from mcpgateway.runtime import warmup

    assert twistedprivate.TWIST_MODULE in warmup.WARM_MODULES


def test_the_client_side_names_load_at_their_first_use() -> None:
    from twisted.web import client

    assert twistedprivate.HTTP11ClientFactory is client._HTTP11ClientFactory
    try:
        twistedprivate.nothing  # noqa: B018
    except AttributeError as e:
        assert "nothing" in str(e)
    else:
        raise AssertionError("an unknown name was found")

"""L{IReactor}: one type for the reactor the wiring hands around, which
Twisted's reactors and the tests' fake reactor provide."""

from __future__ import annotations

import pytest
from twisted.internet.interfaces import IReactorTCP, IReactorThreads, IReactorTime
from zope.interface import Interface
from zope.interface.verify import verifyObject

from mcpgateway.runtime.reactortype import IReactor, installedReactor
from mcpgateway.tuned import reactor as gatewayreactor
from tests.fakes import FakeProcessReactor

PARTS: tuple[type[Interface], ...] = IReactor.__bases__
"""The Twisted interfaces L{IReactor} is made of."""


@pytest.mark.parametrize("part", [IReactorTime, IReactorTCP, IReactorThreads])
def test_a_provider_is_each_of_its_parts(part: type[Interface]) -> None:
    assert IReactor.extends(part)


def _reactorClasses() -> list[type]:
    """The gateway's reactor and Twisted's own that it may run on (whichever
    this system has)."""
    from twisted.internet.selectreactor import SelectReactor

    found: list[type] = [SelectReactor]
    if gatewayreactor.AVAILABLE:
        from twisted.internet.epollreactor import EPollReactor

        found += [gatewayreactor.GatewayReactor, EPollReactor]
    return found


@pytest.mark.parametrize("reactorClass", _reactorClasses(), ids=lambda kind: kind.__name__)
def test_the_reactors_the_gateway_runs_on_provide_every_part(reactorClass: type) -> None:
    # What makes installedReactor's word true: each part IReactor names is
    # implemented by the reactors every way of running the gateway installs.
    missing = [part.__name__ for part in PARTS if not part.implementedBy(reactorClass)]
    assert missing == []


def test_the_fake_reactor_provides_it() -> None:
    assert verifyObject(IReactor, FakeProcessReactor())


def test_the_fake_reactors_threads_run_at_once() -> None:
    reactor = FakeProcessReactor()
    ran: list[str] = []
    reactor.callInThread(ran.append, "in a thread")
    reactor.callFromThread(ran.append, "from a thread")
    assert ran == ["in a thread", "from a thread"]


def test_the_installed_reactor_is_twisteds_global_one() -> None:
    from twisted.internet import reactor

    installed: object = installedReactor()  # compared as objects: Twisted types it otherwise
    assert installed is reactor

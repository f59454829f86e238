# -*- test-case-name: tests.runtime.test_reactortype -*-
"""The type of the reactor the gateway's wiring hands around.

L{mcpgateway.startup.wiring.makeService} resolves the reactor once and
hands it to everything it builds. What it hands is one object that is at
once a clock, a process spawner, a TCP and UNIX socket maker, a thread
pool's owner and the loop's core: L{IReactor} says so in one type, as an
interface made of Twisted's own (with the mypy-zope plugin, a provider of
L{IReactor} is accepted wherever any of them is asked for, so a class that
needs only the clock still asks for C{IReactorTime}, the narrowest type).

Twisted's reactors provide each of these interfaces but do not declare
L{IReactor} itself, and Twisted types the global reactor with its commonest
parts only: L{installedReactor} says what it is, for the places that
resolve it (C{makeService}, the bridge). The tests'
C{tests.fakes.FakeProcessReactor} declares it.
"""

from __future__ import annotations

from typing import cast

from twisted.internet.interfaces import (
    IReactorCore,
    IReactorFDSet,
    IReactorPluggableNameResolver,
    IReactorProcess,
    IReactorSocket,
    IReactorTCP,
    IReactorThreads,
    IReactorTime,
    IReactorUDP,
    IReactorUNIX,
    IReactorUNIXDatagram,
)


class IReactor(
    IReactorCore,
    IReactorTime,
    IReactorProcess,
    IReactorTCP,
    IReactorUNIX,
    IReactorUDP,
    IReactorUNIXDatagram,
    IReactorSocket,
    IReactorFDSet,
    IReactorThreads,
    IReactorPluggableNameResolver,
):
    """A reactor as the gateway uses it: time (C{callLater}, C{seconds}),
    children (C{spawnProcess}), TCP and UNIX listeners and connections
    (audit export's datagrams too), adopted sockets (a restart's hand-over),
    the thread pool (C{callInThread}, C{getThreadPool}, C{callFromThread}),
    the loop's core (C{addSystemEventTrigger}, C{callWhenRunning}, C{stop},
    C{running}), descriptors to watch (inotify's) and the pluggable name
    resolver."""


def installedReactor() -> IReactor:
    """The reactor installed in this process (Twisted's default one unless
    one was installed first), as an L{IReactor}: Twisted types the global
    reactor with only its commonest parts."""
    from twisted.internet import reactor

    return cast("IReactor", reactor)

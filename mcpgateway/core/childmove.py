# -*- test-case-name: tests.core.test_childmove,tests.core.pools.test_runningchildren -*-
"""A running child moved, in one gateway process, from the upstream of a
server's pool to the upstream of the pool that replaces it: L{moveChild}.

A reload replaces a server's pool when how its children are shared
changes: a repository's entry of the name of one of your servers comes
(your one shared child becomes the child of your route in a pool with a
child per launch) or goes (the other way). The sessions of the routes
whose launch is the same carry on in the new pool
(L{mcpgateway.core.gateway.reconfiguring}); so does the child that serves
them, with what it holds in memory, rather than stop with the old pool and
start again in the new one.

The process stays where it is, a child of this gateway: its protocol
gives what it writes to the new upstream from then on
(L{ChildProtocol.serveTo}), which serves it as it would a child kept from a
restart (its C{initialize} results, the router's next id, the values of its
secrets, its sandbox's refusals). A child moves only as a restart would
hand it over (L{mcpgateway.core.adopted.whyNotMovable}: nothing in flight,
nothing unsent), and a confined one only while the new pool would lay out
the same sandbox (L{mcpgateway.core.adopted.compareLayout}); any other stays
with the old pool, which stops it, and the new pool starts its own. When
the only difference is paths that routes or servers added since the child
started name (the repository's workspace, masked from your route's child),
it moves, and whether its sandbox hides them is then read off this
machine's files in a worker thread (L{Moved.check}): a child that sees
them is stopped, and the new pool starts one that does not.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import NamedTuple

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.adopted import (
    LayoutCheck,
    buildOfLayout,
    compareLayout,
    confinementNow,
    probeAnswered,
    refusalsOf,
    unmaskedWhy,
    whyNotMovable,
)
from mcpgateway.core.child import Child, ChildProtocol
from mcpgateway.core.handedchild import HandedChild
from mcpgateway.core.identity import presentedResult
from mcpgateway.core.spawn import ConfinedChild, Spawner
from mcpgateway.core.status import Lifecycle
from mcpgateway.core.upstream import Upstream
from mcpgateway.runtime import logs
from mcpgateway.runtime.threads import RunInThread

log = Logger(observer=logs.observer, namespace="mcpgateway.core.childmove")

MOVED = "was moved to its server's new pool"
"""How the old upstream's events say its child left."""
CAME = "moved from its server's previous pool"
"""How the new upstream's events say its child came."""


class Moved(NamedTuple):
    """How a move went (L{moveChild})."""

    why: str | None = None
    """Why the child did not move (C{None}: it did)."""
    check: LayoutCheck | None = None
    """What is left to read off this machine's files: whether the moved
    child's sandbox hides what servers (or routes) added since it started
    name (C{None}: nothing); the caller stops it when it does not."""


def whyNotMoved(old: Upstream, new: Upstream, spawner: Spawner) -> Moved:
    """Whether C{old}'s child can be served as C{new}'s: why not, or what
    is left to read of its sandbox once it is."""
    why = whyNotMovable(old)
    if why is not None:
        return Moved(why)
    if new.child is not None or new.state is not Lifecycle.STOPPED:
        return Moved("its new pool has a child of its own")
    child = old.child
    if not isinstance(child, ConfinedChild):
        return Moved()
    if confinementNow(spawner, new.spec) != child.confinement:
        return Moved("its server's sandbox setting changed")
    if probeAnswered(spawner) is not None:
        return Moved("the sandbox probe has not answered")
    laidOut = HandedChild(
        old.spec.name,
        "",
        "",
        child.pid or 0,
        child.pid or 0,
        confinement=child.confinement,
        layout=child.layout,
        command=old.spec.command,
        probed=dict(child.probed),
        others=child.others,
    )
    launch = None if child.launch is None else replace(child.launch, name=new.spec.name)
    return Moved(*compareLayout(spawner, new, laidOut, launch))


def moveChild(old: Upstream, new: Upstream, spawner: Spawner) -> Moved:
    """Serve C{old}'s running child as C{new}'s from now on (see the module
    docstring), unless L{whyNotMoved} says why not (it stays C{old}'s)."""
    moved = whyNotMoved(old, new, spawner)
    if moved.why is not None:
        return moved
    child = old.child
    assert isinstance(child, ChildProtocol)
    nextId = next(old.router._ids)
    given, redactor = old.givenSecrets, old.redactor
    result = old.childInitializeResult
    new.sessionInitializeResult = old.sessionInitializeResult
    new.sessionCapabilities = old.sessionCapabilities
    old._forget(child, MOVED, gone=False)
    spawned: list[Child] = [child]
    child.serveTo(lambda message: new._fromChild(spawned, message), new._stderr, new._outputLost)
    if isinstance(child, ConfinedChild):
        child.onKept = new._sandboxRefused
        new.router.resultCheck = refusalsOf(new, child, spawner)
    new.router._ids = itertools.count(nextId)
    new.childInitializeResult = result
    new.initializeResult = None if result is None else presentedResult(result, new.spec)
    new.adoptChild(child, CAME)
    new.givenSecrets, new.redactor = given, redactor
    return moved


def checkMoved(
    upstream: Upstream, check: LayoutCheck, runInThread: RunInThread | None
) -> Deferred[str | None]:
    """Read, in a worker thread, whether the sandbox of C{upstream}'s moved
    child hides what routes or servers added since it started name
    (L{Moved.check}), and stop the child when it does not, or when that
    cannot be read (its pool starts one that does): fires with why it was
    stopped (C{None}: it was not)."""
    child = upstream.child

    def read(unmasked: tuple[str, ...]) -> str | None:
        return None if not unmasked else unmaskedWhy(unmasked)

    def unread(failure: Failure) -> str:
        log.failure(
            "server {server}: reading a moved child's sandbox", failure, server=upstream.spec.name
        )
        return "its sandbox could not be compared with what its new pool would give"

    def stopped(why: str | None) -> str | None:
        if why is not None and upstream.child is child:
            upstream.stop(why=why)
            return why
        return None

    if runInThread is None:
        return succeed(stopped("its sandbox could not be read here"))
    buildOfLayout()  # imported here, on the reactor's thread
    reading: Deferred[str | None] = runInThread(check.unmasked).addCallbacks(read, unread)
    return reading.addCallback(stopped)

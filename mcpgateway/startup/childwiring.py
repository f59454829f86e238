# -*- test-case-name: tests.integration.continuity.test_restart_children -*-
"""The wiring of a restart's hand-over of the running children
(L{mcpgateway.ops.childhandover}): the old process's sender, the new
process's adoption, and the spawner's gate between them. Kept out of
L{mcpgateway.startup.wiring} so that each stays one screenful of wiring.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twisted.application.service import IServiceCollection

    from mcpgateway.core.gateway.gateway import Gateway
    from mcpgateway.core.spawn import ChildWatcher
    from mcpgateway.ops.childhandover import ChildAdoption, ChildSender
    from mcpgateway.ops.warden import Warden
    from mcpgateway.runtime.reactortype import IReactor


ADOPT_GRACE = 60.0
"""C{--adopt-grace}'s default, in seconds."""


def adoptGraceParameters(nonNegative: Callable[[str], float]) -> list[list[Any]]:
    """The C{optParameters} entry of C{--adopt-grace}."""
    return [
        [
            "adopt-grace",
            None,
            ADOPT_GRACE,
            "Seconds the children of a gateway that died without a hand-over (SIGKILL, OOM, a"
            " crash) are kept running, their pipes held by its warden, for the next gateway on"
            " the same state directory to take them with their memory; 0 stops them at once.",
            nonNegative,
        ]
    ]


def wardenFor(options: Any, reactor: IReactor, ledger: ChildWatcher, stateDir: Path) -> Warden:
    """The gateway's warden, told of every child after the C{ledger}: with
    C{--adopt-grace}, one that keeps the children that long after a crash
    for the next gateway (L{mcpgateway.ops.crashkeep})."""
    from mcpgateway.ops.warden import Warden, wardenCommand
    from mcpgateway.ops.wardenfiles import KEY, REPORT, SOCKET

    grace = float(options.get("adopt-grace") or 0.0)
    command = wardenCommand(
        grace=grace, listen=str(stateDir / SOCKET), report=str(stateDir / REPORT)
    )
    return Warden(reactor, ledger, command, keeps=grace > 0, keyFile=stateDir / KEY)


def adoptionFor(
    successor: Any, reactor: IReactor, options: Any, stateDir: Path
) -> ChildAdoption | None:
    """In a process a restart started (C{successor}: its link to the
    predecessor): what takes the predecessor's children, told by the link;
    in a process that finds a crashed gateway's warden waiting in its state
    directory: what takes the children it keeps, with the secret its
    warden asks for (read now: this process's own warden replaces it); in
    a process after a crash whose children it cannot get, what names them
    (L{mcpgateway.ops.anew}); else C{None}."""
    if successor is None:
        from mcpgateway.ops.anew import crashedChildren
        from mcpgateway.ops.crashkeep import TAKE_WAIT
        from mcpgateway.ops.wardenfiles import readKey, wardenWaits

        waits, lost = wardenWaits(stateDir), crashedChildren(stateDir)
        if not waits and not lost:
            return None
        from mcpgateway.ops.childhandover import ChildAdoption

        crashed = ChildAdoption(reactor, TAKE_WAIT)
        crashed.proof = readKey(stateDir) if waits else b""
        crashed.startedAnew(lost)
        return crashed
    from mcpgateway.ops.childhandover import ChildAdoption, gateWait

    adoption = ChildAdoption(reactor, gateWait(options["restart-timeout"]))
    adoption.predecessor = successor.predecessorPid  # named while its children come
    successor.children = adoption
    return adoption


def wireAdoption(
    gateway: Gateway, top: IServiceCollection, reactor: IReactor, stateDir: Path, successor: Any
) -> None:
    """Give the gateway's adoption (if any) its pools and spawner, and
    its sandbox the warden: a confined child started while the warden
    runs does not die with this process, so a restart can keep it. With
    C{--adopt-grace}, the warden is given the children as they start, and
    a crashed gateway's warden waiting in the state directory its own
    (L{mcpgateway.ops.crashkeep})."""
    from mcpgateway.ops.crashkeep import CrashAdoption, CrashKeeping
    from mcpgateway.startup.process import threadRunner

    watcher = gateway.spawner.watcher
    resolver = gateway.settings.resolver
    if watcher is not None and hasattr(resolver, "warden"):
        resolver.warden = watcher  # type: ignore[union-attr]  # its installs: the warden's care
    watchedBy = getattr(gateway.spawner.secrets, "watchedBy", None)
    if watcher is not None and watchedBy is not None:
        watchedBy(watcher)  # an `op read` too
    guard = getattr(watcher, "guard", None)
    if guard is not None and hasattr(gateway.spawner.confiner, "guard"):
        gateway.spawner.confiner.guard = guard  # type: ignore[union-attr]
    if watcher is not None and hasattr(gateway.spawner.confiner, "warden"):
        gateway.spawner.confiner.warden = watcher  # type: ignore[union-attr]  # and its probe
    proxy = getattr(gateway.spawner.confiner, "proxy", None)
    adoption = _adopting(gateway.spawner.adoptions)
    if adoption is not None:
        adoption.pools = lambda: dict(gateway.pools)
        adoption.spawner = gateway.spawner
        adoption.proxy = proxy
        adoption.runInThread = threadRunner(reactor)
        if successor is None:  # a crashed gateway's warden waits with its children
            CrashAdoption(reactor, stateDir, adoption, adoption.proof).setServiceParent(top)
        else:  # the predecessor's questions to clients are answered here meanwhile
            from mcpgateway.ops.lateanswers import AnswerPassing

            gateway.answersElsewhere = AnswerPassing(successor, adoption)
    if getattr(watcher, "keeps", False):
        pools = lambda: dict(gateway.pools)  # noqa: E731
        CrashKeeping(pools, watcher, reactor).setServiceParent(top)  # type: ignore[arg-type]


def _adopting(gate: object) -> ChildAdoption | None:
    """The spawner's adoption gate when it takes a restart's or a crash's
    children (L{adoptionFor}, which loaded its module), else C{None}."""
    if gate is None:
        return None
    from mcpgateway.ops.childhandover import ChildAdoption

    return gate if isinstance(gate, ChildAdoption) else None


def childSender(gateway: Gateway, reactor: IReactor) -> ChildSender:
    """What passes the gateway's running children to a restart's next
    process, and tells the warden of each one it took."""
    from mcpgateway.ops.childhandover import ChildSender

    watcher = gateway.spawner.watcher
    proxy = getattr(gateway.spawner.confiner, "proxy", None)
    return ChildSender(
        lambda: dict(gateway.pools), reactor, getattr(watcher, "handedOver", None), proxy
    )

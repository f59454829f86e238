# -*- test-case-name: tests.integration.test_restart_children -*-
"""The wiring of a restart's hand-over of the running children
(L{mcpgateway.ops.childhandover}): the old process's sender, the new
process's adoption, and the spawner's gate between them. Kept out of
L{mcpgateway.startup.wiring} so that each stays one screenful of wiring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcpgateway.core.gateway.gateway import Gateway
    from mcpgateway.ops.childhandover import ChildAdoption, ChildSender
    from mcpgateway.runtime.reactortype import IReactor


def adoptionFor(successor: Any, reactor: IReactor, restartTimeout: float) -> ChildAdoption | None:
    """In a process a restart started (C{successor}: its link to the
    predecessor): what takes the predecessor's children, told by the link;
    else C{None}."""
    if successor is None:
        return None
    from mcpgateway.ops.childhandover import ChildAdoption, gateWait

    adoption = ChildAdoption(reactor, gateWait(restartTimeout))
    successor.children = adoption
    return adoption


def wireAdoption(gateway: Gateway) -> None:
    """Give the gateway's adoption (if any) its pools and spawner, and
    its sandbox the warden: a confined child started while the warden
    runs does not die with this process, so a restart can keep it."""
    from mcpgateway.ops.childhandover import ChildAdoption

    guard = getattr(gateway.spawner.watcher, "guard", None)
    if guard is not None and hasattr(gateway.spawner.confiner, "guard"):
        gateway.spawner.confiner.guard = guard  # type: ignore[union-attr]
    adoption = gateway.spawner.adoptions
    if isinstance(adoption, ChildAdoption):
        adoption.pools = lambda: dict(gateway.pools)
        adoption.spawner = gateway.spawner
        adoption.proxy = getattr(gateway.spawner.confiner, "proxy", None)


def childSender(gateway: Gateway, reactor: IReactor) -> ChildSender:
    """What passes the gateway's running children to a restart's next
    process, and tells the warden of each one it took."""
    from mcpgateway.ops.childhandover import ChildSender

    watcher = gateway.spawner.watcher
    proxy = getattr(gateway.spawner.confiner, "proxy", None)
    return ChildSender(
        lambda: dict(gateway.pools), reactor, getattr(watcher, "handedOver", None), proxy
    )

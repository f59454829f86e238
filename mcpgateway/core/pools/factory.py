# -*- test-case-name: tests.core.pools.test_keyedplacement, tests.core.pools.test_tasksupport -*-
"""Which placement serves a server: L{makePool}, the one place that
looks at how a server's children are shared.

No placement imports this module: it imports them, each when first
needed, and makes the one L{mcpgateway.core.pools.serverpool.ServerPool} with
the placement the server's sharing asks for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcpgateway.core.era2026.waits import BridgeWaits
from mcpgateway.core.healing import HealingPolicy
from mcpgateway.core.pools.pool import PidProbe, PromotionSink, TaskSupport, childPerLaunch
from mcpgateway.core.spawn import Spawner
from mcpgateway.core.spec import ServerSpec, Sharing

if TYPE_CHECKING:
    from mcpgateway.core.pools.serverpool import PlacementOf, ServerPool

__all__ = ["makePool"]


def makePool(
    spec: ServerSpec,
    spawner: Spawner,
    healing: HealingPolicy | None = None,
    promotions: PromotionSink | None = None,
    limits: BridgeWaits | None = None,
    clientAlive: PidProbe | None = None,
    taskSupport: TaskSupport | None = None,
) -> ServerPool:
    """The pool for C{spec}, with the placement its sharing asks for: the
    one place that looks at how it is shared.
    A session-scoped server gets a child per session; one with routes
    (variants), credentials or a child per principal (C{perUser}, the
    C{credential} scope) a child per launch spec; any other one shared
    child (@raise ValueError: an unknown scope). C{limits}: how
    long and how many 2026 calls may wait for their clients;
    C{clientAlive}: whether a session's client process still runs
    (L{mcpgateway.core.pools.serverpool.ServerPool.clientAlive}); C{taskSupport}:
    how a child's C{initialize} result says it serves task-augmented calls
    itself (L{mcpgateway.core.pools.serverpool.ServerPool.taskSupport}: the
    gateway hands in the tasks feature's reading).

    A server promoted to C{session} (C{promotions.json}) gets the shared
    pool, promoted from the start: every 2025 session gets a child of its
    own, and MCP 2026-07-28 requests keep the shared child they had before
    the promotion (as in the process that promoted it)."""
    # The keyed placement imported when first needed: a gateway with no
    # scoped server never loads it (a smaller idle footprint).
    from mcpgateway.core.pools.serverpool import ServerPool

    placement: PlacementOf
    if spec.sharing is Sharing.SESSION and (spec.promoted is None or childPerLaunch(spec)):
        from mcpgateway.core.pools.placement import SessionPlacement

        placement = SessionPlacement
    elif childPerLaunch(spec):
        from mcpgateway.core.pools.keyedplacement import KeyedPlacement

        placement = KeyedPlacement
    else:
        from mcpgateway.core.pools.shared import SharedPlacement

        placement = SharedPlacement
    pool = ServerPool(spec, spawner, placement, healing, promotions, limits)
    pool.clientAlive = clientAlive
    pool.taskSupport = taskSupport
    return pool

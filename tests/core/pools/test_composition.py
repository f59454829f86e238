"""A pool is composed, not layered: one L{ServerPool} with a placement, whose
collaborators are given values and callables rather than the pool, and
each keeps its maps to itself (the others ask it)."""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Iterator

import pytest

from mcpgateway.core.pools import era2026side, serverpool
from mcpgateway.core.pools.capacity import ChildCapacity
from mcpgateway.core.pools.era2026side import Era2026Side
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.keyedplacement import KeyedPlacement
from mcpgateway.core.pools.owned import OwnedChildren
from mcpgateway.core.pools.placement import (
    Attached,
    KeyedRoutes,
    Placement,
    SessionPlacement,
    SingleChild,
)
from mcpgateway.core.pools.poollauncher import PoolLauncher
from mcpgateway.core.pools.promotion import PoolPromotion
from mcpgateway.core.pools.rebinder import Rebinder
from mcpgateway.core.pools.routechildren import RouteChildren
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.pools.shared import SharedPlacement
from mcpgateway.core.pools.staleenv import StaleEnvRestart
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.support.core.pools.keyedplacement import WORKSPACES
from tests.support.core.pools.pool import SPEC, keyedOf, placementOf, sharedOf

COLLABORATORS: tuple[type, ...] = (
    PoolLauncher,
    OwnedChildren,
    PoolPromotion,
    Era2026Side,
    RouteChildren,
    ChildCapacity,
    Rebinder,
    StaleEnvRestart,
    SharedPlacement,
    KeyedPlacement,
    SessionPlacement,
)
MAPS = (dict, set, list)
POOLISH = re.compile(r"\w*(Host|Pool|PoolLike|Observed)\b")
"""The pool, or a protocol of what a collaborator reads of it."""


@pytest.mark.parametrize("collaborator", COLLABORATORS, ids=lambda c: c.__name__)
def test_no_collaborator_is_handed_its_pool(collaborator: type) -> None:
    """Each is made with values and callables (or a placement's kit): no
    parameter is the pool, or a protocol of what it reads of the pool."""
    annotations = [
        str(parameter.annotation)
        for parameter in inspect.signature(collaborator).parameters.values()
    ]
    handed = [a for a in annotations if POOLISH.search(a)]
    assert handed == []


def _publicMaps(owner: object) -> Iterator[str]:
    for name, value in vars(owner).items():
        if not name.startswith("_") and isinstance(value, MAPS):
            yield f"{type(owner).__name__}.{name}"


def test_the_collaborators_of_a_keyed_pool_keep_their_maps() -> None:
    """Its children by key, the sessions bound to them, the resolved
    launches and the sessions' own children are each read through their
    keeper's methods, never as its dictionaries."""
    reactor = FakeProcessReactor()
    pool = makePool(WORKSPACES, fakeSpawner(reactor))
    assert isinstance(pool, ServerPool)
    session = Session("s1", "fs", "2025-11-25", {}, {"name": "client"}, 0.0)
    pool.restore(session)
    keyed = keyedOf(pool)
    assert keyed.table.boundKey(session) is not None
    owners = [pool.launcher, pool.owned, keyed.table, keyed.limit, keyed.rebinder]
    assert [name for owner in owners for name in _publicMaps(owner)] == []


def test_the_collaborators_of_a_shared_pool_keep_their_maps() -> None:
    reactor = FakeProcessReactor()
    pool = makePool(dataclasses.replace(SPEC, mode="stateless"), fakeSpawner(reactor))
    assert isinstance(pool, ServerPool)
    session = Session("s1", "srv", "2025-11-25", {}, {"name": "client"}, 0.0)
    pool.restore(session)
    shared = sharedOf(pool)
    assert shared.childOf(session) is shared.upstream()
    owners = [pool.launcher, pool.owned, pool.era2026, shared]
    assert [name for owner in owners for name in _publicMaps(owner)] == []


def _protocolMembers(protocol: type) -> set[str]:
    return {name for name in vars(protocol) if not name.startswith("_")}


PARTS: dict[str, type] = {"attached": Attached, "keyed": KeyedRoutes, "single": SingleChild}
"""Each part of a placement (what one kind does alone) and its protocol."""


@pytest.mark.parametrize(
    ("spec", "kind", "parts"),
    [
        (dataclasses.replace(SPEC, mode="stateless"), SharedPlacement, {"attached", "single"}),
        (WORKSPACES, KeyedPlacement, {"attached", "keyed"}),
        (dataclasses.replace(SPEC, mode="stateful"), SessionPlacement, set()),
    ],
    ids=["shared", "keyed", "session"],
)
def test_a_placement_carries_only_what_it_does(
    spec: ServerSpec, kind: type, parts: set[str]
) -> None:
    """A placement is the members every placement has, and the parts of
    its kind, each itself: it has no member of a part it lacks (nothing
    that answers for what it does not do), and all of those of its parts."""
    placement = placementOf(makePool(spec, fakeSpawner(FakeProcessReactor())))
    assert type(placement) is kind
    assert {name for name in PARTS if getattr(placement, name) is not None} == parts
    for name in parts:
        assert getattr(placement, name) is placement
    members = {name for name in dir(placement) if not name.startswith("_")}
    assert _protocolMembers(Placement) <= members
    for name, protocol in PARTS.items():
        owns = _protocolMembers(protocol) & members
        assert owns == (_protocolMembers(protocol) if name in parts else set())


def test_each_member_of_a_placement_is_asked_by_its_pool() -> None:
    """Every member of a placement's protocols is read by its pool or the
    pool's 2026 side: none is there only to be implemented."""
    asking = "".join(inspect.getsource(module) for module in (serverpool, era2026side))
    members = set().union(*(_protocolMembers(p) for p in (Placement, *PARTS.values())))
    assert sorted(m for m in members if not re.search(rf"\.{m}\b", asking)) == []

"""The running children of a pool as a restart hands them over, and where
the next process serves each one it is handed: a scoped pool's children
by child key (fake processes, no reactor)."""

from __future__ import annotations

import dataclasses

from mcpgateway.core.handedchild import HandedChild
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.keyedplacement import KeyedPlacement
from mcpgateway.core.pools.runningchildren import (
    NOT_KEPT_SCOPED,
    movedChildren,
    placedAs,
    runningChildren,
)
from mcpgateway.core.status import Lifecycle
from tests.fakes import fakeSpawner
from tests.support.core.pools.keyedplacement import BASE, A, B, ScopedCase, scopedSpec, variant


def handed(childKey: str = "", session: str = "") -> HandedChild:
    return HandedChild("fs", session, "f", 70, 70, childKey=childKey, fds=(3, 4, 5))


class KeyedChildrenTests(ScopedCase):
    def test_each_routes_running_child_is_listed_by_its_child_key(self) -> None:
        self.opened(self.session(A))
        self.opened(self.session(B))
        running = {child.childKey: child for child in runningChildren(self.pool)}
        self.assertEqual(set(running), {"child:/ws/a:t", "child:/ws/b:t"})
        alpha = running["child:/ws/a:t"]
        # What its route is configured to run, for the fingerprint: its workspace's launch.
        self.assertEqual((alpha.session, alpha.configured.cwd, alpha.why), ("", "/ws/a", None))
        self.assertEqual(alpha.upstream.state, Lifecycle.RUNNING)

    def test_a_child_made_for_credentials_is_listed_with_why_it_is_not_kept(self) -> None:
        self.pool = self.makePool(
            dataclasses.replace(BASE, mode="credential", credentialEnv=("TOKEN",))
        )
        self.opened(self.session("", "key-a", (("TOKEN", "value-a"),)))
        [child] = runningChildren(self.pool)
        self.assertIn("/c:", child.childKey)
        self.assertEqual(child.why, NOT_KEPT_SCOPED)

    def test_a_stopped_child_is_not_listed(self) -> None:
        self.opened(self.session(A))
        placement = self.pool.placement
        assert isinstance(placement, KeyedPlacement)
        [(_, upstream)] = placement.table.items()
        upstream.stop()
        self.reactor.lastProcess.exit(0)
        self.assertEqual(list(runningChildren(self.pool)), [])

    def test_a_handed_child_is_served_as_the_child_of_the_route_that_makes_its_key(self) -> None:
        placed = placedAs(self.pool, handed("child:/ws/b:t"))
        assert placed is not None
        upstream, configured = placed
        # Made, not started: the kept process is attached to it.
        self.assertEqual(
            (upstream.state, upstream.child, configured.cwd), (Lifecycle.STOPPED, None, "/ws/b")
        )
        session = self.session(B)
        placement = self.pool.placement
        assert isinstance(placement, KeyedPlacement)
        self.assertIs(placement.table.childOf(session.variant), upstream)  # type: ignore[arg-type]

    def test_a_key_no_route_makes_now_is_not_served(self) -> None:
        self.assertIsNone(placedAs(self.pool, handed("child:/ws/gone:t")))

    def test_a_shared_childs_record_is_tried_as_your_routes_child(self) -> None:
        """Recorded in a pool of one shared child, before a reload made the
        pool anew with routes (a project's entry of its name came): served
        as the child of your own route, which its fingerprint must match."""
        placed = placedAs(self.pool, handed())
        assert placed is not None
        upstream, configured = placed
        placement = self.pool.placement
        assert isinstance(placement, KeyedPlacement)
        self.assertIs(upstream, placement.table.child(self.pool.routes[""].childKey))
        self.assertEqual(configured.cwd, None)  # your own entry's launch
        withoutYours = self.makePool(scopedSpec(variant(A, "/ws/a")))
        self.assertIsNone(placedAs(withoutYours, handed()))  # no route of yours: none

    def test_a_routes_record_is_tried_as_the_shared_child_of_a_pool_without_routes(self) -> None:
        """Recorded in a pool with routes, before a reload made it one shared
        child (the project's entry went): tried as that child."""
        shared = makePool(dataclasses.replace(BASE, mode="global"), fakeSpawner(self.reactor))
        placed = placedAs(shared, handed(self.pool.routes[""].childKey))
        assert placed is not None
        self.assertIs(placed[0], shared.placement.upstream())  # type: ignore[attr-defined]
        self.assertIs(placed[1], shared.spec)

    def test_a_reload_moves_your_routes_child_and_the_same_launches(self) -> None:
        """Your route's child goes to your route's child of the pool that
        replaces this one, whatever its kind; a workspace route's to the
        child of the same key, when that pool has one."""
        self.opened(self.session(""))
        self.opened(self.session(A))
        placement = self.pool.placement
        assert isinstance(placement, KeyedPlacement)
        yours = placement.table.child(self.pool.routes[""].childKey)
        alpha = placement.table.child("child:/ws/a:t")
        shared = makePool(dataclasses.replace(BASE, mode="global"), fakeSpawner(self.reactor))
        [(before, after)] = movedChildren(self.pool, shared)
        self.assertIs(before, yours)
        self.assertIs(after, shared.placement.upstream())  # type: ignore[attr-defined]
        again = self.makePool(self.spec)
        moved = dict(movedChildren(self.pool, again))
        self.assertEqual(set(moved), {yours, alpha})
        againPlacement = again.placement
        assert isinstance(againPlacement, KeyedPlacement)
        assert alpha is not None
        self.assertIs(moved[alpha], againPlacement.table.child("child:/ws/a:t"))

"""The aggregate's background re-probes
(L{mcpgateway.core.aggregate.reprobes.Reprobes}), on their own: one timer,
the earliest look standing."""

from __future__ import annotations

from typing import cast

from twisted.internet.task import Clock

from mcpgateway.core.aggregate.reprobes import Reprobes
from mcpgateway.core.aggregate.roster import Roster
from mcpgateway.core.aggregate.session import REPROBE_SOON, AggregateSession, CatalogLike
from mcpgateway.core.spec import ToolFilter


def reprobes(clock: Clock) -> Reprobes:
    """Re-probes over no server and no open session."""
    catalogs = cast(CatalogLike, None)  # no member: never asked
    roster = Roster({}, catalogs, lambda server: ToolFilter(), lambda pool, principal: "")
    sessions: set[AggregateSession] = set()
    return Reprobes({}, catalogs, clock, roster, sessions)


def test_an_earlier_look_replaces_a_later_one() -> None:
    clock = Clock()
    probes = reprobes(clock)
    probes.later(30.0)
    probes.later(2.0)
    assert [call.getTime() for call in clock.getDelayedCalls()] == [2.0]


def test_a_later_look_leaves_the_earlier_one_standing() -> None:
    clock = Clock()
    probes = reprobes(clock)
    probes.soon()
    probes.later(30.0)
    assert [call.getTime() for call in clock.getDelayedCalls()] == [REPROBE_SOON]


def test_with_no_session_lacking_a_catalog_no_timer_is_left() -> None:
    clock = Clock()
    probes = reprobes(clock)
    probes.soon()
    clock.advance(REPROBE_SOON)
    assert clock.getDelayedCalls() == []
    assert probes.count == 0

# -*- test-case-name: tests.core.aggregate.test_reprobes, tests.web.endpoints.test_aggregate_smoke -*-
"""How the aggregate endpoint lists, in the background, the members whose
catalog is not known yet.

One job: a member never listed (a server just added) is probed at once; a
member whose probe failed is probed again after its backoff
(L{CatalogLike.retryAt}), one probe per catalog whatever the number of
sessions that lack it, on one timer, and no timer is left once no open
session lacks anything. A catalog that arrives tells the sessions itself
(L{mcpgateway.core.aggregate.changes}).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from mcpgateway.core.aggregate.roster import Roster
from mcpgateway.core.aggregate.session import (
    REPROBE_POLL,
    REPROBE_SOON,
    AggregateSession,
    CatalogLike,
)
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.runtime import logs


class Reprobes:
    """The background probes of the catalogs the open sessions lack."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        pools: Mapping[str, PoolLike],
        catalogs: CatalogLike,
        clock: IReactorTime,
        roster: Roster,
        sessions: Collection[AggregateSession],
    ) -> None:
        """
        @param sessions: the open aggregate sessions (the live collection).
        """
        self._pools = pools
        self._catalogs = catalogs
        self._clock = clock
        self._roster = roster
        self._sessions = sessions
        self._call: IDelayedCall | None = None
        self.count = 0
        """Background probes started for members whose catalog is not known."""

    def probeUnknown(self, session: AggregateSession) -> None:
        """Start listing C{session}'s members never listed (a server just
        added): the session is told when their catalogs arrive."""
        for member in self._roster.members(session):
            if member.lists is None:
                pool = self._pools[member.server]
                self._catalogs.ensure(
                    pool, self._roster.keyOf(member.server, session), session.principal
                ).addErrback(lambda _: None)

    def soon(self) -> None:
        """Look at the catalogs the open sessions lack in L{REPROBE_SOON}
        seconds (one timer; an earlier one stands)."""
        self.later(REPROBE_SOON)

    def later(self, delay: float) -> None:
        """Look at the catalogs the open sessions lack in C{delay} seconds
        (one timer; an earlier one stands)."""
        call = self._call
        if call is not None and call.active():
            if call.getTime() <= self._clock.seconds() + delay:
                return
            call.cancel()
        self._call = self._clock.callLater(max(0.0, delay), self._reprobe)

    def _reprobe(self) -> None:
        """Probe again, in the background, each catalog an open session
        lacks whose backoff has passed (L{CatalogLike.retryAt}), one probe
        per catalog whatever the number of sessions; then look again at the
        soonest next retry, or while a probe is in flight. A server removed,
        disabled or filtered out is no session's member: it is left alone,
        and with no session lacking anything no timer is left."""
        self._call = None
        now = self._clock.seconds()
        soonest: float | None = None
        seen: set[tuple[str, str]] = set()
        for session in list(self._sessions):
            for member in self._roster.members(session):
                if member.lists is not None:
                    continue
                pool = self._pools[member.server]
                key = self._roster.keyOf(member.server, session)
                if (member.server, key) in seen:
                    continue
                seen.add((member.server, key))
                at: float | None
                if self._catalogs.probing(member.server, key):
                    at = now + REPROBE_POLL  # its end is looked at then
                else:
                    at = self._catalogs.retryAt(member.server, key)
                if at is not None and at > now:
                    soonest = at if soonest is None else min(soonest, at)
                    continue
                self.count += 1
                self.log.info(
                    "aggregate: listing server {server} again in the background"
                    " (its catalog is not known{why})",
                    server=member.server,
                    why=f": {self._catalogs.reason(member.server, key)}"
                    if self._catalogs.failed(member.server, key)
                    else "",
                )
                probing = self._catalogs.ensure(pool, key, session.principal)
                probing.addBoth(self._reprobed, member.server, key)
        if soonest is not None:
            self.later(soonest - now)

    def _reprobed(self, result: object, server: str, key: str) -> None:
        """A background probe ended: look again soon (a catalog that
        arrived has told the sessions already)."""
        if result is None and not (
            self._catalogs.failed(server, key) or self._catalogs.probing(server, key)
        ):
            return  # nothing was probed (the catalogs are stopping): nothing to wait for
        self.soon()

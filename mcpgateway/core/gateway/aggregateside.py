# -*- test-case-name: tests.core.gateway.test_lazy_aggregate, tests.core.gateway.test_gateway_parts -*-
"""The aggregate endpoint's side of a gateway, made on its first use:
L{AggregateSide}.

An idle gateway, or one whose clients use only C{/<server>/mcp}, never loads
the aggregate side (the aggregator, its search and its schema checks). What
the gateway is asked of it before then (which endpoints exist, its line of
C{/health}, whether a session is an aggregate one) is answered without
making it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard

from twisted.internet.defer import maybeDeferred
from twisted.internet.interfaces import IReactorTime

from mcpgateway.core.aggregate.types import BUILTIN_ENDPOINTS, EndpointSpec, NameSettings
from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.gateway.settings import GatewaySettings
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ToolFilter

if TYPE_CHECKING:
    from mcpgateway.core.aggregate.aggregator import Aggregator
    from mcpgateway.core.aggregate.session import AggregateSession, MemberSession
    from mcpgateway.flow.step import FlowStep


class AggregateHost(Protocol):
    """What L{AggregateSide} reads of its gateway, at the moment it needs it
    (the wiring may give the gateway other settings or catalogs after it is
    made); and its C{flow} step when it has one (the flow rule on each
    member tool's call, read at each call)."""

    @property
    def settings(self) -> GatewaySettings: ...

    @property
    def catalogs(self) -> Catalogs: ...


class AggregateSide:
    """The gateway's aggregator, made on its first use, and what is known of
    the aggregate endpoints until then."""

    def __init__(
        self,
        host: AggregateHost,
        pools: Mapping[str, PoolLike],
        clock: IReactorTime,
        memberChanged: Callable[[Session], object] | None = None,
    ) -> None:
        """
        @param host: the gateway (its settings and catalogs).
        @param pools: the gateway's pools (the live mapping: reconfigures show).
        @param memberChanged: told when an aggregate session's members
            changed (the session registry's C{served}: the record that
            holds them is saved again).
        """
        self._host = host
        self._pools = pools
        self._clock = clock
        self._memberChanged = memberChanged
        self._aggregator: Aggregator | None = None
        self._endpoints: tuple[Mapping[str, EndpointSpec], NameSettings] | None = None
        """The endpoints to serve, kept until the aggregator is made."""

    @property
    def made(self) -> Aggregator | None:
        """The aggregator if it is made (C{None}: not yet, and nothing made it)."""
        return self._aggregator

    @property
    def aggregator(self) -> Aggregator:
        """Every aggregate session and what they share
        (L{mcpgateway.core.aggregate.aggregator}), made on the first use."""
        if self._aggregator is None:
            self._aggregator = self._make()
        return self._aggregator

    def _make(self) -> Aggregator:
        from mcpgateway.core.aggregate.aggregator import Aggregator
        from mcpgateway.core.aggregate.results import ResultBudget
        from mcpgateway.core.aggregate.schemas import Schemas
        from mcpgateway.core.aggregate.search import ThreadedSearch
        from mcpgateway.core.aggregate.tools import GatewayTools

        settings = self._host.settings
        catalogs = self._host.catalogs
        tools = settings.tools
        if tools is None:
            threads = settings.runInThread
            search = ThreadedSearch(threads if threads is not None else maybeDeferred)
            tools = GatewayTools(search, Schemas(), threads, settings.tasks)
        resultBytes = settings.resultBytes
        aggregator = Aggregator(
            self._pools,
            catalogs,
            self._clock,
            tools=tools,
            budget=ResultBudget(resultBytes) if resultBytes is not None else None,
            filters=self._filterOf,
            catalogKey=catalogs.keyFor,
        )
        host = self._host

        def flowStep() -> FlowStep | None:
            return getattr(host, "flow", None)

        aggregator.memberGate.flowStep = flowStep
        aggregator.memberChanged = self._memberChanged
        if self._endpoints is not None:
            aggregator.useEndpoints(*self._endpoints)
            self._endpoints = None
        return aggregator

    def _filterOf(self, server: str) -> ToolFilter:
        pool = self._pools.get(server)
        return pool.spec.aggregate if pool is not None else ToolFilter()

    def useEndpoints(self, endpoints: Mapping[str, EndpointSpec], names: NameSettings) -> None:
        """Serve the aggregate endpoints C{endpoints} under C{names} from
        now on (C{aggregate.json}): kept for the aggregator until it is
        made."""
        if self._aggregator is None:
            self._endpoints = (endpoints, names)
        else:
            self._aggregator.useEndpoints(endpoints, names)

    def hasEndpoint(self, name: str) -> bool:
        """Whether the aggregate endpoint C{name} exists, answered without
        making the aggregator."""
        if self._aggregator is not None:
            return self._aggregator.endpoint(name) is not None
        if name in BUILTIN_ENDPOINTS:
            return True
        return self._endpoints is not None and name in self._endpoints[0]

    def membersChanged(self) -> None:
        """The servers changed: the aggregator, if made, looks at its
        members again."""
        if self._aggregator is not None:
            self._aggregator.membersChanged()

    def isAggregate(self, session: Session) -> TypeGuard[AggregateSession]:
        """Whether C{session} is an aggregate session (there is none before
        the aggregator is made)."""
        if self._aggregator is None:
            return False
        from mcpgateway.core.aggregate.session import AggregateSession

        return isinstance(session, AggregateSession)

    def isMember(self, session: Session) -> TypeGuard[MemberSession]:
        """Whether C{session} is an aggregate session's member (there is
        none before the aggregator is made)."""
        if self._aggregator is None:
            return False
        from mcpgateway.core.aggregate.session import MemberSession

        return isinstance(session, MemberSession)

    def status(self) -> dict[str, Any]:
        """The aggregate endpoint's line of C{/health} (docs/guide/aggregate.md):
        its sessions, members, kept results and each server's catalog."""
        if self._aggregator is not None:
            aggregate = self._aggregator.status()
        else:
            # What an aggregator with no session would say, without loading it.
            endpoints = self._endpoints[0] if self._endpoints is not None else {}
            aggregate = {
                "sessions": 0,
                "members": 0,
                "endpoints": sorted({*endpoints, "default", "search"}),
                "results": {"stored": 0, "bytes": 0, "evicted": 0},
            }
        return {**aggregate, "catalogs": self._host.catalogs.status()}

# -*- test-case-name: tests.startup.test_configuredlimits -*-
"""The config's rate limits of calls and C{--policy}, wired into a running
gateway only while they are configured, decided at start and at each
reload (L{ConfiguredLimits}).

A gateway whose config sets no C{"limits"} (a laptop's) has no call-quota
gate on its endpoints (L{mcpgateway.web.teamcluster.TeamServices.callQuotas}
is C{None}), and its pools forward a call's name as sent
(L{PoolLike.namesDecided} is C{False}): no call asks anything to learn
that there is nothing to do. A
reload that adds limits puts the gate in front of every endpoint at their
next request, and one that removes them takes it away; the gate is made
once, so its buckets outlive a reload that keeps limits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime

    from mcpgateway.core.gateway.gateway import Gateway
    from mcpgateway.core.spec import ServerSpec
    from mcpgateway.governance.quotagate import QuotaGate


def decidesNames(policy: bool, gatewayQuotas: str) -> bool:
    """Whether a call's name is decided before the call reaches its
    server's router, so that its child lists first
    (L{mcpgateway.core.toolgate}): always with C{--policy}; while the
    config sets top-level rate limits otherwise (a server's own limits are
    read from its entry by its gate)."""
    return policy or bool(gatewayQuotas)


def limited(gatewayQuotas: str, specs: Mapping[str, ServerSpec]) -> bool:
    """Whether any rate limit of calls is configured: the config's
    top-level C{"limits"} or a server entry's."""
    return bool(gatewayQuotas) or any(spec.limits for spec in specs.values())


class ConfiguredLimits:
    """What the config's limits and C{--policy} put on a gateway's calls,
    decided again with each set of servers the gateway is given."""

    def __init__(
        self,
        clock: IReactorTime,
        gateway: Gateway,
        team: Any,
        gatewayQuotas: Callable[[], str],
        policy: bool,
    ) -> None:
        """
        @param team: the team services whose C{callQuotas} every endpoint
            takes at its next request (L{mcpgateway.web.root.GatewayRoot}).
        @param gatewayQuotas: the config's top-level C{"limits"} in use,
            compact JSON (empty: none), as last loaded.
        @param policy: C{--policy} is given (it decides every call's name).
        """
        self._clock = clock
        self._gateway = gateway
        self._team = team
        self._gatewayQuotas = gatewayQuotas
        self._policy = policy
        self._gate: QuotaGate | None = None

    def use(self, specs: Mapping[str, ServerSpec]) -> None:
        """Wire what the config loaded last and C{specs} (the servers about
        to be served) configure: the call-quota gate while any limit is
        set, and whether names are decided before their calls."""
        quotas = self._gatewayQuotas()
        self._gateway.servers.decideNames(decidesNames(self._policy, quotas))
        if not limited(quotas, specs):
            self._team.callQuotas = None
            return
        if self._gate is None:  # the first limit configured loads the call limits
            from mcpgateway.governance.quotagate import forGateway

            self._gate = forGateway(self._clock, self._gateway, self._gatewayQuotas)
        self._team.callQuotas = self._gate

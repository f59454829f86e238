# -*- test-case-name: tests.governance.test_policy_members -*-
"""The policy of the aggregate endpoints: the
L{mcpgateway.core.aggregate.memberpolicy.MemberPolicy} the service gives
the aggregator, deciding each member request with the member's identity
(its server, kind and scope, the member's own tool name, the arguments)
through the same L{PolicyGate} as a server's own endpoint.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from mcpgateway.core.aggregate.memberpolicy import Asker, MemberCall
from mcpgateway.core.decision import Decision
from mcpgateway.governance.gate import PolicyGate
from mcpgateway.governance.policy import RequestFacts, TargetServer, callerOf
from mcpgateway.runtime import logs


def memberTarget(pools: Mapping[str, Any], server: str) -> TargetServer:
    """Member C{server} as a policy sees it: its kind (C{stdio},
    C{remote}, C{openapi}) and sharing scope."""
    pool = pools.get(server)
    spec = getattr(pool, "spec", None)
    if spec is None:
        return TargetServer(server)
    remote = spec.remote
    if remote is None:
        kind = "stdio"
    elif remote.transport == "openapi":
        kind = "openapi"
    else:
        kind = "remote"
    return TargetServer(server, kind, spec.scope)


class PolicyMembers:
    """The aggregate's member requests, decided by a L{PolicyGate}."""

    def __init__(self, gate: PolicyGate, pools: Mapping[str, Any]) -> None:
        """
        @param pools: the gateway's pools (the live mapping).
        """
        self.gate = gate
        self.pools = pools

    def viewKey(self, asker: Asker) -> Hashable:
        """The policy now (a reload is another one) and the caller as the
        policy sees it."""
        return (id(self.gate.policy()), callerOf(asker.principal))

    def listable(self, asker: Asker, action: str, server: str, name: str) -> bool:
        """Whether some call of C{name} of member C{server} could be allowed."""
        policy = self.gate.policy()
        if policy is None:
            return False
        facts = self.gate.labelled(
            RequestFacts(callerOf(asker.principal), action, memberTarget(self.pools, server), name)
        )
        try:
            return policy.visible(facts)
        except Exception:
            self.gate.log.failure("screening the aggregate with the policy failed")
            return False

    def decide(self, asker: Asker, call: MemberCall) -> Decision:
        """The decision on C{call} by C{asker}, as the member's own endpoint
        decides it (a tool's call let on is kept for the flow step); a
        refusal is logged as there, saying it came through the aggregate."""
        facts = RequestFacts(
            callerOf(asker.principal),
            call.action,
            memberTarget(self.pools, call.server),
            call.name,
            call.arguments,
            call.client,
            call.route,
            self.gate.clock.seconds(),
            asker.source,
        )
        decision = self.gate.decideFacts(facts)
        if decision.allowed:
            return decision
        self.gate.refused += 1
        key = getattr(asker.principal, "key", "")
        self.gate.log.info(
            "policy refused {method} of {server}/{name} through the aggregate: {policies}{who}",
            method=call.action,
            server=call.server,
            name=logs.clientText(call.name),
            who=f" (principal {key})" if key else "",
            principal=key,
            policies=",".join(decision.policies),
            policyRefused=call.action,
        )
        return decision

# -*- test-case-name: tests.governance.test_policy_gate -*-
"""C{--policy FILE} and C{--policy-default allow|deny}: the wiring of the
policy file (L{mcpgateway.governance.policyfile}) and its gate
(L{mcpgateway.governance.gate.PolicyGate}) into a gateway (the options
are L{mcpgateway.startup.teamoptions}'s).

Start-up loads this module only with C{--policy}, and nothing here
imports the policy engine before it is wired.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime


def wireAggregatePolicy(gate: Any, gateway: Any) -> None:
    """Give C{gateway}'s aggregate the policy of C{gate} (nothing without
    one): each aggregate request is decided as the member request it
    resolves to (L{mcpgateway.governance.policymembers})."""
    if gate is None:
        return
    from mcpgateway.governance.policymembers import PolicyMembers

    gateway.aggregateSide.aggregator.memberPolicy = PolicyMembers(gate, gateway.pools)


def wirePolicyLabels(gate: Any, step: Any) -> None:
    """Have the flow step C{step} put each tool's call to the policy of
    C{gate} again with its labels, and hold a call the policy wants a
    person's yes for (L{mcpgateway.governance.flowpolicy}); nothing
    without a policy."""
    if gate is None:
        return
    from mcpgateway.governance.flowpolicy import wireFlowPolicy

    wireFlowPolicy(gate, step)


def wirePolicy(options: Any, reactor: IReactorTime, top: Any) -> Any:
    """The policy gate of C{--policy} (C{None} without it), its file watched
    under C{top}; a file that cannot be used refuses the start in one line."""
    path = options.get("policy")
    if not path:
        return None
    from mcpgateway.startup.process import refuse

    try:
        import cedarpy  # noqa: F401
    except ImportError:
        refuse("mcpgateway: --policy needs the Cedar engine: pip install 'mcpgateway[policy]'")
    from mcpgateway.governance.gate import PolicyGate
    from mcpgateway.governance.policy import PolicyError
    from mcpgateway.governance.policyfile import PolicyFile

    policyFile = PolicyFile(Path(path), options.get("policy-default") or "deny", reactor)
    try:
        policyFile.load()
    except PolicyError as e:
        refuse(f"mcpgateway: --policy: {e}")
    policyFile.setServiceParent(top)
    gate = PolicyGate(policyFile, reactor)
    gate.file = policyFile
    return gate

# -*- test-case-name: tests.governance.test_flowpolicy -*-
"""The policy file, asked again where a tool's call meets its client: the
flow step's L{mcpgateway.flow.step.LabelPolicy}.

The door's gate (L{mcpgateway.governance.gate.PolicyGate}) decides a
request before the gateway knows which client sent it, so it cannot see
the labels that client gathered. The flow step can: it asks
L{PolicyLabels} about each call with the client's labels and the tool's,
and L{PolicyLabels} puts to the policy the very facts the gate decided
(its caller, route, source, client name and time, kept by
L{DecidedCalls}), the labels added; a policy that never reads the
client's labels (L{Policy.readsClientLabels
<mcpgateway.governance.policy.Policy.readsClientLabels>}) is not asked
twice: what the gate decided stands. What the policy says then is final:
allowed, the call goes on to the default rule; C{approval}, it is held
for a person's yes, bound to this policy's version; refused, it is
answered with a denial. A call the gate never let on (no facts kept) is
refused: asking a policy with less than it was told would guess.

On a cluster the gate that keeps a call's facts is the one of the replica
that owns the call's session, where the flow step runs: a request another
replica forwarded is decided at the owner's door too, as a single
gateway decides it, with the caller and the address its sealed peer header
carries (L{mcpgateway.web.endpoints.admission.PostAdmission.policy}). No
decision made on another replica is taken over here: the one that
forwarded did not know the session's client, which the policy may read.

Labels only restrict here, as SEP-3193 has them: the gate decides with
no client labels at all, so a policy whose C{permit} needs a label
refuses at the gate what the labels would allow (docs/guide/policy.md).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from mcpgateway.core.decision import Decision
from mcpgateway.flow.labels import Labels
from mcpgateway.flow.rule import FlowDecision, Verdict
from mcpgateway.governance.gate import PolicyGate
from mcpgateway.governance.policy import RequestFacts
from mcpgateway.runtime import logs

__all__ = ["Decided", "DecidedCalls", "PolicyLabels", "wireFlowPolicy"]

KEPT = 4096
"""How many calls' facts are kept for the flow step, at most."""

CallKey = tuple[str, str, str, str]


def callKey(principal: str, server: str, tool: str, arguments: Mapping[str, Any] | None) -> CallKey:
    """One call as both places name it: the principal's key, the server,
    the tool, and a digest of the arguments as canonical JSON."""
    text = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return principal, server, tool, hashlib.sha256(text.encode()).hexdigest()


class DecidedCalls:
    """The facts of the tool calls the gate let on, the newest L{KEPT},
    by L{callKey}, without their arguments: a call found here has the
    arguments its key was made of, which the finder hands back, so that
    what is kept stays small whatever calls a client sends (one the gate
    let on may never reach the flow step: its session unknown, say).

    The gate and the flow step decide a request in one turn of the
    reactor on every path, so the facts found for a call are those of
    the request that made it. With them is the gate's decision and the
    version of the policy that made it (L{Decided})."""

    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._facts: OrderedDict[CallKey, Decided] = OrderedDict()

    def __len__(self) -> int:
        return len(self._facts)

    def remember(self, facts: RequestFacts, decision: Decision, version: str) -> None:
        key = callKey(facts.caller.key, facts.target.server, facts.name, facts.arguments)
        self._facts[key] = Decided(replace(facts, arguments=None), decision, version)
        self._facts.move_to_end(key)
        if len(self._facts) > self._kept:
            self._facts.popitem(last=False)

    def find(
        self, principal: str, server: str, tool: str, arguments: Mapping[str, Any] | None
    ) -> Decided | None:
        found = self._facts.get(callKey(principal, server, tool, arguments))
        if found is None:
            return None
        return replace(found, facts=replace(found.facts, arguments=arguments))


@dataclass(frozen=True, slots=True)
class Decided:
    """A tool's call as the gate decided it."""

    facts: RequestFacts
    decision: Decision
    """C{allowed}, or C{approval}: what the policy said without the
    client's labels."""
    version: str
    """The version of the policy that said it."""


def _words(labels: Labels) -> frozenset[str]:
    return frozenset(str(label) for label in labels)


class PolicyLabels:
    """The flow step's policy: the gate's, with the client's labels."""

    def __init__(self, gate: PolicyGate, calls: DecidedCalls) -> None:
        self.gate = gate
        self.calls = calls

    def ask(
        self,
        principal: str,
        server: str,
        tool: str,
        arguments: Mapping[str, Any] | None,
        gathered: Labels,
        toolLabels: Labels,
    ) -> FlowDecision | None:
        """See L{mcpgateway.flow.step.LabelPolicy.ask}."""
        met = gathered | toolLabels
        found = self.calls.find(principal, server, tool, arguments)
        if found is None:
            reason = f"the gateway's policy was not asked about this call of {tool!r}"
            return FlowDecision(Verdict.DENY, met, reason)
        policy = self.gate.policy()
        version = policy.version if policy is not None else ""
        if policy is not None and not policy.readsClientLabels and found.version == version:
            decision = found.decision  # the client's labels cannot change it
        else:
            labelled = replace(found.facts, labels=_words(gathered), toolLabels=_words(toolLabels))
            decision = self.gate.judge(labelled)
        if decision.allowed:
            return None
        if decision.outcome == "approval":
            return FlowDecision(Verdict.HOLD, met, decision.reason, version)
        self.gate.refused += 1
        self.gate.log.info(
            "policy refused tools/call of {server}/{name} with the client's labels: {policies}",
            server=server,
            name=logs.clientText(tool),
            policies=",".join(decision.policies),
            policyRefused="tools/call",
        )
        return FlowDecision(Verdict.DENY, met, decision.reason)


def wireFlowPolicy(gate: PolicyGate, step: Any) -> PolicyLabels:
    """Have C{step} (a L{mcpgateway.flow.step.FlowStep}) ask C{gate}'s
    policy about each call with its labels, and C{gate} decide each call
    with its tool's labels and keep what the step asks about."""
    calls = DecidedCalls()
    asker = PolicyLabels(gate, calls)
    gate.calls = calls

    def toolLabels(server: str, tool: str) -> frozenset[str]:
        return _words(step.toolLabels(server, tool))

    gate.toolLabels = toolLabels
    step.usePolicy(asker)
    return asker

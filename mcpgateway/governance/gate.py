# -*- test-case-name: tests.governance.test_policy_gate -*-
"""The one place a client request is decided before it is forwarded: the
policy (L{mcpgateway.governance.policy}), then the rate limits
(L{mcpgateway.governance.quotagate}), one L{Decision} for the request.

L{PolicyGate} is the policy's part: it decides each request of a POSTed
body (both protocol revisions: a 2026-07-28 request is one message like a
2025 one), answers a refusal as one JSON-RPC error, and screens the
answer of a listing (C{tools/list}, C{resources/list}, C{prompts/list})
so that what the caller may not call is not shown to it.

A refusal is C{-32602} (invalid params), the code a call to an unknown
tool gets: the policy is asked before the gateway looks the tool up, so a
tool hidden from a caller and a tool that does not exist are refused
alike (the same default policy id decides both), and the answer names the
policies that decided, never their text.

A tool's call is decided with the tool's data-origin labels (L{toolLabels},
the flow step's) and without the client's: those are known where the call
meets its client (L{mcpgateway.flow.step}), which puts the call to the
policy again with them (L{mcpgateway.governance.flowpolicy}). So that it
can, the gate keeps the facts of each call it let on (L{calls}); a call a
policy wants a person's yes for goes on to be held there. Without a flow
step asking again, a request that needs a person's yes is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from twisted.logger import Logger
from twisted.web.iweb import IRequest

from mcpgateway.core.decision import ALLOWED, Decision
from mcpgateway.governance.policy import (
    DECIDED,
    LISTED,
    Caller,
    Policy,
    RequestFacts,
    TargetServer,
    callerOf,
)
from mcpgateway.governance.quotagate import QuotaGate
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.era2026form import CLIENT_INFO_KEY
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs

REFUSED = jsonrpc.INVALID_PARAMS
"""The JSON-RPC code of a policy's refusal (see the module docstring)."""


class KeptCalls(Protocol):
    """Where the gate keeps the tool calls it let on
    (L{mcpgateway.governance.flowpolicy.DecidedCalls})."""

    def remember(self, facts: RequestFacts, decision: Decision, version: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Where:
    """What an endpoint tells the gate of a request besides its body."""

    target: TargetServer
    route: str = ""
    source: str = ""
    client: str = ""
    """The name the client gave at C{initialize} (C{""}: not known)."""


def clientOf(message: Mapping[str, Any], fallback: str) -> str:
    """The client's name a 2026-07-28 request carries in its C{_meta}, else
    C{fallback} (the session's)."""
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    info = meta.get(CLIENT_INFO_KEY) if isinstance(meta, dict) else None
    name = info.get("name") if isinstance(info, dict) else None
    return name if isinstance(name, str) else fallback


def factsOf(message: Any, caller: Caller, where: Where, now: float) -> RequestFacts | None:
    """The facts of one message the policy decides (C{None}: a message it
    does not decide: a notification, a response, a listing, a lifecycle
    request)."""
    if not isinstance(message, dict) or "id" not in message:
        return None
    method = message.get("method")
    if not isinstance(method, str) or method not in DECIDED:
        return None
    params = message.get("params")
    params = params if isinstance(params, dict) else {}
    name = ""
    if DECIDED[method] != "Server":
        named = params.get("uri" if method == "resources/read" else "name")
        name = named if isinstance(named, str) else ""
    arguments = params.get("arguments")
    return RequestFacts(
        caller,
        method,
        where.target,
        name,
        arguments if isinstance(arguments, dict) else None,
        clientOf(message, where.client),
        where.route,
        now,
        where.source,
    )


def refusalError(requestId: Any, decision: Decision) -> Message:
    """The JSON-RPC error of a policy's refusal."""
    return jsonrpc.errorResponse(
        requestId, REFUSED, decision.reason, {"policies": list(decision.policies)}
    )


class PolicyGate:
    """The policy in front of the MCP endpoints (see the module docstring)."""

    log = Logger(observer=logs.observer, namespace="mcpgateway.policy")

    def __init__(self, policy: Callable[[], Policy | None], clock: Any) -> None:
        """
        @param policy: the policy now (read per request: a reloaded file
            applies at once); C{None}: none loaded yet, everything refused.
        """
        self.policy = policy
        self.clock = clock
        self.refused = 0
        self.file: Any = None
        """The policy file it reads (L{mcpgateway.governance.policyfile.PolicyFile}),
        whose state C{/health} shows; C{None}: not a file."""
        self.toolLabels: Callable[[str, str], frozenset[str]] | None = None
        """The labels of a server's tool (C{None}: none known)."""
        self.calls: KeptCalls | None = None
        """The tool calls it let on, for the flow step to ask about again
        (C{None}: no flow step asks, and a call needing a yes is refused)."""

    def health(self) -> dict[str, Any]:
        """What C{/health} shows of the policy."""
        shown: dict[str, Any] = {"refused": self.refused}
        health = getattr(self.file, "health", None)
        if callable(health):
            shown.update(health())
        return shown

    def decide(self, payload: Any, principal: object, where: Where) -> tuple[Decision, Any] | None:
        """C{None} when every request of C{payload} may go on, else the
        refusal and the id of the request it refuses (a batch's first
        refused request refuses the whole POST)."""
        caller: Caller | None = None
        for message in payload if isinstance(payload, list) else (payload,):
            if caller is None:
                caller = callerOf(principal)
            facts = factsOf(message, caller, where, self.clock.seconds())
            if facts is None:
                continue
            decision = self.decideFacts(facts)
            if not decision.allowed:
                self.refused += 1
                key = getattr(principal, "key", "")
                self.log.info(
                    "policy refused {method} of {server}/{name}: {policies}{who}",
                    method=facts.action,
                    server=facts.target.server,
                    name=logs.clientText(facts.name),
                    who=f" (principal {key})" if key else "",
                    principal=key,
                    policies=",".join(decision.policies),
                    policyRefused=facts.action,
                )
                requestId = message.get("id")
                valid = isinstance(requestId, str | int) and not isinstance(requestId, bool)
                return decision, requestId if valid else None
        return None

    def labelled(self, facts: RequestFacts) -> RequestFacts:
        """C{facts} with the labels of the tool it calls, if any."""
        labelsOf = self.toolLabels
        if labelsOf is None or DECIDED.get(facts.action) != "Tool" or not facts.name:
            return facts
        return replace(facts, toolLabels=labelsOf(facts.target.server, facts.name))

    def decideFacts(self, facts: RequestFacts) -> Decision:
        """The decision on C{facts} as the request arrives (L{judge}, its
        tool's labels added): a tool's call that needs a person's yes goes
        on to be held where the flow step asks again (else it is refused),
        and each tool's call let on is kept for that step (L{calls})."""
        facts = self.labelled(facts)
        decision = self.judge(facts)
        asks = decision.outcome == "approval"
        calls = self.calls
        if asks and (calls is None or facts.action != "tools/call"):
            only = "only a tool's call can wait for one, on a gateway that holds calls"
            return Decision("denied", decision.policies, f"{decision.reason} ({only})")
        if calls is not None and facts.action == "tools/call" and (asks or decision.allowed):
            policy = self.policy()
            calls.remember(facts, decision, "" if policy is None else policy.version)
            if asks:
                return Decision("allowed", decision.policies)
        return decision

    def judge(self, facts: RequestFacts) -> Decision:
        """The policy's decision on C{facts}; every request is refused while
        no policy is loaded, and when evaluating fails."""
        policy = self.policy()
        if policy is None:
            return Decision("denied", ("no-policy",), "no policy is loaded")
        try:
            return policy.decide(facts)
        except Exception:
            self.log.failure("evaluating the policy failed")
            return Decision("denied", ("error",), f"{facts.action} refused: the policy failed")

    def refuse(
        self, request: IRequest, decision: Decision, requestId: Any, payload: Any = None
    ) -> bytes:
        """Answer a refusal of C{payload}'s request C{requestId}: HTTP 200
        and the JSON-RPC error (for a batch, L{batchAnswer})."""
        request.setResponseCode(200)
        request.setHeader(b"content-type", b"application/json")
        answer = refusalError(requestId, decision)
        others = (
            f"not run: request {requestId!r} of this batch is refused by the gateway's"
            f" policy ({', '.join(decision.policies)}), and a batch is refused whole"
        )
        return jsonrpc.dumps(jsonrpc.batchAnswer(payload, answer, others))

    def screen(self, method: str, response: Message, principal: object, where: Where) -> Message:
        """The answer C{response} to a listing C{method}, without the items
        the caller may not call (unchanged for other methods)."""
        listed = LISTED.get(method)
        result = response.get("result")
        if listed is None or not isinstance(result, dict):
            return response
        key, action, field = listed
        items = result.get(key)
        if not isinstance(items, list):
            return response
        policy = self.policy()
        caller = callerOf(principal)
        shown = []
        for item in items:
            name = item.get(field) if isinstance(item, dict) else None
            if not isinstance(name, str) or policy is None:
                continue
            facts = self.labelled(RequestFacts(caller, action, where.target, name))
            try:
                visible = policy.visible(facts)
            except Exception:
                self.log.failure("screening a listing with the policy failed")
                visible = False
            if visible:
                shown.append(item)
        if len(shown) == len(items):
            return response
        return {**response, "result": {**result, key: shown}}


class RequestGate:
    """The policy, then the limits: one decision per request."""

    def __init__(self, policy: PolicyGate | None, limits: QuotaGate | None) -> None:
        self.policy = policy
        self.limits = limits

    def decide(
        self, payload: Any, principal: object, where: Where, principalKey: str
    ) -> tuple[Decision, Any]:
        """The decision on C{payload} (a refusal names the request it
        refuses; L{ALLOWED} and C{None} when every request goes on)."""
        if self.policy is not None:
            refused = self.policy.decide(payload, principal, where)
            if refused is not None:
                return refused
        if self.limits is not None:
            limited = self.limits.decide(payload, principalKey, where.target.server)
            if limited is not None:
                return limited
        return ALLOWED, None

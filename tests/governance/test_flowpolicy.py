"""The policy file asked again with data-origin labels
(L{mcpgateway.governance.flowpolicy}): a call the gate let on is put to
the policy with the client's labels and the tool's; an C{@approval} forbid
holds it for a person's yes, bound to the policy's version; a forbid that
reads the labels refuses it; a call the gate never saw is refused; and,
through the real site, a held call is allowed and sent once, a refused one
never reaches its server."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from mcpgateway.core.decision import ALLOWED
from mcpgateway.core.spec import ServerSpec
from mcpgateway.flow.held import HeldCalls
from mcpgateway.flow.labels import Label, parseEntryLabels
from mcpgateway.flow.rule import FlowSettings, Verdict
from mcpgateway.flow.step import Admission, FlowStep
from mcpgateway.governance.flowpolicy import DecidedCalls, PolicyLabels, wireFlowPolicy
from mcpgateway.governance.gate import PolicyGate
from mcpgateway.governance.policy import Caller, Policy, RequestFacts, TargetServer
from tests.support.flow.session import FakeSession
from tests.support.governance.policy import ASK_AFTER_UNTRUSTED
from tests.support.web.flowworld import World, answerOf, denialOf

ASK = ASK_AFTER_UNTRUSTED
FORBID = """
@id("everyone") permit(principal, action, resource);
@id("no-egress-with-private")
forbid(principal, action == Gateway::Action::"tools/call", resource)
when { resource.labels.contains("egress") && context.labels.contains("private") };
"""
OFF = FlowSettings(default=False)
"""The default rule off: what holds or refuses a call is the policy's."""
LABELS = ["untrusted", "private", "egress"]


def Session(principal: str = "k-alice") -> FakeSession:
    """Alice's client's session (or C{principal}'s)."""
    return FakeSession(principal=principal)


def stepFor(text: str, labels: list[str]) -> tuple[FlowStep, PolicyGate, HeldCalls, Policy]:
    """A flow step serving C{post} (labelled C{labels}) with the default
    rule off, asking the policy C{text}."""
    clock = Clock()
    store = HeldCalls(clock)
    step = FlowStep(clock, lambda: store)
    spec = ServerSpec(name="post", command="some-server", labels=parseEntryLabels(labels))
    step.use({"post": spec}, OFF)
    policy = Policy(text)
    gate = PolicyGate(lambda: policy, clock)
    wireFlowPolicy(gate, step)
    return step, gate, store, policy


def fired(waited: Deferred[Admission]) -> Admission:
    """What C{waited} fired with (it has)."""
    got: list[Admission] = []
    waited.addCallback(got.append)
    assert len(got) == 1
    return got[0]


def arrived(gate: PolicyGate, tool: str = "send", **arguments: Any) -> Any:
    """The gate's decision on a call of C{post}'s C{tool} by alice."""
    caller = Caller("alice", key="k-alice")
    return gate.decideFacts(
        RequestFacts(caller, "tools/call", TargetServer("post"), tool, arguments)
    )


def test_with_a_policy_the_step_is_active_and_asks_it_again_with_the_labels() -> None:
    step, gate, store, policy = stepFor(ASK, ["egress"])
    assert step.active and not step.ruleActive
    assert arrived(gate, to="me").allowed  # at the door: no client labels yet
    params = {"name": "send", "arguments": {"to": "me"}}
    decision, _ = step.decide(Session(), "post", params)
    assert decision.allowed
    step.record(Session(), frozenset({Label.UNTRUSTED}))
    decision, labels = step.decide(Session(), "post", params)
    assert decision.verdict is Verdict.HOLD and labels == {Label.EGRESS}
    assert decision.version == policy.version
    assert "by policy ask-egress-after-untrusted: egress after untrusted content" in (
        decision.reason
    )
    admitted = step.admit(Session(), "post", params, decision)
    held = store.pending()[0]
    assert (held.policyVersion, held.tool) == (policy.version, "send")
    assert held.labels == {Label.UNTRUSTED, Label.EGRESS}
    assert not admitted.called
    store.allow(held.id, "owner")
    assert fired(admitted).forward


def test_a_forbid_reading_the_labels_refuses_at_once() -> None:
    step, gate, store, _ = stepFor(FORBID, ["egress"])
    arrived(gate)
    step.record(Session(), frozenset({Label.PRIVATE}))
    params = {"name": "send", "arguments": {}}
    decision, _ = step.decide(Session(), "post", params)
    assert decision.verdict is Verdict.DENY
    admission = fired(step.admit(Session(), "post", params, decision))
    assert not admission.forward and store.pending() == [] and admission.denial is not None
    envelope = admission.denial["_meta"]["io.modelcontextprotocol/authorization-denial"]
    assert envelope["outcome"] == "refused" and envelope["heldCall"] is None
    assert "no-egress-with-private" in envelope["reason"]
    assert gate.refused == 1


def test_a_call_the_gate_never_let_on_is_refused() -> None:
    step, gate, _, _ = stepFor(ASK, ["egress"])
    arrived(gate, to="me")
    decision, _ = step.decide(Session(), "post", {"name": "send", "arguments": {"to": "you"}})
    assert decision.verdict is Verdict.DENY
    assert "was not asked about this call" in decision.reason
    other = Session(principal="k-bob")
    decision, _ = step.decide(other, "post", {"name": "send", "arguments": {"to": "me"}})
    assert decision.verdict is Verdict.DENY


def test_a_request_needing_a_yes_is_refused_where_none_can_be_asked() -> None:
    policy = Policy(ASK.replace('&& context.labels.contains("untrusted")', ""))
    gate = PolicyGate(lambda: policy, Clock())
    gate.toolLabels = lambda server, tool: frozenset({"egress"})
    refused = arrived(gate)
    assert refused.outcome == "denied" and "only a tool's call can wait" in refused.reason
    gate.calls = DecidedCalls()
    assert arrived(gate).allowed and len(gate.calls) == 1
    read = RequestFacts(Caller("alice"), "resources/read", TargetServer("post"), "file:///x")
    assert gate.decideFacts(read).allowed  # no tool: no labels, nothing to ask


def test_the_facts_kept_are_bounded_and_small() -> None:
    calls = DecidedCalls(kept=3)
    for n in range(5):
        facts = RequestFacts(Caller(key="k"), "tools/call", TargetServer("s"), f"t{n}")
        calls.remember(facts, ALLOWED, "v1")
    assert len(calls) == 3
    assert calls.find("k", "s", "t0", None) is None
    found = calls.find("k", "s", "t4", None)
    assert found is not None and (found.decision, found.version) == (ALLOWED, "v1")
    big = {"text": "x" * 100_000}
    facts = RequestFacts(Caller(key="k"), "tools/call", TargetServer("s"), "t", big)
    calls.remember(facts, ALLOWED, "v1")
    assert all(kept.facts.arguments is None for kept in calls._facts.values())  # not kept
    found = calls.find("k", "s", "t", {"text": "x" * 100_000})
    assert found is not None and found.facts.arguments == big
    assert calls.find("k", "s", "t", {"text": "y"}) is None


TOOL_ONLY = """
@id("everyone") permit(principal, action, resource);
@id("ask-every-egress") @approval("every post")
forbid(principal, action == Gateway::Action::"tools/call", resource)
when { resource.labels.contains("egress") };
@id("no-private-tools") forbid(principal, action, resource is Gateway::Tool)
when { resource.labels.contains("private") && resource.labels.contains("egress") };
"""
"""A policy that reads no client labels: the gate's decision stands."""


@given(
    st.sets(st.sampled_from(LABELS)),
    st.sets(st.sampled_from(LABELS)),
    st.sampled_from(
        [ASK, FORBID, ASK + FORBID.replace('@id("everyone")', '@id("all")'), TOOL_ONLY]
    ),
)
def test_the_step_says_what_the_policy_says_with_the_labels(
    gathered: set[str], toolLabels: set[str], text: str
) -> None:
    policy = Policy(text)
    gate = PolicyGate(lambda: policy, Clock())
    gate.toolLabels = lambda server, tool: frozenset(toolLabels)
    calls = gate.calls = DecidedCalls()
    facts = RequestFacts(Caller(key="k"), "tools/call", TargetServer("post"), "send", {})
    words = {Label(word) for word in gathered}, {Label(word) for word in toolLabels}
    if gate.decideFacts(facts).allowed:  # at the door, then where the call meets its client
        asked = PolicyLabels(gate, calls).ask("k", "post", "send", {}, *map(frozenset, words))
        got = "allowed" if asked is None else {"hold": "approval", "deny": "denied"}[asked.verdict]
    else:
        got = "denied"
    expected = policy.decide(
        RequestFacts(
            facts.caller,
            "tools/call",
            facts.target,
            "send",
            {},
            labels=frozenset(gathered),
            toolLabels=frozenset(toolLabels),
        )
    ).outcome
    assert got == expected


def test_a_policy_blind_to_the_clients_labels_is_not_asked_twice() -> None:
    step, gate, _, policy = stepFor(TOOL_ONLY, ["egress"])
    assert not policy.readsClientLabels and Policy(ASK).readsClientLabels
    judged: list[RequestFacts] = []
    judge = gate.judge

    def counted(facts: RequestFacts) -> Any:
        judged.append(facts)
        return judge(facts)

    gate.judge = counted  # type: ignore[method-assign]
    arrived(gate)
    decision, _ = step.decide(Session(), "post", {"name": "send", "arguments": {}})
    assert decision.verdict is Verdict.HOLD and decision.version == policy.version
    assert len(judged) == 1  # the gate's decision stood


def test_through_the_site_a_held_call_is_allowed_and_sent_once() -> None:
    world = World(OFF, policy=ASK)
    post = world.trifecta()
    response = world.post("post", post, "send", {"text": "hi"})
    assert not response.complete and world.forwarded("post") == []
    held = world.store.pending()[0]
    policy = world.gate.policy() if world.gate is not None else None
    assert policy is not None and held.policyVersion == policy.version
    assert "ask-egress-after-untrusted" in held.reason
    world.store.allow(held.id, "owner")
    assert [m["params"]["arguments"] for m in world.forwarded("post")] == [{"text": "hi"}]
    world.answer("post", "sent")
    assert answerOf(response)["result"]["content"][0]["text"] == "sent"


def test_through_the_site_a_label_forbid_never_reaches_the_server() -> None:
    world = World(OFF, policy=FORBID)
    post = world.trifecta()
    envelope = denialOf(world.post("post", post, "send", {"text": "hi"}))
    assert envelope["outcome"] == "refused" and "no-egress-with-private" in envelope["reason"]
    assert world.forwarded("post") == [] and world.store.pending() == []
    # A client that read nothing private posts.
    fresh = world.open("post", pid=7)
    assert world.call("post", fresh, "send", {"text": "hi"})["result"]["content"]

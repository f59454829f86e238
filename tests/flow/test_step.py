"""The flow step (L{mcpgateway.flow.step}): a tool's labels kept per entry
and catalog, the client a session belongs to, when the step is active, and
a held call's fate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mcpgateway.core.spec import ServerSpec
from mcpgateway.flow.defaults import ServerLabelling
from mcpgateway.flow.held import HeldCalls
from mcpgateway.flow.labels import Label, parseEntryLabels
from mcpgateway.flow.rule import FlowSettings
from mcpgateway.flow.step import DENIAL_KEY, Admission, FlowStep, canGivePrivate, denial
from tests.support.flow.session import FakeSession

EGRESS = frozenset({Label.EGRESS})


@dataclass(frozen=True)
class FakeCatalog:
    lists: dict[str, Any]


class FakeCatalogs:
    def __init__(self) -> None:
        self.catalogs: dict[str, FakeCatalog] = {}

    def get(self, server: str) -> FakeCatalog | None:
        return self.catalogs.get(server)


def entry(name: str, labels: Any = None, command: str = "some-server") -> ServerSpec:
    return ServerSpec(name=name, command=command, labels=parseEntryLabels(labels))


def test_a_tools_labels_follow_its_catalog() -> None:
    catalogs = FakeCatalogs()
    step = FlowStep(Clock(), lambda: HeldCalls(Clock()))
    step.use({"srv": entry("srv")}, catalogs=catalogs)
    assert step.toolLabels("srv", "look") == {Label.UNTRUSTED, Label.EGRESS}  # not listed
    catalogs.catalogs["srv"] = FakeCatalog(
        {"tools": [{"name": "look", "annotations": {"readOnlyHint": True}}]}
    )
    assert step.toolLabels("srv", "look") == {Label.UNTRUSTED}
    kept = step._servers["srv"]
    step.toolLabels("srv", "look")
    assert step._servers["srv"] is kept  # worked out once per catalog
    catalogs.catalogs["srv"] = FakeCatalog(
        {"tools": [{"name": "look", "annotations": {"openWorldHint": False}}]}
    )
    assert step.toolLabels("srv", "look") == frozenset()
    assert step.toolLabels("gone", "look") == frozenset()


def test_an_entry_change_at_reload_is_seen() -> None:
    step = FlowStep(Clock(), lambda: HeldCalls(Clock()))
    step.use({"srv": entry("srv", ["private"])})
    assert step.toolLabels("srv", "x") == {Label.PRIVATE}
    step.use({"srv": entry("srv", ["egress"])})
    assert step.toolLabels("srv", "x") == EGRESS


def test_active_only_where_a_server_can_give_private_data() -> None:
    step = FlowStep(Clock(), lambda: HeldCalls(Clock()))
    step.use({"a": entry("a"), "b": entry("b", ["untrusted", "egress"])})
    assert not step.active
    step.use({"a": entry("a"), "fs": entry("fs", None, "mcp-server-git")})
    assert step.active
    step.use({"fs": entry("fs", {"tools": {"read": ["private"]}})})
    assert step.active
    step.use({"fs": entry("fs", ["private"])}, FlowSettings(default=False))
    assert not step.active


@given(st.lists(st.sampled_from(["untrusted", "private", "egress"]), unique=True))
def test_can_give_private_says_whether_any_tool_may(words: list[str]) -> None:
    labelling = ServerLabelling.of("unknown", (), parseEntryLabels(words))
    assert canGivePrivate(labelling) == ("private" in words)


def test_a_team_clients_own_pid_is_not_its_key() -> None:
    step = FlowStep(Clock(), lambda: HeldCalls(Clock()))
    laptop = FakeSession(clientPid=42)
    assert step.keyOf(laptop) == ("", "pid", "42")
    sent = FakeSession(principal="alice", clientPid=42)
    assert step.keyOf(sent) == ("alice", "client", "agent")
    found = FakeSession(principal="alice", clientPid=42, pidFromSocket=True)
    assert step.keyOf(found) == ("alice", "pid", "42")
    nameless = FakeSession(id="s9", clientInfo=None)
    assert step.keyOf(nameless) == ("", "session", "s9")


def test_a_call_that_cannot_be_held_is_refused_at_once() -> None:
    clock = Clock()
    store = HeldCalls(clock, perClient=0)
    step = FlowStep(clock, lambda: store)
    step.use({"post": entry("post", ["egress"]), "fs": entry("fs", ["private"])})
    session = FakeSession()
    step.record(session, frozenset({Label.UNTRUSTED, Label.PRIVATE}))
    decision, labels = step.decide(session, "post", {"name": "send", "arguments": {}})
    assert decision.held and labels == EGRESS
    found: list[Admission] = []
    step.admit(session, "post", {"name": "send"}, decision).addCallback(found.append)
    [admission] = found
    assert not admission.forward and admission.denial is not None
    envelope = admission.denial["_meta"][DENIAL_KEY]
    assert envelope["outcome"] == "refused" and envelope["heldCall"] is None


def test_a_hand_over_answers_the_calls_waiting_for_a_person_at_once() -> None:
    """A restart: the held calls are this process's alone, so each call
    waiting for a person's yes is answered now with its denial, saying
    why and to call again, instead of outliving the hand-over's deadline."""
    clock = Clock()
    store = HeldCalls(clock)
    step = FlowStep(clock, lambda: store)
    step.use({"post": entry("post", ["egress"]), "fs": entry("fs", ["private"])})
    session = FakeSession()
    step.record(session, frozenset({Label.UNTRUSTED, Label.PRIVATE}))
    decision, _ = step.decide(session, "post", {"name": "send", "arguments": {}})
    found: list[Admission] = []
    step.admit(session, "post", {"name": "send", "arguments": {}}, decision).addCallback(
        found.append
    )
    clock.advance(1)
    assert found == []  # waiting for a person
    assert step.endWaits("The gateway restarted before a person decided it") == 1
    [admission] = found
    assert not admission.forward and admission.denial is not None
    text = admission.denial["content"][0]["text"]
    assert "The gateway restarted before a person decided it" in text and "Call again" in text
    assert admission.denial["_meta"][DENIAL_KEY]["outcome"] == "held"
    assert step.endWaits("again") == 0  # nothing waits any more
    clock.advance(step.wait)
    assert len(found) == 1


def test_a_denial_is_a_tool_error_with_its_envelope() -> None:
    shown = denial("why", frozenset({Label.EGRESS}), None, "full", "ask")
    assert shown["isError"] is True
    assert shown["content"][0]["text"].startswith("The gateway did not run this call: why.")
    assert shown["_meta"][DENIAL_KEY] == {
        "reason": "why",
        "outcome": "refused",
        "heldCall": None,
        "labels": ["egress"],
        "remedy": "ask",
    }

"""The Cedar policy (L{mcpgateway.governance.policy}): who may call what,
with which arguments; what a listing shows; the refusal's policy ids; the
default; a broken rule; client arguments that try to forge Cedar values."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import cedarpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.governance.policy import (
    DEFAULT_DENY_ID,
    SCHEMA,
    Caller,
    Policy,
    PolicyError,
    RequestFacts,
    TargetServer,
    _callerEntities,
    _resourceEntities,
    cedarString,
    cedarValue,
    contextOf,
)
from tests.support.governance.policy import ASK_AFTER_UNTRUSTED, TEAM

ANN = Caller("ann", frozenset({"analysts"}), (("dept", "research"),), via="oauth")
ROOT = Caller("root", frozenset({"admins"}), via="oauth")
BOB = Caller("bob", via="oauth")
FILES = TargetServer("files")


def call(caller: Caller, tool: str, target: TargetServer = FILES, **arguments: Any) -> RequestFacts:
    return RequestFacts(caller, "tools/call", target, tool, arguments, time=1.7e9)


def test_analysts_read_public_paths_only() -> None:
    policy = Policy(TEAM)
    allowed = policy.decide(call(ANN, "read_file", path="/data/public/a.csv"))
    assert allowed.allowed and allowed.policies == ("analysts-read-public",)
    for facts in (
        call(ANN, "read_file", path="/data/private/a.csv"),
        call(ANN, "read_file"),
        call(ANN, "write_file", path="/data/public/a.csv"),
        call(ANN, "read_file", TargetServer("other"), path="/data/public/a.csv"),
    ):
        refused = policy.decide(facts)
        assert refused.outcome == "denied"
        assert refused.policies == (DEFAULT_DENY_ID,)
        assert "resource.name" not in refused.reason  # the policy's id, never its text


def test_admins_everything_but_an_explicit_forbid() -> None:
    policy = Policy(TEAM)
    assert policy.decide(call(ROOT, "write_file", path="/etc/passwd")).allowed
    refused = policy.decide(call(ROOT, "shell"))
    assert refused.outcome == "denied" and refused.policies == ("no-shell",)
    assert refused.reason == "tools/call of files/shell refused by policy no-shell"


def test_default_allow_is_an_implicit_permit_that_forbids_override() -> None:
    policy = Policy(TEAM, default="allow")
    assert policy.decide(call(BOB, "anything")).allowed
    assert policy.decide(call(BOB, "shell")).policies == ("no-shell",)
    assert policy.visible(call(BOB, "anything"))
    assert not policy.visible(call(BOB, "shell"))


def test_a_policy_that_fails_to_evaluate_refuses() -> None:
    text = '@id("by-dept") forbid(principal, action, resource) when { context.nothere };'
    refused = Policy(text, default="allow").decide(call(BOB, "x"))
    assert refused.outcome == "denied" and refused.policies == ("by-dept",)


def test_claims_are_tags_and_groups_are_parents() -> None:
    text = (
        '@id("research") permit(principal, action, resource) when'
        ' { principal.hasTag("dept") && principal.getTag("dept") == "research" };'
    )
    policy = Policy(text)
    assert policy.decide(call(ANN, "x")).allowed
    assert not policy.decide(call(BOB, "x")).allowed


def test_context_time_source_and_kind() -> None:
    text = (
        '@id("office") permit(principal, action, resource) when'
        ' { context.source.isInRange(ip("10.0.0.0/8")) && context.hour == 9 &&'
        ' resource.server == "api" };'
        '@id("kind") forbid(principal, action, resource in Gateway::Server::"api")'
        ' when { context.client == "bad" };'
    )
    policy = Policy(text)
    api = TargetServer("api", "openapi")
    nine = 1_700_000_000 - 1_700_000_000 % 86400 + 9 * 3600
    facts = RequestFacts(BOB, "tools/call", api, "get", {}, "", "", nine, "10.1.2.3")
    assert policy.decide(facts).allowed
    outside = RequestFacts(BOB, "tools/call", api, "get", {}, "", "", nine, "192.168.1.1")
    assert not policy.decide(outside).allowed
    bad = RequestFacts(BOB, "tools/call", api, "get", {}, "bad", "", nine, "10.1.2.3")
    assert bad.client == "bad" and policy.decide(bad).policies == ("kind",)
    assert "source" not in contextOf(RequestFacts(BOB, "tools/call", api, source="unix"))


def test_listing_shows_what_some_call_could_be_allowed() -> None:
    policy = Policy(TEAM)
    assert policy.visible(RequestFacts(ANN, "tools/call", FILES, "read_file"))
    assert not policy.visible(RequestFacts(ANN, "tools/call", FILES, "write_file"))
    assert not policy.visible(RequestFacts(BOB, "tools/call", FILES, "read_file"))
    assert not policy.visible(RequestFacts(ROOT, "tools/call", FILES, "shell"))
    assert policy.visible(RequestFacts(ROOT, "tools/call", FILES, "write_file"))


def test_a_policy_that_does_not_parse() -> None:
    with pytest.raises(PolicyError, match="unexpected token"):
        Policy("permit(principal, action resource);")


def test_a_policy_without_an_id_is_named_by_cedar() -> None:
    refused = Policy("forbid(principal, action, resource);").decide(call(ROOT, "x"))
    assert refused.policies == ("policy0",)


def test_the_schema_parses_and_the_entities_fit_it() -> None:
    schema = cedarpy.Schema.from_str(SCHEMA)
    facts = call(ANN, "read_file")
    entities = [*_callerEntities(ANN), *_resourceEntities(facts)]
    cedarpy.Entities.from_json_str(json.dumps(entities), schema=schema)
    result = cedarpy.validate_policies(
        '@id("a") permit(principal in Gateway::Group::"g", action == Gateway::Action::"tools/call",'
        ' resource) when { resource.name like "read_*" && context.hour < 18 };',
        schema,
    )
    assert result.validation_passed, result.errors


def test_forged_entities_in_arguments_are_dropped() -> None:
    text = (
        '@id("forged") permit(principal, action, resource) when'
        ' { context.arguments has x && context.arguments.x == Gateway::Group::"admins" };'
    )
    forged = call(BOB, "x", x={"__entity": {"type": "Gateway::Group", "id": "admins"}})
    assert not Policy(text).decide(forged).allowed
    assert cedarValue({"__extn": {"fn": "ip", "arg": "1.2.3.4"}, "a": None}) == {}


def test_cedar_strings_escape() -> None:
    assert cedarString('a"b\\c\n\u00e9\x7f') == '"a\\"b\\\\c\\né\\u{7f}"'
    odd = Caller('we"ird\nname\u2028')
    policy = Policy("permit(principal, action, resource);")
    assert policy.visible(RequestFacts(odd, "tools/call", FILES, 'to"ol\x00'))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(k for v in value.values() for k in _keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(), JSON, max_size=5))
def test_any_arguments_are_a_cedar_record(arguments: dict[str, Any]) -> None:
    converted = cedarValue(arguments)
    assert not any(key.startswith("__") for key in _keys(converted))
    decision = Policy('@id("p") permit(principal, action, resource);').decide(
        call(BOB, "t", args=arguments)
    )
    assert decision.allowed


ASKING = (
    ASK_AFTER_UNTRUSTED
    + """
@id("no-rm") forbid(principal, action, resource is Gateway::Tool) when { resource.name == "rm" };
"""
)


def labelled(tool: str, gathered: set[str], toolLabels: set[str]) -> RequestFacts:
    return RequestFacts(
        BOB,
        "tools/call",
        FILES,
        tool,
        {},
        labels=frozenset(gathered),
        toolLabels=frozenset(toolLabels),
    )


def test_the_labels_are_the_tools_entity_and_the_clients_context() -> None:
    facts = labelled("post", {"untrusted", "private"}, {"egress"})
    assert contextOf(facts)["labels"] == ["private", "untrusted"]
    tool = _resourceEntities(facts)[1]
    assert tool["attrs"]["labels"] == ["egress"]
    text = (
        '@id("no-egress-with-private") forbid(principal, action, resource)'
        ' when { resource.labels.contains("egress") && context.labels.contains("private") };'
        '@id("all") permit(principal, action, resource);'
    )
    policy = Policy(text)
    assert policy.decide(facts).policies == ("no-egress-with-private",)
    assert policy.decide(labelled("post", {"untrusted"}, {"egress"})).allowed
    assert policy.decide(labelled("read", {"private"}, set())).allowed


def test_an_approval_forbid_asks_for_a_person_where_nothing_else_refuses() -> None:
    policy = Policy(ASKING)
    asked = policy.decide(labelled("post", {"untrusted"}, {"egress"}))
    assert asked.outcome == "approval" and not asked.allowed
    assert asked.policies == ("ask-egress-after-untrusted",)
    assert asked.reason == (
        "tools/call of files/post needs a person's yes by policy ask-egress-after-untrusted:"
        " egress after untrusted content"
    )
    assert policy.decide(labelled("post", set(), {"egress"})).allowed
    # A plain forbid refuses whatever a person would say.
    refused = policy.decide(labelled("rm", {"untrusted"}, {"egress"}))
    assert refused.outcome == "denied" and "no-rm" in refused.policies


def test_an_approval_forbid_never_allows_what_no_permit_allows() -> None:
    text = ASKING.replace('@id("everyone") permit(principal, action, resource);', "")
    refused = Policy(text).decide(labelled("post", {"untrusted"}, {"egress"}))
    assert (refused.outcome, refused.policies) == ("denied", (DEFAULT_DENY_ID,))
    asked = Policy(text, default="allow").decide(labelled("post", {"untrusted"}, {"egress"}))
    assert asked.outcome == "approval"


def test_an_approval_forbid_that_fails_to_evaluate_refuses() -> None:
    text = (
        '@id("all") permit(principal, action, resource);'
        '@id("ask") @approval("") forbid(principal, action, resource) when { context.nothere };'
    )
    refused = Policy(text).decide(labelled("post", set(), set()))
    assert (refused.outcome, refused.policies) == ("denied", ("ask",))


def test_a_tool_that_needs_a_yes_is_listed_and_one_forbidden_is_not() -> None:
    text = (
        '@id("all") permit(principal, action, resource);'
        '@id("ask") @approval("every egress") forbid(principal, action, resource)'
        ' when { resource has labels && resource.labels.contains("egress") };'
        '@id("no-rm") forbid(principal, action, resource)'
        ' when { resource has name && resource.name == "rm" };'
    )
    policy = Policy(text)
    assert policy.decide(labelled("post", set(), {"egress"})).outcome == "approval"
    assert policy.visible(labelled("post", set(), {"egress"}))
    assert not policy.visible(labelled("rm", set(), set()))


def test_the_version_names_the_text_and_the_default() -> None:
    assert Policy(ASKING).version == Policy(ASKING).version
    assert Policy(ASKING).version != Policy(ASKING + " ").version
    assert Policy(ASKING).version != Policy(ASKING, default="allow").version
    assert Policy(ASKING).version.startswith("cedar-")


def test_the_guides_labels_example_decides_as_the_guide_says() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "guide" / "policy.md").read_text()
    section = guide.split("## Labels, and asking a person", 1)[1]
    text = section.split("```cedar\n", 1)[1].split("```", 1)[0]
    policy = Policy(text)
    contractor = Caller("cy", frozenset({"contractors"}))
    facts = labelled("create_issue", {"private", "untrusted"}, {"egress"})
    assert policy.decide(replace(facts, caller=contractor)).policies[-1] == "no-egress-with-private"
    assert policy.decide(facts).outcome == "approval"
    assert policy.decide(labelled("create_issue", {"private"}, {"egress"})).allowed


@pytest.mark.parametrize(
    ("condition", "reads"),
    [
        ('context.client == "a"', False),
        ('resource.labels.contains("egress")', False),
        ("context.arguments has labels", False),
        ('context.labels.contains("private")', True),
        ("context has labels", True),
        ('context["labels"].isEmpty()', True),
        ('context == {"client": "a"}', True),  # the context whole: its labels too
    ],
)
def test_whether_a_policy_reads_the_clients_labels(condition: str, reads: bool) -> None:
    text = f"permit(principal, action, resource) when {{ {condition} }};"
    assert Policy(text).readsClientLabels is reads


TYPO = """@id("everyone") permit(principal, action, resource);
@id("no-bob-write") forbid(principal == Gateway::Principal::"bob", action, resource)
when { resource.tool == "write_file" };
"""
"""A policy that reads C{resource.tool}, which no entity has (a tool's is
C{name}): it fails to evaluate, and so refuses every request of bob's."""


def test_a_policy_reading_what_the_schema_has_not_is_warned_of() -> None:
    warnings = Policy(TYPO).warnings
    assert "no-bob-write: attribute `tool` on entity type `Gateway::Tool` not found" in warnings
    assert all(w.startswith("no-bob-write: attribute `tool`") for w in warnings)


def test_a_policy_reading_the_calls_arguments_is_no_mistake() -> None:
    assert Policy(TEAM).warnings == () and Policy(ASK_AFTER_UNTRUSTED).warnings == ()

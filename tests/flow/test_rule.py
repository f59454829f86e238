"""The decision for one call (L{mcpgateway.flow.rule}): held only where
C{untrusted}, C{private} and C{egress} meet, and never with the default
rule turned off by the C{"flow"} setting."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.flow.labels import Label
from mcpgateway.flow.rule import (
    ALLOW,
    FlowRule,
    FlowSettings,
    FlowSettingsError,
    Verdict,
    parseFlowSettings,
)
from tests.support.json_values import jsonValues

U, P, E = Label.UNTRUSTED, Label.PRIVATE, Label.EGRESS
LABELS = st.frozensets(st.sampled_from(list(Label)))


def test_untrusted_and_private_meeting_egress_is_held_naming_them() -> None:
    decision = FlowRule().decide(frozenset({U, P}), frozenset({U, E}), "fetch")
    assert decision.verdict is Verdict.HOLD and decision.held
    assert decision.met == frozenset({U, P, E})
    assert decision.reason == (
        "the client has read untrusted content and holds private data, and the tool"
        " 'fetch' can send data out (egress)"
    )


@pytest.mark.parametrize(
    ("gathered", "tool"),
    [
        ({U}, {E}),
        ({P}, {E}),
        ({U, P}, {U, P}),
        (set(), {U, P, E}),
    ],
)
def test_a_call_where_they_do_not_all_meet_is_allowed(
    gathered: set[Label], tool: set[Label]
) -> None:
    assert FlowRule().decide(frozenset(gathered), frozenset(tool)) is ALLOW


@given(LABELS, LABELS)
def test_held_exactly_when_all_three_meet(
    gathered: frozenset[Label], tool: frozenset[Label]
) -> None:
    held = FlowRule().decide(gathered, tool).held
    assert held == ({U, P} <= gathered and E in tool)


@given(LABELS, LABELS)
def test_the_default_turned_off_holds_nothing(
    gathered: frozenset[Label], tool: frozenset[Label]
) -> None:
    assert FlowRule(FlowSettings(default=False)).decide(gathered, tool) is ALLOW


def test_the_flow_setting() -> None:
    assert parseFlowSettings(None) == FlowSettings(default=True)
    assert parseFlowSettings({}) == FlowSettings(default=True)
    assert parseFlowSettings({"default": False}) == FlowSettings(default=False)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (False, "'flow' must be an object, such as {\"default\": false}"),
        ({"default": "off"}, "'flow.default' must be true or false"),
        (
            {"rules": []},
            "'flow' has the unknown key(s) 'rules': it takes \"default\" and \"webhook\"",
        ),
    ],
)
def test_a_flow_setting_that_cannot_be_used_is_named(value: Any, why: str) -> None:
    with pytest.raises(FlowSettingsError) as raised:
        parseFlowSettings(value)
    assert str(raised.value) == why


@given(jsonValues())
def test_any_flow_value_is_settings_or_an_error(value: Any) -> None:
    try:
        settings = parseFlowSettings(value)
    except FlowSettingsError as e:
        assert str(e).startswith("'flow")
        return
    assert isinstance(settings, FlowSettings)

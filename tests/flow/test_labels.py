"""An entry's C{"labels"} (L{mcpgateway.flow.labels}): the two shapes, what
each tool gets of it, and a clear error for anything else."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.flow.labels import (
    NO_ENTRY_LABELS,
    EntryLabels,
    Label,
    LabelsError,
    parseEntryLabels,
    parseLabels,
    words,
)
from tests.support.json_values import jsonValues

U, P, E = Label.UNTRUSTED, Label.PRIVATE, Label.EGRESS
LABEL_WORDS = st.lists(st.sampled_from([label.value for label in Label]), max_size=4)
TOOL_NAMES = st.text(min_size=1, max_size=12)


def test_a_list_labels_every_tool_of_the_server() -> None:
    labels = parseEntryLabels(["private", "egress", "private"])
    assert labels == EntryLabels(server=frozenset({P, E}))
    assert labels.forTool("anything") == frozenset({P, E})
    assert parseEntryLabels([]).forTool("x") == frozenset()


def test_no_labels_say_nothing() -> None:
    assert parseEntryLabels(None) is NO_ENTRY_LABELS
    assert not NO_ENTRY_LABELS.given
    assert NO_ENTRY_LABELS.forTool("x") is None


def test_a_tool_gets_its_name_then_the_first_pattern_then_the_server() -> None:
    labels = parseEntryLabels(
        {
            "server": ["untrusted"],
            "tools": {"send_*": ["egress"], "s*": ["private"], "send_note": []},
        }
    )
    assert labels.forTool("send_note") == frozenset()  # its own name beats a pattern
    assert labels.forTool("send_mail") == frozenset({E})  # the first pattern that matches
    assert labels.forTool("search") == frozenset({P})
    assert labels.forTool("read") == frozenset({U})  # the server's


def test_tools_alone_leave_the_others_to_the_defaults() -> None:
    labels = parseEntryLabels({"tools": {"post": ["egress"]}})
    assert labels.given and labels.server is None
    assert labels.forTool("post") == frozenset({E})
    assert labels.forTool("read") is None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("private", "'labels' must be a list of labels, or an object"),
        (["secret"], "'labels' has the unknown label 'secret': labels are untrusted, private"),
        ([1], "'labels' must be a list of labels (untrusted, private, egress)"),
        ({"tool": {}}, "'labels' has the unknown key(s) 'tool': it takes \"server\" and \"tools\""),
        ({"tools": ["a"]}, "'labels.tools' must be an object of label lists by tool name"),
        ({"tools": {"a": "egress"}}, "'labels.tools'['a'] must be a list of labels"),
        ({"tools": {"a": ["out"]}}, "'labels.tools'['a'] has the unknown label 'out'"),
        ({"tools": {"": []}}, "'labels.tools' names a tool with an empty name"),
        ({"server": "private"}, "'labels.server' must be a list of labels"),
    ],
)
def test_what_cannot_be_used_is_named(value: Any, why: str) -> None:
    with pytest.raises(LabelsError) as raised:
        parseEntryLabels(value)
    assert str(raised.value).startswith(why)


shaped = st.dictionaries(
    st.sampled_from(["server", "tools", "other"]),
    jsonValues() | LABEL_WORDS | st.dictionaries(TOOL_NAMES, jsonValues() | LABEL_WORDS),
)


@given(jsonValues() | shaped | LABEL_WORDS)
def test_any_value_is_labels_or_a_labels_error(value: Any) -> None:
    try:
        labels = parseEntryLabels(value)
    except LabelsError as e:
        assert "'labels" in str(e)
        return
    assert isinstance(labels, EntryLabels)


@given(st.none() | LABEL_WORDS, st.dictionaries(TOOL_NAMES, LABEL_WORDS, max_size=4))
def test_what_an_entry_says_reads_back_the_same(server: list[str] | None, tools: Any) -> None:
    value: dict[str, Any] = {"tools": tools}
    if server is not None:
        value["server"] = server
    labels = parseEntryLabels(value)
    assert parseEntryLabels(labels.asJson()) == labels
    for name, written in tools.items():
        assert labels.forTool(name) == frozenset(Label(word) for word in written)


def test_words_are_in_the_order_of_the_labels() -> None:
    assert words({E, U, P}) == ["untrusted", "private", "egress"]
    assert parseLabels(["egress", "untrusted"]) == frozenset({E, U})

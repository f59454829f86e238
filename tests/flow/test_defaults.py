"""Which labels a tool gets (L{mcpgateway.flow.defaults}): the entry, then
the table, then the annotations, whose rule never makes a tool
C{private}; and what C{servers show} is told of a server."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.flow.defaults import ServerLabelling, Source, ToolLabels, describe, fromAnnotations
from mcpgateway.flow.labels import Label, parseEntryLabels
from tests.support.json_values import jsonValues

U, P, E = Label.UNTRUSTED, Label.PRIVATE, Label.EGRESS
hints = st.none() | st.booleans() | st.integers() | st.text(max_size=3)


@pytest.mark.parametrize(
    ("annotations", "labels"),
    [
        (None, {U, E}),  # MCP's defaults: open-world, not read-only
        ({}, {U, E}),
        ({"readOnlyHint": True}, {U}),
        ({"openWorldHint": False}, set()),
        ({"openWorldHint": False, "readOnlyHint": False, "destructiveHint": True}, set()),
        ({"openWorldHint": True, "readOnlyHint": True}, {U}),
        ({"openWorldHint": "no", "readOnlyHint": 1}, {U, E}),  # not booleans: absent
        ("annotations", {U, E}),
    ],
)
def test_the_annotations_rule(annotations: Any, labels: set[Label]) -> None:
    assert fromAnnotations(annotations) == frozenset(labels)


HINT_KEYS = ["openWorldHint", "readOnlyHint", "destructiveHint"]


@given(st.dictionaries(st.sampled_from(HINT_KEYS), hints))
def test_annotations_never_make_a_tool_private(annotations: dict[str, Any]) -> None:
    labels = fromAnnotations(annotations)
    assert Label.PRIVATE not in labels
    assert Label.EGRESS not in labels or Label.UNTRUSTED in labels


def test_an_unknown_unannotated_server_alone_never_gathers_private() -> None:
    labelling = ServerLabelling.of("npx", ["-y", "some-mcp-server"])
    assert labelling.tool("anything") == ToolLabels(frozenset({U, E}), Source.ANNOTATIONS)


def test_the_table_beats_the_annotations() -> None:
    labelling = ServerLabelling.of("uvx", ["mcp-server-fetch"])
    listed = labelling.tool("fetch", {"readOnlyHint": True, "openWorldHint": False})
    assert listed == ToolLabels(frozenset({U, E}), Source.TABLE, "fetch")


def test_the_entry_beats_the_table_tool_by_tool_then_as_a_whole() -> None:
    entry = parseEntryLabels({"server": ["private"], "tools": {"fetch": []}})
    labelling = ServerLabelling.of("uvx", ["mcp-server-fetch"], entry)
    assert labelling.tool("fetch") == ToolLabels(frozenset(), Source.ENTRY)
    assert labelling.tool("other") == ToolLabels(frozenset({P}), Source.ENTRY)
    someTools = parseEntryLabels({"tools": {"a": []}})
    partial = ServerLabelling.of("uvx", ["mcp-server-fetch"], someTools)
    assert partial.tool("fetch").source is Source.TABLE


@given(st.lists(jsonValues() | st.fixed_dictionaries({"name": st.text(max_size=5)}), max_size=5))
def test_a_listing_of_any_shape_labels_its_named_tools(listed: list[Any]) -> None:
    tools = ServerLabelling().tools(listed)
    named = {t["name"] for t in listed if isinstance(t, dict) and isinstance(t.get("name"), str)}
    assert set(tools) == named


def test_describe_a_server_of_the_table_and_its_tools() -> None:
    entry = parseEntryLabels({"tools": {"x": []}})
    labelling = ServerLabelling.of("github-mcp-server", ["stdio"], entry)
    listed = [
        {"name": "get_issue"},
        {"name": "create_issue", "annotations": {"readOnlyHint": False}},
        {"name": "x"},
    ]
    assert describe(labelling, listed) == {
        "labels": ["untrusted", "egress"],
        "source": "table",
        "row": "github",
        "entry": {"tools": {"x": []}},
        "tools": {
            "create_issue": {"labels": ["egress"], "source": "table", "row": "github"},
            "get_issue": {"labels": ["untrusted"], "source": "table", "row": "github"},
            "x": {"labels": [], "source": "entry", "row": ""},
        },
    }


def test_describe_a_server_never_listed() -> None:
    assert describe(ServerLabelling(), None) == {
        "labels": [],
        "source": "annotations",
        "tools": None,
    }
    whole = ServerLabelling(parseEntryLabels(["private"]))
    assert describe(whole, None) == {
        "labels": ["private"],
        "source": "entry",
        "entry": {"server": ["private"]},
        "tools": None,
    }

"""L{mcpgateway.clientconfigs.jsonc.update}, the splice that writes a
hand-edited C{~/.claude.json} (L{JsonDataDocument}): whatever the layout of
the text, what it writes is strict JSON holding exactly the value asked for,
or nothing (the caller then writes the whole value)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.clientconfigs import jsonc
from mcpgateway.clientconfigs.documents import JsonDataDocument
from mcpgateway.clientconfigs.location import Location

SHARED = '{\n  "n": 3,\n  "servers": {\n    "a": {"command": "x"}, "b": {"command": "y"}\n  }\n}\n'
"""An object whose last member (C{"b"}) shares its line with another."""


def _strict(text: str) -> Any:
    """C{text} parsed as strict JSON: no duplicate key, no C{NaN}."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        assert len({key for key, _ in items}) == len(items), f"a duplicate key: {items}"
        return dict(items)

    def constant(name: str) -> Any:
        raise AssertionError(f"{name} is not JSON")

    return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)


def _exactly(value: Any) -> str:
    """C{value} as canonical JSON: C{1}, C{1.0} and C{true} differ, the
    order of an object's members does not count."""
    return json.dumps(value, sort_keys=True)


@pytest.mark.parametrize(
    ("added", "written"),
    [
        ({"type": "http", "url": "u"}, '{\n      "type": "http",\n      "url": "u"\n    }'),
        (5, "5"),
    ],
)
def test_a_member_added_after_a_last_member_that_shares_its_line(added: Any, written: str) -> None:
    servers = {"a": {"command": "x"}, "b": {"command": "y"}, "c": added}
    text = jsonc.update(SHARED, {"n": 3, "servers": servers})
    assert text == (
        '{\n  "n": 3,\n  "servers": {\n    "a": {"command": "x"}, "b": {"command": "y"},\n'
        f'    "c": {written}\n  }}\n}}\n'
    )
    assert _strict(text) == {"n": 3, "servers": servers}


def test_crlf_and_a_last_member_that_shares_its_line() -> None:
    servers = {"a": {"command": "x"}, "b": {"command": "y"}, "c": {"url": "u"}}
    text = jsonc.update(SHARED.replace("\n", "\r\n"), {"n": 3, "servers": servers})
    assert text == (
        '{\r\n  "n": 3,\r\n  "servers": {\r\n    "a": {"command": "x"}, "b": {"command": "y"},'
        '\r\n    "c": {\r\n      "url": "u"\r\n    }\r\n  }\r\n}\r\n'
    )
    assert _strict(text) == {"n": 3, "servers": servers}


@pytest.mark.parametrize("new", [True, 1.0])
def test_a_nested_value_that_changes_type_is_rewritten(new: Any) -> None:
    """C{1}, C{true} and C{1.0} are equal in Python, not in JSON."""
    text = jsonc.update('{\n  "a": {"x": 1},\n  "b": 2\n}', {"a": {"x": new}, "b": 2})
    assert text == '{\n  "a": {"x": ' + json.dumps(new) + '},\n  "b": 2\n}'


def test_a_document_whose_nested_value_changes_type(tmp_path: Path) -> None:
    """L{JsonDataDocument} writes an entry whose C{1} became C{true}."""
    raw = b'{\n  "n": 3,\n  "mcpServers": {"a": {"x": 1}}\n}\n'
    document = JsonDataDocument(tmp_path / ".claude.json", raw)
    document.replaceEntry(Location(("mcpServers",)), "a", {"x": True})
    assert document.text() == '{\n  "n": 3,\n  "mcpServers": {"a": {"x": true}}\n}\n'


def test_a_document_falls_back_to_the_whole_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the splice cannot be written (L{jsonc.update} gives C{None}), the
    whole value is written in the layout of the text."""
    raw = b'{\n  "n": 3, "mcpServers": {"a": {"x": 1}}\n}\n'
    document = JsonDataDocument(tmp_path / ".claude.json", raw)
    document.replaceEntry(Location(("mcpServers",)), "a", {"x": 2})
    monkeypatch.setattr(jsonc, "update", lambda text, value: None)
    assert (
        document.text()
        == '{\n  "n": 3,\n  "mcpServers": {\n    "a": {\n      "x": 2\n    }\n  }\n}\n'
    )


_keys = st.sampled_from(["a", "b", "c", "d"]) | st.text(max_size=3)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4)
)
_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=10,
)


def _twins(value: Any) -> list[Any]:
    """The values Python finds equal to C{value} that JSON does not."""
    if isinstance(value, bool):
        return [int(value), float(value)]
    if isinstance(value, int | float) and value in (0, 1):
        return [bool(value), float(value) if isinstance(value, int) else int(value)]
    return []


@st.composite
def _edited(draw: st.DrawFn, value: Any) -> Any:
    """C{value} with some members dropped, added or changed, at any depth."""
    how = draw(st.sampled_from(["edit", "edit", "edit", "new", "twin"]))
    if how == "twin" and _twins(value):
        return draw(st.sampled_from(_twins(value)))
    if how == "new" or not isinstance(value, dict):
        return draw(_values)
    result = {}
    for key, child in value.items():
        what = draw(st.sampled_from(["keep", "keep", "keep", "edit", "drop"]))
        if what != "drop":
            result[key] = child if what == "keep" else draw(_edited(child))
    for key, child in draw(st.dictionaries(_keys, _values, max_size=2)).items():
        result.setdefault(key, child)
    return result


def _grouped(value: Any, depth: int, perLine: int) -> str:
    """C{value} as JSON with C{perLine} members of each object on a line."""
    if not isinstance(value, dict) or not value:
        return json.dumps(value)
    members = [f"{json.dumps(k)}: {_grouped(v, depth + 1, perLine)}" for k, v in value.items()]
    lines = [
        "  " * (depth + 1) + ", ".join(members[i : i + perLine])
        for i in range(0, len(members), perLine)
    ]
    return "{\n" + ",\n".join(lines) + "\n" + "  " * depth + "}"


def _layout(value: Any, layout: str) -> str:
    if layout == "one line":
        return json.dumps(value)
    if layout == "compact":
        return json.dumps(value, separators=(",", ":"))
    if layout == "indented":
        return json.dumps(value, indent=2) + "\n"
    if layout == "tabs":
        return json.dumps(value, indent="\t")
    return _grouped(value, 0, int(layout[0])) + "\n"


@settings(max_examples=500, deadline=None)
@given(
    data=st.data(),
    original=st.dictionaries(_keys, _values, max_size=6),
    layout=st.sampled_from(
        ["one line", "compact", "indented", "tabs"] + ["2 a line", "3 a line"] * 2
    ),
    crlf=st.booleans(),
)
def test_update_writes_exactly_the_value_or_nothing(
    data: st.DataObject, original: dict[str, Any], layout: str, crlf: bool
) -> None:
    text = _layout(original, layout)
    if crlf:
        text = text.replace("\n", "\r\n")
    target = data.draw(_edited(original), label="target")

    written = jsonc.update(text, target)

    if _exactly(target) == _exactly(original):
        assert written == text
    if written is not None:
        assert _exactly(_strict(written)) == _exactly(target)

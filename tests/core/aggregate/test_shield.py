"""Tests for L{mcpgateway.core.aggregate.shield}: shrinking large tool results."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.core.aggregate.shield import META, Shielded, shield, size
from mcpgateway.core.aggregate.types import ShieldSpec

SPEC = ShieldSpec(enabled=True, budget=4096, maxItems=10, maxString=500, heavyField=64)
REF = "r.testref"


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def noteOf(out: Shielded) -> str:
    last = out.result["content"][-1]
    assert last["type"] == "text"
    return str(last["text"])


def test_size_is_compact_utf8_json() -> None:
    assert size({"a": [1, "é"]}) == len('{"a":[1,"é"]}'.encode())


def test_under_budget_is_unchanged() -> None:
    result = {"content": [text("small")], "structuredContent": {"x": 1}}
    out = shield(result, SPEC, REF)
    assert out.result is result and out.ref is None and out.omitted == {} and not out.structuredKept


def test_long_text_is_cut_with_marker_and_note() -> None:
    result = {"content": [text("y" * 100_000)], "isError": False}
    out = shield(result, SPEC, REF)
    assert size(out.result) <= SPEC.budget
    first = out.result["content"][0]["text"]
    assert first.startswith("y" * 500)
    assert first.endswith(f"…[cut: showing 500 of 100000 characters; get_result ref={REF}]")
    assert out.omitted == {"content.0.text": 99_500}
    assert f'ref="{REF}"' in noteOf(out) and "get_result" in noteOf(out)
    assert out.result["_meta"][META] == {"ref": REF, "omitted": {"content.0.text": 99_500}}
    assert out.result["isError"] is False
    assert out.ref == REF


def test_heavy_fields_first_and_enough() -> None:
    rows = [{"id": i, "name": f"n{i}", "body": "b" * 300, "path": "p" * 200} for i in range(12)]
    result = {"content": [text(json.dumps(rows))]}
    assert size(result) > SPEC.budget
    out = shield(result, SPEC, REF)
    assert out.omitted == {"content.0.text.*.body": 12}
    shown = json.loads(out.result["content"][0]["text"])
    assert shown == [{"id": i, "name": f"n{i}", "path": "p" * 200} for i in range(12)]


def test_then_arrays_are_cut() -> None:
    rows = [{"id": i, "name": f"name {i}"} for i in range(400)]
    out = shield({"content": [text(json.dumps(rows))]}, SPEC, REF)
    shown = json.loads(out.result["content"][0]["text"])
    assert shown[:10] == rows[:10]
    assert shown[10] == f"… 390 more items (get_result ref={REF})"
    assert out.omitted == {"content.0.text": 390}


def test_then_strings_in_json_are_cut() -> None:
    rows = [{"id": i, "name": "n" * 2000} for i in range(3)]
    out = shield({"content": [text(json.dumps(rows))]}, SPEC, REF)
    shown = json.loads(out.result["content"][0]["text"])
    assert shown[0]["id"] == 0 and shown[0]["name"].startswith("n" * 500)
    assert "showing 500 of 2000" in shown[0]["name"]
    assert size(out.result) <= SPEC.budget


def test_limits_halve_then_hard_cut() -> None:
    many = [text("z" * 400) for _ in range(60)]
    out = shield({"content": many}, SPEC, REF)
    assert size(out.result) <= SPEC.budget
    assert "content" in out.omitted
    assert len(out.result["content"]) == 2
    assert "get_result" in out.result["content"][0]["text"]


def test_images_become_markers() -> None:
    result = {
        "content": [
            {"type": "image", "data": "A" * 20_000, "mimeType": "image/png"},
            {"type": "resource", "resource": {"uri": "file:///x.bin", "blob": "B" * 9000}},
            text("caption"),
        ]
    }
    out = shield(result, SPEC, REF)
    first, second, third = out.result["content"][:3]
    assert first["type"] == "text" and "image omitted: 20000 characters" in first["text"]
    assert "image/png" in first["text"] and "path=content.0.data" in first["text"]
    assert "uri=file:///x.bin" in second["text"]
    assert third == text("caption")
    assert out.omitted == {"content.0.data": 1, "content.1.resource.blob": 1}


def test_structured_left_whole_without_hook() -> None:
    structured = {"items": [{"id": i, "v": "x" * 50} for i in range(500)]}
    result = {"content": [text(json.dumps(structured))], "structuredContent": structured}
    out = shield(result, SPEC, REF)
    assert out.result["structuredContent"] is structured
    assert out.structuredKept
    assert "structuredContent left whole" in noteOf(out)
    assert "content.0.text.items" in out.omitted


def test_structured_shrunk_when_hook_says_valid() -> None:
    structured = {"items": [{"id": i, "v": "x" * 50} for i in range(500)]}
    result = {"content": [text("see structuredContent")], "structuredContent": structured}
    seen: list[Any] = []

    def valid(value: Any) -> bool:
        seen.append(value)
        return True

    out = shield(result, SPEC, REF, valid)
    assert not out.structuredKept and size(out.result) <= SPEC.budget
    assert all(isinstance(item, dict) for item in out.result["structuredContent"]["items"])
    assert seen and out.omitted["structuredContent.items"] > 0


def test_structured_left_whole_when_hook_says_invalid_or_unknown() -> None:
    structured = {"items": list(range(5000))}
    result = {"content": [text("w" * 10_000)], "structuredContent": structured}
    for verdict in (False, None):

        def hook(value: Any, verdict: bool | None = verdict) -> bool | None:
            return verdict

        out = shield(result, SPEC, REF, hook)
        assert out.structuredKept and out.result["structuredContent"] == structured
        assert "would break the tool's outputSchema" in noteOf(out)


def test_never_grows() -> None:
    structured = {"items": list(range(5000))}
    result = {"content": [], "structuredContent": structured}
    out = shield(result, SPEC, REF)
    assert out.result is result and out.ref is None and out.structuredKept


def test_input_untouched_and_other_keys_kept() -> None:
    result = {"content": [text("q" * 10_000)], "_meta": {"server": 1}, "extra": "kept"}
    before = copy.deepcopy(result)
    out = shield(result, SPEC, REF)
    assert result == before
    assert out.result["_meta"]["server"] == 1 and out.result["extra"] == "kept"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=300),
    lambda inner: (
        st.lists(inner, max_size=30) | st.dictionaries(st.text(max_size=8), inner, max_size=8)
    ),
    max_leaves=200,
)
ITEM = st.one_of(
    st.builds(text, st.text(max_size=3000)),
    JSON.map(lambda value: text(json.dumps(value))),
    st.builds(
        lambda data: {"type": "image", "data": data, "mimeType": "image/png"},
        st.text(max_size=3000),
    ),
    JSON,
)


@settings(max_examples=50, deadline=None)
@given(
    content=st.lists(ITEM, max_size=12),
    structured=st.none() | JSON,
    budget=st.integers(2048, 16384),
    valid=st.sampled_from([None, True, False]),
)
def test_any_result_fits_or_structured_kept(
    content: list[Any], structured: Any, budget: int, valid: bool | None
) -> None:
    result: dict[str, Any] = {"content": content}
    if structured is not None:
        result["structuredContent"] = structured
    spec = ShieldSpec(enabled=True, budget=budget, maxItems=20, maxString=1000)
    hook = None if valid is None else (lambda value: valid)
    out = shield(result, spec, REF, hook)
    assert size(out.result) <= max(budget, size(result))
    assert size(out.result) <= budget or out.structuredKept or out.result is result
    if out.result is not result:
        assert out.ref == REF and out.result["_meta"][META]["ref"] == REF


def test_resource_text_is_cut_and_hard_cut_drops_extra_keys() -> None:
    resource = {"uri": "file:///log", "mimeType": "text/plain", "text": "l" * 5000}
    out = shield({"content": [{"type": "resource", "resource": resource}]}, SPEC, REF)
    cut = out.result["content"][0]["resource"]
    assert cut["uri"] == "file:///log" and "showing 500 of 5000" in cut["text"]
    huge = {"content": [text("a")], "extra": ["e" * 100] * 100, "isError": True}
    out = shield(huge, SPEC, REF)
    assert size(out.result) <= SPEC.budget and "extra" not in out.result
    assert out.result["isError"] is True and out.omitted["extra"] == 1


def test_unshrinkable_structured_is_kept_and_said() -> None:
    structured = {f"k{i}": i for i in range(2000)}
    result = {"content": [text("c" * 9000)], "structuredContent": structured}
    out = shield(result, SPEC, REF, lambda value: True)
    assert out.structuredKept and out.result["structuredContent"] == structured
    rest = {key: value for key, value in out.result.items() if key != "structuredContent"}
    assert size(rest) <= SPEC.budget

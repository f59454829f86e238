"""Tests for L{mcpgateway.core.aggregate.results}: kept results, pages, eviction."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mcpgateway.core.aggregate.results import (
    BadPath,
    ResultBudget,
    ResultGone,
    ResultStore,
    ResultTooLarge,
    compact,
)


def store(**kw: Any) -> tuple[ResultStore, Clock]:
    clock = Clock()
    budget = kw.pop("budget", ResultBudget())
    return ResultStore(clock, budget, **kw), clock


def textResult(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}]}


def test_ten_megabytes_of_text_pages_back_exactly() -> None:
    text = "".join(f"line {i} é✓ {'x' * (i % 70)}\n" for i in range(300_000))[: 10 * 2**20]
    assert len(text) == 10 * 2**20
    kept, _ = store()
    ref = kept.put(textResult(text))
    assert ref.startswith("r.") and len(ref) == 24
    parts, offset = [], 0
    while offset is not None:
        page = kept.page(ref, offset=offset, limit=1_000_000)
        assert page["path"] == "content.0.text" and page["total"] == len(text)
        parts.append(page["text"])
        offset = page["next"]
    assert len(parts) == 11
    rebuilt = "".join(parts)
    assert hashlib.sha256(rebuilt.encode()).digest() == hashlib.sha256(text.encode()).digest()


def test_default_string_page_and_query_lines() -> None:
    kept, _ = store()
    ref = kept.put(textResult("alpha\nBeta\ngamma\nbetamax"))
    page = kept.page(ref, limit=3)
    assert (page["text"], page["next"], page["offset"]) == ("alp", 3, 0)
    lines = kept.page(ref, query="BETA")
    assert lines["items"] == ["Beta", "betamax"] and lines["total"] == 2 and lines["next"] is None


def test_twenty_thousand_items_page_back() -> None:
    items = [{"id": i, "name": f"item {i}", "body": "b" * (i % 300)} for i in range(20_000)]
    result = {
        "content": [{"type": "text", "text": "see structured"}],
        "structuredContent": {"items": items},
    }
    kept, _ = store()
    ref = kept.put(result)
    back: list[Any] = []
    offset: int | None = 0
    while offset is not None:
        page = kept.page(ref, offset=offset, limit=997)
        assert page["path"] == "structuredContent.items" and page["total"] == 20_000
        back += page["items"]
        offset = page["next"]
    assert back == items
    assert kept.page(ref, "structuredContent.items", 5, 2, fields=["id"])["items"] == [
        {"id": 5},
        {"id": 6},
    ]
    assert len(kept.page(ref)["items"]) == 50


def test_query_over_items_and_fields() -> None:
    kept, _ = store()
    ref = kept.put(
        {"structuredContent": {"rows": [{"id": 1, "name": "Tea"}, {"id": 2, "name": "coffee"}, 3]}}
    )
    page = kept.page(ref, "structuredContent.rows", query="TEA", fields=["name"])
    assert page["items"] == [{"name": "Tea"}] and page["total"] == 1
    assert kept.page(ref, "structuredContent.rows.2")["value"] == 3


def test_json_text_is_walked_into() -> None:
    payload = [{"n": i} for i in range(300)]
    kept, _ = store()
    ref = kept.put(textResult(json.dumps(payload)))
    page = kept.page(ref, limit=10, offset=290)
    assert page["decoded"] is True and page["path"] == "content.0.text"
    assert page["items"] == payload[290:] and page["next"] is None
    assert kept.page(ref, "content.0.text.7.n")["value"] == 7
    # The same path given pages the same data the same way (it was paged
    # by characters when given, by items when implied).
    given = kept.page(ref, "content.0.text", limit=10, offset=290)
    assert given == page


@settings(max_examples=40, deadline=None)
@given(
    items=st.lists(
        st.one_of(
            st.integers(), st.text(max_size=20), st.dictionaries(st.text(max_size=5), st.integers())
        ),
        min_size=1,
        max_size=40,
    ),
    asText=st.booleans(),
    offset=st.integers(0, 45),
    limit=st.one_of(st.none(), st.integers(1, 50)),
    query=st.one_of(st.none(), st.text(max_size=3)),
)
def test_a_path_given_or_implied_pages_alike(
    items: list[Any], asText: bool, offset: int, limit: int | None, query: str | None
) -> None:
    kept, _ = store()
    body = json.dumps(items) if asText else items
    ref = kept.put({"content": [{"type": "text", "text": "x"}], "structuredContent": {"v": body}})
    implied = kept.page(ref, offset=offset, limit=limit, query=query)
    given = kept.page(ref, implied["path"], offset=offset, limit=limit, query=query)
    assert given == implied
    if isinstance(implied.get("items"), list) and query is None:
        assert implied["total"] == len(items)


def test_bad_path() -> None:
    kept, _ = store()
    ref = kept.put(textResult("plain"))
    with pytest.raises(BadPath):
        kept.page(ref, "content.9")
    with pytest.raises(BadPath):
        kept.page(ref, "content.0.text.x")
    ref = kept.put({"n": 1})
    with pytest.raises(BadPath):
        kept.page(ref)


def test_unknown_ref() -> None:
    kept, _ = store()
    with pytest.raises(ResultGone, match="unknown ref"):
        kept.page("r.nope")


def test_refs_are_unguessable_and_private() -> None:
    budget = ResultBudget()
    one, _ = store(budget=budget)
    two, _ = store(budget=budget)
    refs = {one.put({"i": i}) for i in range(50)}
    assert len(refs) == 50
    with pytest.raises(ResultGone):
        two.get(next(iter(refs)))


def test_kept_copy_is_independent() -> None:
    kept, _ = store()
    result = {"a": ["x"]}
    ref = kept.put(result)
    result["a"].append("y")
    assert kept.get(ref) == {"a": ["x"]}


def test_eviction_by_count_is_lru() -> None:
    kept, _ = store(maxEntries=3)
    a, b, c = (kept.put({"v": i}) for i in range(3))
    kept.get(a)
    d = kept.put({"v": 3})
    with pytest.raises(ResultGone, match="evicted"):
        kept.get(b)
    assert [kept.get(r) for r in (a, c, d)] == [{"v": 0}, {"v": 2}, {"v": 3}]
    assert len(kept) == 3 and kept.evicted == 1


def test_eviction_by_bytes() -> None:
    one = compact({"s": "x" * 100})
    kept, _ = store(maxBytes=len(one) * 2)
    a = kept.put({"s": "x" * 100})
    b = kept.put({"s": "y" * 100})
    c = kept.put({"s": "z" * 100})
    with pytest.raises(ResultGone):
        kept.get(a)
    assert kept.get(b) and kept.get(c) and kept.nbytes == 2 * len(one)
    with pytest.raises(ResultTooLarge):
        kept.put({"s": "x" * 1000})
    assert len(kept) == 2


def test_expiry_on_the_clock() -> None:
    kept, clock = store(maxAge=60.0)
    a = kept.put({"v": 1})
    clock.advance(30)
    b = kept.put({"v": 2})
    kept.get(a)
    clock.advance(30)
    with pytest.raises(ResultGone, match="expired"):
        kept.get(a)
    assert kept.get(b) == {"v": 2}
    clock.advance(30)
    with pytest.raises(ResultGone, match="expired"):
        kept.page(b)
    assert kept.nbytes == 0


def test_budget_is_shared_by_two_stores() -> None:
    size = len(compact({"s": "x" * 1000}))
    budget = ResultBudget(maxBytes=size * 3)
    one, _ = store(budget=budget)
    two, _ = store(budget=budget)
    a = one.put({"s": "x" * 1000})
    b = two.put({"s": "x" * 1000})
    c = one.put({"s": "x" * 1000})
    two.get(b)
    one.get(a)
    d = two.put({"s": "x" * 1000})  # over: c is the globally least recently used
    with pytest.raises(ResultGone, match="budget"):
        one.get(c)
    assert one.get(a) and two.get(b) and two.get(d)
    assert budget.used == 3 * size == one.nbytes + two.nbytes and budget.evicted == 1
    one.clear()
    assert budget.used == size * 1 + size and len(one) == 0
    with pytest.raises(ResultTooLarge):
        two.put({"s": "x" * 5000})
    assert budget.used == 2 * size and two.nbytes == 2 * size


@settings(max_examples=50, deadline=None)
@given(text=st.text(max_size=300), limit=st.integers(1, 50))
def test_string_pages_concatenate(text: str, limit: int) -> None:
    kept, _ = store()
    ref = kept.put({"t": text, "n": 1})
    parts, offset = [], 0
    while offset is not None:
        page = kept.page(ref, "t", offset=offset, limit=limit)
        parts.append(page["text"])
        offset = page["next"]
    assert "".join(parts) == text


def test_cleared_store_says_so() -> None:
    budget = ResultBudget()
    kept, _ = store(budget=budget)
    ref = kept.put({"v": "x" * 100})
    kept.clear()
    assert budget.used == 0 and kept.nbytes == 0
    with pytest.raises(ResultGone, match="session ended"):
        kept.page(ref)


def test_a_result_kept_under_a_name_is_kept_once() -> None:
    kept, clock = store(maxEntries=2, maxAge=60.0)
    result = textResult("the task's result")
    ref = kept.keptAs("task:a", result)
    assert kept.keptAs("task:a", {"other": 1}) == ref and len(kept) == 1
    assert kept.get(ref) == result
    assert kept.keptAs("task:b", textResult("b")) != ref
    clock.advance(61)
    again = kept.keptAs("task:a", result)
    assert again != ref and kept.get(again) == result
    kept.clear()
    assert kept.keptAs("task:a", result) not in (ref, again)

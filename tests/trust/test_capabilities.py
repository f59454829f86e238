"""What a listing's client declared, as the pins compare it: the paths of
its capabilities, bounded, and the smallest and largest sets kept."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.trust.capabilities import (
    MAX_NAME,
    MAX_PATHS,
    MAX_SETS,
    Sets,
    addLeast,
    addMost,
    declared,
    decode,
    encode,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=40,
)
capabilities = st.dictionaries(st.text(max_size=80), json_values, max_size=12)


def test_the_paths_of_what_a_client_declared() -> None:
    sdk = {
        "sampling": {},
        "elicitation": {"form": {}, "url": {}},
        "roots": {"listChanged": True},
        "tasks": {"requests": {"sampling": {"createMessage": {}}}},
        "experimental": None,
    }
    assert declared(sdk) == frozenset(
        {
            "/sampling",
            "/elicitation",
            "/elicitation/form",
            "/elicitation/url",
            "/roots",
            "/roots/listChanged",
            "/tasks",
            "/tasks/requests",
            "/tasks/requests/sampling",
            "/tasks/requests/sampling/createMessage",
        }
    )
    assert declared({}) == frozenset()
    assert declared({"roots": {"listChanged": False}}) == frozenset({"/roots"})
    assert declared({"a/b": {"c~": {}}}) == frozenset({"/a~1b", "/a~1b/c~0"})


@pytest.mark.parametrize("value", [None, [], "sampling", 7])
def test_what_is_not_an_object_is_not_known(value: Any) -> None:
    assert declared(value) is None


@given(capabilities)
def test_any_capabilities_give_a_bounded_set(caps: dict[str, Any]) -> None:
    paths = declared(caps)
    assert paths is not None and len(paths) <= MAX_PATHS
    assert all(path.startswith("/") and path.count("/") <= 4 for path in paths)
    assert all(len(step) <= 2 * MAX_NAME for path in paths for step in path.split("/"))
    assert declared(dict(reversed(list(caps.items())))) == paths


@given(capabilities, st.text(min_size=1, max_size=8))
def test_declaring_one_more_member_declares_more(caps: dict[str, Any], name: str) -> None:
    if name in caps or len(caps) > 6:
        return
    fewer, more = declared(caps), declared({**caps, name: {}})
    assert fewer is not None and more is not None
    assert fewer < more or len(more) == MAX_PATHS


sets = st.frozensets(st.sampled_from(["/a", "/b", "/c", "/d", "/e", "/f"]))


@given(st.lists(sets, min_size=1, max_size=40))
def test_the_least_sets_are_the_smallest_and_bounded(added: list[frozenset[str]]) -> None:
    kept = None
    for one in added:
        kept = addLeast(kept, one)
    assert kept is not None and 1 <= len(kept) <= MAX_SETS
    assert not any(a < b for a in kept for b in kept)
    # Every set added has one kept within it (so a tool seen with it is expected).
    assert all(any(k <= one for k in kept) for one in added)


@given(st.lists(sets, min_size=1, max_size=40))
def test_the_most_sets_are_the_largest_and_bounded(added: list[frozenset[str]]) -> None:
    kept: Sets = (added[0],)
    for one in added[1:]:
        kept = addMost(kept, one)
    assert 1 <= len(kept) <= MAX_SETS
    assert not any(a < b for a in kept for b in kept)
    assert all(any(one <= k for k in kept) for one in added)


def test_past_the_bound_the_sets_merge_on_the_safe_side() -> None:
    many = [frozenset({f"/x{n}"}) for n in range(MAX_SETS + 1)]
    least = None
    for one in many:
        least = addLeast(least, one)
    assert least == (frozenset(),)  # expected of every client: a removal is told
    most: Sets = (many[0],)
    for one in many[1:]:
        most = addMost(most, one)
    assert most == (frozenset().union(*many),)  # no listing taken for a first one


def test_adding_nothing_new_keeps_the_sets() -> None:
    kept = (frozenset({"/a"}),)
    assert addLeast(kept, frozenset({"/a", "/b"})) is kept
    assert addMost(kept, frozenset()) is kept


@given(st.lists(sets, max_size=MAX_SETS))
def test_sets_roundtrip_through_the_file(kept: list[frozenset[str]]) -> None:
    assert set(decode(encode(tuple(kept)))) == set(kept)


@pytest.mark.parametrize("value", [{}, "a", [["/a"], "b"], [[1]], [[]] * (MAX_SETS + 1)])
def test_a_file_value_that_is_not_sets_is_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        decode(value)

"""Namespaced names: verbatim when clean and short, hashed when lossy or
long, always within the limit and C{[A-Za-z0-9_-]}, the same whatever other
servers exist, and distinct within one build."""

from __future__ import annotations

from dataclasses import replace
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.core.aggregate.naming import (
    MIN_LIMIT,
    SAFE,
    SEPARATORS,
    UNLIMITED,
    Collision,
    Namer,
    digest,
)
from mcpgateway.core.aggregate.types import NameSettings

GATEWAY = frozenset({"search", "describe", "invoke", "get_result"})


def namer(separator: str = "__", limit: int = 48) -> Namer:
    return Namer(NameSettings(separator, limit), GATEWAY)


def test_a_clean_short_name_is_verbatim() -> None:
    assert namer().name("fs", "read_file") == "fs__read_file"
    assert namer("-").name("memory", "create-entities") == "memory-create-entities"
    assert namer("--").name("a", "b") == "a--b"
    assert namer("_").name("a", "b") == "a_b"


def test_names_are_pinned_across_versions_and_processes() -> None:
    # names sit in clients' permission lists: a change here renames tools
    assert namer().name("fs", "read.file") == "fs__read_file-u4gcoa"
    assert namer().name("a-very-long-server-name-indeed", "t") == "a-very-long-s-jg75xx__t"
    assert namer().name("fs", "x" * 60) == "fs__" + "x" * 37 + "-hz6prr"


def test_an_alias_replaces_the_server_name_as_prefix() -> None:
    assert namer().name("filesystem", "read_file", alias="fs") == "fs__read_file"
    assert namer().name("filesystem", "read_file", alias="") == "filesystem__read_file"


def test_a_sanitized_tool_name_carries_the_hash_of_server_and_tool() -> None:
    name = namer().name("fs", "read.file")
    assert name == "fs__read_file-" + digest("fs\0read.file", 6)
    # the clean tool that looks the same keeps its plain name: no merge
    assert namer().name("fs", "read_file") == "fs__read_file"


def test_a_sanitized_server_name_makes_its_names_hashed() -> None:
    # server names may have dots; "a_b" is another, clean server
    assert namer().name("a.b", "x") == "a_b__x-" + digest("a.b\0x", 6)
    assert namer().name("a_b", "x") == "a_b__x"


def test_a_long_prefix_is_cut_with_the_hash_of_the_server() -> None:
    server = "a-very-long-server-name-indeed"
    name = namer().name(server, "t")
    assert name == "a-very-long-s-" + digest(server, 6) + "__t"
    other = namer().name("a-very-long-server-name-too", "t")
    assert other != name and other.startswith("a-very-long-s-")


def test_a_long_name_is_cut_to_the_limit_and_hashed() -> None:
    tool = "x" * 60
    name = namer(limit=48).name("fs", tool)
    assert len(name) == 48
    assert name == "fs__" + "x" * (48 - 4 - 7) + "-" + digest("fs\0" + tool, 6)
    assert name != namer(limit=48).name("fs", tool + "y")


def test_the_smallest_limit_still_fits_a_long_prefix() -> None:
    name = namer("--", MIN_LIMIT).name("s" * 30, "read.everything")
    assert len(name) <= MIN_LIMIT and SAFE.fullmatch(name)


def test_a_name_at_the_limit_is_verbatim_one_over_is_hashed() -> None:
    n = namer(limit=20)
    assert n.name("fs", "t" * 16) == "fs__" + "t" * 16
    assert n.name("fs", "t" * 17) != "fs__" + "t" * 17
    assert len(n.name("fs", "t" * 17)) == 20


def test_gateway_tool_names_are_never_produced() -> None:
    n = namer("_")
    name = n.name("get", "result")
    assert name not in GATEWAY
    assert name.startswith("get_result-")
    assert n.build([("get", "result")]) == {name: ("get", "result")}


def test_a_hashed_name_that_is_reserved_is_renamed_too() -> None:
    hashed = namer().name("fs", "read.file")
    n = Namer(NameSettings(), GATEWAY | {hashed})
    naming = n.resolve([("fs", "read.file")])
    (collision,) = naming.collisions
    assert collision.kept is None and "a gateway tool" in str(collision)
    assert list(naming.names) == [collision.replacement]
    assert collision.replacement == "fs__read_file-" + digest("fs\0read.file", 10)


def test_names_come_sorted() -> None:
    names = namer().build([("b", "x"), ("a", "y"), ("a", "x")])
    assert list(names) == ["a__x", "a__y", "b__x"]


def test_an_empty_tool_name_is_hashed() -> None:
    name = namer().name("fs", "")
    assert name == "fs__-" + digest("fs\0", 6)


def test_unlimited_is_for_prompts() -> None:
    n = Namer(replace(NameSettings(), limit=UNLIMITED))
    assert n.name("fs", "p" * 300) == "fs__" + "p" * 300


@pytest.mark.parametrize(
    "settings_", [NameSettings(separator="."), NameSettings(separator=""), NameSettings(limit=15)]
)
def test_bad_settings_are_refused(settings_: NameSettings) -> None:
    with pytest.raises(ValueError):
        Namer(settings_)


def test_a_residual_collision_is_settled_by_server_and_tool_order() -> None:
    n = namer("_")
    pairs = [("a_b", "c"), ("a", "b_c")]
    naming = n.resolve(pairs)
    # ("a", "b_c") sorts first: it keeps the plain name
    assert naming.names["a_b_c"] == ("a", "b_c")
    replacement = "a_b_c-" + digest("a_b\0c", 10)
    assert naming.names[replacement] == ("a_b", "c")
    assert naming.collisions == (Collision("a_b_c", ("a", "b_c"), ("a_b", "c"), replacement),)
    assert "a_b_c" in str(naming.collisions[0])
    assert n.build(reversed(pairs)) == naming.names


def test_the_same_alias_twice_collides_and_is_settled() -> None:
    n = namer()
    names = n.build([("one", "t"), ("two", "t")], aliases={"one": "x", "two": "x"})
    assert names["x__t"] == ("one", "t")
    assert len(names) == 2


def test_repeated_pairs_count_once() -> None:
    assert namer().build([("fs", "a"), ("fs", "a")]) == {"fs__a": ("fs", "a")}


def test_a_third_server_renames_nothing() -> None:
    n = namer()
    before = n.build([("a.b", "x"), ("a_b", "x")])
    after = n.build([("a.b", "x"), ("a_b", "x"), ("a-b", "x"), ("a b", "x")])
    assert before.items() <= after.items()


# Any strings: server names as config allows them and worse, tool names of any text.
SERVERS = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", fullmatch=True),
    st.text(max_size=70),
)
TOOLS = st.one_of(st.from_regex(r"[A-Za-z0-9_-]{0,70}", fullmatch=True), st.text(max_size=80))
SETTINGS = st.builds(NameSettings, st.sampled_from(sorted(SEPARATORS)), st.integers(MIN_LIMIT, 64))
PAIRS = st.lists(st.tuples(SERVERS, TOOLS), max_size=30)


@settings(max_examples=150, deadline=None)
@given(SETTINGS, SERVERS, TOOLS, st.one_of(st.none(), SERVERS))
def test_any_name_is_valid_and_within_the_limit(
    settings_: NameSettings, server: str, tool: str, alias: str | None
) -> None:
    n = Namer(settings_, GATEWAY)
    name = n.name(server, tool, alias)
    assert len(name) <= settings_.limit
    assert SAFE.fullmatch(name)
    assert name not in GATEWAY
    assert Namer(settings_, GATEWAY).name(server, tool, alias) == name  # a pure function


@settings(max_examples=150, deadline=None)
@given(SETTINGS, SERVERS, TOOLS)
def test_a_clean_short_name_is_always_verbatim(
    settings_: NameSettings, server: str, tool: str
) -> None:
    plain = server + settings_.separator + tool
    clean = (SAFE.fullmatch(server) and SAFE.fullmatch(tool) and len(server) <= 20) and len(
        plain
    ) <= settings_.limit
    name = Namer(settings_, GATEWAY).name(server, tool)
    if clean and plain not in GATEWAY:
        assert name == plain
    else:
        assert name != plain


@settings(max_examples=100, deadline=None)
@given(SETTINGS, PAIRS, st.randoms(use_true_random=False))
def test_build_is_injective_reversible_and_order_independent(
    settings_: NameSettings, pairs: list[tuple[str, str]], random: Random
) -> None:
    n = Namer(settings_, GATEWAY)
    names = n.build(pairs)
    assert sorted(names.values()) == sorted(set(pairs))  # one name per distinct pair
    for name in names:
        assert len(name) <= settings_.limit and SAFE.fullmatch(name) and name not in GATEWAY
    shuffled = list(pairs)
    random.shuffle(shuffled)
    assert n.build(shuffled) == names


@settings(max_examples=100, deadline=None)
@given(SETTINGS, PAIRS, PAIRS)
def test_a_name_without_collision_does_not_depend_on_the_other_pairs(
    settings_: NameSettings, pairs: list[tuple[str, str]], others: list[tuple[str, str]]
) -> None:
    n = Namer(settings_, GATEWAY)
    everything = n.resolve(pairs + others)
    renamed = {c.renamed for c in everything.collisions}
    for name, pair in everything.names.items():
        if pair not in renamed and pair in pairs:
            assert name == n.name(*pair)
            assert n.build(pairs)[name] == pair

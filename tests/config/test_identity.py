"""An entry's C{"serverInfo"}: the name and title its clients see, checked."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.config.identity import MAX_LENGTH, IdentityError, parseServerInfo
from mcpgateway.config.servers import parseConfig

REFUSED = ("Cc", "Cf", "Cs", "Zl", "Zp")


def test_no_server_info_chooses_nothing() -> None:
    assert parseServerInfo({"command": "c"}) == (None, None)


def test_name_and_title_are_read() -> None:
    given = {"serverInfo": {"name": "Team search", "title": "Search (staging)"}}
    assert parseServerInfo(given) == ("Team search", "Search (staging)")
    assert parseServerInfo({"serverInfo": {"title": "Only a title"}}) == (None, "Only a title")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("Team search", "'serverInfo' must be an object"),
        ({}, "'serverInfo' must choose a 'name', a 'title' or both"),
        ({"name": "a", "version": "1"}, "'serverInfo' may have only 'name' and 'title'"),
        ({"name": ""}, "'serverInfo.name' must be a non-empty string"),
        ({"name": "   "}, "'serverInfo.name' must be a non-empty string"),
        ({"name": 7}, "'serverInfo.name' must be a non-empty string"),
        ({"title": None}, "'serverInfo.title' must be a non-empty string"),
        ({"name": "x" * (MAX_LENGTH + 1)}, f"'serverInfo.name' must be at most {MAX_LENGTH}"),
        ({"name": "fake\nline"}, "'serverInfo.name' must not contain control"),
        ({"name": "esc\x1b[31m"}, "'serverInfo.name' must not contain control"),
        ({"title": "rtl\u202eoverride"}, "'serverInfo.title' must not contain control"),
    ],
)
def test_what_is_refused_says_why(value: Any, why: str) -> None:
    with pytest.raises(IdentityError) as raised:
        parseServerInfo({"serverInfo": value})
    assert str(raised.value).startswith(why)


def test_a_bad_server_info_skips_the_entry_with_a_warning_naming_it() -> None:
    loaded = parseConfig(
        {
            "mcpServers": {
                "bad": {"command": "c", "serverInfo": {"name": "a\nb"}},
                "good": {"command": "c", "serverInfo": {"name": "Team search"}},
            }
        },
        "test.json",
        {"PATH": "/usr/bin"},
    )
    assert list(loaded.servers) == ["good"]
    assert loaded.servers["good"].displayName == "Team search"
    assert loaded.servers["good"].displayTitle is None
    [warning] = loaded.warnings
    assert warning.startswith("server 'bad' (gateway scope): 'serverInfo.name' must not contain")


@given(st.one_of(st.none(), st.integers(), st.text(), st.dictionaries(st.text(), st.text())))
def test_any_server_info_is_read_or_refused_never_crashes(value: Any) -> None:
    try:
        name, title = parseServerInfo({"serverInfo": value})
    except IdentityError:
        return
    for text in (name, title):
        assert text is None or 0 < len(text) <= MAX_LENGTH
        assert text is None or not any(unicodedata.category(c) in REFUSED for c in text)

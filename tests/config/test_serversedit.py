"""L{mcpgateway.config.serversedit}: what an edit changes in C{servers.json},
what it refuses, and that it never shows a value of C{env}."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.config.serversedit import (
    OVERRIDE_KEYS,
    Edit,
    EditError,
    apply,
    editFromBody,
    editOf,
    parseSet,
)

ENVIRON = {"PATH": "/usr/bin:/bin"}


def fresh() -> dict[str, Any]:
    return {
        "mcpServers": {"own": {"command": sys.executable, "args": ["-m", "x"]}},
        "overrides": {},
        "projects": {},
    }


def test_set_parses_json_values() -> None:
    assert parseSet('env={"A": "1"}') == ("env", {"A": "1"})
    assert parseSet("toolBudget=20") == ("toolBudget", 20)
    assert parseSet('env.TOKEN="x"') == ("env.TOKEN", "x")


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("env", "must be KEY=JSON"),
        ("=1", "must be KEY=JSON"),
        ("env.A=plain", "the value is not JSON"),
        ("a.b.c=1", "a key is KEY or KEY.SUBKEY"),
        ("a.=1", "a key is KEY or KEY.SUBKEY"),
    ],
)
def test_bad_sets_are_refused(pair: str, message: str) -> None:
    with pytest.raises(EditError, match=message):
        parseSet(pair)


def test_an_own_entry_is_edited_itself() -> None:
    data = fresh()
    kind, changes = apply(data, "own", editOf(['args=["-m", "y"]', 'env.K="v"'], ["cwd"]), ENVIRON)
    assert kind == "entry"
    assert data["mcpServers"]["own"] == {
        "command": sys.executable,
        "args": ["-m", "y"],
        "env": {"K": "v"},
    }
    assert changes == [
        'args: ["-m", "x"] -> ["-m", "y"]',
        "env.K: (unset) -> ***",
        "cwd: not set (unchanged)",
    ]


def test_an_own_entry_the_gateway_would_not_serve_is_refused() -> None:
    data = fresh()
    with pytest.raises(EditError, match="own: "):
        apply(data, "own", editOf(["command=7"], []), ENVIRON)
    assert data == fresh()


def test_another_server_gets_an_override_and_loses_it_when_emptied() -> None:
    data = fresh()
    kind, _ = apply(data, "adopted", editOf(['env={"A": "1"}', "disabled=true"], []), ENVIRON)
    assert kind == "override"
    assert data["overrides"] == {"adopted": {"env": {"A": "1"}, "disabled": True}}
    apply(data, "adopted", editOf([], ["env.A", "disabled"]), ENVIRON)
    assert data["overrides"] == {}


@settings(deadline=None)  # a loaded machine: the values are large, not slow
@given(st.text(min_size=1, max_size=12).filter(lambda k: k.split(".")[0] not in OVERRIDE_KEYS))
def test_an_override_takes_no_key_of_the_clients_entry(key: str) -> None:
    data = fresh()
    with pytest.raises(EditError):
        apply(data, "adopted", Edit(((key, 1),)), ENVIRON)
    assert data == fresh()


@pytest.mark.parametrize(
    "pair", ['env={"LD_PRELOAD": "/x.so"}', "env=1", 'env={"A": 1}', "disabled=1"]
)
def test_bad_override_values_are_refused(pair: str) -> None:
    with pytest.raises(EditError):
        apply(fresh(), "adopted", editOf([pair], []), ENVIRON)


@settings(deadline=None)  # a loaded machine: the values are large, not slow
@given(
    st.dictionaries(
        st.text("ABCXYZ_", min_size=1, max_size=8),
        st.text(max_size=20).map(lambda v: "value:" + v),
        min_size=1,
    )
)
def test_env_values_are_never_shown(env: dict[str, str]) -> None:
    data = fresh()
    _, changes = apply(data, "adopted", Edit((("env", env),)), ENVIRON)
    _, more = apply(data, "adopted", Edit(unsets=("env",)), ENVIRON)
    assert "value:" not in "\n".join(changes + more)


def test_api_bodies() -> None:
    assert editFromBody({"set": {"a": 1}, "unset": ["b"]}) == Edit((("a", 1),), ("b",))
    with pytest.raises(EditError, match="unset: must be a list"):
        editFromBody({"unset": "b"})

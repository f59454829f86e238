"""aggregate.json: the aggregate endpoints' settings, and the
per-server filter keys of servers.json's overrides."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.config.aggregate import (
    MAX_BYTES,
    MAX_WARNINGS,
    AggregateConfigError,
    AggregateSettings,
    parseAggregate,
    readAggregateFile,
)
from mcpgateway.config.servers import parseConfig
from mcpgateway.config.serversfile import ServersFile
from mcpgateway.core.aggregate.types import EndpointSpec, NameSettings, ShieldSpec
from mcpgateway.core.spec import ToolFilter
from mcpgateway.runtime import paths


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / paths.AGGREGATE_FILE
    path.write_text(json.dumps(document))
    return path


def test_a_missing_file_is_the_defaults_without_a_warning(tmp_path: Path) -> None:
    settings_ = readAggregateFile(tmp_path / paths.AGGREGATE_FILE)
    assert settings_ == AggregateSettings()
    assert (settings_.endpoints, settings_.names, settings_.warnings) == ({}, NameSettings(), ())
    assert readAggregateFile(tmp_path / "no-dir" / paths.AGGREGATE_FILE) == AggregateSettings()
    assert parseAggregate({}) == AggregateSettings()


def test_every_key_of_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "separator": "-",
            "nameLimit": 60,
            "endpoints": {
                "windsurf": {
                    "mode": "full",
                    "servers": ["fs", "git*"],
                    "exclude": ["git-old"],
                    "tools": {
                        "fs": {
                            "includeTools": ["read_*", "list_*"],
                            "excludeTools": ["read_secret"],
                            "toolBudget": 10,
                        },
                        "github": {"enabled": False},
                    },
                    "toolBudget": 100,
                    "namespace": "never",
                    "shield": {
                        "enabled": True,
                        "budget": 32768,
                        "maxItems": 20,
                        "maxString": 4096,
                        "heavyField": 128,
                    },
                }
            },
        },
    )
    got = readAggregateFile(path)
    assert got.names == NameSettings("-", 60)
    assert got.warnings == ()
    assert got.endpoints == {
        "windsurf": EndpointSpec(
            name="windsurf",
            mode="full",
            servers=("fs", "git*"),
            exclude=("git-old",),
            tools={
                "fs": ToolFilter(include=("read_*", "list_*"), exclude=("read_secret",), budget=10),
                "github": ToolFilter(enabled=False),
            },
            toolBudget=100,
            namespace="never",
            shield=ShieldSpec(
                enabled=True, budget=32768, maxItems=20, maxString=4096, heavyField=128
            ),
        )
    }


def test_defaults_of_an_endpoint_and_the_shield_of_search_mode() -> None:
    """An endpoint names only what differs; a search-mode endpoint shields
    its results unless told not to; a full one does not unless told to.
    null is a key left out."""
    got = parseAggregate(
        {
            "endpoints": {
                "default": {},
                "search": {"mode": "search"},
                "quiet": {"mode": "search", "shield": {"enabled": False}},
                "big": {"shield": {"enabled": True, "budget": None}},
                "nulls": {"mode": None, "servers": None, "toolBudget": None, "tools": None},
            }
        }
    )
    assert got.endpoints["default"] == EndpointSpec(name="default")
    assert got.endpoints["search"] == EndpointSpec(
        name="search", mode="search", shield=ShieldSpec(enabled=True)
    )
    assert got.endpoints["quiet"].shield == ShieldSpec(enabled=False)
    assert got.endpoints["big"].shield == ShieldSpec(enabled=True)
    assert got.endpoints["nulls"] == EndpointSpec(name="nulls")
    assert got.names == NameSettings()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "must hold a JSON object"),
        ({"separator": "."}, "separator: must be one of '-', '--', '_', '__'"),
        ({"separator": ["__"]}, "separator: must be one of"),
        ({"nameLimit": 15}, "nameLimit: must be an integer from 16 to 64"),
        ({"nameLimit": 65}, "nameLimit: must be an integer from 16 to 64"),
        ({"nameLimit": 48.0}, "nameLimit: must be an integer from 16 to 64"),
        ({"nameLimit": True}, "nameLimit: must be an integer from 16 to 64"),
        ({"endpoints": []}, "endpoints: must be an object"),
        ({"endpoints": {"mcp": {}}}, "endpoints.mcp: an endpoint's name must be 1-32"),
        ({"endpoints": {"Cursor": {}}}, "endpoints.Cursor: an endpoint's name must be"),
        ({"endpoints": {"a.b": {}}}, 'endpoints["a.b"]: an endpoint\'s name must be'),
        ({"endpoints": {"x" * 33: {}}}, f"endpoints.{'x' * 33}: an endpoint's name"),
        ({"endpoints": {"": {}}}, 'endpoints[""]: an endpoint\'s name must be'),
        ({"endpoints": {"w": 1}}, "endpoints.w: must be an object"),
        ({"endpoints": {"w": {"mode": "lazy"}}}, 'endpoints.w.mode: must be "full" or "search"'),
        ({"endpoints": {"w": {"mode": ["full"]}}}, "endpoints.w.mode: must be"),
        ({"endpoints": {"w": {"namespace": "sometimes"}}}, "endpoints.w.namespace: must be"),
        ({"endpoints": {"w": {"servers": "fs"}}}, "endpoints.w.servers: must be a list of"),
        ({"endpoints": {"w": {"exclude": [1]}}}, "endpoints.w.exclude: must be a list of"),
        (
            {"endpoints": {"w": {"toolBudget": 3}}},
            "endpoints.w.toolBudget: must be an integer >= 4",
        ),
        ({"endpoints": {"w": {"toolBudget": "100"}}}, "endpoints.w.toolBudget: must be an integer"),
        ({"endpoints": {"w": {"toolBudget": 2**31}}}, "endpoints.w.toolBudget: must be an integer"),
        ({"endpoints": {"w": {"tools": []}}}, "endpoints.w.tools: must be an object"),
        ({"endpoints": {"w": {"tools": {"fs": True}}}}, "endpoints.w.tools.fs: must be an object"),
        (
            {"endpoints": {"w": {"tools": {"fs": {"enabled": "no"}}}}},
            "endpoints.w.tools.fs.enabled: must be true or false",
        ),
        (
            {"endpoints": {"w": {"tools": {"fs": {"toolBudget": -1}}}}},
            "endpoints.w.tools.fs.toolBudget: must be a whole number >= 0",
        ),
        (
            {"endpoints": {"w": {"tools": {"my fs": {"includeTools": "read_*"}}}}},
            'endpoints.w.tools["my fs"].includeTools: must be a list of tool names',
        ),
        ({"endpoints": {"w": {"shield": True}}}, "endpoints.w.shield: must be an object"),
        (
            {"endpoints": {"w": {"shield": {"enabled": 1}}}},
            "endpoints.w.shield.enabled: must be true or false",
        ),
        (
            {"endpoints": {"w": {"shield": {"budget": 100}}}},
            "endpoints.w.shield.budget: must be an integer >= 1024",
        ),
        (
            {"endpoints": {"w": {"shield": {"maxItems": 0}}}},
            "endpoints.w.shield.maxItems: must be an integer >= 1",
        ),
        (
            {"endpoints": {"w": {"shield": {"maxString": 1e9}}}},
            "endpoints.w.shield.maxString: must be an integer >= 64",
        ),
        (
            {"endpoints": {"w": {"shield": {"heavyField": "big"}}}},
            "endpoints.w.shield.heavyField: must be an integer >= 16",
        ),
        ({"endpoints": {f"e{i}": {} for i in range(101)}}, "endpoints: at most 100 endpoints"),
    ],
)
def test_a_bad_value_is_an_error_naming_its_key_path(document: Any, message: str) -> None:
    with pytest.raises(AggregateConfigError) as caught:
        parseAggregate(document)
    assert str(caught.value).startswith(message), str(caught.value)


def test_unknown_keys_are_warnings_not_errors() -> None:
    got = parseAggregate(
        {
            "$comment": "mine",
            "endpoints": {
                "w": {
                    "toolbudget": 5,
                    "tools": {"fs": {"alias": "f", "toolBudget": 3}},
                    "shield": {"limit": 1},
                }
            },
        }
    )
    assert got.warnings == (
        '["$comment"]: unknown key; ignored',
        "endpoints.w.toolbudget: unknown key; ignored",
        "endpoints.w.tools.fs.alias: unknown key; ignored",
        "endpoints.w.shield.limit: unknown key; ignored",
    )
    assert got.endpoints["w"].tools == {"fs": ToolFilter(budget=3)}
    assert got == parseAggregate({"endpoints": {"w": {"tools": {"fs": {"toolBudget": 3}}}}})


def test_the_warnings_are_bounded() -> None:
    got = parseAggregate({f"k{i}": i for i in range(1000)})
    assert len(got.warnings) == MAX_WARNINGS + 1
    assert got.warnings[-1] == f"{1000 - MAX_WARNINGS} more unknown key(s); ignored"
    long = parseAggregate({"\x00" + "x" * 5000: 1})
    [warning] = long.warnings
    assert len(warning) < 120 and "\\u0000" in warning


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not valid JSON: Expecting property name enclosed in double quotes"),
        (b"\xff\xfe{}", "not UTF-8 text"),
        (b"[" * 100_000 + b"]" * 100_000, "not usable JSON: RecursionError"),
        (b'{"nameLimit": ' + b"9" * 5000 + b"}", "not usable JSON: ValueError"),
        (b'{"nameLimit": 1e999}', "nameLimit: must be an integer"),
        (b'{"nameLimit": NaN}', "nameLimit: must be an integer"),
        (b'{"separator": "\\ud800"}', "separator: must be one of"),
        (b"null", "must hold a JSON object"),
    ],
)
def test_a_file_that_is_not_usable_json(tmp_path: Path, raw: bytes, message: str) -> None:
    path = tmp_path / paths.AGGREGATE_FILE
    path.write_bytes(raw)
    with pytest.raises(AggregateConfigError) as caught:
        readAggregateFile(path)
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_huge_or_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / paths.AGGREGATE_FILE
    path.write_bytes(b'{"x": "' + b"a" * MAX_BYTES + b'"}')
    with pytest.raises(AggregateConfigError, match=f"larger than {MAX_BYTES} bytes"):
        readAggregateFile(path)
    path.unlink()
    path.mkdir()
    with pytest.raises(AggregateConfigError, match="cannot read it"):
        readAggregateFile(path)


# -- any input ------------------------------------------------------------------------

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(["__", "-", "full", "search", "never", "*", "\ud800"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)
_NUMBERS = st.one_of(st.integers(-5, 2**32), st.sampled_from([True, 1.5, None, "4"]))
_GLOBS = st.one_of(
    st.lists(st.sampled_from(["*", "fs", "read_*", "", "\ud800", "x" * 300]), max_size=3), _JSON
)
_FILTER = st.one_of(
    _JSON,
    st.fixed_dictionaries(
        {},
        optional={
            "enabled": st.one_of(st.booleans(), _JSON),
            "includeTools": _GLOBS,
            "excludeTools": _GLOBS,
            "toolBudget": _NUMBERS,
            "alias": _JSON,
        },
    ),
)
_ENDPOINT = st.one_of(
    _JSON,
    st.fixed_dictionaries(
        {},
        optional={
            "mode": st.sampled_from(["full", "search", "x", None]),
            "servers": _GLOBS,
            "exclude": _GLOBS,
            "tools": st.one_of(
                _JSON, st.dictionaries(st.sampled_from(["fs", "a b", ""]), _FILTER, max_size=2)
            ),
            "toolBudget": _NUMBERS,
            "namespace": st.sampled_from(["always", "never", 1]),
            "shield": st.one_of(
                _JSON,
                st.fixed_dictionaries(
                    {},
                    optional={
                        "enabled": st.one_of(st.booleans(), _JSON),
                        "budget": _NUMBERS,
                        "maxItems": _NUMBERS,
                        "maxString": _NUMBERS,
                        "heavyField": _NUMBERS,
                    },
                ),
            ),
            "other": _JSON,
        },
    ),
)
_DOCUMENT = st.one_of(
    _JSON,
    st.fixed_dictionaries(
        {},
        optional={
            "separator": st.one_of(st.sampled_from(["__", "_", "-", "--", "."]), _JSON),
            "nameLimit": _NUMBERS,
            "endpoints": st.one_of(
                _JSON,
                st.dictionaries(
                    st.sampled_from(["default", "search", "w-1", "mcp", "A", ""]),
                    _ENDPOINT,
                    max_size=3,
                ),
            ),
        },
    ),
)


@settings(max_examples=300, deadline=None)
@given(document=_DOCUMENT)
def test_any_json_value_is_settings_or_an_aggregate_config_error(document: Any) -> None:
    """Whatever the file holds: settings every part of the aggregate can
    use, or an AggregateConfigError naming what is wrong; nothing else."""
    try:
        got = parseAggregate(document)
    except AggregateConfigError as e:
        assert str(e)
        return
    assert isinstance(got, AggregateSettings)
    assert 16 <= got.names.limit <= 64
    for name, endpoint in got.endpoints.items():
        assert endpoint.name == name and name != "mcp"
        assert endpoint.mode in ("full", "search")
        assert endpoint.toolBudget is None or endpoint.toolBudget >= 4
        assert all(isinstance(g, str) and g for g in endpoint.servers + endpoint.exclude)
        for filter_ in endpoint.tools.values():
            assert filter_.budget is None or filter_.budget >= 0
            assert isinstance(filter_.enabled, bool)
        assert endpoint.shield.budget >= 1024 and endpoint.shield.maxItems >= 1
    json.dumps(got.warnings)  # strict JSON, no lone surrogate survives into a log line
    for warning in got.warnings:
        warning.encode("utf-8")


@settings(max_examples=100, deadline=None)
@given(raw=st.one_of(st.binary(max_size=40), _JSON.map(lambda v: json.dumps(v).encode())))
def test_any_bytes_as_the_file_are_settings_or_an_aggregate_config_error(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / paths.AGGREGATE_FILE
        path.write_bytes(raw)
        try:
            readAggregateFile(path)
        except AggregateConfigError as e:
            assert str(e)


# -- servers.json's overrides -------------------------------------------------------


def test_servers_json_overrides_set_the_aggregate_keys(tmp_path: Path) -> None:
    """A server of any source gets its aggregate keys from servers.json's
    overrides too, key by key over its entry's; a bad one is a warning."""
    (tmp_path / paths.SERVERS_FILE).write_text(
        json.dumps(
            {
                "mcpServers": {},
                "overrides": {
                    "fs": {"excludeTools": ["write_*"], "toolBudget": 3},
                    "gh": {"aggregate": False, "alias": "has space", "disabled": True},
                },
            }
        )
    )
    loaded = parseConfig(
        {
            "mcpServers": {
                "fs": {"command": "c", "alias": "files", "toolBudget": 9},
                "gh": {"command": "c"},
            }
        },
        "test.json",
        {"PATH": ""},
    )
    merged = ServersFile(tmp_path).merge(loaded)
    assert merged.servers["fs"].aggregate == ToolFilter(
        exclude=("write_*",), budget=3, alias="files"
    )
    assert merged.servers["gh"].aggregate == ToolFilter(enabled=False)
    assert merged.servers["gh"].disabled
    [warning] = merged.warnings
    assert warning == (
        f"{tmp_path / paths.SERVERS_FILE}: 'gh'.alias must be 1-20 letters, digits, '_' or '-';"
        " ignored"
    )


def test_the_file_lives_next_to_servers_json(tmp_path: Path) -> None:
    assert paths.stateFile(tmp_path, paths.AGGREGATE_FILE) == tmp_path / "aggregate.json"
    assert os.path.dirname(paths.stateFile(tmp_path, paths.AGGREGATE_FILE)) == os.path.dirname(
        paths.stateFile(tmp_path, paths.SERVERS_FILE)
    )

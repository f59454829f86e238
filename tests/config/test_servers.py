"""Reading mcpServers files into ServerSpecs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.config.servers import (
    ConfigError,
    LoadedConfig,
    defaultConfigPath,
    demoConfig,
    loadConfig,
    parseConfig,
    readConfigFile,
)
from mcpgateway.core.spec import DEFAULT_REQUEST_TIMEOUT, ServerSpec

NO_PATH: dict[str, str] = {"PATH": ""}


def parse(
    data: dict[str, Any], environ: dict[str, str] | None = None, scope: str = "gateway"
) -> LoadedConfig:
    return parseConfig(data, "test.json", NO_PATH if environ is None else environ, scope)


@pytest.fixture
def bindir(tmp_path: Path) -> Path:
    """A directory holding one executable script, C{mytool}, and a non-executable file."""
    d = tmp_path / "bin"
    d.mkdir()
    tool = d / "mytool"
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(0o755)
    (d / "notexec").write_text("")
    return d


# -- scopes -----------------------------------------------------------------------


def test_user_scope() -> None:
    loaded = parse(
        {
            "mcpServers": {
                "fs": {"command": "npx", "args": ["-y", "srv"], "env": {"B": "2", "A": "1"}}
            }
        },
        scope="user",
    )
    assert loaded.warnings == []
    assert loaded.source == "test.json"
    assert loaded.servers == {
        "fs": ServerSpec(
            name="fs",
            command="npx",
            args=("-y", "srv"),
            env=(("A", "1"), ("B", "2")),
            cwd=None,
            mode="stateless",
            requestTimeout=60.0,
            scope="user",
            executable=None,
        )
    }


def test_local_scope_only_is_not_served_and_one_warning_names_them() -> None:
    """Issue 10.3: a project's private server must not reach every client."""
    loaded = parse(
        {
            "mcpServers": {"shared": {"command": "s"}},
            "projects": {
                "/home/me/p": {
                    "mcpServers": {"db": {"command": "db-srv"}, "fs": {"command": "fs"}}
                },
                "/home/me/q": {"allowedTools": [], "mcpServers": {"db": {"command": "other"}}},
            },
        },
        scope="user",
    )
    assert list(loaded.servers) == ["shared"]
    assert len(loaded.warnings) == 1
    warning = loaded.warnings[0]
    assert warning.startswith(
        "not serving 3 servers defined only in a project's scope:"
        " 'db' (local scope of project /home/me/p), 'fs' (local scope"
        " of project /home/me/p), 'db' (local scope of project"
        " /home/me/q)."
    )
    assert "every client on this machine" in warning
    assert "claude mcp add --scope user" in warning


def test_a_project_entry_identical_to_the_users_is_served_once_without_warning() -> None:
    entry = {"command": "same", "args": ["1"]}
    loaded = parse(
        {
            "mcpServers": {"x": entry},
            "projects": {
                "/a": {"mcpServers": {"x": dict(entry)}},
                "/b": {"mcpServers": {"x": dict(entry)}},
            },
        },
        scope="user",
    )
    assert loaded.warnings == []
    assert list(loaded.servers) == ["x"]
    assert loaded.servers["x"].scope == "user"


def test_the_user_scope_wins_over_a_different_project_entry() -> None:
    loaded = parse(
        {
            "mcpServers": {"x": {"command": "user-cmd"}},
            "projects": {"/p": {"mcpServers": {"x": {"command": "local-cmd"}}}},
        },
        scope="user",
    )
    assert loaded.servers["x"].command == "user-cmd"
    assert loaded.warnings == [
        "server 'x' is defined in user scope and local scope of project /p with another"
        " command; serving the one of user scope (clients in the project start their own)"
    ]


def test_a_mcp_json_is_project_scope_and_not_served() -> None:
    project = parse({"mcpServers": {"x": {"command": "proj"}}}, scope="project")
    assert project.servers == {}
    assert project.warnings[0].startswith(
        "not serving 1 server defined only in a project's scope: 'x' (project scope)."
    )
    loaded = parse(
        {
            "mcpServers": {"x": {"command": "proj"}},
            "projects": {"/p": {"mcpServers": {"x": {"command": "proj"}}}},
        },
        scope="project",
    )
    assert loaded.servers == {}


@pytest.mark.parametrize("scope", ["user", "gateway", "project"])
def test_invalid_project_entries_still_get_their_own_warning(scope: str) -> None:
    loaded = parse({"projects": {"/a": {"mcpServers": {"bad": {"command": ""}}}}}, scope=scope)
    assert loaded.servers == {}
    assert loaded.warnings == [
        "server 'bad' (local scope of project /a): 'command' must be a non-empty string; skipped"
    ]


def test_no_mcp_servers() -> None:
    loaded = parse({"projects": {"/a": {}}})
    assert loaded.servers == {}
    assert loaded.warnings == ["test.json has no mcpServers object; no servers to serve"]


def test_mcp_servers_not_an_object() -> None:
    loaded = parse({"mcpServers": ["x"], "other": {"mcpServers": {"ok": {"command": "c"}}}})
    assert loaded.warnings == ["mcpServers in gateway scope is not an object; skipped"]
    assert loaded.servers == {}


# -- entries ------------------------------------------------------------------------


def test_type_missing_with_command_is_stdio() -> None:
    loaded = parse(
        {
            "mcpServers": {
                "a": {"command": "c"},
                "b": {"type": "stdio", "command": "c"},
                "c": {"command": "c", "url": "http://ignored"},
            }
        }
    )
    assert sorted(loaded.servers) == ["a", "b", "c"]
    assert loaded.warnings == []


@pytest.mark.parametrize(
    ("entry", "kind"),
    [
        ({"type": "http", "url": "http://x/mcp"}, "http"),
        ({"type": "sse", "url": "http://x/sse"}, "sse"),
        ({"url": "http://x/mcp"}, "http"),
        ({"serverUrl": "http://x/mcp"}, "http"),
        ({"type": "http", "command": "c"}, "http"),
    ],
)
def test_non_stdio_skipped(entry: dict[str, Any], kind: str) -> None:
    loaded = parse({"mcpServers": {"remote": entry, "local": {"command": "c"}}})
    assert list(loaded.servers) == ["local"]
    assert loaded.warnings == [
        f"server 'remote' (gateway scope): type '{kind}' is not a stdio server;"
        " clients keep using it directly; skipped"
    ]


@pytest.mark.parametrize(
    ("name", "entry", "why"),
    [
        ("bad name", {"command": "c"}, "the name must be"),
        ("a/b", {"command": "c"}, "the name must be"),
        ("-lead", {"command": "c"}, "the name must be"),
        ("x" * 65, {"command": "c"}, "the name must be"),
        ("", {"command": "c"}, "the name must be"),
        ("e", "not an object", "the entry is not an object"),
        ("e", {"args": []}, "'command' must be a non-empty string"),
        ("e", {"command": "  "}, "'command' must be a non-empty string"),
        ("e", {"command": 5}, "'command' must be a non-empty string"),
        ("e", {"command": "c", "args": "-y srv"}, "'args' must be a list of strings"),
        ("e", {"command": "c", "args": ["a", 1]}, "'args' must be a list of strings"),
        ("e", {"command": "c", "env": {"A": 1}}, "'env' must be an object of string values"),
        ("e", {"command": "c", "env": ["A=1"]}, "'env' must be an object of string values"),
        ("e", {"command": "c", "cwd": 3}, "'cwd' must be a string"),
        ("e", {"command": "c", "mode": "shared"}, "'mode' must be one of global, workspace"),
        ("e", {"command": "c", "requestTimeout": "5000"}, "'requestTimeout' must be a positive"),
        ("e", {"command": "c", "requestTimeout": 0}, "'requestTimeout' must be a positive"),
        ("e", {"command": "c", "requestTimeout": -5}, "'requestTimeout' must be a positive"),
        ("e", {"command": "c", "requestTimeout": True}, "'requestTimeout' must be a positive"),
    ],
)
def test_invalid_entry_skipped_others_kept(name: str, entry: Any, why: str) -> None:
    loaded = parse({"mcpServers": {name: entry, "good": {"command": "c"}}})
    assert list(loaded.servers) == ["good"]
    [warning] = loaded.warnings
    assert warning.startswith(f"server '{name}' (gateway scope): {why}")
    assert warning.endswith("; skipped")


def test_valid_names() -> None:
    names = ["a", "A1", "my-server_2.0", "9lives", "x" * 64]
    loaded = parse({"mcpServers": {n: {"command": "c"} for n in names}})
    assert sorted(loaded.servers) == sorted(names)


def test_name_with_trailing_newline_rejected() -> None:
    loaded = parse({"mcpServers": {"demo\n": {"command": "c"}}})
    assert loaded.servers == {}
    assert len(loaded.warnings) == 1


def test_mode_and_timeout() -> None:
    loaded = parse(
        {
            "mcpServers": {
                "a": {"command": "c", "mode": "stateful", "requestTimeout": 5000},
                "b": {"command": "c", "requestTimeout": 1500.5},
                "c": {"command": "c"},
            }
        }
    )
    assert (loaded.servers["a"].mode, loaded.servers["a"].requestTimeout) == ("stateful", 5.0)
    assert loaded.servers["b"].requestTimeout == 1.5005
    assert (loaded.servers["c"].mode, loaded.servers["c"].requestTimeout) == (
        "stateless",
        DEFAULT_REQUEST_TIMEOUT,
    )


def test_cwd_expanded() -> None:
    loaded = parse(
        {
            "mcpServers": {
                "a": {"command": "c", "cwd": "${ROOT}/work"},
                "b": {"command": "c", "cwd": "~/x"},
            }
        },
        {"ROOT": "/srv", "PATH": ""},
    )
    assert loaded.servers["a"].cwd == "/srv/work"
    assert loaded.servers["b"].cwd == os.path.expanduser("~/x")


# -- variable expansion -----------------------------------------------------------


def test_expansion() -> None:
    environ = {"PATH": "", "TOOLS": "/opt/tools", "TOKEN": "s3cr3t", "EMPTY": ""}
    loaded = parse(
        {
            "mcpServers": {
                "x": {
                    "command": "${TOOLS}/bin/srv",
                    "args": [
                        "--token=${TOKEN}",
                        "${MISSING:-fallback}",
                        "${EMPTY:-dflt}",
                        "plain $HOME",
                    ],
                    "env": {
                        "A": "${EMPTY:-dflt}",
                        "B": "${EMPTY}",
                        "C": "${TOKEN:-unused}",
                        "D": "${MISSING:-}",
                    },
                }
            }
        },
        environ,
    )
    assert loaded.warnings == []
    spec = loaded.servers["x"]
    assert spec.command == "/opt/tools/bin/srv"
    assert spec.args == ("--token=s3cr3t", "fallback", "dflt", "plain $HOME")
    assert dict(spec.env) == {"A": "dflt", "B": "", "C": "s3cr3t", "D": ""}


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ({"command": "${NOPE}/srv"}, "command"),
        ({"command": "c", "args": ["${NOPE}"]}, "args"),
        ({"command": "c", "env": {"KEY": "x-${NOPE}"}}, "env.KEY"),
    ],
)
def test_missing_variable_skips_entry(entry: dict[str, Any], where: str) -> None:
    loaded = parse({"mcpServers": {"x": entry, "y": {"command": "c"}}})
    assert list(loaded.servers) == ["y"]
    assert loaded.warnings == [
        f"server 'x' (gateway scope): ${{NOPE}} in {where} is not set and has no default; skipped"
    ]


def test_expansion_uses_given_environ_not_process_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONLY_IN_PROCESS_ENV", "leak")
    loaded = parse({"mcpServers": {"x": {"command": "c", "args": ["${ONLY_IN_PROCESS_ENV}"]}}})
    assert loaded.servers == {}


# -- executable resolution ---------------------------------------------------------


def test_executable_resolved_on_given_path(bindir: Path) -> None:
    loaded = parse(
        {
            "mcpServers": {
                "t": {"command": "mytool"},
                "n": {"command": "notexec"},
                "u": {"command": "no-such-command-anywhere"},
            }
        },
        {"PATH": str(bindir)},
    )
    assert loaded.servers["t"].executable == str(bindir / "mytool")
    assert loaded.servers["n"].executable is None
    assert loaded.servers["u"].executable is None
    assert loaded.warnings == []  # not found is not a config warning: the pool reports it


def test_executable_resolved_on_entry_path(bindir: Path) -> None:
    loaded = parse(
        {"mcpServers": {"t": {"command": "mytool", "env": {"PATH": str(bindir)}}}}, {"PATH": ""}
    )
    assert loaded.servers["t"].executable == str(bindir / "mytool")


def test_absolute_command(bindir: Path) -> None:
    loaded = parse({"mcpServers": {"t": {"command": str(bindir / "mytool")}}})
    assert loaded.servers["t"].executable == str(bindir / "mytool")


def test_environment_merges_entry_over_base() -> None:
    spec = ServerSpec(name="x", command="c", env=(("A", "entry"), ("C", "3")))
    assert spec.environment({"A": "base", "B": "2"}) == {"A": "entry", "B": "2", "C": "3"}


# -- files --------------------------------------------------------------------------


def test_read_config_file_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{\n  "mcpServers": {\n    "a": {"command": "x",}\n  }\n}\n')
    with pytest.raises(ConfigError) as info:
        readConfigFile(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 3 column 26" in message


def test_read_config_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(ConfigError) as info:
        readConfigFile(path)
    assert str(info.value).startswith(f"cannot read config file {path}:")


def test_read_config_file_directory_and_bad_utf8(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        readConfigFile(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(ConfigError):
        readConfigFile(bad)


def test_read_config_file_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError) as info:
        readConfigFile(path)
    assert "must hold a JSON object" in str(info.value)


def test_load_config_scope_from_file_name(tmp_path: Path) -> None:
    data = json.dumps({"mcpServers": {"x": {"command": "c"}}})
    for name, scope in (
        (".claude.json", "user"),
        (".mcp.json", "project"),
        ("gateway.json", "gateway"),
    ):
        path = tmp_path / name
        path.write_text(data)
        loaded = loadConfig(path, NO_PATH)
        assert loaded.source == str(path)
        if scope == "project":  # a .mcp.json's servers are a project's: not served
            assert loaded.servers == {} and "(project scope)" in loaded.warnings[0]
        else:
            assert loaded.servers["x"].scope == scope


def test_demo() -> None:
    assert demoConfig() == {
        "mcpServers": {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}}
    }
    loaded = loadConfig(None, {"PATH": ""})
    assert list(loaded.servers) == ["demo"]
    demo = loaded.servers["demo"]
    assert demo.args == ("-m", "mcpgateway.demo")
    assert demo.executable == sys.executable
    assert loaded.source == "bundled demo"
    assert loaded.warnings == []


def test_default_config_path(tmp_path: Path) -> None:
    assert defaultConfigPath(str(tmp_path)) is None
    (tmp_path / ".claude.json").write_text("{}")
    assert defaultConfigPath(str(tmp_path)) == tmp_path / ".claude.json"


def test_identical_server_in_two_scopes_is_no_clash() -> None:
    entry = {"command": "node", "args": ["server.js"]}
    loaded = parseConfig(
        {"mcpServers": {"same": entry}, "projects": {"/p": {"mcpServers": {"same": dict(entry)}}}},
        "x",
        environ={"PATH": ""},
    )
    assert list(loaded.servers) == ["same"]
    assert loaded.warnings == []


_ENTRY = st.one_of(
    st.fixed_dictionaries(
        {"command": st.sampled_from(["a", "b"])},
        optional={"args": st.lists(st.sampled_from(["1", "2"]), max_size=1)},
    ),
    st.just({"type": "http", "url": "http://x/mcp"}),
    st.just({"command": ""}),
)
_BLOCK = st.dictionaries(st.sampled_from(["x", "y", "z"]), _ENTRY, max_size=3)


@settings(max_examples=200, deadline=None)
@given(
    top=st.one_of(st.none(), _BLOCK),
    projects=st.dictionaries(
        st.sampled_from(["/p", "/q"]),
        st.fixed_dictionaries({}, optional={"mcpServers": _BLOCK}),
        max_size=2,
    ),
    scope=st.sampled_from(["user", "gateway", "project"]),
)
def test_only_the_global_scope_is_ever_served(
    top: dict[str, Any] | None, projects: dict[str, Any], scope: str
) -> None:
    """Whatever the projects say, the served specs are exactly the top level's
    (for a user or gateway file), and nothing for a .mcp.json."""
    document: dict[str, Any] = {"projects": projects}
    if top is not None:
        document["mcpServers"] = top
    loaded = parse(document, scope=scope)
    alone = parse({"mcpServers": top or {}}, scope=scope)
    if scope == "project":
        assert loaded.servers == {}
    else:
        assert loaded.servers == alone.servers
    assert sum("defined only in a project" in w for w in loaded.warnings) <= 1

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
    EntryError,
    LoadedConfig,
    ProjectEntry,
    defaultConfigPath,
    demoConfig,
    httpsRemotes,
    loadConfig,
    parseConfig,
    parseEntry,
    readConfigFile,
)
from mcpgateway.core.spec import (
    DEFAULT_MAX_CHILDREN,
    DEFAULT_REQUEST_TIMEOUT,
    ServerSpec,
    ToolFilter,
)
from tests.support.config.executables import scripts

NO_PATH: dict[str, str] = {"PATH": ""}


def parse(
    data: dict[str, Any], environ: dict[str, str] | None = None, scope: str = "gateway"
) -> LoadedConfig:
    return parseConfig(data, "test.json", NO_PATH if environ is None else environ, scope)


@pytest.fixture
def bindir(tmp_path: Path) -> Path:
    """A directory holding one executable script, C{mytool}, and a non-executable file."""
    d = scripts(tmp_path / "bin", "mytool")
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
            mode="global",
            requestTimeout=60.0,
            scope="user",
            executable=None,
        )
    }


def test_project_entries_are_kept_raw_for_their_workspace() -> None:
    """Once "not served, one warning": a project's
    entries are no longer dropped; they are kept, unexpanded, for the routes
    of their workspace (config/scopes.py), so no project's server reaches
    every client and nothing is left to the client because of its scope."""
    loaded = parse(
        {
            "mcpServers": {"shared": {"command": "s"}},
            "projects": {
                "/home/me/p": {
                    "mcpServers": {
                        "db": {"command": "db-srv", "args": ["${DB_URL}"]},
                        "fs": {"command": "fs"},
                    }
                },
                "/home/me/q": {"allowedTools": [], "mcpServers": {"db": {"command": "other"}}},
            },
        },
        scope="user",
    )
    assert list(loaded.servers) == ["shared"]
    assert loaded.warnings == []  # ${DB_URL} is not set here: the workspace's .env may set it
    assert loaded.projects == [
        ProjectEntry(
            "/home/me/p",
            "db",
            {"command": "db-srv", "args": ["${DB_URL}"]},
            "local scope of project /home/me/p",
        ),
        ProjectEntry("/home/me/p", "fs", {"command": "fs"}, "local scope of project /home/me/p"),
        ProjectEntry("/home/me/q", "db", {"command": "other"}, "local scope of project /home/me/q"),
    ]


def test_a_project_entry_identical_to_the_users_is_kept_without_warning() -> None:
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
    assert [(p.workspace, p.name) for p in loaded.projects] == [("/a", "x"), ("/b", "x")]


def test_a_different_project_entry_is_no_clash_any_more() -> None:
    """Was: a warning, the user's served, the project's left to the
    client: each definition keeps its meaning."""
    loaded = parse(
        {
            "mcpServers": {"x": {"command": "user-cmd"}},
            "projects": {"/p": {"mcpServers": {"x": {"command": "local-cmd"}}}},
        },
        scope="user",
    )
    assert loaded.servers["x"].command == "user-cmd"
    assert loaded.warnings == []
    assert loaded.projects == [
        ProjectEntry("/p", "x", {"command": "local-cmd"}, "local scope of project /p")
    ]


def test_a_mcp_json_is_its_directorys_project(tmp_path: Path) -> None:
    """Was: not served, one warning: its entries are kept for the
    workspace the file is in."""
    source = str(tmp_path / ".mcp.json")
    project = parseConfig({"mcpServers": {"x": {"command": "proj"}}}, source, NO_PATH, "project")
    assert project.servers == {} and project.warnings == []
    assert project.projects == [
        ProjectEntry(str(tmp_path), "x", {"command": "proj"}, "project scope")
    ]
    loaded = parseConfig(
        {
            "mcpServers": {"x": {"command": "proj"}},
            "projects": {"/p": {"mcpServers": {"x": {"command": "proj"}}}},
        },
        source,
        NO_PATH,
        "project",
    )
    assert loaded.servers == {}
    assert [(p.workspace, p.label) for p in loaded.projects] == [
        (str(tmp_path), "project scope"),
        ("/p", "local scope of project /p"),
    ]


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


REMOTE_ENTRIES = [
    ({"type": "http", "url": "http://x/mcp"}, "http", "http"),
    ({"type": "sse", "url": "http://x/sse"}, "sse", "sse"),
    ({"url": "http://x/mcp"}, "http", "http"),
    ({"serverUrl": "http://x/mcp"}, "http", "http"),
    ({"type": "streamable-http", "url": "http://x/mcp"}, "streamable-http", "http"),
]


@pytest.mark.parametrize(("entry", "kind", "transport"), REMOTE_ENTRIES)
def test_remote_entries_of_a_clients_file_stay_with_the_client(
    entry: dict[str, Any], kind: str, transport: str
) -> None:
    """As it should be: a note, never a warning nor an entry to fix."""
    loaded = parse({"mcpServers": {"remote": entry, "local": {"command": "c"}}}, scope="user")
    assert list(loaded.servers) == ["local"]
    assert loaded.warnings == [] and loaded.invalid == []
    assert loaded.notes == [
        f"server 'remote' (user scope): type '{kind}' is a remote server;"
        " clients keep using it directly"
    ]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9100/demo/mcp", "http://localhost:9200/demo/mcp/"]
)
def test_a_client_pointed_at_the_bundled_demo_keeps_it_served(url: str) -> None:
    """The README's first steps point Claude Code at the demo by hand, which
    writes the ~/.claude.json the gateway serves from then on: the demo is
    still served, unless the file defines a server of that name."""
    loaded = parse({"mcpServers": {"demo": {"type": "http", "url": url}}}, scope="user")
    assert list(loaded.servers) == ["demo"] and loaded.servers["demo"].args == (
        "-m",
        "mcpgateway.demo",
    )
    assert any("bundled demo" in note for note in loaded.notes)
    own = {"demo": {"type": "http", "url": url}, "x": {"command": "c"}}
    assert "demo" not in parse({"mcpServers": {"other": own["x"]}}, scope="user").servers
    elsewhere = {"type": "http", "url": "https://example.com/demo/mcp"}
    assert "demo" not in parse({"mcpServers": {"demo": elsewhere}}, scope="user").servers


@pytest.mark.parametrize(("entry", "kind", "transport"), REMOTE_ENTRIES)
def test_remote_entries_of_the_gateways_config_are_served_one_session_per_client(
    entry: dict[str, Any], kind: str, transport: str
) -> None:
    loaded = parse({"mcpServers": {"remote": entry, "local": {"command": "c"}}})
    assert sorted(loaded.servers) == ["local", "remote"]
    spec = loaded.servers["remote"]
    assert spec.remote is not None
    assert spec.remote.transport == transport
    assert spec.remote.url == entry.get("url", entry.get("serverUrl"))
    assert spec.mode == "session" and spec.runnable
    assert loaded.warnings == []


def test_a_remote_entry_without_a_url_is_skipped_saying_so() -> None:
    loaded = parse({"mcpServers": {"remote": {"type": "http", "command": "c"}}})
    assert loaded.servers == {}
    assert loaded.warnings == [
        "server 'remote' (gateway scope): 'url' must be a non-empty string; skipped"
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
        ("e", {"args": []}, "it has neither 'command' (a stdio server) nor 'url' (a remote one)"),
        ("e", {"command": "  "}, "'command' must be a non-empty string"),
        ("e", {"command": 5}, "'command' must be a non-empty string"),
        ("e", {"command": "c", "args": "-y srv"}, "'args' must be a list of strings"),
        ("e", {"command": "c", "args": ["a", 1]}, "'args' must be a list of strings"),
        ("e", {"command": "c", "env": {"A": 1}}, "'env' must be an object of string values"),
        ("e", {"command": "c", "env": ["A=1"]}, "'env' must be an object of string values"),
        ("e", {"command": "c", "cwd": 3}, "'cwd' must be a string"),
        ("e", {"command": "c", "mode": "shared"}, "'mode' must be one of global, workspace"),
        ("e", {"command": "c", "share": "everyone"}, "'share' must be one of global, workspace"),
        ("e", {"command": "c", "share": ["global"]}, "'share' must be one of"),
        ("e", {"command": "c", "share": "session", "mode": "stateless"}, "'share' (session)"),
        ("e", {"command": "c", "credentialEnv": "TOKEN"}, "'credentialEnv' must be a list"),
        ("e", {"command": "c", "credentialEnv": ["A-B"]}, "'credentialEnv' must be a list"),
        ("e", {"command": "c", "credentialEnv": [1]}, "'credentialEnv' must be a list"),
        ("e", {"command": "c", "credentialEnv": ["LD_PRELOAD"]}, "'credentialEnv' may not list"),
        (
            "e",
            {"command": "c", "credentialEnv": ["MCPGATEWAY_API_TOKEN"]},
            "'credentialEnv' may not list MCPGATEWAY_API_TOKEN",
        ),
        ("e", {"command": "c", "maxChildren": 0}, "'maxChildren' must be a whole number"),
        ("e", {"command": "c", "maxChildren": 2.5}, "'maxChildren' must be a whole number"),
        ("e", {"command": "c", "maxChildren": True}, "'maxChildren' must be a whole number"),
        ("e", {"command": "c", "maxChildren": "4"}, "'maxChildren' must be a whole number"),
        ("e", {"command": "c", "requestTimeout": float("nan")}, "'requestTimeout' must be"),
        ("e", {"command": "c", "idleTimeout": float("inf")}, "'idleTimeout' must be"),
        ("e", {"command": "c", "maxRssMb": 10**400}, "'maxRssMb' must be"),
        ("e", {"command": "c", "requestTimeout": "5000"}, "'requestTimeout' must be a positive"),
        ("e", {"command": "c", "requestTimeout": 0}, "'requestTimeout' must be a positive"),
        ("e", {"command": "c", "requestTimeout": -5}, "'requestTimeout' must be a positive"),
        ("e", {"command": "c", "requestTimeout": True}, "'requestTimeout' must be a positive"),
        # 1e300 ms was a request that never timed out
        (
            "e",
            {"command": "c", "requestTimeout": 1e300},
            "'requestTimeout' must be a positive number of milliseconds, at most 86400000"
            " (one day), not 1e+300",
        ),
        # The value as given, not 8.64e+07
        (
            "e",
            {"command": "c", "requestTimeout": 86_400_001},
            "'requestTimeout' must be a positive number of milliseconds, at most 86400000"
            " (one day), not 86400001",
        ),
        (
            "e",
            {"command": "c", "requestTimeout": 86_400_000.5},
            "'requestTimeout' must be a positive number of milliseconds, at most 86400000"
            " (one day), not 86400000.5",
        ),
        ("e", {"command": "c", "requestTimeout": 10**400}, "'requestTimeout' must be"),
        # the aggregate endpoint's keys
        ("e", {"command": "c", "includeTools": "read_*"}, "'includeTools' must be a list of"),
        ("e", {"command": "c", "includeTools": ["ok", 3]}, "'includeTools' must be a list of"),
        ("e", {"command": "c", "excludeTools": [""]}, "'excludeTools' must be a list of"),
        ("e", {"command": "c", "excludeTools": ["x" * 257]}, "'excludeTools' must be a list of"),
        ("e", {"command": "c", "excludeTools": ["\ud800"]}, "'excludeTools' must be a list of"),
        ("e", {"command": "c", "toolBudget": -1}, "'toolBudget' must be a whole number >= 0"),
        ("e", {"command": "c", "toolBudget": 2.5}, "'toolBudget' must be a whole number >= 0"),
        ("e", {"command": "c", "toolBudget": True}, "'toolBudget' must be a whole number >= 0"),
        ("e", {"command": "c", "toolBudget": 10**40}, "'toolBudget' must be a whole number >= 0"),
        ("e", {"command": "c", "alias": "a b"}, "'alias' must be 1-20 letters"),
        ("e", {"command": "c", "alias": "x" * 21}, "'alias' must be 1-20 letters"),
        ("e", {"command": "c", "alias": ""}, "'alias' must be 1-20 letters"),
        ("e", {"command": "c", "aggregate": "no"}, "'aggregate' must be true or false"),
        ("e", {"command": "c", "aggregate": 0}, "'aggregate' must be true or false"),
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
    """The older "mode" is read as a "share" word (stateful: session)."""
    loaded = parse(
        {
            "mcpServers": {
                "a": {"command": "c", "mode": "stateful", "requestTimeout": 5000},
                "b": {"command": "c", "requestTimeout": 1500.5},
                "c": {"command": "c"},
                "d": {"command": "c", "mode": "stateless"},
            }
        }
    )
    assert (loaded.servers["a"].mode, loaded.servers["a"].requestTimeout) == ("session", 5.0)
    assert loaded.servers["a"].modeDeclared
    assert loaded.servers["b"].requestTimeout == 1.5005
    assert (loaded.servers["c"].mode, loaded.servers["c"].requestTimeout) == (
        "global",
        DEFAULT_REQUEST_TIMEOUT,
    )
    assert not loaded.servers["c"].modeDeclared
    assert (loaded.servers["d"].mode, loaded.servers["d"].modeDeclared) == ("global", True)


def test_a_request_timeout_of_one_day_is_the_most() -> None:
    loaded = parse({"mcpServers": {"a": {"command": "c", "requestTimeout": 86_400_000}}})
    assert loaded.servers["a"].requestTimeout == 86_400.0


@pytest.mark.parametrize("share", ["global", "workspace", "credential", "session"])
def test_share(share: str) -> None:
    spec = parseEntry("x", {"command": "c", "share": share}, NO_PATH)
    assert (spec.mode, spec.modeDeclared) == (share, True)
    assert parseEntry("x", {"command": "c", "share": share, "mode": share}, NO_PATH) == spec


def test_era2026_is_on_unless_turned_off() -> None:
    """C{"era2026": false} keeps a server off the 2026-07-28 wire."""
    entry = {"command": "c"}
    assert parseEntry("x", entry, {}).era2026 is True
    assert parseEntry("x", {**entry, "era2026": False}, {}).era2026 is False
    with pytest.raises(EntryError, match="'era2026' must be true or false"):
        parseEntry("x", {**entry, "era2026": "no"}, {})


def test_era_is_handshake_unless_said() -> None:
    """C{"era": "era2026"} talks 2026-07-28 to the child from the start."""
    entry = {"command": "c"}
    assert parseEntry("x", entry, {}).era == "handshake"
    assert parseEntry("x", {**entry, "era": "era2026"}, {}).era == "era2026"
    with pytest.raises(EntryError, match="'era' must be"):
        parseEntry("x", {**entry, "era": "2026"}, {})


def test_the_older_era_words_and_key_are_still_read() -> None:
    """Configs written before the words were renamed keep working."""
    entry = {"command": "c"}
    assert parseEntry("x", {**entry, "era": "legacy"}, {}).era == "handshake"
    assert parseEntry("x", {**entry, "era": "modern"}, {}).era == "era2026"
    assert parseEntry("x", {**entry, "modern": False}, {}).era2026 is False
    assert parseEntry("x", {**entry, "modern": False, "era2026": True}, {}).era2026 is True
    with pytest.raises(EntryError, match="'era' must be"):
        parseEntry("x", {**entry, "era": 7}, {})


def test_share_and_mode_word_that_agree() -> None:
    spec = parseEntry("x", {"command": "c", "share": "session", "mode": "stateful"}, NO_PATH)
    assert spec.mode == "session"


def test_credential_env_and_max_children() -> None:
    spec = parseEntry(
        "gh",
        {
            "command": "c",
            "share": "credential",
            "credentialEnv": ["GITHUB_TOKEN", "ORG", "GITHUB_TOKEN"],
            "maxChildren": 3,
            "idleTimeout": 30000,
        },
        NO_PATH,
    )
    assert spec.credentialEnv == ("GITHUB_TOKEN", "ORG")
    assert (spec.maxChildren, spec.idleTimeout) == (3, 30.0)
    plain = parseEntry("x", {"command": "c"}, NO_PATH)
    assert (plain.credentialEnv, plain.maxChildren) == ((), DEFAULT_MAX_CHILDREN)


WIDER_WITH_CREDENTIALS = [
    ({"share": "global"}, "global"),
    ({"share": "workspace"}, "workspace"),
    ({"mode": "stateless"}, "global"),
]


@pytest.mark.parametrize(("declared", "share"), WIDER_WITH_CREDENTIALS)
def test_credential_env_with_a_wider_share_is_refused_only_when_new(
    declared: dict[str, str], share: str
) -> None:
    """A new entry (the API, C{servers add}: C{strict}) that says a wider share
    with C{credentialEnv} is refused, saying what to write; the same entry in
    a file is kept (it is served as C{credential}, what it gets), never
    dropped."""
    entry = {"command": "c", **declared, "credentialEnv": ["TOKEN"]}
    with pytest.raises(EntryError) as refused:
        parseEntry("e", entry, NO_PATH, strict=True)
    assert str(refused.value) == (
        f"'credentialEnv' gives a child per set of credential values, which '{share}'"
        ' servers do not have: say "share": "credential" (or leave "share" out),'
        " or drop 'credentialEnv'"
    )
    kept = parseEntry("e", entry, NO_PATH)
    assert kept.credentialEnv == ("TOKEN",)


def test_credential_env_with_session_share_is_kept() -> None:
    """A child per session anyway: the session's values go into it (no
    contradiction, unlike global or workspace)."""
    spec = parseEntry("gh", {"command": "c", "share": "session", "credentialEnv": ["T"]}, NO_PATH)
    assert (spec.mode, spec.credentialEnv) == ("session", ("T",))
    undeclared = parseEntry("gh", {"command": "c", "credentialEnv": ["T"]}, NO_PATH)
    assert (undeclared.modeDeclared, undeclared.credentialEnv) == (False, ("T",))


def test_per_user_is_a_boolean_off_unless_said() -> None:
    """C{"perUser": true}: a child per authenticated principal (any share but session)."""
    spec = parseEntry("gh", {"command": "c", "perUser": True}, NO_PATH)
    assert (spec.perUser, spec.mode, spec.perPrincipal) == (True, "global", True)
    plain = parseEntry("x", {"command": "c"}, NO_PATH)
    assert (plain.perUser, plain.perPrincipal) == (False, False)
    credential = parseEntry("x", {"command": "c", "share": "credential"}, NO_PATH)
    assert (credential.perUser, credential.perPrincipal) == (False, True)
    session = parseEntry("x", {"command": "c", "share": "session", "perUser": True}, NO_PATH)
    assert (session.perUser, session.perPrincipal) == (True, False)  # per session already
    for bad in ("yes", 1, None, [True]):
        with pytest.raises(EntryError, match="'perUser' must be true or false"):
            parseEntry("x", {"command": "c", "perUser": bad}, NO_PATH)


def test_the_aggregate_keys_make_the_servers_tool_filter() -> None:
    """What the aggregate endpoint /mcp lists of a server comes
    from its entry's keys; an entry without them gets the open filter."""
    spec = parseEntry(
        "fs",
        {
            "command": "c",
            "includeTools": ["read_*", "list_directory", "read_*"],
            "excludeTools": ["*_dangerous"],
            "toolBudget": 0,
            "alias": "files",
            "aggregate": False,
        },
        NO_PATH,
    )
    assert spec.aggregate == ToolFilter(
        enabled=False,
        include=("read_*", "list_directory"),
        exclude=("*_dangerous",),
        budget=0,
        alias="files",
    )
    assert parseEntry("x", {"command": "c"}, NO_PATH).aggregate == ToolFilter()
    nulls = {"command": "c", "toolBudget": None, "alias": None, "includeTools": None}
    assert parseEntry("x", nulls, NO_PATH).aggregate == ToolFilter()  # null: not set
    on = parseEntry("x", {"command": "c", "aggregate": True, "toolBudget": 7}, NO_PATH)
    assert on.aggregate == ToolFilter(budget=7)
    # project entries (checked now, expanded per workspace) read them too
    loaded = parse({"projects": {"/p": {"mcpServers": {"x": {"command": "c", "toolBudget": "5"}}}}})
    assert loaded.projects == [] and "'toolBudget' must be a whole number" in loaded.warnings[0]


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
        if scope == "project":  # a .mcp.json's servers are its directory's project's
            assert loaded.servers == {} and loaded.warnings == []
            assert loaded.projects == [
                ProjectEntry(str(tmp_path), "x", {"command": "c"}, "project scope")
            ]
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
def test_only_the_global_scope_is_served_globally(
    top: dict[str, Any] | None, projects: dict[str, Any], scope: str
) -> None:
    """Whatever the projects say, the globally served specs are exactly the
    top level's (for a user or gateway file), and nothing for a .mcp.json;
    every valid stdio entry of a project is kept for its workspace."""
    document: dict[str, Any] = {"projects": projects}
    if top is not None:
        document["mcpServers"] = top
    loaded = parse(document, scope=scope)
    alone = parse({"mcpServers": top or {}}, scope=scope)
    if scope == "project":
        assert loaded.servers == {}
    else:
        assert loaded.servers == alone.servers
    blocks = [("/p", projects.get("/p", {})), ("/q", projects.get("/q", {}))]
    if scope == "project":
        blocks.insert(0, (os.path.dirname(os.path.abspath("test.json")), {"mcpServers": top}))
    expected = [
        (where, name)
        for where, project in blocks
        for name, entry in (project.get("mcpServers") or {}).items()
        if entry.get("command")
    ]
    assert [(p.workspace, p.name) for p in loaded.projects] == expected


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
_KEYS = [
    "type",
    "command",
    "args",
    "env",
    "cwd",
    "share",
    "mode",
    "credentialEnv",
    "maxChildren",
    "requestTimeout",
    "idleTimeout",
    "maxRssMb",
    "healthPing",
    "prewarm",
    "era2026",
    "era",
    "url",
    "includeTools",
    "excludeTools",
    "toolBudget",
    "alias",
    "aggregate",
]
_VALUES = st.one_of(
    _JSON,
    st.sampled_from(["global", "workspace", "credential", "session", "stateless", "stateful"]),
    st.sampled_from(["c", "${X}", "${X:-d}", "~/x", "a\0b", "\ud800", "/x\0/c", "/\ud800/c"]),
    st.lists(st.sampled_from(["A", "TOKEN", "LD_PRELOAD", "1x", "${X}"]), max_size=3),
    st.dictionaries(st.sampled_from(["A", "PATH"]), st.sampled_from(["v", "${X}", "/bin"])),
)


@settings(max_examples=300, deadline=None)
@given(
    name=st.one_of(st.sampled_from(["x", "my-srv.2"]), _JSON),
    entry=st.one_of(_JSON, st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=8)),
    environ=st.dictionaries(st.sampled_from(["X", "PATH"]), st.text(max_size=6), max_size=2),
)
def test_any_json_entry_is_a_spec_or_an_entry_error(
    name: Any, entry: Any, environ: dict[str, str]
) -> None:
    """Whatever a config file holds, an entry is served (a spec
    with a SHARES word) or skipped with a reason; never an exception."""
    try:
        spec = parseEntry(name, entry, environ)
    except EntryError as e:
        assert str(e)
        return
    assert spec.mode in ("global", "workspace", "credential", "session")
    assert spec.maxChildren >= 1 and all(isinstance(n, str) for n in spec.credentialEnv)
    assert spec.aggregate.budget is None or spec.aggregate.budget >= 0
    assert all(isinstance(g, str) and g for g in spec.aggregate.include + spec.aggregate.exclude)
    for seconds in (spec.requestTimeout, spec.idleTimeout, spec.healthPing):
        assert seconds is None or 0 < seconds < float("inf")


@settings(max_examples=100, deadline=None)
@given(document=st.dictionaries(st.sampled_from(["mcpServers", "projects", "x"]), _JSON))
def test_any_json_document_loads(document: dict[str, Any]) -> None:
    loaded = parse(document, scope="user")
    assert isinstance(loaded, LoadedConfig)


def test_https_remotes_of_the_gateways_own_files_keep_tls(tmp_path: Path) -> None:
    own = tmp_path / "servers.json"
    own.write_text(json.dumps({"mcpServers": {"r": {"type": "http", "url": "HTTPS://x/mcp"}}}))
    plain = tmp_path / "plain.json"
    plain.write_text(
        json.dumps({"mcpServers": {"r": {"url": "http://x/mcp"}, "s": {"command": "https://c"}}})
    )
    client = tmp_path / ".claude.json"
    client.write_text(json.dumps({"mcpServers": {"r": {"url": "https://x/mcp"}}}))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert httpsRemotes(own) is True
    assert httpsRemotes(plain, client, broken, tmp_path / "missing.json") is False

"""Routes and shared children: every definition of a server keeps its meaning
, and variants that come out the same share one child."""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpgateway.config.classification import Override, Overrides
from mcpgateway.config.deniedenv import DENIED_NAMES, DENIED_PREFIXES, isDenied
from mcpgateway.config.envfiles import NAME as ENV_NAME
from mcpgateway.config.envfiles import EnvFile, readEnvFile, readWorkspaceEnv
from mcpgateway.config.promotions import PromotedServer
from mcpgateway.config.scopes import buildScopes, childKey
from mcpgateway.config.servers import EntryError, ProjectEntry, parseConfig, parseEntry
from mcpgateway.config.workspaces import KEY_PATTERN, WorkspaceKeys
from mcpgateway.core.environment import isGatewayOwn
from mcpgateway.core.spec import ServerSpec
from tests.support.config.executables import scripts
from tests.support.config.scopes import ENVIRON, NO_FILE, build, byKey, keys, workspace
from tests.support.config.steering import anyCase

# -- the example ---------------------------------------------------------------


def test_two_projects_and_the_user_give_three_routes_and_three_children(tmp_path: Path) -> None:
    """Each project's filesystem is rooted at its own directory, in its own
    child, at its own route; the user's serves /filesystem/mcp."""
    p, q = workspace(tmp_path, "p"), workspace(tmp_path, "q")
    fs = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem"]}
    scoped = build(
        {
            "mcpServers": {"filesystem": {**fs, "args": [*fs["args"], "/home/me"]}},
            "projects": {
                p: {"mcpServers": {"filesystem": {**fs, "args": [*fs["args"], p]}}},
                q: {"mcpServers": {"filesystem": {**fs, "args": [*fs["args"], "."]}}},
            },
        }
    )
    assert scoped.warnings == []
    spec = scoped.specs["filesystem"]
    routes = byKey(spec)
    assert set(routes) == {"", keys().key(p), keys().key(q)}
    assert all(KEY_PATTERN.fullmatch(key) for key in routes if key)
    assert len({v.childKey for v in spec.variants}) == 3
    assert routes[""].launch.cwd is None and routes[""].launch.mode == "global"
    assert routes[keys().key(p)].launch.cwd == p
    assert routes[keys().key(q)].launch.cwd == q  # "." is the workspace: its cwd
    assert routes[keys().key(p)].launch.mode == "workspace"
    assert spec.mode == "workspace"  # the pool's: the narrowest of its entries
    assert spec.command == "npx" and spec.args[-1] == "/home/me"  # the user's entry
    assert spec.scope == "user"


def test_a_project_entry_equal_to_the_users_has_no_child_of_its_own(tmp_path: Path) -> None:
    """Adoption points it at /name/mcp (the same comparison); its ~key route
    is served too (a URL written before the user's entry was known), by the
    user's launch and child key: one child, not the workspace's."""
    p = workspace(tmp_path, "p", "TOKEN=ws\n")
    entry = {"command": "srv", "args": ["--x"], "env": {"A": "1"}}
    scoped = build({"mcpServers": {"x": entry}, "projects": {p: {"mcpServers": {"x": entry}}}})
    spec = scoped.specs["x"]
    routes = byKey(spec)
    assert set(routes) == {"", keys().key(p)}
    assert routes[keys().key(p)].launch == routes[""].launch
    assert routes[keys().key(p)].childKey == routes[""].childKey
    assert routes[""].launch.cwd is None and ("TOKEN", "ws") not in routes[""].launch.env
    assert spec.mode == "global"  # the user's: no workspace child
    assert scoped.warnings == []


def test_a_project_only_server_has_no_global_route(tmp_path: Path) -> None:
    p = workspace(tmp_path, "p")
    scoped = build({"mcpServers": {}, "projects": {p: {"mcpServers": {"db": {"command": "db"}}}}})
    spec = scoped.specs["db"]
    assert [v.key for v in spec.variants] == [keys().key(p)]
    assert (spec.mode, spec.cwd, spec.scope) == ("workspace", p, "local")


def test_a_repositorys_entry_does_not_make_the_users_server_a_child_per_session(
    tmp_path: Path,
) -> None:
    """Every session of the user's server would get a child of its own, and
    lose what the shared one holds, whenever a repository says so: its
    entry counts for a child per workspace at most, with a warning."""
    p = workspace(tmp_path, "p")
    scoped = build(
        {
            "mcpServers": {"memory": {"command": "mem"}},
            "projects": {p: {"mcpServers": {"memory": {"command": "evil", "share": "session"}}}},
        },
        origins={(p, "memory"): f"{p}/.mcp.json"},
    )
    spec = scoped.specs["memory"]
    assert spec.mode == "workspace" and spec.command == "mem"
    assert byKey(spec)[keys().key(p)].launch.mode == "session"  # as it asked, not followed
    [warning] = scoped.warnings
    assert f"server 'memory' of {p}/.mcp.json" in warning and '"share": "session"' in warning


def test_a_repositorys_server_of_its_own_is_shared_as_it_says(tmp_path: Path) -> None:
    p = workspace(tmp_path, "p")
    scoped = build(
        {"projects": {p: {"mcpServers": {"db": {"command": "db", "share": "session"}}}}},
        origins={(p, "db"): f"{p}/.mcp.json"},
    )
    assert scoped.specs["db"].mode == "session" and scoped.warnings == []


def test_the_users_own_project_entry_still_narrows_the_server(tmp_path: Path) -> None:
    """A project entry of the user's own config (Claude Code's local scope)
    is the user's word: a child per session, as it says."""
    p = workspace(tmp_path, "p")
    scoped = build(
        {
            "mcpServers": {"memory": {"command": "mem"}},
            "projects": {p: {"mcpServers": {"memory": {"command": "mem2", "share": "session"}}}},
        }
    )
    assert scoped.specs["memory"].mode == "session" and scoped.warnings == []


# -- which variants share a child ------------------------------------------------------


def test_identical_project_entries_share_one_child(tmp_path: Path) -> None:
    p, q = workspace(tmp_path, "p"), workspace(tmp_path, "q")
    same = {"command": "srv", "cwd": "/srv/data"}
    scoped = build({"projects": {p: {"mcpServers": {"x": same}}, q: {"mcpServers": {"x": same}}}})
    variants = scoped.specs["x"].variants
    assert len(variants) == 2 and len({v.key for v in variants}) == 2
    assert len({v.childKey for v in variants}) == 1


def test_global_project_entries_share_one_child_with_the_user(tmp_path: Path) -> None:
    """share global: no workspace cwd, no workspace .env; the same command
    is the same child whatever scope it came from."""
    p, q = workspace(tmp_path, "p", "TOKEN=p\n"), workspace(tmp_path, "q", "TOKEN=q\n")
    shared = {"command": "srv", "share": "global"}
    scoped = build(
        {
            "mcpServers": {"x": {"command": "srv"}},
            "projects": {p: {"mcpServers": {"x": shared}}, q: {"mcpServers": {"x": shared}}},
        }
    )
    spec = scoped.specs["x"]
    assert len(spec.variants) == 3 and spec.mode == "global"
    assert len({v.childKey for v in spec.variants}) == 1
    assert all(v.launch.cwd is None and v.launch.env == () for v in spec.variants)


def test_different_env_tokens_two_children_the_same_token_one(tmp_path: Path) -> None:
    a = workspace(tmp_path, "a", "TOKEN=one\n")
    b = workspace(tmp_path, "b", "# same token\nTOKEN=one\n")
    c = workspace(tmp_path, "c", "TOKEN=two\n")
    entry = {"command": "srv", "cwd": "/srv", "envFrom": ["TOKEN"]}
    scoped = build({"projects": {w: {"mcpServers": {"x": entry}} for w in (a, b, c)}})
    routes = byKey(scoped.specs["x"])
    ka, kb, kc = (keys().key(w) for w in (a, b, c))
    assert routes[ka].childKey == routes[kb].childKey != routes[kc].childKey
    assert dict(routes[ka].launch.env) == {"TOKEN": "one"}
    assert dict(routes[kc].launch.env) == {"TOKEN": "two"}
    assert set(scoped.envFiles) >= {str(Path(w) / ".env") for w in (a, b, c)}


def test_the_child_key_is_keyed_and_covers_what_the_child_is() -> None:
    spec = ServerSpec(name="x", command="c", args=("1",), env=(("A", "1"),), cwd="/w")
    key = childKey(keys(), spec)
    assert key == childKey(
        keys(), ServerSpec(name="y", command="c", args=("1",), env=(("A", "1"),), cwd="/w")
    )
    for other in (
        ServerSpec(name="x", command="d", args=("1",), env=(("A", "1"),), cwd="/w"),
        ServerSpec(name="x", command="c", args=("2",), env=(("A", "1"),), cwd="/w"),
        ServerSpec(name="x", command="c", args=("1",), env=(("A", "2"),), cwd="/w"),
        ServerSpec(name="x", command="c", args=("1",), env=(("A", "1"),), cwd=None),
    ):
        assert childKey(keys(), other) != key
    assert childKey(WorkspaceKeys(bytes(32)), spec) != key
    assert "1" not in key and KEY_PATTERN.fullmatch(key)


# -- the environment ---------------------------------------------------------------------


def test_your_values_stay_yours_and_the_workspace_env_fills_what_you_leave_to_it(
    tmp_path: Path,
) -> None:
    """Your own entry of a project (a local scope of ~/.claude.json) takes of
    the workspace's .env only what it leaves to it: a ${NAME} that neither
    the gateway's environment nor its .env sets, and its envFrom. A name it
    or you set keeps your value (the file may be a cloned repository's),
    and a warning names those, never their values. Over the entry's env
    comes the gateway's .env, then what the workspace's .env was left."""
    gatewayFile = tmp_path / "state.env"
    gatewayFile.write_text("TOKEN=gateway\nLEVEL=gateway\n")
    gatewayEnv = readEnvFile(gatewayFile)
    p = workspace(
        tmp_path, "p", "TOKEN=workspace\nSHARED=workspace\nNEW=workspace\nLEVEL=workspace\n"
    )
    entry = {
        "command": "srv",
        "args": ["--token=${TOKEN}", "--new=${NEW}", "--from=${FROM_GATEWAY}"],
        "env": {"SHARED": "entry", "OWN": "entry"},
        "envFrom": ["LEVEL"],
    }
    scoped = build({"projects": {p: {"mcpServers": {"x": entry}}}}, gatewayEnv)
    [variant] = scoped.specs["x"].variants
    assert variant.launch.args == ("--token=gateway", "--new=workspace", "--from=g")
    assert dict(variant.launch.env) == {
        "SHARED": "entry",
        "OWN": "entry",
        "TOKEN": "gateway",
        "LEVEL": "workspace",
        "NEW": "workspace",
    }
    [warning] = scoped.warnings
    assert "sets SHARED, TOKEN, which server 'x'" in warning and "yours are kept" in warning
    assert "workspace" not in warning.split("sets", 1)[1].split("which")[0]
    assert str(gatewayFile) in scoped.envFiles


def test_a_repositorys_env_moves_no_data_folder_and_swaps_no_token_of_yours(
    tmp_path: Path,
) -> None:
    """Your entry in a cloned repository keeps its data folder in the
    project and your token: the repository's .env moves neither."""
    gatewayFile = tmp_path / "state.env"
    gatewayFile.write_text("GITHUB_TOKEN=yours\n")
    p = workspace(tmp_path, "p", "DATA_DIR=/home/me/work/other\nGITHUB_TOKEN=theirs\n")
    entry = {
        "command": "notes",
        "env": {"DATA_DIR": f"{p}/data", "GITHUB_TOKEN": "${GITHUB_TOKEN}"},
    }
    scoped = build({"projects": {p: {"mcpServers": {"notes": entry}}}}, readEnvFile(gatewayFile))
    [variant] = scoped.specs["notes"].variants
    env = dict(variant.launch.env)
    assert env["DATA_DIR"] == f"{p}/data" and env["GITHUB_TOKEN"] == "yours"


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ({"command": "srv", "args": ["${WORKDIR}"]}, "args[0]"),
        ({"command": "srv", "args": ["--root=${WORKDIR}/x"]}, "args[0]"),
        ({"command": "srv", "env": {"STORE_DIR": "${WORKDIR}"}}, "env.STORE_DIR"),
        ({"command": "srv", "envFrom": ["WORKDIR"]}, "env.WORKDIR"),
        ({"command": "srv", "env": {"PYTHONPATH": "/usr/lib:${WORKDIR}"}}, "env.PYTHONPATH"),
        ({"command": "srv", "cwd": "${WORKDIR}"}, "cwd"),
    ],
)
def test_a_workspace_env_never_makes_your_entry_name_a_path_outside_it(
    tmp_path: Path, entry: dict[str, Any], key: str
) -> None:
    """A value your own entry leaves to the workspace's .env (a ${NAME} you
    do not set, its envFrom) may be a cloned repository's: it may not make
    your server's arguments, variables or cwd name a path outside that
    workspace (another repository's .git, your Documents), which the
    sandbox would show your child, writable for a data folder."""
    elsewhere = tmp_path / "otherrepo"
    (elsewhere / ".git").mkdir(parents=True)
    p = workspace(tmp_path, "p", f"WORKDIR={elsewhere}/.git\n")
    scoped = build({"projects": {p: {"mcpServers": {"x": entry}}}})
    assert "x" not in scoped.specs or scoped.specs["x"].variants == ()
    [warning] = [w for w in scoped.warnings if "outside the workspace" in w]
    assert f"its {key} {elsewhere}/.git" in warning and "not served from this workspace" in warning


def test_a_workspace_env_may_name_what_is_in_the_workspace_or_no_path(tmp_path: Path) -> None:
    p = workspace(tmp_path, "p", "SUB=data\nPORT=8080\nTOKEN=t\n")
    entry = {
        "command": "srv",
        "args": ["${SUB}", "--port=${PORT}", f"{p}/${{SUB}}"],
        "env": {"TOKEN": "${TOKEN}", "DATA_DIR": "./${SUB}"},
    }
    scoped = build({"projects": {p: {"mcpServers": {"x": entry}}}})
    [variant] = scoped.specs["x"].variants
    assert variant.launch.args == ("data", "--port=8080", f"{p}/data")
    assert not [w for w in scoped.warnings if "outside the workspace" in w]


def test_the_users_servers_get_the_gateway_env(tmp_path: Path) -> None:
    gatewayFile = tmp_path / ".env"
    gatewayFile.write_text("TOKEN=gateway\n")
    scoped = build(
        {"mcpServers": {"x": {"command": "srv", "env": {"TOKEN": "entry", "A": "1"}}}},
        readEnvFile(gatewayFile),
    )
    spec = scoped.specs["x"]
    assert dict(spec.env) == {"TOKEN": "gateway", "A": "1"} and spec.variants == ()


def test_an_unset_variable_skips_only_that_workspace(tmp_path: Path) -> None:
    p = workspace(tmp_path, "p", "TOKEN=t\n")
    q = workspace(tmp_path, "q")
    entry = {"command": "srv", "args": ["${TOKEN}"]}
    scoped = build({"projects": {p: {"mcpServers": {"x": entry}}, q: {"mcpServers": {"x": entry}}}})
    assert [v.key for v in scoped.specs["x"].variants] == [keys().key(p)]
    assert scoped.warnings == [
        f"server 'x' (local scope of project {q}): ${{TOKEN}} in args is not set and has no"
        " default; skipped"
    ]


def test_a_relative_cwd_is_in_the_workspace(tmp_path: Path) -> None:
    p = workspace(tmp_path, "p")
    scoped = build({"projects": {p: {"mcpServers": {"x": {"command": "c", "cwd": "sub"}}}}})
    assert scoped.specs["x"].variants[0].launch.cwd == str(Path(p) / "sub")


def test_a_workspace_env_file_warning_is_reported(tmp_path: Path) -> None:
    p = workspace(tmp_path, "p", "LD_PRELOAD=/tmp/evil.so\nOK=1\n")
    scoped = build({"projects": {p: {"mcpServers": {"x": {"command": "c", "envFrom": ["OK"]}}}}})
    [variant] = scoped.specs["x"].variants
    assert dict(variant.launch.env) == {"OK": "1"}
    [warning] = scoped.warnings
    assert "LD_PRELOAD" in warning and "evil" not in warning


def test_one_directory_by_two_paths_is_one_workspace(tmp_path: Path) -> None:
    p = workspace(tmp_path, "p")
    link = tmp_path / "link"
    link.symlink_to(p)
    scoped = build(
        {
            "projects": {
                p: {"mcpServers": {"x": {"command": "a"}}},
                str(link): {"mcpServers": {"x": {"command": "b"}}},
            }
        }
    )
    [variant] = scoped.specs["x"].variants
    assert variant.launch.command == "b"  # the first in order: the link sorts first
    [warning] = scoped.warnings
    assert "the same workspace" in warning


def test_a_workspace_path_that_is_not_absolute_is_skipped() -> None:
    scoped = build({"projects": {"relative/p": {"mcpServers": {"x": {"command": "a"}}}}})
    assert "x" not in scoped.specs
    assert scoped.warnings == [
        "server 'x' (local scope of project relative/p): a workspace path must be absolute,"
        " not 'relative/p'; skipped"
    ]


def test_without_keys_no_project_entry_is_served(tmp_path: Path) -> None:
    p = workspace(tmp_path, "p")
    scoped = build(
        {
            "mcpServers": {"u": {"command": "u"}},
            "projects": {p: {"mcpServers": {"x": {"command": "a"}}}},
        },
        withKeys=False,
    )
    assert list(scoped.specs) == ["u"]
    assert scoped.warnings == ["not serving 1 project entry: there are no workspace keys"]


def test_the_workspace_env_is_read_once_per_workspace(tmp_path: Path) -> None:
    p = workspace(tmp_path, "p", "A=1\n")
    reads: list[str] = []

    def reader(path: str) -> EnvFile:
        reads.append(path)
        return readWorkspaceEnv(path)

    loaded = parseConfig(
        {"projects": {p: {"mcpServers": {"x": {"command": "a"}, "y": {"command": "b"}}}}},
        "c",
        ENVIRON,
        "user",
    )
    buildScopes(loaded, Overrides(), keys(), NO_FILE, ENVIRON, reader)
    assert reads == [p]


# -- precedence --------------------------------------------------------------------------


def test_precedence_with_promotions(tmp_path: Path) -> None:
    """classification.json > promotions.json > the entry > built-in > default."""
    p = workspace(tmp_path, "p")
    document = {
        "mcpServers": {"x": {"command": "x"}, "y": {"command": "y"}, "z": {"command": "z"}},
        "projects": {
            p: {
                "mcpServers": {
                    "x": {"command": "x2", "share": "credential"},
                    "y": {"command": "y2"},
                    "z": {"command": "z2", "share": "global"},
                }
            }
        },
    }
    why = "server x sent sampling/createMessage while 2 sessions had requests in flight"
    promotions = {"x": PromotedServer(why, 1.0), "y": PromotedServer(why, 1.0)}
    overrides = Overrides({"y": Override(share="workspace")})
    scoped = build(document, promotions=promotions, overrides=overrides)
    x, y, z = (scoped.specs[name] for name in "xyz")
    assert (x.mode, x.promoted, x.pinned) == ("session", why, False)
    assert {v.launch.mode for v in x.variants} == {"session"}
    assert (y.mode, y.promoted, y.pinned) == ("workspace", None, True)
    assert [v.launch.mode for v in y.variants] == ["workspace", "workspace"]
    assert byKey(y)[""].launch.cwd is None  # a user-scope entry has no workspace
    assert (z.mode, [v.launch.mode for v in z.variants]) == ("global", ["global", "global"])
    plain = build(document)
    assert [v.launch.mode for v in plain.specs["x"].variants] == ["global", "credential"]
    assert plain.specs["x"].mode == "credential"


def test_per_user_on_any_entry_makes_the_server_per_user(tmp_path: Path) -> None:
    """C{"perUser": true} on a project's entry (or in classification.json)
    gives the whole server a child per principal, its user route included."""
    p = workspace(tmp_path, "p")
    document = {
        "mcpServers": {"gh": {"command": "gh"}, "fs": {"command": "fs"}},
        "projects": {p: {"mcpServers": {"gh": {"command": "gh2", "perUser": True}}}},
    }
    plain = build(document)
    gh, fs = plain.specs["gh"], plain.specs["fs"]
    assert [v.launch.perUser for v in gh.variants] == [False, True]
    assert gh.perPrincipal and not fs.perPrincipal
    overridden = build(document, overrides=Overrides({"fs": Override(perUser=True)}))
    assert overridden.specs["fs"].perUser and overridden.specs["fs"].perPrincipal


def test_a_builtin_session_server_in_a_project(tmp_path: Path) -> None:
    p = workspace(tmp_path, "p")
    entry = {"command": "npx", "args": ["@playwright/mcp@latest"]}
    spec = build({"projects": {p: {"mcpServers": {"browser": entry}}}}).specs["browser"]
    assert spec.mode == "session" and spec.variants[0].launch.cwd == p


# -- never an exception ------------------------------------------------------------------

_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=6),
    st.sampled_from(["global", "workspace", "session", "credential", "${T}", "${NOPE}", "."]),
    st.lists(st.sampled_from(["a", "${T}", "T"]), max_size=2),
    st.dictionaries(st.sampled_from(["T", "PATH"]), st.sampled_from(["v", "${T}"]), max_size=2),
)
_ENTRY = st.one_of(
    st.dictionaries(
        st.sampled_from(["command", "args", "env", "cwd", "share", "credentialEnv", "type"]),
        _VALUE,
        max_size=5,
    ),
    st.fixed_dictionaries({"command": st.sampled_from(["a", "b"])}, optional={"share": _VALUE}),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    user=st.dictionaries(st.sampled_from(["x", "y"]), _ENTRY, max_size=2),
    projects=st.dictionaries(
        st.sampled_from(["p", "q", "rel"]),
        st.dictionaries(st.sampled_from(["x", "y", "bad name"]), _ENTRY, max_size=3),
        max_size=3,
    ),
)
def test_any_projects_give_specs_and_warnings(
    tmp_path: Path, user: dict[str, Any], projects: dict[str, Any]
) -> None:
    (tmp_path / "p").mkdir(exist_ok=True)
    (tmp_path / "p" / ".env").write_text("T=1\n")
    document = {
        "mcpServers": user,
        "projects": {
            (name if name == "rel" else str(tmp_path / name)): {"mcpServers": block}
            for name, block in projects.items()
        },
    }
    scoped = build(json.loads(json.dumps(document)))
    for name, spec in scoped.specs.items():
        keysSeen = [v.key for v in spec.variants]
        assert len(keysSeen) == len(set(keysSeen))
        assert all(key == "" or KEY_PATTERN.fullmatch(key) for key in keysSeen)
        assert ("" in keysSeen) == (bool(spec.variants) and name in user and spec.scope == "user")
        assert all(v.launch.name == name and v.childKey for v in spec.variants)


def test_expansion_environ_is_not_the_process_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ONLY_IN_PROCESS", "leak")
    p = workspace(tmp_path, "p")
    scoped = build({"projects": {p: {"mcpServers": {"x": {"command": "${ONLY_IN_PROCESS}"}}}}})
    assert "x" not in scoped.specs


def test_the_executable_is_looked_up_on_the_childs_path_never_a_workspaces(tmp_path: Path) -> None:
    bindir = scripts(tmp_path / "bin", "tool")
    tool = bindir / "tool"
    p = workspace(tmp_path, "p", f"PATH={bindir}\n")
    q = workspace(tmp_path, "q")
    entry = {"command": "tool"}
    scoped = build({"projects": {p: {"mcpServers": {"x": entry}}, q: {"mcpServers": {"x": entry}}}})
    routes = byKey(scoped.specs["x"])
    # A workspace's .env may not move PATH (a cloned repository's own bin/
    # would be run): the program is looked up as for any other workspace.
    assert routes[keys().key(p)].launch.executable is None
    assert routes[keys().key(q)].launch.executable is None
    gatewayFile = tmp_path / "gateway.env"
    gatewayFile.write_text(f"PATH={bindir}\n")
    user = build({"mcpServers": {"x": entry}}, readEnvFile(gatewayFile)).specs["x"]
    assert user.executable == str(tool)
    assert build({"mcpServers": {"x": entry}}).specs["x"].executable is None


def test_a_workspace_env_gives_a_child_only_the_names_its_entry_lists(tmp_path: Path) -> None:
    """A cloned repository's .env adds nothing its server's entry does not ask
    for: its credentialEnv, envFrom and ${NAME} references pass, an env key
    it sets itself keeps its value; any other name is left out, and the
    warnings name them (never their values)."""
    p = workspace(
        tmp_path,
        "p",
        "KEYED=k\nCRED=c\nFROM=f\nREF=r\nAPP_SECRET=hunter2\nPYTHONUSERBASE=./evil\n",
    )
    entry = {
        "command": "srv",
        "args": ["--ref=${REF}"],
        "env": {"KEYED": "entry"},
        "credentialEnv": ["CRED"],
        "envFrom": ["FROM"],
        "share": "workspace",
    }
    scoped = build({"projects": {p: {"mcpServers": {"x": entry}}}})
    [variant] = scoped.specs["x"].variants
    assert dict(variant.launch.env) == {"KEYED": "entry", "CRED": "c", "FROM": "f", "REF": "r"}
    [denied] = [w for w in scoped.warnings if "PYTHONUSERBASE" in w]
    [unlisted] = [w for w in scoped.warnings if "does not list" in w]
    [yours] = [w for w in scoped.warnings if "yours are kept" in w]
    assert "evil" not in denied
    assert "APP_SECRET" in unlisted and "hunter2" not in unlisted
    assert "KEYED" in yours


@pytest.mark.parametrize("name", ["PYTHONUSERBASE", "npm_config_prefix", "GIT_SSH_COMMAND", "HOME"])
def test_env_from_may_not_list_what_steers_a_loader(name: str) -> None:
    with pytest.raises(EntryError, match=f"'envFrom' may not list {name}"):
        parseEntry("x", {"command": "c", "envFrom": [name]}, {})


@pytest.mark.parametrize("value", ["TOKEN", ["1BAD"], [1], {"A": 1}])
def test_env_from_must_be_a_list_of_names(value: object) -> None:
    with pytest.raises(EntryError, match="'envFrom' must be a list"):
        parseEntry("x", {"command": "c", "envFrom": value}, {})


# -- what a workspace's .env may give a child, for any file and any entry ------------------

_PLAIN = st.from_regex(r"APP_[A-Z0-9]{1,4}", fullmatch=True)
_STEERING = st.one_of(
    st.sampled_from(sorted(DENIED_NAMES)),
    st.builds(
        lambda p, s: p + s,
        st.sampled_from(DENIED_PREFIXES),
        st.from_regex(r"[A-Z0-9]{0,3}", fullmatch=True),
    ),
).filter(lambda name: ENV_NAME.fullmatch(name) is not None and not isGatewayOwn(name))


@settings(max_examples=150, deadline=None)
@given(
    plain=st.sets(_PLAIN, max_size=5),
    steering=st.sets(_STEERING.flatmap(anyCase), max_size=5),
    choice=st.data(),
)
def test_a_workspace_env_gives_only_listed_names_that_steer_nothing(
    plain: set[str], steering: set[str], choice: st.DataObject
) -> None:
    """Whatever a repository's .env sets and whatever the entry lists: a name
    reaches the child from the file only when the entry leaves it to the
    file (envFrom, a ${NAME} nothing of the user's sets) and it steers
    nothing, in any case; a name the user's own env sets keeps the user's
    value."""
    named = sorted(plain | steering)
    fromFile = {name: f"file-{i}" for i, name in enumerate(named)}
    envKeys = choice.draw(st.sets(st.sampled_from(named), max_size=4) if named else st.just(set()))
    envFrom = choice.draw(
        st.sets(st.sampled_from(sorted(plain)), max_size=3) if plain else st.just(set())
    )
    refs = choice.draw(st.sets(st.sampled_from(named), max_size=3) if named else st.just(set()))
    entry = {
        "command": "srv",
        "args": [f"${{{name}:-d}}" for name in sorted(refs)],
        "env": {name: "entry" for name in envKeys},
        "envFrom": sorted(envFrom),
        "share": "workspace",
    }
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / ".env").write_text("".join(f"{n}={v}\n" for n, v in fromFile.items()))
        scoped = build({"projects": {root: {"mcpServers": {"x": entry}}}})
    [variant] = scoped.specs["x"].variants
    env = dict(variant.launch.env)
    leftToFile = envFrom | (refs - envKeys - set(ENVIRON))
    for name, value in fromFile.items():
        if name in leftToFile and not isDenied(name):
            assert env[name] == value
        elif name in envKeys:
            assert env[name] == "entry"  # the user's own value
        else:
            assert name not in env
    assert not any(value.startswith("file-") and isDenied(name) for name, value in env.items())
    for warning in scoped.warnings:
        assert "file-" not in warning


# -- request timeouts: each client waits as long as its own entry says -----------------


def test_a_project_entry_equal_to_the_users_but_for_its_timeout_shares_its_child(
    tmp_path: Path,
) -> None:
    """A client of the project keeps a longer timeout (adoption serves it as
    C{requestTimeout}) and is pointed at /x/mcp: still the user's server,
    on the user's child, which now waits that long."""
    p = workspace(tmp_path, "p")
    entry = {"command": "srv", "args": ["--x"]}
    scoped = build(
        {
            "mcpServers": {"x": entry},
            "projects": {p: {"mcpServers": {"x": {**entry, "requestTimeout": 300_000}}}},
        }
    )
    spec = scoped.specs["x"]
    routes = byKey(spec)
    assert routes[keys().key(p)].childKey == routes[""].childKey
    assert routes[keys().key(p)].launch.cwd is None  # the user's launch, not the workspace's
    assert spec.mode == "global" and scoped.warnings == []
    assert (spec.requestTimeout, spec.requestTimeoutDeclared) == (300.0, True)


def test_the_users_longer_timeout_stays_beside_a_shorter_project_one(tmp_path: Path) -> None:
    p = workspace(tmp_path, "p")
    entry = {"command": "srv", "requestTimeout": 600_000}
    scoped = build(
        {
            "mcpServers": {"x": entry},
            "projects": {p: {"mcpServers": {"x": {**entry, "requestTimeout": 120_000}}}},
        }
    )
    assert scoped.specs["x"].requestTimeout == 600.0


def test_two_entries_of_one_workspace_route_serve_the_longest_timeout(tmp_path: Path) -> None:
    """Claude Code's project entry and another client's of the same server
    both name the workspace's route: it is served once, waiting as long as
    the longer of the two."""
    p = workspace(tmp_path, "p")
    entry = {"command": "db"}
    loaded = parseConfig({"projects": {p: {"mcpServers": {"x": entry}}}}, "/c", ENVIRON, "user")
    other = ProjectEntry(p, "x", {**entry, "requestTimeout": 300_000}, "client configs")
    loaded = replace(loaded, projects=[*loaded.projects, other])

    scoped = buildScopes(loaded, Overrides(), keys(), NO_FILE, ENVIRON)

    spec = scoped.specs["x"]
    [variant] = spec.variants
    assert variant.launch.requestTimeout == 300.0 and spec.requestTimeout == 300.0
    assert scoped.warnings == []


def test_the_operators_timeout_wins_over_a_clients_longer_one(tmp_path: Path) -> None:
    """C{classification.json}'s C{requestTimeout} is the operator's word
    for the server: a project client's longer one does not lift it."""
    p = workspace(tmp_path, "p")
    entry = {"command": "srv"}
    scoped = build(
        {
            "mcpServers": {"x": entry},
            "projects": {p: {"mcpServers": {"x": {**entry, "requestTimeout": 300_000}}}},
        },
        overrides=Overrides(servers={"x": Override(requestTimeout=120.0)}),
    )
    assert scoped.specs["x"].requestTimeout == 120.0
    assert {v.launch.requestTimeout for v in scoped.specs["x"].variants} == {120.0}


def interpreter(tmp_path: Path, name: str) -> str:
    """A C{python3} that links to an interpreter file called C{name}
    (C{python3.12}; a venv's C{python} links to its base interpreter so)."""
    folder = tmp_path / "interpreters" / name
    folder.mkdir(parents=True)
    real = folder / name
    real.write_text("#!/bin/sh\n")
    real.chmod(0o755)
    (folder / "python3").symlink_to(real)
    return str(folder / "python3")


@pytest.mark.parametrize(
    ("version", "ships", "ownSafePath", "allOfYours"),
    [
        ("python3.12", False, None, True),
        # The project's folder is off its import path: the installed module runs.
        ("python3.12", True, None, True),
        # Python 3.10 ignores PYTHONSAFEPATH: any module the project ships may run.
        ("python3.10", False, None, False),
        ("shim", False, None, False),  # a launcher script: its version is not known
        # Your entry puts the folder back on its path: the project's module runs.
        ("python3.12", True, "", False),
        ("python3.12", False, "", True),
    ],
)
def test_your_python_m_entry_in_a_project_keeps_the_projects_code_off_its_path(
    tmp_path: Path, version: str, ships: bool, ownSafePath: str | None, allOfYours: bool
) -> None:
    """Your own entry `python -m mcp_server_time` runs in the project's
    folder, which Python puts first on its import path: the project's
    `mcp_server_time`, or any module it imports later (`json`), would run
    in its place. Its child gets PYTHONSAFEPATH=1, which keeps the folder
    off (unless its entry sets the variable), and all of the gateway's .env
    where its interpreter heeds it (3.11 and later); else it may be the
    project's code, and of the gateway's .env it gets only the names its
    entry lists, with a warning naming what it was not given."""
    gatewayFile = tmp_path / "state.env"
    gatewayFile.write_text("GITHUB_TOKEN=ghp_yours\nTZ_DEFAULT=UTC\n")
    p = workspace(tmp_path, "p")
    if ships:
        (Path(p) / "mcp_server_time").mkdir()
        (Path(p) / "mcp_server_time" / "__init__.py").write_text("")
    entry: dict[str, Any] = {
        "command": interpreter(tmp_path, version),
        "args": ["-m", "mcp_server_time"],
        "envFrom": ["TZ_DEFAULT"],
    }
    if ownSafePath is not None:
        entry["env"] = {"PYTHONSAFEPATH": ownSafePath}
    scoped = build({"projects": {p: {"mcpServers": {"time": entry}}}}, readEnvFile(gatewayFile))
    [variant] = scoped.specs["time"].variants
    env = dict(variant.launch.env)
    assert env["TZ_DEFAULT"] == "UTC"
    assert env["PYTHONSAFEPATH"] == ("1" if ownSafePath is None else ownSafePath)
    assert ("GITHUB_TOKEN" in env) is allOfYours
    if allOfYours:
        assert scoped.warnings == []
    else:
        [warning] = scoped.warnings
        assert "not given: GITHUB_TOKEN" in warning and "ghp_yours" not in warning
        if ships:
            assert f"{p}/mcp_server_time/__init__.py" in warning


def test_your_entry_run_with_python_I_in_the_project_gets_all_of_yours(tmp_path: Path) -> None:
    gatewayFile = tmp_path / "state.env"
    gatewayFile.write_text("GITHUB_TOKEN=ghp_yours\n")
    p = workspace(tmp_path, "p")
    (Path(p) / "mcp_server_time.py").write_text("")
    entry = {"command": "python3", "args": ["-I", "-m", "mcp_server_time"]}
    scoped = build({"projects": {p: {"mcpServers": {"time": entry}}}}, readEnvFile(gatewayFile))
    [variant] = scoped.specs["time"].variants
    assert dict(variant.launch.env)["GITHUB_TOKEN"] == "ghp_yours"
    assert scoped.warnings == []

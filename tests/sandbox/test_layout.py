"""A confined child's view of the file system, built on a small tree of
real files: its program, its arguments' paths, its launcher's caches, its
profile, and the masks no bind can undo."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.runtime.paths import NPX_DIR, UVX_DIR
from mcpgateway.sandbox import defaults, places
from mcpgateway.sandbox.bwrap import arguments
from mcpgateway.sandbox.layout import (
    argumentPaths,
    build,
    expand,
    scriptPaths,
    writesThere,
)
from tests.support.sandbox.layout import bound, masked, request, tree


def test_a_node_server_sees_its_whole_node_modules_and_not_the_system_twice(tmp_path: Path) -> None:
    tree(tmp_path)
    script = tmp_path / "proj/node_modules/@m/srv/dist/index.js"
    layout = build(request(tmp_path), ["/usr/bin/node", str(script), "stdio"], {})
    assert bound(layout) == {str(tmp_path / "proj/node_modules"): False}
    assert ("ro", "/usr", "/usr") in layout.system and layout.network == "none"
    assert "/tmp" in layout.private and str(tmp_path / "home") in layout.private


def test_a_workspace_packages_script_sees_the_node_modules_above_its_package(
    tmp_path: Path,
) -> None:
    """An npm, yarn or pnpm workspace keeps its packages' dependencies in
    the C{node_modules} of the workspace (and Node.js looks in every folder
    above): those are shown read-only beside the package, up to the home,
    whose own C{node_modules} is not."""
    home = tree(tmp_path)
    workspace = home / "code" / "mono"
    package = workspace / "packages" / "srv"
    (package / "dist").mkdir(parents=True)
    (package / "package.json").write_text("{}")
    (package / "dist" / "index.js").write_text("")
    (workspace / "node_modules" / "dep").mkdir(parents=True)
    (home / "node_modules").mkdir()
    layout = build(request(tmp_path), ["/usr/bin/node", str(package / "dist/index.js")], {})
    assert bound(layout) == {str(package): False, str(workspace / "node_modules"): False}
    program = build(request(tmp_path, command="srv"), [str(package / "dist/index.js")], {})
    assert bound(program) == bound(layout)


def test_a_script_of_a_package_without_node_modules_sees_its_package(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "dist").mkdir(parents=True)
    (app / "package.json").write_text("{}")
    (app / "dist" / "server.mjs").write_text("")
    layout = build(request(tmp_path), ["/usr/bin/node", str(app / "dist/server.mjs")], {})
    assert bound(layout) == {str(app): False}


def test_a_program_in_a_bin_directory_brings_its_installation(tmp_path: Path) -> None:
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_bytes(b"\x7fELF")
    layout = build(request(tmp_path), [str(venv / "python"), "-m", "srv"], {})
    assert bound(layout) == {str(tmp_path / "venv"): False}


def test_a_scripts_interpreter_is_found_through_env_on_the_path(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "run").write_text("#!/usr/bin/env -S mytool --flag\n")
    runtime = tmp_path / "runtime" / "bin"
    runtime.mkdir(parents=True)
    (runtime / "mytool").write_bytes(b"\x7fELF")
    (runtime / "mytool").chmod(0o755)
    layout = build(request(tmp_path), [str(tools / "run")], {"PATH": str(runtime)})
    assert bound(layout) == {str(tools): False, str(tmp_path / "runtime"): False}


def test_a_file_in_the_home_itself_is_bound_alone_never_the_home(tmp_path: Path) -> None:
    home = tree(tmp_path)
    (home / "server.py").write_text("")
    layout = build(request(tmp_path), ["/usr/bin/python3", str(home / "server.py")], {})
    assert bound(layout) == {str(home / "server.py"): False}


def test_a_symlinked_directory_is_seen_at_its_real_path_and_at_its_name(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    layout = build(request(tmp_path), ["/usr/bin/node", str(tmp_path / "link")], {})
    assert sorted(layout.writable) == [
        (str(tmp_path / "real"), str(tmp_path / "link")),
        (str(tmp_path / "real"), str(tmp_path / "real")),
    ]


def test_relative_arguments_are_found_under_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "main.py").write_text("")
    assert argumentPaths(
        ["main.py", "-v", "--config=/nonexistent", "stdio"], str(tmp_path / "srv")
    ) == [str(tmp_path / "srv" / "main.py")]
    assert argumentPaths(["--root=" + str(tmp_path)], "/") == [str(tmp_path)]


def test_the_home_is_never_bound_and_the_deny_list_is_masked_under_learn_modes_home(
    tmp_path: Path,
) -> None:
    home = tree(tmp_path)
    profile = {"filesystem": {"allowWrite": ["~"]}}
    refused = build(request(tmp_path, profile=profile), ["/usr/bin/node"], {})
    assert str(home) not in bound(refused)
    assert refused.refused == [
        f"allowWrite ~: {home} not shown writable: too wide: it holds the home, or many"
        " programs' data; give the server a folder of its own with filesystem.allowWrite"
    ]
    layout = build(request(tmp_path, learn={}), ["/usr/bin/node"], {})
    assert bound(layout)[str(home)] is False
    assert {str(home / ".ssh"), str(home / ".aws"), str(home / ".bash_history")} <= masked(layout)
    assert str(home / ".mcpgateway") in masked(layout)
    assert dict(layout.masked)[str(home / ".bash_history")] is False  # a file
    assert dict(layout.masked)[str(home / ".ssh")] is True


def test_naming_a_denied_path_itself_lifts_that_one_mask(tmp_path: Path) -> None:
    home = tree(tmp_path)
    profile = {"filesystem": {"allowRead": ["~/.aws"]}}
    layout = build(request(tmp_path, profile=profile, learn={}), ["/usr/bin/node"], {})
    assert str(home / ".aws") not in masked(layout) and str(home / ".ssh") in masked(layout)
    assert bound(layout)[str(home / ".aws")] is False


def test_a_path_inside_a_denied_one_is_bound_again_alone_after_the_masks(tmp_path: Path) -> None:
    home = tree(tmp_path)
    profile = {"filesystem": {"allowRead": ["~/.aws/config"]}}
    layout = build(request(tmp_path, profile=profile, learn={}), ["/usr/bin/node"], {})
    assert str(home / ".aws") in masked(layout)
    assert layout.reopened == [(str(home / ".aws" / "config"), False)]


def test_the_state_directory_is_never_shown_but_the_servers_own_install_in_it(
    tmp_path: Path,
) -> None:
    home = tree(tmp_path)
    install = home / ".mcpgateway/npx/pkg/node_modules/srv/bin/cli.js"
    install.write_text("")
    profile = {"filesystem": {"allowRead": ["~/.mcpgateway"], "allowWrite": ["~/.mcpgateway/x/"]}}
    layout = build(request(tmp_path, profile=profile), ["/usr/bin/node", str(install)], {})
    state = str(home / ".mcpgateway")
    assert [p for p in bound(layout) if p.startswith(state) and "npx/pkg" not in p] == []
    # Its install, read-only; what it writes beside its code goes to its own copy.
    assert layout.reopened == [(str(home / ".mcpgateway/npx/pkg"), False)]
    assert layout.packageCopy is not None
    assert layout.packageCopy[1] == str(home / ".mcpgateway/npx/pkg/node_modules/srv")
    # Where no copy can be its own (a package with a node_modules of its own, under
    # Landlock alone), the package it runs from is writable, as the server shares it.
    (home / ".mcpgateway/npx/pkg/node_modules/srv/node_modules").mkdir()
    alone = build(
        request(tmp_path, profile=profile), ["/usr/bin/node", str(install)], {}, "landlock"
    )
    assert alone.packageCopy is None
    assert (str(home / ".mcpgateway/npx/pkg/node_modules/srv"), True) in alone.reopened
    assert defaults.STATE_INSTALLS == (NPX_DIR, UVX_DIR)


def test_the_state_directory_is_masked_where_the_home_is_shown(tmp_path: Path) -> None:
    home = tree(tmp_path)
    install = home / ".mcpgateway/npx/pkg/node_modules/srv/bin/cli.js"
    install.write_text("")
    layout = build(request(tmp_path, learn={}), ["/usr/bin/node", str(install)], {})
    assert str(home / ".mcpgateway") in masked(layout)
    assert (str(home / ".mcpgateway/npx/pkg"), False) in layout.reopened


def test_another_servers_directory_is_masked_where_this_child_would_see_it(tmp_path: Path) -> None:
    tree(tmp_path)
    mine = tmp_path / "proj/node_modules/@m/srv/dist/index.js"
    theirs = tmp_path / "proj/node_modules/@m/other/dist"
    theirs.mkdir(parents=True)
    (theirs / "index.js").write_text("")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    others = [str(theirs / "index.js"), str(elsewhere), str(tmp_path / "proj"), "/usr/bin/node"]
    layout = build(request(tmp_path, others=others), ["/usr/bin/node", str(mine)], {})
    # Inside its node_modules: masked. Out of its sight, holding its own, a system path: not.
    assert {p for p in masked(layout) if p.startswith(f"{tmp_path}/proj")} == {
        str(tmp_path / "proj/node_modules/@m/other")
    }


def test_another_servers_directory_inside_the_working_directory_stays(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / "tools").mkdir(parents=True)
    layout = build(
        request(tmp_path, cwd=str(workspace), workspace=True, others=[str(workspace / "tools")]),
        ["/usr/bin/node"],
        {},
    )
    assert bound(layout) == {str(workspace): True}
    assert str(workspace / "tools") not in masked(layout)


def test_a_denywrite_inside_a_writable_path_stays_read_only(tmp_path: Path) -> None:
    (tmp_path / "data" / "keep").mkdir(parents=True)
    profile = {"filesystem": {"allowWrite": [str(tmp_path / "data")], "denyWrite": ["data/keep"]}}
    layout = build(request(tmp_path, profile=profile), ["/usr/bin/node"], {})
    assert bound(layout) == {str(tmp_path / "data"): True, str(tmp_path / "data/keep"): False}


def test_a_missing_allowed_path_is_noted_not_bound(tmp_path: Path) -> None:
    profile = {"filesystem": {"allowRead": ["~/nothing"]}}
    layout = build(request(tmp_path, profile=profile), ["/usr/bin/node"], {})
    assert layout.notes == [f"allowRead ~/nothing: {tmp_path}/home/nothing does not exist"]


def test_a_program_in_the_users_local_bin_never_shows_the_rest_of_local(tmp_path: Path) -> None:
    """C{~/.local/bin} holds what pipx, C{uv tool}, C{pip install --user}
    and uv's own installer put there; C{~/.local} beside it holds the data
    and state of the user's applications (a messenger's session, a shell's
    history database): only the programs and a C{--user} install's code
    are shown."""
    home = tree(tmp_path)
    local = home / ".local"
    (local / "bin").mkdir(parents=True)
    (local / "share" / "TelegramDesktop" / "tdata").mkdir(parents=True)
    (local / "share" / "TelegramDesktop" / "tdata" / "key_datas").write_text("SESSION")
    (local / "state").mkdir()
    (local / "bin" / "uvx").write_bytes(b"\x7fELF")
    layout = build(request(tmp_path, command="uvx"), [str(local / "bin/uvx"), "srv"], {})
    assert bound(layout) == {str(local / "bin"): False}  # its caches are its own
    # pip install --user: a script whose code is in ~/.local/lib
    (local / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    (local / "bin" / "user-srv").write_text("#!/usr/bin/python3\n")
    (local / "bin" / "user-srv").chmod(0o755)
    layout = build(request(tmp_path, command="user-srv"), [str(local / "bin/user-srv")], {})
    assert bound(layout) == {str(local / "bin"): False, str(local / "lib"): False}
    # pipx: a link to the program in its own environment
    venv = local / "share" / "pipx" / "venvs" / "fetch"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "fetch").write_bytes(b"\x7fELF")
    (local / "bin" / "fetch").symlink_to(venv / "bin" / "fetch")
    layout = build(request(tmp_path, command="fetch"), [str(local / "bin/fetch")], {})
    assert bound(layout) == {str(local / "bin"): False, str(venv): False}


def test_the_gateways_python_brings_its_module_path_and_pythonpath_is_honoured(
    tmp_path: Path,
) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "extra").mkdir()
    fields = {"interpreter": "/usr/bin/python3", "interpreterPaths": [str(tmp_path / "lib"), "x"]}
    environ = {"PYTHONPATH": f"{tmp_path / 'extra'}:relative"}
    layout = build(request(tmp_path, **fields), ["/usr/bin/python3", "-m", "srv"], environ)
    assert bound(layout) == {str(tmp_path / "lib"): False, str(tmp_path / "extra"): False}
    other = build(request(tmp_path, **fields), ["/usr/bin/node"], {})
    assert bound(other) == {}


def test_a_workspace_child_writes_its_workspace_another_child_only_reads_its_cwd(
    tmp_path: Path,
) -> None:
    (tmp_path / "ws").mkdir()
    asWorkspace = build(request(tmp_path, cwd=str(tmp_path / "ws"), workspace=True), ["/bin/x"], {})
    plain = build(request(tmp_path, cwd=str(tmp_path / "ws")), ["/bin/x"], {})
    assert bound(asWorkspace) == {str(tmp_path / "ws"): True}
    assert bound(plain) == {str(tmp_path / "ws"): False} and plain.cwd == str(tmp_path / "ws")


@pytest.mark.parametrize("where", ["home", "above", "state"])
def test_a_workspace_is_never_written_whole_when_it_is_the_home_or_more(
    tmp_path: Path, where: str
) -> None:
    """A workspace-scoped entry whose C{cwd} is the home, what holds it or
    the state directory gets no writable workspace: the user's C{.bashrc}
    stays out of the child's reach whoever wrote the entry."""
    home = tree(tmp_path)
    (home / ".bashrc").write_text("# the user's own")
    cwd = {"home": home, "above": tmp_path, "state": home / ".mcpgateway"}[where]
    layout = build(request(tmp_path, cwd=str(cwd), workspace=True), ["/bin/x"], {})
    writable = [path for _, path in layout.writable]
    assert not any(str(home).startswith(path) or path.startswith(str(cwd)) for path in writable)


def test_profile_paths_expand_home_and_working_directory() -> None:
    assert expand("~", "/h", "/w") == "/h"
    assert expand("~/a/../b", "/h", "/w") == "/h/b"
    assert expand("./x", "/h", "/w") == "/w/x" and expand("x", "/h", "/w") == "/w/x"
    assert expand("/abs", "/h", "/w") == "/abs"


def test_the_layout_as_json_names_paths_only(tmp_path: Path) -> None:
    home = tree(tmp_path)
    shown = build(request(tmp_path, learn={}), ["/usr/bin/node"], {}).toJson()
    assert shown["home"] == str(home) and str(home / ".ssh") in shown["masked"]
    assert str(home) in shown["presented"]  # learning shows the home: its masks inside a tmpfs
    assert set(shown) == {
        "home",
        "cwd",
        "network",
        "system",
        "private",
        "readOnly",
        "writable",
        "masked",
        "reopened",
        "presented",
        "placeholders",
        "sealed",
        "variables",
        "notes",
        "refused",
    }
    assert os.path.isabs(shown["cwd"])


def test_the_paths_the_entrys_env_names_are_seen_like_its_arguments(
    tmp_path: Path,
) -> None:
    home = tree(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "memory.json").write_text("")
    environ = {
        "MEMORY_FILE_PATH": str(tmp_path / "data" / "memory.json"),
        "OUT": str(tmp_path / "new" / "out.json"),
        "LATER": str(tmp_path / "later"),
        "NOTES": "~/notes.jsonl",
        "TOKEN": "abc",
        "SEARCH": "/a:/b",
        "INHERITED": str(tmp_path / "inherited"),
    }
    (tmp_path / "new").mkdir()
    (tmp_path / "inherited").mkdir()
    names = ["MEMORY_FILE_PATH", "OUT", "NOTES", "TOKEN", "SEARCH", "LATER", "HOME"]
    layout = build(request(tmp_path, entryEnv=names), ["/usr/bin/node"], environ)
    # MEMORY_FILE_PATH is where the server writes (its directory: it renames into it).
    assert bound(layout) == {str(tmp_path / "data"): True, str(tmp_path / "new"): False}
    # Made later where nothing may be bound: a read-only placeholder, never the private home.
    # (the test's directory holds the home: nothing there is bound whole either)
    assert layout.placeholders == [str(home / "notes.jsonl"), str(tmp_path / "later")]


def test_a_script_named_through_a_symlinked_directory_is_found_by_both_names(
    tmp_path: Path,
) -> None:
    tree(tmp_path)
    (tmp_path / "cache").symlink_to(tmp_path / "proj")
    script = tmp_path / "cache/node_modules/@m/srv/dist/index.js"
    layout = build(request(tmp_path), ["/usr/bin/node", str(script)], {})
    real = str(tmp_path / "proj/node_modules")
    assert sorted(layout.readOnly) == [(real, str(tmp_path / "cache/node_modules")), (real, real)]


def test_a_writable_file_or_directory_yet_to_be_made_is_made_and_bound(
    tmp_path: Path,
) -> None:
    """A name with an extension is a file, made empty; any other, a
    directory, made with its parents (mode 0700)."""
    home = tree(tmp_path)
    rules = ["~/memory.jsonl", "~/out/", "~/notes", "~/no/such/dir", "~/deep/er/db.sqlite"]
    layout = build(request(tmp_path, profile={"filesystem": {"allowWrite": rules}}), ["/x"], {})
    made = ["memory.jsonl", "out", "notes", "no/such/dir", "deep/er/db.sqlite"]
    assert bound(layout) == {str(home / path): True for path in made}
    assert (home / "memory.jsonl").read_text() == "" and (home / "deep/er/db.sqlite").is_file()
    assert (home / "memory.jsonl").stat().st_mode & 0o777 == 0o600
    for directory in ("out", "notes", "no", "no/such", "no/such/dir", "deep", "deep/er"):
        assert (home / directory).is_dir()
        assert (home / directory).stat().st_mode & 0o777 == 0o700, directory
    assert layout.notes == []


def test_a_writable_directory_is_never_made_in_the_system(tmp_path: Path) -> None:
    tree(tmp_path)
    profile = {"filesystem": {"allowWrite": ["/usr/no-such-dir-of-mcpgateway", "/nope/x"]}}
    layout = build(request(tmp_path, profile=profile), ["/usr/bin/node"], {})
    assert layout.writable == [] and not os.path.exists("/usr/no-such-dir-of-mcpgateway")
    fix = "give the server a folder of its own with filesystem.allowWrite"
    assert layout.notes == [
        "allowWrite /usr/no-such-dir-of-mcpgateway: /usr/no-such-dir-of-mcpgateway not shown"
        f" writable: the system's; {fix}",
        "allowWrite /nope/x: /nope/x does not exist (/ is the system's: not made)",
    ]


def test_another_server_run_by_the_same_program_does_not_hide_it(tmp_path: Path) -> None:
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_bytes(b"\x7fELF")
    others = [str(venv / "python")]
    layout = build(request(tmp_path, others=others), [str(venv / "python"), "-m", "a"], {})
    assert not [p for p in masked(layout) if p.startswith(str(tmp_path / "venv"))]


def test_a_secret_nothing_shows_is_not_masked_either_its_name_would_tell(tmp_path: Path) -> None:
    home = tree(tmp_path)
    layout = build(request(tmp_path), ["/usr/bin/node"], {})
    assert not [p for p in masked(layout) if p.startswith(str(home))]
    assert str(home) in layout.private


def test_a_name_through_a_symlink_already_shown_is_left_to_the_symlink(tmp_path: Path) -> None:
    tree(tmp_path)
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "cache").symlink_to(tmp_path / "proj")
    script = tmp_path / "repo/cache/node_modules/@m/srv/dist/index.js"
    environ = {"PYTHONPATH": str(tmp_path / "repo")}
    layout = build(request(tmp_path), ["/usr/bin/node", str(script)], environ)
    real = str(tmp_path / "proj/node_modules")
    # The repository is shown: its symlink leads the child to the real path.
    assert sorted(layout.readOnly) == [(real, real), (str(tmp_path / "repo"),) * 2]


def test_the_gateways_working_directory_is_made_when_nothing_shows_it(tmp_path: Path) -> None:
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "main.py").write_text("")
    asked = request(tmp_path, gatewayCwd=str(tmp_path / "srv"))
    layout = build(asked, ["/usr/bin/python3", "main.py"], {})
    assert layout.cwd == str(tmp_path / "srv") and not layout.cwdMade  # main.py's directory
    layout = build(asked, ["/usr/bin/python3"], {})
    assert layout.cwdMade
    assert not build(request(tmp_path, gatewayCwd="/usr"), ["/usr/bin/python3"], {}).cwdMade


@pytest.mark.parametrize(
    ("name", "writes"),
    [
        ("MEMORY_FILE_PATH", True),
        ("DB_PATH", True),
        ("SQLITE_DB_PATH", True),
        ("DATA_DIR", True),
        ("LOG_FILE", True),
        ("OBSIDIAN_VAULT_PATH", False),  # no word says the server writes there
        ("CONFIG_FILE", False),
        ("DATA_KEY_FILE", False),  # a secret: read
        ("GOOGLE_APPLICATION_CREDENTIALS", False),
        ("XDG_DATA_DIR", False),  # every program's
        ("DATA", False),  # not a place
        ("memory_file_path", True),
    ],
)
def test_a_variable_names_where_the_server_writes_by_its_words(name: str, writes: bool) -> None:
    assert writesThere(name) is writes


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789", max_size=40))
def test_a_variable_with_a_secrets_word_is_never_written(name: str) -> None:
    for secret in ("KEY", "TOKEN", "CONFIG"):
        assert not writesThere(f"{name}_{secret}_FILE")
        assert not writesThere(f"{secret}_{name}_PATH")


def test_a_data_file_in_a_directory_of_its_own_makes_that_directory_writable(
    tmp_path: Path,
) -> None:
    tree(tmp_path)
    (tmp_path / "memory").mkdir()
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "app.sqlite").write_text("")
    environ = {
        "MEMORY_FILE_PATH": str(tmp_path / "memory" / "memory.jsonl"),  # made by the server
        "DB_PATH": str(tmp_path / "db" / "app.sqlite"),
        "CONFIG_FILE": str(tmp_path / "db" / "app.sqlite"),  # read: writable wins
    }
    layout = build(request(tmp_path, entryEnv=list(environ)), ["/usr/bin/node"], environ)
    assert bound(layout) == {str(tmp_path / "memory"): True, str(tmp_path / "db"): True}
    assert layout.placeholders == []


def test_a_data_file_directly_in_the_home_is_writable_alone(tmp_path: Path) -> None:
    home = tree(tmp_path)
    environ = {"MEMORY_FILE_PATH": "~/memory.jsonl"}
    layout = build(request(tmp_path, entryEnv=list(environ)), ["/usr/bin/node"], environ)
    memory = str(home / "memory.jsonl")
    assert bound(layout) == {memory: True}  # the home itself is not bound, even read-only
    assert (home / "memory.jsonl").read_text() == ""  # made, empty, so it can be bound
    assert layout.placeholders == []


def test_a_data_variable_never_makes_a_system_path_writable(tmp_path: Path) -> None:
    tree(tmp_path)
    environ = {"LOG_FILE": "/usr/lib/os-release", "DATA_DIR": "/etc"}
    layout = build(request(tmp_path, entryEnv=list(environ)), ["/usr/bin/node"], environ)
    assert layout.writable == []


def test_a_shell_scripts_paths_are_seen_as_its_arguments_and_programs(tmp_path: Path) -> None:
    home = tree(tmp_path)
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "lib").mkdir()
    server = venv / "bin" / "server"
    server.write_text("#!/bin/sh\n")
    server.chmod(0o755)
    (tmp_path / "data").mkdir()
    (home / ".profile").write_text("")
    script = f"source ~/.profile && exec {server} --db={tmp_path / 'data'} 2>/dev/null; sleep 9"
    layout = build(request(tmp_path), ["/bin/sh", "-lc", script], {"HOME": str(home)})
    seen = bound(layout)
    assert seen[str(venv)] is False  # the program's installation, as for argv[0]
    assert seen[str(tmp_path / "data")] is False
    assert seen[str(home / ".profile")] is False  # a file in the home: alone
    assert not any(path.startswith("/dev") for path in seen)
    assert str(home) not in seen


def test_only_a_shells_script_is_read() -> None:
    assert scriptPaths(["/usr/bin/node", "-c", "/usr/bin/env"], "/h") == []
    assert scriptPaths(["/bin/sh", "/usr/bin/env"], "/h") == []
    assert scriptPaths(["/bin/bash", "-c"], "/h") == []
    assert scriptPaths(["bash", "-ec", "X=/usr/bin/env\n'/usr/bin/env'"], "/h") == ["/usr/bin/env"]


@given(st.lists(st.text(max_size=30), max_size=4))
def test_any_script_gives_existing_absolute_paths(words: list[str]) -> None:
    for path in scriptPaths(["sh", "-c", " ".join(words)], "/nonexistent-home"):
        assert path.startswith("/") and os.path.lexists(path)


def test_a_data_file_the_server_made_a_symlink_is_not_followed_at_its_next_start(
    tmp_path: Path,
) -> None:
    """server-memory's C{memory.json}, replaced by the child with a symlink
    to C{~/.bashrc}: its next start binds its data directory, as at the
    first, never the file's target."""
    home = tree(tmp_path)
    (home / ".bashrc").write_text("# the user's own")
    (home / "Documents").mkdir()
    data = tmp_path / "data"
    data.mkdir()
    environ = {"MEMORY_FILE_PATH": str(data / "memory.json"), "NOTES_DIR": str(data / "notes")}
    asked = request(tmp_path, entryEnv=list(environ))
    first = build(asked, ["/usr/bin/node"], environ)
    assert bound(first) == {str(data): True, str(data / "notes"): True}
    (data / "memory.json").symlink_to(home / ".bashrc")  # what the child did
    (data / "notes").rmdir()
    (data / "notes").symlink_to(home / "Documents")
    second = build(asked, ["/usr/bin/node"], environ)
    assert bound(second) == {str(data): True}
    assert second.notes == [
        f"NOTES_DIR: {data / 'notes'} is reached through a symlink the server may have made:"
        " not followed"
    ]


def test_a_symlink_the_server_left_in_a_folder_it_writes_leads_nowhere(tmp_path: Path) -> None:
    home = tree(tmp_path)
    (home / "Documents").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    (work / "docs").symlink_to(home / "Documents")  # left by the child, at an earlier start
    (work / "main.js").symlink_to(home / ".bashrc")
    (home / ".bashrc").write_text("")
    argv = ["/usr/bin/node", str(work / "main.js"), str(work), str(work / "docs")]
    layout = build(request(tmp_path), argv, {})
    assert bound(layout) == {str(work): True}
    # The entry's own symlink, where the child writes nothing, is still followed.
    (tmp_path / "link").symlink_to(home / "Documents")
    layout = build(request(tmp_path), ["/usr/bin/node", str(tmp_path / "link")], {})
    assert bound(layout) == {str(home / "Documents"): True, str(tmp_path / "link"): True}


def test_a_symlink_in_a_writable_folder_may_lead_to_what_every_child_sees(tmp_path: Path) -> None:
    work = tmp_path / "work" / "bin"
    work.mkdir(parents=True)
    (work / "python").symlink_to("/usr/bin/env")  # a venv's interpreter: the system's
    argv = [str(work / "python"), str(tmp_path / "work")]
    layout = build(request(tmp_path), argv, {})
    assert bound(layout)[str(tmp_path / "work")] is True
    assert layout.notes == []


def test_a_folder_an_argument_names_is_the_servers_to_write(tmp_path: Path) -> None:
    home = tree(tmp_path)
    project = home / "work"
    (project / "readme.md").write_text("")
    state = home / ".mcpgateway"
    argv = ["/usr/bin/node", str(project), str(project / "readme.md"), "/usr/share", str(state)]
    layout = build(request(tmp_path), argv, {})
    assert bound(layout) == {str(project): True}
    # Never the home, what holds it, or the system.
    for wide in (str(home), str(tmp_path), "/", "/etc"):
        layout = build(request(tmp_path), ["/usr/bin/node", wide], {})
        assert layout.writable == [], wide


@pytest.mark.parametrize(
    "args",
    [
        ["--db-path", "{data}/compat.db"],  # a database, not made yet
        ["--db-path={data}/compat.sqlite"],
        ["{data}/made.duckdb"],  # one that exists
        ["--memory-file", "{data}/memory.jsonl"],  # an option that says it is data
    ],
)
def test_the_folder_of_a_data_file_an_argument_names_is_writable(
    tmp_path: Path, args: list[str]
) -> None:
    """mcp-server-sqlite's C{--db-path x.db}: its folder is where the
    database and its journal are written; a plain file argument's folder
    stays read-only, and never the home's."""
    home = tree(tmp_path)
    data = home / "work" / "data"
    data.mkdir()
    (data / "made.duckdb").write_text("")
    argv = ["/usr/bin/node", *(arg.replace("{data}", str(data)) for arg in args)]
    assert bound(build(request(tmp_path), argv, {})) == {str(data): True}
    (data / "notes.txt").write_text("")
    plain = build(request(tmp_path), ["/usr/bin/node", "--config", str(data / "notes.txt")], {})
    assert bound(plain) == {str(data): False}
    inHome = build(request(tmp_path), ["/usr/bin/node", "--db-path", str(home / "x.db")], {})
    assert inHome.writable == []


def test_the_gateways_module_path_never_shows_the_home_or_what_holds_it(tmp_path: Path) -> None:
    """C{python -m mcpgateway.launch} run from the home has the home first
    on its path: a child run by the gateway's Python must not see it."""
    home = tree(tmp_path)
    lib = tmp_path / "lib"
    lib.mkdir()
    paths = [str(home), "/", str(tmp_path), str(home / ".mcpgateway"), "/tmp", str(lib)]
    fields = {"interpreter": "/usr/bin/python3", "interpreterPaths": paths}
    environ = {"PYTHONPATH": str(home)}
    layout = build(request(tmp_path, **fields), ["/usr/bin/python3", "-m", "srv"], environ)
    assert bound(layout) == {str(lib): False}


def test_a_script_in_var_tmp_is_bound_over_the_private_one(tmp_path: Path) -> None:
    """C{/var/tmp} is the child's own, empty: a server kept there is bound
    as one kept anywhere else."""
    srv = Path(tempfile.mkdtemp(dir="/var/tmp"))
    try:
        (srv / "dist").mkdir()
        (srv / "package.json").write_text("{}")
        (srv / "dist" / "index.js").write_text("")
        layout = build(request(tmp_path), ["/usr/bin/node", str(srv / "dist/index.js")], {})
        assert bound(layout) == {str(srv): False}
    finally:
        shutil.rmtree(srv)


def test_a_gateway_running_in_its_state_directory_gives_its_children_their_home(
    tmp_path: Path,
) -> None:
    home = tree(tmp_path)
    state = home / ".mcpgateway"
    asked = request(tmp_path, gatewayCwd=str(state), learn={})
    layout = build(asked, ["/usr/bin/node", "relative.js"], {})
    assert layout.cwd == str(home) and str(state) in masked(layout)
    assert not [p for p in bound(layout) if p.startswith(str(state))]
    # In another server's directory, masked for this one: its home too.
    other = home / "other"
    (other / "sub").mkdir(parents=True)
    asked = request(tmp_path, gatewayCwd=str(other / "sub"), others=[str(other)], learn={})
    layout = build(asked, ["/usr/bin/node"], {})
    assert str(other) in masked(layout) and layout.cwd == str(home)


def test_the_gateways_own_files_are_masked_wherever_a_child_would_see_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tree(tmp_path)
    system = tmp_path / "opt"
    (system / "gw").mkdir(parents=True)
    monkeypatch.setattr(defaults, "SYSTEM_DIRS", (*defaults.SYSTEM_DIRS, str(system)))
    monkeypatch.setattr(places, "PRIVATE", ("/var/tmp",))  # the test's tree is in /tmp
    conf = tmp_path / "conf"
    conf.mkdir()
    for name in ("config.json", "tokens.json"):
        (conf / name).write_text("{}")
    (system / "gw" / "tls.key").write_text("KEY")
    data = tmp_path / "data"
    data.mkdir()
    (data / "audit.log").write_text("")
    files = [str(conf / "config.json"), str(conf / "tokens.json"), str(system / "gw/tls.key")]
    files += [str(data / "audit.log"), str(home / "missing.pem")]
    profile = {"filesystem": {"allowRead": [str(conf), str(conf / "config.json")]}}
    environ = {"DATA_DIR": str(data)}
    asked = request(tmp_path, gatewayFiles=files, profile=profile, entryEnv=list(environ))
    layout = build(asked, ["/usr/bin/node"], environ)
    assert {str(conf): False, str(data): True}.items() <= bound(layout).items()
    assert set(files[:4]) <= masked(layout)  # under a bind, under the system's, in its data
    assert layout.reopened == []  # an allow naming one lifts nothing


@pytest.mark.parametrize("named", ["the home", "dot in the home"])
def test_an_entry_naming_the_home_sees_it_empty_and_read_only(tmp_path: Path, named: str) -> None:
    """A server given the home (C{server-filesystem ~}, or C{.} run there)
    would otherwise write into its own empty home and lose it when it
    ends: the home it sees is empty and read-only, and the note says why."""
    home = tree(tmp_path)
    argument = str(home) if named == "the home" else "."
    asked = request(tmp_path, cwd=str(home) if named != "the home" else None)
    layout = build(asked, ["/usr/bin/node", "server.js", argument], {"HOME": str(home)})
    assert layout.sealedPrivate == [str(home)] and str(home) in layout.private
    assert str(home) not in layout.soft  # Landlock, which has no private home, masks nothing
    assert str(home) not in bound(layout)
    assert any("names your home" in note for note in layout.notes)
    words = arguments(layout, root=False)
    assert ["--remount-ro", str(home)] in [words[i : i + 2] for i in range(len(words) - 1)]
    other = build(request(tmp_path), ["/usr/bin/node", "server.js"], {"HOME": str(home)})
    assert other.sealedPrivate == []  # its own home, writable, as before


def test_an_argument_s_file_in_a_writable_workspace_stays_writable(tmp_path: Path) -> None:
    """A server named the file it writes (C{server --out ./out/dump.json}):
    once the file exists, its folder is still the workspace's, writable;
    binding it again read-only over the workspace would fail the write at
    the next start. A C{denyWrite} there is read-only all the same."""
    home = tree(tmp_path)
    workspace = home / "proj"
    (workspace / "out").mkdir(parents=True)
    (workspace / "out" / "dump.json").write_text("{}")
    (workspace / "keep").mkdir()
    asked = request(
        tmp_path,
        cwd=str(workspace),
        workspace=True,
        profile={"filesystem": {"denyWrite": ["./keep"]}},
    )
    argv = ["/usr/bin/env", str(workspace / "out" / "dump.json")]
    shown = bound(build(asked, argv, {"HOME": str(home)}))
    assert shown[str(workspace)] is True
    assert shown.get(str(workspace / "out"), True) is True
    assert shown[str(workspace / "keep")] is False

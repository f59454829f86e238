"""A package launcher's caches are the confined child's own: folders of
the state directory kept for its entry, named by the tool's variables
whatever the entry's C{env} says; the user's copies a tool runs from
(uv's managed Pythons, the project's poetry, hatch and pipenv
environments) read-only, never writable."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.sandbox.launchercaches import environment, keyOf
from mcpgateway.sandbox.layout import Layout, build
from tests.support.sandbox.layout import bound, request, tree


def own(home: Path, tool: str, key: str = "srv") -> Path:
    """The child's own folder of C{tool}'s caches."""
    return home / ".mcpgateway" / "caches" / key / tool


def writable(layout: Layout) -> set[str]:
    """Every path the child may write: its binds and what is bound again
    over the masks."""
    return {path for path, w in bound(layout).items() if w} | {
        path for path, w in layout.reopened if w
    }


def launched(tmp: Path, command: str, environ: dict[str, str], **fields: Any) -> Layout:
    """The layout of C{command} (a launcher), the entry's C{env} C{environ}."""
    asked = request(tmp, command=command, entryEnv=sorted(environ), **fields)
    return build(asked, [f"/usr/bin/{command}", "run", "srv"], environ)


def test_npx_writes_a_cache_of_its_own_and_never_the_users(tmp_path: Path) -> None:
    home = tree(tmp_path)
    (home / ".npm" / "_npx").mkdir(parents=True)
    layout = launched(tmp_path, "npx", {})
    mine = own(home, "npm")
    assert writable(layout) == {str(mine)}
    assert (str(mine), True) in layout.reopened and str(home / ".npm") not in bound(layout)
    assert layout.caches.variables == {"npm_config_cache": str(mine / "cache")}
    for folder in (mine.parent.parent, mine.parent, mine, mine / "cache"):
        assert folder.is_dir() and folder.stat().st_mode & 0o777 == 0o700, folder
    # nothing else of the state directory: not its tokens, not the installs
    assert not [p for p in bound(layout) if p.startswith(str(home / ".mcpgateway"))]


def test_each_entry_keeps_its_own_caches(tmp_path: Path) -> None:
    home = tree(tmp_path)
    one = launched(tmp_path, "uvx", {}, cacheKey="srv-0123456789abcdef")
    other = launched(tmp_path, "uvx", {}, cacheKey="srv-fedcba9876543210")
    assert one.caches.own == [str(own(home, "uv", "srv-0123456789abcdef"))]
    assert other.caches.own == [str(own(home, "uv", "srv-fedcba9876543210"))]


@pytest.mark.parametrize("key", ["../../etc", "a/b", ".hidden", "", "x" * 200, "é"])
def test_a_key_that_is_no_plain_file_name_falls_back_to_the_servers_name(key: str) -> None:
    assert keyOf({"cacheKey": key, "server": "my srv/1"}) == "my_srv_1"
    assert keyOf({"server": ".."}) == "_.."
    assert keyOf({}) == "_"


HOSTILE = ["/etc", "HOME", "/tmp", "~/.config", "HOME/.config", "HOME/.local/bin"]
"""Values a repository's entry gave a launcher's cache variable: the
system, the home (C{${HOME}}, expanded by the gateway), the shared C{/tmp}
(the user's agents' sockets), the user's config, the user's programs."""


@pytest.mark.parametrize("linked", [False, True], ids=["named", "symlink"])
@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    ("command", "variable", "tool"),
    [
        ("poetry", "POETRY_CACHE_DIR", "poetry"),
        ("uvx", "UV_TOOL_DIR", "uv"),
        ("pnpm", "PNPM_HOME", "pnpm"),
        ("npx", "NPM_CONFIG_CACHE", "npm"),
        ("hatch", "HATCH_DATA_DIR", "hatch"),
    ],
)
def test_an_entrys_value_for_a_cache_variable_is_ignored_and_noted(
    tmp_path: Path, command: str, variable: str, tool: str, value: str, linked: bool
) -> None:
    home = tree(tmp_path)
    for folder in (".config", ".local/bin"):
        (home / folder).mkdir(parents=True, exist_ok=True)
    named = value.replace("HOME", str(home))
    if linked:
        link = tmp_path / "link"
        link.symlink_to(os.path.expanduser(named.replace("~", str(home))))
        named = str(link)
    layout = launched(tmp_path, command, {variable: named})
    assert writable(layout) == {str(own(home, tool))}, layout.notes
    assert named not in bound(layout) and os.path.realpath(named) not in bound(layout)
    canonical = variable.lower() if variable.startswith("NPM_") else variable
    ownValue = layout.caches.variables[canonical]
    assert ownValue.startswith(str(own(home, tool)) + "/")
    assert (
        f"{variable}={named} in its env is ignored: the sandbox names {tool}'s caches"
        f" ({canonical}={ownValue})"
    ) in layout.notes
    assert layout.caches.ignored == {variable}


def test_the_childs_environment_names_its_own_caches_in_every_spelling(tmp_path: Path) -> None:
    """npm and pnpm read C{NPM_CONFIG_CACHE}, C{npm_config_cache} and
    C{npm_config_store-dir} alike, the last one winning: every other
    spelling is removed."""
    environ = {
        "NPM_CONFIG_CACHE": "/etc",
        "Npm_Config_Cache": "/etc",
        "npm_config_store-dir": "/etc",
        "PATH": "/usr/bin",
    }
    variables = {"npm_config_cache": "/s/caches/k/npm/cache", "npm_config_store_dir": "/s/x"}
    assert environment(environ, variables) == {"PATH": "/usr/bin", **variables}


def test_a_symlink_the_child_left_in_its_own_folder_is_never_followed(tmp_path: Path) -> None:
    home = tree(tmp_path)
    mine = own(home, "npm")
    launched(tmp_path, "npx", {})
    (mine / "cache").rmdir()
    (mine / "cache").symlink_to(home / ".ssh")
    (mine / "other").symlink_to(home / ".aws")
    layout = launched(tmp_path, "npx", {})
    assert (mine / "cache").is_dir() and not (mine / "cache").is_symlink()
    assert sorted(os.listdir(home / ".ssh")) == ["id_rsa"]
    assert writable(layout) == {str(mine)}
    assert str(home / ".aws") not in bound(layout)


def test_without_the_state_directory_the_variables_still_name_no_place_of_the_users(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    layout = launched(tmp_path, "npx", {})
    mine = own(home, "npm")
    assert layout.caches.own == [] and writable(layout) == set()
    assert layout.caches.variables == {"npm_config_cache": str(mine / "cache")}
    assert f"its launcher's own caches {mine}: the state directory" in layout.notes[0]


def test_a_command_that_is_no_launcher_gets_no_caches(tmp_path: Path) -> None:
    home = tree(tmp_path)
    layout = launched(tmp_path, "node", {"DATA_DIR": str(home / "data")})
    assert layout.caches.variables == {} and layout.caches.own == []
    assert bound(layout) == {str(home / "data"): True}  # its data, as ever
    assert not (home / ".mcpgateway" / "caches").exists()


@pytest.mark.parametrize("command", ["node", "npx"])
def test_another_launchers_cache_an_entry_names_is_never_the_servers(
    tmp_path: Path, command: str
) -> None:
    """A C{node} server's C{UV_CACHE_DIR} (a data place by its name) names
    the user's uv cache, which the user's next C{uvx} installs from: it is
    neither writable nor shown, whatever the command."""
    home = tree(tmp_path)
    (home / ".cache/uv").mkdir(parents=True)
    (home / ".cache/pip").mkdir(parents=True)
    entry = {"UV_CACHE_DIR": str(home / ".cache/uv"), "PIP_CACHE_DIR": str(home / ".cache/pip")}
    layout = launched(tmp_path, command, entry)
    assert str(home / ".cache/uv") not in bound(layout)
    assert str(home / ".cache/pip") not in bound(layout)
    assert layout.caches.ignored == set(entry)
    assert (
        f"UV_CACHE_DIR={home}/.cache/uv in its env names a package launcher's caches, shared"
        " with the user: not the server's to write, not shown"
    ) in layout.notes


# The user's copies, read-only.


def pythonInstall(root: Path) -> Path:
    """A Python installation at C{root} (its C{bin/python3.12})."""
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "python3.12").write_bytes(b"\x7fELF")
    return root / "bin" / "python3.12"


def test_uvx_runs_the_users_managed_pythons_read_only(tmp_path: Path) -> None:
    home = tree(tmp_path)
    pythons = home / ".local/share/uv/python"
    pythonInstall(pythons / "cpython-3.12.1-linux-x86_64-gnu")
    (home / ".local/share/uv/tools/mcpgateway/lib").mkdir(parents=True)
    layout = launched(tmp_path, "uvx", {})
    mine = own(home, "uv")
    assert bound(layout) == {str(pythons): False}
    assert writable(layout) == {str(mine)}
    assert layout.caches.variables == {
        "UV_CACHE_DIR": str(mine / "cache"),
        "UV_TOOL_DIR": str(mine / "tools"),
        "UV_TOOL_BIN_DIR": str(mine / "bin"),
        "UV_PYTHON_INSTALL_DIR": str(pythons),
        "UV_PYTHON_BIN_DIR": str(mine / "python-bin"),
    }


def test_the_users_copies_are_found_where_the_gateway_not_the_entry_says(
    tmp_path: Path,
) -> None:
    home = tree(tmp_path)
    moved = tmp_path / "data"
    (moved / "uv/python").mkdir(parents=True)
    (home / ".local/share/uv/python").mkdir(parents=True)
    environ = {"XDG_DATA_HOME": str(moved)}
    asked = request(tmp_path, command="uvx", entryEnv=[])
    layout = build(asked, ["/usr/bin/uvx", "srv"], environ)
    assert layout.caches.variables["UV_PYTHON_INSTALL_DIR"] == str(moved / "uv/python")
    # the entry's XDG_DATA_HOME (or UV_PYTHON_INSTALL_DIR) chooses nothing
    entry = {"XDG_DATA_HOME": str(moved), "UV_PYTHON_INSTALL_DIR": str(home / ".ssh")}
    layout = launched(tmp_path, "uvx", entry)
    assert layout.caches.variables["UV_PYTHON_INSTALL_DIR"] == str(home / ".local/share/uv/python")
    assert str(home / ".ssh") not in bound(layout)


def digest(text: str, size: int = 32) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()[:size]).decode()


def project(home: Path) -> Path:
    """A Python project in the home, the child's working directory."""
    folder = home / "code" / "proj"
    (folder / "src").mkdir(parents=True)
    (folder / "pyproject.toml").write_text("[project]\nname = 'proj'\n")
    (folder / "Pipfile").write_text("")
    return folder


def test_poetry_run_finds_the_projects_environment_read_only(tmp_path: Path) -> None:
    """C{poetry run} runs in the environment C{poetry install} made for
    the project (named by the digest of its path), with the Python it was
    made from: those are shown read-only, and poetry is pointed at them;
    the user's other projects' environments are not shown."""
    home = tree(tmp_path)
    proj = project(home)
    envs = home / ".cache/pypoetry/virtualenvs"
    mine = envs / f"proj-{digest(str(proj))[:8]}-py3.12"
    (mine / "bin").mkdir(parents=True)
    base = pythonInstall(home / ".pyenv/versions/3.12.1")
    (mine / "bin" / "python").symlink_to(base)
    (envs / "other-AAAAAAAA-py3.12").mkdir()
    (envs / "envs.toml").write_text("")
    asked = request(tmp_path, command="poetry", cwd=str(proj))
    layout = build(asked, ["/usr/bin/poetry", "run", "python", "-m", "srv"], {})
    assert bound(layout) == {
        str(proj): False,
        str(mine): False,
        str(envs / "envs.toml"): False,
        str(home / ".pyenv/versions/3.12.1"): False,
    }
    assert writable(layout) == {str(own(home, "poetry"))}
    assert layout.caches.variables["POETRY_VIRTUALENVS_PATH"] == str(envs)
    assert layout.caches.variables["POETRY_CACHE_DIR"] == str(own(home, "poetry") / "cache")
    # -C names the project: from elsewhere, the same environment
    elsewhere = request(tmp_path, command="poetry")
    argv = ["/usr/bin/poetry", "-C", str(proj), "run", "srv"]
    assert str(mine) in bound(build(elsewhere, argv, {}))
    # no environment for the project: poetry makes its own
    (proj / "pyproject.toml").unlink()
    layout = build(asked, ["/usr/bin/poetry", "run", "srv"], {})
    virtualenvs = layout.caches.variables["POETRY_VIRTUALENVS_PATH"]
    assert virtualenvs == str(own(home, "poetry") / "virtualenvs")


def test_hatch_run_finds_the_projects_environments_read_only(tmp_path: Path) -> None:
    home = tree(tmp_path)
    proj = project(home)
    data = home / ".local/share/hatch"
    storage = data / "env/virtual/proj" / digest(str(proj))[:8]
    (storage / "proj" / "bin").mkdir(parents=True)
    (data / "env/virtual/other/AAAAAAAA/other").mkdir(parents=True)
    recorded = data / "env/.metadata" / digest(str(proj))[:8]
    recorded.mkdir(parents=True)
    (data / "pythons").mkdir()
    asked = request(tmp_path, command="hatch", cwd=str(proj))
    layout = build(asked, ["/usr/bin/hatch", "run", "srv"], {})
    assert bound(layout) == {str(proj): False, str(storage): False, str(recorded): False}
    assert writable(layout) == {str(own(home, "hatch"))}
    assert layout.caches.variables["HATCH_DATA_DIR"] == str(data)
    assert layout.caches.variables["HATCH_CACHE_DIR"] == str(own(home, "hatch") / "cache")


def test_pipenv_run_finds_the_projects_environment_read_only(tmp_path: Path) -> None:
    home = tree(tmp_path)
    proj = project(home)
    workon = home / ".local/share/virtualenvs"
    mine = workon / f"proj-{digest(str(proj / 'Pipfile'), 6)[:8]}"
    mine.mkdir(parents=True)
    (workon / "other-AAAAAAAA").mkdir()
    asked = request(tmp_path, command="pipenv", cwd=str(proj / "src"))
    layout = build(asked, ["/usr/bin/pipenv", "run", "srv"], {})
    assert bound(layout) == {str(proj / "src"): False, str(mine): False}
    assert layout.caches.variables["WORKON_HOME"] == str(workon)
    assert writable(layout) == {str(own(home, "pipenv"))}


def test_the_home_is_no_project_of_poetrys(tmp_path: Path) -> None:
    home = tree(tmp_path)
    (home / "pyproject.toml").write_text("")
    envs = home / ".cache/pypoetry/virtualenvs"
    (envs / f"home-{digest(str(home))[:8]}-py3.12").mkdir(parents=True)
    layout = build(request(tmp_path, command="poetry"), ["/usr/bin/poetry", "run", "x"], {})
    assert bound(layout) == {}


def test_a_users_copy_reached_through_the_childs_own_folder_is_not_shown(
    tmp_path: Path,
) -> None:
    """An environment in a place the child may write (an C{allowWrite}
    of the user's): what its C{bin/python} leads to is the child's to
    have chosen."""
    home = tree(tmp_path)
    proj = project(home)
    envs = home / ".cache/pypoetry/virtualenvs"
    mine = envs / f"proj-{digest(str(proj))[:8]}-py3.12"
    (mine / "bin").mkdir(parents=True)
    (home / "Documents" / "bin").mkdir(parents=True)
    (home / "Documents" / "bin" / "python").write_bytes(b"")
    (mine / "bin" / "python").symlink_to(home / "Documents" / "bin" / "python")
    rules = {"filesystem": {"allowWrite": [str(envs)]}}
    asked = request(tmp_path, command="poetry", cwd=str(proj), profile=rules)
    layout = build(asked, ["/usr/bin/poetry", "run", "srv"], {})
    assert (str(home / "Documents"), str(mine / "bin/python")) in layout.caches.shown
    assert str(home / "Documents") not in bound(layout)

"""The one path rule: every source of a bind, walked through the same
hostile values, for the user's own entry and for a repository's."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.sandbox.layout import Layout, build
from mcpgateway.sandbox.pathrule import PathRule
from mcpgateway.sandbox.places import Places, under
from tests.support.sandbox.layout import bound, request, tree

HOSTILE = ("/etc", "~", "/tmp", "~/.config", "~/.local/bin")
"""What a hostile entry names: the system, the home, the shared temporary
directory (an agent's socket), a folder of every program's settings
(C{~/.config/autostart}), the user's programs."""
NEVER_SHOWN = ("~", "/tmp", "~/.config")
"""Of those, what is never bound at all, read-only or writable."""


def world(tmp: Path) -> tuple[Path, dict[str, Path]]:
    """A home with the hostile places in it, and a symlink to each."""
    home = tree(tmp)
    for place in (".config/autostart", ".local/bin"):
        (home / place).mkdir(parents=True, exist_ok=True)
    links = tmp / "links"
    links.mkdir()
    targets = {}
    for index, value in enumerate(HOSTILE):
        real = Path(value.replace("~", str(home), 1))
        targets[value] = real
        (links / f"link{index}").symlink_to(real)
        targets[f"link to {value}"] = links / f"link{index}"
    (tmp / "ws").mkdir()
    return home, targets


def asks(source: str, path: str, tmp: Path) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    """The request, argv and environment in which C{source} names C{path}."""
    fields: dict[str, Any] = {"cwd": str(tmp / "ws"), "workspace": True}
    argv = ["/usr/bin/node", "server.js"]
    env: dict[str, str] = {}
    if source == "an argument":
        argv.append(path)
    elif source == "env DATA_DIR":  # a data folder: writable
        env["DATA_DIR"] = path
        fields["entryEnv"] = ["DATA_DIR"]
    elif source == "env NOTES_ROOT":  # any other path: read-only
        env["NOTES_ROOT"] = path
        fields["entryEnv"] = ["NOTES_ROOT"]
    elif source == "env PYTHONPATH":
        env["PYTHONPATH"] = path
        fields["entryEnv"] = ["PYTHONPATH"]
    elif source == "cwd":
        fields["cwd"] = path
    elif source == "POETRY_CACHE_DIR":
        fields["command"] = "poetry"
        env["POETRY_CACHE_DIR"] = path
        fields["entryEnv"] = ["POETRY_CACHE_DIR"]
    elif source == "allowRead":
        fields["profile"] = {"filesystem": {"allowRead": [path]}}
    elif source == "allowWrite":
        fields["profile"] = {"filesystem": {"allowWrite": [path]}}
    return request(tmp, **fields), argv, env


SOURCES = (
    "an argument",
    "env DATA_DIR",
    "env NOTES_ROOT",
    "env PYTHONPATH",
    "cwd",
    "POETRY_CACHE_DIR",
    "allowRead",
    "allowWrite",
)


def shownAt(layout: Layout, place: Path) -> dict[str, bool]:
    """What of C{place} (as named and as resolved) the child sees through a
    bind, and whether it may write there."""
    names = {os.path.abspath(place), os.path.realpath(place)}
    return {p: w for p, w in bound(layout).items() if p in names}


@pytest.mark.parametrize("repository", [False, True], ids=["users", "repository"])
@pytest.mark.parametrize("source", SOURCES)
def test_every_source_of_a_bind_passes_the_one_rule(
    tmp_path: Path, source: str, repository: bool
) -> None:
    home, targets = world(tmp_path)
    for value, place in targets.items():
        named = str(place)
        asked, argv, env = asks(source, named, tmp_path)
        if repository:
            asked["confinedTo"] = str(tmp_path / "ws")
        layout = build(asked, argv, {"HOME": str(home), **env})
        seen = shownAt(layout, place)
        assert not any(seen.values()), (source, value, seen)  # never writable
        hostile = value.removeprefix("link to ")
        if repository or hostile in NEVER_SHOWN:
            assert seen == {}, (source, value, seen)  # not even read-only
        if seen:  # read-only, where the user's own entry names it: what every child may read
            assert not repository and hostile in ("/etc", "~/.local/bin"), (source, value)
    # Nothing was made where nothing may be written.
    assert not (Path("/etc") / "server.js").exists()


def test_a_refusal_names_its_source_the_path_why_and_the_fix(tmp_path: Path) -> None:
    home, _ = world(tmp_path)
    asked, argv, env = asks("env DATA_DIR", str(home / ".config"), tmp_path)
    layout = build(asked, argv, {"HOME": str(home), **env})
    assert layout.refused == [
        f"env DATA_DIR: {home / '.config'} not shown writable: too wide: it holds the home,"
        " or many programs' data; name a folder of the server's own (a project folder, a data"
        " folder under ~/.local/share/<server>) instead"
    ]
    assert layout.refused[0] in layout.notes and layout.toJson()["refused"] == layout.refused


def test_a_repositorys_entry_sees_its_workspace_and_its_program_but_nothing_else_it_names(
    tmp_path: Path,
) -> None:
    home, _ = world(tmp_path)
    notes = home / "notes"
    notes.mkdir()
    inside = tmp_path / "ws" / "data"
    inside.mkdir()
    asked, argv, env = asks("an argument", str(notes), tmp_path)
    argv.append(str(inside))
    own = build(asked, argv, {"HOME": str(home), **env})
    assert bound(own)[str(notes)] is True and bound(own)[str(inside)] is True
    asked["confinedTo"] = str(tmp_path / "ws")
    confined = build(asked, argv, {"HOME": str(home), **env})
    assert str(notes) not in bound(confined)
    assert bound(confined)[str(tmp_path / "ws")] is True  # its workspace, as before
    assert {line.split(":")[0] for line in confined.refused} == {"an argument"}
    assert "outside its workspace" in confined.refused[0]
    assert "mcpgateway sandbox approve" in confined.refused[0]


def test_a_repositorys_program_named_again_by_its_script_is_shown_without_a_refusal(
    tmp_path: Path,
) -> None:
    """A repository's C{sh -c} script names a program of C{~/bin}: its
    folder is shown read-only as the program's, and the script's word for
    it is no refusal (reading it there widens nothing)."""
    home, _ = world(tmp_path)
    tools = home / "bin"
    tools.mkdir()
    tool = tools / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    asked = request(
        tmp_path, cwd=str(tmp_path / "ws"), workspace=True, confinedTo=str(tmp_path / "ws")
    )
    argv = ["/bin/sh", "-c", f"{tool} --serve"]
    environ = {"HOME": str(home), "PATH": f"{tools}:/usr/bin:/bin"}  # one of the user's programs
    layout = build(asked, argv, environ)
    assert bound(layout)[str(tools)] is False
    assert str(tool) not in bound(layout)  # not bound twice
    assert layout.refused == [] and not any(str(tools) in note for note in layout.notes)
    # The script's other words are still the entry's own: refused beyond its workspace.
    notes = home / "notes"
    notes.mkdir()
    argv[2] += f" {notes}"
    named = build(asked, argv, environ)
    assert str(notes) not in bound(named)
    assert [line.split(" not shown")[0] for line in named.refused] == [f"an argument: {notes}"]


def test_a_repositorys_script_runs_no_program_the_user_did_not_install(tmp_path: Path) -> None:
    """A repository's script naming files whose C{#!} lines point into the
    home (another repository, Documents, a path that is no program at
    all), or a program of the home not on the user's C{PATH}: none of
    their folders is shown, each refusal is noted; the user's own entry
    runs them as it says."""
    home, _ = world(tmp_path)
    workspace = tmp_path / "ws"
    secret = home / "Documents" / "tax"
    secret.mkdir(parents=True)
    (secret / "return.txt").write_text("TAX")
    other = home / "work" / "bin"
    other.mkdir(parents=True)
    (other / "x").write_text("#!/bin/sh\n")
    (other / "x").chmod(0o755)
    lines = {
        "tool1": f"#!{secret / 'return.txt'}\n",  # a file, not a program
        "tool2": f"#!{home / 'nowhere' / 'bin' / 'x'}\n",  # nothing there
        "tool3": f"#!{other / 'x'}\n",  # a program, not one the user installed
    }
    for name, line in lines.items():
        (workspace / name).write_text(line)
        (workspace / name).chmod(0o755)
    words = " ".join(str(workspace / name) for name in [*lines, "../home/work/bin/x"])
    argv = ["/bin/sh", "-c", f"exec python3 srv.py # {words}"]
    environ = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    asked = request(tmp_path, cwd=str(workspace), workspace=True, confinedTo=str(workspace))
    layout = build(asked, argv, environ)
    leaked = [p for p in bound(layout) if p.startswith(str(home))]
    assert leaked == [], leaked
    assert any(f"a program: {other / 'x'} not shown" in line for line in layout.refused)
    own = build(request(tmp_path, cwd=str(workspace), workspace=True), argv, environ)
    assert bound(own).get(str(other.parent)) is False  # the user's own entry: its word


@pytest.mark.parametrize("named", ["absolute", "relative", "a link in it"])
def test_a_repositorys_cwd_outside_its_workspace_is_never_its_workspace(
    tmp_path: Path, named: str
) -> None:
    """A repository's entry naming another repository as its C{cwd} runs in
    its own workspace, and is shown nothing of the other (never writable:
    a planted C{.git/config} there runs code as the user)."""
    home, _ = world(tmp_path)
    other = home / "work" / "otherrepo"
    (other / ".git").mkdir(parents=True)
    workspace = tmp_path / "ws"
    cwd = {
        "absolute": str(other),
        "relative": str(workspace / ".." / "home" / "work" / "otherrepo"),
        "a link in it": str(workspace / "link"),
    }[named]
    (workspace / "link").symlink_to(other)
    fields = {"cwd": cwd, "workspace": True, "confinedTo": str(workspace)}
    layout = build(request(tmp_path, **fields), ["/usr/bin/node", "server.js"], {})
    assert layout.cwd == str(workspace)
    assert bound(layout).get(str(workspace)) is True
    assert not any(p == str(other) or p.startswith(f"{other}/") for p in bound(layout))
    assert any(
        "outside its workspace" in note and "it runs in its" in note for note in layout.notes
    )
    # The user's own entry runs where it says, as its workspace.
    own = build(request(tmp_path, cwd=str(other), workspace=True), ["/usr/bin/node"], {})
    assert own.cwd == str(other) and bound(own).get(str(other)) is True


def test_what_runs_code_outside_the_sandbox_is_never_written(tmp_path: Path) -> None:
    home = tree(tmp_path)
    site = tmp_path / "venv" / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    tools = tmp_path / "pnpm-home"
    tools.mkdir()
    places = Places(str(home), str(home / ".mcpgateway"), {})
    rule = PathRule(places, {"PNPM_HOME": str(tools), "PATH": f"{tmp_path / 'bin'}:/usr/bin"})
    for path in (
        home / ".bashrc",
        home / ".config" / "autostart",
        home / ".config" / "systemd" / "user",
        home / ".local" / "share" / "uv" / "tools",
        home / ".npm" / "_npx",
        tools,
        tmp_path / "bin",
        site,
        home / ".local",  # it holds ~/.local/bin
    ):
        assert rule.refusal(str(path), True, "allowWrite x") is not None, path
        assert rule.refusal(str(path), False, "allowRead x") is None or path == home / ".local"
    # The entry's own PNPM_HOME moves nothing the user runs.
    entry = PathRule(places, {"PNPM_HOME": str(tools)}, entryVariables=["PNPM_HOME"])
    assert entry.refusal(str(tools), True, "allowWrite x") is None
    assert rule.refusal(str(home / "work"), True, "allowWrite ~/work") is None


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from(["..", ".", "etc", ".config", ".local", "bin", "x", "", "home"]),
        max_size=6,
    ),
    writable=st.booleans(),
)
def test_no_path_that_holds_the_home_is_ever_allowed(parts: list[str], writable: bool) -> None:
    places = Places("/home/u", "/home/u/.mcpgateway", {})
    rule = PathRule(places, {})
    path = os.path.normpath("/" + "/".join(parts))
    if places.wide(path) or path.startswith("/home/u/.mcpgateway"):
        assert rule.refusal(path, writable, "an argument") is not None
    if writable and (path == "/" or path.startswith(("/etc", "/usr"))):
        assert rule.refusal(path, writable, "an argument") is not None


def test_a_repositorys_uvx_program_runs_from_the_gateways_install(tmp_path: Path) -> None:
    """A repository's C{uvx} entry, resolved, runs its program from the
    gateway's install of its package: that install is shown, read-only."""
    home = tree(tmp_path)
    install = home / ".mcpgateway" / "uvx" / "mcp-server-time-abc"
    program = install / "tools" / "mcp-server-time" / "bin" / "mcp-server-time"
    program.parent.mkdir(parents=True)
    program.write_text("#!/usr/bin/python3\n")
    program.chmod(0o755)
    (tmp_path / "ws").mkdir(exist_ok=True)
    fields = {"cwd": str(tmp_path / "ws"), "workspace": True, "confinedTo": str(tmp_path / "ws")}
    layout = build(request(tmp_path, **fields), [str(program)], {"PATH": "/usr/bin:/bin"})
    assert layout.reopened == [(str(install), False)] and layout.refused == []


def test_a_repository_checked_out_as_bin_is_not_shown_its_parent(tmp_path: Path) -> None:
    """A program in a folder named C{bin} brings the installation it is
    part of, its parent: for a repository cloned as C{~/work/bin}, that is
    every other repository of C{~/work}. What its program brings stays in
    its workspace."""
    home, _ = world(tmp_path)
    workspace = home / "work" / "bin"
    workspace.mkdir(parents=True)
    (home / "work" / "other").mkdir()
    (home / "work" / "other" / ".env").write_text("SECRET=1")
    server = workspace / "srv"
    server.write_text("#!/bin/sh\n")
    server.chmod(0o755)
    asked = request(tmp_path, cwd=str(workspace), workspace=True, confinedTo=str(workspace))
    layout = build(asked, [str(server)], {"HOME": str(home), "PATH": "/usr/bin:/bin"})
    leaked = [p for p in bound(layout) if under(p, str(home)) and not under(p, str(workspace))]
    assert leaked == [], leaked
    assert any(f"a program: {home / 'work'} not shown" in line for line in layout.refused)
    own = build(request(tmp_path, cwd=str(workspace), workspace=True), [str(server)], {})
    assert bound(own).get(str(home / "work")) is False  # the user's own entry: as before


def test_a_repositorys_script_is_not_shown_the_project_above_its_workspace(
    tmp_path: Path,
) -> None:
    """A repository vendored under a project of the user's (its nearest
    C{package.json} is that project's): the project is not shown."""
    home, _ = world(tmp_path)
    project = home / "work" / "mono"
    workspace = project / "vendor" / "evil"
    workspace.mkdir(parents=True)
    (project / "package.json").write_text("{}")
    (project / ".env").write_text("DB_PASSWORD=1")
    script = workspace / "srv.js"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    asked = request(tmp_path, cwd=str(workspace), workspace=True, confinedTo=str(workspace))
    layout = build(asked, [str(script)], {"HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert str(project) not in bound(layout)
    assert any(f"a program: {project} not shown" in line for line in layout.refused)


def test_a_repositorys_python_on_the_path_brings_no_editable_sources(tmp_path: Path) -> None:
    """The Python of the user's PATH is one of the user's programs, and its
    environment is shown; the development checkouts its editable installs
    name are not, for a repository's entry (the user's own entry gets
    them, as before)."""
    home, _ = world(tmp_path)
    venv = home / ".venvs" / "dev"
    binary = venv / "bin"
    binary.mkdir(parents=True)
    python = binary / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    checkout = home / "work" / "devproj"
    checkout.mkdir(parents=True)
    record = venv / "lib" / "python3.11" / "site-packages" / "devproj-0.1.dist-info"
    record.mkdir(parents=True)
    (record / "direct_url.json").write_text(
        f'{{"url": "file://{checkout}", "dir_info": {{"editable": true}}}}'
    )
    workspace = tmp_path / "ws"
    environ = {"HOME": str(home), "PATH": f"{binary}:/usr/bin:/bin"}
    asked = request(tmp_path, cwd=str(workspace), workspace=True, confinedTo=str(workspace))
    layout = build(asked, [str(python), "srv.py"], environ)
    assert bound(layout).get(str(venv)) is False  # the user's installed program
    assert str(checkout) not in bound(layout)
    assert any(f"a program: {checkout} not shown" in line for line in layout.refused)
    own = build(request(tmp_path, cwd=str(workspace), workspace=True), [str(python)], environ)
    assert bound(own).get(str(checkout)) is False

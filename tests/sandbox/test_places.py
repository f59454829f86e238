"""The path facts a layout rests on: how a path resolves when the child may
have left symlinks on its way, what the system shows, and what a program
run through a version manager's shim needs."""

from __future__ import annotations

import json
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpgateway.sandbox import defaults
from mcpgateway.sandbox.layout import build
from mcpgateway.sandbox.places import (
    Places,
    editableSource,
    editableSources,
    managerRoots,
    programRoots,
)
from tests.support.sandbox.layout import bound, request, tree


def places(tmp: Path, environ: dict[str, str] | None = None) -> Places:
    return Places(str(tmp / "home"), str(tmp / "home" / ".mcpgateway"), environ or {})


def test_a_symlink_the_child_may_have_made_is_followed_only_to_what_every_child_sees(
    tmp_path: Path,
) -> None:
    home = tree(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret").symlink_to(home / ".bashrc")
    (data / "system").symlink_to("/usr/bin")
    (data / "loop").symlink_to(data / "loop")
    found = places(tmp_path)
    assert found.resolve(str(data / "secret")) == str(home / ".bashrc")  # nothing writable yet
    found.writableRoots = [str(data)]
    assert found.follow(str(data / "secret")) == (str(home / ".bashrc"), False)
    assert found.resolve(str(data / "secret")) is None
    assert found.resolve(str(data / "system" / "env")) == os.path.realpath("/usr/bin/env")
    assert found.resolve(str(data / "system"), writing=True) is None
    assert found.resolve(str(data / "loop")) is None
    assert found.resolve(str(data / "missing" / "x")) == str(data / "missing" / "x")


def test_a_symlink_on_the_way_to_a_writable_place_is_followed_when_it_is_the_users(
    tmp_path: Path,
) -> None:
    tree(tmp_path)
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")  # relative, as users make them
    found = places(tmp_path)
    found.writableRoots = [str(tmp_path / "real")]
    assert found.follow(str(tmp_path / "link" / "x" / ".." / "y")) == (
        str(tmp_path / "real" / "y"),
        True,
    )


def test_the_childs_own_temporary_directories_show_nothing_of_the_systems(tmp_path: Path) -> None:
    found = places(tmp_path)
    assert found.visible("/usr/lib") and found.visible("/var/lib")
    assert not found.visible("/var/tmp/x") and not found.visible("/tmp/x")
    assert not found.visible("/var/log/x")  # shown empty
    assert found.system("/var/log/x") and found.system("/") and found.system("/proc/1")
    assert not found.system(str(tmp_path))


def pyenv(root: Path, version: str = "3.12.1") -> Path:
    """A pyenv tree: its shim runs C{libexec/pyenv}, which reads the
    version file and runs that version's program."""
    (root / "shims").mkdir(parents=True)
    (root / "libexec").mkdir()
    (root / "versions" / version / "bin").mkdir(parents=True)
    (root / "version").write_text(version + "\n")
    shim = root / "shims" / "python3"
    shim.write_text(f'#!/bin/sh\nexec "{root}/libexec/pyenv" exec python3 "$@"\n')
    shim.chmod(0o755)
    (root / "libexec" / "pyenv").write_text("#!/bin/sh\n")
    (root / "versions" / version / "bin" / "python3").write_bytes(b"\x7fELF")
    return shim


def test_a_shim_brings_its_version_managers_whole_tree(tmp_path: Path) -> None:
    home = tree(tmp_path)
    shim = pyenv(home / ".pyenv")
    work = tmp_path / "work" / "deep"
    work.mkdir(parents=True)
    (tmp_path / "work" / ".python-version").write_text("3.12.1\n")
    roots = programRoots(places(tmp_path), str(shim), {}, str(work))
    assert str(home / ".pyenv") in roots  # its libexec, its versions, its version file
    assert str(tmp_path / "work" / ".python-version") in roots  # the nearest local one
    layout = build(request(tmp_path, command="python3"), [str(shim), "-V"], {})
    assert bound(layout) == {str(home / ".pyenv"): False}


def test_a_manager_is_found_where_its_variable_says_and_any_shims_parent_is_one(
    tmp_path: Path,
) -> None:
    tree(tmp_path)
    moved = tmp_path / "tools" / "pyenv"
    pyenv(moved)
    assert [root for root, _ in managerRoots(places(tmp_path), {"PYENV_ROOT": str(moved)})] == [
        str(moved)
    ]
    other = tmp_path / "other-manager"
    (other / "shims").mkdir(parents=True)
    (other / "shims" / "node").write_bytes(b"\x7fELF")
    assert str(other) in programRoots(places(tmp_path), str(other / "shims/node"), {}, "/")


def test_a_script_whose_interpreter_is_a_shim_brings_the_managers_tree(tmp_path: Path) -> None:
    home = tree(tmp_path)
    shim = pyenv(home / ".pyenv")
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "server").write_text("#!/usr/bin/env python3\n")
    environ = {"PATH": f"{shim.parent}:/usr/bin"}
    layout = build(request(tmp_path), [str(tools / "server")], environ)
    assert bound(layout) == {str(tools): False, str(home / ".pyenv"): False}


def test_asdf_reads_its_global_versions_beside_its_tree(tmp_path: Path) -> None:
    home = tree(tmp_path)
    (home / ".asdf" / "shims").mkdir(parents=True)
    (home / ".asdf" / "shims" / "node").write_text("#!/bin/sh\n")
    (home / ".tool-versions").write_text("nodejs 22.1.0\n")
    roots = programRoots(places(tmp_path), str(home / ".asdf/shims/node"), {}, str(home))
    assert str(home / ".asdf") in roots and str(home / ".tool-versions") in roots
    assert [m.root for m in defaults.MANAGERS][:2] == ["~/.pyenv", "~/.nodenv"]


def test_a_homebrew_program_sees_its_prefixs_programs_not_its_services_data(
    tmp_path: Path,
) -> None:
    home = tree(tmp_path)
    brew = home / ".linuxbrew"
    for part in ("bin", "lib", "opt", "Cellar/node/22.1.0/bin", "etc", "var/postgresql@16"):
        (brew / part).mkdir(parents=True)
    (brew / "Cellar/node/22.1.0/bin/node").write_bytes(b"\x7fELF")
    (brew / "bin" / "node").symlink_to(brew / "Cellar/node/22.1.0/bin/node")
    layout = build(request(tmp_path, command="node"), [str(brew / "bin/node")], {})
    assert bound(layout) == {str(brew / part): False for part in ("bin", "lib", "opt", "Cellar")}


def editable(packages: Path, name: str, record: bytes) -> None:
    """An installed distribution C{name} whose C{direct_url.json} is C{record}."""
    info = packages / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "direct_url.json").write_bytes(record)


def test_a_python_environments_editable_installs_bring_their_sources(tmp_path: Path) -> None:
    """C{pip install -e} leaves the code where it was: the child imports it
    from there, so that folder is shown (read-only), as named by the
    install's C{direct_url.json}; no other install's URL is."""
    home = tree(tmp_path)
    venv = tmp_path / "proj" / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python3").write_bytes(b"\x7fELF")
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    packages = venv / "lib" / "python3.11" / "site-packages"
    source = tmp_path / "my server" / "src"
    source.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    url = "file://" + str(source).replace(" ", "%20")
    editable(packages, "myserver", b'{"url": "%s", "dir_info": {"editable": true}}' % url.encode())
    editable(packages, "built", b'{"url": "file://%s", "dir_info": {}}' % str(elsewhere).encode())
    editable(packages, "wheel", b'{"url": "https://x.test/a.whl", "archive_info": {}}')
    editable(
        packages,
        "homewide",
        b'{"url": "file://%s", "dir_info": {"editable": true}}' % str(home).encode(),
    )
    editable(packages, "gone", b'{"url": "file:///nowhere/at/all", "dir_info": {"editable": true}}')
    editable(
        packages,
        "remote",
        b'{"url": "file://host/%s", "dir_info": {"editable": true}}' % str(elsewhere).encode(),
    )
    editable(
        packages,
        "broken",
        b'{"url": "file://%s", "dir_info": {"editable": tru' % str(elsewhere).encode(),
    )
    roots = programRoots(places(tmp_path), str(venv / "bin" / "python3"), {}, str(home))
    assert str(source) in roots
    layout = build(
        request(tmp_path, command="python3"), [str(venv / "bin" / "python3"), "-m", "myserver"], {}
    )
    assert bound(layout) == {str(venv): False, str(source): False}


@given(
    st.binary(max_size=300)
    | st.builds(
        json.dumps,
        st.recursive(
            st.none() | st.booleans() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(["url", "dir_info", "editable"]) | st.text(max_size=5),
                    inner,
                    max_size=3,
                )
            ),
            max_leaves=8,
        ),
    ).map(str.encode)
)
@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_direct_url_record_gives_an_absolute_folder_or_nothing(
    tmp_path: Path, record: bytes
) -> None:
    path = tmp_path / "direct_url.json"
    path.write_bytes(record)
    found = editableSource(str(path))
    assert found is None or found.startswith("/")


def test_an_editable_record_the_child_may_write_shows_nothing(tmp_path: Path) -> None:
    """A virtual environment inside a folder the child may write (its
    workspace) holds records the child could have written: one naming
    another folder does not bring it into the next start's view."""
    home = tree(tmp_path)
    workspace = home / "work"
    venv = workspace / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python3").write_bytes(b"\x7fELF")
    secret = tmp_path / "elsewhere"
    secret.mkdir()
    editable(
        venv / "lib" / "python3.11" / "site-packages",
        "planted",
        b'{"url": "file://%s", "dir_info": {"editable": true}}' % str(secret).encode(),
    )
    shown = places(tmp_path)
    assert str(secret) in editableSources(shown, str(venv / "bin" / "python3"))
    shown.writableRoots = [str(workspace)]
    assert editableSources(shown, str(venv / "bin" / "python3")) == []

"""The one path rule, for real: a hostile entry names the system, the home,
the shared temporary directory, C{~/.config} and C{~/.local/bin} (and a
symlink to each) through every source of a bind at once (its arguments,
data variables, a launcher's cache variable, C{allowWrite}), and the
confined child tries to plant a file in each. Under both mechanisms, as
root and as an ordinary user: nothing lands on the host, the child still
runs, and its start-up says what was kept from it."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpgateway.sandbox import seccomp
from tests.integration.sandboxkit import (
    Account,
    accountOrSkip,
    launcherBase,
    launcherPython,
    launcherRequest,
    runLauncher,
)

pytestmark = pytest.mark.integration

PLANT = """
import json, os, sys
out = {}
for place in json.loads(os.environ["PLACES"]):
    try:
        with open(os.path.join(place, os.environ["NAME"]), "w") as f:
            f.write("planted")
        out[place] = "written"
    except OSError as e:
        out[place] = e.strerror
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    made = accountOrSkip()
    yield made
    made.remove()


def hostile(base: Path) -> list[Path]:
    """The places a hostile entry names, and a symlink to each."""
    home = base / "home"
    for folder in (".config/autostart", ".local/bin"):
        (home / folder).mkdir(parents=True)
    places = [Path("/etc"), home, Path("/tmp"), home / ".config", home / ".local" / "bin"]
    links = base / "links"
    links.mkdir()
    for index, target in enumerate(list(places)):
        (links / f"to{index}").symlink_to(target)
        places.append(links / f"to{index}")
    return places


@pytest.mark.parametrize("user", ["root", "user"])
@pytest.mark.parametrize("mechanism", ["bwrap", "landlock"])
def test_no_source_of_a_bind_lets_a_child_write_a_hostile_place(
    mechanism: str, user: str, request: pytest.FixtureRequest
) -> None:
    if seccomp.library() is None:
        pytest.skip("libseccomp is not installed here (the libseccomp2 package)")
    owner: Account | None = request.getfixturevalue("account") if user == "user" else None
    python = launcherPython(owner)
    base = launcherBase(owner)
    name = "planted-" + secrets.token_hex(6)
    places = hostile(base)
    if owner is not None:
        owner.own(base)
    named = [str(p) for p in places]
    try:
        asked = launcherRequest(
            mechanism,
            base,
            python,
            command="poetry",  # its cache variable is one more source
            profile={"filesystem": {"allowWrite": named}},
            entryEnv=[f"X{i}_DATA_DIR" for i in range(len(named))] + ["POETRY_CACHE_DIR"],
        )
        env = {f"X{i}_DATA_DIR": path for i, path in enumerate(named)}
        env.update(POETRY_CACHE_DIR="/etc", PLACES=json.dumps(named), NAME=name)
        done = runLauncher(asked, [python, "-I", "-S", "-c", PLANT, *named], env, owner, python)
        assert done.returncode == 0, done.stderr
        tried = json.loads(done.stdout)
        assert set(tried) == set(named)
        landed = [str(p) for p in places if (p.resolve() / name).exists()]
        assert landed == [], (landed, tried)
        said = [line for line in done.stderr.splitlines() if "not shown: " in line]
        assert any("/etc not shown writable: the system's" in line for line in said), said
        assert any(f"{base / 'home'} not shown" in line for line in said), said
    finally:
        for place in places:
            planted = place.resolve() / name
            if planted.exists():
                planted.unlink()
        shutil.rmtree(base, ignore_errors=True)
        assert not os.path.exists(f"/etc/{name}")


@pytest.mark.parametrize("mechanism", ["bwrap", "landlock"])
def test_a_repositorys_cwd_in_another_repository_plants_nothing_there(mechanism: str) -> None:
    """A repository's entry naming another of the user's repositories as
    its C{cwd}: the child runs in its own workspace, writes there, and
    reaches nothing of the other (a C{.git/config} planted there would run
    code at the user's next C{git status})."""
    if seccomp.library() is None:
        pytest.skip("libseccomp is not installed here (the libseccomp2 package)")
    python = launcherPython(None)
    base = launcherBase(None)
    other = base / "home" / "work" / "otherrepo"
    (other / ".git").mkdir(parents=True)
    (base / "ws" / "notes").mkdir(parents=True, exist_ok=True)
    try:
        asked = launcherRequest(
            mechanism, base, python, cwd=str(other), workspace=True, confinedTo=str(base / "ws")
        )
        # Under Landlock the workspace's top level takes no new entry (no .git can be
        # made there): its folders take them.
        probe = (
            "pwd; (echo fsmonitor > .git/config) 2>/dev/null && echo wrote-here;"
            ' (echo fsmonitor > "$OTHER/.git/config") 2>/dev/null && echo wrote-there;'
            " echo mine > notes/mine"
        )
        done = runLauncher(asked, ["/bin/sh", "-c", probe], {"OTHER": str(other)}, None, python)
        assert done.returncode == 0, done.stderr
        said = done.stdout.split()
        assert said[0] == str((base / "ws").resolve()), done.stdout
        assert "wrote-there" not in said and not (other / ".git" / "config").exists()
        assert (base / "ws" / "notes" / "mine").read_text() == "mine\n"
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("mechanism", ["bwrap", "landlock"])
def test_a_repositorys_shebang_shows_its_child_nothing_of_the_home(mechanism: str) -> None:
    """A repository's script names a file whose C{#!} line points at the
    user's Documents: the child reads nothing there."""
    if seccomp.library() is None:
        pytest.skip("libseccomp is not installed here (the libseccomp2 package)")
    python = launcherPython(None)
    base = launcherBase(None)
    secret = base / "home" / "Documents" / "tax"
    secret.mkdir(parents=True)
    (secret / "return.txt").write_text("TAX-SECRET")
    workspace = base / "ws"
    workspace.mkdir(exist_ok=True)
    (workspace / "tool").write_text(f"#!{secret / 'return.txt'}\n")
    (workspace / "tool").chmod(0o755)
    try:
        asked = launcherRequest(mechanism, base, python, workspace=True, confinedTo=str(workspace))
        script = f"cat {secret / 'return.txt'}; echo ran # {workspace / 'tool'}"
        done = runLauncher(asked, ["/bin/sh", "-c", script], {}, None, python)
        assert "ran" in done.stdout, done.stderr  # the child ran
        assert "TAX-SECRET" not in done.stdout, done.stdout
    finally:
        shutil.rmtree(base, ignore_errors=True)

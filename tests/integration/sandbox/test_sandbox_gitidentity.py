"""A confined child's git commits as the user, for real: the user's global
git configuration names her, and holds what no child may see (a token in a
URL rewrite, a hooks path); the child's git finds her name and address,
nothing else of that file (under bubblewrap in its own home's
C{.gitconfig}, where libraries that read it themselves look), and a
repository's own identity still wins.
Under both mechanisms, as root and as an ordinary user, with the system's
git."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.integration.sandboxkit import (
    Account,
    accountOrSkip,
    launcherBase,
    launcherPython,
    launcherRequest,
    runLauncher,
)

pytestmark = pytest.mark.integration

GLOBAL = """[user]
\tname = Ada \\"the Countess\\" Lovelace
\temail = ada@example.org
[url "https://tok-9f3e1c@example.org/"]
\tinsteadOf = https://example.org/
[core]
\thooksPath = /tmp/planted-hooks
"""

COMMIT = """
import json, os, subprocess
def git(*args):
    return subprocess.run(["git", *args], capture_output=True, text=True)
out = {"global": git("config", "--global", "--list").stdout}
out["set"] = git("config", "--global", "init.defaultBranch", "main").returncode  # its own copy
home = os.path.expanduser("~/.gitconfig")  # where GitPython and dulwich read it
try:
    out["home"] = open(home).read()
except OSError:  # not shown (Landlock)
    out["home"] = None
for repo in ("mine", "theirs"):
    git("-C", repo, "commit", "-q", "--allow-empty", "-m", "from the child")
    out[repo] = git("-C", repo, "log", "-1", "--format=%an <%ae>").stdout.strip()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    made = accountOrSkip()
    yield made
    made.remove()


@pytest.mark.parametrize("kept", ["home", "xdg"])
@pytest.mark.parametrize("user", ["root", "user"])
@pytest.mark.parametrize("mechanism", ["bwrap", "landlock"])
def test_a_confined_childs_git_commits_as_the_user_and_sees_nothing_else(
    mechanism: str, user: str, kept: str, request: pytest.FixtureRequest
) -> None:
    """C{kept}: the user's configuration is her C{~/.gitconfig}, or the
    C{git/config} of the C{XDG_CONFIG_HOME} the gateway runs with."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed (.ci/run installs it)")
    owner: Account | None = request.getfixturevalue("account") if user == "user" else None
    python = launcherPython(owner)
    base = launcherBase(owner)
    try:
        if kept == "home":
            (base / "home" / ".gitconfig").write_text(GLOBAL)
        else:
            (base / "cfg" / "git").mkdir(parents=True)
            (base / "cfg" / "git" / "config").write_text(GLOBAL)
        ws = base / "ws"
        for repo in ("mine", "theirs"):
            subprocess.run(["git", "init", "-q", str(ws / repo)], check=True)
        theirs = ["git", "-C", str(ws / "theirs"), "config"]
        subprocess.run([*theirs, "user.name", "Their Bot"], check=True)
        subprocess.run([*theirs, "user.email", "bot@example.com"], check=True)
        if owner is not None:
            owner.own(base)
        asked = launcherRequest(mechanism, base, python, workspace=True, cwd=str(ws))
        asked["interpreterPaths"] = [os.path.dirname(python), sys.base_prefix]
        if kept == "xdg":
            asked["configHome"] = str(base / "cfg")
        done = runLauncher(asked, [python, "-I", "-S", "-c", COMMIT], {}, owner, python)
        assert done.returncode == 0, done.stderr
        seen = json.loads(done.stdout)
        assert seen["mine"] == 'Ada "the Countess" Lovelace <ada@example.org>', seen
        assert seen["theirs"] == "Their Bot <bot@example.com>", seen  # the repository's own wins
        assert "tok-9f3e1c" not in seen["global"] and "hookspath" not in seen["global"], seen
        assert "user.email=ada@example.org" in seen["global"], seen
        assert seen["set"] == 0, seen  # a server that sets its global git config at start
        mine = base / "home" / ".gitconfig" if kept == "home" else base / "cfg" / "git" / "config"
        assert "defaultBranch" not in mine.read_text()  # not yours
        if mechanism == "bwrap":  # the child's own home: the libraries find it there too
            assert seen["home"] is not None and "ada@example.org" in seen["home"], seen
            assert "tok-9f3e1c" not in seen["home"], seen
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("mechanism", ["bwrap", "landlock"])
def test_a_git_the_childs_path_names_first_never_runs_unconfined(mechanism: str) -> None:
    """A repository's entry puts a C{git} of its own first on its child's
    C{PATH}: the identity is read with the gateway's git, so that one runs,
    if ever, inside the sandbox, where the state directory is not shown."""
    base = launcherBase(None)
    try:
        (base / "home" / ".gitconfig").write_text("[user]\n\tname = Ada\n")
        planted = base / "ws" / "bin" / "git"
        planted.parent.mkdir()
        marker = base / "state" / "RAN-UNCONFINED"
        planted.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
        planted.chmod(0o755)
        python = launcherPython(None)
        asked = launcherRequest(mechanism, base, python, workspace=True, cwd=str(base / "ws"))
        asked["interpreterPaths"] = [os.path.dirname(python), sys.base_prefix]
        path = f"{planted.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        argv = [python, "-I", "-S", "-c", "import os; print(os.environ['GIT_CONFIG_GLOBAL'])"]
        done = runLauncher(asked, argv, {"PATH": path}, None, python)
        assert not marker.exists()  # the planted git never ran outside
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip(), done.stdout  # given an identity, by the gateway's git
    finally:
        shutil.rmtree(base, ignore_errors=True)

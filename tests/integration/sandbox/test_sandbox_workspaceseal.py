"""A repository's confined child writes its workspace but never its git
repositories nor the clients' settings there, for real: it tries to set
C{core.fsmonitor} (which the user's next C{git status} would run, outside
any sandbox), to add a hook, and, in a workspace that is no repository yet,
to make one; to write Claude Code's hooks into C{.claude/settings.json}
(made when missing), a task into C{.vscode/tasks.json}, servers into a new
C{.mcp.json} and C{.cursor/mcp.json}, and any new file at the top; every
try fails, nothing is left behind, its other writes land in place, and
the user's git then runs nothing it planted. Under both mechanisms, as
root and as an ordinary user, and through a symbolic link to the
workspace. And the other place a write would go where the user never
finds it: a server given the home writes nothing into the empty home it
sees instead."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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

PLANT = """
import json, os
out = {}
def attempt(what, write):
    try:
        write()
        out[what] = "written"
    except OSError as e:
        out[what] = e.strerror
def append(path, text):
    with open(path, "a") as f:
        f.write(text)
def hook():
    with open(".git/hooks/post-checkout", "w") as f:
        f.write("#!/bin/sh\\ntouch HOOK-RAN\\n")
    os.chmod(".git/hooks/post-checkout", 0o755)
MONITOR = "[core]\\n\\tfsmonitor = touch FSMONITOR-RAN\\n"
def init():
    os.makedirs(".git/hooks")
    with open(".git/config", "w") as f:
        f.write(MONITOR)
if os.path.isdir(".git/hooks"):
    attempt("config", lambda: append(".git/config", MONITOR))
    attempt("hook", hook)
else:
    attempt("init", init)
def claude():
    os.makedirs(".claude", exist_ok=True)
    with open(".claude/settings.json", "w") as f:
        f.write('{"hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": "id"}]}]}}')
def tasks():
    with open(".vscode/tasks.json", "w") as f:
        f.write('{"version": "2.0.0", "tasks": []}')
def made(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
attempt("claude", claude)
if os.path.isdir(".vscode"):
    attempt("tasks", tasks)
else:
    attempt("tasks", lambda: made(".vscode/tasks.json", '{"version": "2.0.0", "tasks": []}'))
attempt("mcpjson", lambda: made(".mcp.json", '{"mcpServers": {"x": {"command": "id"}}}'))
attempt("cursor", lambda: made(".cursor/mcp.json", '{"mcpServers": {"x": {"command": "id"}}}'))
attempt("top", lambda: made("new-at-top.txt", "new"))
attempt("ordinary", lambda: append("README.md", "more\\n"))
attempt("folder", lambda: append("src/notes.txt", "noted\\n"))
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    made = accountOrSkip()
    yield made
    made.remove()


def workspace(base: Path, repository: bool) -> Path:
    ws = base / "ws"
    (ws / "src").mkdir(parents=True, exist_ok=True)
    (ws / "README.md").write_text("hello\n")
    if repository:  # a checkout its user opened in Claude Code and VS Code
        subprocess.run(["git", "init", "-q", str(ws)], check=True)
        (ws / ".claude").mkdir()
        (ws / ".claude" / "settings.local.json").write_text("{}\n")
        (ws / ".vscode").mkdir()
    return ws


@pytest.mark.parametrize("user", ["root", "user"])
@pytest.mark.parametrize("mechanism", ["bwrap", "landlock"])
@pytest.mark.parametrize("repository", [True, False], ids=["checkout", "no-git"])
def test_a_repositorys_child_plants_nothing_the_users_git_runs(
    mechanism: str, user: str, repository: bool, request: pytest.FixtureRequest
) -> None:
    owner: Account | None = request.getfixturevalue("account") if user == "user" else None
    python = launcherPython(owner)
    base = launcherBase(owner)
    try:
        ws = workspace(base, repository)
        if owner is not None:
            owner.own(base)
        asked = launcherRequest(
            mechanism, base, python, workspace=True, confinedTo=str(ws), cwd=str(ws)
        )
        # The gateway's own Python, which the gateway names as one of the user's programs.
        asked["interpreterPaths"] = [os.path.dirname(python), sys.base_prefix]
        done = runLauncher(asked, [python, "-I", "-S", "-c", PLANT], {}, owner, python)
        assert done.returncode == 0, done.stderr
        tried = json.loads(done.stdout)
        if repository:
            assert tried["config"] != "written" and tried["hook"] != "written", tried
            assert "fsmonitor" not in (ws / ".git" / "config").read_text()
            assert not (ws / ".git" / "hooks" / "post-checkout").exists()
            assert (ws / ".claude" / "settings.local.json").read_text() == "{}\n"
        else:
            assert tried["init"] != "written", tried
            # Nothing stood in for what the workspace lacks: nothing is left behind.
            assert not (ws / ".git").exists() and not (ws / ".claude").exists()
            assert not (ws / ".vscode").exists()
        for what in ("claude", "tasks", "mcpjson", "cursor", "top"):
            assert tried[what] != "written", tried
        assert not (ws / ".claude" / "settings.json").exists()
        assert not (ws / ".vscode" / "tasks.json").exists()
        assert not (ws / ".mcp.json").exists() and not (ws / ".cursor").exists()
        assert not (ws / "new-at-top.txt").exists()
        assert tried["ordinary"] == tried["folder"] == "written", tried
        assert (ws / "src" / "notes.txt").read_text() == "noted\n"
        # The user's git, outside the sandbox, runs nothing the child planted.
        subprocess.run(["git", "-C", str(ws), "status"], capture_output=True, timeout=30)
        assert not (ws / "FSMONITOR-RAN").exists() and not (ws / "HOOK-RAN").exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)


WRITE_HOME = """
import json, os, sys
try:
    with open(os.path.join(sys.argv[1], "todo.md"), "w") as f:
        f.write("buy milk")
    print(json.dumps("written"))
except OSError as e:
    print(json.dumps(e.strerror))
"""


@pytest.mark.parametrize("user", ["root", "user"])
@pytest.mark.parametrize("mechanism", ["bwrap", "landlock"])
def test_a_server_given_the_home_cannot_write_what_would_be_lost(
    mechanism: str, user: str, request: pytest.FixtureRequest
) -> None:
    """C{server-filesystem ~}: the home is never shown, so the child's own
    empty home stands there; a write into it is refused (read-only), where
    it used to succeed into a folder gone when the child ends."""
    owner: Account | None = request.getfixturevalue("account") if user == "user" else None
    python = launcherPython(owner)
    base = launcherBase(owner)
    try:
        home = base / "home"
        asked = launcherRequest(mechanism, base, python)
        asked["interpreterPaths"] = [os.path.dirname(python), sys.base_prefix]
        argv = [python, "-I", "-S", "-c", WRITE_HOME, str(home)]
        done = runLauncher(asked, argv, {}, owner, python)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) != "written"
        assert not (home / "todo.md").exists()
        assert f"an argument: {home} not shown" in done.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)


REPLACE_LINK = """
import json, os
out = {}
def attempt(what, write):
    try:
        write()
        out[what] = "written"
    except OSError as e:
        out[what] = e.strerror
def through():
    with open(".claude/settings.json", "w") as f:
        f.write('{"hooks": {}}')
def replace():
    os.unlink(".claude")
    os.mkdir(".claude")
    with open(".claude/settings.json", "w") as f:
        f.write('{"hooks": {}}')
attempt("through", through)
attempt("replace", replace)
print(json.dumps(out))
"""


@pytest.mark.parametrize("mechanism", ["bwrap", "landlock"])
def test_a_linked_claude_is_neither_written_through_nor_replaced(mechanism: str) -> None:
    """The repository's C{.claude} is a link into the workspace: no bind can
    keep a link, so the whole workspace is read-only to its server."""
    python = launcherPython(None)
    base = launcherBase(None)
    try:
        ws = workspace(base, True)
        shutil.rmtree(ws / ".claude")
        (ws / "conf").mkdir()
        (ws / ".claude").symlink_to("conf")
        asked = launcherRequest(
            mechanism, base, python, workspace=True, confinedTo=str(ws), cwd=str(ws)
        )
        asked["interpreterPaths"] = [os.path.dirname(python), sys.base_prefix]
        done = runLauncher(asked, [python, "-I", "-S", "-c", REPLACE_LINK], {}, None, python)
        assert done.returncode == 0, done.stderr
        tried = json.loads(done.stdout)
        assert tried["through"] != "written" and tried["replace"] != "written", tried
        assert (ws / ".claude").is_symlink()
        assert not (ws / "conf" / "settings.json").exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("mechanism", ["bwrap", "landlock"])
def test_a_workspace_reached_by_a_link_is_sealed_at_that_name_too(mechanism: str) -> None:
    """The entry's C{cwd} names the checkout through a symbolic link (a
    C{~/code} linked to another disk): what the child writes through that
    name meets the same seals as at the checkout's real path."""
    python = launcherPython(None)
    base = launcherBase(None)
    try:
        ws = workspace(base, True)
        home = base / "home"
        home.mkdir(exist_ok=True)
        link = home / "code"
        link.symlink_to(ws)
        asked = launcherRequest(
            mechanism, base, python, workspace=True, confinedTo=str(ws), cwd=str(link)
        )
        asked["interpreterPaths"] = [os.path.dirname(python), sys.base_prefix]
        done = runLauncher(asked, [python, "-I", "-S", "-c", PLANT], {}, None, python)
        assert done.returncode == 0, done.stderr
        tried = json.loads(done.stdout)
        assert tried["config"] != "written" and tried["hook"] != "written", tried
        assert "fsmonitor" not in (ws / ".git" / "config").read_text()
        for what in ("claude", "tasks", "mcpjson", "cursor", "top"):
            assert tried[what] != "written", tried
        assert not (ws / ".mcp.json").exists() and not (ws / "new-at-top.txt").exists()
        assert tried["ordinary"] == tried["folder"] == "written", tried
    finally:
        shutil.rmtree(base, ignore_errors=True)

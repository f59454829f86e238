"""A confined child gets the user's git identity and nothing else of her
git configuration: C{user.name} and C{user.email} read by git from her
global configuration, written into a configuration of the child's own
that C{GIT_CONFIG_GLOBAL} names (git itself is faked here; the sandboxes'
integration tests run the real one)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.sandbox import gitidentity
from mcpgateway.sandbox.bwrap import command
from mcpgateway.sandbox.gitidentity import (
    IN_BUBBLEWRAP,
    VARIABLE,
    configText,
    forBubblewrap,
    forOwnFolder,
    userIdentity,
)
from mcpgateway.sandbox.layout import build
from tests.support.sandbox.layout import request, tree


class FakeGit:
    """What C{git config --global --null --get-regexp} prints, and the calls."""

    def __init__(self, printed: bytes, status: int = 0, raises: Exception | None = None) -> None:
        self.printed, self.status, self.raises = printed, status, raises
        self.calls: list[tuple[list[str], dict[str, Any]]] = []

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        self.calls.append((argv, kwargs))
        if self.raises is not None:
            raise self.raises
        return subprocess.CompletedProcess(argv, self.status, self.printed, b"")


def gitOnPath(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has a C{git} (never run: the runner is faked)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    git = folder / "git"
    git.write_text("#!/bin/sh\nexit 1\n")
    git.chmod(0o755)
    return {"PATH": str(folder), "HOME": str(tmp_path / "home")}


def test_the_name_and_address_are_read_from_the_users_global_configuration(
    tmp_path: Path,
) -> None:
    env = {**gitOnPath(tmp_path), "API_TOKEN": "tok-never-passed"}
    git = FakeGit(b"user.name\nAda Lovelace\0user.email\nada@example.org\0")
    assert userIdentity(env, git) == {"user.name": "Ada Lovelace", "user.email": "ada@example.org"}
    [(argv, kwargs)] = git.calls
    assert argv[1:4] == ["config", "--global", "--null"]
    # Nothing else of the child's environment reaches git.
    assert kwargs["env"] == {"HOME": env["HOME"], "PATH": env["PATH"]}
    assert kwargs["timeout"] == gitidentity.WAIT


def test_no_git_no_identity_or_a_failing_git_give_nothing(tmp_path: Path) -> None:
    assert userIdentity({"PATH": str(tmp_path), "HOME": str(tmp_path)}, FakeGit(b"")) == {}
    env = gitOnPath(tmp_path)
    assert userIdentity(env, FakeGit(b"", status=1)) == {}  # neither is set
    timedOut = FakeGit(b"", raises=subprocess.TimeoutExpired(["git"], 5))
    assert userIdentity(env, timedOut) == {}
    assert userIdentity(env, FakeGit(b"", raises=OSError("gone"))) == {}
    other = FakeGit(b"user.signingkey\nABC\0user.name\nAda\0")
    assert userIdentity(env, other) == {"user.name": "Ada"}


def test_the_configuration_holds_the_user_section_alone() -> None:
    assert configText({"user.name": "Ada", "user.email": "ada@example.org"}) == (
        '[user]\n\tname = "Ada"\n\temail = "ada@example.org"\n'
    )
    assert configText({"user.email": "a@b"}) == '[user]\n\temail = "a@b"\n'


@given(st.dictionaries(st.sampled_from(gitidentity.KEYS), st.text(max_size=40), min_size=1))
def test_no_value_starts_another_key_or_section(identity: dict[str, str]) -> None:
    lines = configText(identity).split("\n")[:-1]  # git ends a line at a newline only
    assert lines[0] == "[user]" and len(lines) == 1 + len(identity)
    for line in lines[1:]:
        key, _, quoted = line.strip("\t").partition(" = ")
        assert f"user.{key}" in identity
        assert quoted.startswith('"') and quoted.endswith('"')
        inner = quoted[1:-1].replace("\\\\", "").replace('\\"', "")
        assert '"' not in inner  # every quote inside is escaped


def test_landlock_writes_it_into_the_childs_own_folder(tmp_path: Path, monkeypatch: Any) -> None:
    env = gitOnPath(tmp_path)
    own = tmp_path / "own"
    own.mkdir()
    original = gitidentity.userIdentity
    monkeypatch.setattr(
        gitidentity, "userIdentity", lambda env: original(env, FakeGit(b"user.name\nAda\0"))
    )
    forOwnFolder(env, str(own))
    path = Path(env[VARIABLE])
    assert path.parent == own
    assert path.read_text() == '[user]\n\tname = "Ada"\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_entry_naming_its_own_global_configuration_keeps_it(tmp_path: Path) -> None:
    env = {**gitOnPath(tmp_path), VARIABLE: "/srv/gitconfig"}
    forOwnFolder(env, str(tmp_path))
    assert env[VARIABLE] == "/srv/gitconfig"
    assert forBubblewrap(env) == []
    assert os.listdir(tmp_path) == ["bin"]


def test_bubblewrap_copies_it_onto_the_sandboxs_own_root(tmp_path: Path, monkeypatch: Any) -> None:
    env = gitOnPath(tmp_path)
    monkeypatch.setattr(gitidentity, "userIdentity", lambda env: {"user.email": "ada@example.org"})
    words = forBubblewrap(env)
    assert words[:3] == ["--perms", "0444", "--ro-bind-data"] and words[4] == IN_BUBBLEWRAP
    fd = int(words[3])
    try:
        assert os.get_inheritable(fd)
        assert os.read(fd, 1000) == b'[user]\n\temail = "ada@example.org"\n'
    finally:
        os.close(fd)
    assert env[VARIABLE] == IN_BUBBLEWRAP
    layout = build(request(tmp_path), ["/bin/true"], {"HOME": str(tree(tmp_path))})
    argv = command("/usr/bin/bwrap", layout, ["/bin/true"], False, more=words)
    assert argv[argv.index("--") - 5 : argv.index("--")] == words  # after every mount
    del env[VARIABLE]
    inHome = forBubblewrap(env, "/home/ada")  # its own empty home: its .gitconfig there
    os.close(int(inHome[3]))
    assert inHome[4] == env[VARIABLE] == "/home/ada/.gitconfig"

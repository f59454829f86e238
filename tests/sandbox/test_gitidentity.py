"""A confined child gets the user's git identity and nothing else of her
git configuration: C{user.name} and C{user.email} read by git from her
global configuration, written into a configuration of the child's own
that C{GIT_CONFIG_GLOBAL} names (git itself is faked here; the sandboxes'
integration tests run the real one)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.sandbox import gitidentity, probe
from mcpgateway.sandbox.bwrap import command
from mcpgateway.sandbox.gitidentity import (
    IN_BUBBLEWRAP,
    VARIABLE,
    configText,
    forBubblewrap,
    forOwnFolder,
    userIdentity,
)
from mcpgateway.sandbox.launch import gitIdentity
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


def gitFolder(tmp_path: Path) -> str:
    """A search path with a C{git} (never run: the runner is faked)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    git = folder / "git"
    git.write_text("#!/bin/sh\nexit 1\n")
    git.chmod(0o755)
    return str(folder)


def test_the_name_and_address_are_read_from_the_users_global_configuration(
    tmp_path: Path,
) -> None:
    path, home = gitFolder(tmp_path), str(tmp_path / "home")
    git = FakeGit(b"user.name\nAda Lovelace\0user.email\nada@example.org\0")
    assert userIdentity(home, path, git) == {
        "user.name": "Ada Lovelace",
        "user.email": "ada@example.org",
    }
    [(argv, kwargs)] = git.calls
    assert argv[0] == str(tmp_path / "bin" / "git")
    assert argv[1:4] == ["config", "--global", "--null"]
    assert kwargs["env"] == {"HOME": home, "PATH": path}  # nothing of the child's
    assert kwargs["cwd"] == "/"  # no repository found where it runs
    assert kwargs["timeout"] == gitidentity.WAIT


def test_the_gateways_xdg_configuration_folder_is_where_git_looks(tmp_path: Path) -> None:
    """A user whose C{XDG_CONFIG_HOME} is not C{~/.config} keeps her
    identity in its C{git/config}: git is told of it, as it is told in her
    shell. A relative one git ignores, and so it is not given."""
    path, home = gitFolder(tmp_path), str(tmp_path / "home")
    git = FakeGit(b"user.name\nAda\0")
    assert userIdentity(home, path, git, configHome="/home/ada/cfg") == {"user.name": "Ada"}
    userIdentity(home, path, git, configHome="cfg")
    userIdentity(home, path, git)
    envs = [kwargs["env"] for _, kwargs in git.calls]
    assert envs == [
        {"HOME": home, "PATH": path, "XDG_CONFIG_HOME": "/home/ada/cfg"},
        {"HOME": home, "PATH": path},
        {"HOME": home, "PATH": path},
    ]


def test_a_real_git_reads_the_identity_in_the_xdg_configuration_folder(tmp_path: Path) -> None:
    git = shutil.which("git")
    assert git is not None, "git is needed (CI installs it)"
    home, config = tmp_path / "home", tmp_path / "cfg"
    home.mkdir()
    (config / "git").mkdir(parents=True)
    (config / "git" / "config").write_text('[user]\n\tname = "Ada"\n\temail = ada@example.org\n')
    searchPath = os.path.dirname(git)
    assert userIdentity(str(home), searchPath) == {}
    assert userIdentity(str(home), searchPath, configHome=str(config)) == {
        "user.name": "Ada",
        "user.email": "ada@example.org",
    }


def test_no_git_no_identity_or_a_failing_git_give_nothing(tmp_path: Path) -> None:
    assert userIdentity(str(tmp_path), str(tmp_path), FakeGit(b"")) == {}
    path, home = gitFolder(tmp_path), str(tmp_path)
    assert userIdentity(home, path, FakeGit(b"", status=1)) == {}  # neither is set
    timedOut = FakeGit(b"", raises=subprocess.TimeoutExpired(["git"], 5))
    assert userIdentity(home, path, timedOut) == {}
    assert userIdentity(home, path, FakeGit(b"", raises=OSError("gone"))) == {}
    other = FakeGit(b"user.signingkey\nABC\0user.name\nAda\0")
    assert userIdentity(home, path, other) == {"user.name": "Ada"}


def test_the_launcher_asks_the_accounts_home_and_the_gateways_git(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A repository's entry sets its child's C{PATH} (a C{git} of its own
    first) and C{HOME}: neither reaches the git run before confinement."""
    asked: list[tuple[str, str, str]] = []

    def reading(home: str, path: str, configHome: str = "") -> dict[str, str]:
        asked.append((home, path, configHome))
        return {}

    monkeypatch.setattr(gitidentity, "userIdentity", reading)
    hostile = {
        "PATH": str(tmp_path / "repo" / "bin"),
        "HOME": str(tmp_path / "repo"),
        "XDG_CONFIG_HOME": str(tmp_path / "repo"),
    }
    gitIdentity({"home": "/home/ada"}, hostile)
    gitIdentity(
        {"home": "/home/ada", "searchPath": "/opt/git/bin", "configHome": "/home/ada/cfg"},
        hostile,
    )
    assert asked == [
        ("/home/ada", probe.SYSTEM_PATH, ""),
        ("/home/ada", "/opt/git/bin", "/home/ada/cfg"),
    ]
    gitIdentity({"home": "/home/ada"}, {VARIABLE: "/srv/gitconfig"})  # its own: not asked
    assert len(asked) == 2


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


def test_landlock_writes_it_into_the_childs_own_folder(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    forOwnFolder(env, {"user.name": "Ada"}, str(tmp_path))
    path = Path(env[VARIABLE])
    assert path.parent == tmp_path
    assert path.read_text() == '[user]\n\tname = "Ada"\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_entry_naming_its_own_global_configuration_keeps_it(tmp_path: Path) -> None:
    env = {VARIABLE: "/srv/gitconfig"}
    forOwnFolder(env, {"user.name": "Ada"}, str(tmp_path))
    assert env[VARIABLE] == "/srv/gitconfig"
    assert forBubblewrap(env, {"user.name": "Ada"}) == []
    assert os.listdir(tmp_path) == []


def test_no_identity_nothing_given(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    forOwnFolder(env, {}, str(tmp_path))
    assert forBubblewrap(env, {}) == [] and env == {} and os.listdir(tmp_path) == []


def test_bubblewrap_copies_it_onto_the_sandboxs_own_root(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    words = forBubblewrap(env, {"user.email": "ada@example.org"})
    # A file of its own (bubblewrap's --file), not a mount: git config --global works.
    assert words[:3] == ["--perms", "0600", "--file"] and words[4] == IN_BUBBLEWRAP
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
    inHome: dict[str, str] = {}  # its own empty home: its .gitconfig there
    words = forBubblewrap(inHome, {"user.name": "Ada"}, "/home/ada")
    os.close(int(words[3]))
    assert words[4] == inHome[VARIABLE] == "/home/ada/.gitconfig"

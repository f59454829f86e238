# -*- test-case-name: tests.sandbox.test_gitidentity -*-
"""The user's git identity, and nothing else of her git configuration, for
a confined child.

A confined child sees no home of the user's: git run in it (a git server
committing, a tool that shells out to git) finds no C{~/.gitconfig} and
signs commits with the account's name and the host's (C{root <root@host>}).
Showing the user's global configuration would show what it holds besides
(C{url.<token>.insteadOf}, C{http.extraHeader}, credential helpers, a hooks
path, C{core.fsmonitor}). Overriding the identity (C{GIT_AUTHOR_NAME},
C{GIT_CONFIG_COUNT}) would override a repository's own C{[user]} as well,
which git lets win over the global one.

So the launcher reads the user's C{user.name} and C{user.email} from her
global configuration (L{userIdentity}: git itself reads it, before the
child is confined), and gives the child a global configuration of its own
holding only those two (L{configText}), through C{GIT_CONFIG_GLOBAL}
(git 2.32 and later): under bubblewrap the C{.gitconfig} of the child's own
empty home, where the libraries that read git's files themselves look too
(GitPython, which C{mcp-server-git} commits with), else a file in the
child's own temporary directory (Landlock shows no home of the child's: a
library that does not run git finds no identity there). A repository's
C{[user]} still wins, as it would outside. An entry that sets
C{GIT_CONFIG_GLOBAL} itself keeps its own; a user with no identity gets
nothing.

Standard library only: the launcher imports it before every confined child.
"""

from __future__ import annotations

import os
import shutil
import subprocess

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    Runner = Callable[..., Any]

VARIABLE = "GIT_CONFIG_GLOBAL"
"""What git reads its global configuration from, when set (git 2.32)."""
FILE_NAME = ".mcpgateway-gitconfig"
"""The file's name in the child's temporary directory."""
KEYS = ("user.name", "user.email")
"""The keys of the user's configuration a child is given: her identity alone."""
LONGEST = 256
"""The most characters of a name or an address given (a longer one is cut)."""
WAIT = 5.0
"""Seconds git may take to read the user's configuration."""


def userIdentity(
    home: str, searchPath: str, run: Runner = subprocess.run, configHome: str = ""
) -> dict[str, str]:
    """C{user.name} and C{user.email} of the global git configuration of the
    user whose home is C{home} (git finds it: C{~/.gitconfig}, the XDG one,
    their includes), by key; empty when no git is on C{searchPath}, when
    she set neither, or when git cannot say.

    Run before the child is confined, as the user: so nothing the child's
    entry sets counts. C{home} is the account's (never an entry's
    C{HOME}), C{searchPath} the gateway's folders (never the child's
    C{PATH}, where a repository's entry could put a C{git} of its own),
    C{configHome} the gateway's C{XDG_CONFIG_HOME} (where git looks for
    C{git/config} instead of C{~/.config}; ignored unless absolute, as git
    does), and git runs in C{/}, where it finds no repository whose
    configuration it would read."""
    git = shutil.which("git", path=searchPath)
    if git is None or not home:
        return {}
    env = {"HOME": home, "PATH": searchPath}
    if os.path.isabs(configHome):
        env["XDG_CONFIG_HOME"] = configHome
    try:
        done = run(
            [git, "config", "--global", "--null", "--get-regexp", r"^user\.(name|email)$"],
            capture_output=True,
            env=env,
            cwd="/",
            stdin=subprocess.DEVNULL,
            timeout=WAIT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    if done.returncode != 0:
        return {}
    found: dict[str, str] = {}
    for item in bytes(done.stdout).split(b"\0"):
        key, newline, value = item.partition(b"\n")
        name = key.decode("utf-8", "replace").lower()
        if newline and name in KEYS:
            found[name] = value.decode("utf-8", "replace")[:LONGEST]
    return found


def configText(identity: Mapping[str, str]) -> str:
    """A git configuration holding C{identity}'s C{[user]} alone, each value
    quoted (a backslash and a double quote escaped, control characters,
    a line's end among them, dropped): nothing in a value can start
    another key or section."""
    lines = ["[user]"]
    for key in KEYS:
        value = identity.get(key)
        if value is None:
            continue
        clean = "".join(c for c in value if c >= " " and c != "\x7f")
        quoted = clean.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'\t{key.split(".")[1]} = "{quoted}"')
    return "\n".join(lines) + "\n"


def wanted(env: Mapping[str, str]) -> bool:
    """Whether the child is given an identity: not when its entry names a
    global configuration of its own."""
    return VARIABLE not in env


def memoryFile(text: str) -> int:
    """An inheritable memory file holding C{text}, at its start: what
    bubblewrap's C{--file FD} copies into the sandbox."""
    fd = os.memfd_create("mcpgateway-gitconfig", 0)
    try:
        os.write(fd, text.encode("utf-8"))
        os.lseek(fd, 0, os.SEEK_SET)
        os.set_inheritable(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def writeInto(folder: str, text: str) -> str:
    """Write C{text} as the configuration file in C{folder} (the child's own
    temporary directory, made empty by its launcher); its path."""
    path = os.path.join(folder, FILE_NAME)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path


IN_BUBBLEWRAP = "/.mcpgateway/gitconfig"
"""Where bubblewrap makes the file when the child's home is not its own
empty folder: on the sandbox's own root, which no bind of the user's
reaches."""


def forBubblewrap(
    env: dict[str, str], identity: Mapping[str, str], ownHome: str | None = None
) -> list[str]:
    """bubblewrap's options giving the child C{identity}, a file of its own
    that it may change as it would its own C{~/.gitconfig} (C{git config
    --global} at its start: what it writes stays in its sandbox); the
    memory file they name is inherited by bubblewrap, which copies it and
    closes it. C{GIT_CONFIG_GLOBAL} is set in C{env}; none when the child
    is given no identity.

    @param ownHome: the child's home when it is an empty, writable folder
        of its own: the file is its C{.gitconfig} there, where the libraries
        that read git's files themselves (GitPython's commits, dulwich,
        libgit2) look, and not C{GIT_CONFIG_GLOBAL}.
    """
    if not identity or not wanted(env):
        return []
    fd = memoryFile(configText(identity))
    path = os.path.join(ownHome, ".gitconfig") if ownHome else IN_BUBBLEWRAP
    env[VARIABLE] = path
    return ["--perms", "0600", "--file", str(fd), path]


def forOwnFolder(env: dict[str, str], identity: Mapping[str, str], folder: str) -> None:
    """Give the child C{identity} in C{folder} (its own temporary
    directory, under Landlock or Seatbelt), with C{GIT_CONFIG_GLOBAL} set
    in C{env}; nothing when the child is given none."""
    if identity and wanted(env):
        env[VARIABLE] = writeInto(folder, configText(identity))

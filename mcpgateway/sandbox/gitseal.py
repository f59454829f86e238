# -*- test-case-name: tests.sandbox.test_gitseal -*-
"""A repository's workspace is writable, its git repositories are not.

Git runs programs that a repository's configuration names: C{core.fsmonitor}
on every C{git status}, C{core.pager}, C{core.sshCommand}, aliases, diff
and merge drivers, and every script of C{.git/hooks}. A clone brings none of
that (git never transfers a repository's own C{.git}), so a repository's
author cannot make the user's git run code by shipping it. A child that
may write its workspace could: a repository's own server, confined, plants
C{core.fsmonitor} in C{.git/config}, and the user's next C{git status} (her
shell prompt's, her editor's) runs it as her, outside any sandbox.

So in the workspace of a repository's own entry (L{workspaceGit}) each
C{.git} found (the workspace's own, and those of the repositories checked
out in it down to L{DEPTH} levels: a vendored library, a submodule) is
shown read-only, and where the workspace has no C{.git} one cannot be made
there: under bubblewrap an empty, read-only directory stands in its place
(an empty C{.git} directory is no repository to git, which looks further
up, and C{git init} fills it), and under Landlock, which cannot name a path
that does not exist, the workspace's top level takes no new entry (its
files and folders stay writable). A repository a child creates deeper
down is not stopped: git runs its configuration only for commands run in
that folder.

Standard library only: the launcher imports it before every confined child.
"""

from __future__ import annotations

import os

DEPTH = 2
"""How many levels below the workspace a repository's C{.git} is looked for."""
MOST = 32
"""The most C{.git} entries shown read-only (a workspace of many checkouts
keeps the first ones found, its own first)."""
SKIPPED = frozenset({"node_modules", ".venv", "venv", "__pycache__", "target", "dist", "build"})
"""Folders of installed or built files, never a checkout of the user's."""
LOOKED_MOST = 1000
"""The most folders looked in: a launcher starts quickly in a large tree."""


def workspaceGit(workspace: str) -> tuple[list[str], str | None]:
    """The C{.git} entries of C{workspace} and its folders down to L{DEPTH}
    levels (the workspace's own first; a symbolic link is neither followed
    nor given: what it points to is no part of the workspace), and the path
    of the workspace's own C{.git} when there is none (C{None}: there is
    one, or a link of that name)."""
    top = os.path.join(workspace, ".git")
    found = [top] if _isGit(top) else []
    level, looked = [workspace], 0
    for _ in range(DEPTH):
        below: list[str] = []
        for folder in level[: max(0, LOOKED_MOST - looked)]:
            looked += 1
            for name in _folders(folder):
                path = os.path.join(folder, name)
                if len(found) < MOST and _isGit(os.path.join(path, ".git")):
                    found.append(os.path.join(path, ".git"))
                below.append(path)
        level = below
    return found, (None if os.path.lexists(top) else top)


def _isGit(path: str) -> bool:
    """Whether C{path} is a C{.git} folder or file (not a symbolic link)."""
    return os.path.lexists(path) and not os.path.islink(path)


def _folders(folder: str) -> list[str]:
    """The names of C{folder}'s folders worth looking in, sorted: not
    C{.git} itself, not a symbolic link, not one of L{SKIPPED}."""
    try:
        with os.scandir(folder) as entries:
            return sorted(
                entry.name
                for entry in entries
                if entry.name != ".git"
                and entry.name not in SKIPPED
                and entry.is_dir(follow_symlinks=False)
            )
    except OSError:
        return []

# -*- test-case-name: tests.sandbox.test_workspaceseal -*-
"""A repository's workspace is writable; what runs programs as the user is not.

Git runs programs that a repository's configuration names: C{core.fsmonitor}
on every C{git status}, C{core.pager}, C{core.sshCommand}, aliases, diff
and merge drivers, and every script of C{.git/hooks}. A clone brings none of
that (git never transfers a repository's own C{.git}), so a repository's
author cannot make the user's git run code by shipping it. A child that
may write its workspace could: a repository's own server, confined, plants
C{core.fsmonitor} in C{.git/config}, and the user's next C{git status} (her
shell prompt's, her editor's) runs it as her, outside any sandbox.

The clients' project settings do the same: Claude Code runs the hooks of
C{.claude/settings.json} and C{.claude/settings.local.json} of a folder
the user trusted, and its C{.mcp.json} servers once approved; VS Code runs
C{.vscode/tasks.json}'s tasks on opening the folder once automatic tasks
are allowed there; Cursor, Codex, the Gemini CLI, Zed, Roo Code, Junie and
opencode read servers and commands from their own folders
(L{SETTINGS}). What a repository ships there, the user reviewed when she
trusted it; what its server writes there later, she never sees.

So in the workspace of a repository's own entry (L{workspaceSeals}) each
C{.git} found (the workspace's own, and those of the repositories checked
out in it down to L{DEPTH} levels: a vendored library, a submodule) and
each of L{SETTINGS} at its top is shown read-only, and none of L{MADE} or
L{SETTINGS} it lacks can be made there (C{layout.sealed}): the workspace's
top level takes no new entry. Its folders stay writable, and its files in
place. Each mechanism says so its own way: Landlock and bubblewrap show the
workspace itself read-only and each of its entries writable (bubblewrap
binds each entry again, L{mcpgateway.sandbox.bwrap}; Landlock grants each,
L{mcpgateway.sandbox.landlock}), so nothing is left behind in the user's
workspace; Seatbelt denies writing the names. A repository a child creates
deeper down is not stopped: git runs its configuration only for commands
run in that folder, and the clients read their settings at the top.

Standard library only (and L{mcpgateway.sandbox.places}): the launcher imports it
before every confined child.
"""

from __future__ import annotations

import os

from mcpgateway.sandbox.places import under

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from typing import Protocol

    class ReadOnlyBinds(Protocol):
        """What makes a path read-only in a child's layout."""

        def readOnly(self, path: str) -> None: ...

    class SealedLayout(Protocol):
        """What of a child's layout says what is sealed, and why."""

        notes: list[str]
        sealed: list[str]


DEPTH = 2
"""How many levels below the workspace a repository's C{.git} is looked for."""
MOST = 32
"""The most C{.git} entries shown read-only (a workspace of many checkouts
keeps the first ones found, its own first)."""
SKIPPED = frozenset({"node_modules", ".venv", "venv", "__pycache__", "target", "dist", "build"})
"""Folders of installed or built files, never a checkout of the user's."""
TOP_ENTRIES_MOST = 1024
"""The most entries at a sealed workspace's top bubblewrap binds writable
again, in name order (L{mcpgateway.sandbox.bwrap}): each is a mount."""
LOOKED_MOST = 1000
"""The most folders looked in: a launcher starts quickly in a large tree."""


SETTINGS = (
    ".agents",
    ".claude",
    ".codex",
    ".cursor",
    ".gemini",
    ".junie",
    ".mcp.json",
    ".roo",
    ".vscode",
    ".zed",
)
"""The entries at a workspace's top where clients read what they run: their
project settings' folders, and Claude Code's C{.mcp.json}."""
MADE = (".git",)
"""The entries besides L{SETTINGS} a workspace that has none cannot make."""


def seal(workspace: str, granted: list[str], binds: ReadOnlyBinds, layout: SealedLayout) -> None:
    """Keep what L{workspaceSeals} finds in C{workspace}, which a
    repository's entry writes, from its child: each entry read-only
    (C{binds}), each missing one of L{MADE} and L{SETTINGS} sealed
    (C{layout.sealed}: not made), and the whole workspace read-only where
    one is a symbolic link (said in C{layout.notes}); but what the entry's
    approved C{allowWrite} grants (C{granted}: the paths it names, made
    before the child starts when missing)."""

    def asked(path: str) -> bool:
        return any(under(path, target) for target in granted)

    kept, absent, linked = workspaceSeals(workspace)
    linked = [path for path in linked if not asked(path)]
    if linked:
        binds.readOnly(workspace)
        names = ", ".join(os.path.basename(path) for path in linked)
        layout.notes.append(
            f"its workspace {workspace} is read-only: its {names} is a symbolic link,"
            " which a repository's server that writes its workspace could replace or"
            " write through (make it a folder, or approve an allowWrite of it)"
        )
        return
    for path in kept:
        if not asked(path):
            binds.readOnly(path)
    sealed = [path for path in absent if not asked(path)]
    layout.sealed += sealed
    if sealed and _entries(workspace) > TOP_ENTRIES_MOST:
        layout.notes.append(
            f"its workspace {workspace} holds more than {TOP_ENTRIES_MOST} entries at its"
            f" top: under bubblewrap the first {TOP_ENTRIES_MOST} by name are writable, the"
            " others read-only"
        )


def _entries(folder: str) -> int:
    """How many entries C{folder} holds that are not symbolic links."""
    try:
        with os.scandir(folder) as found:
            return sum(1 for entry in found if not entry.is_symlink())
    except OSError:
        return 0


def workspaceSeals(workspace: str) -> tuple[list[str], list[str], list[str]]:
    """What of C{workspace} a repository's child may read but not write:
    its C{.git} entries and those of its folders down to L{DEPTH} levels,
    then its entries of L{SETTINGS} (a symbolic link is neither followed
    nor given: what it points to is no part of the workspace); the paths
    of L{MADE} and L{SETTINGS} it lacks; and the entries of L{MADE} and
    L{SETTINGS} at its top that are symbolic links, which no bind can keep:
    a child that may write in their folder could replace the link, or
    write through it where it leads into the workspace (the caller keeps
    the whole workspace from it then)."""
    found, absent, linked = [], [], []
    for name in dict.fromkeys((*MADE, *SETTINGS)):
        path = os.path.join(workspace, name)
        if os.path.islink(path):
            linked.append(path)
        elif not os.path.lexists(path):
            absent.append(path)
    found += workspaceGit(workspace)
    for name in SETTINGS:
        path = os.path.join(workspace, name)
        if _present(path):
            found.append(path)
    return found, absent, linked


def workspaceGit(workspace: str) -> list[str]:
    """The C{.git} entries of C{workspace} and its folders down to L{DEPTH}
    levels (the workspace's own first; a symbolic link is neither followed
    nor given)."""
    top = os.path.join(workspace, ".git")
    found = [top] if _present(top) else []
    level, looked = [workspace], 0
    for _ in range(DEPTH):
        below: list[str] = []
        for folder in level[: max(0, LOOKED_MOST - looked)]:
            looked += 1
            for name in _folders(folder):
                path = os.path.join(folder, name)
                if len(found) < MOST and _present(os.path.join(path, ".git")):
                    found.append(os.path.join(path, ".git"))
                below.append(path)
        level = below
    return found


def _present(path: str) -> bool:
    """Whether C{path} is there, a folder or a file (not a symbolic link)."""
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

# -*- test-case-name: tests.config.test_pathwidening -*-
"""What of a repository's entry names a path outside its own workspace.

A project's own file (a repository's C{.mcp.json}, C{.cursor/mcp.json},
C{.vscode/mcp.json}...) is written by whoever wrote the repository. Its
entry's child is shown the default view and its own workspace, nothing
more, until the person approves that very entry
(L{mcpgateway.config.sandboxapprovals}): the sandbox's one path rule
(L{mcpgateway.sandbox.pathrule}) keeps every other path the entry names
from the child. L{outsideWorkspace} finds those paths where the config is
read, so that the person hears of each key once (the log, C{mcpgateway
sandbox approve}), with the path and the fix, rather than only when the
child fails.

A word is a path when it begins with C{/} or C{~/} (or is C{~}), or is
an option's value that does (C{--root=/x}); a relative path is the
workspace's. Blocking (C{realpath}); no Twisted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mcpgateway.sandbox.defaults import SYSTEM_DIRS

SKIPPED_VARIABLES = frozenset({"HOME", "PATH", "PWD", "TMPDIR", "SHELL", "XDG_RUNTIME_DIR"})
"""Variables whose value is the child's surroundings, not data of its own."""


@dataclass(frozen=True)
class PathWidening:
    """One key of an entry that names a path outside its workspace."""

    key: str
    """C{args[2]}, C{env.DATA_DIR}, C{cwd}."""
    path: str
    """The path, as resolved."""

    def describe(self) -> str:
        return f"{self.key} {self.path}"


def outsideWorkspace(
    args: Sequence[str],
    env: Iterable[tuple[str, str]],
    cwd: str | None,
    workspace: str,
    home: str,
) -> list[PathWidening]:
    """The keys of an entry (its expanded C{args}, C{env} and C{cwd}) that
    name a path outside C{workspace} that the system does not show every
    child anyway."""
    root = os.path.realpath(workspace)
    found: list[PathWidening] = []

    def judge(key: str, word: str) -> None:
        path = _pathOf(word, home, root)
        if path is None:
            return
        resolved = os.path.realpath(path)
        if _inside(resolved, root) or _system(resolved):
            return
        found.append(PathWidening(key, resolved))

    for index, word in enumerate(args):
        judge(f"args[{index}]", word.partition("=")[2] if word.startswith("-") else word)
    for name, value in env:
        if name not in SKIPPED_VARIABLES and os.pathsep not in value:
            judge(f"env.{name}", value)
    if cwd is not None:
        judge("cwd", cwd)
    return found


def wordsOutside(words: Iterable[tuple[str, str]], workspace: str, home: str) -> list[PathWidening]:
    """Of C{words} (a key and its expanded value each: an argument, a
    variable, the C{cwd} that a workspace's C{.env} filled in), those that
    name a path outside C{workspace} that the system does not show every
    child anyway: the whole value, an option's value (C{--root=/x}) or any
    part of a list of paths (C{a:/b}), whatever the variable's name. What a
    repository's file gives your own entry is judged as the repository's
    own entry's paths are (L{mcpgateway.config.scopes})."""
    root = os.path.realpath(workspace)
    found: list[PathWidening] = []
    for key, word in words:
        for part in {word, word.partition("=")[2], *word.split(os.pathsep)}:
            path = _pathOf(part, home, root)
            if path is None:
                continue
            resolved = os.path.realpath(path)
            if not (_inside(resolved, root) or _system(resolved)):
                found.append(PathWidening(key, resolved))
                break
    return found


def entryOutside(
    entry: Mapping[str, object], environ: Mapping[str, str], workspace: str
) -> list[PathWidening]:
    """L{outsideWorkspace} of an entry as a project's file writes it, its
    C{${VAR}} expanded from C{environ} (what C{mcpgateway sandbox
    approve} shows the person)."""
    home = environ.get("HOME") or os.path.expanduser("~")

    def expanded(value: object) -> str:
        text = str(value)
        for name, variable in environ.items():
            text = text.replace("${" + name + "}", variable)
        return text

    raw = entry.get("args")
    args = [expanded(a) for a in raw] if isinstance(raw, list) else []
    envRaw = entry.get("env")
    env = [(str(k), expanded(v)) for k, v in envRaw.items()] if isinstance(envRaw, dict) else []
    cwd = entry.get("cwd")
    return outsideWorkspace(
        args, env, None if cwd is None else os.path.join(workspace, expanded(cwd)), workspace, home
    )


def _pathOf(word: str, home: str, workspace: str) -> str | None:
    if word == "~" or word.startswith("~/"):
        return home + word[1:]
    if word.startswith("/"):
        return os.path.normpath(word)
    if word.startswith("../"):
        return os.path.normpath(os.path.join(workspace, word))
    return None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _system(path: str) -> bool:
    """A system path (C{/usr/bin/node}): every child sees it read-only."""
    return any(_inside(path, d) for d in SYSTEM_DIRS)

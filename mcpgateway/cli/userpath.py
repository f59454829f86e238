# -*- test-case-name: tests.cli.test_start_environment -*-
"""The C{PATH} a gateway's children get when a client's bridge starts it.

A gateway's children inherit its environment, and a gateway started by
C{mcpgateway start} inherits that command's. A stdio-only client (Claude
Desktop, a GUI app) runs C{mcpgateway bridge} with the minimal C{PATH} of
the desktop session (C{/usr/bin:/bin}: no C{/opt/homebrew/bin}, no
C{~/.nvm/...}, where C{npx} and C{uvx} live); when that bridge starts the
gateway every client shares, every server of every client would get that
C{PATH}.

So a C{start} the user runs (and C{service install}) records its own
C{PATH} in the state directory (L{PATH_RECORD}: the last one wins); a start
a bridge makes runs the gateway with the recorded entries first, then its
own (L{startPath}). A user's start whose own C{PATH} lacks some recorded
entries keeps its own first and adds those after them.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

PATH_RECORD = "user-path.json"
"""The file of the state directory that holds the user's C{PATH}:
C{{"PATH": "..."}}."""


def entries(path: str) -> list[str]:
    """The directories of a C{PATH} value, in order, without empty ones or
    repeats."""
    seen: dict[str, None] = {}
    for entry in path.split(os.pathsep):
        if entry:
            seen.setdefault(entry, None)
    return list(seen)


def merged(first: str, then: str) -> str:
    """C{first}'s entries, then those of C{then} it does not have."""
    return os.pathsep.join(entries(first + os.pathsep + then))


def recordedPath(stateDir: Path) -> str | None:
    """The C{PATH} recorded in C{stateDir} (C{None}: none, or unreadable)."""
    try:
        value = json.loads((stateDir / PATH_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    path = value.get("PATH") if isinstance(value, dict) else None
    return path if isinstance(path, str) and path else None


def recordPath(stateDir: Path, path: str) -> None:
    """Record C{path} as the user's C{PATH} in C{stateDir} (atomically;
    best effort: a start does not fail for it)."""
    from mcpgateway.runtime.atomicfile import writeFileAtomic

    if not path or recordedPath(stateDir) == path:
        return
    data = json.dumps({"PATH": path}, indent=2).encode("utf-8") + b"\n"
    with contextlib.suppress(OSError):
        writeFileAtomic(stateDir / PATH_RECORD, data, mode=0o600)


def startPath(own: str, recorded: str | None, autoStarted: bool) -> str:
    """The C{PATH} a start runs the gateway with: for a bridge's start
    (C{autoStarted}), the recorded entries first, then its own; for the
    user's own, its own first, then any recorded entry it lacks."""
    if recorded is None:
        return own
    path = merged(recorded, own) if autoStarted else merged(own, recorded)
    return own if entries(path) == entries(own) else path


def currentUmask() -> int:
    """This process's umask (set to C{0o077} and back at once: there is no
    other portable way to read it)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask

# -*- test-case-name: tests.cli.test_start_environment -*-
"""The user's C{PATH}, as the state directory records it: what a start the
user runs, a C{service install} and a C{restart} leave for the gateway and
its successors (L{mcpgateway.cli.userpath} says why it is needed), read
again by a restart's successor (L{mcpgateway.ops.handover}). Blocking
file work, best effort: a start or a restart never fails for it.
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

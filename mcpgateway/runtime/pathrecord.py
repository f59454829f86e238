# -*- test-case-name: tests.cli.test_start_environment, tests.cli.test_pathnotes -*-
"""The user's C{PATH}, as the state directory records it: what a start the
user runs, a C{service install} and a C{restart} leave for the gateway and
its successors (L{mcpgateway.cli.userpath} says why it is needed), read
again by a restart's successor (L{mcpgateway.ops.handover}). Blocking
file work, best effort: a start or a restart never fails for it.

And where a gateway's own C{PATH} comes from (L{pathOrigin}): whoever
starts a gateway with a C{PATH} of its making says so in
L{PATH_FROM_ENV}; the gateway keeps it, with the record it found, in its
C{state.json}, for C{mcpgateway status} to say whose C{PATH} a command
was not found on (L{mcpgateway.cli.pathnotes}).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PATH_RECORD = "user-path.json"
"""The file of the state directory that holds the user's C{PATH}:
C{{"PATH": "...", "by": "start", "at": <epoch seconds>}}, C{by} the
command that recorded it (L{BY})."""
BY = ("start", "restart", "service install")
"""The commands that record the user's C{PATH}."""
PATH_FROM_ENV = "MCPGATEWAY_PATH_FROM"
"""Where the C{PATH} a gateway is started with comes from, said by what
starts it (L{FROM}); a gateway variable, never a child's."""
FROM = ("start", "bridge", "restart", "service")
"""The words of L{PATH_FROM_ENV}: a user's C{mcpgateway start} (its shell's
C{PATH}), a bridge's start (the recorded C{PATH} first, then the client's),
a restart's successor (the recorded C{PATH} first, then the previous
process's), a service manager (the C{PATH} C{service install} wrote in its
unit). Without one: C{environment} (C{twistd mcpgateway} run by hand, or a
container's entry point)."""


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


@dataclass(frozen=True)
class PathRecord:
    """The user's C{PATH} as recorded (L{PATH_RECORD})."""

    path: str
    by: str | None = None
    """The command that recorded it (L{BY}); C{None}: not said."""
    at: float | None = None
    """When, in epoch seconds; C{None}: not said."""


def readRecord(stateDir: Path) -> PathRecord | None:
    """The record of C{stateDir} (C{None}: none, or unreadable); a C{by}
    or C{at} that is not what L{recordPath} writes is left out."""
    try:
        value = json.loads((stateDir / PATH_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict):
        return None
    path, by, at = value.get("PATH"), value.get("by"), value.get("at")
    if not isinstance(path, str) or not path:
        return None
    when = at if isinstance(at, int | float) and not isinstance(at, bool) else None
    return PathRecord(
        path,
        by if by in BY else None,
        float(when) if when is not None and 0 < when < 2**40 else None,
    )


def recordedPath(stateDir: Path) -> str | None:
    """The C{PATH} recorded in C{stateDir} (C{None}: none, or unreadable)."""
    record = readRecord(stateDir)
    return None if record is None else record.path


def recordPath(stateDir: Path, path: str, by: str, now: Callable[[], float] = time.time) -> None:
    """Record C{path} as the user's C{PATH} in C{stateDir}, by command
    C{by} (L{BY}), now (atomically; best effort: a start does not fail for
    it). The same C{PATH} recorded by the same command is left as it was."""
    from mcpgateway.runtime.atomicfile import writeFileAtomic

    before = readRecord(stateDir)
    if not path or (before is not None and (before.path, before.by) == (path, by)):
        return
    record = {"PATH": path, "by": by, "at": round(now(), 3)}
    data = json.dumps(record, indent=2).encode("utf-8") + b"\n"
    with contextlib.suppress(OSError):
        writeFileAtomic(stateDir / PATH_RECORD, data, mode=0o600)


def pathOrigin(environ: Mapping[str, str], record: PathRecord | None) -> dict[str, Any]:
    """Where a gateway's C{PATH} (C{environ}'s) comes from, as its
    C{state.json} keeps it: C{{"PATH", "from", "recorded"}}, C{from} the
    word of L{PATH_FROM_ENV} (L{FROM}; else C{"environment"}), C{recorded}
    the record it found as it started (C{{"by", "at"}}), or C{None}."""
    said = environ.get(PATH_FROM_ENV, "")
    return {
        "PATH": environ.get("PATH", ""),
        "from": said if said in FROM else "environment",
        "recorded": None if record is None else {"by": record.by, "at": record.at},
    }

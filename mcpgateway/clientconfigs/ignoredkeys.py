# -*- test-case-name: tests.clientconfigs.test_ignoredkeys -*-
"""Keys a user added to the gateway's URL entry in a client's file: what
they would change, and that they are refused, with the fix.

Once an entry is adopted, the client's file holds the gateway's entry (its
C{url}, C{type}...) and the gateway serves the original from its backup. A
key added next to the gateway's URL that would change how the server runs
(C{env}, C{args}, C{sandbox}...) has no effect there: the client does not
run the server, and the gateway does not read launch keys off its own URL
entry (a repository's project file could otherwise give a served entry
what it likes). Such keys are refused: one warning naming the file, the
keys and the fix (C{mcpgateway servers edit NAME --set env=...} for what
the gateway's file can change, else writing the whole stdio entry back in
place of the URL entry, which the gateway then adopts anew), shown by
C{/health}, C{doctor} and C{status} too (L{IgnoredKeys}).

Keys a client adds by itself when it saves (C{disabled}, C{autoApprove},
C{timeout}...) are not launch keys and are left alone.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcpgateway.config.problems import IgnoredKeys

LAUNCH_KEYS = frozenset(
    {
        "command",
        "args",
        "env",
        "cwd",
        "envFile",
        "envFrom",
        "credentialEnv",
        "sandbox",
        "share",
        "mode",
        "maxChildren",
        "requestTimeout",
        "limits",
        "perUser",
        "era",
        "era2026",
        "serverInfo",
        "includeTools",
        "excludeTools",
        "toolBudget",
        "alias",
        "aggregate",
    }
)
"""Keys of a server entry that change how the gateway runs or serves it."""
EDITABLE_KEYS = frozenset(
    {"env", "includeTools", "excludeTools", "toolBudget", "alias", "aggregate"}
)
"""The launch keys C{mcpgateway servers edit} can set for an adopted server
(its override in the gateway's file)."""


def addedLaunchKeys(entry: Any, written: Any) -> tuple[str, ...]:
    """The launch keys C{entry} (a client's entry, still the gateway's)
    has that C{written} (what the gateway wrote) has not, or has with
    another value; sorted."""
    if not isinstance(entry, Mapping) or not isinstance(written, Mapping):
        return ()
    return tuple(
        sorted(
            str(key)
            for key, value in entry.items()
            if key in LAUNCH_KEYS and (key not in written or written[key] != value)
        )
    )


def ignoredKeys(server: str, file: str, keys: tuple[str, ...]) -> IgnoredKeys:
    """The problem of C{keys} added to server C{server}'s gateway entry in C{file}."""
    return IgnoredKeys(server, file, keys, fixFor(server, keys))


def fixFor(server: str, keys: tuple[str, ...]) -> str:
    """What to do instead of C{keys}: C{servers edit} for what the gateway's
    file can hold, else the whole stdio entry written back."""
    editable = [key for key in keys if key in EDITABLE_KEYS]
    other = [key for key in keys if key not in EDITABLE_KEYS]
    fixes = []
    if editable:
        sets = " ".join(f"--set {key}=JSON" for key in editable)
        fixes.append(f"mcpgateway servers edit {server} {sets}")
    if other:
        fixes.append(
            f"for {', '.join(other)}: replace the gateway's entry with the whole stdio entry"
            " (command, args and the rest), which the gateway adopts anew"
        )
    return "; ".join(fixes) + f", then take {', '.join(keys)} out of the gateway's entry"


def ignoredLine(problem: IgnoredKeys) -> str:
    """The one line the log and the CLI give for C{problem}."""
    return (
        f"{problem.file}: {', '.join(problem.keys)} of '{problem.server}' next to the gateway's"
        f" URL {'has' if len(problem.keys) == 1 else 'have'} no effect (the gateway serves"
        f" the adopted entry from its backup); instead: {problem.fix}"
    )

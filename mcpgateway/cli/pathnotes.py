# -*- test-case-name: tests.cli.test_pathnotes -*-
"""Whose C{PATH} a server's "not found" means, for C{mcpgateway status}.

A server whose command is a bare name (C{npx}, C{uvx}) is looked up on the
gateway's C{PATH}, which is not always the one of the shell the user runs
C{status} from: a start a client's bridge made puts the recorded C{PATH}
first, then the client's; a service manager gives the one C{service
install} wrote in its unit; a restart's successor the recorded one first,
then its predecessor's (L{mcpgateway.runtime.pathrecord}). The gateway
keeps where its C{PATH} comes from in its C{state.json} (C{"path"}: the
value, C{"from"}, and the record it found); L{notFoundNotes} names it
under the server, and says whether this shell's C{PATH} has the command,
and how to give it to the gateway (C{mcpgateway restart} from this shell:
the successor runs with the C{PATH} it records first).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Mapping
from typing import Any

from mcpgateway.runtime.pathrecord import entries

NOT_FOUND = re.compile(r"command '(?P<command>[^'/]+)' was not found on PATH")
"""A server's C{/health} error when its bare command is not on the
gateway's own C{PATH} (L{mcpgateway.core.spawn.NOT_ON_PATH}; one its
entry's C{env} sets says so otherwise)."""


def whenOf(at: object, localtime: Callable[[float], time.struct_time] = time.localtime) -> str:
    """C{" at 2025-01-31 14:05"} for epoch seconds C{at}; C{""} when it is
    not a time (what C{state.json} says is read as outside input)."""
    if isinstance(at, bool) or not isinstance(at, int | float) or not 0 < at < 2**40:
        return ""
    return " at " + time.strftime("%Y-%m-%d %H:%M", localtime(float(at)))


def originOf(state: Mapping[str, Any]) -> str:
    """Where the gateway's C{PATH} comes from, in words (C{state.json}'s
    C{"path"}, written as it started); C{""} when its state does not say
    (a gateway of an older version)."""
    origin = state.get("path")
    if not isinstance(origin, dict):
        return ""
    recorded = origin.get("recorded")
    by = at = None
    if isinstance(recorded, dict):
        by = recorded.get("by") if isinstance(recorded.get("by"), str) else None
        at = recorded.get("at")
    said = f"recorded from `mcpgateway {by}`{whenOf(at)}" if by else "recorded"
    where = origin.get("from")
    if where == "start":
        since = at if by == "start" else state.get("startTime")
        return f"that of the shell that ran `mcpgateway start`{whenOf(since)}"
    if where == "bridge":
        client = "that of the client whose bridge started it"
        return f"{said}, then {client}" if isinstance(recorded, dict) else client
    if where == "restart":
        before = "the previous gateway process's"
        return f"{said}, then {before}" if isinstance(recorded, dict) else before
    if where == "service":
        unit = "the service manager's: the PATH `mcpgateway service install` wrote in its unit"
        return unit + (whenOf(at) if by == "service install" else "")
    return "the environment it was started in, not by `mcpgateway start`"


def notFoundNotes(
    server: Mapping[str, Any],
    state: Mapping[str, Any],
    environ: Mapping[str, str],
    which: Callable[..., str | None] = shutil.which,
) -> list[str]:
    """The lines under a server whose command was not found on the
    gateway's C{PATH}: whose C{PATH} that is (L{originOf}), and whether
    the C{PATH} of this shell (C{environ}'s) has the command, with what to
    do; C{[]} for any other server.

    @param which: finds a command on a C{PATH} (C{shutil.which}'s signature).
    """
    error = server.get("error")
    match = NOT_FOUND.fullmatch(error) if isinstance(error, str) else None
    if match is None:
        return []
    command = match["command"]
    origin = originOf(state)
    lines = [f"! {command}: not found in the gateway's PATH" + (f" ({origin})" if origin else "")]
    found = which(command, path=environ.get("PATH") or os.defpath)
    if found is None:
        lines.append(
            "  nor in your shell's PATH: install it, or give its full path as the"
            ' entry\'s "command"'
        )
        return lines
    said = state.get("path")
    said = said if isinstance(said, dict) else {}
    path = said.get("PATH")
    if isinstance(path, str) and os.path.dirname(found) in entries(path):
        lines.append(
            f"  your shell's PATH has it at {found}, in a folder the gateway's PATH has too"
            " (put there since the gateway read its config): run `mcpgateway restart`"
        )
    else:
        lines.append(
            f"  your shell's PATH has it at {found}: run `mcpgateway restart` from this shell"
            " (the gateway then runs with this shell's PATH first)"
        )
    if said.get("from") == "service":
        lines.append(
            "  and `mcpgateway service install` from this shell, for the service manager's"
            " next start"
        )
    return lines

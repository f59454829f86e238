# -*- test-case-name: tests.ops.test_anew -*-
"""The children a restart or a crash did not keep, each named with why:
what C{/health}'s C{restart.anew}, C{mcpgateway status} and the console
show (L{mcpgateway.ops.childhandover.ChildAdoption.report}).

Who says why, by how the previous gateway process ended:

 - a restart, or a crash whose warden waited for this gateway: the
   previous process (or its warden) names the children it could not hand
   over in its C{end} record, and this process names those it stopped (its
   server's entry changed, its sandbox would be laid out otherwise...);
 - a crash past the warden's grace (or with C{--adopt-grace 0}): the
   warden leaves C{warden-report.json} in the state directory
   (L{mcpgateway.ops.wardenfiles.REPORT}), read and removed by the next gateway
   at its start (L{takeWardenReport});
 - a crash that killed the warden too: the previous gateway's ledger
   (C{children.json}) still names its children (L{fromLedger}).

Every name and reason read here comes from another process: each is
checked and cut to L{MAX_TEXT} characters, and at most L{MAX_NAMED}
children are named (the count stays whole).

Light to import (the CLI's C{status} reads a gateway's C{/health} with it):
what it reads of the state directory is imported when it is read.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcpgateway.ops.statedir import LedgerChild

MAX_NAMED = 64
"""Children named at most (more are counted only)."""
MAX_TEXT = 300
"""The longest server name or reason kept, in characters."""
MAX_REPORT = 1024 * 1024
"""The longest warden report read, in bytes."""
WARDEN_GONE = "its warden was gone too (killed with the gateway)"
WARDEN_GONE_STOPPED = WARDEN_GONE + ": this gateway stopped it"
WARDEN_GONE_ENDED = WARDEN_GONE + ": it ended by itself"


@dataclass(frozen=True)
class StartedAnew:
    """One child of the previous gateway process that was not kept: its
    server's next child is a new process."""

    server: str
    pid: int
    why: str
    session: str = ""
    """The name logs give the session whose own child it was
    (L{mcpgateway.core.sessions.shortId}; C{""}: its server's shared child,
    or not known)."""

    def toJson(self) -> dict[str, Any]:
        out: dict[str, Any] = {"server": self.server, "pid": self.pid, "why": self.why}
        if self.session:
            out["session"] = self.session
        return out

    @classmethod
    def fromJson(cls, data: Any) -> StartedAnew | None:
        """The child C{data} names (another process wrote it); C{None} when
        it is not what L{toJson} makes."""
        if not isinstance(data, dict):
            return None
        server, pid, why = data.get("server"), data.get("pid"), data.get("why")
        session = data.get("session", "")
        if not (
            isinstance(server, str)
            and type(pid) is int
            and 0 < pid < 2**31
            and isinstance(why, str)
            and isinstance(session, str)
        ):
            return None
        return cls(_text(server), pid, _text(why), _text(session)[:8])


def _text(value: str) -> str:
    return "".join(c if c.isprintable() else " " for c in value[:MAX_TEXT])


def named(entries: Any) -> list[StartedAnew]:
    """The valid entries of C{entries} (L{StartedAnew.fromJson}), at most
    L{MAX_NAMED}; C{[]} when C{entries} is not a list."""
    if not isinstance(entries, list):
        return []
    out = []
    for entry in entries:
        one = StartedAnew.fromJson(entry)
        if one is not None:
            out.append(one)
        if len(out) >= MAX_NAMED:
            break
    return out


def takeWardenReport(stateDir: Path) -> list[StartedAnew]:
    """The children the previous gateway's warden stopped with no gateway
    to take them (L{mcpgateway.ops.wardenfiles.REPORT}), read once: the file is
    removed. C{[]} when there is none, or it cannot be read."""
    from mcpgateway.ops.wardenfiles import REPORT

    path = stateDir / REPORT
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_REPORT + 1)
    except OSError:
        return []
    with contextlib.suppress(OSError):
        os.unlink(path)
    if len(data) > MAX_REPORT:
        return []
    try:
        report = json.loads(data)
    except ValueError:
        return []
    return named(report.get("stopped")) if isinstance(report, dict) else []


def fromLedger(children: Iterable[LedgerChild]) -> list[StartedAnew]:
    """The children a previous gateway's ledger names when its warden
    died with it: the running ones are stopped now (its orphans), the
    others ended by themselves (their stdin closed with the warden)."""
    out = []
    for child in children:
        if child.helper:
            continue
        why = WARDEN_GONE_STOPPED if child.running else WARDEN_GONE_ENDED
        out.append(StartedAnew(child.server, child.pid, why))
    return out[:MAX_NAMED]


def crashedChildren(stateDir: Path) -> list[StartedAnew]:
    """At a gateway's start (not a restart's), the children of the
    previous gateway on C{stateDir} that it will not get, with why: those
    its warden stopped (its report), or, when no warden waits and left no
    report, those its ledger names. C{[]} when a warden waits: the warden
    says itself which children it stopped (its C{end} record)."""
    from mcpgateway.ops.statedir import previousChildren
    from mcpgateway.ops.wardenfiles import wardenWaits

    if wardenWaits(stateDir):
        return []
    reported = takeWardenReport(stateDir)
    if reported:
        return reported
    return fromLedger(previousChildren(stateDir))

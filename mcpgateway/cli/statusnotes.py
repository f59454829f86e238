# -*- test-case-name: tests.cli.test_statusnotes,tests.cli.test_cli_properties -*-
"""What C{mcpgateway status} and C{mcpgateway doctor} both tell a user who
has something to do that no server's line shows: the calls that wait for
their yes (C{/health}'s C{"approvals"}: L{heldCalls}), and a gateway that
runs another version of mcpgateway than the one installed, as after an
upgrade until C{mcpgateway restart} (L{versionSkew}).

C{status} prints each as a C{!} line under its config line (L{noteLines});
C{doctor} as a check of its own (L{checkHeldCalls}, L{checkVersion}). The
installed version is this command's own (what C{mcpgateway --version}
prints); the running one is what C{/health} says, else C{state.json}."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

from mcpgateway import __version__
from mcpgateway.cli.checks import Check, DoctorContext, notChecked
from mcpgateway.cli.health import count

APPROVALS_LIST = "`mcpgateway approvals list`"
"""The command that shows the calls waiting."""


def heldCalls(health: Mapping[str, Any]) -> int | None:
    """How many calls wait for a person's yes, as C{/health} counts them
    (C{"approvals": {"pending": N}}); C{None} when it does not say (an older
    gateway, or C{/health} showing liveness only)."""
    approvals = health.get("approvals")
    if not isinstance(approvals, dict) or "pending" not in approvals:
        return None
    return max(0, count(approvals.get("pending")))


def heldText(pending: int) -> str:
    """C{3 calls wait for your yes: `mcpgateway approvals list`}."""
    waits = "1 call waits" if pending == 1 else f"{pending} calls wait"
    return f"{waits} for your yes: {APPROVALS_LIST}"


class VersionSkew(NamedTuple):
    """A gateway that runs another version than the one installed."""

    running: str
    """The version the gateway runs."""
    installed: str
    """This command's version: the one installed."""
    python: str | None
    """The gateway's interpreter, when C{state.json} names one that is not
    this command's (a restart runs what that one has installed); else
    C{None}."""
    here: str
    """This command's interpreter."""


def runningVersion(health: Mapping[str, Any] | None, state: Mapping[str, Any]) -> str | None:
    """The version the gateway runs: C{/health}'s, else C{state.json}'s."""
    for source in (health or {}, state):
        version = source.get("version")
        if isinstance(version, str) and version:
            return version
    return None


def versionSkew(
    health: Mapping[str, Any] | None,
    state: Mapping[str, Any],
    installed: str | None = None,
    python: str | None = None,
) -> VersionSkew | None:
    """The skew between the running gateway (C{health}, C{state}) and
    C{installed} (default: this command's version) under C{python}
    (default: this command's interpreter); C{None} when they are the same,
    or the gateway does not say its version."""
    installed = __version__ if installed is None else installed
    here = sys.executable if python is None else python
    running = runningVersion(health, state)
    if running is None or running == installed:
        return None
    theirs = state.get("python")
    other = isinstance(theirs, str) and bool(theirs) and not _sameInstall(theirs, here)
    return VersionSkew(running, installed, theirs if other else None, here)


def _sameInstall(a: str, b: str) -> bool:
    """Whether two interpreters are of the same installation: they sit in
    the same directory (C{python} and C{python3} of one virtual environment
    are; the links are not followed, as a virtual environment's python
    links to the system's, and its own path is what tells it apart)."""
    return os.path.dirname(os.path.abspath(a)) == os.path.dirname(os.path.abspath(b))


def skewText(skew: VersionSkew) -> str:
    """What the skew is, in one line."""
    if skew.python is None:
        return f"the gateway runs mcpgateway {skew.running}, but {skew.installed} is installed"
    return (
        f"the gateway runs mcpgateway {skew.running} (under {skew.python}), this command is"
        f" {skew.installed} (under {skew.here})"
    )


def skewFix(skew: VersionSkew) -> str:
    """What to do about it: C{mcpgateway restart} when the gateway runs
    under this command's interpreter; else which installation a restart
    would run."""
    if skew.python is None:
        return (
            f"`mcpgateway restart` runs {skew.installed} in a fresh process, keeping the"
            " sessions and the running children"
        )
    return (
        f"`mcpgateway restart` runs what {skew.python} has installed: upgrade that one, or"
        " `mcpgateway stop` and `mcpgateway start` with this one"
    )


def noteLines(health: Mapping[str, Any], state: Mapping[str, Any]) -> list[str]:
    """C{status}'s lines of both: the calls waiting, the version skew."""
    lines = []
    pending = heldCalls(health)
    if pending:
        lines.append(f"  ! {heldText(pending)}")
    skew = versionSkew(health, state)
    if skew is not None:
        lines.append(f"  ! {skewText(skew)}: {skewFix(skew)}")
    return lines


def noteJson(health: Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    """What C{status --json} adds: C{"heldCalls"} (C{null}: not said) and
    C{"versionSkew"} (C{null}: none; else the versions and interpreters)."""
    skew = versionSkew(health, state)
    return {
        "heldCalls": heldCalls(health),
        "versionSkew": None if skew is None else skew._asdict(),
    }


def checkHeldCalls(ctx: DoctorContext) -> Check:
    """The calls waiting for the user's yes: an item for them (○), not a
    failure of the gateway."""
    if ctx.health is None:
        return notChecked(ctx, "Held calls")
    pending = heldCalls(ctx.health)
    if pending is None:
        return Check("info", "Held calls not counted by this gateway")
    if pending:
        return Check("info", heldText(pending))
    return Check("pass", "Held calls: none waits for your yes")


def checkVersion(ctx: DoctorContext) -> Check:
    """The gateway runs the version installed (✗ after an upgrade, until
    a restart)."""
    found = ctx.found
    if not found.running:
        return Check("info", "Version not checked (gateway not running)")
    state = found.state or {}
    skew = versionSkew(ctx.health, state)
    if skew is not None:
        text = skewText(skew)
        return Check("fail", text[0].upper() + text[1:], skewFix(skew))
    running = runningVersion(ctx.health, state)
    if running is None:
        return Check(
            "info", f"Version: the gateway does not say which it runs ({__version__} is installed)"
        )
    return Check("pass", f"Version: the gateway runs mcpgateway {running}, the one installed")

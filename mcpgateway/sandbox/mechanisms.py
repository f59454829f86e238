# -*- test-case-name: tests.sandbox.test_mechanism -*-
"""The confinement mechanisms by name: the one the gateway's
C{--sandbox bubblewrap} or C{landlock} forces (L{FORCED}), and why one
does not work here, as the probe found (L{unworkable}).

What the gateway itself reads of the probe (L{mcpgateway.sandbox.confine}):
the probe's own machinery (L{mcpgateway.sandbox.probe}, bubblewrap's
layout, the system-call filter) runs in the launcher, and the gateway
does not load it. Standard library only: the probe imports it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from typing import Any

BWRAP = "bwrap"
LANDLOCK_NEEDED = (
    "Landlock needs Linux 5.13 or later, enabled (lsm=landlock) and not refused by seccomp"
)
FORCED = {"bubblewrap": BWRAP, "landlock": "landlock"}
"""The words of the gateway's C{--sandbox} that choose one mechanism, and
the mechanism each chooses (its children get it or fail to start, never run
unconfined)."""


def unworkable(found: dict[str, Any], mechanism: str) -> str | None:
    """Why C{mechanism} (C{bwrap}, C{landlock}) does not confine children
    here, as the probe C{found}; C{None}: it does."""
    if mechanism == BWRAP:
        bw = found.get("bwrap") or {}
        return None if bw.get("works") else str(bw.get("error") or "bubblewrap does not work")
    if mechanism == "landlock":
        landlock = found.get("landlock") or {}
        return None if landlock.get("abi") else str(landlock.get("error") or LANDLOCK_NEEDED)
    return None if found.get("mechanism") == mechanism else f"{mechanism} does not work here"

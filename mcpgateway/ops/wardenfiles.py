# -*- test-case-name: tests.ops.test_warden -*-
"""Where a gateway's warden keeps what outlives the gateway in the state
directory: its socket, the secret it asks the next gateway for, and its
report. Standard library only: the command line reads them (C{status},
C{doctor}, C{stop} after a crash) without loading Twisted, and the gateway
(L{mcpgateway.ops.warden}, L{mcpgateway.ops.crashkeep}) alike."""

from __future__ import annotations

import os
import stat
from pathlib import Path

SOCKET = "warden.sock"
"""Where, in the state directory, a warden that keeps a crashed gateway's
children waits for the next gateway (L{mcpgateway.ops.crashkeep.CrashAdoption})."""
KEY = "warden.key"
"""Where, in the state directory (mode 0600; masked for every confined
child, as the whole state directory is), a gateway keeps the secret its
warden asks the next gateway for before it hands it the children: only
a gateway of this state directory reads it."""
REPORT = "warden-report.json"
"""Where, in the state directory, a warden that stopped children no
gateway took says which, and why (L{mcpgateway.ops.anew})."""


def readKey(stateDir: Path) -> bytes:
    """The secret of the gateway before this one on C{stateDir} (L{KEY}),
    read before this process's own warden replaces it; C{b""}: none."""
    try:
        with open(stateDir / KEY, "rb") as f:
            return f.read(256).strip()
    except OSError:
        return b""


def wardenWaits(stateDir: Path) -> bool:
    """Whether a warden's socket is in C{stateDir} (a crashed gateway's
    warden may wait there with its children)."""
    try:
        return stat.S_ISSOCK(os.lstat(stateDir / SOCKET).st_mode)
    except OSError:
        return False

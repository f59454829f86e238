"""L{left}: the live processes whose environment or command line holds a
token, so that what a gateway started (its children, its installers, what
they started, in their sandbox too: each inherits the gateway's
environment) can be counted once the gateway is gone, wherever it went.

Standard library and L{mcpgateway} only: the benchmarks use it too
(C{benchmarks/restartfresh.py}), in an interpreter without pytest."""

from __future__ import annotations

import os

from mcpgateway.ops.statedir import pidAlive


def left(token: str) -> list[str]:
    """The live processes (this one aside) whose environment or command
    line holds C{token}: their pid and command line."""
    found = []
    needle = token.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read()
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if needle in command + environ and pidAlive(int(entry)):
            shown = command.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry}: {shown}")
    return found

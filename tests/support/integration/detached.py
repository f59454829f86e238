"""What tests/integration/cli/test_detached.py shares with the other tests:
environment, freePort, gatewayPids."""

from __future__ import annotations

import os
from pathlib import Path

from mcpgateway.ops.statedir import pidAlive
from tests.integration.gateway import REPO
from tests.integration.gateway import freePort as freePort  # one per worker


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "HOME": str(home),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    for name in ("MCPGATEWAY_HOME", "NO_COLOR", "http_proxy", "HTTP_PROXY"):
        env.pop(name, None)
    env.update(extra)
    return env


def gatewayPids(marker: Path) -> list[int]:
    """Live processes whose command line names C{marker} (our state dir)."""
    found = []
    needle = os.fsencode(str(marker))
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if needle in f.read() and pidAlive(int(entry)):
                        found.append(int(entry))
            except OSError:
                continue
    return found

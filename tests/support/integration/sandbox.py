"""What tests/integration/sandbox/test_sandbox.py shares with the other tests:
confinedChildren."""

from __future__ import annotations

import os

from tests.integration.gateway import RunningGateway
from tests.integration.sandboxkit import childPids, commandOf


def confinedChildren(gateway: RunningGateway) -> list[list[str]]:
    """The command lines of the gateway's children that run in bubblewrap."""
    commands = [commandOf(pid) for pid in childPids(gateway.process.pid)]
    return [c for c in commands if c and os.path.basename(c[0]) == "bwrap"]

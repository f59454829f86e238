"""A person's part in the flow rule's integration tests: the
C{mcpgateway approvals} CLI run against a real gateway's home (L{cli}),
and the first held call allowed with it (L{allowFirstHeld})."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.integration.gateway import gatewayEnv


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """C{python -m mcpgateway.cli ARGS} against the gateway of C{home}."""
    return subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", *args],
        env=gatewayEnv(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=90,
    )


def allowFirstHeld(home: Path, deadline: float) -> dict[str, Any]:
    """Poll C{approvals list} until a call waits, then allow it with the
    CLI: the call as the list showed it."""
    while time.monotonic() < deadline:
        listed = cli(home, "approvals", "list", "--json")
        if listed.returncode == 0:
            pending = json.loads(listed.stdout)["pending"]
            if pending:
                allowed = cli(home, "approvals", "allow", pending[0]["id"])
                assert allowed.returncode == 0, allowed.stderr
                return dict(pending[0])
        time.sleep(0.5)
    raise AssertionError("no call was held")

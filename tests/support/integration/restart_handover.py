"""What tests/integration/continuity/test_restart_handover.py shares with the other tests:
cli, freePort, state."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.integration.gateway import freePort as freePort  # one per worker
from tests.integration.gateway import gatewayEnv


def cli(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = gatewayEnv(home)
    return subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", *args],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def state(home: Path) -> dict[str, Any]:
    return json.loads((home / "state" / "state.json").read_text())  # type: ignore[no-any-return]

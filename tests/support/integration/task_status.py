"""What tests/integration/tasks/test_task_status.py shares with the other tests:
start."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.integration.gateway import REPO, RunningGateway, writeConfig

FIXTURE = REPO / "tests" / "fixtures" / "conformance_server.py"


def start(home: Path, *extra: str) -> RunningGateway:
    config = writeConfig(
        home / "servers.json",
        {"conformance": {"command": sys.executable, "args": [str(FIXTURE)]}},
    )
    return RunningGateway(["--config", str(config), *extra], home)

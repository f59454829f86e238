"""What tests/integration/bridge/test_bridge.py shares with the other tests: DEMO,
freePort."""

from __future__ import annotations

import sys

from tests.integration.gateway import freePort as freePort  # one per worker

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}

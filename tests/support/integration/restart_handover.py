"""What tests/integration/continuity/test_restart_handover.py shares with the other tests:
cli, freePort, state (those of L{tests.integration.restartkit})."""

from __future__ import annotations

from tests.integration.restartkit import cli as cli
from tests.integration.restartkit import freePort as freePort  # one per worker
from tests.integration.restartkit import state as state

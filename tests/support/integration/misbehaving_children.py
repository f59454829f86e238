"""What tests/integration/children/test_misbehaving_children.py shares with the other
tests: MISBEHAVING, alive."""

from __future__ import annotations

import os

from tests.integration.gateway import REPO

MISBEHAVING = REPO / "tests" / "fixtures" / "misbehaving_server.py"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

"""What tests/integration/children/test_misbehaving_children.py shares with the other
tests: MISBEHAVING, alive, closingStdout."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from tests.integration.gateway import REPO, RunningGateway, callEcho, errorText

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


def closingStdout(gateway: RunningGateway) -> tuple[int, dict[str, Any]]:
    """Ask the server C{mute} (the fixture with C{--close-stdout}) to close
    its stdout: the call fails at once, not after the request timeout,
    saying so. Its child's pid before, and its health after."""
    [pid] = gateway.health()["servers"]["mute"]["pids"]
    began = time.monotonic()
    with pytest.raises(Exception) as raised:
        callEcho(gateway.url("mute"), "close")
    elapsed = time.monotonic() - began
    assert elapsed < 10, elapsed  # at once, not after the 30 s request timeout
    assert "closed its stdout" in errorText(raised.value)
    return pid, gateway.health()["servers"]["mute"]

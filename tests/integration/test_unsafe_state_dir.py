"""A state directory other users can write in is refused at start, in one
line, by C{mcpgateway start} and by the gateway run by hand."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.gateway import REPO, twistdCommand

pytestmark = pytest.mark.integration


def test_a_group_writable_state_directory_is_refused_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    state = home / "state"
    state.mkdir(parents=True)
    state.chmod(0o770)
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("MCPGATEWAY_HOME", None)
    started = subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", "start", "--state-dir", str(state)],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1 and f"chmod 700 {state}" in lines[0], started.stderr
    byHand = subprocess.run(
        [*twistdCommand(), "--port", "tcp:0:interface=127.0.0.1", "--state-dir", str(state)],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert byHand.returncode != 0
    assert f"chmod 700 {state}" in byHand.stderr + byHand.stdout

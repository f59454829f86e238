"""The README's commands run on the gateway's own reactor (the one
C{mcpgateway start} uses), and a reactor the user names is kept."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.tuned import reactor
from tests.integration.gateway import REPO, RunningGateway, twistCommand, twistdCommand

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("defaultTwisted")]

GATEWAYS = "mcpgateway.tuned.reactor.GatewayReactor"


@pytest.mark.skipif(not reactor.AVAILABLE, reason="the gateway's reactor needs epoll")
@pytest.mark.parametrize("runner", ["twistd", "twist"])
def test_the_readmes_commands_run_on_the_gateways_reactor(
    start: Any, home: Path, runner: str
) -> None:
    command = twistdCommand() if runner == "twistd" else twistCommand()
    gateway: RunningGateway = start(command=command)
    assert f"reactor: {GATEWAYS}" in gateway.text()
    assert gateway.health()["status"] == "ok"


def test_a_reactor_named_on_the_command_line_is_kept(start: Any, home: Path) -> None:
    command = twistdCommand()
    named = [*command[:-1], "--reactor=poll", command[-1]]
    gateway: RunningGateway = start(command=named)
    assert "reactor: twisted.internet.pollreactor.PollReactor" in gateway.text()
    assert json.dumps(gateway.health())


@pytest.mark.skipif(not reactor.AVAILABLE, reason="the gateway's reactor needs epoll")
def test_the_tac_file_runs_on_the_gateways_reactor(home: Path) -> None:
    tac = home / "gw.tac"
    tac.write_text(
        (REPO / "deploy" / "mcpgateway.tac")
        .read_text()
        .replace('"--port", "9100"', '"--port", "tcp:0:interface=127.0.0.1"')
    )
    env = {**os.environ, "HOME": str(home), "MCPGATEWAY_HOME": str(home / "state")}
    env["PYTHONPATH"] = str(REPO)
    process = subprocess.Popen(
        [*twistdCommand()[:3], "-ny", str(tac), "--pidfile="],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        seen = b""
        deadline = time.monotonic() + 30
        while b"listening on" not in seen and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen += line
        assert f"reactor: {GATEWAYS}".encode() in seen, seen.decode(errors="replace")
    finally:
        process.terminate()
        process.wait(20)

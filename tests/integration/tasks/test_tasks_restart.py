"""Tasks across C{mcpgateway restart}, the detached path a user takes: the
old process lets a task's call that ends during its drain keep its result,
cuts one that does not (failed, saying so), and the new process answers
both once the old one has exited; a poll that reaches it before then waits
instead of finding no such task."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.integration.restartkit import cliGateway
from tests.support.integration.restart_handover import cli
from tests.support.integration.tasks import Client2026

pytestmark = pytest.mark.integration
DEMO = {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}}


def test_tasks_through_mcpgateway_restart(home: Path) -> None:
    config = home / "servers.json"
    config.write_text(json.dumps({"mcpServers": DEMO}))
    with cliGateway(home, "--config", str(config)) as port:
        client = Client2026(f"http://127.0.0.1:{port}/demo/mcp")
        short = client.call("slow", {"seconds": 2, "steps": 2})
        long = client.call("slow", {"seconds": 30, "steps": 3})
        assert short["resultType"] == long["resultType"] == "task", (short, long)
        restarted = cli(home, "restart")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        # A poll the old process still accepts shows the task running (it is); one the
        # new process takes waits until the old one has exited; none is "unknown".
        kept = client.until(short["taskId"], "completed", "failed")
        assert kept["status"] == "completed", kept
        assert kept["result"]["content"][0]["text"] == "done after 2 steps"
        cut = client.until(long["taskId"], "completed", "failed")
        assert cut["status"] == "failed", cut
        assert "the gateway stopped while the task ran" in cut["error"]["message"]

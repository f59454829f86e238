"""The 2025-11-25 experimental tasks, made by the gateway for a handshake
stdio child that serves none, driven by the TypeScript SDK 1.x's own tasks
client (client.experimental.tasks): the capability and the tools'
taskSupport are announced, a slow call runs as a task to its result
(taskCreated, status, result), tasks/get, tasks/result and tasks/list read
it back, and tasks/cancel cancels a running one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.continuitykit import tsEnvironment
from tests.integration.gateway import REPO, RunningGateway, writeConfig

pytestmark = [pytest.mark.integration, pytest.mark.front]
FIXTURE = REPO / "tests" / "fixtures" / "conformance_server.py"
TS_CLIENT = Path(__file__).parents[1] / "clients" / "ts_tasks_2025.mjs"


def start(home: Path) -> RunningGateway:
    config = writeConfig(
        home / "servers.json",
        {"conformance": {"command": sys.executable, "args": [str(FIXTURE)]}},
    )
    return RunningGateway(["--config", str(config)], home)


def test_the_typescript_sdks_tasks_client_runs_a_handshake_tool_as_a_task(home: Path) -> None:
    env = tsEnvironment()
    gateway = start(home)
    try:
        done = subprocess.run(
            ["node", str(TS_CLIENT), gateway.url("conformance")],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr + gateway.text()[-3000:]
        seen: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        gateway.stop()
    assert seen["serverTasks"]["requests"] == {"tools": {"call": {}}}, seen
    assert seen["slowExecution"] == {"taskSupport": "optional"}, seen
    assert seen["messages"][0] == "taskCreated" and seen["messages"][-1] == "result", seen
    assert seen["result"] and seen["result"] == seen["resultAgain"], seen
    assert seen["got"] == "completed" and seen["taskId"] in seen["listed"], seen
    assert seen["cancelled"] == "cancelled" and seen["afterCancel"] == "cancelled", seen
    # The child's question during a task: tagged with the task, which waits
    # as input_required until the client answers, then completes.
    assert seen["questions"] == [{"related": seen["askingTask"], "status": "input_required"}]
    assert "notes.txt" in seen["asked"] and seen["afterAnswer"] == "completed", seen

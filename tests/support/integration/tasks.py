"""What tests/integration/tasks/test_tasks.py shares with the other tests:
Client2026, start."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from mcpgateway.core.taskterms import EXTENSION
from tests.integration.gateway import REPO, RunningGateway, writeConfig
from tests.support import mcpclient

FIXTURE = REPO / "tests" / "fixtures" / "conformance_server.py"


class Client2026(mcpclient.Client2026):
    """Posts MCP 2026-07-28 requests that declare the tasks extension."""

    def __init__(self, url: str, authorization: str | None = None) -> None:
        headers = {} if authorization is None else {"authorization": authorization}
        capabilities: dict[str, Any] = {"elicitation": {"form": {}}, "extensions": {EXTENSION: {}}}
        super().__init__(url, capabilities, headers, name="tasks-test")

    def get(self, taskId: str) -> dict[str, Any]:
        answer = self.request("tasks/get", {"taskId": taskId}, taskId)
        assert "result" in answer, answer
        return answer["result"]  # type: ignore[no-any-return]

    def listen(self, taskId: str) -> list[dict[str, Any]]:
        """A C{subscriptions/listen} naming C{taskId}, read to its end:
        every message of its stream."""
        notifications = {"notifications": {"taskIds": [taskId]}}
        reply = self.send("subscriptions/listen", notifications, requestId="listen-1")
        assert reply.status == 200, reply.text
        return reply.messages

    def until(self, taskId: str, *statuses: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.get(taskId)
            if shown["status"] in statuses or time.monotonic() > deadline:
                return shown
            time.sleep(0.1)


def start(home: Path, *extra: str) -> RunningGateway:
    config = writeConfig(
        home / "servers.json",
        {"conformance": {"command": sys.executable, "args": [str(FIXTURE)]}},
    )
    return RunningGateway(["--config", str(config), *extra], home)

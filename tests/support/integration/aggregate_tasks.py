"""What tests/integration/aggregate/test_aggregate_tasks.py shares with the other tests:
Client."""

from __future__ import annotations

from typing import Any

from tests.support import mcpclient
from tests.support.integration.aggregate_shield import VERSION

TOOL = "everything__simulate-research-query"


class Client(mcpclient.Session):
    """One raw C{/mcp} session."""

    def __init__(self, url: str) -> None:
        super().__init__(url, VERSION, timeout=60, name="tasks")
        tasks: dict[str, Any] = {"tasks": {"requests": {"tools": {"call": {}}}}}
        self.capabilities: dict[str, Any] = self.open(tasks)["capabilities"]
        assert self.id is not None
        self.sid: str = self.id

    def request(
        self, method: str, params: dict[str, Any] | None = None, requestId: Any = None
    ) -> Any:
        answer = super().request(method, params, requestId)
        assert isinstance(answer, dict), answer
        return answer

    def start(self, topic: str) -> str:
        answer = self.request(
            "tools/call", {"name": TOOL, "arguments": {"topic": topic}, "task": {"ttl": 60000}}
        )
        assert answer["result"]["task"]["status"] == "working", answer
        return str(answer["result"]["task"]["taskId"])

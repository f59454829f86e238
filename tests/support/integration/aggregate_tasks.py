"""What tests/integration/aggregate/test_aggregate_tasks.py shares with the other tests:
Client."""

from __future__ import annotations

from typing import Any

from tests.http import initializeMessage
from tests.support.integration.aggregate_shield import VERSION, post

TOOL = "everything__simulate-research-query"


class Client:
    """One raw C{/mcp} session."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._ids = iter(range(1, 1000))
        answer, sid = post(
            url,
            initializeMessage(
                VERSION,
                {"tasks": {"requests": {"tools": {"call": {}}}}},
                {"name": "tasks", "version": "1"},
                requestId=0,
            ),
        )
        assert "result" in answer and sid, answer
        self.capabilities: dict[str, Any] = answer["result"]["capabilities"]
        self.sid = sid
        post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        message = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        answer, _ = post(self.url, message, self.sid)
        assert isinstance(answer, dict), answer
        return answer

    def start(self, topic: str) -> str:
        answer = self.request(
            "tools/call", {"name": TOOL, "arguments": {"topic": topic}, "task": {"ttl": 60000}}
        )
        assert answer["result"]["task"]["status"] == "working", answer
        return str(answer["result"]["task"]["taskId"])

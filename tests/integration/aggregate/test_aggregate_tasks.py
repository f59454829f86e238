"""Tasks through C{/mcp} with the real server-everything: its
C{simulate-research-query} (C{execution.taskSupport: "required"}) is called
as a task through the aggregate endpoint, then polled, listed, fetched and
cancelled on the same C{/mcp} session under an id of the gateway's own
(the related-task tag of its result says that id too), and another C{/mcp}
session can neither see nor reach it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import RunningGateway, writeConfig
from tests.support.integration.aggregate_tasks import TOOL, Client

pytestmark = pytest.mark.integration

RELATED = "io.modelcontextprotocol/related-task"


def test_a_task_through_mcp_is_polled_listed_fetched_and_cancelled(
    start: Any, home: Path, everything: list[str]
) -> None:
    config = writeConfig(
        home / "servers.json", {"everything": {"command": everything[0], "args": everything[1:]}}
    )
    gateway: RunningGateway = start("--config", str(config))
    url = f"http://127.0.0.1:{gateway.port}/mcp"
    mine = Client(url)
    assert mine.capabilities["tasks"]["requests"] == {"tools": {"call": {}}}, mine.capabilities
    tools = {t["name"]: t for t in mine.request("tools/list", {})["result"]["tools"]}
    assert tools[TOOL]["execution"] == {"taskSupport": "required"}

    done = mine.start("gateways")
    assert done.startswith("mcpgateway-task-"), done  # the gateway's own, not the child's
    polled = mine.request("tasks/get", {"taskId": done})["result"]
    assert polled["taskId"] == done and polled["status"] in ("working", "completed"), polled
    cancelled = mine.start("to cancel")
    answer = mine.request("tasks/cancel", {"taskId": cancelled})
    assert answer["result"]["status"] == "cancelled", answer

    listed = mine.request("tasks/list", {})["result"]
    assert [t["taskId"] for t in listed["tasks"]] == [done, cancelled], listed
    assert listed["tasks"][1]["status"] == "cancelled", listed

    theirs = Client(url)
    for method in ("tasks/get", "tasks/result", "tasks/cancel"):
        refused = theirs.request(method, {"taskId": done})
        assert refused["error"]["code"] == -32602, (method, refused)
    assert theirs.request("tasks/list", {})["result"]["tasks"] == []

    result = mine.request("tasks/result", {"taskId": done})["result"]  # blocks ~4 s
    assert "Research Report: gateways" in result["content"][0]["text"], result
    assert result["_meta"][RELATED] == {"taskId": done}, result
    final = mine.request("tasks/get", {"taskId": done})["result"]
    assert final["status"] == "completed", final
    unknown = mine.request("tasks/get", {"taskId": "no-such-task"})
    assert unknown["error"]["code"] == -32602, unknown

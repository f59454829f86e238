"""Tasks of a child that keeps tasks itself, for real: server-everything
(from the npm registry) declares MCP 2025-11-25 tasks and marks its
C{simulate-research-query} tool C{"taskSupport": "required"}, so it refuses
a plain call. A 2026-07-28 client that declares the Tasks extension runs it
through the gateway as a task of the gateway's (its id never the child's),
polls it to the child's result, answers the child's clarifying question
(an elicitation tagged with the child's task) through C{tasks/update}, and
cancels it; a client without the extension is told it needs it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mcpgateway.core.taskterms import EXTENSION
from tests.integration.gateway import RunningGateway, writeConfig
from tests.support.integration.task_gateway import clientOf

pytestmark = pytest.mark.integration

TOOL = "simulate-research-query"


def start(home: Path, everything: list[str]) -> RunningGateway:
    command, *args = everything
    config = writeConfig(
        home / "servers.json", {"everything": {"command": command, "args": args, "share": "global"}}
    )
    return RunningGateway(["--config", str(config)], home)


def test_a_required_task_tool_runs_as_the_childs_task(home: Path, everything: list[str]) -> None:
    with clientOf(start(home, everything), "everything") as client:
        answer = client.request("tools/list", {})
        assert "result" in answer, answer
        listed = answer["result"]["tools"]
        assert TOOL in [tool["name"] for tool in listed]
        handle = client.call(TOOL, {"topic": "gateways"})
        assert handle["resultType"] == "task", handle
        taskId = handle["taskId"]
        shown = client.until(taskId, "working", timeout=5)
        assert shown["status"] == "working"
        done = client.until(taskId, "completed", "failed", timeout=30)
        assert done["status"] == "completed", done
        text = done["result"]["content"][0]["text"]
        assert "Research Report: gateways" in text
        assert "io.modelcontextprotocol/related-task" not in done["result"].get("_meta", {})


def test_the_childs_question_is_the_tasks_input_required(home: Path, everything: list[str]) -> None:
    with clientOf(start(home, everything), "everything") as client:
        handle = client.call(TOOL, {"topic": "python", "ambiguous": True})
        taskId = handle["taskId"]
        waiting = client.until(taskId, "input_required", "completed", "failed", timeout=30)
        assert waiting["status"] == "input_required", waiting
        [key] = waiting["inputRequests"]
        question = waiting["inputRequests"][key]
        assert question["method"] == "elicitation/create"
        assert "python" in question["params"]["message"]
        ack = client.request(
            "tasks/update",
            {
                "taskId": taskId,
                "inputResponses": {
                    key: {"action": "accept", "content": {"interpretation": "snake"}}
                },
            },
            taskId,
        )
        assert ack["result"] == {"resultType": "complete"}
        done = client.until(taskId, "completed", "failed", timeout=30)
        assert done["status"] == "completed", done
        assert "Clarification**: snake" in done["result"]["content"][0]["text"]


def test_cancelling_the_task_cancels_the_childs_task(home: Path, everything: list[str]) -> None:
    with clientOf(start(home, everything), "everything") as client:
        taskId = client.call(TOOL, {"topic": "cancelled"})["taskId"]
        ack = client.request("tasks/cancel", {"taskId": taskId}, taskId)
        assert ack["result"] == {"resultType": "complete"}
        assert client.get(taskId)["status"] == "cancelled"
        again = client.call(TOOL, {"topic": "after"})
        done = client.until(again["taskId"], "completed", "failed", timeout=30)
        assert done["status"] == "completed", done


def test_a_client_without_the_extension_is_told_it_needs_it(
    home: Path, everything: list[str]
) -> None:
    with clientOf(start(home, everything), "everything") as client:
        client.capabilities = {}
        answer = client.request("tools/call", {"name": TOOL, "arguments": {"topic": "x"}}, TOOL)
        assert answer["error"]["code"] == -32021, answer
        assert re.search(EXTENSION, answer["error"]["message"])


def test_on_the_one_endpoint_too(home: Path, everything: list[str]) -> None:
    with clientOf(start(home, everything), None) as client:
        handle = client.call(f"everything__{TOOL}", {"topic": "one endpoint"})
        assert handle["resultType"] == "task", handle
        done = client.until(handle["taskId"], "completed", "failed", timeout=30)
        assert done["status"] == "completed", done
        assert "Research Report: one endpoint" in done["result"]["content"][0]["text"]

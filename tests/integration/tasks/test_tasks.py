"""Tasks (the MCP Tasks extension, 2026-07-28) in front of a handshake stdio
child, for real: a real gateway (C{twist}), the stdio conformance fixture
as the child, and a raw 2026-07-28 HTTP client (the Python SDK has no
client of the extension). A slow tool becomes a task that a client polls to
its result; a question of the child's is answered through tasks/update;
tasks/cancel ends the task; a finished task's result outlives a restart,
and a task cut by a SIGKILL is failed in the next gateway, saying why,
never run again."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from mcpgateway.core.tasks.keeping import CUT_BY_RESTART
from tests.support.integration.task_gateway import clientOf
from tests.support.integration.tasks import Client2026, start

pytestmark = pytest.mark.integration


def test_a_slow_tool_becomes_a_task_polled_to_its_result(home: Path) -> None:
    with clientOf(start(home), "conformance") as client:
        quick = client.call("greet", {"name": "World"})
        assert quick["resultType"] == "complete" and "taskId" not in quick
        handle = client.call("slow_compute", {"seconds": 1.5, "label": "poll"})
        assert handle["resultType"] == "task" and handle["status"] == "working"
        assert client.get(handle["taskId"])["status"] in ("working", "completed")
        done = client.until(handle["taskId"], "completed", "failed")
        assert done["status"] == "completed", done
        assert done["result"]["content"][0]["type"] == "text"


def test_a_task_outlasts_the_request_timeout(home: Path) -> None:
    # The timeout leaves room for the child's own start (confined, on a loaded
    # machine, its handshake can take more than a second); the task runs well past it.
    with clientOf(start(home, "--request-timeout", "3"), "conformance") as client:
        handle = client.call("slow_compute", {"seconds": 6.5, "label": "long"})
        done = client.until(handle["taskId"], "completed", "failed")
        assert done["status"] == "completed", done
        assert done["result"]["content"][0]["text"] == "computed long after 6.5s"


def test_a_childs_question_is_answered_through_tasks_update(home: Path) -> None:
    with clientOf(start(home), "conformance") as client:
        handle = client.call("confirm_delete", {"filename": "notes.txt"})
        taskId = handle["taskId"]
        waiting = client.until(taskId, "input_required")
        assert waiting["status"] == "input_required", waiting
        [key] = waiting["inputRequests"]
        assert waiting["inputRequests"][key]["method"] == "elicitation/create"
        ack = client.request(
            "tasks/update",
            {
                "taskId": taskId,
                "inputResponses": {key: {"action": "accept", "content": {"confirm": True}}},
            },
            taskId,
        )
        assert ack["result"] == {"resultType": "complete"}
        done = client.until(taskId, "completed", "failed")
        assert done["status"] == "completed", done
        assert "notes.txt" in done["result"]["content"][0]["text"]


def test_cancel_ends_the_task_and_the_gateway_goes_on(home: Path) -> None:
    with clientOf(start(home), "conformance") as client:
        taskId = client.call("slow_compute", {"seconds": 60, "label": "cancel"})["taskId"]
        ack = client.request("tasks/cancel", {"taskId": taskId}, taskId)
        assert ack["result"] == {"resultType": "complete"}
        assert client.get(taskId)["status"] == "cancelled"
        assert client.call("greet", {"name": "again"})["resultType"] == "complete"


def test_a_result_outlives_a_restart_and_a_cut_task_is_failed_saying_why(home: Path) -> None:
    gateway = start(home)
    client = Client2026(gateway.url("conformance"))
    finished = client.call("slow_compute", {"seconds": 1, "label": "kept"})["taskId"]
    assert client.until(finished, "completed")["status"] == "completed"
    cut = client.call("slow_compute", {"seconds": 60, "label": "cut"})["taskId"]
    gateway.process.send_signal(signal.SIGKILL)
    gateway.process.wait(10)
    with clientOf(start(home), "conformance") as client:
        kept = client.get(finished)
        assert kept["status"] == "completed" and kept["result"]["content"]
        failed = client.get(cut)
        assert failed["status"] == "failed"
        assert failed["error"]["message"] == CUT_BY_RESTART

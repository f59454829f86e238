"""A task whose time to live runs out while its call runs, for real: a real
gateway (C{twist}, C{--task-ttl 3}) in front of the stdio conformance
fixture, a call that outlasts its task's time to live, and a
C{subscriptions/listen} naming the task. Once the time is over (a
C{tasks/get} then finds the task gone), the listen hears the task's end,
C{failed} saying why, and ends with its graceful result: a listening
client is never left waiting on a task the gateway forgot."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.core.tasks.manager import TTL_OVER
from tests.support.integration.task_status import start
from tests.support.integration.tasks import Client2026

pytestmark = pytest.mark.integration


def test_a_listen_hears_the_end_of_a_task_whose_time_to_live_ran_out(home: Path) -> None:
    gateway = start(home, "--task-ttl", "3")
    frames: list[dict[str, Any]] = []
    try:
        url = gateway.url("conformance")
        client = Client2026(url)
        handle = client.call("slow_compute", {"seconds": 30, "label": "outlived"})
        assert handle["resultType"] == "task", handle
        taskId = handle["taskId"]
        listening = threading.Thread(target=lambda: frames.extend(Client2026(url).listen(taskId)))
        listening.start()
        time.sleep(3.5)  # past the task's time to live
        gone = client.request("tasks/get", {"taskId": taskId}, taskId)
        listening.join(25)
        assert not listening.is_alive(), "the listen never ended"
    finally:
        gateway.stop()
    log = gateway.text()[-3000:]
    assert gone["error"]["code"] == -32602, (gone, log)
    ack, *told, end = frames
    assert ack["method"] == "notifications/subscriptions/acknowledged", frames
    assert [frame["params"]["status"] for frame in told] == ["working", "failed"], frames
    assert told[-1]["params"]["statusMessage"] == TTL_OVER
    assert end["id"] == "listen-1" and end["result"]["resultType"] == "complete", frames

"""A 2025-11-25 task-augmented call on server-everything as users run it
(its default share: a child per session, initialized with the client's own
C{initialize}) reaches the child with its augmentation, as on a shared
child: the child itself makes the task of its C{"taskSupport": "required"}
tool C{simulate-research-query}, and C{tasks/result} gives its report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import RunningGateway, writeConfig
from tests.support.mcpclient import Session

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("share", [None, "global"])
def test_a_task_augmented_call_keeps_its_augmentation(
    home: Path, everything: list[str], share: str | None
) -> None:
    command, *args = everything
    entry: dict[str, Any] = {"command": command, "args": args}
    if share is not None:
        entry["share"] = share
    config = writeConfig(home / "servers.json", {"everything": entry})
    gateway = RunningGateway(["--config", str(config), "--sandbox", "off"], home)
    try:
        url = gateway.url("everything")
        session = Session(url, timeout=60, name="tasks-test")
        opened = session.open({"tasks": {}})
        assert session.id and opened, opened
        call = {"name": "simulate-research-query", "arguments": {"topic": "gateways"}, "task": {}}
        created = session.request("tools/call", call, 2)
        task = created["result"]["task"]
        result = session.request("tasks/result", {"taskId": task["taskId"]}, 3)
        text = json.dumps(result)
        assert "requires task augmentation" not in text, result
        assert "Research Report: gateways" in text, result
    finally:
        gateway.stop()

"""A 2025-11-25 task-augmented call on server-everything as users run it
(its default share: a child per session, initialized with the client's own
C{initialize}) reaches the child with its augmentation, as on a shared
child: the child itself makes the task of its C{"taskSupport": "required"}
tool C{simulate-research-query}, and C{tasks/result} gives its report."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import RunningGateway, writeConfig

pytestmark = pytest.mark.integration

VERSION = "2025-11-25"


def post(url: str, body: dict[str, Any], session: str | None = None) -> tuple[str | None, Any]:
    """One POST: the session id it gives and the JSON-RPC answer in it (a
    plain body, or the last answer of an SSE stream)."""
    headers = {
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": VERSION,
    }
    if session is not None:
        headers["mcp-session-id"] = session
    request = urllib.request.Request(url, json.dumps(body).encode(), headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read().decode("utf-8")
        sid = response.headers.get("mcp-session-id")
    if not text.strip():
        return sid, None
    if text.lstrip().startswith("{"):
        return sid, json.loads(text)
    messages = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    answers = [m for m in messages if "id" in m and ("result" in m or "error" in m)]
    return sid, answers[-1] if answers else None


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
        initialize = {
            "protocolVersion": VERSION,
            "capabilities": {"tasks": {}},
            "clientInfo": {"name": "tasks-test", "version": "1"},
        }
        sid, opened = post(
            url, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize}
        )
        assert sid and "result" in opened, opened
        post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
        call = {"name": "simulate-research-query", "arguments": {"topic": "gateways"}, "task": {}}
        _, created = post(
            url, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call}, sid
        )
        task = created["result"]["task"]
        _, result = post(
            url,
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tasks/result",
                "params": {"taskId": task["taskId"]},
            },
            sid,
        )
        text = json.dumps(result)
        assert "requires task augmentation" not in text, result
        assert "Research Report: gateways" in text, result
    finally:
        gateway.stop()

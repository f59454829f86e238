"""What tests/integration/tasks/test_tasks.py shares with the other tests:
Client2026, start."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from mcpgateway.core.taskterms import EXTENSION
from tests.integration.gateway import REPO, RunningGateway, writeConfig

FIXTURE = REPO / "tests" / "fixtures" / "conformance_server.py"
VERSION = "2026-07-28"


class Client2026:
    """Posts MCP 2026-07-28 requests that declare the tasks extension."""

    def __init__(self, url: str, authorization: str | None = None) -> None:
        self.url = url
        self.authorization = authorization
        self.ids = 0
        self.capabilities: dict[str, Any] = {
            "elicitation": {"form": {}},
            "extensions": {EXTENSION: {}},
        }

    def request(self, method: str, params: dict[str, Any], name: str | None = None) -> Any:
        self.ids += 1
        meta = {
            "io.modelcontextprotocol/protocolVersion": VERSION,
            "io.modelcontextprotocol/clientCapabilities": self.capabilities,
            "io.modelcontextprotocol/clientInfo": {"name": "tasks-test", "version": "1"},
        }
        body = {
            "jsonrpc": "2.0",
            "id": self.ids,
            "method": method,
            "params": {**params, "_meta": meta},
        }
        headers = {
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": VERSION,
            "mcp-method": method,
        }
        if name is not None:
            headers["mcp-name"] = name
        if self.authorization is not None:
            headers["authorization"] = self.authorization
        request = urllib.request.Request(
            self.url, json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read().decode()
                kind = response.headers.get("content-type", "")
        except urllib.error.HTTPError as e:
            raw, kind = e.read().decode(), e.headers.get("content-type", "")
        if "text/event-stream" in kind:
            datas = [line[5:].strip() for line in raw.splitlines() if line.startswith("data:")]
            answers = [json.loads(d) for d in datas if d and '"id"' in d]
            return answers[-1]
        return json.loads(raw)

    def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        answer = self.request("tools/call", {"name": tool, "arguments": arguments}, tool)
        assert "result" in answer, answer
        return answer["result"]  # type: ignore[no-any-return]

    def get(self, taskId: str) -> dict[str, Any]:
        answer = self.request("tasks/get", {"taskId": taskId}, taskId)
        assert "result" in answer, answer
        return answer["result"]  # type: ignore[no-any-return]

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

"""Hot reload while a client rewrites ~/.claude.json by rename 100 times a
second: a server added meanwhile is served within seconds, and
nothing the writer or the gateway wrote is lost."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import RunningGateway, callEcho, waitFor

pytestmark = pytest.mark.integration
DEMO = {"type": "stdio", "command": sys.executable, "args": ["-m", "mcpgateway.demo"], "env": {}}


class BusyWriter(threading.Thread):
    """Claude Code's shape of write, 100 times a second: read the latest
    content, change a key of its own, write a temp file, rename it over."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.add: dict[str, Any] = {}
        self.done = threading.Event()
        self.writes = 0

    def run(self) -> None:
        tmp = self.path.with_name(".claude.json.writer")
        while not self.done.is_set():
            try:
                data = json.loads(self.path.read_text())
            except (OSError, ValueError):
                continue
            data["numStartups"] += 1
            for name, entry in self.add.items():
                data["mcpServers"].setdefault(name, entry)
            tmp.write_text(json.dumps(data, indent=2))
            os.replace(tmp, self.path)
            self.writes += 1
            time.sleep(0.01)


def test_a_server_added_under_a_busy_writer_is_served_within_seconds(
    start: Any, home: Path
) -> None:
    config = home / ".claude.json"
    config.write_text(json.dumps({"numStartups": 0, "mcpServers": {"demo": DEMO}}, indent=2))
    gateway: RunningGateway = start("--rewrite-config")
    assert waitFor(lambda: "_mcp_gateway_ts" in config.read_text())
    writer = BusyWriter(config)
    writer.start()
    try:
        assert waitFor(lambda: writer.writes >= 20)  # the writer is busy
        added = time.monotonic()
        writer.add = {"late": dict(DEMO)}
        before = writer.writes
        assert waitFor(lambda: "late" in gateway.health()["servers"], timeout=8), gateway.text()[
            -3000:
        ]
        took = time.monotonic() - added
        # It wrote all along: the server was adopted under its writes, not
        # once they stopped (how many depends on the machine's load).
        assert writer.is_alive() and writer.writes > before + 5
    finally:
        writer.done.set()
        writer.join()
    assert took < 6, took
    assert callEcho(gateway.url("late"), "late") == "late"
    assert waitFor(
        lambda: json.loads(config.read_text())["mcpServers"]["late"].get("type") == "http",
        timeout=5,
    )
    count = json.loads(config.read_text())["numStartups"]
    gateway.stop()
    data = json.loads(config.read_text())
    assert data["numStartups"] == count  # the writer's last update kept
    assert data["mcpServers"] == {"demo": DEMO, "late": DEMO}
    assert "_mcp_gateway_ts" not in data

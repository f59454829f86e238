"""The gateway's C{/health} names the entries of its config it does not serve,
with their file and why, as the wiring builds it (the config service's
findings reach the site): what C{start}, C{status} and C{doctor} read."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mcpgateway import tap
from mcpgateway.startup import wiring
from tests.fakes import FakeProcessReactor
from tests.http import sendLines


def test_health_names_the_entries_not_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    # No door: it would ask the kernel who holds this in-memory connection.
    monkeypatch.setattr(wiring, "doorFor", lambda *args: None)
    config = tmp_path / "servers.json"
    demo = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
    config.write_text(json.dumps({"mcpServers": {"demo": demo, "bad": {"args": ["x"]}}}))
    options = tap.Options()
    options.parseOptions(
        ["--port", "9320", "--config", str(config), "--state-dir", str(tmp_path / "st")]
    )
    reactor = FakeProcessReactor()
    top = tap.makeService(options, reactor)
    top.startService()
    try:
        [site] = [factory for port, factory, _, _ in reactor.tcpServers if port == 9320]
        response = sendLines(site, ["GET /health HTTP/1.1", "Host: 127.0.0.1:9320"], b"")
        body = response.json()
        assert list(body["servers"]) == ["demo"]
        assert body["config"] == {
            "invalidEntries": [
                {
                    "server": "bad",
                    "file": str(config),
                    "scope": "gateway scope",
                    "why": "it has neither 'command' (a stdio server) nor 'url' (a remote one)",
                }
            ],
            "refusedFiles": [],
        }
    finally:
        top.stopService()

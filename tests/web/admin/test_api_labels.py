"""C{GET /api/v1/servers/<name>}'s C{labels}: the server's data-origin
labels and each listed tool's, with where each came from, before and after
its catalog is listed (a fake child answering on a fake clock)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess
from tests.support.web.api import FAKE, ApiHarness, logged

__all__ = ["logged"]  # the fixture, shared with test_api


def answerTools(proc: FakeProcess, tools: list[dict[str, Any]]) -> None:
    """Answer the child's handshake and its C{tools/list} with C{tools}."""
    for message in proc.takeMessages():
        method, mid = message.get("method"), message.get("id")
        if mid is None:
            continue
        if method == "initialize":
            result: dict[str, Any] = {
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "fake", "version": "0"},
            }
        elif method == "tools/list":
            result = {"tools": [{"inputSchema": {"type": "object"}, **t} for t in tools]}
        else:
            proc.reply(jsonrpc.errorResponse(mid, jsonrpc.METHOD_NOT_FOUND, "no"))
            continue
        proc.reply(jsonrpc.resultResponse(mid, result))
    if proc.sentMessages():
        answerTools(proc, tools)


@pytest.fixture
def h(tmp_path: Path, logged: list[Any]) -> Iterator[ApiHarness]:
    yield ApiHarness(
        tmp_path / "state",
        mainServers={
            "files": {
                "command": FAKE,
                "args": ["/x/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"],
                "labels": {"tools": {"write_file": ["egress"]}},
            },
        },
    )


def test_a_servers_labels_before_and_after_its_tools_are_listed(h: ApiHarness) -> None:
    catalogs = Catalogs(h.reactor, timeout=10.0)
    h.gateway.catalogs = catalogs
    for pool in h.gateway.pools.values():
        catalogs.attach(pool)
    before = h.api("GET", "/servers/files").json()["labels"]
    assert before == {
        "labels": [],
        "source": "table",
        "row": "filesystem",
        "entry": {"tools": {"write_file": ["egress"]}},
        "tools": None,
    }
    refreshing = h.api("POST", "/catalog/refresh", {"servers": ["files"]})
    h.reactor.advance(0.25)
    answerTools(
        h.process(),
        [
            {"name": "read_text_file", "annotations": {"readOnlyHint": True}},
            {"name": "write_file"},
        ],
    )
    assert refreshing.status == 200, refreshing.body
    after = h.api("GET", "/servers/files").json()["labels"]
    assert after["labels"] == ["private", "egress"]
    assert after["tools"] == {
        "read_text_file": {"labels": ["private"], "source": "table", "row": "filesystem"},
        "write_file": {"labels": ["egress"], "source": "entry", "row": ""},
    }

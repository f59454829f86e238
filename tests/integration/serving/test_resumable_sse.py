"""A real gateway resumes a cut POST stream over GET + Last-Event-ID (raw HTTP).

The demo server's C{slow} tool reports progress; the client reads the priming
event and the first progress notification, drops the connection, and resumes:
it gets every later progress notification exactly once, then the response.
Raw HTTP (L{tests.support.mcpclient}) because cutting an SDK client's stream mid-call from a test
would take a proxy; the Python SDK (2.3) resumes the same way (GET with the
last id it saw, after the server's C{retry:}).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import RunningGateway, waitFor, writeConfig
from tests.support.mcpclient import Stream, initializeMessage, request, stream

pytestmark = [pytest.mark.integration, pytest.mark.front]

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}


def post(port: int, body: Any, session: str | None = None) -> Stream:
    headers = {"host": "127.0.0.1"}
    if session:
        headers.update({"mcp-session-id": session, "mcp-protocol-version": "2025-11-25"})
    return stream(f"http://127.0.0.1:{port}/demo/mcp", "POST", body, headers, timeout=20)


def events(response: Stream, stopAfter: int | None = None) -> list[dict[str, str]]:
    """SSE frames (fields as text), until the stream ends or C{stopAfter} frames."""
    return [event.fields() for event in response.events(stopAfter)]


def progressOf(frames: list[dict[str, str]]) -> list[int]:
    return [
        json.loads(f["data"])["params"]["progress"]
        for f in frames
        if f.get("data") and json.loads(f["data"]).get("method") == "notifications/progress"
    ]


def test_a_cut_tool_call_completes_through_resumption(start: Any, home: Path) -> None:
    config = writeConfig(home / "servers.json", {"demo": DEMO})
    gateway: RunningGateway = start("--config", str(config))
    init = post(gateway.port, initializeMessage(1, name="raw"))
    session = init.header("mcp-session-id")
    init.read()
    assert session
    post(gateway.port, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session).read()

    call = post(
        gateway.port,
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {
                "name": "slow",
                "arguments": {"seconds": 3, "steps": 6},
                "_meta": {"progressToken": "p"},
            },
        },
        session,
    )
    assert call.header("content-type") == "text/event-stream"
    before = events(call, stopAfter=2)  # the priming event, then progress 1
    priming, first = before
    assert priming["id"] and priming["data"] == "" and priming["retry"] == "1000"
    assert progressOf(before) == [1]
    call.close()  # the connection drops mid-progress
    assert call.response.fp is None

    url = f"http://127.0.0.1:{gateway.port}/demo/mcp"
    resume = {
        "accept": "text/event-stream",
        "host": "127.0.0.1",
        "mcp-session-id": session,
        "mcp-protocol-version": "2025-11-25",
        "last-event-id": first["id"],
    }
    resumed = stream(url, "GET", None, resume, timeout=20)
    assert resumed.status == 200
    after = events(resumed)  # until the gateway ends it, after the response
    assert progressOf(before) + progressOf(after) == [1, 2, 3, 4, 5, 6]
    final = json.loads(after[-1]["data"])
    assert final["id"] == 2 and "done after 6 steps" in json.dumps(final["result"])
    allIds = [f["id"] for f in before + after]
    assert len(set(allIds)) == len(allIds)

    # Delivered over a connection that stayed up: nothing is left to resume.
    gone = request(url, "GET", None, resume, timeout=20)
    assert gone.status == 400
    assert waitFor(lambda: "Last-Event-ID" in gateway.text(), timeout=5)

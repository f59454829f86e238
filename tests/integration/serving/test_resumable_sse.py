"""A real gateway resumes a cut POST stream over GET + Last-Event-ID (raw HTTP).

The demo server's C{slow} tool reports progress; the client reads the priming
event and the first progress notification, drops the connection, and resumes:
it gets every later progress notification exactly once, then the response.
Raw C{http.client} because cutting an SDK client's stream mid-call from a test
would take a proxy; the Python SDK (2.3) resumes the same way (GET with the
last id it saw, after the server's C{retry:}).
"""

from __future__ import annotations

import http.client
import json
import sys
from pathlib import Path
from typing import Any

from tests.integration.gateway import RunningGateway, waitFor, writeConfig

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
HEADERS = {
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
    "host": "127.0.0.1",
}


def post(port: int, body: Any, session: str | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    headers = dict(HEADERS)
    if session:
        headers.update({"mcp-session-id": session, "mcp-protocol-version": "2025-11-25"})
    conn.request("POST", "/demo/mcp", json.dumps(body), headers)
    return conn.getresponse()


def events(
    response: http.client.HTTPResponse, stopAfter: int | None = None
) -> list[dict[str, str]]:
    """SSE frames (fields as text), until the stream ends or C{stopAfter} frames."""
    out: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    while stopAfter is None or len(out) < stopAfter:
        line = response.readline()
        if not line:
            break
        text = line.decode().rstrip("\r\n")
        if text == "":
            if fields:
                out.append(fields)
            fields = {}
        elif not text.startswith(":"):
            name, _, value = text.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
    return out


def progressOf(frames: list[dict[str, str]]) -> list[int]:
    return [
        json.loads(f["data"])["params"]["progress"]
        for f in frames
        if f.get("data") and json.loads(f["data"]).get("method") == "notifications/progress"
    ]


def test_a_cut_tool_call_completes_through_resumption(start: Any, home: Path) -> None:
    config = writeConfig(home / "servers.json", {"demo": DEMO})
    gateway: RunningGateway = start("--config", str(config))
    init = post(
        gateway.port,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "1"},
            },
        },
    )
    session = init.getheader("mcp-session-id")
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
    assert call.getheader("content-type") == "text/event-stream"
    before = events(call, stopAfter=2)  # the priming event, then progress 1
    priming, first = before
    assert priming["id"] and priming["data"] == "" and priming["retry"] == "1000"
    assert progressOf(before) == [1]
    call.close()  # the connection drops mid-progress
    assert call.fp is None

    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=20)
    conn.request(
        "GET",
        "/demo/mcp",
        headers={
            "accept": "text/event-stream",
            "host": "127.0.0.1",
            "mcp-session-id": session,
            "mcp-protocol-version": "2025-11-25",
            "last-event-id": first["id"],
        },
    )
    resumed = conn.getresponse()
    assert resumed.status == 200
    after = events(resumed)  # until the gateway ends it, after the response
    assert progressOf(before) + progressOf(after) == [1, 2, 3, 4, 5, 6]
    final = json.loads(after[-1]["data"])
    assert final["id"] == 2 and "done after 6 steps" in json.dumps(final["result"])
    allIds = [f["id"] for f in before + after]
    assert len(set(allIds)) == len(allIds)

    # Delivered over a connection that stayed up: nothing is left to resume.
    conn.request(
        "GET",
        "/demo/mcp",
        headers={
            "accept": "text/event-stream",
            "host": "127.0.0.1",
            "mcp-session-id": session,
            "mcp-protocol-version": "2025-11-25",
            "last-event-id": first["id"],
        },
    )
    gone = conn.getresponse()
    assert gone.status == 400
    gone.read()
    assert waitFor(lambda: "Last-Event-ID" in gateway.text(), timeout=5)

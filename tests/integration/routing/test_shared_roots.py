"""A shared server-everything child asks its client things, with an idle
second window of the same user attached (real gateway, real Python SDK
clients, server-everything from the npm registry):

 - its C{get-roots-list}, C{trigger-sampling-request} and
   C{trigger-elicitation-request} tools reach the window that called them,
   on first use: nothing refused, nothing promoted (C{promotions.json}
   stays empty), still one child;
 - its own C{roots/list} 350 ms after it is initialized, before the one
   client opened its GET stream, waits for that stream and goes out on it
   (raw HTTP: an SDK client opens its GET stream too soon to wait on).
"""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway, writeConfig
from tests.support.integration.shared_roots import promotions, text

pytestmark = pytest.mark.integration

HEADERS = {
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
    "host": "127.0.0.1",
}


@pytest.fixture
def shared(start: Any, home: Path, everything: list[str]) -> RunningGateway:
    """server-everything on one shared child, its share not pinned: a
    refusal of one of its requests as ambiguous would promote it."""
    config = writeConfig(
        home / "servers.json",
        {"everything": {"command": everything[0], "args": everything[1:], "share": "global"}},
    )
    return start("--config", str(config))  # type: ignore[no-any-return]


def test_an_idle_window_stops_neither_roots_nor_sampling_nor_elicitation(
    shared: RunningGateway, home: Path
) -> None:
    url = shared.url("everything")
    asked: list[tuple[str, str]] = []

    def sampler(label: str) -> Any:
        async def onSampling(context: Any, params: types.CreateMessageRequestParams) -> Any:
            asked.append((label, "sampling"))
            return types.CreateMessageResult(
                role="assistant",
                model="m",
                content=types.TextContent(type="text", text=f"answer from {label}"),
            )

        return onSampling

    def elicitor(label: str) -> Any:
        async def onElicit(context: Any, params: Any) -> Any:
            asked.append((label, "elicitation"))
            return types.ElicitResult(action="decline")

        return onElicit

    async def onRoots(context: Any) -> Any:
        asked.append(("caller", "roots"))
        root = types.Root(uri="file:///work/caller-project", name="caller-project")  # type: ignore[arg-type]
        return types.ListRootsResult(roots=[root])

    async def main() -> tuple[str, str, str, list[int]]:
        # The idle window declares no roots: the child's own roots/list at
        # start-up is refused to it as the specification says (and not
        # remembered by server-everything), so the tool asks again, while
        # both windows are attached, during the call.
        async with Client(
            url,
            mode="legacy",
            sampling_callback=sampler("idle"),
            elicitation_callback=elicitor("idle"),
        ) as idle:
            await idle.list_tools()
            await anyio.sleep(1.5)  # past server-everything's start-up roots/list
            async with Client(
                url,
                mode="legacy",
                sampling_callback=sampler("caller"),
                elicitation_callback=elicitor("caller"),
                list_roots_callback=onRoots,
            ) as caller:
                with anyio.fail_after(60):
                    roots = await caller.call_tool("get-roots-list", {})
                    sampled = await caller.call_tool(
                        "trigger-sampling-request", {"prompt": "hi", "maxTokens": 5}
                    )
                    elicited = await caller.call_tool("trigger-elicitation-request", {})
                pids = shared.health()["servers"]["everything"]["pids"]
                return text(roots), text(sampled), text(elicited), pids

    roots, sampled, elicited, pids = anyio.run(main)
    assert "file:///work/caller-project" in roots, roots
    assert "answer from caller" in sampled, sampled
    assert "decline" in elicited.lower(), elicited
    # The caller's roots may be asked twice in its call: the child is told
    # they changed (it never got any) and its tool asks too.
    assert asked[-2:] == [("caller", "sampling"), ("caller", "elicitation")], asked
    assert set(asked[:-2]) == {("caller", "roots")}, asked
    assert len(pids) == 1, pids  # one shared child throughout
    server = shared.health()["servers"]["everything"]
    assert server["ambiguousServerRequests"] == 0, server
    assert not server.get("promoted"), server
    assert promotions(home) == {}
    assert "promoted" not in shared.text()


def post(port: int, body: Any, session: str | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    headers = dict(HEADERS)
    if session:
        headers.update({"mcp-session-id": session, "mcp-protocol-version": "2025-11-25"})
    conn.request("POST", "/everything/mcp", json.dumps(body), headers)
    return conn.getresponse()


def messages(response: http.client.HTTPResponse, until: str) -> list[dict[str, Any]]:
    """The JSON-RPC messages of an SSE body (or a JSON one), up to and
    including the first whose method or result mentions C{until}."""
    if response.getheader("content-type", "").startswith("application/json"):
        return [json.loads(response.read())]
    out: list[dict[str, Any]] = []
    data: list[str] = []
    while True:
        line = response.readline()
        if not line:
            return out
        text = line.decode().rstrip("\r\n")
        if text.startswith("data:"):
            data.append(text[5:].strip())
        elif text == "" and data:
            joined, data = "\n".join(data), []
            if joined:
                out.append(json.loads(joined))
                if until in joined:
                    return out


def test_the_start_up_roots_request_waits_for_the_clients_get_stream(
    shared: RunningGateway,
) -> None:
    init = post(
        shared.port,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {"roots": {"listChanged": True}},
                "clientInfo": {"name": "raw", "version": "1"},
            },
        },
    )
    session = init.getheader("mcp-session-id")
    init.read()
    assert session
    post(shared.port, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session).read()
    time.sleep(1.5)  # the child asked for roots at 350 ms; no stream was open then
    conn = http.client.HTTPConnection("127.0.0.1", shared.port, timeout=10)
    conn.request(
        "GET",
        "/everything/mcp",
        headers={
            "accept": "text/event-stream",
            "host": "127.0.0.1",
            "mcp-session-id": session,
            "mcp-protocol-version": "2025-11-25",
        },
    )
    stream = conn.getresponse()
    assert stream.status == 200
    [asked] = [m for m in messages(stream, "roots/list") if m.get("method") == "roots/list"]
    root = {"uri": "file:///work/raw-project", "name": "raw-project"}
    answer = post(
        shared.port, {"jsonrpc": "2.0", "id": asked["id"], "result": {"roots": [root]}}, session
    )
    assert answer.status == 202
    answer.read()
    call = post(
        shared.port,
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "get-roots-list"}},
        session,
    )
    [result] = [m for m in messages(call, "raw-project") if m.get("id") == 2]
    assert "file:///work/raw-project" in result["result"]["content"][0]["text"], result
    conn.close()
    assert "no open stream" not in shared.text()
    assert shared.health()["servers"]["everything"]["ambiguousServerRequests"] == 0

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

import json
import time
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest

from tests.integration.gateway import RunningGateway
from tests.support.integration.shared_roots import promotions, text
from tests.support.mcpclient import Session, Stream, stream
from tests.support.sdkcallers import notingClients

pytestmark = pytest.mark.integration


@pytest.fixture
def shared(sharedEverything: RunningGateway) -> RunningGateway:
    """server-everything on one shared child, its share not pinned: a
    refusal of one of its requests as ambiguous would promote it."""
    return sharedEverything


def test_an_idle_window_stops_neither_roots_nor_sampling_nor_elicitation(
    shared: RunningGateway, home: Path
) -> None:
    url = shared.url("everything")
    asked: list[tuple[str, str]] = []

    client = notingClients(lambda label, kind: asked.append((label, kind)))

    async def onRoots(context: Any) -> Any:
        asked.append(("caller", "roots"))
        root = types.Root(uri="file:///work/caller-project", name="caller-project")  # type: ignore[arg-type]
        return types.ListRootsResult(roots=[root])

    async def main() -> tuple[str, str, str, list[int]]:
        # The idle window declares no roots: the child's own roots/list at
        # start-up is refused to it as the specification says (and not
        # remembered by server-everything), so the tool asks again, while
        # both windows are attached, during the call.
        async with client(url, "idle") as idle:
            await idle.list_tools()
            await anyio.sleep(1.5)  # past server-everything's start-up roots/list
            async with client(url, "caller", list_roots_callback=onRoots) as caller:
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


def messages(response: Stream, until: str) -> list[dict[str, Any]]:
    """The JSON-RPC messages of an SSE body (or a JSON one), up to and
    including the first whose method or result mentions C{until}."""
    if (response.header("content-type") or "").startswith("application/json"):
        return [json.loads(response.read())]
    out: list[dict[str, Any]] = []
    while (event := response.next()) is not None:
        if event.data:
            out.append(json.loads(event.data))
            if until in event.data:
                return out
    return out


def test_the_start_up_roots_request_waits_for_the_clients_get_stream(
    shared: RunningGateway,
) -> None:
    url = f"http://127.0.0.1:{shared.port}/everything/mcp"
    session = Session(url, headers={"host": "127.0.0.1"}, timeout=20, name="raw")
    session.open({"roots": {"listChanged": True}})
    assert session.id
    time.sleep(1.5)  # the child asked for roots at 350 ms; no stream was open then
    listening = {"accept": "text/event-stream", **session.sessionHeaders()}
    opened = stream(url, "GET", None, listening, timeout=10)
    assert opened.status == 200
    [asked] = [m for m in messages(opened, "roots/list") if m.get("method") == "roots/list"]
    root = {"uri": "file:///work/raw-project", "name": "raw-project"}
    answer = session.post({"jsonrpc": "2.0", "id": asked["id"], "result": {"roots": [root]}})
    assert answer.status == 202
    getRoots = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "get-roots-list"},
    }
    call = stream(url, "POST", getRoots, session.sessionHeaders(), timeout=20)
    [result] = [m for m in messages(call, "raw-project") if m.get("id") == 2]
    assert "file:///work/raw-project" in result["result"]["content"][0]["text"], result
    call.close()
    opened.close()
    assert "no open stream" not in shared.text()
    assert shared.health()["servers"]["everything"]["ambiguousServerRequests"] == 0

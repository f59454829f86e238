"""A shared server-everything keeps its share through a client suite run
three times in a row (real gateway, real Python SDK clients, server-everything
from the npm registry): two sessions of one user, both declaring roots, one
subscribed to a resource.

 - its start-up C{roots/list}, asked while the two sessions are attached and
   nobody calls, gets the gateway's empty list; nothing is refused or
   promoted (C{/health}, C{promotions.json}), one child throughout;
 - each session's roots reach the child inside that session's own call
   (its roots callback runs while its call is in flight, never the other's),
   before the child starts on it: the child answers that session's
   C{get-roots-list} with them, its first call included;
 - the subscriber gets the child's C{notifications/resources/updated} for its
   subscription, the other session none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway
from tests.support.integration.shared_roots import promotions, text

pytestmark = pytest.mark.integration

URI = "demo://resource/dynamic/text/1"


@pytest.fixture
def shared(sharedEverything: RunningGateway) -> RunningGateway:
    """server-everything on one shared child, its share not pinned."""
    return sharedEverything


class Window:
    """One client session: its roots, when it was asked for them, and what it heard."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.calling = False
        self.asked: list[bool] = []
        """For each roots/list it was asked: whether a call of its own was in flight."""
        self.updated: list[str] = []

    async def onRoots(self, context: Any) -> types.ListRootsResult:
        self.asked.append(self.calling)
        root = types.Root(uri=f"file:///work/{self.label}", name=self.label)  # type: ignore[arg-type]
        return types.ListRootsResult(roots=[root])

    async def onMessage(self, message: Any) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, types.ResourceUpdatedNotification):
            self.updated.append(str(root.params.uri))

    def client(self, url: str) -> Client:
        return Client(
            url, mode="legacy", list_roots_callback=self.onRoots, message_handler=self.onMessage
        )

    async def call(self, client: Client, tool: str) -> str:
        self.calling = True
        try:
            return text(await client.call_tool(tool, {}))
        finally:
            self.calling = False


def test_a_suite_run_three_times_keeps_the_share_and_each_sessions_roots(
    shared: RunningGateway, home: Path
) -> None:
    url = shared.url("everything")

    async def suite(run: int) -> None:
        a, b = Window(f"a{run}"), Window(f"b{run}")
        async with a.client(url) as ca, b.client(url) as cb:
            await ca.subscribe_resource(URI)
            with anyio.fail_after(60):
                if run == 0:  # the child's updates, every 5 s from now on
                    await a.call(ca, "toggle-subscriber-updates")
                first = await a.call(ca, "get-roots-list")
                again = await a.call(ca, "get-roots-list")
                theirsFirst = await b.call(cb, "get-roots-list")
                theirs = await b.call(cb, "get-roots-list")
                while not a.updated:
                    await anyio.sleep(0.1)
            await ca.unsubscribe_resource(URI)
        # Each session was asked for its roots inside a call of its own,
        # once (in the first run the child's start-up question may be the
        # first session's too, when it was alone then: provably its own,
        # and asked before or, on a slow machine, during its first call).
        assert a.asked == [True] or (run == 0 and a.asked in ([False], [True, True])), (
            run,
            a.asked,
        )
        assert b.asked == [True], (run, b.asked)
        assert f"file:///work/a{run}" in first and f"b{run}" not in first, (run, first)
        assert f"file:///work/a{run}" in again, (run, first, again)
        assert f"file:///work/b{run}" in theirsFirst and f"a{run}" not in theirsFirst, (
            run,
            theirsFirst,
        )
        assert f"file:///work/b{run}" in theirs and f"a{run}" not in theirs, (run, theirs)
        assert set(a.updated) == {URI} and b.updated == [], (run, a.updated, b.updated)

    for run in range(3):
        anyio.run(suite, run)
        server = shared.health()["servers"]["everything"]
        assert not server.get("promoted"), (run, server)
        assert server["ambiguousServerRequests"] == 0, (run, server)
        assert len(server["pids"]) == 1, (run, server)
    assert promotions(home) == {}
    assert "promoted" not in shared.text()

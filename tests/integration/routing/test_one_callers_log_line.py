"""A shared server-everything's log line reaches the session whose request it
was written for, and no other (real gateway, real Python SDK clients,
server-everything from the npm registry): two sessions of one user, both
asking for every log line; one subscribes to a resource while the other
sits idle. server-everything writes a line naming the URI while it serves
the subscribe: the subscriber gets it, on its request's stream, as a direct
connection would give it; the idle session gets nothing.
"""

from __future__ import annotations

from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway

pytestmark = [pytest.mark.integration, pytest.mark.front]

URI = "demo://resource/dynamic/text/1"
QUIET = 1.0
"""Seconds the idle session is watched after the subscriber got its line:
the window in which nothing may reach it (a line given to it would be
written at the same moment as the subscriber's)."""


@pytest.fixture
def shared(sharedEverything: RunningGateway) -> RunningGateway:
    """server-everything on one shared child."""
    return sharedEverything


class Window:
    """One client session: the log lines it got."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    async def onLog(self, params: types.LoggingMessageNotificationParams) -> None:
        self.lines.append(str(params.data))

    def client(self, url: str) -> Client:
        return Client(url, mode="legacy", logging_callback=self.onLog)


def test_the_subscribers_log_line_reaches_it_alone(shared: RunningGateway) -> None:
    url = shared.url("everything")
    subscriber, idle = Window(), Window()

    async def main() -> None:
        async with subscriber.client(url) as caller, idle.client(url) as bystander:
            with anyio.fail_after(30):
                await bystander.set_logging_level("debug")
                await caller.set_logging_level("debug")
                await caller.subscribe_resource(URI)
                while not subscriber.lines:
                    await anyio.sleep(0.05)
            await anyio.sleep(QUIET)
            await caller.unsubscribe_resource(URI)

    anyio.run(main)
    said: Any = subscriber.lines
    assert [line for line in said if URI in line and "Subscribe" in line], said
    assert idle.lines == [], idle.lines
    server = shared.health()["servers"]["everything"]
    assert len(server["pids"]) == 1, server

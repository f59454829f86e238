"""A call the flow rule holds, through a real gateway: the Python SDK's
client reads from an C{untrusted} server and a C{private} one, then calls
an C{egress} one (with the 2025 handshake, or in the 2026-07-28 revision,
its client known by its C{clientInfo}); the call waits while a person runs C{mcpgateway
approvals allow}, and the client gets the real result; a 2026-07-28
client that takes tasks gets a task at once, C{working} until the person's
yes, then C{completed} with the real result."""

from __future__ import annotations

import json
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway, waitFor, writeConfig
from tests.support.integration.approvals import (
    PolledTasks,
    WebhookReceiver,
    allowFirstHeld,
    cli,
)

pytestmark = pytest.mark.integration

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}


async def trifecta(
    gateway: RunningGateway, home: Path, mode: str = "legacy"
) -> tuple[str, dict[str, Any]]:
    """One client, a session per server as Claude Code opens them (in
    C{mode}: C{legacy}, or C{2026-07-28}, where a client opens none): read
    from the web and the files, then post while a person allows it: the
    post's text, and the held call as the list showed it."""
    held: dict[str, Any] = {}

    async def person() -> None:
        deadline = time.monotonic() + 50
        held.update(await anyio.to_thread.run_sync(allowFirstHeld, home, deadline))

    async with AsyncExitStack() as stack:
        web, files, post = [
            await stack.enter_async_context(Client(gateway.url(server), mode=mode))
            for server in ("web", "files", "post")
        ]
        await web.call_tool("echo", {"message": "read the web"})
        await files.call_tool("echo", {"message": "read a file"})
        async with anyio.create_task_group() as tg:
            tg.start_soon(person)
            result = await post.call_tool("echo", {"message": "send it"})
    return result.content[0].text, held  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_a_held_call_allowed_with_the_cli_gets_its_real_result(tmp_path: Path, mode: str) -> None:
    config = writeConfig(
        tmp_path / "servers.json",
        {
            "web": {**DEMO, "labels": ["untrusted"]},
            "files": {**DEMO, "labels": ["private"]},
            "post": {**DEMO, "labels": ["egress"]},
        },
    )
    gateway = RunningGateway(["--config", str(config)], tmp_path)
    try:
        try:
            text, held = anyio.run(trifecta, gateway, tmp_path, mode)
        except BaseException:
            print(gateway.text())
            raise
        assert "send it" in text
        assert (held["server"], held["tool"]) == ("post", "echo")
        assert held["labels"] == ["untrusted", "private", "egress"]
        # A 2026 client opens no session: it is known by its clientInfo's name.
        assert held["client"]["kind"] == ("pid" if mode == "legacy" else "client"), held
        decided = json.loads(cli(tmp_path, "approvals", "show", held["id"], "--json").stdout)
        assert decided["state"] == "used"
    finally:
        gateway.stop()


async def trifectaAsTask(
    gateway: RunningGateway, home: Path, tasks: PolledTasks
) -> tuple[str, dict[str, Any]]:
    """L{trifecta} by a 2026-07-28 client that takes tasks: the post
    becomes a task while it is held; a person allows it once the client
    has seen it C{working}."""
    held: dict[str, Any] = {}

    async def person() -> None:
        while "working" not in tasks.seen:
            await anyio.sleep(0.05)
        deadline = time.monotonic() + 50
        held.update(await anyio.to_thread.run_sync(allowFirstHeld, home, deadline))

    async with AsyncExitStack() as stack:
        web, files, post = [
            await stack.enter_async_context(
                Client(gateway.url(server), mode="2026-07-28", extensions=[tasks])
            )
            for server in ("web", "files", "post")
        ]
        await web.call_tool("echo", {"message": "read the web"})
        await files.call_tool("echo", {"message": "read a file"})
        async with anyio.create_task_group() as tg:
            tg.start_soon(person)
            result = await post.call_tool("echo", {"message": "send it"})
    return result.content[0].text, held  # type: ignore[union-attr]


def test_a_held_call_of_a_tasks_client_is_a_task_a_person_allows(tmp_path: Path) -> None:
    config = writeConfig(
        tmp_path / "servers.json",
        {
            "web": {**DEMO, "labels": ["untrusted"]},
            "files": {**DEMO, "labels": ["private"]},
            "post": {**DEMO, "labels": ["egress"]},
        },
    )
    webhook = WebhookReceiver()
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "state" / "servers.json").write_text(json.dumps({"flow": {"webhook": webhook.url}}))
    gateway = RunningGateway(["--config", str(config)], tmp_path)
    tasks = PolledTasks()
    try:
        try:
            text, held = anyio.run(trifectaAsTask, gateway, tmp_path, tasks)
        except BaseException:
            print(gateway.text())
            raise
        assert "send it" in text
        assert held["labels"] == ["untrusted", "private", "egress"]
        assert tasks.seen[0] == "working" and tasks.seen[-1] == "completed", tasks.seen
        decided = json.loads(cli(tmp_path, "approvals", "show", held["id"], "--json").stdout)
        assert decided["state"] == "used"
        # The webhook was told of the held call, once, without its arguments.
        assert waitFor(lambda: webhook.bodies, timeout=10), gateway.text()[-2000:]
        [told] = webhook.bodies
        assert told["call"]["id"] == held["id"] and told["event"] == "held"
        assert "send it" not in json.dumps(told)
        assert "SECRET" not in gateway.text()  # the log names the webhook's host only
    finally:
        gateway.stop()
        webhook.close()

"""A client's answer to a child's sampling request that comes after
C{mcpgateway restart} reaches the child through the successor: the call
in flight completes with it, and the child, its own session's, is kept.

Two Python SDK clients call the demo's C{sample} on a server whose
sessions each have a child of their own: one on the server's endpoint,
one on the aggregate endpoint C{/mcp}. Their sampling callback (a person
reading the prompt) runs C{mcpgateway restart} and answers a few seconds
after it returned, once the old process has closed the idle connections
it had with the clients: the answer is POSTed to the successor, which
passes it back to the old process, which asked. The restart then keeps
the children, the same pids, and the sessions go on on them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client

from tests.integration.restartkit import cli, cliGateway, health, restartedFrom, running, state

pytestmark = pytest.mark.integration

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"], "sandbox": False}
ANSWER_AFTER = 3.0
"""Seconds after the restart returned that the person answers: the old
process has closed the clients' idle connections by then (2 s), so the
answer can only reach the successor."""


def soloPids(home: Path) -> list[int]:
    """The pids of the server C{solo}'s running children, from the ledger."""
    data = json.loads((home / "state" / "children.json").read_text())
    return sorted(int(pid) for pid, one in data["children"].items() if one["server"] == "solo")


def test_a_sampling_answer_after_the_restart_completes_the_call_on_the_same_child(
    home: Path,
) -> None:
    config = home / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"solo": {**DEMO, "mode": "stateful"}}}))
    with cliGateway(home, "--config", str(config)) as port:
        old = state(home)["pid"]
        restarts: list[Any] = []
        asked: list[str] = []
        kept: dict[str, Any] = {}
        restarted = anyio.Event()

        async def restart() -> None:
            restarts.append(await anyio.to_thread.run_sync(cli, home, "restart"))
            await anyio.sleep(ANSWER_AFTER)
            restarted.set()

        def person(label: str, group: Any) -> Any:
            async def onSampling(context: Any, params: types.CreateMessageRequestParams) -> Any:
                if not asked:  # the first question: the restart runs meanwhile
                    asked.append(label)
                    group.start_soon(restart)
                await restarted.wait()
                return types.CreateMessageResult(
                    role="assistant",
                    model="m",
                    content=types.TextContent(type="text", text=f"late answer of {label}"),
                )

            return onSampling

        async def main() -> tuple[list[str], list[int]]:
            base = f"http://127.0.0.1:{port}"
            texts: list[str] = []
            async with anyio.create_task_group() as group:  # noqa: SIM117  # the callbacks need it
                async with (
                    Client(
                        f"{base}/solo/mcp", mode="legacy", sampling_callback=person("own", group)
                    ) as own,
                    Client(
                        f"{base}/mcp", mode="legacy", sampling_callback=person("agg", group)
                    ) as agg,
                ):
                    await own.call_tool("echo", {"text": "first"})
                    await agg.call_tool("solo__echo", {"text": "first"})
                    before = soloPids(home)
                    assert len(before) == 2, before

                    async def call(client: Client, tool: str) -> None:
                        result = await client.call_tool(tool, {"prompt": "what is late?"})
                        block = result.content[0]
                        assert isinstance(block, types.TextContent)
                        assert not result.is_error, block.text
                        texts.append(block.text)

                    with anyio.fail_after(60):
                        async with anyio.create_task_group() as calls:
                            calls.start_soon(call, own, "sample")
                            calls.start_soon(call, agg, "solo__sample")
                    # The sessions go on, on the children that answered.
                    with anyio.fail_after(30):
                        after = await own.call_tool("echo", {"text": "after"})
                        await agg.call_tool("solo__echo", {"text": "after"})
                    assert not (after.meta or {}).get("mcpgateway/childRestarted"), after
                    # The same children, kept by the restart (the clients end their
                    # sessions, and those children, as they leave).
                    assert soloPids(home) == before and all(running(pid) for pid in before)
                    kept.update(health(port)["restart"])
            return texts, before

        texts, _ = anyio.run(main)
        assert len(restarts) == 1
        restartedFrom(home, restarts[0], old)
        assert any("late answer of own" in t for t in texts), texts
        assert any("late answer of agg" in t for t in texts), texts
        assert kept["kept"] == 2 and kept["started"] == 0, kept
        log = (home / "state" / "gateway.log").read_text(errors="replace")
        assert "passed back to it" in log
        assert "answered unknown request id" not in log
        assert "is not handed over" not in log

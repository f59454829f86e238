"""an aggregate session outlives the gateway
process. One Python SDK session on C{/mcp} calls a shared and a stateful
server's tools through the namespace; the gateway is restarted under it
(C{mcpgateway restart}: the socket handed over to a successor; or SIGTERM
and a new gateway on the same state directory and port); the SAME client
session calls both again and gets its answers: same session id, no second
C{initialize}, no session opened on the new gateway.
"""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from tests.integration.restartkit import Restartable
from tests.integration.restartkit import gateway as gateway  # the fixture
from tests.support.sdkcallers import textOf

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("how", ["restart", "sigterm"])
def test_an_aggregate_session_calls_again_after_a_restart(gateway: Restartable) -> None:
    async def main() -> dict[str, object]:
        out: dict[str, object] = {}
        async with Client(gateway.url(), mode="legacy") as client:
            for server in ("shared", "solo"):
                said = textOf(await client.call_tool(f"{server}__echo", {"message": "before"}))
                assert said == "before", said
            before = await anyio.to_thread.run_sync(gateway.sessions)
            out["before"] = before
            await anyio.to_thread.run_sync(gateway.restart, set(before))
            out["after"] = {
                server: textOf(await client.call_tool(f"{server}__echo", {"message": "after"}))
                for server in ("shared", "solo")
            }
            out["tools"] = sorted(t.name for t in (await client.list_tools()).tools)
            out["sessions"] = await anyio.to_thread.run_sync(gateway.sessions)
            out["log"] = await anyio.to_thread.run_sync(gateway.log)
        return out

    out = anyio.run(main)
    before = out["before"]
    assert isinstance(before, dict) and list(before.values()) == ["/mcp"], before
    assert out["after"] == {"shared": "after", "solo": "after"}, out
    tools = out["tools"]
    assert isinstance(tools, list) and {"shared__echo", "solo__echo"} <= set(tools), tools
    # The same session, restored: no client session opened on the new gateway
    # (the solo member's own child replays its own initialize; that is not one).
    assert out["sessions"] == before, out["sessions"]
    log = str(out["log"])
    assert "opened on the aggregate endpoint" not in log, log

"""Real SDK clients: a Python SDK (2.3), TypeScript SDK 1.x and
TypeScript SDK 2.x session on a shared and on a stateful server calls a tool,
the gateway is restarted under it (SIGTERM + start and SIGKILL + start, on the
same state directory and port; C{mcpgateway restart}), and the SAME client
session object calls again and gets its answer: same session id, and no
second C{initialize} ever reaches the new gateway (it lists exactly the
sessions of before and logs no session opened).

The TypeScript clients stay alive across the restart in a C{ts_session.mjs}
process the test drives over stdin/stdout; the Python client is one
C{mcp.Client} in one event loop, the restart runs on a worker thread.
"""

from __future__ import annotations

import json
from contextlib import AsyncExitStack

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.integration.continuitykit import TsSession, tsEnvironment
from tests.integration.gateway import waitFor
from tests.integration.restartkit import Restartable
from tests.integration.restartkit import gateway as gateway  # the fixture

pytestmark = pytest.mark.integration

SERVERS = ("shared", "solo")
HOWS = ["sigterm", "sigkill", "restart"]
"""How the gateway is restarted: SIGTERM or SIGKILL, then a new gateway on
the same state directory and port; or C{mcpgateway restart} (the socket is
handed over, nothing is refused)."""


def assertNoNewSession(gateway: Restartable, before: dict[str, str]) -> None:
    """The new gateway serves exactly the sessions of the old one, and no
    C{initialize} opened one (a restored stateful session keeps its child,
    handed over by the restart or kept through the crash by the warden, or
    replays its own C{initialize} to a new one)."""
    assert gateway.sessions() == before
    log = gateway.log()
    assert "opened on" not in log, log
    assert waitFor(
        lambda: any(
            said in gateway.log()
            for said in ("initialize was replayed", "kept from the previous process")
        ),
        timeout=5,
    ), log


@pytest.mark.parametrize("how", HOWS)
def test_python_sdk_sessions_call_again_after_a_restart(gateway: Restartable) -> None:
    sent: list[tuple[str, str, str | None, list[str]]] = []
    answered: list[tuple[str, str, int]] = []

    def recorder(server: str) -> httpx2.AsyncClient:
        http = create_mcp_http_client()

        async def request(request: httpx2.Request) -> None:
            methods: list[str] = []
            if request.method == "POST":
                body = json.loads(request.content)
                methods = [
                    m.get("method", "response")
                    for m in (body if isinstance(body, list) else [body])
                ]
            sent.append((server, request.method, request.headers.get("mcp-session-id"), methods))

        async def response(response: httpx2.Response) -> None:
            answered.append((server, response.request.method, response.status_code))

        http.event_hooks = {"request": [request], "response": [response]}
        return http

    async def main() -> tuple[dict[str, str], int]:
        async with AsyncExitStack() as stack:
            clients: dict[str, Client] = {}
            for server in SERVERS:
                http = await stack.enter_async_context(recorder(server))
                transport = streamable_http_client(gateway.url(server), http_client=http)
                clients[server] = await stack.enter_async_context(Client(transport, mode="legacy"))
            for server, client in clients.items():
                result = await client.call_tool("echo", {"message": f"{server} before"})
                assert result.content[0].text == f"{server} before"  # type: ignore[union-attr]
            before = await anyio.to_thread.run_sync(gateway.sessions)
            assert sorted(before.values()) == sorted(SERVERS)
            await anyio.to_thread.run_sync(gateway.restart, set(before))
            mark = len(answered)
            for server, client in clients.items():
                result = await client.call_tool("echo", {"message": f"{server} after"})
                assert result.content[0].text == f"{server} after"  # type: ignore[union-attr]
            # Checked while the clients live (they end their sessions on exit).
            await anyio.to_thread.run_sync(assertNoNewSession, gateway, before)
            return before, mark

    before, mark = anyio.run(main)
    idOf = {server: sid for sid, server in before.items()}
    for server in SERVERS:
        mine = [s for s in sent if s[0] == server]
        assert [s for s in mine if "initialize" in s[3]] == [mine[0]], mine
        # Every request after the initialize carried the one session id,
        # before and after the restart (DELETE at the end included).
        assert {s[2] for s in mine[1:]} == {idOf[server]}, mine
        assert any("tools/call" in s[3] for s in mine[1:])
    # Whatever the clients sent the new gateway (calls, GET stream
    # reconnections) was accepted: no 404, no 400, no 409. What a client
    # sent after its own DELETE is left out: its GET stream may reconnect
    # to the session it has just ended, which is rightly 404.
    late = answered[mark:]
    ended: set[str] = set()
    beforeEnd = []
    for server, method, status in late:
        if server in ended:
            continue
        beforeEnd.append((server, method, status))
        if method == "DELETE":
            ended.add(server)
    assert beforeEnd and all(status < 300 for _, _, status in beforeEnd), late


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("flavour", ["ts1", "ts2"])
def test_typescript_sdk_sessions_call_again_after_a_restart(
    gateway: Restartable, flavour: str
) -> None:
    env = tsEnvironment()
    clients = {server: TsSession(flavour, gateway.url(server), env) for server in SERVERS}
    try:
        for server, client in clients.items():
            answer = client.call("echo", {"message": f"{server} before"})
            assert answer["ok"], answer
            assert answer["result"]["content"][0]["text"] == f"{server} before"
        before = gateway.sessions()
        assert before == {client.sessionId: server for server, client in clients.items()}

        gateway.restart(set(before))

        for server, client in clients.items():
            answer = client.call("echo", {"message": f"{server} after"})
            assert answer["ok"], (answer, client.diagnostics())
            assert answer["result"]["content"][0]["text"] == f"{server} after"
            assert answer["sessionId"] == client.sessionId
            assert not [e for e in client.errors() if "404" in e or "Session not found" in e]
        assertNoNewSession(gateway, before)
    finally:
        for client in clients.values():
            client.close()

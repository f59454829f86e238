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
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.integration.continuitykit import TsSession, tsEnvironment
from tests.integration.gateway import REPO, RunningGateway, freePort, waitFor, writeConfig

pytestmark = pytest.mark.integration

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
SERVERS = ("shared", "solo")
HOWS = ["sigterm", "sigkill", "restart"]
"""How the gateway is restarted: SIGTERM or SIGKILL, then a new gateway on
the same state directory and port; or C{mcpgateway restart} (the socket is
handed over, nothing is refused)."""
SIGNALS = {"sigterm": signal.SIGTERM, "sigkill": signal.SIGKILL}
HANDOVER = 15.0
"""Seconds within which the old process of C{mcpgateway restart} exits."""


class Restartable:
    """A gateway on a fixed port and state directory that the test restarts:
    a C{twist} subprocess for the signal restarts, C{mcpgateway start}
    (detached, logging to the state directory) for C{mcpgateway restart}."""

    def __init__(self, home: Path, how: str) -> None:
        config = writeConfig(
            home / "servers.json",
            {"shared": DEMO, "solo": {**DEMO, "mode": "stateful"}},
        )
        self.home = home
        self.how = how
        self.port = freePort()
        self.gateways: list[RunningGateway] = []
        self.logFile = home / "state" / "gateway.log"
        self.logFrom = 0
        if how == "restart":
            started = self.cli(
                "start", "--port", str(self.port), "--config", str(config), "--no-rewrite"
            )
            assert started.returncode == 0, started.stdout + started.stderr
        else:
            self.args = ["--config", str(config), "--port", f"tcp:{self.port}:interface=127.0.0.1"]
            self.gateways.append(RunningGateway(self.args, home))
            assert self.gateways[-1].port == self.port

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "HOME": str(self.home),
            "MCPGATEWAY_HOME": str(self.home / "state"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        return subprocess.run(
            [sys.executable, "-m", "mcpgateway.cli", *args],
            env=env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=90,
        )

    def url(self, server: str) -> str:
        return f"http://127.0.0.1:{self.port}/{server}/mcp"

    def sessions(self) -> dict[str, str]:
        """Session id to server, as the running gateway lists them."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/sessions", timeout=5) as r:
            return {s["id"]: s["server"] for s in json.loads(r.read())["sessions"]}

    def log(self) -> str:
        """What the gateway logged since the restart."""
        if self.how != "restart":
            return self.gateways[-1].text()
        with self.logFile.open("rb") as f:
            f.seek(self.logFrom)
            return f.read().decode("utf-8", "replace")

    def restart(self, sessionIds: set[str]) -> None:
        """Restart the gateway once C{sessionIds} are saved (batched, about
        a second); return when the new one serves them."""
        saved = self.home / "state" / "sessions.json"

        def allSaved() -> bool:
            try:
                records = json.loads(saved.read_text())["sessions"]
            except (OSError, ValueError, KeyError):
                return False
            return sessionIds <= {r["id"] for r in records}

        assert waitFor(allSaved, timeout=10), "sessions were not saved"
        if self.how == "restart":
            old = json.loads((self.home / "state" / "state.json").read_text())["pid"]
            self.logFrom = self.logFile.stat().st_size
            restarted = self.cli("restart")
            assert restarted.returncode == 0, restarted.stdout + restarted.stderr
            # The old process finishes its connections and exits (once the
            # clients closed their idle keep-alive connections: 4 s for
            # Node's fetch, 5 s for httpx), well before the --restart-timeout
            # (30 s); the new one then has every session of it.
            assert waitFor(lambda: not Path(f"/proc/{old}").exists(), timeout=HANDOVER), (
                f"the old gateway (pid {old}) still runs {HANDOVER:g} s after the restart"
                f" returned:\n{self.log()}"
            )
            return
        old = self.gateways[-1]
        old.process.send_signal(SIGNALS[self.how])
        old.process.wait(20)
        self.gateways.append(RunningGateway(self.args, self.home))
        assert self.gateways[-1].port == self.port

    def stop(self) -> None:
        if self.how == "restart":
            self.cli("stop")
        for gateway in self.gateways:
            gateway.stop()


@pytest.fixture
def gateway(home: Path, how: str) -> Iterator[Restartable]:
    running = Restartable(home, how)
    yield running
    running.stop()


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
    # reconnections) was accepted: no 404, no 400, no 409.
    late = answered[mark:]
    assert late and all(status < 300 for _, _, status in late), late


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

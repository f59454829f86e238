"""A person's part in the flow rule's integration tests: the
C{mcpgateway approvals} CLI run against a real gateway's home (L{cli}),
and the first held call allowed with it (L{allowFirstHeld}); and a
client's: the Python SDK's Tasks extension as a client that polls
(L{PolledTasks}), and the three servers of a chain (L{TRIFECTA})."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Literal

import anyio
from mcp import Client
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp_types import CallToolResult, Result

from mcpgateway.core.taskterms import EXTENSION
from tests.integration.gateway import gatewayEnv

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
TRIFECTA = {
    "web": {**DEMO, "labels": ["untrusted"]},
    "files": {**DEMO, "labels": ["private"]},
    "post": {**DEMO, "labels": ["egress"]},
}
"""A web reader, a file reader and a poster (the demo server, labelled)."""


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """C{python -m mcpgateway.cli ARGS} against the gateway of C{home}."""
    return subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", *args],
        env=gatewayEnv(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=90,
    )


def allowFirstHeld(home: Path, deadline: float) -> dict[str, Any]:
    """Poll C{approvals list} until a call waits, then allow it with the
    CLI: the call as the list showed it."""
    while time.monotonic() < deadline:
        listed = cli(home, "approvals", "list", "--json")
        if listed.returncode == 0:
            pending = json.loads(listed.stdout)["pending"]
            if pending:
                allowed = cli(home, "approvals", "allow", pending[0]["id"])
                assert allowed.returncode == 0, allowed.stderr
                return dict(pending[0])
        time.sleep(0.5)
    raise AssertionError("no call was held")


class TaskHandle(Result):
    """The Tasks extension's C{CreateTaskResult}."""

    result_type: Literal["task"]
    task_id: str
    status: str


class PolledTasks(ClientExtension):
    """The Tasks extension as a client that polls: a task is finished by
    C{tasks/get} until it is over; every status seen is kept."""

    identifier = EXTENSION

    def __init__(self) -> None:
        self.seen: list[str] = []

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=TaskHandle, resolve=self.resolve)]

    async def resolve(self, handle: TaskHandle, ctx: ClaimContext) -> CallToolResult:
        self.seen.append(handle.status)
        with anyio.fail_after(90):
            while True:
                data: dict[str, Any] = {"method": "tasks/get", "params": {"taskId": handle.task_id}}
                options: Any = {"headers": {"mcp-name": handle.task_id}}
                ctx.session._stamp(data, options)
                got = await ctx.session._dispatcher.send_raw_request(
                    data["method"], data["params"], options
                )
                self.seen.append(got["status"])
                if got["status"] in ("completed", "failed", "cancelled"):
                    assert got["status"] == "completed", got
                    return CallToolResult.model_validate(got["result"])
                await anyio.sleep(0.2)


def heldNow(home: Path) -> list[dict[str, Any]]:
    """The calls waiting for a person, as C{approvals list} shows them."""
    listed = cli(home, "approvals", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    pending: list[dict[str, Any]] = json.loads(listed.stdout)["pending"]
    return pending


class WebhookReceiver:
    """A webhook on loopback, as a chat's incoming webhook is: it keeps the
    JSON body of each POST it gets (L{bodies}), and answers 204."""

    def __init__(self) -> None:
        bodies: list[dict[str, Any]] = []
        self.bodies = bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test reads L{bodies}."""

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/T0/SECRET"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


async def chain(
    gateway: Any,
    mode: str = "legacy",
    extensions: Sequence[ClientExtension] = (),
    person: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> str:
    """One client's chain through C{gateway} (serving L{TRIFECTA}), a
    session per server as Claude Code opens them (in C{mode}: C{legacy},
    or C{2026-07-28}, where a client opens none), with C{extensions}: it
    reads the web and a file, then posts while C{person} (if any) runs;
    the post's text."""
    more: dict[str, Any] = {"extensions": list(extensions)} if extensions else {}
    async with AsyncExitStack() as stack:
        web, files, post = [
            await stack.enter_async_context(Client(gateway.url(server), mode=mode, **more))
            for server in ("web", "files", "post")
        ]
        await web.call_tool("echo", {"message": "read the web"})
        await files.call_tool("echo", {"message": "read a file"})
        async with anyio.create_task_group() as group:
            if person is not None:
                group.start_soon(person)
            result = await post.call_tool("echo", {"message": "send it"})
    text: str = result.content[0].text  # type: ignore[union-attr]
    return text

"""Task status without polling, for real: a real gateway (C{twist}, then
C{mcpgateway start} and C{mcpgateway restart}), the stdio conformance
fixture as the child, and the Python SDK's C{mcp.Client} (2026-07-28) with a
client extension of the Tasks extension that, handed a task, opens a
C{subscriptions/listen} naming it and finishes the call from the
C{notifications/tasks} it hears: C{working}, then C{completed} with the
result, without a single C{tasks/get} reaching the gateway; also when the
gateway is restarted (C{mcpgateway restart}) while the task runs, the
client listening again on the new process. A 2025-11-25 session that made a
task hears C{notifications/tasks/status} on its GET stream."""

from __future__ import annotations

import itertools
import json
import subprocess
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest
from mcp import Client
from mcp.client.extension import ClaimContext, ClientExtension, NotificationBinding, ResultClaim
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import CallToolResult, NotificationParams, Result
from pydantic import ConfigDict

from mcpgateway.core.taskterms import EXTENSION
from tests.integration.gateway import RunningGateway, waitFor, writeConfig
from tests.integration.restartkit import cli
from tests.support.integration.task_status import start
from tests.support.mcpclient import Reply, Session

pytestmark = [pytest.mark.integration, pytest.mark.front]

ERA2026 = "2026-07-28"
TERMINAL = ("completed", "failed", "cancelled")
_ids = itertools.count(1)


class TaskHandle(Result):
    """The Tasks extension's C{CreateTaskResult}."""

    result_type: Literal["task"]
    task_id: str
    status: str


class TaskState(NotificationParams):
    """The params of a C{notifications/tasks}: the task as C{tasks/get}
    would answer it."""

    model_config = ConfigDict(extra="allow")
    task_id: str
    status: str
    status_message: str | None = None
    result: dict[str, Any] | None = None


class StatusByListen(ClientExtension):
    """The Tasks extension, without polling: a task is finished from the
    status notifications of a listen stream that names it (opened again
    when the stream ends before the task does)."""

    identifier = EXTENSION

    def __init__(self) -> None:
        self.heard: list[TaskState] = []
        self.acknowledged: list[Any] = []
        self.listens = 0

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=TaskHandle, resolve=self.resolve)]

    def notifications(self) -> list[NotificationBinding[Any]]:
        return [
            NotificationBinding(
                method="notifications/tasks", params_type=TaskState, handler=self.hear
            )
        ]

    async def hear(self, state: TaskState) -> None:
        self.heard.append(state)

    def statuses(self) -> list[str]:
        return [state.status for state in self.heard]

    def last(self, taskId: str) -> TaskState | None:
        mine = [state for state in self.heard if state.task_id == taskId]
        return mine[-1] if mine else None

    def over(self, taskId: str) -> bool:
        last = self.last(taskId)
        return last is not None and last.status in TERMINAL

    async def resolve(self, handle: TaskHandle, ctx: ClaimContext) -> CallToolResult:
        with anyio.fail_after(90):
            while not self.over(handle.task_id):
                await self.listenOnce(ctx.session, handle.task_id)
        last = self.last(handle.task_id)
        assert last is not None and last.status == "completed", last
        return CallToolResult.model_validate(last.result)

    async def listenOnce(self, session: ClientSession, taskId: str) -> None:
        """One listen naming C{taskId}, until the task is over or the
        stream ends (the SDK has no C{taskIds} in its C{listen()}: its
        driver's steps, with the extension's filter)."""
        self.listens += 1
        requestId = f"listen-task-{next(_ids)}"
        data: dict[str, Any] = {
            "method": "subscriptions/listen",
            "params": {"notifications": {"taskIds": [taskId]}},
        }
        options: Any = {"request_id": requestId}
        session._stamp(data, options)
        route = session._register_listen_route(requestId)
        ended = anyio.Event()

        async def drive() -> None:
            try:
                await session._dispatcher.send_raw_request(data["method"], data["params"], options)
            except Exception:
                await anyio.sleep(0.5)  # a connection cut by the restart: listen again
            finally:
                ended.set()

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(drive)
                with anyio.move_on_after(60):
                    await route.acked.wait()
                if route.honored is not None:
                    self.acknowledged.append((route.honored.model_extra or {}).get("taskIds"))
                while not (ended.is_set() or self.over(taskId)):
                    await anyio.sleep(0.02)
                with anyio.move_on_after(2):  # what came before the end is being handled
                    while not self.over(taskId):
                        await anyio.sleep(0.02)
                group.cancel_scope.cancel()
        finally:
            session._unregister_listen_route(requestId)


async def callWithoutPolling(
    url: str, tool: str, arguments: dict[str, Any], whenWorking: Any = None
) -> tuple[CallToolResult, StatusByListen, Counter[str]]:
    """Call C{tool} as a task, finished by listening; what was heard and
    the methods of every request sent to the gateway."""
    extension = StatusByListen()
    sent: Counter[str] = Counter()

    async def count(request: Any) -> None:
        sent[request.headers.get("mcp-method", "?")] += 1

    async def watch() -> None:
        while "working" not in extension.statuses():
            await anyio.sleep(0.02)
        await anyio.to_thread.run_sync(whenWorking)

    async with create_mcp_http_client() as http:
        http.event_hooks["request"].append(count)
        transport = streamable_http_client(url, http_client=http)
        async with (
            Client(transport, mode=ERA2026, extensions=[extension]) as client,
            anyio.create_task_group() as group,
        ):
            if whenWorking is not None:
                group.start_soon(watch)
            result = await client.call_tool(tool, arguments)
    return result, extension, sent


def slowCompute(
    gateway: RunningGateway, seconds: float, label: str, whenWorking: Any = None
) -> tuple[CallToolResult, StatusByListen, Counter[str]]:
    """L{callWithoutPolling} of the conformance fixture's C{slow_compute}
    for C{seconds}, labelled C{label}."""
    return anyio.run(
        callWithoutPolling,
        gateway.url("conformance"),
        "slow_compute",
        {"seconds": seconds, "label": label},
        whenWorking,
    )


def test_a_listening_client_hears_working_then_completed_and_never_polls(home: Path) -> None:
    gateway = start(home)
    try:
        result, heard, sent = slowCompute(gateway, 1.5, "pushed")
    finally:
        gateway.stop()
    assert result.content[0].text == "computed pushed after 1.5s"  # type: ignore[union-attr]
    assert heard.statuses() == ["working", "completed"], gateway.text()[-3000:]
    taskId = heard.heard[0].task_id
    assert heard.acknowledged == [[taskId]]
    assert sent["tasks/get"] == 0 and sent["subscriptions/listen"] == 1, sent
    assert set(sent) <= {"server/discover", "tools/list", "tools/call", "subscriptions/listen"}


def test_the_status_comes_through_mcpgateway_restart_without_polling(home: Path) -> None:
    # The call outlasts the hand-over (a successor starts within the CLI's
    # 15 s), and the old process keeps running it through its drain (long
    # enough here for the call to end in it); the client listens again,
    # wherever its next request lands.
    gateway = start(home, "--drain-timeout", "60")
    state = home / "state" / "state.json"
    old = gateway.process.pid
    restarted: list[subprocess.CompletedProcess[str]] = []

    def restart() -> None:
        restarted.append(cli(home, "restart"))

    try:
        result, heard, sent = slowCompute(gateway, 20.0, "across", restart)
        assert restarted and restarted[0].returncode == 0, restarted
        assert json.loads(state.read_text())["pid"] != old
        assert gateway.process.wait(60) == 0
    finally:
        cli(home, "stop")
        gateway.stop()
    log = gateway.text()[-4000:]
    assert result.content[0].text == "computed across after 20.0s", log  # type: ignore[union-attr]
    statuses = heard.statuses()
    assert statuses[0] == "working" and statuses[-1] == "completed", (statuses, log)
    assert set(statuses) == {"working", "completed"}, statuses
    assert heard.listens >= 2, heard.listens  # the hand-over ended the first listen
    assert sent["tasks/get"] == 0, sent


def test_a_childs_own_task_is_heard_as_the_gateways_task(home: Path, everything: list[str]) -> None:
    command, *args = everything
    config = writeConfig(
        home / "servers.json",
        {"everything": {"command": command, "args": args, "share": "global"}},
    )
    gateway = RunningGateway(["--config", str(config)], home)
    try:
        result, heard, sent = anyio.run(
            callWithoutPolling,
            gateway.url("everything"),
            "simulate-research-query",
            {"topic": "gateways"},
        )
    finally:
        gateway.stop()
    assert "Research Report: gateways" in result.content[0].text  # type: ignore[union-attr]
    statuses = heard.statuses()
    assert statuses[0] == "working" and statuses[-1] == "completed", statuses
    assert set(statuses) == {"working", "completed"}, statuses
    assert any(state.status_message for state in heard.heard[:-1]), heard.heard
    assert sent["tasks/get"] == 0, sent


def test_a_2025_session_hears_its_tasks_status_on_its_stream(home: Path) -> None:
    gateway = start(home)
    try:
        url = gateway.url("conformance")
        session = Session2025(url)
        taskId = session.createTask("slow_compute", {"seconds": 1, "label": "old"})
        assert waitFor(lambda: "completed" in session.statusesOf(taskId), timeout=20)
        assert session.statusesOf(taskId) == ["completed"]
        assert session.methods["tasks/get"] == 0
    finally:
        gateway.stop()


class Session2025(Session):
    """A raw 2025-11-25 session: initialize, its GET stream read on a thread."""

    def __init__(self, url: str) -> None:
        super().__init__(url, name="status-2025")
        self.methods: Counter[str] = Counter()
        result = self.open()
        assert result["capabilities"]["tasks"]["requests"] == {"tools": {"call": {}}}
        self.heard = self.listen().messages

    def post(self, message: Any, headers: Mapping[str, str] | None = None) -> Reply:
        self.methods[message.get("method", "?")] += 1
        reply = super().post(message, headers)
        assert reply.status in (200, 202), reply.text
        return reply

    def createTask(self, tool: str, arguments: dict[str, Any]) -> str:
        call = {"name": tool, "arguments": arguments, "task": {"ttl": 60000}}
        answer = self.request("tools/call", call, 1)
        return str(answer["result"]["task"]["taskId"])

    def statusesOf(self, taskId: str) -> list[str]:
        """The statuses its GET stream carried of C{taskId} so far."""
        return [
            m["params"]["status"]
            for m in list(self.heard)
            if m.get("method") == "notifications/tasks/status"
            and m["params"].get("taskId") == taskId
        ]

"""What tests/core/tasks/test_manager.py shares with the other tests:
FakeChild, WITH_TASKS, complete, manager, startTask, tasksRequest."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.tasks.manager import TaskManager, TaskTerms
from mcpgateway.core.tasks.store import TaskStore
from mcpgateway.core.taskterms import EXTENSION, RELATED_TASK
from mcpgateway.protocol import jsonrpc

WITH_TASKS: dict[str, object] = {"extensions": {EXTENSION: {}}}


class FakeChild:
    """The pool's C{era2026}: each call a Deferred the test fires."""

    def __init__(self) -> None:
        self.calls: list[tuple[Era2026Request, Deferred[jsonrpc.Message]]] = []
        self.cancelled: list[Era2026Request] = []
        self.support: dict[str, str] = {}
        self.sinks: list[Any] = []

    def run(self, request: Era2026Request, sink: Any) -> Deferred[jsonrpc.Message]:
        answer: Deferred[jsonrpc.Message] = Deferred(lambda _: self.cancelled.append(request))
        self.calls.append((request, answer))
        self.sinks.append(sink)
        return answer

    def taskSupport(self, request: Era2026Request, tool: str) -> Deferred[str | None]:
        return succeed(self.support.get(tool))


def call(
    tool: str = "forecast",
    capabilities: dict[str, Any] | None = None,
    principal: str = "p-alice",
    requestId: Any = 1,
) -> Era2026Request:
    return Era2026Request(
        clientId=requestId,
        method="tools/call",
        params={"name": tool, "arguments": {}},
        capabilities=WITH_TASKS if capabilities is None else capabilities,
        principal=principal,
    )


def tasksRequest(
    method: str,
    taskId: str,
    principal: str = "p-alice",
    inputResponses: dict[str, Any] | None = None,
) -> Era2026Request:
    return Era2026Request(
        clientId=9,
        method=method,
        params={"taskId": taskId},
        capabilities=WITH_TASKS,
        principal=principal,
        inputResponses=inputResponses,
    )


def manager(limits: TaskTerms | None = None) -> tuple[TaskManager, FakeChild, Clock]:
    clock = Clock()
    made = TaskManager(TaskStore(None, now=lambda: 1_800_000_000.0), clock, limits)
    return made, FakeChild(), clock


def answered(d: Deferred[Any]) -> list[Any]:
    box: list[Any] = []
    d.addBoth(box.append)
    return box


def complete(requestId: Any, text: str = "sunny") -> jsonrpc.Message:
    return jsonrpc.resultResponse(
        requestId,
        {
            "resultType": "complete",
            "content": [{"type": "text", "text": text}],
            "_meta": {RELATED_TASK: {"taskId": "x"}, "kept": 1},
        },
    )


def startTask(
    made: TaskManager, child: FakeChild, clock: Clock, tool: str = "forecast"
) -> tuple[str, Deferred[jsonrpc.Message]]:
    box = answered(made.call("weather", call(tool), lambda _: True, child.run, child.taskSupport))
    clock.advance(0.5)
    [handle] = box
    result = handle["result"]
    assert result["resultType"] == "task" and result["status"] == "working"
    return result["taskId"], child.calls[-1][1]

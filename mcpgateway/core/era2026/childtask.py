# -*- test-case-name: tests.core.era2026.test_childtask -*-
"""A 2026 call on a child that keeps tasks itself (MCP 2025-11-25 tasks).

A child that declares C{tasks.requests.tools.call} and marks a tool
C{execution.taskSupport} C{"optional"} or C{"required"} runs that tool's
calls as its own tasks; a C{"required"} tool refuses a plain call. When a
2026-07-28 client that declares the Tasks extension calls such a tool, the
gateway passes the call through as the child's task (L{ChildTask}): the
C{tools/call} goes to the child task-augmented, the child's
C{CreateTaskResult} is followed by its C{tasks/result} (which the child
answers once the task is over, with the call's result), and that result is
the call's. Around it the gateway's own task (L{mcpgateway.core.tasks.manager})
does what it does for any call: the handle, C{tasks/get}, durability,
replicas. So the child's task id never reaches the client; the client's
task is the gateway's, sealed and bound to its route, server and principal.

The child's task is the call's only: it is remembered as the call's in the
shared child's task owners (L{mcpgateway.core.fanout.TaskOwners}) while the
call lasts, so what the child sends about it (its elicitation while it is
C{input_required}, tagged with the task's id, on the C{tasks/result} stream;
its C{notifications/tasks/status}) reaches this call and no other client,
and is forgotten when the call ends. A child's elicitation so becomes the
call's C{input_required} round like any other (the MRTR bridge). Cancelling
the call (the client's C{tasks/cancel}, its disconnect, the task's time to
live) cancels the child's request in flight and sends the child
C{tasks/cancel} for its task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.exchange import Exchange, Sink
from mcpgateway.core.fanout import TaskOwners
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import SessionLike
from mcpgateway.core.taskterms import EXTENSION, RELATED_TASK, isTerminal
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs

log = Logger(observer=logs.observer, namespace="mcpgateway.tasks")

TASK_SUPPORTING = frozenset({"optional", "required"})
"""The tool task supports that let a call be the child's task."""


def keepsTasks(request: Era2026Request, initialize: dict[str, Any], router: Router) -> bool:
    """Whether C{request} runs as the child's own task: a C{tools/call} of a
    client that declares the Tasks extension, to a tool the child marks
    C{optional} or C{required}, of a child that declares task-augmented
    C{tools/call}."""
    if request.method != "tools/call":
        return False
    extensions = request.capabilities.get("extensions")
    if not (isinstance(extensions, dict) and isinstance(extensions.get(EXTENSION), dict)):
        return False
    if router.toolTasks.get(str(request.params.get("name"))) not in TASK_SUPPORTING:
        return False
    return _childTakesToolTasks(initialize.get("capabilities"))


def _childTakesToolTasks(capabilities: Any) -> bool:
    tasks = capabilities.get("tasks") if isinstance(capabilities, dict) else None
    augmented = tasks.get("requests") if isinstance(tasks, dict) else None
    tools = augmented.get("tools") if isinstance(augmented, dict) else None
    return isinstance(tools, dict) and isinstance(tools.get("call"), dict)


class ChildTask:
    """One call that runs as the child's task (see the module docstring).

    @ivar response: fires with the call's answer: the child's C{tasks/result}
        answer (its result, or its error), or the C{tools/call} answer when
        the child answered without a task (it may), or its error;
        cancelling it cancels the child's task.
    @ivar exchange: the request in flight on the child (the C{tools/call},
        then the C{tasks/result}), for whoever pauses its timeout.
    @ivar taskId: the child's task id, once it made the task.
    """

    def __init__(
        self,
        router: Router,
        caller: SessionLike,
        message: Message,
        related: Sink,
        untimed: bool,
        onExchange: Callable[[Exchange], None],
    ) -> None:
        """
        @param caller: who the call is, as the router sees it (the chain's
            L{mcpgateway.core.era2026.mrtr.Era2026Call}).
        @param message: the C{tools/call} request, as the child gets it
            (without its C{task}).
        @param related: gets what the router routes to the call.
        @param untimed: a call the gateway's own task bounds: no request
            timeout for its C{tasks/result}.
        @param onExchange: told each request the call sends the child.
        """
        self.router = router
        self.caller = caller
        self.message = message
        self.related = related
        self.untimed = untimed
        self.onExchange = onExchange
        self.response: Deferred[Message] = Deferred(self._cancelled)
        self.exchange: Exchange | None = None
        self.taskId: str | None = None
        self.cancelReason = "the call was cancelled"
        self._over = False
        self._statuses = 0

    def start(self) -> None:
        params = {**self.message.get("params", {}), "task": {}}
        self._send({**self.message, "params": params}).addCallbacks(self._created, self._failed)

    def _send(self, message: Message) -> Deferred[Message]:
        exchange = self.exchange = self.router.open(self.caller, message, self.related)
        self.onExchange(exchange)
        return exchange.response

    def _created(self, response: Message) -> None:
        """The child's answer to the task-augmented call: its task (then
        wait for the task's result), or anything else (the call's answer)."""
        result = response.get("result")
        task = result.get("task") if isinstance(result, dict) else None
        taskId = task.get("taskId") if isinstance(task, dict) else None
        if not isinstance(taskId, str):
            self._answer(response)
            return
        assert isinstance(task, dict)
        self.taskId = taskId
        owners = self._owners()
        if owners is not None:
            owners.remember(taskId, self.caller, task.get("status"))
        log.debug(
            "server {server}: a 2026 call runs as the child's task {task!r}",
            server=self.router.name,
            task=taskId,
        )
        asked = jsonrpc.request(self.message.get("id"), "tasks/result", {"taskId": taskId})
        fetched = self._send(asked)
        if self.untimed and self.exchange is not None:
            self.router.hold(self.exchange)
        fetched.addCallbacks(self._fetched, self._failed)

    def _fetched(self, response: Message) -> None:
        """The task is over: its result is the call's (the child's tag of
        its task taken off: the client never sees the child's task id)."""
        self._forget()
        result = response.get("result")
        if isinstance(result, dict):
            response = {**response, "result": _untagged(result)}
        self._answer(response)

    def _failed(self, reason: Failure) -> None:
        self.exchange = None
        if reason.check(CancelledError):
            return  # ours (L{_cancelled}): the response is cancelled already
        self._forget()
        if not self.response.called:
            self.response.errback(reason)

    def _answer(self, response: Message) -> None:
        self.exchange = None
        self._over = True
        if not self.response.called:
            self.response.callback(response)

    def _cancelled(self, _: Deferred[Message]) -> None:
        """The call is cancelled: so are the child's request in flight and
        its task."""
        exchange, self.exchange = self.exchange, None
        if exchange is not None and not exchange.response.called:
            exchange.cancelReason = self.cancelReason
            exchange.response.cancel()
        taskId = self.taskId
        if taskId is not None and not self._over:
            self._over = True
            self.router.call("tasks/cancel", {"taskId": taskId}).addErrback(
                lambda _: None  # the child's answer changes nothing: the call is over
            )
        self._forget()

    def status(self, params: dict[str, Any]) -> Message | None:
        """The child's C{notifications/tasks/status} of the task, as the
        progress it is for the call (its C{statusMessage}), else C{None}."""
        if params.get("taskId") != self.taskId:
            return None
        owners = self._owners()
        if owners is not None and self.taskId is not None:
            owners.status(self.taskId, params.get("status"))
        text = params.get("statusMessage")
        if not isinstance(text, str) or not text or isTerminal(params.get("status")):
            return None
        self._statuses += 1  # progress only ever grows
        return jsonrpc.notification(
            "notifications/progress", {"progress": self._statuses, "message": text}
        )

    def _owners(self) -> TaskOwners | None:
        owners = getattr(self.router.fanout, "tasks", None)
        return owners if isinstance(owners, TaskOwners) else None

    def _forget(self) -> None:
        owners, taskId = self._owners(), self.taskId
        if owners is not None and taskId is not None and owners.owner(taskId) is self.caller:
            owners.forget(taskId)


def _untagged(result: dict[str, Any]) -> dict[str, Any]:
    """C{result} without the C{_meta} tag naming the child's task."""
    meta = result.get("_meta")
    if not isinstance(meta, dict) or RELATED_TASK not in meta:
        return result
    rest = {key: value for key, value in meta.items() if key != RELATED_TASK}
    if rest:
        return {**result, "_meta": rest}
    return {key: value for key, value in result.items() if key != "_meta"}

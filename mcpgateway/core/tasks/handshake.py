# -*- test-case-name: tests.core.tasks.test_handshake -*-
"""The 2025-11-25 experimental tasks, made by the gateway for a child that
does not implement them, from the same store as the Tasks extension's.

A 2025-11-25 session whose child declares no C{tasks} capability is told,
in its C{initialize} answer, that the gateway serves tasks of C{tools/call}
(L{TASKS_CAPABILITY}), and its tools are listed with
C{execution.taskSupport: "optional"} (a 2025-11-25 client must not ask a
tool without it for a task). A task-augmented C{tools/call} (C{params.task})
is then sent to the child as an ordinary call, stored as a task before the
client gets its C{CreateTaskResult}, and answered for by the gateway:
C{tasks/get} (the task), C{tasks/result} (the call's result, once it is
over: the request waits until then), C{tasks/list} (the session's tasks,
newest first, in pages) and C{tasks/cancel} (the child's call is
cancelled). A child that declares the capability serves its own tasks (the
gateway routes them, L{mcpgateway.core.fanout}), but for a call the flow
rule holds, whose task the gateway makes (L{HandshakeTasks.owns} tells its
requests apart; L{mcpgateway.web.endpoints.backends}); every older
protocol version's session knows no tasks.

While such a task runs, the child's requests (sampling, elicitation)
reach the session on its own stream, tagged with the task
(C{_meta["io.modelcontextprotocol/related-task"]}), and the task is
C{input_required} until the session answers them (or the child withdraws
them); its progress, for a call that asked for it, goes there too, and so
does each change of its status (C{notifications/tasks/status}, the task as
C{tasks/get} shows it), so that the client need not poll.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, succeed

from mcpgateway.core.sessions import Session
from mcpgateway.core.tasks.manager import TaskManager
from mcpgateway.core.tasks.model import CANCELLED, COMPLETED, NOT_LOADED, Task, envelope
from mcpgateway.core.tasks.watching import LastShown, statusLook
from mcpgateway.core.taskterms import RELATED_TASK
from mcpgateway.protocol import jsonrpc

TASKS_VERSION = "2025-11-25"
"""The one protocol revision of the experimental tasks."""
TASKS_CAPABILITY: dict[str, Any] = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
"""What the gateway says it serves, in C{capabilities.tasks}."""
TASK_METHODS = frozenset({"tasks/get", "tasks/result", "tasks/list", "tasks/cancel"})
STATUS_METHOD = "notifications/tasks/status"
"""The 2025-11-25 status notification: its params are the task."""
TASK_NOT_FOUND = "Failed to retrieve task: Task not found"
"""The specification's words (C{-32602}) for an id that is not the session's."""
PAGE = 50
"""Tasks in one page of C{tasks/list}."""

Sink = Callable[[jsonrpc.Message], bool]
Forward = Callable[[jsonrpc.Message, "Sink | None"], "Deferred[jsonrpc.Message]"]
"""Sends one request of the session to its child (the pool's C{forward});
what the child says about a task's call goes to the sink given (C{None}:
the request's own stream)."""
Untime = Callable[[Any], bool]
"""Lifts the request timeout of the session's request in flight with this id."""


def speaksTasks(initializeResult: Any) -> bool:
    """Whether a child's C{InitializeResult} says it serves task-augmented
    C{tools/call} itself."""
    if not isinstance(initializeResult, dict):
        return False
    capabilities = initializeResult.get("capabilities")
    tasks = capabilities.get("tasks") if isinstance(capabilities, dict) else None
    augmented = tasks.get("requests") if isinstance(tasks, dict) else None
    tools = augmented.get("tools") if isinstance(augmented, dict) else None
    return isinstance(tools, dict) and isinstance(tools.get("call"), dict)


def announced(response: jsonrpc.Message, version: str) -> jsonrpc.Message:
    """The C{initialize} answer of a 2025-11-25 session, with the gateway's
    C{tasks} capability when the child declares none."""
    result = response.get("result")
    if version != TASKS_VERSION or not isinstance(result, dict):
        return response
    capabilities = result.get("capabilities")
    capabilities = dict(capabilities) if isinstance(capabilities, dict) else {}
    if "tasks" in capabilities:
        return response
    capabilities["tasks"] = TASKS_CAPABILITY
    return {**response, "result": {**result, "capabilities": capabilities}}


def optionalTasks(response: jsonrpc.Message) -> jsonrpc.Message:
    """A C{tools/list} answer whose tools say nothing of tasks, each marked
    C{execution.taskSupport: "optional"}."""
    result = response.get("result")
    tools = result.get("tools") if isinstance(result, dict) else None
    if not isinstance(tools, list):
        return response
    marked = [
        {**tool, "execution": {"taskSupport": "optional"}}
        if isinstance(tool, dict) and "execution" not in tool
        else tool
        for tool in tools
    ]
    assert isinstance(result, dict)
    return {**response, "result": {**result, "tools": marked}}


def shown(task: Task) -> dict[str, Any]:
    """A task as 2025-11-25 shows it: the extension's envelope under that
    revision's names (C{ttl}, C{pollInterval}; milliseconds both)."""
    renamed = {"ttlMs": "ttl", "pollIntervalMs": "pollInterval"}
    return {renamed.get(key, key): value for key, value in envelope(task).items()}


class HandshakeTasks:
    """The gateway's 2025-11-25 tasks on one server's sessions."""

    def __init__(self, manager: TaskManager, server: str) -> None:
        self.manager = manager
        self.server = server
        self._asking: dict[tuple[str, Any], Task] = {}
        """The child's questions that wait for their session's answer, by
        (session id, the question's gateway id): the task each is for."""

    def wants(self, session: Session, message: jsonrpc.Message) -> bool:
        """Whether C{message} of C{session} may be the gateway's to serve
        (once it knows the child does not serve tasks)."""
        if session.protocolVersion != TASKS_VERSION:
            return False
        method = message.get("method")
        if method in TASK_METHODS or method == "tools/list":
            return True
        params = message.get("params")
        return method == "tools/call" and isinstance(params, dict) and "task" in params

    def withOwn(self, answer: jsonrpc.Message, session: Session) -> jsonrpc.Message:
        """The child's first page of C{tasks/list} (C{answer}) for a session
        whose child makes its own tasks, with the tasks the gateway made
        for C{session} (held calls: L{owns}) first, newest first."""
        result = answer.get("result")
        listed = result.get("tasks") if isinstance(result, dict) else None
        mine = [
            task
            for task in self.manager.store
            if task.session == session.id and task.server == self.server
        ]
        if not isinstance(listed, list) or not mine:
            return answer
        assert isinstance(result, dict)
        mine.sort(key=lambda task: task.createdAt, reverse=True)
        return {**answer, "result": {**result, "tasks": [*map(shown, mine), *listed]}}

    def owns(self, session: Session, message: jsonrpc.Message) -> bool:
        """Whether the task C{message} names (C{params.taskId}) is one the
        gateway made for C{session}."""
        params = message.get("params")
        taskId = params.get("taskId") if isinstance(params, dict) else None
        task = self.manager.owned(taskId, session.scope, session.principal, self.server)
        return task is not None and task.session == session.id

    def serve(
        self,
        session: Session,
        message: jsonrpc.Message,
        forward: Forward,
        untime: Untime | None = None,
    ) -> Deferred[jsonrpc.Message]:
        """Serve a request L{wants} said may be the gateway's, for a child
        that does not serve tasks; C{untime} lifts a task's call's request
        timeout (its time to live bounds it)."""
        method = message.get("method")
        if method == "tools/list":
            return forward(message, None).addCallback(optionalTasks)
        if method == "tools/call":
            return succeed(self._create(session, message, forward, untime))
        if method == "tasks/list":
            return self.manager.afterLoad(lambda: self._list(session, message))
        return self.manager.afterLoad(lambda: self._answer(session, message)).addCallback(
            lambda answer: answer if answer is not None else self._waitFor(session, message)
        )

    def _answer(self, session: Session, message: jsonrpc.Message) -> jsonrpc.Message | None:
        """C{tasks/get} or C{tasks/cancel} (or an unknown task) answered now;
        C{None}: a C{tasks/result} that waits (L{_waitFor})."""
        params = message.get("params")
        taskId = params.get("taskId") if isinstance(params, dict) else None
        task = self.manager.owned(taskId, session.scope, session.principal, self.server)
        if task is None and self.manager.loading:  # maybe the predecessor's: not read yet
            return jsonrpc.errorResponse(
                message.get("id"), jsonrpc.INTERNAL_ERROR, f"{NOT_LOADED}: ask again shortly"
            )
        if task is None or task.session != session.id:
            return jsonrpc.errorResponse(message.get("id"), jsonrpc.INVALID_PARAMS, TASK_NOT_FOUND)
        method = message.get("method")
        if method == "tasks/get":
            return jsonrpc.resultResponse(message.get("id"), shown(task))
        if method == "tasks/cancel":
            return self._cancel(message, task)
        return None

    def _waitFor(self, session: Session, message: jsonrpc.Message) -> Deferred[jsonrpc.Message]:
        """C{tasks/result}: the call's result once the task is over."""
        params = message.get("params")
        taskId = params.get("taskId") if isinstance(params, dict) else None
        task = self.manager.owned(taskId, session.scope, session.principal, self.server)
        assert task is not None
        return self.manager.whenOver(task).addCallback(lambda over: _result(message, over))

    def _create(
        self, session: Session, message: jsonrpc.Message, forward: Forward, untime: Untime | None
    ) -> jsonrpc.Message:
        """A task-augmented C{tools/call}: sent to the child as a plain
        call and answered at once with its task. When the caps leave no
        room for another task, the call is refused (C{TOO_MANY_REQUESTS})
        and never reaches the child: the client asked for a task, and
        nothing would read the call's answer."""
        if not self.manager.hasTaskCapacity(session.principal):
            return _noCapacity(message)
        params = message.get("params")
        params = dict(params) if isinstance(params, dict) else {}
        wanted = params.pop("task", None)
        made: list[Task] = []
        call = forward({**message, "params": params}, self._aboutTask(session, made))
        tool = params.get("name")
        ttl = wanted.get("ttl") if isinstance(wanted, dict) else None
        task = self.manager.begin(
            self.server,
            session.scope,
            session.principal,
            str(tool),
            call,
            session=session.id,
            ttlMs=ttl if isinstance(ttl, int) and not isinstance(ttl, bool) and ttl > 0 else None,
        )
        if task is None:  # no room after all: the call is cancelled, its answer unread
            call.addErrback(lambda _: None)
            call.cancel()
            return _noCapacity(message)
        if untime is not None:
            untime(message.get("id"))
        made.append(task)
        self._tellStatus(session, task)
        return jsonrpc.resultResponse(message.get("id"), {"task": shown(task)})

    def _tellStatus(self, session: Session, task: Task) -> None:
        """Each change of C{task} goes to C{session}, which made it, as
        C{notifications/tasks/status} (the task as C{tasks/get} shows it,
        on the session's own stream), until its last: its end. The watcher
        holds the session no longer than that: a session that ends first
        takes its task's call with it (its requests on the child are
        cancelled), which ends the task (L{TaskManager}), and so the
        watcher; a task's time to live ends it at the latest."""
        seen = LastShown(statusLook)
        seen.fresh(task)  # the client has it from its CreateTaskResult
        stops: list[Callable[[], None]] = []

        def tell(changed: Task) -> None:
            if seen.fresh(changed):
                session.deliver(jsonrpc.notification(STATUS_METHOD, shown(changed)))
            if changed.terminal:
                stops[0]()
                self._forgetQuestions(changed)

        stops.append(self.manager.watchers.watch(task.taskId, tell))

    def _forgetQuestions(self, task: Task) -> None:
        """C{task} is over: the child's questions still waiting for its
        session's answer are nobody's concern now (the child's call is
        over, and so is what it asked)."""
        for key in [key for key, asked in self._asking.items() if asked is task]:
            del self._asking[key]

    def _aboutTask(self, session: Session, made: list[Task]) -> Sink:
        """What the child says about a task's call (the task in C{made},
        once it is): its questions go to the session tagged with the task,
        which waits for their answers as C{input_required}; its progress
        goes to the session's own stream."""

        def related(message: jsonrpc.Message) -> bool:
            method = message.get("method")
            params = message.get("params")
            if not made or not isinstance(method, str):
                return False
            task = made[0]
            if "id" in message:
                self._asking[(session.id, message["id"])] = task
                self.manager.asking(task, True)
                return session.deliver(_tagged(message, task))
            if method == "notifications/cancelled" and isinstance(params, dict):
                self._settled(session.id, params.get("requestId"))
            elif method == "notifications/progress":
                return session.deliver(message)
            return False

        return related

    def answered(self, session: Session, message: jsonrpc.Message) -> None:
        """C{session} answered a request of the child's (C{message}, its response)."""
        self._settled(session.id, message.get("id"))

    def _settled(self, sessionId: str, gatewayId: Any) -> None:
        task = self._asking.pop((sessionId, gatewayId), None)
        if task is not None and task not in self._asking.values():
            self.manager.asking(task, False)

    def _list(self, session: Session, message: jsonrpc.Message) -> jsonrpc.Message:
        params = message.get("params")
        cursor = params.get("cursor") if isinstance(params, dict) else None
        mine = sorted(
            (
                task
                for task in self.manager.store
                if task.session == session.id and task.server == self.server
            ),
            key=lambda task: task.createdAt,
            reverse=True,
        )
        try:
            start = int(cursor) if cursor is not None else 0
        except (TypeError, ValueError):
            start = -1
        if start < 0 or start > len(mine):
            return jsonrpc.errorResponse(
                message.get("id"), jsonrpc.INVALID_PARAMS, "Invalid params: unknown cursor"
            )
        page: dict[str, Any] = {"tasks": [shown(task) for task in mine[start : start + PAGE]]}
        if start + PAGE < len(mine):
            page["nextCursor"] = str(start + PAGE)
        return jsonrpc.resultResponse(message.get("id"), page)

    def _cancel(self, message: jsonrpc.Message, task: Task) -> jsonrpc.Message:
        if task.terminal:
            return jsonrpc.errorResponse(
                message.get("id"),
                jsonrpc.INVALID_PARAMS,
                f"Cannot cancel task: already in terminal status '{task.status}'",
            )
        self.manager.cancel(task)
        return jsonrpc.resultResponse(message.get("id"), shown(task))


def _noCapacity(message: jsonrpc.Message) -> jsonrpc.Message:
    """The refusal of a task-augmented call the caps leave no room for."""
    return jsonrpc.errorResponse(
        message.get("id"),
        jsonrpc.TOO_MANY_REQUESTS,
        "too many unfinished tasks: call again without a task, or when some are over",
    )


def _tagged(message: jsonrpc.Message, task: Task) -> jsonrpc.Message:
    """The child's request C{message} tagged as C{task}'s (C{_meta})."""
    params = message.get("params")
    params = dict(params) if isinstance(params, dict) else {}
    meta = params.get("_meta")
    params["_meta"] = {
        **(meta if isinstance(meta, dict) else {}),
        RELATED_TASK: {"taskId": task.taskId},
    }
    return {**message, "params": params}


def _result(message: jsonrpc.Message, task: Task) -> jsonrpc.Message:
    """C{tasks/result} of a task that is over: the call's result (with the
    related-task C{_meta}), or its error."""
    related = {RELATED_TASK: {"taskId": task.taskId}}
    if task.status == COMPLETED and task.result is not None:
        meta = task.result.get("_meta")
        meta = {**meta, **related} if isinstance(meta, dict) else related
        return jsonrpc.resultResponse(message.get("id"), {**task.result, "_meta": meta})
    if task.status == CANCELLED:
        return jsonrpc.errorResponse(message.get("id"), jsonrpc.INVALID_PARAMS, "Task cancelled")
    error = task.error or {}
    code = error.get("code")
    return jsonrpc.errorResponse(
        message.get("id"),
        code if isinstance(code, int) else jsonrpc.INTERNAL_ERROR,
        str(error.get("message") or "the task failed"),
        error.get("data"),
    )

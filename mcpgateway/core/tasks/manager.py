# -*- test-case-name: tests.core.tasks.test_manager,tests.core.test_tracing -*-
"""The Tasks extension served in front of any child (MCP 2026-07-28).

A client that declares C{io.modelcontextprotocol/tasks} in a request's
C{clientCapabilities} may get a task instead of a result: the gateway runs
its C{tools/call} on the child as an ordinary call, and when that call has
neither finished nor asked for input within L{TaskTerms.after}
seconds, answers with a C{CreateTaskResult} (the task stored for good
first, L{mcpgateway.core.tasks.store}) and keeps the call's outcome for
C{tasks/get}. A call that finishes sooner is answered as it is, and one
that asks for input sooner is answered with its C{InputRequiredResult}
(the multi round-trip bridge's round): a task is a call that takes time.
So any tool of any child can run as a task, without the child knowing
tasks; a tool the child marks C{"taskSupport": "forbidden"} never does,
and one it marks C{"required"} is refused (-32021) to a client without
the extension.

A child's sampling or elicitation during a task makes it
C{input_required}: C{tasks/get} shows the round's C{inputRequests};
C{tasks/update} gathers the answers and, once every request of the round
is answered, sends the call on with them (the bridge's retry, under the
gateway's own C{requestState}, which the client never sees).
C{tasks/cancel} cancels the child's call (the child gets
C{notifications/cancelled}). Only the principal, server and route that
made a task see it; any other gets the unknown-task error.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core import tracing
from mcpgateway.core.tasks.archive import TaskArchive
from mcpgateway.core.tasks.model import (
    CANCELLED,
    COMPLETED,
    FAILED,
    INPUT_REQUIRED,
    NOT_LOADED,
    WORKING,
    Task,
    createResult,
    detailed,
)
from mcpgateway.core.tasks.store import TaskStore
from mcpgateway.core.tasks.watching import TaskWatchers
from mcpgateway.core.taskterms import EXTENSION
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs

if TYPE_CHECKING:
    from mcpgateway.core.era2026.types import Era2026Request, Sink

TASK_METHODS = frozenset({"tasks/get", "tasks/update", "tasks/cancel"})
"""The extension's methods (2026-07-28: no C{tasks/result}, no C{tasks/list})."""
Run = Callable[["Era2026Request", "Sink"], "Deferred[jsonrpc.Message]"]
"""Serves one 2026 request on the server's child (the pool's C{era2026})."""
TaskSupport = Callable[["Era2026Request", str], "Deferred[str | None]"]
"""What the child says of a tool's task support (C{None}: nothing)."""
T = TypeVar("T")
LOAD_WAIT = 60.0
"""Seconds a request for a task waits, at most, for a restart's successor
to read the journal (its predecessor's exit; the wiring gives the
restart's own bound)."""
NewId = Callable[[str, str, str], str]
"""Makes a new task's id for (server, route, principal)."""
TTL_OVER = "the task's time to live ran out before it ended; its call is cancelled"
"""Why a task still running when its time to live is over is failed (its
watchers' last notification, just before it is forgotten)."""
CALL_CANCELLED = (
    "the task's call was cancelled before it ended (its session ended, or its server stopped)"
)
"""Why a task whose call something else cancelled (not L{TaskManager.cancel})
is failed."""


@dataclass(frozen=True)
class TaskTerms:
    """How tasks are made and kept (C{--task-*} options, docs/guide/tasks.md)."""

    after: float = 0.5
    """Seconds a call runs before it becomes a task."""
    ttl: float = 3600.0
    """Seconds a task is kept, from its creation."""
    pollInterval: float = 0.5
    """The C{pollIntervalMs} hint, in seconds."""
    maxTasks: int = 10_000
    """Tasks kept at once; past it a call is answered when it ends, as without tasks."""
    maxPerPrincipal: int = 1_000
    """Tasks one principal may have at once (likewise)."""


class _Live:
    """What a running task holds that the store does not: the request it
    re-issues after C{tasks/update} (C{None}: a task of L{TaskManager.begin},
    which never asks), and its call in flight."""

    def __init__(self, request: Era2026Request | None) -> None:
        self.request = request
        self.call: Deferred[jsonrpc.Message] | None = None


class TaskManager:
    """The tasks of one gateway, on every server's routes."""

    log = Logger(observer=logs.observer, namespace="mcpgateway.tasks")

    def __init__(
        self,
        store: TaskStore,
        clock: IReactorTime,
        limits: TaskTerms | None = None,
        newId: NewId | None = None,
        archive: TaskArchive | None = None,
    ) -> None:
        """
        @param newId: makes a task's id for (server, route, principal): a
            cluster replica's seals its own address in it
            (L{mcpgateway.cluster.taskids}); else a random one.
        @param archive: the other replicas' journals (a shared task
            directory), for a task whose owner could not be reached.
        """
        self.store = store
        self.clock = clock
        self.limits = limits if limits is not None else TaskTerms()
        self._newId: NewId = newId if newId is not None else _randomId
        self._waiting: dict[str, list[Deferred[Task]]] = {}
        self._loadWaiters: list[Deferred[None]] | None = None
        self._loadWait = LOAD_WAIT
        self._unfinished: Counter[str] = Counter()
        self._unfinishedTotal = 0
        self.stopping: str | None = None
        """Why the gateway stops, once it does: a task whose call then ends
        in an error (the stop cut it) is failed with this reason."""
        self.archive = archive
        self._live: dict[str, _Live] = {}
        self._spans: dict[str, tracing.Span] = {}  # a task's lifetime, while traced
        self.created = 0
        self.fastAnswers = 0
        self.watchers = TaskWatchers()
        """Who is told each change of a task (status notifications)."""
        store.onChange = self.watchers.changed
        store.onExpiry = self._lapsed

    # -- tools/call --------------------------------------------------------------

    def call(
        self, server: str, request: Era2026Request, sink: Sink, run: Run, support: TaskSupport
    ) -> Deferred[jsonrpc.Message]:
        """Serve a 2026 C{tools/call}: as a task when it takes time and
        the request declares the extension (see the module docstring)."""
        tool = request.params.get("name")
        declared = declaresTasks(request)

        def decide(supported: str | None) -> Deferred[jsonrpc.Message]:
            if not declared:
                if supported == "required":
                    return succeed(missingExtension(request.clientId, f"tool '{tool}'"))
                return run(request, sink)
            if supported == "forbidden" or not self.hasTaskCapacity(request.principal):
                return run(request, sink)
            return self._race(server, request, sink, run)

        looked = support(request, str(tool)) if isinstance(tool, str) else succeed(None)
        return looked.addErrback(lambda _: None).addCallback(decide)

    def hasTaskCapacity(self, principal: str) -> bool:
        """Whether one more task may be made for C{principal} (counted as
        tasks begin and end: the check costs the same however many finished
        tasks are kept)."""
        if self._unfinishedTotal >= self.limits.maxTasks:
            return False
        return self._unfinished[principal] < self.limits.maxPerPrincipal

    def _race(
        self, server: str, request: Era2026Request, sink: Sink, run: Run
    ) -> Deferred[jsonrpc.Message]:
        """Run the call; answer it as it is if it ends (or asks for input)
        within C{after} seconds, else with a new task's handle."""
        holder: list[Task] = []
        request, ownToken = _withProgress(request)
        request = replace(request, untimed=True)

        def forward(message: jsonrpc.Message) -> bool:
            if holder:  # the request was answered with the handle
                self._progress(holder[0], message)
                return False
            if ownToken and message.get("method") == "notifications/progress":
                return False  # the gateway's own token: the client asked for none
            return sink(message)

        call = run(request, forward)
        answer: Deferred[jsonrpc.Message] = Deferred(lambda _: call.cancel())
        timer: IDelayedCall = self.clock.callLater(
            self.limits.after, self._becomeTask, server, request, call, answer, holder
        )

        def ended(result: Any) -> None:
            if holder:
                self._settle(holder[0], result)
            elif timer.active():
                timer.cancel()
                self.fastAnswers += 1
                if answer.called:  # the client went away (the call was cancelled for it)
                    return
                if isinstance(result, Failure):
                    answer.errback(result)
                else:
                    answer.callback(result)

        call.addBoth(ended)
        return answer

    def _becomeTask(
        self,
        server: str,
        request: Era2026Request,
        call: Deferred[jsonrpc.Message],
        answer: Deferred[jsonrpc.Message],
        holder: list[Task],
    ) -> None:
        task = self._make(
            server, request.scope, request.principal, request.params.get("name"), request.params
        )
        live = self._live[task.taskId] = _Live(request)
        live.call = call
        holder.append(task)
        answer.callback(jsonrpc.resultResponse(request.clientId, createResult(task)))

    def begin(
        self,
        server: str,
        scope: str,
        principal: str,
        tool: str,
        call: Deferred[jsonrpc.Message],
        session: str = "",
        ttlMs: int | None = None,
    ) -> Task | None:
        """Make a task of C{call} (a call on C{server}'s child already sent,
        answered with a JSON-RPC response): stored before this returns, it
        keeps the call's result or error. For the callers that choose the
        task themselves (a search-mode C{invoke} with C{"async": true}, a
        2025-11-25 task-augmented call, made by C{session}, which may ask
        for a shorter time to live C{ttlMs}); C{None} when the caps leave no
        room (the caller then answers the call when it ends, or cancels it
        and refuses the request)."""
        if not self.hasTaskCapacity(principal):
            return None
        task = self._make(server, scope, principal, tool, session=session, ttlMs=ttlMs)
        live = self._live[task.taskId] = _Live(None)
        live.call = call
        call.addBoth(lambda result: self._settle(task, result))
        return task

    def asking(self, task: Task, waiting: bool) -> None:
        """A task of L{begin} whose call waits (C{waiting}) or no longer
        waits for its client's answer to a question of the child:
        C{input_required} meanwhile, then C{working} again (a task that is
        over stays as it is)."""
        if task.terminal:
            return
        status = INPUT_REQUIRED if waiting else WORKING
        if task.status != status:
            task.status = status
            self.store.update(task)

    def whenOver(self, task: Task) -> Deferred[Task]:
        """Fires with C{task} once it is over (at once if it is); cancelling
        it (its client went away) only stops the waiting."""
        if task.terminal:
            return succeed(task)
        waiting: list[Deferred[Task]] = self._waiting.setdefault(task.taskId, [])

        def stopWaiting(d: Deferred[Task]) -> None:
            if d in waiting:
                waiting.remove(d)

        over: Deferred[Task] = Deferred(stopWaiting)
        waiting.append(over)
        return over

    def _make(
        self,
        server: str,
        scope: str,
        principal: str,
        tool: Any,
        params: Any = None,
        session: str = "",
        ttlMs: int | None = None,
    ) -> Task:
        """A new task, stored for good (journal appended and synced); traced
        until it ends (its span's parent in C{params}' C{_meta}, if any).
        Its time to live is the gateway's, or C{ttlMs} when that is shorter."""
        kept = int(self.limits.ttl * 1000)
        task = Task(
            taskId=self._newId(server, scope, principal),
            server=server,
            scope=scope,
            principal=principal,
            tool=str(tool or ""),
            createdAt=self.store.now(),
            ttlMs=kept if ttlMs is None else max(1, min(ttlMs, kept)),
            pollIntervalMs=max(1, int(self.limits.pollInterval * 1000)),
            session=session,
        )
        self.store.create(task)
        self._unfinished[principal] += 1
        self._unfinishedTotal += 1
        self.created += 1
        active = tracing.tracer
        if active is not None:
            parent = tracing.metaContext({"params": params})
            self._spans[task.taskId] = tracing.startTask(active, server, task.tool, parent)
        self.log.info(
            "server {server}: tool {tool} became task {task}",
            server=server,
            tool=task.tool,
            task=task.taskId,
        )
        return task

    def _progress(self, task: Task, message: jsonrpc.Message) -> None:
        """A notification of the call after its handle went out: a progress
        message becomes the task's C{statusMessage}."""
        params = message.get("params")
        if message.get("method") == "notifications/progress" and isinstance(params, dict):
            before = task.statusMessage
            text = params.get("message")
            done, total = params.get("progress"), params.get("total")
            if isinstance(text, str) and text:
                task.statusMessage = text[:512]
            elif _isNumber(done) and _isNumber(total):
                task.statusMessage = f"{done:g} of {total:g}"
            elif _isNumber(done):
                task.statusMessage = f"{done:g} done"
            if task.statusMessage != before and not task.terminal:
                self.watchers.changed(task)

    def _settle(self, task: Task, result: Any) -> None:
        """The task's call answered (or failed): keep what it says."""
        live = self._live.get(task.taskId)
        if live is not None:
            live.call = None
        if task.terminal:  # cancelled meanwhile
            return
        cut = isinstance(result, Failure) or "error" in result
        if self.stopping is not None and cut:
            task.statusMessage = self.stopping
            self._end(
                task, FAILED, error={"code": jsonrpc.INTERNAL_ERROR, "message": self.stopping}
            )
            return
        if isinstance(result, Failure):
            if result.check(CancelledError):
                # Not by the manager (a task it cancels is over already):
                # its session ended, or its server stopped. Nothing else
                # would ever end it, or release its watchers.
                task.statusMessage = CALL_CANCELLED
                self._end(
                    task, FAILED, error={"code": jsonrpc.INTERNAL_ERROR, "message": CALL_CANCELLED}
                )
                return
            self._end(
                task, FAILED, error={"code": jsonrpc.INTERNAL_ERROR, "message": "the call failed"}
            )
            self.log.failure("task {task} failed", result, task=task.taskId)
            return
        if "error" in result:
            error = result["error"] if isinstance(result["error"], dict) else {}
            self._end(task, FAILED, error=error)
            return
        body = result.get("result")
        body = body if isinstance(body, dict) else {}
        if body.get("resultType") == "input_required":
            task.status = INPUT_REQUIRED
            requests = body.get("inputRequests")
            task.inputRequests = requests if isinstance(requests, dict) else {}
            state = body.get("requestState")
            task.requestState = state if isinstance(state, str) else None
            task.answered = {}
            self.store.update(task)
            return
        self._end(task, COMPLETED, result=body)

    def _end(
        self,
        task: Task,
        status: str,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        kept: bool = True,
    ) -> None:
        """End C{task} with C{status}: its watchers are told (their last
        notification) and whoever waits for its end is answered. C{kept}:
        the store writes the end to the journal (C{False}: the task is
        forgotten next, so its watchers alone are told)."""
        self._finished(task)
        task.status = status
        task.result, task.error = result, error
        task.inputRequests, task.requestState, task.answered = None, None, {}
        self._live.pop(task.taskId, None)
        if kept:
            self.store.update(task)
        else:
            task.lastUpdatedAt = self.store.now()
            self.watchers.changed(task)
        for waiting in self._waiting.pop(task.taskId, []):
            waiting.callback(task)
        span = self._spans.pop(task.taskId, None)
        if span is not None:
            tracing.endTask(span, status, error)

    # -- tasks/* -------------------------------------------------------------------

    def serve(self, server: str, request: Era2026Request, run: Run) -> jsonrpc.Message:
        """Answer C{tasks/get}, C{tasks/update} or C{tasks/cancel}."""
        if not declaresTasks(request):
            return missingExtension(request.clientId, request.method)
        taskId = request.params.get("taskId")
        task = self.owned(taskId, request.scope, request.principal, server)
        if task is None and self.archive is not None and isinstance(taskId, str):
            kept = self.archive.find(taskId, server, request.scope, request.principal)
            if kept is not None:
                return _fromArchive(request, kept)
        if task is None:
            return self.unknown(request.clientId, taskId)
        if request.method == "tasks/get":
            return jsonrpc.resultResponse(request.clientId, detailed(task))
        if request.method == "tasks/cancel":
            self.cancel(task)
        else:
            if request.inputResponses is not None:
                self._update(task, request.inputResponses, run)
        return jsonrpc.resultResponse(request.clientId, {"resultType": "complete"})

    def holdUntilLoaded(self, limit: float = LOAD_WAIT) -> None:
        """The journal is read later (a restart's successor reads it once
        its predecessor, which may still finish tasks, has exited):
        C{tasks/*} requests wait for L{loaded} (L{afterLoad}), each at most
        C{limit} seconds."""
        if self._loadWaiters is None:
            self._loadWaiters = []
        self._loadWait = limit

    @property
    def loading(self) -> bool:
        """Whether the journal is still to be read: a task id not found
        now may be a predecessor's, found once it is (L{unknown})."""
        return self._loadWaiters is not None

    def loaded(self) -> None:
        """The journal has been read: the requests held meanwhile go on."""
        waiters, self._loadWaiters = self._loadWaiters or [], None
        for waiter in waiters:
            waiter.callback(None)

    def afterLoad(self, answer: Callable[[], T], limit: float | None = None) -> Deferred[T]:
        """C{answer()} now, or once the journal is read; at most C{limit}
        seconds later (and never later than L{holdUntilLoaded} said) when
        it is not read by then: C{answer()} then finds what this process
        knows, and says a task it does not know yet is not read yet
        (L{unknown}), never that there is no such task. Cancelling the
        Deferred (its client went away) only stops the waiting."""
        waiters = self._loadWaiters
        if waiters is None:
            return succeed(answer())
        bound = self._loadWait if limit is None else min(limit, self._loadWait)
        timers: list[IDelayedCall] = []

        def stopWaiting(d: Deferred[None]) -> None:
            if d in waiters:
                waiters.remove(d)
            if timers and timers[0].active():
                timers[0].cancel()

        waiting: Deferred[None] = Deferred(stopWaiting)
        waiters.append(waiting)

        def late() -> None:
            if waiting in waiters:
                waiters.remove(waiting)
                waiting.callback(None)

        timers.append(self.clock.callLater(bound, late))

        def go(_: None) -> T:
            if timers[0].active():
                timers[0].cancel()
            return answer()

        return waiting.addCallback(go)

    def unknown(self, clientId: Any, taskId: Any) -> jsonrpc.Message:
        """The error for a task id this process does not know: unknown
        (-32602) once the journal is read; while it is not (a restart's
        predecessor still runs), "not read yet, ask again" (-32603), since
        the task may be the predecessor's."""
        if self.loading:
            return jsonrpc.errorResponse(
                clientId,
                jsonrpc.INTERNAL_ERROR,
                f"task {taskId!r}: {NOT_LOADED}: ask again shortly",
            )
        return jsonrpc.errorResponse(
            clientId, jsonrpc.INVALID_PARAMS, f"Invalid params: unknown task {taskId!r}"
        )

    def owned(
        self, taskId: Any, scope: str, principal: str, server: str | None = None
    ) -> Task | None:
        """The task C{taskId} when it is the route's and principal's (and
        C{server}'s, when given); C{None} for any other, or none: a caller
        cannot tell another's task from a missing one."""
        task = self.store.get(taskId) if isinstance(taskId, str) else None
        if task is None or (task.scope, task.principal) != (scope, principal):
            return None
        if server is not None and task.server != server:
            return None
        return task

    def cancel(self, task: Task) -> None:
        """End C{task} as cancelled, and cancel its child's call (the child
        gets C{notifications/cancelled}); nothing for a task already over."""
        if task.terminal:
            return
        live = self._live.pop(task.taskId, None)
        self._end(task, CANCELLED)
        if live is not None and live.call is not None:
            live.call.cancel()  # the child's call is cancelled with it
        self.log.info("task {task} cancelled by its client", task=task.taskId)

    def _update(self, task: Task, responses: dict[str, Any], run: Run) -> None:
        """Gather the answers to the pending round; send the call on once
        each of its requests is answered."""
        if task.status != INPUT_REQUIRED or not task.inputRequests:
            return
        for key, value in responses.items():
            if key in task.inputRequests:
                task.answered[key] = value
        if set(task.inputRequests) - set(task.answered):
            self.store.update(task)
            return
        live = self._live.get(task.taskId)
        if live is None or live.request is None:
            self._end(
                task, FAILED, error={"code": jsonrpc.INTERNAL_ERROR, "message": "the call is gone"}
            )
            return
        retry = replace(
            live.request,
            clientId=f"mcpgateway-task-{task.taskId}",
            inputResponses=dict(task.answered),
            requestState=task.requestState,
        )
        task.status, task.inputRequests, task.requestState = WORKING, None, None
        task.answered = {}
        self.store.update(task)

        def progress(message: jsonrpc.Message) -> bool:
            self._progress(task, message)
            return False  # nobody's stream: the client polls

        call = live.call = run(retry, progress)
        call.addBoth(lambda result: self._settle(task, result))

    def _finished(self, task: Task) -> None:
        """C{task} is no longer unfinished (it ends, or its time is over)."""
        if self._unfinished[task.principal] > 0:
            self._unfinished[task.principal] -= 1
            self._unfinishedTotal -= 1
            if not self._unfinished[task.principal]:
                del self._unfinished[task.principal]

    def expire(self) -> int:
        """Forget the tasks whose time to live is over (L{_lapsed} sees
        each first). How many were forgotten."""
        return self.store.expire()

    def _lapsed(self, task: Task) -> None:
        """C{task}'s time to live is over and the store forgets it next
        (its periodic look, or a look-up that found it so). One still
        running is failed first, saying so (L{TTL_OVER}): its watchers get
        that as their last notification (a listen stream that carries it
        can end, a 2025-11-25 session is told), a C{tasks/result} waiting
        for it is answered; then its call is cancelled (its time to live
        bounds it: the server's request timeout does not). The Tasks
        extension names no status of its own for this: the receiver may
        forget a task once its time is over, whatever its status."""
        if not task.terminal:
            live = self._live.pop(task.taskId, None)
            task.statusMessage = TTL_OVER
            self._end(
                task,
                FAILED,
                error={"code": jsonrpc.INTERNAL_ERROR, "message": TTL_OVER},
                kept=False,
            )
            if live is not None and live.call is not None:
                live.call.cancel()
            self.log.info("task {task} ran past its time to live; cancelled", task=task.taskId)
        self.watchers.drop(task.taskId)

    # -- what the gateway shows ----------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Tasks by status (C{/health}, metrics)."""
        counted = Counter(task.status for task in self.store)
        return {
            status: counted.get(status, 0)
            for status in (WORKING, INPUT_REQUIRED, COMPLETED, FAILED, CANCELLED)
        }


def _withProgress(request: Era2026Request) -> tuple[Era2026Request, bool]:
    """C{request} with a progress token, so that a call that becomes a task
    keeps its progress as the task's C{statusMessage}; whether the token is
    the gateway's own (the client sent none: its progress is not streamed)."""
    meta = request.params.get("_meta")
    if isinstance(meta, dict) and "progressToken" in meta:
        return request, False
    kept = meta if isinstance(meta, dict) else {}
    params = {**request.params, "_meta": {**kept, "progressToken": "mcpgateway-task"}}
    return replace(request, params=params), True


def _isNumber(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _randomId(server: str, scope: str, principal: str) -> str:
    return secrets.token_urlsafe(18)


def _fromArchive(request: Era2026Request, task: Task) -> jsonrpc.Message:
    """A C{tasks/*} request for another replica's task, read from its
    journal: C{tasks/get} is answered; nothing can change a task its owner
    is not here to run (a finished one's C{tasks/cancel} is the usual
    empty acknowledgement)."""
    if request.method == "tasks/get":
        return jsonrpc.resultResponse(request.clientId, detailed(task))
    if request.method == "tasks/cancel" and task.terminal:
        return jsonrpc.resultResponse(request.clientId, {"resultType": "complete"})
    return jsonrpc.errorResponse(
        request.clientId,
        jsonrpc.INTERNAL_ERROR,
        f"task {task.taskId!r} runs on another gateway replica, which cannot be reached"
        " now: try again later (tasks/get shows what it last recorded)",
    )


def declaresTasks(request: Era2026Request) -> bool:
    """Whether C{request}'s C{clientCapabilities} declare the extension."""
    extensions = request.capabilities.get("extensions")
    return isinstance(extensions, dict) and isinstance(extensions.get(EXTENSION), dict)


def missingExtension(clientId: Any, what: str) -> jsonrpc.Message:
    """The -32021 of a request the extension must be declared for."""
    return jsonrpc.errorResponse(
        clientId,
        jsonrpc.MISSING_CAPABILITY,
        f"{what} needs the {EXTENSION} extension: declare it in the request's clientCapabilities",
        {"requiredCapabilities": {"extensions": {EXTENSION: {}}}},
    )


def withTasksExtension(response: jsonrpc.Message) -> jsonrpc.Message:
    """A C{server/discover} answer that says the gateway serves the
    extension (C{capabilities.extensions}), whatever the child declares."""
    result = response.get("result")
    if not isinstance(result, dict):
        return response
    capabilities = result.get("capabilities")
    capabilities = dict(capabilities) if isinstance(capabilities, dict) else {}
    extensions = capabilities.get("extensions")
    extensions = dict(extensions) if isinstance(extensions, dict) else {}
    extensions[EXTENSION] = {}
    capabilities["extensions"] = extensions
    return {**response, "result": {**result, "capabilities": capabilities}}

# -*- test-case-name: tests.core.tasks.test_listening -*-
"""Task status on a C{subscriptions/listen} stream (the Tasks extension,
MCP 2026-07-28), so that a client need not poll C{tasks/get}.

A listen whose filter names C{taskIds} is honoured for the tasks its
caller may see (the route, principal and server that made each: any
other id, another's or none, is left out of the acknowledgement alike, as
C{tasks/get} answers both alike); its list flags and resource URIs, if any,
are the pool's listen stream's as without tasks (L{openListen}'s
C{inner}). The stream then carries a C{notifications/tasks} for each change
of a task it honours (L{mcpgateway.core.tasks.watching}): its params are
the task as C{tasks/get} would answer it at that moment (the result or
error inlined once it is over, the pending C{inputRequests} while it waits)
without C{resultType}. Right after the acknowledgement, each task's state as
it stands is sent once, so a stream opened late, or on a restarted gateway
(which holds the listen until it has read its journal, as it holds
C{tasks/get}), starts from the truth; a task's last notification is its end.
A stream that carries tasks only ends with its graceful result once every
task it carries is over: nothing more will come on it.

A task found only in another replica's journal (its owner could not be
reached, L{mcpgateway.core.tasks.archive}) is honoured when it is over:
its one notification is its end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from mcpgateway.core.era2026.types import Era2026Request, ListenFilter, ListenHandle, Sink
from mcpgateway.core.tasks.manager import TaskManager, declaresTasks
from mcpgateway.core.tasks.model import Task, detailed
from mcpgateway.core.tasks.watching import LastShown, statusLook
from mcpgateway.protocol import jsonrpc

STATUS_METHOD = "notifications/tasks"
"""The Tasks extension's status notification (2026-07-28)."""
ALL_OVER = "every task this stream carries is over"
"""Why a stream that carries tasks only ends."""

Find = Callable[[str], "Task | None"]
"""The task of an id the listen's caller may see, or C{None}."""
Inner = Callable[[ListenFilter], "Deferred[ListenHandle]"]
"""Opens the pool's listen stream for the filter's lists and URIs."""


def statusNotification(task: Task) -> jsonrpc.Message:
    """The C{notifications/tasks} of C{task} as it stands."""
    shown = detailed(task)
    del shown["resultType"]
    return jsonrpc.notification(STATUS_METHOD, shown)


def ownedOn(manager: TaskManager, server: str, request: Era2026Request) -> Find:
    """The tasks C{request}'s caller sees on C{server}: its route's and
    principal's, here or, once over, in another replica's journal."""

    def find(taskId: str) -> Task | None:
        task = manager.owned(taskId, request.scope, request.principal, server)
        if task is None and manager.archive is not None:
            kept = manager.archive.find(taskId, server, request.scope, request.principal)
            if kept is not None and kept.terminal:
                return kept
        return task

    return find


def openListen(
    manager: TaskManager,
    request: Era2026Request,
    wanted: ListenFilter,
    sink: Sink,
    find: Find,
    inner: Inner,
) -> Deferred[ListenHandle]:
    """Open a listen stream that carries C{wanted.taskIds} (those C{find}
    finds, once the journal is read) and, through C{inner}, the rest of
    C{wanted} when it asks for more. Cancelling it (the client went away
    first) stops the waiting, or closes the pool's stream."""
    rest = replace(wanted, taskIds=())
    lists = rest != ListenFilter()

    def pick() -> list[Task]:
        if not declaresTasks(request):
            return []
        found = (find(taskId) for taskId in dict.fromkeys(wanted.taskIds))
        return [task for task in found if task is not None]

    def opened(tasks: list[Task]) -> Deferred[ListenHandle]:
        if not lists:
            return succeed(TaskListen(manager, manager.clock, tasks, None, sink))

        def made(handle: ListenHandle) -> ListenHandle:
            return TaskListen(manager, manager.clock, tasks, handle, sink)

        return inner(rest).addCallback(made)

    return manager.afterLoad(pick).addCallback(opened)


class TaskListen:
    """One listen stream that carries task status (a L{ListenHandle}),
    with the pool's stream of its other notifications, if it asked for any.

    @ivar honoured: what it carries (the acknowledgement's content).
    @ivar ended: fires with a reason when the core ends the stream.
    """

    def __init__(
        self,
        manager: TaskManager,
        clock: IReactorTime,
        tasks: list[Task],
        inner: ListenHandle | None,
        sink: Sink,
    ) -> None:
        base = inner.honoured if inner is not None else ListenFilter()
        self.honoured = replace(base, taskIds=tuple(task.taskId for task in tasks))
        self.ended: Deferred[str] = Deferred()
        self.open = True
        self._inner = inner
        self._sink = sink
        self._tasks = {task.taskId: task for task in tasks}
        self._shown = LastShown(statusLook)
        self._stops = {
            task.taskId: manager.watchers.watch(task.taskId, self._changed)
            for task in tasks
            if not task.terminal
        }
        if inner is not None:
            inner.ended.addCallback(self._innerEnded)
        self._first: IDelayedCall | None = clock.callLater(0, self._asTheyStand)

    def _asTheyStand(self) -> None:
        """Each task as it stands, once (right after the acknowledgement)."""
        for task in list(self._tasks.values()):
            self._changed(task)
        self._first = None
        self._endIfOver()

    def _changed(self, task: Task) -> None:
        if not self.open or not self._shown.fresh(task):
            return
        self._sink(statusNotification(task))
        if task.terminal:
            stop = self._stops.pop(task.taskId, None)
            if stop is not None:
                stop()
            self._endIfOver()

    def _endIfOver(self) -> None:
        """A stream of tasks only, each over and told: nothing more comes."""
        if self._inner is None and not self._stops and self._first is None:
            self.end(ALL_OVER)

    def _innerEnded(self, reason: Any) -> Any:
        self.end(str(reason))
        return reason

    def _release(self) -> None:
        self.open = False
        first, self._first = self._first, None
        if first is not None and first.active():
            first.cancel()
        stops, self._stops = self._stops, {}
        for stop in stops.values():
            stop()

    def close(self) -> None:
        """The client went away: stop watching, close the pool's stream."""
        if not self.open:
            return
        self._release()
        if self._inner is not None:
            self._inner.close()

    def end(self, reason: str) -> None:
        """End the stream from the gateway's side (C{ended} fires)."""
        if not self.open:
            return
        self._release()
        inner = self._inner
        if inner is not None and not inner.ended.called:
            inner.close()
        self.ended.callback(reason)

    def __repr__(self) -> str:
        return f"<TaskListen {sorted(self._tasks)}>"

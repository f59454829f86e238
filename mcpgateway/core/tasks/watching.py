# -*- test-case-name: tests.core.tasks.test_watching -*-
"""Who is told when a task changes, so that a client need not poll.

One job: the watchers of each task (L{TaskWatchers}). Every change the
store keeps (L{mcpgateway.core.tasks.store.TaskStore.update}: a status, a
round of questions, answers gathered, the end) and every new
C{statusMessage} of a running task reaches each of that task's watchers
at once, on the reactor thread: a 2026-07-28 listen stream that named the
task (L{mcpgateway.core.tasks.listening}), the 2025-11-25 session that made
it (L{mcpgateway.core.tasks.handshake}). A watcher says what it shows of a
task, and is told only when that changed (L{LastShown}), so a change nobody
sees (answers gathered while questions remain) costs it nothing.

A task nobody watches costs one dictionary lookup per change.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from twisted.logger import Logger

from mcpgateway.core.tasks.model import Task
from mcpgateway.runtime import logs

Tell = Callable[[Task], object]
"""Told each change of a watched task (the task as it stands now)."""


class TaskWatchers:
    """The watchers of every task of one manager."""

    log = Logger(observer=logs.observer, namespace="mcpgateway.tasks")

    def __init__(self) -> None:
        self._watching: dict[str, list[Tell]] = {}

    def __len__(self) -> int:
        """How many tasks are watched."""
        return len(self._watching)

    def watching(self, taskId: str) -> bool:
        """Whether anyone watches C{taskId}."""
        return taskId in self._watching

    def watch(self, taskId: str, tell: Tell) -> Callable[[], None]:
        """Tell C{tell} each change of C{taskId}, until the returned
        callable is called (calling it again does nothing)."""
        tells = self._watching.setdefault(taskId, [])
        tells.append(tell)

        def stop() -> None:
            current = self._watching.get(taskId)
            if current is not None and tell in current:
                current.remove(tell)
                if not current:
                    del self._watching[taskId]

        return stop

    def changed(self, task: Task) -> None:
        """C{task} changed: tell its watchers (one that fails is logged,
        the others are told still)."""
        tells = self._watching.get(task.taskId)
        if not tells:
            return
        for tell in list(tells):
            try:
                tell(task)
            except Exception:
                self.log.failure("telling a watcher of task {task} failed", task=task.taskId)

    def drop(self, taskId: str) -> None:
        """Forget the watchers of C{taskId} (its time to live is over)."""
        self._watching.pop(taskId, None)


class LastShown:
    """What one watcher last showed of each task: a change that shows the
    same again is not sent (L{fresh})."""

    def __init__(self, look: Callable[[Task], Hashable]) -> None:
        """
        @param look: what of a task the watcher shows (anything hashable
            that differs when what it sends differs).
        """
        self._look = look
        self._last: dict[str, Any] = {}

    def fresh(self, task: Task) -> bool:
        """Whether C{task} shows something new since it was last shown
        (it counts as shown now)."""
        seen = self._look(task)
        if self._last.get(task.taskId) == seen:
            return False
        self._last[task.taskId] = seen
        return True

    def forget(self, taskId: str) -> None:
        """C{taskId} is no longer shown."""
        self._last.pop(taskId, None)


def statusLook(task: Task) -> Hashable:
    """What a status notification shows of a task: its status, its
    message, and the questions still to be answered."""
    pending: tuple[str, ...] = ()
    if task.inputRequests:
        pending = tuple(sorted(k for k in task.inputRequests if k not in task.answered))
    return (task.status, task.statusMessage, pending)

"""A gateway's tasks as the renderers see them: a L{TaskManager} in memory
holding tasks in the statuses a test names, and a gateway serving them."""

from __future__ import annotations

from dataclasses import replace

from twisted.internet.task import Clock

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.tasks.manager import TaskManager
from mcpgateway.core.tasks.model import Task
from mcpgateway.core.tasks.store import TaskStore

NOW = 1_800_000_000.0


def keptTasks(**byStatus: int) -> TaskManager:
    """A manager whose store holds C{byStatus[status]} tasks of each status
    (C{input_required=1, completed=5}), each counted as made."""
    made = TaskManager(TaskStore(None, now=lambda: NOW), Clock())
    for status, n in byStatus.items():
        for i in range(n):
            made.store.create(
                Task(
                    taskId=f"{status}-{i}",
                    server="srv",
                    scope="",
                    principal="",
                    tool="forecast",
                    createdAt=NOW,
                    ttlMs=3_600_000,
                    pollIntervalMs=500,
                    status=status,
                )
            )
            made.created += 1
    return made


def serveTasks(gateway: Gateway, tasks: TaskManager) -> None:
    """Have C{gateway} (made without tasks, as the harnesses make it) serve
    C{tasks}: what the wiring gives it."""
    gateway.settings = replace(gateway.settings, tasks=tasks)

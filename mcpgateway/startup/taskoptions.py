# -*- test-case-name: tests.startup.test_taskoptions -*-
"""The C{--task-*} options: how the gateway makes and keeps the tasks of
the MCP Tasks extension (docs/guide/tasks.md), and the limits they read into."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mcpgateway.core.tasks.manager import TaskTerms

Coerce = Callable[[str], Any]


def taskParameters(
    positiveFloat: Coerce, nonNegativeFloat: Coerce, positiveInt: Coerce
) -> list[list[Any]]:
    """The C{optParameters} entries of the task options (the coercions are
    the command line's own)."""
    defaults = TaskTerms()
    return [
        [
            "task-after",
            None,
            defaults.after,
            "Seconds an MCP 2026-07-28 tool call from a client that declares the tasks"
            " extension runs before it becomes a task (0: at once); sooner, it is answered"
            " as it is.",
            nonNegativeFloat,
        ],
        [
            "task-ttl",
            None,
            defaults.ttl,
            "Seconds a task (and its result) is kept, from its creation.",
            positiveFloat,
        ],
        [
            "max-tasks",
            None,
            defaults.maxTasks,
            "Most unfinished tasks at once; a call past it is answered when it ends.",
            positiveInt,
        ],
        [
            "max-tasks-per-principal",
            None,
            defaults.maxPerPrincipal,
            "Most unfinished tasks of one authenticated caller (likewise).",
            positiveInt,
        ],
        [
            "task-result-bytes",
            None,
            1024 * 1024,
            "Largest task result kept across a restart (a larger one is kept in memory only).",
            positiveInt,
        ],
        [
            "task-dir",
            None,
            None,
            "Directory of the task journal (default: the state directory). Cluster replicas"
            " may share one (a volume they all mount): each writes tasks-<replica-id>.journal"
            " and reads another's when that replica cannot be reached.",
            str,
        ],
    ]


def taskTerms(options: Mapping[str, Any]) -> TaskTerms:
    """The limits the options say."""
    return TaskTerms(
        after=float(options["task-after"]),
        ttl=float(options["task-ttl"]),
        maxTasks=int(options["max-tasks"]),
        maxPerPrincipal=int(options["max-tasks-per-principal"]),
    )

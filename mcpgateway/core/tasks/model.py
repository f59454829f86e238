# -*- test-case-name: tests.core.tasks -*-
"""A task of the MCP Tasks extension (C{io.modelcontextprotocol/tasks},
MCP 2026-07-28) as the gateway keeps it, and its shapes on the wire.

One job: the record (L{Task}: who owns it, what it ran, where it stands)
and what a client sees of it: the C{CreateTaskResult} a C{tools/call} is
answered with (L{createResult}) and the C{DetailedTask} of C{tasks/get}
(L{detailed}), the result or error inlined once it is over. The
C{requestState} of a call waiting for its client's input is the gateway's
own: it is kept, never shown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from typing import Any

from mcpgateway.core.taskterms import EXTENSION as EXTENSION
from mcpgateway.core.taskterms import RELATED_TASK

# EXTENSION is also read from here by the benchmarks (benchmarks/tasks.py,
# benchmarks/taskload.py); the core and the tests read it from taskterms.

WORKING = "working"
INPUT_REQUIRED = "input_required"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED})
STATUSES = (WORKING, INPUT_REQUIRED, COMPLETED, FAILED, CANCELLED)
NOT_LOADED = (
    "the gateway is restarting and has not read its tasks yet (its previous process"
    " may still run this one)"
)
"""What a request for a task a restarted gateway does not know yet is
told while its journal is still to be read: the task may be its
predecessor's, so it is never called unknown then."""


@dataclass
class Task:
    """One task: a client's C{tools/call} that outlived its answer.

    @ivar taskId: the id its client polls with (random, unguessable).
    @ivar server: the server whose child runs the call.
    @ivar scope: the route (C{""}: the server's key-less route).
    @ivar principal: the key of the principal that made it (C{""}: none);
        only that principal sees it.
    @ivar request: what the call is re-issued with after C{tasks/update}:
        the request's method, params and capabilities.
    @ivar requestState: the gateway's token of the call's suspended round
        (C{input_required}); never shown.
    @ivar answered: the C{inputResponses} given so far for the pending round.
    @ivar session: the 2025-11-25 session that made it (C{""}: a 2026-07-28
        request's); C{tasks/list} lists a session's own.
    """

    taskId: str
    server: str
    scope: str
    principal: str
    tool: str
    createdAt: float
    ttlMs: int
    pollIntervalMs: int
    status: str = WORKING
    lastUpdatedAt: float = 0.0
    statusMessage: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    inputRequests: dict[str, Any] | None = None
    requestState: str | None = field(default=None, repr=False)
    answered: dict[str, Any] = field(default_factory=dict, repr=False)
    request: dict[str, Any] = field(default_factory=dict, repr=False)
    session: str = ""

    def __post_init__(self) -> None:
        if not self.lastUpdatedAt:
            self.lastUpdatedAt = self.createdAt

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def expired(self, now: float) -> bool:
        """Whether its time to live is over (counted from its creation)."""
        return now >= self.createdAt + self.ttlMs / 1000.0

    def record(self) -> dict[str, Any]:
        """What the store keeps of it (everything: the journal is the gateway's).
        A shallow view, encoded at once by the store, never kept."""
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def fromRecord(cls, data: Any) -> Task | None:
        """The task a record holds (C{None}: not one)."""
        if not isinstance(data, dict):
            return None
        known = {f.name for f in fields(cls)}
        try:
            task = cls(**{k: v for k, v in data.items() if k in known})
        except TypeError:
            return None
        if not (isinstance(task.taskId, str) and task.taskId and task.status in STATUSES):
            return None
        return task


_FIELDS = tuple(f.name for f in fields(Task))


def isoTime(seconds: float) -> str:
    """An ISO 8601 UTC timestamp with milliseconds (C{createdAt}, C{lastUpdatedAt})."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{whole}.{int(seconds * 1000) % 1000:03d}Z"


def envelope(task: Task) -> dict[str, Any]:
    """The fields every view of a task carries (the extension's C{Task})."""
    shown: dict[str, Any] = {
        "taskId": task.taskId,
        "status": task.status,
        "createdAt": isoTime(task.createdAt),
        "lastUpdatedAt": isoTime(task.lastUpdatedAt),
        "ttlMs": task.ttlMs,
    }
    if not task.terminal:
        shown["pollIntervalMs"] = task.pollIntervalMs
    if task.statusMessage:
        shown["statusMessage"] = task.statusMessage
    return shown


def createResult(task: Task) -> dict[str, Any]:
    """The C{CreateTaskResult} a C{tools/call} that became a task is
    answered with: flat, C{resultType: "task"}, no result, error or input."""
    return {"resultType": "task", **envelope(task)}


def detailed(task: Task) -> dict[str, Any]:
    """The C{DetailedTask} of C{tasks/get}: the envelope, and the result
    (completed: a 2026-07-28 C{CallToolResult}, whose C{resultType} is
    required), the error (failed) or the pending C{inputRequests}
    (input_required)."""
    shown: dict[str, Any] = {"resultType": "complete", **envelope(task)}
    if task.status == COMPLETED and task.result is not None:
        shown["result"] = {"resultType": "complete", **inlined(task.result)}
    elif task.status == FAILED and task.error is not None:
        shown["error"] = task.error
    elif task.status == INPUT_REQUIRED and task.inputRequests:
        shown["inputRequests"] = {
            key: value for key, value in task.inputRequests.items() if key not in task.answered
        }
    return shown


def inlined(result: dict[str, Any]) -> dict[str, Any]:
    """A call's result as C{tasks/get} inlines it: without the 2026
    envelope keys (C{resultType}, which L{detailed} sets to C{complete}
    whatever the child said; cache hints) and the 2025 related-task
    C{_meta} (the task's id is the response's own)."""
    shown = {k: v for k, v in result.items() if k not in ("resultType", "ttlMs", "cacheScope")}
    meta = shown.get("_meta")
    if isinstance(meta, dict) and RELATED_TASK in meta:
        kept = {k: v for k, v in meta.items() if k != RELATED_TASK}
        if kept:
            shown["_meta"] = kept
        else:
            del shown["_meta"]
    return shown

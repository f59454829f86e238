# -*- test-case-name: tests.core.aggregate.test_naming -*-
"""The vocabulary of the aggregate endpoint (C{/mcp}: every server the
caller may use, as one MCP server).

One job: the settings and small records every part of the aggregate shares
(names, catalogs, views, search, shielding), pure data with no Twisted, so
that config parsing, the core and the web agree on one shape.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcpgateway.core.spec import ToolFilter
from mcpgateway.core.taskterms import isTerminal

SERVER_PREFIX = "/mcp"
"""The C{server} of every aggregate session (no server name has a C{/})."""


def isAggregateRecord(record: Mapping[str, Any]) -> bool:
    """Whether a saved session record is an aggregate session's."""
    server = record.get("server")
    return isinstance(server, str) and server.startswith(SERVER_PREFIX)


@dataclass(frozen=True)
class ShieldSpec:
    """How large results are shrunk (see C{mcpgateway.core.aggregate.shield}).

    @ivar budget: bytes of JSON a result may have before it is shrunk.
    @ivar maxItems: array items kept when an array is cut.
    @ivar maxString: characters kept when a string is cut.
    @ivar heavyField: a field of array-of-object items longer than this (bytes
        of JSON, on average) is dropped first.
    """

    enabled: bool = False
    budget: int = 65536
    maxItems: int = 50
    maxString: int = 8192
    heavyField: int = 256


@dataclass(frozen=True)
class NameSettings:
    """How namespaced names are made: C{<prefix><separator><tool>}, at most
    C{limit} characters of C{[A-Za-z0-9_-]}."""

    separator: str = "__"
    limit: int = 48


@dataclass(frozen=True)
class EndpointSpec:
    """One aggregate endpoint (C{/mcp}, or C{/mcp/<name>}).

    @ivar mode: C{"full"} (every schema) or C{"search"} (the gateway's
        search, describe, invoke and get_result tools).
    @ivar servers: the servers it includes (C{"*"}: every one).
    """

    name: str = "default"
    mode: str = "full"
    servers: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()
    tools: Mapping[str, ToolFilter] = field(default_factory=dict)
    toolBudget: int | None = None
    namespace: str = "always"
    shield: ShieldSpec = ShieldSpec()


@dataclass(frozen=True)
class Owner:
    """Which server's name a namespaced name stands for."""

    server: str
    original: str
    kind: str = "tool"
    """C{"tool"} or C{"prompt"}."""


BUILTIN_ENDPOINTS = ("default", "search")
"""The aggregate endpoints that exist without C{aggregate.json}: C{/mcp}
and C{/mcp/search} (L{mcpgateway.core.aggregate.aggregator.Aggregator.useEndpoints}
adds their settings)."""


TASKS_SINCE = "2025-11-25"
"""The first protocol revision with tasks (an aggregate session of an older
one is offered none)."""


@dataclass
class TaskEntry:
    """One task a member created for an aggregate session.

    @ivar server: the member server that owns it (its child made the id).
    @ivar route: the route of that server the session's member used.
    @ivar childId: the task's id in that server's child (the session's
        client is never shown it: it has an id of the gateway's own).
    @ivar tool: the (namespaced) name of the tool whose call made it (its
        result is shielded as that tool's).
    @ivar seq: when it was remembered (the order of C{tasks/list}, its cursors).
    @ivar task: the task as last seen (C{CreateTaskResult}, C{tasks/get},
        C{tasks/cancel}, C{notifications/tasks/status}), without C{_meta}.
    @ivar ended: its result was fetched (C{tasks/result} answered), whatever
        its last status said.
    """

    server: str
    route: str
    childId: str
    tool: str
    seq: int
    task: dict[str, Any]
    ended: bool = False

    @property
    def terminal(self) -> bool:
        """Whether the task is done (it may be forgotten first)."""
        return self.ended or isTerminal(self.task.get("status"))


def newTaskId() -> str:
    """A task id of the gateway's own: opaque, random (128 bits)."""
    return f"mcpgateway-task-{secrets.token_urlsafe(16)}"


class TaskTable:
    """The tasks of one aggregate session: its task id -> the owner and the
    child's own id, at most C{limit} of them (the oldest terminal ones are
    forgotten first, then the oldest).

    The session's client sees ids of the gateway's own (C{newId}), never the
    children's: two members that number their tasks alike (both C{"1"})
    make two tasks, each reachable under its own id."""

    def __init__(self, limit: int, newId: Callable[[], str] = newTaskId) -> None:
        self.limit = limit
        self._newId = newId
        self._entries: dict[str, TaskEntry] = {}
        self._children: dict[tuple[str, str], str] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, taskId: object) -> bool:
        return isinstance(taskId, str) and taskId in self._entries

    def get(self, taskId: object) -> TaskEntry | None:
        """The entry of C{taskId} (the session's id), or C{None} (not this
        session's)."""
        return self._entries.get(taskId) if isinstance(taskId, str) else None

    def idOf(self, server: str, childId: object) -> str | None:
        """The session's id of the task C{server}'s child calls C{childId},
        or C{None} (not a task this session keeps)."""
        return self._children.get((server, childId)) if isinstance(childId, str) else None

    def remember(
        self, server: str, childId: str, route: str, tool: str, task: Mapping[str, Any]
    ) -> tuple[str, list[str]]:
        """Remember that C{server}'s child made C{childId} for a call of
        C{tool}; returns the session's new id for it, and the ids forgotten
        to make room (C{limit}). A C{childId} the child gave before (a child
        that started again, numbering from 1) replaces the older task: its
        id is forgotten, never pointed at the new one."""
        older = self._children.get((server, childId))
        forgotten: list[str] = []
        if older is not None:
            self.forget(older)
            forgotten.append(older)
        taskId = self._newId()
        while taskId in self._entries:
            taskId = self._newId()
        self._seq += 1
        entry = TaskEntry(server, route, childId, tool, self._seq, _withoutMeta(task))
        self._entries[taskId] = entry
        self._children[(server, childId)] = taskId
        while len(self._entries) > self.limit:
            oldest = next(
                (key for key, kept in self._entries.items() if kept.terminal),
                next(iter(self._entries)),
            )
            self.forget(oldest)
            forgotten.append(oldest)
        return taskId, forgotten

    def update(self, taskId: str, task: Mapping[str, Any]) -> None:
        """What a child said of C{taskId} now (ignored for an id not kept)."""
        entry = self._entries.get(taskId)
        if entry is not None:
            entry.task = {**entry.task, **_withoutMeta(task)}

    def ended(self, taskId: str) -> None:
        """C{taskId}'s result was fetched: it is terminal."""
        entry = self._entries.get(taskId)
        if entry is not None:
            entry.ended = True

    def forget(self, taskId: str) -> None:
        entry = self._entries.pop(taskId, None)
        if entry is not None and self._children.get((entry.server, entry.childId)) == taskId:
            del self._children[(entry.server, entry.childId)]

    def clear(self) -> None:
        self._entries.clear()
        self._children.clear()

    def page(self, cursor: object, size: int) -> tuple[list[tuple[str, TaskEntry]], str | None]:
        """The entries after C{cursor} (C{None}: from the first), oldest
        first, at most C{size}, and the cursor of the next page (C{None}: no
        more).

        @raise ValueError: C{cursor} is not one this table made.
        """
        after = 0
        if cursor is not None:
            if not isinstance(cursor, str) or not cursor.startswith(_CURSOR):
                raise ValueError("not a cursor of this endpoint")
            digits = cursor[len(_CURSOR) :]
            if not digits.isdigit() or not digits.isascii() or len(digits) > 18:
                raise ValueError("not a cursor of this endpoint")
            after = int(digits)
        rest = [(key, entry) for key, entry in self._entries.items() if entry.seq > after]
        shown = rest[:size]
        more = len(rest) > size
        return shown, (f"{_CURSOR}{shown[-1][1].seq}" if more else None)


_CURSOR = "mcpgateway-tasks-"


def _withoutMeta(task: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in task.items() if key != "_meta"}

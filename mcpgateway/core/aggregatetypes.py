# -*- test-case-name: tests.core.test_naming -*-
"""The vocabulary of the aggregate endpoint (C{/mcp}: every server the
caller may use, as one MCP server).

One job: the settings and small records every part of the aggregate shares
(names, catalogs, views, search, shielding), pure data with no Twisted, so
that config parsing, the core and the web agree on one shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SERVER_PREFIX = "/mcp"
"""The C{server} of every aggregate session (no server name has a C{/})."""


def isAggregateRecord(record: Mapping[str, Any]) -> bool:
    """Whether a saved session record is an aggregate session's."""
    server = record.get("server")
    return isinstance(server, str) and server.startswith(SERVER_PREFIX)


@dataclass(frozen=True)
class ToolFilter:
    """One server's part of an endpoint.

    @ivar enabled: listed at all.
    @ivar include: tool names listed and callable (empty: all).
    @ivar exclude: tool names never listed nor callable.
    @ivar budget: at most this many of its tools listed (the first ones).
    @ivar alias: the prefix its names get instead of the server's name.
    """

    enabled: bool = True
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    budget: int | None = None
    alias: str | None = None


@dataclass(frozen=True)
class ShieldSpec:
    """How large results are shrunk (see C{mcpgateway.core.shield}).

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
and C{/mcp/search} (L{mcpgateway.core.aggregate.Aggregator.useEndpoints}
adds their settings)."""


TASKS_SINCE = "2025-11-25"
"""The first protocol revision with tasks (an aggregate session of an older
one is offered none)."""
TASK_TERMINAL = frozenset({"completed", "failed", "cancelled"})
"""The statuses a task never leaves."""


def isTerminal(status: object) -> bool:
    """Whether a child's task C{status} is one a task never leaves (a status
    that is not a string, an object or a list, is an unknown one: not
    terminal, and never an error)."""
    return isinstance(status, str) and status in TASK_TERMINAL


@dataclass
class TaskEntry:
    """One task a member created for an aggregate session.

    @ivar server: the member server that owns it (its child made the id).
    @ivar route: the route of that server the session's member used.
    @ivar seq: when it was remembered (the order of C{tasks/list}, its cursors).
    @ivar task: the task as last seen (C{CreateTaskResult}, C{tasks/get},
        C{tasks/cancel}, C{notifications/tasks/status}), without C{_meta}.
    @ivar ended: its result was fetched (C{tasks/result} answered), whatever
        its last status said.
    """

    server: str
    route: str
    seq: int
    task: dict[str, Any]
    ended: bool = False

    @property
    def terminal(self) -> bool:
        """Whether the task is done (it may be forgotten first)."""
        return self.ended or isTerminal(self.task.get("status"))


class TaskTable:
    """The tasks of one aggregate session: task id -> its owner, at most
    C{limit} of them (the oldest terminal ones are forgotten first, then the
    oldest). Task ids are the children's own: they are passed unchanged."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._entries: dict[str, TaskEntry] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, taskId: object) -> bool:
        return isinstance(taskId, str) and taskId in self._entries

    def get(self, taskId: object) -> TaskEntry | None:
        """The entry of C{taskId}, or C{None} (not this session's)."""
        return self._entries.get(taskId) if isinstance(taskId, str) else None

    def remember(self, taskId: str, server: str, route: str, task: Mapping[str, Any]) -> list[str]:
        """Remember that C{server} owns C{taskId}; returns the ids forgotten
        to make room (C{limit})."""
        self._entries.pop(taskId, None)
        self._seq += 1
        self._entries[taskId] = TaskEntry(server, route, self._seq, _withoutMeta(task))
        forgotten: list[str] = []
        while len(self._entries) > self.limit:
            oldest = next(
                (key for key, entry in self._entries.items() if entry.terminal),
                next(iter(self._entries)),
            )
            del self._entries[oldest]
            forgotten.append(oldest)
        return forgotten

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
        self._entries.pop(taskId, None)

    def clear(self) -> None:
        self._entries.clear()

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

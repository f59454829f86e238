"""A fake L{ToolContext} over the search fixture's tools, and the helpers
the tests of the aggregate's own tools share."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from mcpgateway.core.aggregate.results import ResultBudget, ResultStore
from mcpgateway.core.aggregate.schemas import Schemas
from mcpgateway.core.aggregate.search import ThreadedSearch
from mcpgateway.core.aggregate.tools import GatewayTools
from mcpgateway.core.aggregate.types import ShieldSpec
from mcpgateway.core.tasks.manager import TaskManager
from mcpgateway.protocol.jsonrpc import Message
from tests.core.aggregate import searchtools

SHIELD = ShieldSpec(enabled=True, budget=8192, maxItems=10, maxString=1000)
STDERR_MARK = "; last stderr: "
"""What L{FakeContext.shownError} hides, and what follows it."""


@dataclass
class Started:
    """A call L{FakeContext.start} made: its response is fired by the test."""

    name: str
    arguments: dict[str, Any]
    progress: Callable[[str], None]
    response: Deferred[Message]


def runNow(f: Callable[..., Any], *args: Any, **kwargs: Any) -> Deferred[Any]:
    try:
        return succeed(f(*args, **kwargs))
    except Exception:
        return fail()


@dataclass
class FakeContext:
    """A view of the 120 search fixture tools, named C{<server>__<tool>}."""

    shieldSpec: ShieldSpec = SHIELD
    hidden: set[str] = field(default_factory=set)
    runningServers: set[str] = field(default_factory=lambda: {"fs"})
    answers: dict[str, Any] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    budget: ResultBudget = field(default_factory=ResultBudget)
    clock: Clock = field(default_factory=Clock)
    unavailable: dict[str, str] = field(default_factory=dict)
    scope: str = ""
    principal: str = ""
    started: list[Started] = field(default_factory=list)
    """The calls made with L{start}, each answered by firing its C{response}."""
    catalogKeys: dict[str, str] = field(default_factory=dict)
    """The key of the catalog of each server the caller sees (C{""} if not named)."""

    def __post_init__(self) -> None:
        self.definitions: dict[str, dict[str, Any]] = {}
        self.owners: dict[str, str] = {}
        for server, name, tool in searchtools.tools():
            namespaced = f"{server}__{name}"
            self.definitions[namespaced] = {**tool, "name": namespaced}
            self.owners[namespaced] = server
        self.servers = frozenset(self.owners.values())
        self.store = ResultStore(self.clock, self.budget)

    def definition(self, name: str) -> dict[str, Any] | None:
        return self.definitions.get(name)

    def serverOf(self, name: str) -> str | None:
        return self.owners.get(name)

    def running(self, server: str) -> bool:
        return server in self.runningServers

    def visible(self, name: str) -> bool:
        return name in self.definitions and name not in self.hidden

    def localName(self, server: str, original: str) -> str | None:
        name = f"{server}__{original}"
        return name if self.visible(name) else None

    def catalogKey(self, server: str) -> str | None:
        return self.catalogKeys.get(server, "")

    def pendingOf(self, name: str) -> str | None:
        for server, why in self.unavailable.items():
            if name.startswith(server + "__"):
                return f"{name} is not known yet: server '{server}' {why}"
        return None

    def invoke(self, name: str, arguments: dict[str, Any]) -> Deferred[dict[str, Any]]:
        self.calls.append((name, arguments))
        answer = self.answers.get(name, {"content": [{"type": "text", "text": "done"}]})
        if isinstance(answer, Exception):
            return fail(answer)
        if isinstance(answer, Deferred):
            return answer
        return succeed(answer)

    def start(
        self, name: str, arguments: dict[str, Any], progress: Callable[[str], None]
    ) -> Deferred[Message]:
        call = Started(name, arguments, progress, Deferred())
        self.started.append(call)
        return call.response

    def shownError(self, error: Mapping[str, Any]) -> dict[str, Any]:
        message = str(error.get("message", ""))
        return {**error, "message": message.partition(STDERR_MARK)[0]}


def makeTools(
    runInThread: Callable[..., Deferred[Any]] | None = runNow, tasks: TaskManager | None = None
) -> GatewayTools:
    tools = GatewayTools(ThreadedSearch(runNow), Schemas(), runInThread, tasks)
    tools.rowsChanged(
        lambda: [(f"{server}__{name}", server, tool) for server, name, tool in searchtools.tools()]
    )
    return tools


def structuredOf(result: dict[str, Any]) -> Any:
    assert result.get("isError") is not True, result
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
    return result["structuredContent"]


def errorOf(result: dict[str, Any]) -> str:
    assert result["isError"] is True, result
    assert "structuredContent" not in result
    return str(result["content"][0]["text"])


def matchesOutputSchema(tools: GatewayTools, name: str, result: dict[str, Any]) -> bool:
    (definition,) = [d for d in tools.definitions(True) if d["name"] == name]
    return Schemas().structured(definition["outputSchema"], result["structuredContent"]) is True

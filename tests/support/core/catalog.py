"""What tests/core/gateway/test_catalog.py shares with the other tests: CAPS,
CatalogCase, Child, MemoryPersistence, SPEC, clientInitialize, record,
sessionOf, syncThread, tool."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core import catalogdata as catalogmodule
from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess, FakeProcessReactor, fakeSpawner

Message = dict[str, Any]

SPEC = ServerSpec(
    name="cat", command="cat-server", args=("--x",), executable="/opt/cat", requestTimeout=30.0
)
CAPS = {"tools": {"listChanged": True}, "resources": {}}


def tool(name: str, description: str = "") -> dict[str, Any]:
    return {"name": name, "description": description, "inputSchema": {"type": "object"}}


class Child:
    """Answers what the gateway writes to one fake child: its initialize,
    and each list from C{self.lists} in pages of C{pageSize}."""

    def __init__(self, proc: FakeProcess, lists: dict[str, list[dict[str, Any]]]) -> None:
        self.proc = proc
        self.lists = lists
        self.pageSize = 2
        self.capabilities: dict[str, Any] = dict(CAPS)
        self.seen: list[Message] = []
        self.hold = False
        """Leave the list requests unanswered (in C{held})."""
        self.held: list[Message] = []

    def pump(self) -> None:
        """Answer everything written so far (and what those answers cause)."""
        while True:
            messages = self.proc.takeMessages()
            if not messages:
                return
            for message in messages:
                self.seen.append(message)
                self._answer(message)

    def _answer(self, message: Message) -> None:
        method, mid = message.get("method"), message.get("id")
        if mid is None or method is None:
            return
        if method == "initialize":
            self.proc.reply(
                jsonrpc.resultResponse(
                    mid,
                    {
                        "protocolVersion": "2025-11-25",
                        "capabilities": self.capabilities,
                        "serverInfo": {"name": "cat", "version": "1"},
                        "instructions": "meow",
                    },
                )
            )
            return
        kind = {v: k for k, v in catalogmodule.METHODS.items()}.get(method)
        if kind is None:
            self.proc.reply(jsonrpc.errorResponse(mid, jsonrpc.METHOD_NOT_FOUND, "no"))
            return
        if self.hold:
            self.held.append(message)
            return
        if kind not in self.lists:
            self.proc.reply(jsonrpc.errorResponse(mid, jsonrpc.METHOD_NOT_FOUND, "no"))
            return
        items = self.lists[kind]
        start = int((message.get("params") or {}).get("cursor") or 0)
        page = items[start : start + self.pageSize]
        result: dict[str, Any] = {kind: page}
        if start + self.pageSize < len(items):
            result["nextCursor"] = str(start + self.pageSize)
        self.proc.reply(jsonrpc.resultResponse(mid, result))

    def methods(self) -> list[str]:
        return [m["method"] for m in self.seen if "method" in m]


FULL: dict[str, Any] = {"sampling": {}, "elicitation": {}, "roots": {}}
"""What a client declares that may see everything a probe sees."""


def sessionOf(sid: str, principal: str = "", capabilities: dict[str, Any] | None = None) -> Session:
    session = Session(
        sid,
        "cat",
        "2025-11-25",
        dict(FULL if capabilities is None else capabilities),
        {"name": "c", "version": "1"},
        0.0,
    )
    session.principal = principal
    return session


def clientInitialize() -> Message:
    return jsonrpc.request(
        1,
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c"}},
    )


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, frozenset[str]]] = []

    def __call__(self, server: str, kinds: frozenset[str]) -> None:
        self.calls.append((server, kinds))


class MemoryPersistence:
    """A CatalogPersistence in memory; saves are recorded."""

    def __init__(self, records: dict[tuple[str, str], dict[str, Any]] | None = None) -> None:
        self.records = dict(records or {})
        self.saves: list[tuple[str, str, dict[str, Any]]] = []
        self.fail: Exception | None = None

    def loadAll(self) -> dict[tuple[str, str], dict[str, Any]]:
        return dict(self.records)

    def save(self, server: str, catalogKey: str, record: dict[str, Any]) -> None:
        if self.fail is not None:
            raise self.fail
        self.saves.append((server, catalogKey, record))
        self.records[(server, catalogKey)] = record


def syncThread(f: Any, *args: Any) -> Deferred[Any]:
    return succeed(f(*args))


class CatalogCase(SynchronousTestCase):
    spec = SPEC

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.pool: Any = makePool(self.spec, fakeSpawner(self.reactor))
        self.persistence = MemoryPersistence()
        self.catalogs = Catalogs(self.reactor, self.persistence, syncThread, timeout=10.0)
        self.successResultOf(self.catalogs.start())
        self.catalogs.attach(self.pool)
        self.changes = Recorder()
        self.catalogs.observe(self.changes)
        self.lists: dict[str, list[dict[str, Any]]] = {
            "tools": [tool("a"), tool("b"), tool("c")],
            "resources": [{"uri": "file:///x", "name": "x"}],
        }

    def startShared(self) -> Child:
        """Open a session, which starts and initializes the shared child; answer everything."""
        opened = self.pool.open(sessionOf("s1"), clientInitialize())
        child = Child(self.reactor.lastProcess, self.lists)
        child.pump()
        self.successResultOf(opened)
        return child


def record(tools: list[str], launch: str, taken: float = 5.0, entry: str = "") -> dict[str, Any]:
    return {
        **({"entry": entry} if entry else {}),
        "serverInfo": {"name": "cat"},
        "capabilities": CAPS,
        "instructions": None,
        "tools": [tool(t) for t in tools],
        "prompts": [],
        "resources": [],
        "resourceTemplates": [],
        "launch": launch,
        "taken": taken,
        "digest": "x",
    }

"""What tests/core/gateway/test_continuity.py shares with the other tests: MemoryStore,
PersistentHarness, answerLast, call."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.spec import ServerSpec
from mcpgateway.web.app import makeSite
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import Harness


class MemoryStore:
    """A L{mcpgateway.core.sessions.SessionPersistence} in memory, through JSON."""

    def __init__(self) -> None:
        self.data: str | None = None
        self.writes = 0
        self.saves = 0
        """Calls of L{save}: each one was given every session's record."""

    def load(self) -> list[dict[str, Any]]:
        return [] if self.data is None else list(json.loads(self.data))

    def save(self, records: list[dict[str, Any]]) -> None:
        self.saves += 1
        data = json.dumps(records, sort_keys=True)
        if data != self.data:
            self.data = data
            self.writes += 1

    def remember(self, record: dict[str, Any]) -> None:
        """Nothing: these tests keep what L{save} is given."""

    def forget(self, sessionId: str) -> None:
        """Nothing: these tests keep what L{save} is given."""


class PersistentHarness(Harness):
    """A started gateway whose sessions go to C{store} (C{clientAlive}: see
    L{Gateway})."""

    def __init__(
        self,
        store: MemoryStore,
        servers: dict[str, ServerSpec],
        clientAlive: Callable[[int], bool] | None = None,
    ) -> None:
        self.reactor = FakeProcessReactor()
        self.gateway = Gateway(
            servers,
            fakeSpawner(self.reactor),
            persistence=store,
            clientAlive=clientAlive,
            lazyStart=False,
        )
        self.site = makeSite(self.gateway, self.reactor, loopbackOnly=True, maxBody=4096)
        self.gateway.start()


def call(h: Harness, server: str, sid: str, requestId: Any = 7) -> Any:
    return h.request(
        "POST",
        f"/{server}/mcp",
        {"jsonrpc": "2.0", "id": requestId, "method": "tools/call", "params": {"name": "x"}},
        session=sid,
    )


def answerLast(h: Harness, method: str, result: Any) -> None:
    proc = h.process()
    sent = [m for m in proc.sentMessages() if m.get("method") == method][-1]
    proc.reply({"jsonrpc": "2.0", "id": sent["id"], "result": result})

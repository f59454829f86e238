"""What tests/core/gateway/test_continuity_writes.py shares with the other tests:
StoredHarness."""

from __future__ import annotations

from pathlib import Path

from mcpgateway.core.gateway.gateway import Gateway, GatewayService
from mcpgateway.core.spec import ServerSpec
from mcpgateway.ops.sessionstore import SessionStore
from mcpgateway.web.app import makeSite
from tests.fakes import FakeProcessReactor, HandThreads, fakeSpawner
from tests.http import Harness, Response, initializeMessage, spec


class StoredHarness(Harness):
    """A gateway whose sessions go to a file in C{directory}, written by
    the jobs of L{threads}; started as the service tree starts it."""

    def __init__(self, directory: Path, servers: dict[str, ServerSpec] | None = None) -> None:
        self.reactor = FakeProcessReactor()
        self.threads = HandThreads()
        self.store = SessionStore(directory / "sessions.json", runInThread=self.threads)
        self.gateway = Gateway(
            servers or {"srv": spec("srv")}, fakeSpawner(self.reactor), persistence=self.store
        )
        self.site = makeSite(self.gateway, self.reactor, loopbackOnly=True, maxBody=4096)
        self.service = GatewayService(self.gateway)
        self.service.startService()
        self.handshaken = False

    def saved(self) -> set[str]:
        """The sessions a gateway started now (after a crash) would restore."""
        return {r["id"] for r in SessionStore(self.store.path).load()}

    def opening(self) -> Response:
        """An C{initialize} sent (the shared child's handshake answered the
        first time); its answer waits for its journal line."""
        response = self.request("POST", "/srv/mcp", initializeMessage())
        if len(self.reactor.processes) == 1 and not self.handshaken:
            self.answerHandshake()
            self.handshaken = True
        return response

    def opened(self) -> str:
        """A session opened, its journal line written."""
        response = self.opening()
        self.threads.runAll()
        assert response.status == 200
        return response.headers["mcp-session-id"]

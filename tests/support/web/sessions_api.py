"""What tests/web/admin/test_sessions_api.py shares with the other tests: Finder,
FinderHarness, initialize."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.spec import ServerSpec
from mcpgateway.web.app import makeSite
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import Harness, Response, spec
from tests.support.web.api import initializeBody


class FinderHarness(Harness):
    """A L{Harness} whose gateway has a pid finder (and optionally a watcher)."""

    def __init__(self, pidFinder: Any, servers: dict[str, ServerSpec] | None = None) -> None:
        self.reactor = FakeProcessReactor()
        specs = servers or {"srv": spec("srv")}
        self.gateway = Gateway(
            specs, fakeSpawner(self.reactor), pidFinder=pidFinder, lazyStart=False
        )
        self.site = makeSite(self.gateway, self.reactor, maxBody=4096)


class Finder:
    """Records each lookup and answers it with a Deferred the test fires."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.answers: list[Deferred[int | None]] = []

    def __call__(self, *args: Any) -> Deferred[int | None]:
        self.calls.append(args)
        d: Deferred[int | None] = Deferred()
        self.answers.append(d)
        return d


def initialize(
    h: Harness,
    server: str = "srv",
    headers: dict[str, str] | None = None,
    clientInfo: dict[str, Any] | None = None,
) -> Response:
    response = h.request(
        "POST",
        f"/{server}/mcp",
        initializeBody(clientInfo),
        headers=headers,
    )
    if not response.complete:
        h.answerHandshake()
    assert response.status == 200, response.body
    return response

"""What tests/core/test_predecessor.py shares with the other tests: Restart,
SuccessorHarness, savedIds."""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.spec import ServerSpec
from mcpgateway.web.app import makeSite
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import Harness, spec
from tests.support.core.continuity import MemoryStore, PersistentHarness

SERVERS = {"srv": spec("srv"), "other": spec("other"), "st": spec("st", mode="stateful")}


class SuccessorHarness(Harness):
    """A started gateway on C{store} whose predecessor is gone when
    C{gone} fires (C{clientAlive}: see L{Gateway})."""

    def __init__(
        self,
        store: MemoryStore,
        gone: Deferred[None] | None,
        servers: dict[str, ServerSpec] = SERVERS,
        start: bool = True,
        clientAlive: Callable[[int], bool] | None = None,
    ) -> None:
        self.reactor = FakeProcessReactor(firstPid=5000)
        self.gateway = Gateway(
            servers,
            fakeSpawner(self.reactor),
            persistence=store,
            predecessor=gone,
            lazyStart=False,
            clientAlive=clientAlive,
        )
        self.site = makeSite(self.gateway, self.reactor, loopbackOnly=True, maxBody=4096)
        if start:
            self.gateway.start()


def savedIds(store: MemoryStore) -> set[str]:
    return {r["id"] for r in store.load()}


class Restart:
    """A predecessor with sessions, which saved them (C{prepare}), and its
    successor, started with the predecessor still running."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.old = PersistentHarness(self.store, SERVERS)
        self.first = self.old.initialize("srv")
        self.stateful = self.old.initialize("st")
        self.old.gateway.continuity.save(always=True)  # prepare
        self.gone: Deferred[None] = Deferred()
        self.new = SuccessorHarness(self.store, self.gone)
        self.new.answerHandshake()  # the shared child it started for the restored session

    def predecessorExits(self) -> None:
        self.old.gateway.stop()
        self.gone.callback(None)

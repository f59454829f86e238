"""The gateway's collaborators on their own, each made with only what it
needs of its host: the aggregate side reads the host's catalogs when it is
asked (the wiring may give the gateway others after it is made), the
session limits leave a visiting session out until it ends, a
reconfiguration tells its host the configuration is complete only while the
host runs, and the servers' pools are the one mapping the others read."""

from __future__ import annotations

from dataclasses import dataclass, field

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.logger import Logger

from mcpgateway.core.aggregate.types import EndpointSpec, NameSettings
from mcpgateway.core.gateway.aggregateside import AggregateSide
from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.gateway.reconfiguring import Reconfigurer
from mcpgateway.core.gateway.serverset import ServerSet
from mcpgateway.core.gateway.sessioncapacity import SessionCapacity
from mcpgateway.core.gateway.settings import GatewaySettings
from mcpgateway.core.pools.scopecatalogfile import SavedScopeCatalogs
from mcpgateway.core.sessions import Session, SessionRegistry
from mcpgateway.core.spec import ServerSpec
from tests.fakes import FakeProcessReactor, fakeSpawner

SPEC = ServerSpec(name="srv", command="srv", executable="/opt/srv/bin/srv", requestTimeout=5.0)


@dataclass
class Host:
    """A gateway as its collaborators see it: settings, catalogs (its
    scopes' too), whether it runs, the sessions it ended and the
    configured() calls."""

    catalogs: Catalogs
    settings: GatewaySettings = field(default_factory=GatewaySettings)
    running: bool = False
    ended: list[tuple[str, str]] = field(default_factory=list)
    configuredCalls: int = 0
    sessions: SessionRegistry = field(default_factory=lambda: SessionRegistry(Clock()))
    scopeCatalogs: SavedScopeCatalogs = field(default_factory=lambda: SavedScopeCatalogs(Clock()))

    def endSession(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        self.ended.append((session.id, reason))
        return succeed(None)

    def configured(self) -> None:
        self.configuredCalls += 1

    @property
    def continuity(self) -> Host:
        return self


def test_the_aggregate_side_answers_from_the_catalogs_its_host_has_now() -> None:
    reactor = FakeProcessReactor()
    host = Host(Catalogs(reactor))
    side = AggregateSide(host, {}, reactor)
    side.useEndpoints({"bare": EndpointSpec(name="bare", mode="search")}, NameSettings())
    later = Catalogs(reactor)
    ServerSet(Host(later), {"srv": SPEC}, fakeSpawner(reactor), Logger())  # srv's catalog
    host.catalogs = later
    status = side.status()
    assert list(status["catalogs"]) == ["srv"]
    assert status["endpoints"] == ["bare", "default", "search"]
    assert [side.hasEndpoint(n) for n in ("bare", "default", "nosuch")] == [True, True, False]
    assert side.made is None


def test_a_visiting_session_is_left_out_of_the_limits_until_it_ends() -> None:
    clock = FakeProcessReactor()
    registry = SessionRegistry(clock)
    side = AggregateSide(Host(Catalogs(clock)), {}, clock)
    ended: list[str] = []

    def endSession(session: Session, reason: str) -> Deferred[None]:
        ended.append(session.id)
        return succeed(None)

    room = SessionCapacity(registry, {}, side, endSession, clock, Logger())
    own = registry.create("srv", "2025-11-25", {}, {})
    visitor = Session("visitor", "srv", "2025-11-25", {}, {}, clock.seconds())
    visitor.visiting = True
    registry.add(visitor)
    room.visiting(visitor.id)
    assert room.live == 1
    assert room.admitSession(1) is True  # the own session, idle, makes room
    assert ended == [own.id]
    registry.remove(own)
    room.left(visitor.id)
    assert room.live == 1
    assert room.admitSession(1) is False  # the visiting session is never evicted
    counts = room.counts.counts()
    assert (counts[("gateway", "evicted")], counts[("gateway", "refused")]) == (1, 1)


def test_a_reconfiguration_completes_the_configuration_only_while_its_host_runs() -> None:
    reactor = FakeProcessReactor()
    host = Host(Catalogs(reactor))
    servers = ServerSet(host, {"srv": SPEC}, fakeSpawner(reactor), Logger())
    registry = SessionRegistry(reactor)
    side = AggregateSide(host, servers.pools, reactor)
    reconfigurer = Reconfigurer(host, servers, registry, side, Logger())
    session = registry.create("srv", "2025-11-25", {}, {})
    reconfigurer.reconfigure({"other": SPEC})
    assert host.configuredCalls == 0
    assert sorted(servers.pools) == ["other"]
    assert host.ended == [(session.id, "server srv was removed")]
    host.running = True
    reconfigurer.reconfigure({})
    assert host.configuredCalls == 1
    assert servers.pools == {}

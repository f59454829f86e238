"""Start-up's team features are wired only when an option asks for them:
a laptop's options get the empty door, and each team option (or a
cluster) gets L{mcpgateway.startup.team.wireTeam}; the policy is wired
with C{--policy} only."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from mcpgateway import tap
from mcpgateway.startup import policywiring, team, teamwiring
from mcpgateway.web.teamcluster import TeamServices
from tests.fakes import FakeProcessReactor


def parse(*argv: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(["--port", "9312", *argv])
    return options


@pytest.fixture
def wired(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The calls of L{mcpgateway.startup.team.wireTeam}, which answers an
    empty door."""
    calls: list[tuple[Any, ...]] = []

    def wireTeam(*args: Any) -> TeamServices:
        calls.append(args)
        return TeamServices()

    monkeypatch.setattr(team, "wireTeam", wireTeam)
    return calls


def test_a_laptops_options_get_the_empty_door(wired: list[tuple[Any, ...]]) -> None:
    options = parse()
    pre: Any = SimpleNamespace(clusterKeys=[])
    cluster = teamwiring.clusterOf(options, pre)
    made = teamwiring.teamOf(options, pre, FakeProcessReactor(), None, None, None, cluster)
    assert cluster is None and wired == []
    assert made.gate is None and made.audit is None and made.cluster is None
    assert not made.active and made.authLine() == {"mode": "none"} and not made.publicHealth
    assert teamwiring.selfServiceOf(options) is None
    public: Any = {**options, "public-health": True}
    assert teamwiring.teamOf(public, pre, None, None, None, None, None).publicHealth  # type: ignore[arg-type]
    assert wired == []


@pytest.mark.parametrize("name", teamwiring.TEAM_OPTIONS)
def test_each_team_option_wires_the_team(wired: list[tuple[Any, ...]], name: str) -> None:
    options: Any = {"public-health": False, **dict.fromkeys(teamwiring.TEAM_OPTIONS), name: "x"}
    teamwiring.teamOf(options, "pre", "reactor", "top", "gateway", b"secret", None)  # type: ignore[arg-type]
    assert wired == [(options, "pre", "reactor", "top", "gateway", b"secret", None)]


def test_a_cluster_wires_the_team(wired: list[tuple[Any, ...]]) -> None:
    options = parse()
    cluster: Any = object()
    teamwiring.teamOf(options, "pre", "reactor", "top", "gateway", None, cluster)  # type: ignore[arg-type]
    assert [call[-1] for call in wired] == [cluster]


def test_the_policy_is_wired_with_its_option_only(monkeypatch: pytest.MonkeyPatch) -> None:
    told: list[tuple[str, Any]] = []
    monkeypatch.setattr(policywiring, "wirePolicy", lambda options, reactor, top: "gate")
    monkeypatch.setattr(
        policywiring, "wireAggregatePolicy", lambda gate, gateway: told.append(("aggregate", gate))
    )
    monkeypatch.setattr(
        policywiring, "wirePolicyLabels", lambda gate, step: told.append(("labels", gate))
    )
    door = TeamServices()
    teamwiring.wirePolicy(parse(), FakeProcessReactor(), None, door)
    teamwiring.wirePolicyOn(door, "gateway", "step")
    assert door.requestPolicy is None and told == []
    teamwiring.wirePolicy({"policy": "p.cedar"}, FakeProcessReactor(), None, door)  # type: ignore[arg-type]
    teamwiring.wirePolicyOn(door, "gateway", "step")
    assert door.requestPolicy == "gate"
    assert told == [("aggregate", "gate"), ("labels", "gate")]

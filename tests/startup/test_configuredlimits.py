"""The rate limits of calls and C{--policy} wired only while configured:
no call-quota gate and no decided names on a laptop, both added and taken
away by a reload (L{mcpgateway.startup.configuredlimits})."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.spec import ServerSpec
from mcpgateway.governance.quotagate import QuotaGate
from mcpgateway.startup import wiring
from mcpgateway.startup.configuredlimits import ConfiguredLimits, decidesNames, limited
from mcpgateway.startup.wiring import GatewayReload
from mcpgateway.web.teamcluster import TeamServices
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import spec
from tests.support.startup.options import parseIn

LIMITS = '{"server":{"calls":"20/s"}}'
"""A config's C{"limits"}, as the config service gives them (compact JSON)."""


class Wired:
    """A gateway of one server C{srv}, its team services and its limits."""

    def __init__(self, policy: bool = False) -> None:
        self.quotas = ""
        self.gateway = Gateway({"srv": spec("srv")}, fakeSpawner(FakeProcessReactor()))
        self.team = TeamServices()
        self.limits = ConfiguredLimits(
            Clock(), self.gateway, self.team, lambda: self.quotas, policy
        )

    def specs(self, **limits: str) -> dict[str, ServerSpec]:
        """The gateway's servers, with the C{limits} of the ones named."""
        return {
            name: replace(pool.spec, limits=limits.get(name, ""))
            for name, pool in self.gateway.pools.items()
        }

    def namesDecided(self) -> list[bool]:
        return [pool.namesDecided for pool in self.gateway.pools.values()]


def test_a_laptop_has_no_quota_gate_and_decides_no_name() -> None:
    wired = Wired()
    wired.limits.use(wired.specs())
    assert wired.team.callQuotas is None
    assert wired.namesDecided() == [False]


def test_a_reload_that_sets_top_level_limits_adds_the_gate_and_decides_names() -> None:
    wired = Wired()
    wired.limits.use(wired.specs())
    wired.quotas = LIMITS
    wired.limits.use(wired.specs())
    assert isinstance(wired.team.callQuotas, QuotaGate)
    assert wired.namesDecided() == [True]


def test_a_reload_that_removes_the_limits_takes_the_gate_away() -> None:
    wired = Wired()
    wired.quotas = LIMITS
    wired.limits.use(wired.specs())
    assert wired.team.callQuotas is not None
    wired.quotas = ""
    wired.limits.use(wired.specs())
    assert wired.team.callQuotas is None
    assert wired.namesDecided() == [False]


def test_the_gate_is_made_once_so_its_buckets_outlive_reloads() -> None:
    wired = Wired()
    wired.quotas = LIMITS
    wired.limits.use(wired.specs())
    first = wired.team.callQuotas
    wired.quotas = ""
    wired.limits.use(wired.specs())
    wired.quotas = LIMITS
    wired.limits.use(wired.specs())
    assert wired.team.callQuotas is first


def test_a_server_entry_s_limits_add_the_gate_but_decide_no_name() -> None:
    """A server's own limits are read from its entry by its gate: only the
    top-level ones decide every call's name."""
    wired = Wired()
    wired.limits.use(wired.specs(srv=LIMITS))
    assert isinstance(wired.team.callQuotas, QuotaGate)
    assert wired.namesDecided() == [False]


def test_a_policy_decides_names_without_limits() -> None:
    wired = Wired(policy=True)
    wired.limits.use(wired.specs())
    assert wired.namesDecided() == [True]
    assert wired.team.callQuotas is None


def test_a_pool_made_after_the_decision_takes_it() -> None:
    wired = Wired()
    wired.quotas = LIMITS
    wired.limits.use(wired.specs())
    added = wired.gateway.servers.add("other", spec("other"))
    assert added.namesDecided is True


@given(policy=st.booleans(), quotas=st.sampled_from(["", LIMITS]))
def test_names_are_decided_by_a_policy_or_top_level_limits(policy: bool, quotas: str) -> None:
    assert decidesNames(policy, quotas) is (policy or quotas == LIMITS)


@given(top=st.sampled_from(["", LIMITS]), entries=st.lists(st.sampled_from(["", LIMITS])))
def test_any_limit_configured_means_limited(top: str, entries: list[str]) -> None:
    specs = {f"s{i}": replace(spec(f"s{i}"), limits=e) for i, e in enumerate(entries)}
    assert limited(top, specs) is (LIMITS in [top, *entries])


class RecordingGateway:
    """A reload target that records whether the gate was set when it was
    handed the servers."""

    def __init__(self, team: TeamServices) -> None:
        self.team = team
        self.reconfigurer = self
        self.gated: list[bool] = []

    def reconfigure(self, specs: dict[str, Any]) -> Deferred[None]:
        self.gated.append(self.team.callQuotas is not None)
        return succeed(None)


def test_a_reload_wires_the_limits_before_the_gateway_serves_its_servers() -> None:
    wired = Wired()
    reload = GatewayReload(5.0)
    recorder = RecordingGateway(wired.team)
    reload.gateway = recorder  # type: ignore[assignment]
    reload.limits = wired.limits
    reload(wired.specs(srv=LIMITS))
    reload(wired.specs())
    assert recorder.gated == [True, False]


def wiredLimits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: dict[str, Any]
) -> ConfiguredLimits:
    """The limits L{wiring.makeService} wires for C{config}."""
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "servers.json"
    path.write_text(json.dumps(config))
    made: list[ConfiguredLimits] = []

    class Recorded(ConfiguredLimits):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            made.append(self)

    monkeypatch.setattr(wiring, "ConfiguredLimits", Recorded)
    options = parseIn(tmp_path, "--port", "9300", "--config", str(path))
    wiring.makeService(options, FakeProcessReactor())
    [limits] = made
    return limits


DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}


def test_the_gateway_started_without_limits_has_no_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = wiredLimits(tmp_path, monkeypatch, {"mcpServers": {"demo": DEMO}})
    assert limits._team.callQuotas is None
    assert [pool.namesDecided for pool in limits._gateway.pools.values()] == [False]


def test_the_gateway_started_with_limits_has_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {"limits": json.loads(LIMITS), "mcpServers": {"demo": DEMO}}
    limits = wiredLimits(tmp_path, monkeypatch, config)
    assert isinstance(limits._team.callQuotas, QuotaGate)
    assert [pool.namesDecided for pool in limits._gateway.pools.values()] == [True]

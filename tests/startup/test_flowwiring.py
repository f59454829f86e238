"""The flow step wired (L{mcpgateway.startup.flowwiring}): the C{"flow"}
setting of C{servers.json} read at start and at each reload, and the
ledger swept while the service runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from twisted.internet.task import Clock

from mcpgateway.core.spec import ServerSpec
from mcpgateway.flow.held import HeldCalls
from mcpgateway.flow.labels import Label, parseEntryLabels
from mcpgateway.flow.step import FlowStep
from mcpgateway.startup.flowwiring import SWEEP_SECONDS, FlowSweep, FlowWiring

FILES = {"fs": ServerSpec(name="fs", command="x", labels=parseEntryLabels(["private"]))}


class FakeGateway:
    catalogs = None


def wiring(stateDir: Path) -> FlowWiring:
    step = FlowStep(Clock(), lambda: HeldCalls(Clock()))
    return FlowWiring(step, stateDir, cast(Any, FakeGateway()))


def test_the_setting_turns_the_rule_off_at_the_next_reload(tmp_path: Path) -> None:
    wired = wiring(tmp_path)
    wired(FILES)
    assert wired.step.active
    (tmp_path / "servers.json").write_text(json.dumps({"flow": {"default": False}}))
    wired(FILES)
    assert not wired.step.active and not wired.step.rule.settings.default
    (tmp_path / "servers.json").write_text(json.dumps({"flow": {"default": True}}))
    wired(FILES)
    assert wired.step.active


def test_a_setting_that_cannot_be_used_leaves_the_rule_on(tmp_path: Path) -> None:
    (tmp_path / "servers.json").write_text(json.dumps({"flow": {"default": "no"}}))
    wired = wiring(tmp_path)
    wired(FILES)
    assert wired.step.active


def test_the_sweep_forgets_idle_clients_while_it_runs() -> None:
    clock = Clock()
    step = FlowStep(clock, lambda: HeldCalls(clock))
    step.ledger.idle = SWEEP_SECONDS
    step.ledger.record(("", "pid", "1"), "s", frozenset({Label.PRIVATE}))
    sweep = FlowSweep(clock, step)
    sweep.startService()
    clock.advance(SWEEP_SECONDS)
    assert len(step.ledger) == 0
    sweep.stopService()
    assert clock.getDelayedCalls() == []

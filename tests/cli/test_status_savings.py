"""C{mcpgateway status} says what the gateway saves, in one or two lines,
from the C{"savings"} of /health."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mcpgateway.cli.status import savingsSummary
from mcpgateway.report.health import healthBody
from tests.cli.support import HEALTH, Cli, FakeGateway
from tests.support.web.health_savings import sampledGateway


def test_status_shows_the_saving_under_the_gateway_line(running: FakeGateway, cli: Cli) -> None:
    h, s = sampledGateway()
    status = h.gateway.readModel.status()
    savings = healthBody(replace(status, savings=s.sampler.estimate(status)))["savings"]
    running.answers["/health"] = (200, {**HEALTH, "savings": savings})
    code, out, err = cli("status")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[1].startswith("  3 servers, ")
    assert lines[2] == (
        "  saves 7 processes and 180 MB (PSS) against a launch per session; the gateway uses 20 MB"
    )
    assert lines[3] == (
        "  · 2 npx/uvx wrappers avoided: in the processes, not in the memory"
        " (the gateway never ran one to measure)"
    )
    assert lines[4].startswith("  config ")


def summary(**savings: Any) -> list[str]:
    return savingsSummary({"savings": {"measure": "pss", **savings}})


def test_the_saving_in_its_other_shapes() -> None:
    assert savingsSummary({}) == []  # an older gateway
    assert savingsSummary({"savings": "odd"}) == []
    assert summary(processesAvoided=1, memoryAvoidedBytes=5 * 2**20) == [
        "  saves 1 process and 5.0 MB (PSS) against a launch per session"
    ]
    assert summary(processesAvoided=0, memoryAvoidedBytes=0, gatewayBytes=2**25) == [
        "  saves no process yet (no server has more sessions than children); the gateway uses 32 MB"
    ]
    assert summary(processesAvoided=-1, memoryAvoidedBytes=-(2**24)) == [
        "  runs 1 process more than a launch per session would (the gateway, sandboxes,"
        " children serving no session), and 16 MB (PSS) more"
    ]
    assert summary(processesAvoided=-2, processesUsed=5, processesWithout=3) == [
        "  runs 2 processes more than a launch per session would (the gateway, sandboxes,"
        " children serving no session); 5 running (the gateway's whole tree) against 3"
        " without it"
    ]
    assert summary(
        processesAvoided=3, memoryAvoidedBytes=None, wrappersAvoided=1, wrapperMemory="counted"
    ) == [
        "  saves 3 processes against a launch per session",
        "  · 1 npx/uvx wrapper avoided: in the processes and the memory",
    ]
    assert summary(processesAvoided=2, memoryAvoidedBytes=0, measure=None) == [
        "  saves 2 processes against a launch per session (memory not measured yet)"
    ]
    assert summary(processesAvoided=True, memoryAvoidedBytes="x", measure=None) == [
        "  saves no process yet (no server has more sessions than children)"
    ]

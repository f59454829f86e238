"""/health's "savings": what sharing children saves, rendered from the read
model's L{Savings} record; absent when the gateway does not sample."""

from __future__ import annotations

import json
from dataclasses import replace

from mcpgateway.report.health import healthBody, savingsLine
from tests.http import Harness
from tests.support.ops.savings import MB, Sampled
from tests.support.report.healthkeys import HEALTH_HEAD
from tests.support.web.health_savings import sampledGateway


def test_health_says_what_sharing_saves_after_the_sessions() -> None:
    h, s = sampledGateway()
    status = h.gateway.readModel.status()
    assert "savings" not in healthBody(status)  # no sampler: no key (and no golden change)
    body = healthBody(replace(status, savings=s.sampler.estimate(status)))
    assert list(body)[:7] == [*HEALTH_HEAD, "savings"]
    savings = body["savings"]
    assert {k: v for k, v in savings.items() if k != "servers"} == {
        "processesAvoided": 3 + 2 + 2,  # srv: 3 launches; mem: 1 launch of 2 processes, 2 npx
        "memoryAvoidedBytes": 3 * 40 * MB + 60 * MB,
        "processesUsed": None,  # the gateway's tree not read: the servers' figures summed
        "processesWithout": 4 + 2 * 2 + 2,
        "memoryUsed": None,
        "memoryWithout": None,
        "measure": "pss",
        "wrappersAvoided": 2,
        "wrapperMemory": "not counted",
        "gatewayBytes": 20 * MB,
        "sampleAge": 3.0,
    }
    assert savings["servers"]["mem"] == {
        "sessions": 2,
        "children": 1,
        "processes": 2,
        "pssBytes": 60 * MB,
        "rssBytes": 61 * MB,
        "cpuSeconds": 0.5,
        "processesPerLaunch": 2.0,
        "bytesPerLaunch": 60 * MB,
        "measure": "pss",
        "wrapper": "npx",
        "wrappersAvoided": 2,
        "wrapperBytes": None,
        "processesAvoided": 4,
        "memoryAvoidedBytes": 60 * MB,
        "processesWithout": 2 * 2 + 2,
    }
    json.dumps(body, allow_nan=False)  # strict JSON


def test_an_unsampled_gateway_says_so() -> None:
    h = Harness()
    h.initialize()
    sampler = Sampled(h).sampler
    line = savingsLine(sampler.estimate(h.gateway.readModel.status()), 5.0)
    assert line["sampleAge"] is None and line["measure"] is None
    assert line["processesAvoided"] == 0 and line["servers"]["srv"]["bytesPerLaunch"] is None

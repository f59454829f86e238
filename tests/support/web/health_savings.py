"""What tests/report/test_health_savings.py shares with the other tests:
sampledGateway."""

from __future__ import annotations

from dataclasses import replace

from twisted.internet.defer import succeed

from tests.http import Harness, spec
from tests.support.ops.savings import MB, Sampled, launch, npxSpec


def sampledGateway() -> tuple[Harness, Sampled]:
    """Four sessions on a shared server, two on a resolved npx entry."""
    h = Harness({"srv": spec("srv"), "mem": npxSpec("mem")})
    pool = h.gateway.pools["mem"]
    resolved = replace(pool.spec, command="/usr/bin/node", args=("/cache/bin.js",))
    pool.launchAfter(succeed(resolved), "its npx command to resolve")
    for n in range(4):
        h.initialize("srv", requestId=n + 1)
    h.initialize("mem", requestId=10)
    h.initialize("mem", requestId=11)
    s = Sampled(h)
    servers = h.gateway.readModel.status().servers
    s.launches[servers["srv"].pids[0]] = launch(40 * MB)
    s.launches[servers["mem"].pids[0]] = launch(60 * MB, processes=2)
    s.sample()
    h.reactor.advance(3)
    return h, s

"""The probe as the gateway runs it: a launcher with C{--probe}, read back;
started by the service tree's start, once the gateway has daemonized."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.sandbox.confine import Sandbox
from mcpgateway.sandbox.detect import SandboxService, parse, probe
from mcpgateway.sandbox.request import LAUNCHER
from tests.fakes import FakeProcessReactor, capturedGatewayLogs

FOUND = {"bwrap": {"works": True}, "landlock": {"abi": 7}, "root": False, "mechanism": "bwrap"}


def test_what_the_probe_found_is_read_as_it_printed_it() -> None:
    assert parse(json.dumps(FOUND).encode(), b"", 0) == FOUND


@pytest.mark.parametrize(
    ("out", "err", "code", "why"),
    [
        (b"", b"Traceback...\nImportError: boom\n", 1, "the probe failed: ImportError: boom"),
        (b"{not json", b"", 0, "the probe failed: exit status 0"),
        (json.dumps({"mechanism": "jail"}).encode(), b"", 0, "the probe failed: exit status 0"),
    ],
)
def test_a_probe_that_failed_is_one_that_found_nothing_saying_why(
    out: bytes, err: bytes, code: int, why: str
) -> None:
    found = parse(out, err, code)
    assert found["mechanism"] == "none"
    assert found["bwrap"]["error"] == why and found["landlock"]["error"] == why


class ProbeTests(SynchronousTestCase):
    def test_the_probe_is_a_launcher_run_with_probe_in_the_gateways_environment(self) -> None:
        reactor = FakeProcessReactor()
        found = probe(reactor, {"PATH": "/usr/bin"})
        [(executable, args, env, _)] = reactor.spawned
        assert executable == sys.executable
        assert args == [sys.executable, "-I", "-S", LAUNCHER, "--probe"]
        assert env == {"PATH": "/usr/bin"}
        self.assertNoResult(found)
        reactor.lastProcess.stdout(json.dumps(FOUND).encode())
        reactor.lastProcess.exit(0)
        assert self.successResultOf(found) == FOUND

    def test_the_service_starts_the_probe_when_every_server_is_confined(self) -> None:
        started: list[int] = []

        def prober() -> Any:
            from twisted.internet.defer import Deferred

            started.append(1)
            return Deferred()

        SandboxService(Sandbox("auto", "/s", prober=prober)).startService()
        assert started == [1]
        SandboxService(Sandbox("off", "/s", prober=prober)).startService()
        assert started == [1]  # off: the first confined child starts it

    def test_the_gateway_learns_the_mechanism_from_a_real_exchange(self) -> None:
        reactor = FakeProcessReactor()
        box = Sandbox("auto", "/s", prober=lambda: probe(reactor, {}))
        with capturedGatewayLogs():
            SandboxService(box).startService()
            reactor.lastProcess.stdout(json.dumps({**FOUND, "mechanism": "landlock"}).encode())
            reactor.lastProcess.exit(0)
        assert box.mechanism == "landlock"

"""The probe as the gateway runs it: a launcher with C{--probe}, read back;
started by the service tree's start, once the gateway has daemonized;
marked and told to the gateway's warden, as a package install is."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.sandbox.confine import Sandbox
from mcpgateway.sandbox.detect import MAX_OUTPUT, PROBE, SandboxService, parse, probe
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


class WardenOfProbes:
    """The gateway's warden, as the probe is told to it."""

    marker = ("MCPGATEWAY_CHILD_OF", "7-ab")

    def __init__(self) -> None:
        self.told: list[tuple[str, int]] = []
        self.recorded: list[bool] = []

    def helperSpawned(self, server: str, pid: int, ledger: bool = True) -> None:
        self.told.append((server, pid))
        self.recorded.append(ledger)

    def helperExited(self, pid: int) -> None:
        self.told.append(("exited", pid))


class WardenTests(SynchronousTestCase):
    def test_the_probe_is_marked_and_told_to_the_warden_until_it_ends(self) -> None:
        reactor = FakeProcessReactor()
        warden = WardenOfProbes()
        found = probe(reactor, {"PATH": "/usr/bin"}, warden=warden)
        [(_, _, env, _)] = reactor.spawned
        # What the probe starts (bubblewrap's trial) is found by the marker too.
        assert env == {"PATH": "/usr/bin", "MCPGATEWAY_CHILD_OF": "7-ab"}
        pid = reactor.lastProcess.pid
        assert pid is not None and warden.told == [(PROBE, pid)]
        assert warden.recorded == [False]  # the ledger is still the previous gateway's
        reactor.lastProcess.stdout(json.dumps(FOUND).encode())
        reactor.lastProcess.exit(0)
        assert warden.told == [(PROBE, pid), ("exited", pid)]
        assert self.successResultOf(found) == FOUND

    def test_a_probe_that_fails_is_let_go_of_by_the_warden_too(self) -> None:
        reactor = FakeProcessReactor()
        warden = WardenOfProbes()
        found = probe(reactor, {}, warden=warden)
        pid = reactor.lastProcess.pid
        reactor.lastProcess.exit(signal=9)
        assert warden.told == [(PROBE, pid), ("exited", pid)]
        assert self.successResultOf(found)["bwrap"]["error"] == (
            "the probe failed: killed by signal 9"
        )

    def test_the_probes_stdin_is_closed_and_its_output_bounded(self) -> None:
        reactor = FakeProcessReactor()
        found = probe(reactor, {})
        assert reactor.lastProcess.stdinClosed
        reactor.lastProcess.stderr(b"x" * (MAX_OUTPUT + 10) + b"\nlast\n")
        reactor.lastProcess.exit(1)
        why = self.successResultOf(found)["bwrap"]["error"]
        assert why.startswith("the probe failed: x") and len(why) < MAX_OUTPUT + 100

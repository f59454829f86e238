"""Nothing the gateway started outlives it, whenever it is killed: a
gateway is killed with C{SIGKILL} during a package install (a stand-in
C{npm} that never ends, ignores C{SIGTERM} and leaves a daemon in a
session of its own), while the sandbox's probe runs (a stand-in
bubblewrap that never answers nor ends on C{SIGTERM}), while a child is
starting (and the sandbox's probe may still run), and during a restart's
hand-over; once its
C{--adopt-grace} has passed (and a successor, if one came, is stopped),
no process it started is left.

Each gateway gets a token in its environment that every process it
starts inherits (its children, its installers, what they start, in their
sandbox too): what holds the token once every gateway is gone was
orphaned."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.gateway import gatewayEnv, waitFor
from tests.integration.restartkit import COUNTER, count, freePort, openSession, running, state
from tests.integration.sandboxkit import bwrapOrSkip
from tests.support.integration.leftover import left

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc"),
]
GRACE = 3.0
"""The gateways' --adopt-grace, in seconds."""
TERM_TO_KILL = 2.0
"""The warden's wait between SIGTERM and SIGKILL (mcpgateway.ops.wardenrun.GRACE)."""
SLOW_NPM = """#!/bin/sh
# npm's stand-in: an install that never ends, with a daemon of its own
setsid sleep 1000 </dev/null >/dev/null 2>&1 &
trap '' TERM
sleep 1000
"""
HANGING_BWRAP = """#!/bin/sh
# bubblewrap's stand-in: the probe asks its version, which never comes
trap '' TERM
sleep 1000
"""
SILENT_SERVER = """
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.fork() == 0:  # a daemon, in a session of its own
    os.setsid()
    if os.fork() == 0:
        time.sleep(1000)
    os._exit(0)
time.sleep(1000)  # never answers its initialize
"""


class Killed:
    """A gateway on C{home} started by C{mcpgateway start} with C{token}
    in its environment, C{bin} first on its C{PATH}."""

    def __init__(self, home: Path, token: str, bin: Path | None = None) -> None:
        self.home = home
        self.token = token
        self.env = {**gatewayEnv(home), "KILLED_ANY_MOMENT": token}
        if bin is not None:
            self.env["PATH"] = f"{bin}{os.pathsep}{self.env['PATH']}"
        self.port = freePort()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mcpgateway.cli", *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=90,
        )

    def start(self, config: Path, sandbox: str) -> int:
        args = ["--config", str(config), "--sandbox", sandbox, "--adopt-grace", f"{GRACE:g}"]
        started = self.cli("start", "--port", str(self.port), *args)
        assert started.returncode == 0, started.stdout + started.stderr
        return int(state(self.home)["pid"])

    def gateways(self) -> list[int]:
        """The gateway processes of this home still running."""
        return [
            int(line.split(":")[0])
            for line in left(self.token)
            if "mcpgateway" in line and ("launch" in line or "twist" in line)
        ]

    def nothingLeft(self, killed: float) -> None:
        """Once the grace has passed since C{killed} (and any successor is
        stopped): nothing holds the token."""
        time.sleep(max(0.0, killed + GRACE + TERM_TO_KILL + 1.0 - time.monotonic()))
        for pid in self.gateways():  # a successor adopted what it could: its stop stops it
            os.kill(pid, signal.SIGTERM)
        assert waitFor(lambda: not self.gateways(), timeout=20), left(self.token)
        assert waitFor(lambda: not left(self.token), timeout=5), (
            "left after the grace:\n" + "\n".join(left(self.token))
        )


@pytest.fixture
def token() -> Iterator[str]:
    """The token of the test's gateways; what still holds it once the
    test is over (it failed) is killed, so that one failure leaves no
    process behind."""
    mine = f"kill-{uuid.uuid4().hex}"
    yield mine
    for line in left(mine):
        with contextlib.suppress(OSError):
            os.kill(int(line.split(":")[0]), signal.SIGKILL)


def killNow(pid: int) -> float:
    os.kill(pid, signal.SIGKILL)
    assert waitFor(lambda: not running(pid), timeout=10)
    return time.monotonic()


def configure(home: Path, servers: dict[str, object]) -> Path:
    import json

    config = home / "servers.json"
    config.write_text(json.dumps({"mcpServers": servers}))
    return config


@pytest.mark.parametrize("sandbox", ["bubblewrap", "off"])
def test_killed_during_an_install_leaves_no_installer(home: Path, token: str, sandbox: str) -> None:
    if sandbox != "off":
        bwrapOrSkip()
    fake = home / "fakebin"
    fake.mkdir()
    (fake / "npm").write_text(SLOW_NPM)
    (fake / "npm").chmod(0o755)
    gateway = Killed(home, token, fake)
    # Its package is installed at once, as the gateway starts.
    config = configure(home, {"pkg": {"command": "npx", "args": ["-y", "never-installed@1.0.0"]}})
    pid = gateway.start(config, sandbox)
    assert waitFor(lambda: sum("sleep 1000" in p for p in left(token)) >= 2, timeout=30), left(
        token
    )
    gateway.nothingLeft(killNow(pid))


def test_killed_during_the_sandbox_probe_leaves_no_probe(home: Path, token: str) -> None:
    fake = home / "fakebin"
    fake.mkdir()
    (fake / "bwrap").write_text(HANGING_BWRAP)
    (fake / "bwrap").chmod(0o755)
    gateway = Killed(home, token, fake)
    entry = {"command": COUNTER[0], "args": COUNTER[1:], "sandbox": False}
    pid = gateway.start(configure(home, {"shared": entry}), "auto")

    def probing() -> bool:
        running = left(token)
        return any("--probe" in p for p in running) and any("sleep 1000" in p for p in running)

    assert waitFor(probing, timeout=30), left(token)  # the probe waits on bubblewrap
    killed = killNow(pid)
    # Its warden stops the probe and what it started: no successor comes to do it.
    assert waitFor(
        lambda: not any("--probe" in p or "sleep 1000" in p for p in left(token)),
        timeout=TERM_TO_KILL + 10,
    ), left(token)
    gateway.nothingLeft(killed)


def test_killed_while_a_child_starts_leaves_nothing(home: Path, token: str) -> None:
    bwrapOrSkip()
    gateway = Killed(home, token)
    server = home / "silent.py"
    server.write_text(SILENT_SERVER)
    entry = {"command": sys.executable, "args": [str(server)], "prewarm": True, "sandbox": True}
    pid = gateway.start(configure(home, {"silent": entry}), "auto")
    # Killed as soon as it listens: its sandbox's probe may still run, the child starts.
    assert waitFor(lambda: any("silent.py" in p for p in left(token)), timeout=20)
    gateway.nothingLeft(killNow(pid))


def test_killed_during_a_restarts_hand_over_leaves_nothing_unowned(home: Path, token: str) -> None:
    gateway = Killed(home, token)
    entry = {"command": COUNTER[0], "args": COUNTER[1:]}
    pid = gateway.start(configure(home, {"shared": entry}), "off")
    session = openSession(gateway.port, "shared")
    assert count(gateway.port, "shared", session, 1)[0] == 1
    time.sleep(1.5)  # the warden holds the child too
    os.kill(pid, signal.SIGUSR2)  # mcpgateway restart
    assert waitFor(lambda: len(gateway.gateways()) >= 2, timeout=20), left(token)
    gateway.nothingLeft(killNow(pid))

"""Stopping a real gateway (C{twistd -n} and C{twist}) with a call in flight,
as a user does: one SIGTERM whose drain deadline passes, and
SIGTERM or Ctrl-C twice. The process exits, its output has no critical line,
no traceback, no C{ReactorNotRunning}; a second signal cuts the drain short,
and the client config it adopted is still restored."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.integration.gateway import (
    RunningGateway,
    errorText,
    launchCommand,
    twistCommand,
    twistdCommand,
    waitFor,
    writeConfig,
)

pytestmark = pytest.mark.integration
DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
RUNNERS = {"twistd": twistdCommand, "twist": twistCommand, "launch": launchCommand}
SEVERE = ("critical", "Traceback", "ReactorNotRunning", "CancelledError", "Unhandled error")


class SlowCall(threading.Thread):
    """One SDK session calling the demo's C{slow} tool; C{outcome} says how
    it ended (its text, or C{error: ...})."""

    def __init__(self, url: str, seconds: int) -> None:
        super().__init__(daemon=True)
        self.url, self.seconds = url, seconds
        self.outcome: str | None = None

    def run(self) -> None:
        async def main() -> str:
            async with Client(self.url, mode="legacy") as client:
                arguments = {"seconds": self.seconds, "steps": self.seconds}
                result = await client.call_tool("slow", arguments)
                return str(result.content[0].text)  # type: ignore[union-attr]

        try:
            self.outcome = anyio.run(main)
        except BaseException as error:  # the gateway went away under it
            self.outcome = "error: " + errorText(error)


def inFlight(gateway: RunningGateway) -> int:
    url = f"http://127.0.0.1:{gateway.port}/sessions"
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return sum(s["inFlight"] for s in json.loads(r.read())["sessions"])
    except OSError:
        return 0


def startSlowCall(gateway: RunningGateway, url: str, seconds: int = 20) -> SlowCall:
    call = SlowCall(url, seconds)
    call.start()
    assert waitFor(lambda: inFlight(gateway) == 1, timeout=20), gateway.text()
    return call


def exitsWithin(gateway: RunningGateway, seconds: float) -> int:
    code = gateway.process.wait(timeout=seconds)
    assert code in (0, -signal.SIGTERM, -signal.SIGINT), gateway.text()
    return code


def assertClean(gateway: RunningGateway) -> None:
    text = gateway.text()
    for word in SEVERE:
        assert word not in text, text[-4000:]
    assert "all children stopped in" in text, text[-4000:]


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_one_sigterm_whose_drain_deadline_passes(start: Any, home: Path, runner: str) -> None:
    """Defect A: the deadline cancelled the drain; its CancelledError was
    logged as a critical "Unhandled error in Deferred"."""
    config = writeConfig(home / "servers.json", {"demo": DEMO})
    gateway: RunningGateway = start(
        "--config", str(config), "--drain-timeout", "1", command=RUNNERS[runner]()
    )
    call = startSlowCall(gateway, gateway.url("demo"))
    started = time.monotonic()
    gateway.process.send_signal(signal.SIGTERM)
    assert exitsWithin(gateway, 15) == -signal.SIGTERM or runner == "twist"
    assert time.monotonic() - started < 12  # not the call's 20 s
    call.join(10)
    assert call.outcome is not None and "done after" not in call.outcome
    assert "letting 1 request(s) in flight finish (at most 1 s)" in gateway.text()
    assertClean(gateway)


@pytest.mark.parametrize(
    ("runner", "signum"), [("twistd", signal.SIGTERM), ("twist", signal.SIGINT)]
)
def test_a_second_signal_cuts_the_drain_short(
    start: Any, home: Path, runner: str, signum: int
) -> None:
    """Defect B: the second signal raised ReactorNotRunning (a critical
    traceback); now it answers the call with an error and stops the
    children at once, and the stop goes on: the adopted config is restored."""
    claude = home / ".claude.json"
    claude.write_text(json.dumps({"numStartups": 1, "mcpServers": {"demo": DEMO}}, indent=2))
    os.chmod(claude, 0o600)
    original = claude.read_text()
    gateway: RunningGateway = start(
        "--rewrite-config", "--drain-timeout", "60", command=RUNNERS[runner]()
    )
    assert waitFor(lambda: "_mcp_gateway_ts" in claude.read_text())
    url = json.loads(claude.read_text())["mcpServers"]["demo"]["url"]
    call = startSlowCall(gateway, url, seconds=30)
    started = time.monotonic()
    gateway.process.send_signal(signum)
    assert waitFor(lambda: "letting 1 request(s) in flight finish" in gateway.text(), timeout=30), (
        gateway.text()[-4000:]
    )
    assert gateway.process.poll() is None  # draining: the call has 30 s to go
    gateway.process.send_signal(signum)
    exitsWithin(gateway, 15)
    assert time.monotonic() - started < 12  # neither the call's 30 s nor the 60 s deadline
    call.join(10)
    assert call.outcome is not None and "done after" not in call.outcome
    name = signal.Signals(signum).name
    text = gateway.text()
    assert f"Received {name}, shutting down." in text
    assert f"Received {name}: already stopping; no longer waiting for 1 request(s)" in text
    assertClean(gateway)
    assert claude.read_text() == original  # restored: no entry points at a dead gateway

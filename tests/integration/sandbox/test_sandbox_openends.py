"""A confined child's start and stdout, with a real gateway run with
C{--sandbox auto} (docs/guide/sandbox.md):

 - a confined child whose start takes longer than C{--request-timeout}
   (its own sleep, on top of the launcher and bubblewrap) is started all
   the same: its handshake has C{--start-timeout}; its calls keep the
   request timeout;
 - a confined child that closes its stdout and sleeps is replaced at
   once, as an unconfined one is: no process of bubblewrap's keeps the
   pipe open (the launcher hands it over on fd 9).

Bubblewrap must work here; the tests skip, saying why, only where it
cannot run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.gateway import RunningGateway, callEcho, waitFor, writeConfig
from tests.integration.sandboxkit import bwrapOrSkip, childPids, commandOf
from tests.support.integration.misbehaving_children import MISBEHAVING, alive, closingStdout

pytestmark = pytest.mark.integration

Starter = Callable[..., RunningGateway]


def test_a_slow_confined_start_outlives_a_short_request_timeout(home: Path, start: Starter) -> None:
    bwrapOrSkip()
    slow = {
        "command": sys.executable,
        "args": [
            "-c",
            "import runpy, time; time.sleep(3);"
            " runpy.run_module('mcpgateway.demo', run_name='__main__')",
        ],
    }
    config = writeConfig(home / "servers.json", {"slow": slow})
    gateway = start(
        "--config",
        str(config),
        "--sandbox",
        "auto",
        "--request-timeout",
        "1",
        "--start-timeout",
        "60",
    )
    assert callEcho(gateway.url("slow"), "started") == "started"
    assert "did not answer initialize" not in gateway.text()
    assert waitFor(lambda: any(bwrapped(gateway)))


def bwrapped(gateway: RunningGateway) -> list[list[str]]:
    commands = [commandOf(pid) for pid in childPids(gateway.process.pid)]
    return [c for c in commands if c and os.path.basename(c[0]) == "bwrap"]


def test_a_confined_child_that_closes_its_stdout_is_replaced_at_once(
    home: Path, start: Starter
) -> None:
    bwrapOrSkip()
    mute = {
        "command": sys.executable,
        "args": [str(MISBEHAVING), "--close-stdout"],
        "requestTimeout": 30_000,
    }
    config = writeConfig(home / "servers.json", {"mute": mute})
    gateway = start("--config", str(config), "--sandbox", "auto")
    assert callEcho(gateway.url("mute"), "hello") == "hello"
    assert waitFor(lambda: any(bwrapped(gateway)))
    pid, described = closingStdout(gateway)
    assert pid not in described["pids"] and "closed its stdout" in described["lastExit"]
    assert waitFor(lambda: not alive(pid), timeout=10)  # the sandbox is stopped with it
    assert callEcho(gateway.url("mute"), "again") == "again"
    [fresh] = gateway.health()["servers"]["mute"]["pids"]
    assert fresh != pid

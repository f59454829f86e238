"""A restart keeps the confined children too: the counter fixture in its
sandbox (bubblewrap, and Landlock), its network through the allow-list
proxy, goes on in the new process with what it counted, and its way out
still answers. A confined child still ends when the gateway is killed and
no next process comes: its warden stops it."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.integration.gateway import waitFor
from tests.integration.restartkit import (
    COUNTER,
    ask,
    cli,
    cliGateway,
    count,
    countedOnBoth,
    freePort,
    health,
    hostPidOf,
    openSession,
    restartedFrom,
    running,
    sandboxProbed,
    state,
)

SANDBOX = {"network": {"allowedDomains": ["example.com"]}}


def configure(home: Path) -> Path:
    config = home / "servers.json"
    servers = {
        "shared": {"command": COUNTER[0], "args": COUNTER[1:], "sandbox": SANDBOX},
        "solo": {"command": COUNTER[0], "args": COUNTER[1:], "mode": "stateful"},
    }
    config.write_text(json.dumps({"mcpServers": servers}))
    return config


@pytest.mark.parametrize("mechanism", ["bubblewrap", "landlock"])
def test_restart_keeps_each_confined_child_with_its_memory_and_its_way_out(
    home: Path, mechanism: str
) -> None:
    config = configure(home)
    with cliGateway(home, "--config", str(config), "--sandbox", mechanism) as port:
        old = state(home)["pid"]
        sandboxProbed(home)  # the children are laid out with what it found
        shared, solo, soloPid, sharedPid = countedOnBoth(port)
        before = ask(port, "shared", shared, 3, "proxy")
        assert before.startswith("HTTP/1."), before  # the proxy answers (and refuses)
        hostShared, hostSolo = hostPidOf(home, "shared"), hostPidOf(home, "solo")

        began = time.monotonic()
        restartedFrom(home, cli(home, "restart"), old)
        print(f"restart with {mechanism} children: {time.monotonic() - began:.2f} s")

        # The same processes, with what they counted, in their sandboxes.
        assert count(port, "solo", solo, 4) == (2, soloPid)
        assert count(port, "shared", shared, 5) == (3, sharedPid)
        assert running(hostShared) and running(hostSolo)
        assert (hostPidOf(home, "shared"), hostPidOf(home, "solo")) == (hostShared, hostSolo)
        after = ask(port, "shared", shared, 6, "proxy")
        assert after == before, after  # the proxy's socket went with the child
        kept = health(port)["restart"]
        assert kept["kept"] == 2 and kept["started"] == 0, kept
    assert waitFor(lambda: not running(hostShared) and not running(hostSolo), timeout=15)


def test_a_confined_child_ends_when_the_gateway_is_killed_and_none_follows(home: Path) -> None:
    config = configure(home)
    port = freePort()
    # --adopt-grace 0: its warden stops it at once (continuity/test_crash_children.py)
    started = cli(home, "start", "--port", str(port), "--config", str(config), "--adopt-grace", "0")
    assert started.returncode == 0, started.stdout + started.stderr
    gateway = state(home)["pid"]
    try:
        solo = openSession(port, "solo")
        inside = count(port, "solo", solo, 1)[1]
        child = hostPidOf(home, "solo")
        assert running(child) and inside != child  # in a pid namespace of its own
        os.kill(gateway, signal.SIGKILL)
        # Its warden stops it: TERM, then KILL 2 seconds later at most.
        assert waitFor(lambda: not running(child), timeout=10), "the confined child outlived"
    finally:
        if running(gateway):
            os.kill(gateway, signal.SIGKILL)

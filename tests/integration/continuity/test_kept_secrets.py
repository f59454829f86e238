"""A child given secrets is kept too: its record carries the values'
seal, never the values, and the next gateway process keeps it when it
resolves its server's references to the same values (a restart and a
crash alike), and starts it anew, saying why, when one changed (a rotated
token). The values are in no log, no status and no record."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import waitFor
from tests.integration.restartkit import (
    COUNTER,
    cli,
    cliGateway,
    count,
    freePort,
    health,
    openSession,
    restartedFrom,
    running,
    sandboxProbed,
    state,
)

FIRST = "tok-first-8f3a2c"
ROTATED = "tok-rotated-91b7e4"


def configure(home: Path, confined: bool = False) -> tuple[Path, Path]:
    """The server C{shared}, given the token of C{home/token} through a
    C{${file:...}} reference (in the default sandbox when C{confined}):
    the config and the token's file."""
    token = home / "token"
    token.write_text(FIRST + "\n")
    token.chmod(0o600)
    env = {"API_TOKEN": f"${{file:{token}}}", "COUNTER_SAYS": "API_TOKEN"}
    server: dict[str, Any] = {"command": COUNTER[0], "args": COUNTER[1:], "env": env}
    if not confined:
        server["sandbox"] = False
    config = home / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"shared": server}}))
    return config, token


def leaked(home: Path) -> list[str]:
    """The files of the state directory (the log, the sessions, the status)
    in which a token's value appears."""
    found = []
    for path in (home / "state").rglob("*"):
        if path.is_file() and not path.is_symlink():
            text = path.read_bytes()
            if FIRST.encode() in text or ROTATED.encode() in text:
                found.append(str(path))
    return found


@pytest.mark.parametrize("confined", [True, False])
def test_a_restart_keeps_a_child_given_secrets_until_one_is_rotated(
    home: Path, confined: bool
) -> None:
    # A confined child was laid out from its spec with the values in place:
    # the next process compares its sandbox with one laid out so too.
    config, token = configure(home, confined)
    with cliGateway(home, "--config", str(config)) as port:
        if confined:
            sandboxProbed(home)  # its child is laid out with what the probe found
        sid = openSession(port, "shared")
        assert count(port, "shared", sid, 1)[0] == 1
        counted, pid = count(port, "shared", sid, 2)
        assert counted == 2

        old = state(home)["pid"]
        restartedFrom(home, cli(home, "restart"), old)
        # The same process, with what it counted: its secrets resolved to the same values.
        assert count(port, "shared", sid, 3) == (3, pid)
        kept = health(port)["restart"]
        assert kept["kept"] == 1 and kept["started"] == 0, kept
        # What the kept child prints of its token is taken out here as before.
        log = home / "state" / "gateway.log"
        assert waitFor(lambda: log.read_text().count(f"API_TOKEN=${{file:{token}}}") >= 3)

        token.write_text(ROTATED + "\n")
        old = state(home)["pid"]
        restartedFrom(home, cli(home, "restart"), old)
        report = health(port)["restart"]
        assert report["kept"] == 0 and report["started"] == 1, report
        [anew] = report["anew"]
        assert anew["why"] == "the values of its secret references changed", anew
        if not confined:  # a confined child's pid is its sandbox's
            assert waitFor(lambda: not running(pid), timeout=15)
        # A new child, given the rotated token: it counts from one again.
        counted, _ = count(port, "shared", openSession(port, "shared"), 1)
        assert counted == 1
        status = cli(home, "status")
        assert "the values of its secret references changed" in status.stdout, status.stdout
        assert leaked(home) == []


def test_a_crash_keeps_a_child_given_secrets(home: Path) -> None:
    config, _ = configure(home)
    port = freePort()
    started = cli(home, "start", "--port", str(port), "--config", str(config))
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        sid = openSession(port, "shared")
        counted, pid = count(port, "shared", sid, 1)
        time.sleep(2.5)  # by now the warden holds the child (given at initialize)

        gateway = state(home)["pid"]
        os.kill(gateway, signal.SIGKILL)
        assert waitFor(lambda: not running(gateway), timeout=10)
        assert running(pid)  # held by the warden
        started = cli(home, "start", "--port", str(port), "--config", str(config))
        assert started.returncode == 0, started.stdout + started.stderr
        assert waitFor(lambda: health(port).get("restart", {}).get("kept") == 1, timeout=20)
        assert count(port, "shared", sid, 2) == (counted + 1, pid)
        assert leaked(home) == []
    finally:
        stopped = cli(home, "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert waitFor(lambda: not running(pid), timeout=15)

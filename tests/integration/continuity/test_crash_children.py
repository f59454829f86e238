"""A crash keeps the children (C{--adopt-grace}): the gateway is killed
with C{SIGKILL}, its warden holds the children and their pipes, and the
next gateway on the same state directory takes them: the same pids with
the same counts, a shared child and a session's own child, confined
(bubblewrap) and not. A child whose server's arguments changed meanwhile
is stopped and a new one starts; with no next gateway within the grace,
the children end with it."""

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
    cli,
    count,
    countedOnBoth,
    countsGoOn,
    freePort,
    health,
    hostPidOf,
    openSession,
    running,
    sandboxProbed,
    state,
)


def configure(home: Path, sandbox: str, extra: tuple[str, ...] = ()) -> Path:
    config = home / "servers.json"
    confined = sandbox != "off"
    servers = {
        "shared": {"command": COUNTER[0], "args": [*COUNTER[1:], *extra], "sandbox": confined},
        "solo": {
            "command": COUNTER[0],
            "args": COUNTER[1:],
            "mode": "stateful",
            "sandbox": confined,
        },
    }
    config.write_text(json.dumps({"mcpServers": servers}))
    return config


def startGateway(home: Path, port: int, config: Path, sandbox: str, *more: str) -> None:
    args = ["start", "--port", str(port), "--config", str(config), "--sandbox", sandbox]
    started = cli(home, *args, *more)
    assert started.returncode == 0, started.stdout + started.stderr


def killGateway(home: Path) -> None:
    pid = state(home)["pid"]
    os.kill(pid, signal.SIGKILL)
    assert waitFor(lambda: not running(pid), timeout=10)


@pytest.mark.parametrize("sandbox", ["bubblewrap", "off"])
def test_a_crash_keeps_each_child_with_its_memory(home: Path, sandbox: str) -> None:
    config = configure(home, sandbox)
    port = freePort()
    startGateway(home, port, config, sandbox)
    try:
        if sandbox != "off":
            sandboxProbed(home)  # the children are laid out with what it found
        shared, solo, soloPid, sharedPid = countedOnBoth(port)
        hostShared, hostSolo = hostPidOf(home, "shared"), hostPidOf(home, "solo")
        time.sleep(2.5)  # by now the warden holds every child (given at initialize)

        killGateway(home)
        assert running(hostShared) and running(hostSolo)  # held by the warden
        began = time.monotonic()
        startGateway(home, port, config, sandbox)
        assert waitFor(lambda: health(port).get("restart", {}).get("kept") == 2, timeout=20)
        print(f"crash, {sandbox}: start to adopted {time.monotonic() - began:.2f} s")

        # The same processes, with what they counted: nothing started again.
        countsGoOn(port, shared, solo, soloPid, sharedPid)
        assert (hostPidOf(home, "shared"), hostPidOf(home, "solo")) == (hostShared, hostSolo)
        report = health(port)["restart"]
        assert report["kept"] == 2 and report["started"] == 0, report
        assert not (home / "state" / "warden.sock").exists()
    finally:
        stopped = cli(home, "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    # The next gateway stops the children it kept, as its own.
    assert waitFor(lambda: not running(hostShared) and not running(hostSolo), timeout=15)


def test_a_crash_right_after_a_childs_first_answer_keeps_it(home: Path) -> None:
    # The warden is given the child as soon as it is initialized: a SIGKILL
    # right after the first call's answer (a package just installed, a child
    # just started) does not come before it.
    config = configure(home, "off")
    port = freePort()
    startGateway(home, port, config, "off")
    try:
        shared = openSession(port, "shared")
        first, pid = count(port, "shared", shared, 1)
        child = hostPidOf(home, "shared")
        killGateway(home)
        assert running(child)  # held by the warden
        startGateway(home, port, config, "off")
        assert waitFor(lambda: health(port).get("restart", {}).get("kept") == 1, timeout=20), (
            health(port).get("restart")
        )
        assert count(port, "shared", shared, 2) == (first + 1, pid)
        assert hostPidOf(home, "shared") == child
    finally:
        cli(home, "stop")


def test_a_child_whose_arguments_changed_is_replaced(home: Path) -> None:
    config = configure(home, "off")
    port = freePort()
    startGateway(home, port, config, "off")
    try:
        shared = openSession(port, "shared")
        assert count(port, "shared", shared, 1)[0] == 1
        old = hostPidOf(home, "shared")
        time.sleep(2.5)
        killGateway(home)
        configure(home, "off", extra=("--changed",))
        startGateway(home, port, config, "off")
        assert waitFor(lambda: not running(old), timeout=15), "the old child outlived"
        counted, pid = count(port, "shared", shared, 2)
        assert counted == 1 and pid != old  # a new child, counting from the start
    finally:
        cli(home, "stop")


def test_with_no_next_gateway_the_children_end_after_the_grace(home: Path) -> None:
    config = configure(home, "off")
    port = freePort()
    startGateway(home, port, config, "off", "--adopt-grace", "2")
    shared = openSession(port, "shared")
    count(port, "shared", shared, 1)
    child = hostPidOf(home, "shared")
    time.sleep(2.5)
    killed = time.monotonic()
    killGateway(home)
    assert running(child)
    assert waitFor(lambda: not running(child), timeout=10), "the child outlived the grace"
    took = time.monotonic() - killed
    print(f"no next gateway: the child ended {took:.2f} s after the kill")
    assert took >= 1.5
    assert waitFor(lambda: not (home / "state" / "warden.sock").exists(), timeout=5)
    # The next gateway, come too late, names the child it did not get, and why.
    port = freePort()
    startGateway(home, port, config, "off")
    try:
        report = health(port)["restart"]
        assert report["started"] == 1 and report["kept"] == 0, report
        [anew] = report["anew"]
        assert anew["server"] == "shared" and anew["pid"] == child
        assert "no gateway started on its state directory within the 2 s grace" in anew["why"]
    finally:
        cli(home, "stop")


def sharedChildCounting(home: Path) -> tuple[Path, int, int, int]:
    """A gateway on C{home} (unconfined children) whose shared child has
    counted once: its config, its port, the child's pid and the warden's."""
    config = configure(home, "off")
    port = freePort()
    startGateway(home, port, config, "off")
    shared = openSession(port, "shared")
    count(port, "shared", shared, 1)
    return config, port, hostPidOf(home, "shared"), wardenOf(home)


def test_a_stop_after_a_crash_stops_the_children_the_warden_kept(home: Path) -> None:
    """C{mcpgateway stop} after a crash leaves nothing of the gateway: the
    warden, which keeps the children for the next start (60 s by
    default), stops them at once when told so, and the next gateway names
    why they were started anew."""
    config, _, child, warden = sharedChildCounting(home)
    killGateway(home)
    assert waitFor(lambda: (home / "state" / "warden.sock").exists(), timeout=10)
    said = cli(home, "status")
    assert "its warden keeps its children for the next start" in said.stdout, said.stdout
    doctor = cli(home, "doctor")
    assert "run `mcpgateway start` now: it takes them" in doctor.stdout, doctor.stdout
    stopped = cli(home, "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert f"the warden (pid {warden})" in stopped.stdout, stopped.stdout
    assert not running(warden)
    assert waitFor(lambda: not running(child), timeout=10), "the kept child outlived the stop"
    port = freePort()
    startGateway(home, port, config, "off")
    try:
        [anew] = health(port)["restart"]["anew"]
        assert anew["pid"] == child
        assert anew["why"] == "mcpgateway stop stopped it before a gateway started again"
    finally:
        cli(home, "stop")


def wardenOf(home: Path) -> int:
    """The warden of the gateway on C{home} (its command line names its socket)."""
    sock = str(home / "state" / "warden.sock").encode()
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read()
        except OSError:
            continue
        if b"wardenrun.py" in command and sock in command:
            return int(entry)
    raise AssertionError("no warden")


def test_the_next_gateway_names_what_a_warden_killed_with_its_gateway_left(
    home: Path,
) -> None:
    config, port, child, warden = sharedChildCounting(home)
    os.kill(warden, signal.SIGKILL)  # the OOM killer takes both
    assert waitFor(lambda: not running(warden), timeout=10)
    killGateway(home)
    startGateway(home, port, config, "off")
    try:
        report = health(port)["restart"]
        [anew] = report["anew"]
        assert anew["server"] == "shared" and anew["pid"] == child
        assert anew["why"].startswith("its warden was gone too"), anew
        assert waitFor(lambda: not running(child), timeout=15)
    finally:
        cli(home, "stop")

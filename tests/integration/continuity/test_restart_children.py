"""A restart keeps the running children: a shared child and a session's
own child of a server that counts calls in memory go on in the new
process, the same pids with the same counts, and no child is sent an
C{initialize} again. A restart whose new process cannot start leaves
the children to the old one, and they stop with it. A stop and a start keep no child:
each session's next answer says, once, that its child is new; so does
the next answer of each session a shared child served when the gateway
starts that child again after it was killed."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from tests.integration.gateway import waitFor
from tests.integration.restartkit import (
    COUNTER,
    cli,
    cliGateway,
    count,
    countedOnBoth,
    countsGoOn,
    countTold,
    freePort,
    health,
    openSession,
    post,
    restartedFrom,
    running,
    state,
)


def configure(home: Path) -> Path:
    config = home / "servers.json"
    servers = {
        "shared": {"command": COUNTER[0], "args": COUNTER[1:], "sandbox": False},
        "solo": {"command": COUNTER[0], "args": COUNTER[1:], "mode": "stateful", "sandbox": False},
    }
    config.write_text(json.dumps({"mcpServers": servers}))
    return config


def test_restart_keeps_each_child_with_its_memory(home: Path) -> None:
    config = configure(home)
    with cliGateway(home, "--config", str(config)) as port:
        old = state(home)["pid"]
        shared, solo, soloPid, sharedPid = countedOnBoth(port)

        restartedFrom(home, cli(home, "restart"), old)

        # The same processes, with what they counted: nothing started again.
        countsGoOn(port, shared, solo, soloPid, sharedPid)
        assert running(soloPid) and running(sharedPid)
        kept = health(port)["restart"]
        assert kept["kept"] == 2 and kept["started"] == 0, kept
        # Kept children: nobody is told of a new one.
        assert countTold(port, "solo", solo, 3) == (3, [], False)
        assert countTold(port, "shared", shared, 4) == (4, [], False)
        status = cli(home, "status")
        assert "restart: kept 2 running children with their memory, 0 started anew" in (
            status.stdout
        ), status.stdout
        log = (home / "state" / "gateway.log").read_text(errors="replace")
        assert f"goes on with child pid {sharedPid}" in log
        assert f"goes on with child pid {soloPid}" in log
    # The new process stops the children it kept, as its own.
    assert waitFor(lambda: not running(soloPid) and not running(sharedPid), timeout=15)


def test_a_restart_that_fails_leaves_the_children_serving_then_stopping(home: Path) -> None:
    config = configure(home)
    with cliGateway(home, "--config", str(config), stopChecked=False) as port:
        old = state(home)["pid"]
        solo = openSession(port, "solo")
        counted, pid = count(port, "solo", solo, 1)
        moved = home / "moved.json"
        config.rename(moved)  # the new process's --config is gone: it refuses to start
        result = cli(home, "restart")
        assert result.returncode == 1, result.stdout + result.stderr
        assert state(home)["pid"] == old
        assert count(port, "solo", solo, 2) == (counted + 1, pid)
    assert waitFor(lambda: not os.path.exists(f"/proc/{old}"), timeout=20)
    assert waitFor(lambda: not running(pid), timeout=15)  # nothing left behind


def test_a_stop_and_a_start_tell_each_session_once_that_its_child_is_new(home: Path) -> None:
    config = configure(home)
    port = freePort()
    args = ("start", "--port", str(port), "--config", str(config))
    started = cli(home, *args)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        shared = [openSession(port, "shared") for _ in range(2)]
        solo = openSession(port, "solo")
        for n, sid in enumerate(shared):
            count(port, "shared", sid, n + 1)
        count(port, "solo", solo, 1)
        stopped = cli(home, "stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        started = cli(home, *args)
        assert started.returncode == 0, started.stdout + started.stderr

        for server, sid in [("solo", solo), *(("shared", sid) for sid in shared)]:
            counted, before, told = countTold(port, server, sid, 10)
            assert told, (server, counted)
            [notice] = before
            assert notice["method"] == "notifications/message", notice
            assert notice["params"]["level"] == "warning", notice
            assert "started anew" in notice["params"]["data"], notice
            # Once: the next answers of the session say nothing more.
            assert countTold(port, server, sid, 11)[1:] == ([], False)
        assert countTold(port, "solo", solo, 12)[0] == 3  # a new child: counted from 1
    finally:
        cli(home, "stop")


def test_a_shared_child_killed_while_the_gateway_runs_tells_the_sessions_it_served(
    home: Path,
) -> None:
    """The gateway starts the killed shared child again: each session a
    request of which reached it is told once; a session that never called
    is not."""
    config = configure(home)
    with cliGateway(home, "--config", str(config)) as port:
        served, listed = openSession(port, "shared"), openSession(port, "shared")
        counted, pid = count(port, "shared", served, 1)
        assert counted == 1
        os.kill(pid, signal.SIGKILL)
        assert waitFor(lambda: not running(pid), timeout=10)

        counted, before, told = countTold(port, "shared", served, 2)
        assert (counted, told) == (1, True)  # a new child: counted from 1
        [notice] = before
        assert notice["method"] == "notifications/message", notice
        assert "its shared child killed by signal 9" in notice["params"]["data"], notice
        assert countTold(port, "shared", served, 3) == (2, [], False)  # once
        assert countTold(port, "shared", listed, 1) == (3, [], False)  # never served


def test_a_call_outliving_the_restart_timeout_is_answered_and_its_child_moves_on(
    home: Path,
) -> None:
    """A call still running when C{--restart-timeout} has passed is
    answered with an error saying so (not a stream cut short), and its
    child, the server every session shares, moves to the new process with
    what it counted rather than stop with the old one."""
    config = configure(home)
    with cliGateway(home, "--config", str(config), "--restart-timeout", "2") as port:
        old = state(home)["pid"]
        shared = openSession(port, "shared")
        assert count(port, "shared", shared, 1)[0] == 1
        _, pid = count(port, "shared", shared, 2)
        answered: list[Any] = []
        sleep = {"name": "sleep", "arguments": {"seconds": 10}}
        call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": sleep}
        caller = threading.Thread(
            target=lambda: answered.append(post(port, "shared", call, shared))
        )
        caller.start()
        time.sleep(1.0)  # the call reached the child, which sleeps

        restartedFrom(home, cli(home, "restart"), old)

        caller.join(30)
        [(answer, _)] = answered
        assert "the gateway restarted while this request ran" in answer["error"]["message"]
        assert health(port)["restart"]["kept"] == 1
        # The same process, with its count: once it has slept, it counts on.
        assert count(port, "shared", shared, 4) == (3, pid)
        log = (home / "state" / "gateway.log").read_text(errors="replace")
        assert "1 request(s) still in flight ended with an error" in log

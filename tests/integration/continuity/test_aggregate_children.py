"""An aggregate (C{/mcp}) session's member on a server with a child per
session keeps that child, with what it holds in memory, through
C{mcpgateway restart} and through a crash followed by C{mcpgateway start},
as a session on the server's own endpoint does: the counter fixture's
count goes on in the same process, and nobody is told of a new child.
After a stop and a start the member's child is new, and the C{/mcp}
session is told so with its next answer, once."""

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
    VERSION,
    cli,
    cliGateway,
    freePort,
    health,
    restartedFrom,
    running,
    state,
)
from tests.support import mcpclient

pytestmark = pytest.mark.integration


def configure(home: Path) -> Path:
    config = home / "servers.json"
    solo = {"command": COUNTER[0], "args": COUNTER[1:], "mode": "stateful", "sandbox": False}
    config.write_text(json.dumps({"mcpServers": {"solo": solo}}))
    return config


def aggregateSession(port: int) -> str:
    session = mcpclient.Session(f"http://127.0.0.1:{port}/mcp", VERSION, name="counting")
    session.open()
    assert session.id is not None
    return session.id


def countTold(port: int, sid: str, number: int) -> tuple[int, int, list[Any], bool]:
    """Call C{solo__count} through C{/mcp}: the count, the child's pid, the
    messages that came before the answer, and whether the answer says the
    child is new (C{_meta})."""
    url = f"http://127.0.0.1:{port}/mcp"
    call = {
        "jsonrpc": "2.0",
        "id": number,
        "method": "tools/call",
        "params": {"name": "solo__count", "arguments": {}},
    }
    reply = mcpclient.Session(url, VERSION, timeout=60, id=sid).post(call)
    assert reply.status == 200, (reply.status, reply.text[:300])
    *before, answer = reply.messages
    result = answer["result"]
    counted, pid = (int(part.split("=")[1]) for part in result["content"][0]["text"].split())
    told = bool(result.get("_meta", {}).get("mcpgateway/childRestarted"))
    return counted, pid, before, told


def memberSaved(home: Path, sid: str) -> None:
    """Wait until the sessions file holds C{sid} with its member on C{solo}
    (the saves are batched, about a second)."""
    path = home / "state" / "sessions.json"

    def saved() -> bool:
        try:
            records = json.loads(path.read_text())["sessions"]
        except (OSError, ValueError, KeyError):
            return False
        for record in records:
            if record.get("id") == sid:
                members = record.get("aggregate", {}).get("members", [])
                return [m.get("server") for m in members] == ["solo"]
        return False

    assert waitFor(saved, timeout=10), "the session's member was not saved"


def countedTwice(port: int, home: Path) -> tuple[str, int]:
    """A C{/mcp} session that counted twice on its member's own child,
    saved: the session and the child's pid."""
    sid = aggregateSession(port)
    first = countTold(port, sid, 1)
    assert countTold(port, sid, 2)[:2] == (2, first[1])
    memberSaved(home, sid)
    return sid, first[1]


def test_a_restart_keeps_an_aggregate_members_own_child_with_its_count(home: Path) -> None:
    config = configure(home)
    with cliGateway(home, "--config", str(config)) as port:
        old = state(home)["pid"]
        sid, pid = countedTwice(port, home)

        restartedFrom(home, cli(home, "restart"), old)

        assert countTold(port, sid, 3) == (3, pid, [], False)
        kept = health(port)["restart"]
        assert (kept["kept"], kept["started"]) == (1, 0), kept
        log = (home / "state" / "gateway.log").read_text(errors="replace")
        assert "its session was not kept" not in log, log


def test_a_crash_keeps_an_aggregate_members_own_child_with_its_count(home: Path) -> None:
    config = configure(home)
    port = freePort()
    args = ("start", "--port", str(port), "--config", str(config))
    started = cli(home, *args)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        sid, pid = countedTwice(port, home)
        time.sleep(2.5)  # by now the warden holds the child (given at initialize)
        dead = state(home)["pid"]
        os.kill(dead, signal.SIGKILL)
        assert waitFor(lambda: not running(dead), timeout=10)
        assert running(pid)  # held by the warden
        started = cli(home, *args)
        assert started.returncode == 0, started.stdout + started.stderr
        assert waitFor(lambda: health(port).get("restart", {}).get("kept") == 1, timeout=20)

        assert countTold(port, sid, 3) == (3, pid, [], False)
        assert health(port)["restart"]["started"] == 0
    finally:
        cli(home, "stop")


def test_a_stop_and_a_start_tell_the_aggregate_session_its_member_child_is_new(
    home: Path,
) -> None:
    config = configure(home)
    port = freePort()
    args = ("start", "--port", str(port), "--config", str(config))
    started = cli(home, *args)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        sid, pid = countedTwice(port, home)
        stopped = cli(home, "stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        started = cli(home, *args)
        assert started.returncode == 0, started.stdout + started.stderr

        counted, newPid, before, told = countTold(port, sid, 3)
        assert (counted, told) == (1, True) and newPid != pid  # a new child: counted from 1
        [notice] = before
        assert notice["method"] == "notifications/message", notice
        params = notice["params"]
        assert (params["level"], params["logger"]) == ("warning", "mcpgateway"), notice
        assert (
            "server 'solo': the child serving this session was started anew" in (params["data"])
        ), notice
        # Once: the next answer says nothing more.
        assert countTold(port, sid, 4) == (2, newPid, [], False)
    finally:
        cli(home, "stop")

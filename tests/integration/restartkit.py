"""What the restart integration tests share: the C{mcpgateway}
command line on a temporary home, one MCP request per connection, a
session of the counter fixture and its C{count} and C{proxy} tools (and
whether an answer says the child was started anew), the
gateway's state file and health, its sandbox probe's answer, whether a pid still runs, and a gateway
the test restarts by C{mcpgateway restart} or a signal (L{Restartable})."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import REPO, RunningGateway, gatewayEnv, waitFor, writeConfig
from tests.integration.gateway import freePort as freePort  # one per worker
from tests.support import mcpclient
from tests.support.mcpclient import listSessions

COUNTER = [sys.executable, str(REPO / "tests" / "fixtures" / "counter_server.py")]
VERSION = "2025-11-25"


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = gatewayEnv(home)
    return subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", *args],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=90,
    )


@contextmanager
def cliGateway(home: Path, *args: str, stopChecked: bool = True) -> Iterator[int]:
    """C{mcpgateway start} on a free port with C{args}, checked to succeed;
    yields the port and runs C{mcpgateway stop} on leaving, checked to
    succeed too (when the body did not fail) unless C{stopChecked} is false."""
    port = freePort()
    started = cli(home, "start", "--port", str(port), *args)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield port
    finally:
        stopped = cli(home, "stop")
    if stopChecked:
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def post(port: int, server: str, message: dict[str, Any], sid: str = "") -> tuple[Any, str]:
    """One request on a connection of its own (so a restart's old process
    has no idle connection to wait for): its answer."""
    messages, session = postAll(port, server, message, sid)
    return (messages[-1] if messages else None), session


def postAll(
    port: int, server: str, message: dict[str, Any], sid: str = ""
) -> tuple[list[Any], str]:
    """L{post}, with every message of the answer's stream (notifications first)."""
    url = f"http://127.0.0.1:{port}/{server}/mcp"
    reply = mcpclient.Session(url, VERSION, timeout=60, id=sid or None).post(message)
    assert reply.status in (200, 202), (reply.status, reply.text[:300])
    return reply.messages, reply.session or sid


def openSession(port: int, server: str) -> str:
    session = mcpclient.Session(f"http://127.0.0.1:{port}/{server}/mcp", VERSION, name="counting")
    session.open()
    assert session.id is not None
    return session.id


def count(port: int, server: str, sid: str, number: int) -> tuple[int, int]:
    """Call C{count}: (the count, the server's pid)."""
    call = {"jsonrpc": "2.0", "id": number, "method": "tools/call", "params": {"name": "count"}}
    answer, _ = post(port, server, call, sid)
    text = answer["result"]["content"][0]["text"]
    counted, pid = (int(part.split("=")[1]) for part in text.split())
    return counted, pid


PROBED = ("sandbox: confined children run", "sandbox: bubblewrap cannot", "sandbox: --sandbox ")
"""How each line the gateway logs once its sandbox probe answered starts."""


def sandboxProbed(home: Path, timeout: float = 30.0) -> None:
    """Wait until the gateway detached on C{home} logged its sandbox
    probe's answer: a confined child started before has its launcher
    choose for itself, and is started anew by the next gateway process."""
    log = home / "state" / "gateway.log"

    def answered() -> bool:
        try:
            text = log.read_text(errors="replace")
        except OSError:
            return False
        return any(line in text for line in PROBED)

    assert waitFor(answered, timeout=timeout), "the gateway's sandbox probe did not answer"


def countedOnBoth(port: int) -> tuple[str, str, int, int]:
    """A session on the server C{shared} and one on C{solo}, each counting
    from 1 on its own child: the two sessions and the pids of C{solo}'s
    child and of C{shared}'s."""
    shared, solo = openSession(port, "shared"), openSession(port, "solo")
    assert count(port, "shared", shared, 1)[0] == 1
    soloCount, soloPid = count(port, "solo", solo, 1)
    sharedCount, sharedPid = count(port, "shared", shared, 2)
    assert (soloCount, sharedCount) == (1, 2)
    return shared, solo, soloPid, sharedPid


def countsGoOn(port: int, shared: str, solo: str, soloPid: int, sharedPid: int) -> None:
    """Check that L{countedOnBoth}'s sessions go on where they were, on the
    same children, after a restart or a crash: C{solo}'s next count is 2,
    C{shared}'s 3 (nothing started again, nothing forgot)."""
    assert count(port, "solo", solo, 2) == (2, soloPid)
    assert count(port, "shared", shared, 3) == (3, sharedPid)


def restartedFrom(home: Path, restarted: subprocess.CompletedProcess[str], old: int) -> None:
    """Check that C{restarted}, a run of C{mcpgateway restart}, replaced the
    gateway process C{old}: the run succeeded, the state file names a new
    process and C{old} has ended."""
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert state(home)["pid"] != old
    assert waitFor(lambda: not os.path.exists(f"/proc/{old}"), timeout=40)


def countTold(port: int, server: str, sid: str, number: int) -> tuple[int, list[Any], bool]:
    """Call C{count}: the count, the notifications that came first, and
    whether the result says the child was started anew (C{_meta})."""
    call = {"jsonrpc": "2.0", "id": number, "method": "tools/call", "params": {"name": "count"}}
    messages, _ = postAll(port, server, call, sid)
    *before, answer = messages
    result = answer["result"]
    counted = int(result["content"][0]["text"].split()[0].split("=")[1])
    told = bool(result.get("_meta", {}).get("mcpgateway/childRestarted"))
    return counted, before, told


def state(home: Path) -> dict[str, Any]:
    return json.loads((home / "state" / "state.json").read_text())  # type: ignore[no-any-return]


def health(port: int) -> dict[str, Any]:
    return mcpclient.request(f"http://127.0.0.1:{port}/health", "GET", timeout=10).json()  # type: ignore[no-any-return]


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def ask(port: int, server: str, sid: str, number: int, tool: str) -> str:
    """Call C{tool}: its text."""
    call = {"jsonrpc": "2.0", "id": number, "method": "tools/call", "params": {"name": tool}}
    answer, _ = post(port, server, call, sid)
    return str(answer["result"]["content"][0]["text"])


def hostPidOf(home: Path, server: str) -> int:
    """The pid (as this process sees it: a confined child's launcher, then
    its sandbox) of C{server}'s running child, from the gateway's ledger."""
    data = json.loads((home / "state" / "children.json").read_text())
    pids = [int(pid) for pid, one in data["children"].items() if one["server"] == server]
    assert len(pids) == 1, data
    return pids[0]


# -- a gateway the test restarts, on a fixed port and state directory ---------------------

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
SIGNALS = {"sigterm": signal.SIGTERM, "sigkill": signal.SIGKILL}
HANDOVER = 15.0
"""Seconds within which the old process of C{mcpgateway restart} exits."""


class Restartable:
    """A gateway on a fixed port and state directory that the test restarts:
    a C{twist} subprocess for the signal restarts, C{mcpgateway start}
    (detached, logging to the state directory) for C{mcpgateway restart}."""

    def __init__(self, home: Path, how: str) -> None:
        config = writeConfig(
            home / "servers.json",
            {"shared": DEMO, "solo": {**DEMO, "mode": "stateful"}},
        )
        self.home = home
        self.how = how
        self.port = freePort()
        self.gateways: list[RunningGateway] = []
        self.logFile = home / "state" / "gateway.log"
        self.logFrom = 0
        if how == "restart":
            started = self.cli(
                "start", "--port", str(self.port), "--config", str(config), "--no-rewrite"
            )
            assert started.returncode == 0, started.stdout + started.stderr
        else:
            self.args = ["--config", str(config), "--port", f"tcp:{self.port}:interface=127.0.0.1"]
            self.gateways.append(RunningGateway(self.args, home))
            assert self.gateways[-1].port == self.port

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return cli(self.home, *args)

    def url(self, server: str | None = None) -> str:
        """The endpoint of C{server}, or the aggregate endpoint."""
        return f"http://127.0.0.1:{self.port}{'' if server is None else '/' + server}/mcp"

    def sessions(self) -> dict[str, str]:
        """Session id to server, as the running gateway lists them."""
        return {s["id"]: s["server"] for s in listSessions(self.port)}

    def log(self) -> str:
        """What the gateway logged since the restart."""
        if self.how != "restart":
            return self.gateways[-1].text()
        with self.logFile.open("rb") as f:
            f.seek(self.logFrom)
            return f.read().decode("utf-8", "replace")

    def restart(self, sessionIds: set[str]) -> None:
        """Restart the gateway once C{sessionIds} are saved (batched, about
        a second); return when the new one serves them."""
        saved = self.home / "state" / "sessions.json"

        def allSaved() -> bool:
            try:
                records = json.loads(saved.read_text())["sessions"]
            except (OSError, ValueError, KeyError):
                return False
            return sessionIds <= {r["id"] for r in records}

        assert waitFor(allSaved, timeout=10), "sessions were not saved"
        if self.how == "restart":
            old = json.loads((self.home / "state" / "state.json").read_text())["pid"]
            self.logFrom = self.logFile.stat().st_size
            restarted = self.cli("restart")
            assert restarted.returncode == 0, restarted.stdout + restarted.stderr
            # The old process finishes its connections and exits (once the
            # clients closed their idle keep-alive connections: 4 s for
            # Node's fetch, 5 s for httpx), well before the --restart-timeout
            # (30 s); the new one then has every session of it.
            assert waitFor(lambda: not Path(f"/proc/{old}").exists(), timeout=HANDOVER), (
                f"the old gateway (pid {old}) still runs {HANDOVER:g} s after the restart"
                f" returned:\n{self.log()}"
            )
            return
        old = self.gateways[-1]
        old.process.send_signal(SIGNALS[self.how])
        old.process.wait(20)
        self.gateways.append(RunningGateway(self.args, self.home))
        assert self.gateways[-1].port == self.port

    def stop(self) -> None:
        if self.how == "restart":
            self.cli("stop")
        for gateway in self.gateways:
            gateway.stop()


@pytest.fixture
def gateway(home: Path, how: str) -> Iterator[Restartable]:
    running = Restartable(home, how)
    yield running
    running.stop()

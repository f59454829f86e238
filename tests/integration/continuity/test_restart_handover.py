"""Restarts without refused connections: C{mcpgateway restart}
under 16 sessions calling without pause (shared and stateful servers, each
on its own keep-alive connection), with the config adopted: no connection
refused or reset, no failed call, the same sessions go on in the new
process, the old one exits, and C{mcpgateway stop} afterwards gives the
config back byte for byte."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.integration.gateway import waitFor
from tests.integration.restartkit import cliGateway
from tests.support.integration.restart_handover import cli, state
from tests.support.mcpclient import Session

DEMO = [sys.executable, "-m", "mcpgateway.demo"]
VERSION = "2025-11-25"
SESSIONS = 16


class Caller(threading.Thread):
    """One session on its own keep-alive connection, calling C{echo} until told to stop."""

    def __init__(self, port: int, server: str, number: int) -> None:
        super().__init__(daemon=True)
        self.port, self.server, self.number = port, server, number
        self.session = Session(
            f"http://127.0.0.1:{port}/{server}/mcp",
            VERSION,
            headers={"Host": "127.0.0.1"},
            name=f"caller{number}",
            keepAlive=True,
        )
        self.calls = 0
        self.callsAfter = 0
        self.failures: list[str] = []
        self.stopping = threading.Event()
        self.restarted = threading.Event()

    def open(self) -> None:
        self.session.open()

    def run(self) -> None:
        requestId = 1
        while not self.stopping.is_set():
            text = f"{self.number}-{requestId}"
            try:
                arguments = {"name": "echo", "arguments": {"message": text}}
                reply = self.session.send("tools/call", arguments, requestId)
                if reply.status not in (200, 202):
                    raise RuntimeError(f"HTTP {reply.status}: {reply.text[:200]}")
                answer = reply.answer
                if answer is None or text not in json.dumps(answer.get("result")):
                    self.failures.append(f"call {requestId}: {answer}")
            except Exception as e:  # refused, reset, HTTP error: all count
                self.failures.append(f"call {requestId}: {type(e).__name__}: {e}")
            self.calls += 1
            if self.restarted.is_set():
                self.callsAfter += 1
            requestId += 1


def test_restart_under_load_refuses_nothing_and_keeps_every_session(home: Path) -> None:
    config = home / ".claude.json"
    original = json.dumps(
        {
            "numStartups": 3,
            "mcpServers": {
                "shared": {"command": DEMO[0], "args": DEMO[1:]},
                "solo": {"command": DEMO[0], "args": DEMO[1:], "mode": "stateful"},
            },
        },
        indent=2,
    ).encode()
    config.write_bytes(original)
    with cliGateway(home) as port:
        assert b"/shared/mcp" in config.read_bytes()  # adopted
        old = state(home)["pid"]
        callers = [Caller(port, "solo" if n % 4 == 0 else "shared", n) for n in range(SESSIONS)]
        for caller in callers:
            caller.open()
        for caller in callers:
            caller.start()
        assert waitFor(lambda: all(c.calls >= 5 for c in callers), timeout=20)

        restarted = cli(home, "restart")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        new = state(home)["pid"]
        assert new != old
        assert f"{old} -> {new}" in restarted.stdout
        for caller in callers:
            caller.restarted.set()
        # The old process finishes, then exits; every session goes on in the new one.
        assert waitFor(lambda: not os.path.exists(f"/proc/{old}"), timeout=40)
        assert waitFor(lambda: all(c.callsAfter >= 20 for c in callers), timeout=30)
        for caller in callers:
            caller.stopping.set()
        for caller in callers:
            caller.join(30)
        failures = [f for c in callers for f in c.failures]
        assert failures == [], failures[:5]
        with urllib_open(port, "/sessions") as sessions:
            served = {s["id"] for s in sessions["sessions"]}
        assert {c.session.id for c in callers} <= served
        assert b"/shared/mcp" in config.read_bytes()  # still adopted by the successor
    assert config.read_bytes() == original


class urllib_open:  # noqa: N801 (a context manager read like a function)
    def __init__(self, port: int, path: str) -> None:
        import urllib.request

        self._response = urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10)

    def __enter__(self) -> Any:
        return json.loads(self._response.read())

    def __exit__(self, *exc: object) -> None:
        self._response.close()


def test_restart_with_no_gateway_running_says_how_to_start(home: Path) -> None:
    result = cli(home, "restart")
    assert result.returncode == 1
    assert "mcpgateway start" in result.stderr


def test_a_successor_that_cannot_start_leaves_the_old_process_serving(home: Path) -> None:
    config = home / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"demo": {"command": DEMO[0], "args": DEMO[1:]}}}))
    with cliGateway(home, "--config", str(config), stopChecked=False) as port:
        old = state(home)["pid"]
        config.unlink()  # the successor's --config names a file that is gone: it refuses
        result = cli(home, "restart")
        assert result.returncode == 1
        assert "did not restart" in result.stderr and "no such file" in result.stderr
        assert state(home)["pid"] == old
        with urllib_open(port, "/health") as health:
            assert health["pid"] == old
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{old}") and time.monotonic() < deadline:
        time.sleep(0.05)

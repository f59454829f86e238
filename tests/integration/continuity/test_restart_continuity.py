"""Sessions outlive the process: a session opened on one gateway
calls again, with the same id and without initializing, on the next gateway
started on the same state directory and port, after SIGTERM and after
SIGKILL, for a shared and a stateful server."""

from __future__ import annotations

import json
import signal
import stat
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from tests.integration.gateway import RunningGateway, freePort, waitFor, writeConfig
from tests.support.mcpclient import Session

DEMO = [sys.executable, "-m", "mcpgateway.demo"]
VERSION = "2025-11-25"
SHARED = {"shared": {"command": DEMO[0], "args": DEMO[1:]}}


class Successive:
    """Gateways started one after another (L{start}) on one state directory
    and one port, serving C{servers}; every one is stopped on leaving."""

    def __init__(self, home: Path, servers: dict[str, Any]) -> None:
        config = writeConfig(home / "servers.json", servers)
        self.home, self.port = home, freePort()
        self.args = ["--config", str(config), "--port", f"tcp:{self.port}:interface=127.0.0.1"]
        self.gateways: list[RunningGateway] = []

    def start(self) -> RunningGateway:
        self.gateways.append(RunningGateway(self.args, self.home))
        return self.gateways[-1]

    def __enter__(self) -> Successive:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for gateway in self.gateways:
            gateway.stop()


def stopBy(gateway: RunningGateway, how: signal.Signals = signal.SIGKILL) -> None:
    gateway.process.send_signal(how)
    gateway.process.wait(20)


def session(url: str, sid: str | None = None) -> Session:
    return Session(url, VERSION, timeout=20, name="raw-http", id=sid)


def openSession(url: str) -> str:
    opened = session(url)
    opened.open()
    assert opened.id is not None
    return opened.id


def echo(url: str, sid: str, text: str, requestId: int) -> str:
    arguments = {"name": "echo", "arguments": {"message": text}}
    answer = session(url, sid).request("tools/call", arguments, requestId)
    assert "result" in answer, answer
    return str(answer["result"]["content"][0]["text"])


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_sessions_survive_a_restart_on_the_same_state_dir_and_port(
    home: Path, how: signal.Signals
) -> None:
    solo = {"solo": {"command": DEMO[0], "args": DEMO[1:], "mode": "stateful"}}
    with Successive(home, SHARED | solo) as run:
        first = run.start()
        assert first.port == run.port
        sids = {name: openSession(first.url(name)) for name in ("shared", "solo")}
        for name, sid in sids.items():
            assert "before" in echo(first.url(name), sid, "before", 1)
        sessionsFile = home / "state" / "sessions.json"
        # Saved at most a second later (batched), before any stop.
        assert waitFor(
            lambda: sessionsFile.exists() and set(sids.values()) <= set(saved(sessionsFile)),
            timeout=5,
        )
        assert stat.S_IMODE(sessionsFile.stat().st_mode) == 0o600
        stopBy(first, how)

        second = run.start()
        assert second.port == run.port
        for name, sid in sids.items():
            assert "after" in echo(second.url(name), sid, "after", 2), name
        # After a SIGKILL the session's child may be kept by the warden
        # (--adopt-grace, tests/integration/continuity/test_crash_children.py) instead.
        told = ("initialize was replayed", "kept from the previous process with what it holds")
        shown = told if how == signal.SIGKILL else told[:1]
        assert waitFor(lambda: any(text in second.text() for text in shown), timeout=2)


def saved(path: Path) -> list[str]:
    try:
        return [s["id"] for s in json.loads(path.read_text())["sessions"]]
    except (OSError, ValueError, KeyError):
        return []


def test_a_session_opened_just_before_a_sigkill_survives_it(home: Path) -> None:
    """No second of grace: the gateway is killed as soon as its answer to
    initialize arrives (before any batched save), and the next gateway still
    serves the session."""
    with Successive(home, SHARED) as run:
        first = run.start()
        openSession(first.url("shared"))  # the shared child is started: the next is quick
        sessionsFile = home / "state" / "sessions.json"
        assert waitFor(lambda: sessionsFile.exists(), timeout=5)  # the first save came
        sid = openSession(first.url("shared"))
        stopBy(first)
        assert sid not in saved(sessionsFile)  # the batched save had not come yet
        second = run.start()
        assert "after" in echo(second.url("shared"), sid, "after", 2)


def aggregateUrl(gateway: RunningGateway) -> str:
    return f"http://127.0.0.1:{gateway.port}/mcp"


def deleteSession(url: str, sid: str) -> int:
    return session(url, sid).delete().status


def statusOf(url: str, sid: str) -> int:
    """The HTTP status of a C{ping} on session C{sid}."""
    return session(url, sid).send("ping", requestId=9).status


def test_an_aggregate_session_opened_just_before_a_sigkill_survives_it(home: Path) -> None:
    """The aggregate endpoint's sessions are kept the same way: the one
    opened right before the kill is served by the next gateway."""
    with Successive(home, SHARED) as run:
        first = run.start()
        openSession(aggregateUrl(first))  # the catalog is listed: the next is quick
        sessionsFile = home / "state" / "sessions.json"
        assert waitFor(lambda: sessionsFile.exists(), timeout=5)
        sid = openSession(aggregateUrl(first))
        stopBy(first)
        assert sid not in saved(sessionsFile)  # the batched save had not come yet
        second = run.start()
        assert statusOf(aggregateUrl(second), sid) == 200


def test_a_session_deleted_just_before_a_sigkill_stays_ended(home: Path) -> None:
    """A session opened and ended (DELETE) in the second before a kill is
    not brought back by the next gateway: 404, as for any ended session;
    one opened beside it is served."""
    with Successive(home, SHARED) as run:
        first = run.start()
        url = first.url("shared")
        openSession(url)
        sessionsFile = home / "state" / "sessions.json"
        assert waitFor(lambda: sessionsFile.exists(), timeout=5)
        kept, ended = openSession(url), openSession(url)
        assert deleteSession(url, ended) in (200, 202, 204)
        stopBy(first)
        assert not {kept, ended} & set(saved(sessionsFile))  # no batched save came
        second = run.start()
        assert statusOf(second.url("shared"), kept) == 200
        assert statusOf(second.url("shared"), ended) == 404

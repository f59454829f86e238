"""C{mcpgateway start} with another start under way, and its summary once
adoption has settled (8 and 9): a start whose twistd
finds the state directory locked by a gateway that is starting waits for
it and reports it as already running; the summary counts the servers of
the other clients' files, served a moment after the first C{/health}; the
status line of a gateway without a Claude config says what is rewritten;
C{--clients ''} is refused."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.cli.context import CliContext, Timeouts
from mcpgateway.cli.status import configLine
from mcpgateway.ops.statedir import LOCK_FILE
from mcpgateway.runtime.paths import LOG_FILE
from tests.cli.support import HEALTH, Cli, FakeGateway, run, writeState
from tests.support.cli.clients import adopt, cursorFile
from tests.support.cli.start import FakeLauncher
from tests.support.cli.start_routes import healthOf, serversAnswer
from tests.support.cli.started import Start

LOCKED = (
    b"mcpgateway: another gateway is running on state directory /s (pid ?, port ?);"
    b" stop it first (`mcpgateway stop`) or use another --state-dir\n"
)


@pytest.fixture
def otherGateway(locked: None, fakeGateway: FakeGateway) -> FakeGateway:
    """Another gateway, starting: it holds the state directory's lock and
    answers on the fake's port once the test writes its state."""
    return fakeGateway


def stateWriter(stateDir: Path, port: int) -> Callable[[float], None]:
    """A C{sleep} during which the other gateway writes its state."""

    def sleep(seconds: float) -> None:
        writeState(stateDir, os.getpid(), port)

    return sleep


@pytest.fixture(autouse=True)
def _noWarmUp(ctx: CliContext) -> None:
    ctx.warm = lambda folder: None


def test_a_second_start_waits_for_the_gateway_that_is_starting(
    stateDir: Path, otherGateway: FakeGateway, ctx: CliContext, cli: Cli
) -> None:
    """Its twistd is refused (the lock is the other start's gateway's); that
    gateway writes its state.json a moment later and answers /health."""
    ctx.launch = FakeLauncher(
        stateDir, None, code=1, output=LOCKED, log="the other gateway's own line\n"
    )
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            writeState(stateDir, os.getpid(), otherGateway.port)

    ctx.sleep = sleep
    code, out, err = cli("start", "--no-rewrite")
    assert (code, err) == (0, "")
    assert out == f"mcpgateway is already running (pid {os.getpid()}, port {otherGateway.port})\n"
    code, out, _ = cli("start", "--no-rewrite", "--json")
    assert code == 0
    assert json.loads(out) == {
        "ok": True,
        "alreadyRunning": True,
        "pid": os.getpid(),
        "port": otherGateway.port,
    }


def test_a_second_start_on_another_port_is_refused_once_the_other_runs(
    stateDir: Path, otherGateway: FakeGateway, ctx: CliContext, cli: Cli
) -> None:
    ctx.launch = FakeLauncher(stateDir, None, code=1, output=LOCKED)
    ctx.sleep = stateWriter(stateDir, otherGateway.port)
    code, out, err = cli("start", "--no-rewrite", "--port", "1")
    assert (code, out) == (1, "")
    assert err == (
        f"mcpgateway: already running (pid {os.getpid()}, port {otherGateway.port});"
        " `mcpgateway stop` it first to run it on port 1\n"
    )


def test_a_second_start_fails_when_the_other_gateway_does_not_start_either(
    stateDir: Path, ctx: CliContext, cli: Cli
) -> None:
    fd = os.open(stateDir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    released: list[bool] = []

    def sleep(seconds: float) -> None:
        if not released:
            released.append(True)
            os.close(fd)  # the other gateway exits without running

    ctx.launch = FakeLauncher(stateDir, None, code=1, output=LOCKED)
    ctx.sleep = sleep
    try:
        code, _, err = cli("start", "--no-rewrite")
    finally:
        if not released:
            os.close(fd)
    assert code == 1
    assert err.splitlines()[0] == "mcpgateway: the gateway did not start (twistd exit status 1)"


def test_a_second_start_gives_up_at_the_start_timeout(
    stateDir: Path, locked: None, ctx: CliContext, cli: Cli
) -> None:
    ctx.launch = FakeLauncher(stateDir, None, code=1, output=LOCKED)
    ctx.timeouts = Timeouts(start=0.3)
    code, _, err = cli("start", "--no-rewrite")
    assert code == 1 and "another gateway is running" in err


def fsLine() -> dict[str, Any]:
    return dict(HEALTH["servers"]["context7"])


def test_start_reports_once_the_other_clients_servers_are_served(
    stateDir: Path,
    home: Path,
    fakeGateway: FakeGateway,
    ctx: CliContext,
    start: Start,
) -> None:
    """No ~/.claude.json; Cursor's fs is adopted as the gateway listens and
    served once its config is loaded again: the first /health has no server
    (the tester's `0 servers at ...`)."""
    cursorFile(home)
    adopt(home, stateDir)  # what the gateway's adoption leaves in the state directory
    fakeGateway.answers["/health"] = (200, healthOf())
    fakeGateway.answers["/api/v1/servers"] = (200, serversAnswer({"fs": [""]}))

    def sleep(seconds: float) -> None:
        fakeGateway.answers["/health"] = (200, healthOf("fs"))

    ctx.sleep = sleep
    code, out, _ = start().outcome
    assert code == 0
    url = f"http://127.0.0.1:{fakeGateway.port}"
    assert out.splitlines() == [
        f"mcpgateway started (pid {os.getpid()}): 1 server at {url}/<server>/mcp",
        "  adopted: ~/.cursor/mcp.json (Cursor)",
        f"  {url}/fs/mcp",
    ]
    assert fakeGateway.requests.count("/health") >= 2


def test_start_says_which_servers_are_still_being_adopted(
    stateDir: Path,
    home: Path,
    fakeGateway: FakeGateway,
    ctx: CliContext,
    start: Start,
    cli: Cli,
) -> None:
    cursorFile(home)
    adopt(home, stateDir)
    fakeGateway.answers["/health"] = (200, healthOf())
    fakeGateway.answers["/api/v1/servers"] = (200, serversAnswer({}))
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    ctx.clock, ctx.sleep = (lambda: now[0]), sleep
    code, out, _ = start().outcome
    assert code == 0
    assert out.splitlines()[1] == (
        "  still being adopted: fs (`mcpgateway servers list` shows them once served)"
    )
    assert now[0] <= 5.5  # a few seconds at most, not the whole start timeout
    code, out, _ = cli("start", "--port", str(fakeGateway.port), "--json")
    assert code == 0 and "adopting" not in json.loads(out)  # already running: no wait


def test_start_refuses_an_empty_clients_list(
    capsys: pytest.CaptureFixture[str], stateDir: Path, home: Path
) -> None:
    """The gateway read '' as every client, this command as none: refused."""
    for spec in ("", " , "):
        code, out, err = run(capsys, stateDir, "start", "--clients", spec)
        assert (code, out) == (2, "")
        assert err.startswith(f"mcpgateway: --clients {spec!r}: an empty list; use all, none,")
    assert not (stateDir / LOG_FILE).exists()  # nothing started


@pytest.mark.parametrize(
    ("state", "line"),
    [
        ({"config": None, "rewriteConfig": False}, "the bundled demo"),
        (
            {"config": None, "rewriteConfig": True, "clients": "all"},
            "the bundled demo, and every other client's file found"
            " (rewritten to point at the gateway)",
        ),
        (
            {"config": None, "rewriteConfig": True, "clients": "cursor,vscode"},
            "the bundled demo, and the files of cursor, vscode (rewritten to point at the gateway)",
        ),
        (
            {"config": "/h/.claude.json", "rewriteConfig": True, "clients": "none"},
            "/h/.claude.json (rewritten to point at the gateway)",
        ),
        (
            {"config": "/h/.claude.json", "rewriteConfig": True},
            "/h/.claude.json (rewritten to point at the gateway), and every other client's"
            " file found",
        ),
        ({"config": "/h/s.json", "rewriteConfig": False, "clients": "all"}, "/h/s.json"),
    ],
)
def test_status_config_line_says_what_is_rewritten(state: dict[str, Any], line: str) -> None:
    assert configLine(state) == line


def test_a_start_whose_daemon_gave_way_to_another_waits_for_it(
    stateDir: Path, otherGateway: FakeGateway, ctx: CliContext, cli: Cli
) -> None:
    """twistd exited 0 but its daemon is gone (it found the lock taken)
    while another gateway, starting, holds the lock."""
    ctx.launch = FakeLauncher(stateDir, None)
    ctx.sleep = stateWriter(stateDir, otherGateway.port)
    code, out, err = cli("start", "--no-rewrite")
    assert (code, err) == (0, "")
    assert out == f"mcpgateway is already running (pid {os.getpid()}, port {otherGateway.port})\n"

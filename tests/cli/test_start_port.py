"""C{mcpgateway start} on a port another socket holds: one line naming the
port and its holder (C{--json}: one object), found before twistd runs or
read from the gateway's log; and a bridge's start (C{--auto-started}),
which adopts no client's file unless an adoption is still in effect."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mcpgateway.cli.context import CliContext
from mcpgateway.runtime.paths import LOG_FILE, STATE_FILE
from mcpgateway.runtime.portuse import PortInUse, inUseMessage
from tests.cli.support import Cli, FakeGateway, deadPid, writeBackup, writeState
from tests.support.cli.start import FakeLauncher, noLaunch
from tests.support.cli.started import Start

LISTEN_FAILED = (
    "2026-11-25T04:30:02+0000 [mcpgateway.ops.services.ListenerService#critical]"
    " cannot listen on tcp:{port}:interface=127.0.0.1: {why}\n"
)


def gatewayLog(port: int, why: str) -> str:
    """What a gateway that could not listen wrote to its log."""
    return (
        "2026-11-25T04:30:02+0000 [mcpgateway.tap#info] config: 1 stdio server(s)\n"
        + LISTEN_FAILED.format(port=port, why=why)
        + "2026-11-25T04:30:02+0000 [mcpgateway.core.gateway.gateway.GatewayService#info] stopped\n"
    )


def test_a_port_in_use_is_one_line_and_nothing_is_launched(ctx: CliContext, cli: Cli) -> None:
    checked: list[int] = []

    def checkPort(port: int) -> PortInUse | None:
        checked.append(port)
        return PortInUse(port, 4321)

    ctx.checkPort = checkPort
    ctx.launch = noLaunch
    code, out, err = cli("start", "--port", "9101")
    assert (code, out, checked) == (1, "", [9101])
    # Without ~/.claude.json either: the demo is not announced for a start that fails.
    assert (
        err == "mcpgateway: port 9101 is in use (by pid 4321); stop that process,"
        " or pick another port with --port\n"
    )
    code, out, err = cli("start", "--port", "9101", "--json")
    assert (code, err) == (1, "")
    assert json.loads(out) == {
        "ok": False,
        "error": "port 9101 is in use (by pid 4321); stop that process,"
        " or pick another port with --port",
        "port": 9101,
        "pid": 4321,
        "uid": None,
    }
    code, out, err = cli("start", "--foreground")
    assert (code, checked[-1]) == (1, 9100)  # the default port, in the foreground too
    assert (
        err == "mcpgateway: port 9100 is in use (by pid 4321); stop that process,"
        " or pick another port with --port\n"
    )


def test_a_port_whose_holder_is_unknown_is_said_without_a_pid(ctx: CliContext, cli: Cli) -> None:
    ctx.checkPort = lambda port: PortInUse(port, None)
    ctx.launch = noLaunch
    code, _, err = cli("start", "--port", "9101")
    assert (code, err) == (
        1,
        "mcpgateway: port 9101 is in use; stop what holds it, or pick another port with --port\n",
    )


def test_the_port_is_not_checked_while_a_gateway_starts_on_the_state_directory(
    ctx: CliContext,
    start: Start,
) -> None:
    """Its lock is held: the port it holds is its own, and this start
    reports it as running once it answers."""
    checked: list[int] = []
    ctx.checkPort = lambda port: checked.append(port) or PortInUse(port, 1)  # type: ignore[func-returns-value]
    code, out, _ = start().outcome
    assert (code, checked) == (0, [])
    assert out.startswith("mcpgateway started")


@pytest.mark.parametrize("twistdExit", [0, 1])
@pytest.mark.parametrize(
    ("why", "pid"),
    [
        (inUseMessage(9101, 4321), 4321),
        (inUseMessage(9101, None), None),
        ("Couldn't listen on 127.0.0.1:9101: [Errno 98] Address already in use.", None),
    ],
)
def test_a_port_taken_as_the_gateway_starts_is_read_from_its_log(
    stateDir: Path,
    ctx: CliContext,
    twistdExit: int,
    why: str,
    pid: int | None,
    cli: Cli,
) -> None:
    """Free when checked, taken when the gateway listened: what it logged is
    said in the same one line, instead of its log."""
    (stateDir / LOG_FILE).write_text(LISTEN_FAILED.format(port=9101, why="an earlier run's"))
    ctx.warm = lambda folder: None
    ctx.launch = FakeLauncher(stateDir, None, code=twistdExit, log=gatewayLog(9101, why))
    code, out, err = cli("start", "--no-rewrite", "--port", "9101")
    assert (code, out) == (1, "")
    assert err == f"mcpgateway: {inUseMessage(9101, pid)}\n"
    code, out, err = cli("start", "--no-rewrite", "--port", "9101", "--json")
    assert (code, err) == (1, "")
    assert json.loads(out) == {
        "ok": False,
        "error": inUseMessage(9101, pid),
        "port": 9101,
        "pid": pid,
        "uid": None,
    }


def test_another_ports_failure_in_the_log_is_shown_as_before(
    stateDir: Path, ctx: CliContext, cli: Cli
) -> None:
    ctx.warm = lambda folder: None
    ctx.launch = FakeLauncher(stateDir, None, code=1, log=gatewayLog(9555, inUseMessage(9555, 7)))
    code, _, err = cli("start", "--no-rewrite", "--port", "9101")
    assert code == 1
    assert err.splitlines()[0] == "mcpgateway: the gateway did not start (twistd exit status 1)"
    assert "port 9555 is in use (by pid 7)" in err  # among the log's lines


# -- a bridge's start -------------------------------------------------------------------


def autoStart(start: Start, stateDir: Path, *more: str) -> list[str]:
    (stateDir / STATE_FILE).unlink(missing_ok=True)  # none runs yet
    started = start(*more)
    assert started.code == 0 and started.out.startswith("mcpgateway started"), started.out
    return started.argv


def test_a_bridges_start_serves_the_claude_config_without_rewriting_it(
    stateDir: Path,
    home: Path,
    start: Start,
) -> None:
    (home / ".claude.json").write_text('{"mcpServers": {}}')
    assert "--rewrite-config" in autoStart(start, stateDir)
    argv = autoStart(start, stateDir, "--auto-started")
    assert "--rewrite-config" not in argv and "--config" not in argv


@pytest.mark.parametrize(
    "backup", ["config-backup.json", "client-backups/cursor-0123456789abcdef.json"]
)
def test_a_bridges_start_carries_on_an_adoption_left_in_effect(
    stateDir: Path,
    home: Path,
    start: Start,
    backup: str,
) -> None:
    """The user's gateway adopted the files and did not put them back (it
    was killed): they point at the gateway, which must adopt them again
    to serve them."""
    (home / ".claude.json").write_text('{"mcpServers": {}}')
    (stateDir / backup).parent.mkdir(exist_ok=True)
    (stateDir / backup).write_text("{}")
    (stateDir / "config-backup.json.1").write_text("{}")  # a kept copy alone would not count
    assert "--rewrite-config" in autoStart(start, stateDir, "--auto-started")


def test_a_kept_copy_of_a_restored_backup_is_no_adoption_in_effect(
    stateDir: Path,
    home: Path,
    start: Start,
) -> None:
    (home / ".claude.json").write_text('{"mcpServers": {}}')
    (stateDir / "config-backup.json.1").write_text("{}")
    argv = autoStart(start, stateDir, "--auto-started")
    assert "--rewrite-config" not in argv


@pytest.mark.parametrize(
    ("rewriting", "more", "noted"),
    [(False, (), True), (True, (), False), (False, ("--no-rewrite",), False)],
)
def test_a_start_finding_a_gateway_that_adopts_nothing_says_how_to_adopt(
    stateDir: Path,
    running: FakeGateway,
    ctx: CliContext,
    rewriting: bool,
    more: tuple[str, ...],
    noted: bool,
    cli: Cli,
) -> None:
    writeState(stateDir, os.getpid(), running.port, rewriteConfig=rewriting)
    ctx.launch = noLaunch
    code, out, err = cli("start", *more)
    assert code == 0
    assert out == f"mcpgateway is already running (pid {os.getpid()}, port {running.port})\n"
    hint = (
        "mcpgateway: it serves the config as it is, adopting no client's file;"
        " `mcpgateway stop`, then `mcpgateway start`, has them adopted\n"
    )
    assert err == (hint if noted else "")


def test_a_port_another_account_holds_puts_the_adopted_entries_back(
    ctx: CliContext,
    cli: Cli,
    stateDir: Path,
    home: Path,
    fakeClaude: list[tuple[Path, Path]],
) -> None:
    """A gateway that died left its entries pointing at its port, and
    another account listens there now: the start refuses, and first puts
    the entries back, so no client of the user's talks to that account."""
    other = os.geteuid() + 1
    writeState(stateDir, deadPid(), 9100)
    writeBackup(stateDir, home / ".claude.json")
    ctx.checkPort = lambda port: PortInUse(port, None, other)
    ctx.launch = noLaunch
    code, out, err = cli("start")
    assert code == 1
    assert f"port 9100 is held by another account's process (uid {other}" in err
    assert "put back as they were" in err and "restored 2 servers" in out
    assert fakeClaude == [(home / ".claude.json", stateDir)]


def test_a_port_another_account_holds_with_nothing_adopted_changes_nothing(
    ctx: CliContext, cli: Cli, fakeClaude: list[tuple[Path, Path]]
) -> None:
    ctx.checkPort = lambda port: PortInUse(port, None, os.geteuid() + 1)
    ctx.launch = noLaunch
    code, out, err = cli("start", "--json")
    assert (code, fakeClaude) == (1, [])
    assert json.loads(out)["uid"] == os.geteuid() + 1 and err == ""

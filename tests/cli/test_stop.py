"""C{mcpgateway stop}: stopping a gateway (a stand-in process holding the
lock), cleaning up a stale state, and checking the config after."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.cli.context import CliContext, Timeouts
from mcpgateway.ops.statedir import LOCK_FILE, STATE_FILE
from mcpgateway.runtime.paths import LOG_FILE
from tests.cli.support import (
    Cli,
    FakeClaudeConfig,
    claudeJson,
    deadPid,
    writeBackup,
    writeState,
)
from tests.support.cli.stop import GATEWAY_STANDIN, standIn

# -- stop -------------------------------------------------------------------------------


def test_stop_with_a_stale_state_restores_and_removes_it(
    stateDir: Path,
    tmp_path: Path,
    fakeClaude: list[tuple[Path, Path]],
    cli: Cli,
) -> None:
    config = tmp_path / "claude.json"
    state = writeState(stateDir, deadPid(), 9100, config=str(config))
    code, out, _ = cli("stop")
    assert code == 0
    assert fakeClaude == [(config, stateDir)]
    assert not state.exists()
    assert "stale state.json" in out
    assert "restored 2 servers" in out and "search, thinking" in out
    assert "kept as they are: remote" in out


def test_stop_with_a_stale_state_restores_the_default_config(
    stateDir: Path,
    home: Path,
    fakeClaude: list[tuple[Path, Path]],
    cli: Cli,
) -> None:
    writeState(stateDir, deadPid(), 9100)
    code, out, _ = cli("stop", "--json")
    assert code == 0
    assert fakeClaude == [(home / ".claude.json", stateDir)]
    document = json.loads(out)
    assert document["stale"] is True
    assert document["restore"]["restored"] == ["search", "thinking"]


def test_stop_with_a_stale_state_that_did_not_rewrite_skips_restore(
    stateDir: Path,
    fakeClaude: list[tuple[Path, Path]],
    cli: Cli,
) -> None:
    state = writeState(stateDir, deadPid(), 9100, rewriteConfig=False)
    code, _, _ = cli("stop")
    assert code == 0
    assert fakeClaude == []
    assert not state.exists()


def test_stop_keeps_a_stale_state_when_restore_fails(
    stateDir: Path, ctx: CliContext, cli: Cli
) -> None:
    class Failing(FakeClaudeConfig):
        def restore(self) -> Any:
            raise OSError("disk full")

    ctx.claudeConfigClass = lambda: Failing
    state = writeState(stateDir, deadPid(), 9100)
    code, _, err = cli("stop")
    assert code == 1
    assert err.startswith("mcpgateway: cannot restore ") and "disk full" in err
    assert len(err.splitlines()) == 1
    assert state.exists()  # the config path in it is still needed


def test_stop_when_not_running(cli: Cli) -> None:
    code, out, _ = cli("stop")
    assert (code, out) == (0, "mcpgateway is not running\n")


def test_stop_terminates_the_running_gateway(stateDir: Path, cli: Cli) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", GATEWAY_STANDIN, str(stateDir / LOCK_FILE)], stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        state = writeState(stateDir, process.pid, 9100)
        code, out, _ = cli("stop")
        assert (code, out) == (0, f"mcpgateway stopped (pid {process.pid})\n")
        assert process.wait(5) == 0
        assert not state.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_stop_fails_when_entries_still_point_at_the_stopped_gateway(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    """The gateway's restore failed (or a client wrote its copy back): stop
    names the file and the way out, and exits 1."""
    config = home / ".claude.json"
    config.write_text(json.dumps(claudeJson(9100)))
    writeBackup(stateDir, config)
    with standIn(stateDir) as process:
        writeState(stateDir, process.pid, 9100, config=str(config))
        code, out, err = cli("stop")
    assert (code, out) == (1, f"mcpgateway stopped (pid {process.pid})\n")
    assert err == (
        f"mcpgateway: {config} still has 2 entries pointing at the stopped gateway"
        " http://127.0.0.1:9100: a, c (project /work/p); `mcpgateway restore` puts"
        f" the stdio entries back (the log, {stateDir / LOG_FILE}, says why the"
        " gateway did not)\n"
    )


def test_stop_json_names_the_entries_left(stateDir: Path, home: Path, cli: Cli) -> None:
    config = home / ".claude.json"
    config.write_text(json.dumps(claudeJson(9100)))
    with standIn(stateDir) as process:  # and no backup: restore cannot help
        writeState(stateDir, process.pid, 9100, config=str(config))
        code, out, _ = cli("stop", "--json")
    document = json.loads(out)
    assert code == 1
    assert document["ok"] is False and document["stopped"] is True
    assert document["pid"] == process.pid
    assert document["config"] == str(config)
    assert document["viaGateway"] == ["a", "c (project /work/p)"]
    assert "`mcpgateway restore` cannot put them back" in document["error"]
    assert "claude mcp add" in document["error"]


def test_stop_passes_when_the_config_was_restored(stateDir: Path, home: Path, cli: Cli) -> None:
    """Only the config says whether the restore worked: a backup the gateway
    keeps after restoring is not a failure, and stop does not say it is."""
    config = home / ".claude.json"
    config.write_text(json.dumps(claudeJson(1)))  # no entry points at port 9100
    writeBackup(stateDir, config)
    with standIn(stateDir) as process:
        writeState(stateDir, process.pid, 9100, config=str(config))
        code, out, err = cli("stop", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "ok": True,
        "stopped": True,
        "pid": process.pid,
        "config": str(config),
        "viaGateway": [],
    }


def test_stop_fails_when_the_config_cannot_be_read_after(
    stateDir: Path, tmp_path: Path, cli: Cli
) -> None:
    config = tmp_path / "work" / ".mcp.json"
    config.parent.mkdir()
    config.write_text('{"mcpServers": {')
    with standIn(stateDir) as process:
        writeState(stateDir, process.pid, 9100, config=str(config))
        code, _, err = cli("stop")
    assert code == 1
    assert err.startswith(f"mcpgateway: cannot check that {config} was restored: ")
    assert err.endswith(f"fix it, then `mcpgateway restore --config {config}`\n")


def test_stop_of_a_non_adopting_gateway_does_not_check_the_config(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    config = home / ".claude.json"
    config.write_text(json.dumps(claudeJson(9100)))  # the user's own entries
    with standIn(stateDir) as process:
        writeState(stateDir, process.pid, 9100, config=str(config), rewriteConfig=False)
        code, out, err = cli("stop")
    assert (code, out, err) == (0, f"mcpgateway stopped (pid {process.pid})\n", "")


def test_stop_with_a_stale_state_fails_when_the_restore_left_entries(
    stateDir: Path,
    home: Path,
    fakeClaude: list[tuple[Path, Path]],
    cli: Cli,
) -> None:
    config = home / ".claude.json"
    config.write_text(json.dumps(claudeJson(9100)))
    writeState(stateDir, deadPid(), 9100, config=str(config))
    code, out, err = cli("stop")
    assert code == 1
    assert "stale state.json" in out
    assert err.startswith(
        f"mcpgateway: {config} still has 2 entries pointing at the stopped"
        " gateway http://127.0.0.1:9100"
    )
    assert not (stateDir / STATE_FILE).exists()


def test_stop_gives_up_after_the_timeout(stateDir: Path, ctx: CliContext, cli: Cli) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            GATEWAY_STANDIN.replace("sys.exit(0)", "None"),
            str(stateDir / LOCK_FILE),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        writeState(stateDir, process.pid, 9100)
        ctx.timeouts = Timeouts(stop=0.3)
        code, _, err = cli("stop")
        assert code == 1
        assert f"(pid {process.pid}) is still running" in err
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


SLEEPER = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print("ready", flush=True)
time.sleep(60)
"""


def test_stop_during_a_pending_hand_over_stops_the_previous_process_too(
    stateDir: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart's previous process still hands over to the gateway being
    stopped (state.json's handingOver): once the gateway has exited, it is
    stopped too (an older one, not told by the gateway, by SIGTERM), so
    nothing of the gateway is left holding children or the lock."""
    previous = subprocess.Popen([sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE)
    monkeypatch.setattr("mcpgateway.cli.stop.isGatewayProcess", lambda pid: pid == previous.pid)
    try:
        assert previous.stdout is not None and previous.stdout.readline() == b"ready\n"
        with standIn(stateDir) as gateway:
            writeState(
                stateDir, gateway.pid, 9100, handingOver={"from": previous.pid, "within": 50.0}
            )
            code, out, err = cli("stop")
            assert gateway.wait(5) == 0
        assert (code, err) == (0, "")
        assert out == (
            f"mcpgateway stopped (pid {gateway.pid}, and pid {previous.pid}, the previous"
            " process of a restart that was still handing over to it)\n"
        )
        assert previous.wait(5) == 0  # stopped, not left running
        code, out, _ = cli("stop", "--json")
        assert json.loads(out)["stopped"] is False
    finally:
        if previous.poll() is None:
            previous.kill()
        previous.wait()

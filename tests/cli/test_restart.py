"""C{mcpgateway restart}: it signals the running gateway with
SIGUSR2 and waits until C{state.json} names the successor, or the log says
the restart failed, or its time is up. The state directory is probed by a
fake (a scripted sequence), the signal goes to a fake C{os.kill}, time is a
fake clock that moves when the command sleeps."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from mcpgateway.cli.context import CliContext
from mcpgateway.ops.gatewayprobe import GatewayProbe
from mcpgateway.runtime.pathrecord import PathRecord, readRecord
from mcpgateway.runtime.paths import LOG_FILE
from tests.cli.support import run
from tests.support.cli.restart import NEW, OLD, Scene


def runningAs(stateDir: Path, pid: int, port: int = 9100) -> GatewayProbe:
    return GatewayProbe(
        stateDir,
        {"pid": pid, "port": port, "interface": "127.0.0.1"},
        alive=True,
        locked=True,
    )


@pytest.fixture
def scene(stateDir: Path, monkeypatch: pytest.MonkeyPatch) -> Scene:
    s = Scene(stateDir, [runningAs(stateDir, OLD)])
    monkeypatch.setattr("mcpgateway.cli.restart.os.kill", s.kill)
    return s


def test_restart_signals_the_gateway_and_reports_the_successor(
    capsys: pytest.CaptureFixture[str], stateDir: Path, scene: Scene, ctx: CliContext
) -> None:
    scene.probes = [runningAs(stateDir, OLD)] * 3 + [runningAs(stateDir, NEW)]
    code, out, err = run(capsys, stateDir, "restart", ctx=scene.context(ctx))
    assert (code, err) == (0, "")
    assert scene.signals == [(OLD, signal.SIGUSR2)]
    assert out.startswith(f"mcpgateway restarted: pid {OLD} -> {NEW} at http://127.0.0.1:9100")
    assert len(out.splitlines()) == 1
    assert scene.probed == 4  # the first, then until the successor
    assert scene.slept == pytest.approx(0.1)  # polled between probes


def test_restart_in_json_mode(
    capsys: pytest.CaptureFixture[str], stateDir: Path, scene: Scene, ctx: CliContext
) -> None:
    scene.probes = [runningAs(stateDir, OLD), runningAs(stateDir, NEW, port=9200)]
    code, out, _ = run(capsys, stateDir, "restart", "--json", ctx=scene.context(ctx))
    assert code == 0
    document = json.loads(out)
    assert document["ok"] is True and document["restarted"] is True
    assert (document["pid"], document["previousPid"]) == (NEW, OLD)
    assert document["url"] == "http://127.0.0.1:9200"


def test_a_successor_not_yet_holding_the_lock_is_not_taken_for_done(
    capsys: pytest.CaptureFixture[str], stateDir: Path, scene: Scene, ctx: CliContext
) -> None:
    """state.json may name a pid that is not (yet) a running gateway."""
    notRunning = GatewayProbe(stateDir, {"pid": NEW, "port": 9100}, alive=False)
    scene.probes = [runningAs(stateDir, OLD), notRunning, runningAs(stateDir, NEW)]
    code, out, _ = run(capsys, stateDir, "restart", ctx=scene.context(ctx))
    assert code == 0 and f"-> {NEW}" in out
    assert scene.probed == 3


@pytest.mark.parametrize(
    "probe",
    [
        lambda stateDir: GatewayProbe(stateDir),
        lambda stateDir: GatewayProbe(stateDir, {"pid": OLD, "port": 9100}, alive=False),
    ],
    ids=["no state", "stale state"],
)
def test_restart_when_not_running_names_start(
    probe: Callable[[Path], GatewayProbe],
    capsys: pytest.CaptureFixture[str],
    stateDir: Path,
    scene: Scene,
    ctx: CliContext,
) -> None:
    scene.probes = [probe(stateDir)]
    code, out, err = run(capsys, stateDir, "restart", ctx=scene.context(ctx))
    assert (code, out) == (1, "")
    assert err.startswith("mcpgateway: the gateway is not running")
    assert "`mcpgateway start`" in err and len(err.splitlines()) == 1
    assert scene.signals == []


def test_restart_when_not_running_in_json_mode(
    capsys: pytest.CaptureFixture[str], stateDir: Path, scene: Scene, ctx: CliContext
) -> None:
    scene.probes = [GatewayProbe(stateDir)]
    code, out, _ = run(capsys, stateDir, "restart", "--json", ctx=scene.context(ctx))
    assert code == 1
    document = json.loads(out)
    assert document["ok"] is False and "`mcpgateway start`" in document["error"]


def test_a_gateway_that_exited_before_the_signal_names_start(
    capsys: pytest.CaptureFixture[str], stateDir: Path, scene: Scene, ctx: CliContext
) -> None:
    scene.killError = ProcessLookupError()
    code, _, err = run(capsys, stateDir, "restart", ctx=scene.context(ctx))
    assert code == 1
    assert f"pid {OLD}" in err and "exited meanwhile" in err and "`mcpgateway start`" in err


def test_a_gateway_that_cannot_be_signalled_is_one_line(
    capsys: pytest.CaptureFixture[str], stateDir: Path, scene: Scene, ctx: CliContext
) -> None:
    scene.killError = PermissionError(1, "Operation not permitted")
    code, _, err = run(capsys, stateDir, "restart", ctx=scene.context(ctx))
    assert code == 1
    assert err == f"mcpgateway: cannot signal pid {OLD}: Operation not permitted\n"


FAILED_LINE = (
    "2026-01-02T03:04:05+0000 [mcpgateway.ops.handover.Predecessor#error] restart failed:"
    " the successor did not take over (its twistd exited with status 1): mcpgateway: another"
    " gateway is running; this process goes on serving"
)


def test_a_failure_logged_after_the_signal_is_the_error(
    capsys: pytest.CaptureFixture[str], stateDir: Path, scene: Scene, ctx: CliContext
) -> None:
    log = stateDir / LOG_FILE
    log.write_text("2026-01-01T00:00:00+0000 [x#info] listening\n")

    def failing() -> None:
        with log.open("a") as f:
            f.write(FAILED_LINE + "\n")

    scene.onSignal = failing
    code, out, err = run(capsys, stateDir, "restart", ctx=scene.context(ctx, timeout=60.0))
    assert (code, out) == (1, "")
    assert err == (
        "mcpgateway: the gateway did not restart: "
        + FAILED_LINE[FAILED_LINE.index("restart failed") :]
        + "\n"
    )
    assert scene.slept < 1.0  # told at once, not after the timeout


def test_a_failure_logged_before_the_signal_is_not_this_restarts(
    capsys: pytest.CaptureFixture[str], stateDir: Path, scene: Scene, ctx: CliContext
) -> None:
    (stateDir / LOG_FILE).write_text(FAILED_LINE + "\n")  # an earlier restart's
    scene.probes = [runningAs(stateDir, OLD)] * 2 + [runningAs(stateDir, NEW)]
    code, out, _ = run(capsys, stateDir, "restart", ctx=scene.context(ctx))
    assert code == 0 and f"-> {NEW}" in out


def test_a_failure_in_a_log_rotated_meanwhile_is_found(
    capsys: pytest.CaptureFixture[str], stateDir: Path, scene: Scene, ctx: CliContext
) -> None:
    log = stateDir / LOG_FILE
    log.write_text("x" * 10_000 + "\n")

    def rotated() -> None:
        log.rename(log.with_name(LOG_FILE + ".1"))
        log.write_text(FAILED_LINE + "\n")

    scene.onSignal = rotated
    code, _, err = run(capsys, stateDir, "restart", ctx=scene.context(ctx))
    assert code == 1 and "the gateway did not restart: restart failed" in err


def test_no_successor_in_time_names_the_log(
    capsys: pytest.CaptureFixture[str], stateDir: Path, scene: Scene, ctx: CliContext
) -> None:
    code, out, err = run(capsys, stateDir, "restart", ctx=scene.context(ctx, timeout=2.0))
    assert (code, out) == (1, "")
    assert err == (
        f"mcpgateway: no successor of the gateway (pid {OLD}) listened within 2 s;"
        f" see {stateDir / LOG_FILE}\n"
    )
    assert 2.0 <= scene.slept < 2.2
    assert scene.signals == [(OLD, signal.SIGUSR2)]  # signalled once


def test_restart_is_listed_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    from mcpgateway.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    assert "restart" in capsys.readouterr().out


def test_restart_has_only_the_common_options(
    capsys: pytest.CaptureFixture[str], stateDir: Path, scene: Scene, ctx: CliContext
) -> None:
    code, _, err = run(capsys, stateDir, "restart", "--now", ctx=scene.context(ctx))
    assert code == 2 and "--now" in err
    assert scene.signals == []


def test_restart_records_its_path_before_it_signals_for_the_successor_to_use(
    capsys: pytest.CaptureFixture[str],
    stateDir: Path,
    scene: Scene,
    ctx: CliContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/home/u/.local/bin:/usr/bin:/bin")
    recorded: list[PathRecord | None] = []
    kill = scene.kill

    def killed(pid: int, signum: int) -> None:  # what the gateway reads at the signal
        recorded.append(readRecord(stateDir))
        kill(pid, signum)

    monkeypatch.setattr("mcpgateway.cli.restart.os.kill", killed)
    scene.probes = [runningAs(stateDir, OLD), runningAs(stateDir, NEW)]
    code, _, err = run(capsys, stateDir, "restart", ctx=scene.context(ctx))
    assert (code, err) == (0, "")
    [record] = recorded
    assert record is not None and record.path == "/home/u/.local/bin:/usr/bin:/bin"
    assert record.by == "restart" and record.at is not None  # `status` names it


def pendingAs(stateDir: Path, pid: int, previous: int, within: float) -> GatewayProbe:
    """A gateway a restart started whose previous process still hands over."""
    state = {"pid": pid, "port": 9100, "interface": "127.0.0.1"}
    state["handingOver"] = {"from": previous, "within": within}
    return GatewayProbe(stateDir, state, alive=True, locked=True)


def test_a_restart_while_the_previous_one_still_hands_over_says_so_and_waits_for_it(
    capsys: pytest.CaptureFixture[str], stateDir: Path, scene: Scene, ctx: CliContext
) -> None:
    """The gateway restarts once its previous process has handed over and
    stopped (up to its --restart-timeout and drain): the command waits that
    much longer, and says why."""
    later = runningAs(stateDir, 6464)
    scene.probes = [pendingAs(stateDir, NEW, OLD, 50.0)] * 700 + [later]
    code, out, err = run(capsys, stateDir, "restart", ctx=scene.context(ctx, timeout=15.0))
    assert code == 0, err
    assert scene.signals == [(NEW, signal.SIGUSR2)]
    assert err == (
        f"mcpgateway: the previous restart is still handing over (pid {OLD} -> {NEW}): this"
        f" restart follows once pid {OLD} has handed its children over and stopped (within"
        " 65 s)\n"
    )
    assert out.startswith(f"mcpgateway restarted: pid {NEW} -> 6464 at http://127.0.0.1:9100")
    assert f"after pid {OLD} had handed over" in out
    assert scene.slept > 15.0  # longer than a restart alone may take


def test_a_deferred_restart_that_does_not_come_names_the_previous_process(
    capsys: pytest.CaptureFixture[str], stateDir: Path, scene: Scene, ctx: CliContext
) -> None:
    scene.probes = [pendingAs(stateDir, NEW, OLD, 3.0)]
    code, _, err = run(capsys, stateDir, "restart", ctx=scene.context(ctx, timeout=2.0))
    assert code == 1
    assert f"listened within 5 s (it restarts once pid {OLD}" in err.splitlines()[-1]
    assert 5.0 <= scene.slept < 5.2

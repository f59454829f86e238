"""C{mcpgateway start}: launching twistd (a fake launcher in the context),
waiting for C{/health}, and what a failed start shows."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.cli import main
from mcpgateway.cli.context import CliContext, Timeouts
from mcpgateway.cli.logfile import logPosition, tail
from mcpgateway.cli.main import makeParser
from mcpgateway.cli.start import TWISTD_LOGGER, gatewayArgv, trustArgv
from mcpgateway.runtime import interpreter
from mcpgateway.runtime.ownertoken import loadOwnerToken, readOwnerToken
from mcpgateway.runtime.paths import LOG_FILE, PID_FILE
from tests.cli.support import Cli, FakeGateway, deadPid, freePort, writeState
from tests.support.cli.start import FakeLauncher, noLaunch
from tests.support.cli.started import Start

# -- start ------------------------------------------------------------------------------


def test_start_when_already_running_on_that_port(
    running: FakeGateway, ctx: CliContext, cli: Cli
) -> None:
    ctx.launch = noLaunch
    code, out, _ = cli("start", "--port", str(running.port))
    assert code == 0
    assert out == f"mcpgateway is already running (pid {os.getpid()}, port {running.port})\n"
    code, out, _ = cli("start")  # no --port: whatever port it has
    assert code == 0


def test_start_says_a_bad_argument_also_when_a_gateway_already_runs(
    running: FakeGateway, ctx: CliContext, cli: Cli
) -> None:
    """The arguments are checked before the running gateway is reported: a
    mistake is not hidden behind 'already running' (exit 0)."""
    ctx.launch = noLaunch
    code, out, err = cli("start", "--clients", "")
    assert (code, out) == (2, "") and "none" in err
    code, out, err = cli("start", "--config", "/nonexistent.json")
    assert (code, out) == (1, "") and "no such file" in err


def test_start_refuses_a_second_gateway_on_another_port(
    running: FakeGateway, ctx: CliContext, cli: Cli
) -> None:
    ctx.launch = noLaunch
    code, out, err = cli("start", "--port", "1")
    assert (code, out) == (1, "")
    assert "already running" in err and "mcpgateway stop" in err


def test_gateway_argv(tmp_path: Path) -> None:
    argv = gatewayArgv(tmp_path, 9200, tmp_path / "c.json", foreground=False, rewrite=True)
    assert argv == [
        sys.executable,
        *interpreter.FLAGS,
        "-m",
        "mcpgateway.launch",
        "--pidfile",
        str(tmp_path / "twistd.pid"),
        "--logger",
        "mcpgateway.runtime.logs.discarding",
        "mcpgateway",
        "--port",
        "9200",
        "--state-dir",
        str(tmp_path),
        "--log-file",
        str(tmp_path / "gateway.log"),
        "--rewrite-config",
        "--config",
        str(tmp_path / "c.json"),
    ]
    foreground = gatewayArgv(tmp_path, 9100, None, foreground=True, rewrite=False)
    assert foreground[foreground.index("mcpgateway") - 1] == "-n"
    assert foreground[foreground.index("--logfile") + 1] == "-"
    assert "--rewrite-config" not in foreground and "--config" not in foreground


def test_start_keeps_the_bytecode_in_the_state_directory_where_the_library_lacks_it(
    stateDir: Path, home: Path, locked: None, fakeGateway: FakeGateway, ctx: CliContext, cli: Cli
) -> None:
    """A system Python whose standard library has no -OO bytecode (Debian's):
    the warm-up and the gateway both keep theirs in the state directory's
    private folder, so the gateway compiles nothing at its starts."""
    launcher = FakeLauncher(stateDir, fakeGateway)
    ctx.launch = launcher
    asked: list[str] = []

    def folder(given: str) -> str:
        asked.append(given)
        return f"{given}/bytecode"

    warmed: list[str | None] = []
    ctx.bytecodeFolder = folder
    ctx.warm = warmed.append
    code, _, err = cli("start", "--port", str(fakeGateway.port), "--no-rewrite")
    assert code == 0, err
    assert asked == [str(stateDir)] and warmed == [f"{stateDir}/bytecode"]
    flags = [*interpreter.FLAGS, "-X", f"pycache_prefix={stateDir}/bytecode"]
    assert launcher.argv[1 : 1 + len(flags) + 2] == [*flags, "-m", "mcpgateway.launch"]


def test_the_trust_options_reach_the_gateway(tmp_path: Path) -> None:
    """C{start --pins enforce --quarantine-new --self-service
    --owner-accepts-root} runs the gateway with them (and a plain C{start}
    with none of them)."""
    parser = makeParser()
    given = parser.parse_args(
        ["start", "--pins", "enforce", "--quarantine-new", "--self-service", "--owner-accepts-root"]
    )
    argv = gatewayArgv(tmp_path, 9200, None, False, False, trust=trustArgv(given))
    assert argv[-5:] == [
        "--pins",
        "enforce",
        "--quarantine-new",
        "--self-service",
        "--owner-accepts-root",
    ]
    assert argv.index("--pins") > argv.index("mcpgateway")
    assert trustArgv(parser.parse_args(["start"])) == []


def test_start_launches_twistd_and_waits_for_health(
    stateDir: Path,
    home: Path,
    locked: None,
    fakeGateway: FakeGateway,
    ctx: CliContext,
    cli: Cli,
) -> None:
    (home / ".claude.json").write_text('{"mcpServers": {}}')
    launcher = FakeLauncher(stateDir, fakeGateway)
    ctx.launch = launcher
    warmed: list[tuple[str | None, bool]] = []
    ctx.warm = lambda folder: warmed.append((folder, launcher.argv == []))
    code, out, _ = cli("start", "--port", str(fakeGateway.port))
    assert code == 0
    assert warmed == [(None, True)]  # the -OO bytecode is written before twistd runs
    assert "pycache_prefix" not in " ".join(launcher.argv)
    assert "--rewrite-config" in launcher.argv
    assert launcher.argv[launcher.argv.index("--port") + 1] == str(fakeGateway.port)
    assert out.splitlines()[0] == (
        f"mcpgateway started (pid {os.getpid()}): 3 servers at"
        f" http://127.0.0.1:{fakeGateway.port}/<server>/mcp"
    )
    assert "/health" in fakeGateway.requests


class MakingToken(FakeLauncher):
    """Plays twistd as the real one starts: it makes the owner token first."""

    def communicate(self, timeout: float | None = None) -> tuple[bytes, None]:
        loadOwnerToken(self.stateDir)
        return super().communicate(timeout)


def test_start_waits_for_health_with_the_owner_token_the_gateway_made(
    start: Start, stateDir: Path, fakeGateway: FakeGateway
) -> None:
    """Where the gateway cannot name a connection's account, its door
    answers only the requests that carry the owner token: start's own wait
    for /health among them."""
    assert start(launcher=MakingToken).code == 0
    token = readOwnerToken(stateDir)
    health = [headers for _, path, headers, _ in fakeGateway.calls if path == "/health"]
    assert health and all(headers.get("mcp-gateway-owner") == token for headers in health)


@pytest.mark.parametrize("mode", [0o700, 0o755])
def test_start_warns_of_a_state_directory_other_users_can_enter(
    stateDir: Path, start: Start, mode: int
) -> None:
    """The gateway warns of it in gateway.log only; start
    says it on stderr, with the chmod that fixes it, and starts all the same."""
    stateDir.chmod(mode)
    started = start()
    code, out, err = started.code, started.out, started.err
    assert code == 0 and out.startswith("mcpgateway started")
    warning = (
        f"mcpgateway: warning: state directory {stateDir} is mode 0755: other users can"
        f" enter it; it holds sessions, logs and the workspace key: run chmod 700 {stateDir}\n"
    )
    assert (warning in err) == (mode == 0o755)
    assert "chmod" not in err if mode == 0o700 else err.count("chmod 700") == 1


def test_start_without_a_claude_config_adopts_one_written_later(start: Start) -> None:
    started = start("--json")
    code, out, err = started.outcome
    assert code == 0
    # Nothing to rewrite yet; adoption is on, so a client's file written
    # later is adopted by the running gateway.
    assert "--rewrite-config" in started.argv
    assert "bundled demo" in err and "written later is adopted" in err
    document = json.loads(out)
    assert document["ok"] is True and document["pid"] == os.getpid()
    assert document["servers"] == ["context7", "serena", "tavily"]


def test_start_failure_shows_the_output_and_the_log(
    stateDir: Path, ctx: CliContext, cli: Cli
) -> None:
    ctx.launch = FakeLauncher(
        stateDir,
        None,
        code=1,
        output=b"mcpgateway: bad config\n",
        log="".join(f"log line {i}\n" for i in range(30)),
    )
    code, out, err = cli("start", "--no-rewrite")
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines[0] == "mcpgateway: the gateway did not start (twistd exit status 1)"
    assert "  mcpgateway: bad config" in lines
    assert f"last lines of {stateDir / LOG_FILE} from this start:" in lines
    assert "  log line 29" in lines and "  log line 10" in lines
    assert "  log line 9" not in lines  # the last 20 lines only


def test_start_failure_shows_only_this_runs_log_lines(
    stateDir: Path, ctx: CliContext, cli: Cli
) -> None:
    (stateDir / LOG_FILE).write_text("".join(f"earlier run {i}\n" for i in range(30)))
    ctx.launch = FakeLauncher(stateDir, None, code=1, log="this run: cannot listen on port 9100\n")
    code, out, err = cli("start", "--no-rewrite")
    assert code == 1
    assert "earlier run" not in err
    assert err.splitlines()[-2:] == [
        f"last lines of {stateDir / LOG_FILE} from this start:",
        "  this run: cannot listen on port 9100",
    ]
    code, out, _ = cli("start", "--no-rewrite", "--json")
    assert json.loads(out)["log"] == ["this run: cannot listen on port 9100"]


def test_start_failure_prints_no_log_lines_when_this_run_wrote_none(
    stateDir: Path, ctx: CliContext, cli: Cli
) -> None:
    (stateDir / LOG_FILE).write_text("earlier run\n")
    ctx.launch = FakeLauncher(stateDir, None, code=1, output=b"boom\n")
    code, _, err = cli("start", "--no-rewrite")
    assert code == 1
    assert err.splitlines() == [
        "mcpgateway: the gateway did not start (twistd exit status 1)",
        "twistd said:",
        "  boom",
    ]


def test_tail_since_a_position(tmp_path: Path) -> None:
    log = tmp_path / "gateway.log"
    assert logPosition(log) is None
    log.write_text("old 1\nold 2\n")
    position = logPosition(log)
    with open(log, "a") as f:
        f.write("new 1\nnew 2\n")
    assert tail(log, since=position) == ["new 1", "new 2"]
    assert tail(log, 1, since=position) == ["new 2"]
    assert tail(log) == ["old 1", "old 2", "new 1", "new 2"]
    log.rename(tmp_path / "gateway.log.1")  # rotated: a new file, all of it this run's
    log.write_text("after rotation\n")
    assert tail(log, since=position) == ["after rotation"]


def test_start_fails_when_the_daemon_dies(stateDir: Path, ctx: CliContext, cli: Cli) -> None:
    (stateDir / PID_FILE).write_text(str(deadPid()))
    ctx.launch = FakeLauncher(stateDir, None)
    code, _, err = cli("start", "--port", str(freePort()))
    assert code == 1
    assert "exited while starting" in err


def test_start_times_out_when_health_never_answers(
    stateDir: Path, locked: None, ctx: CliContext, cli: Cli
) -> None:
    port = freePort()

    class Launcher(FakeLauncher):
        def communicate(self, timeout: float | None = None) -> tuple[bytes, None]:
            self.returncode = 0
            writeState(stateDir, os.getpid(), port)
            return b"", None

    ctx.launch = Launcher(stateDir, None)
    ctx.timeouts = Timeouts(start=0.5)
    code, _, err = cli("start", "--port", str(port))
    assert code == 1
    assert f"did not answer http://127.0.0.1:{port}/health within" in err


@pytest.mark.parametrize(
    ("exit", "code"),
    [(-signal.SIGTERM, 0), (-signal.SIGINT, 0), (-signal.SIGKILL, 137), (1, 1), (0, 0)],
)
def test_start_foreground_runs_twistd_in_this_terminal(
    capsys: pytest.CaptureFixture[str], stateDir: Path, ctx: CliContext, exit: int, code: int
) -> None:
    launched: list[tuple[list[str], dict[str, Any]]] = []

    class Process(FakeLauncher):
        def wait(self, timeout: float | None = None) -> int:
            return exit

    def launch(argv: list[str], **kwargs: Any) -> Process:
        launched.append((argv, kwargs))
        return Process(stateDir, None)

    ctx.launch = launch
    assert (
        main(["start", "--foreground", "--no-rewrite", "--state-dir", str(stateDir)], ctx) == code
    )
    [(argv, kwargs)] = launched
    assert not {"stdin", "stdout", "stderr"} & set(kwargs)  # stdio inherited
    assert argv[argv.index("mcpgateway") - 1] == "-n"
    assert argv[argv.index("--logfile") + 1] == "-"
    assert "running in the foreground" in capsys.readouterr().err


def test_start_refuses_a_missing_config(ctx: CliContext, cli: Cli) -> None:
    ctx.launch = noLaunch
    code, _, err = cli("start", "--config", "/nonexistent.json")
    assert code == 1
    assert err == "mcpgateway: --config /nonexistent.json: no such file\n"


def test_start_rejects_port_0(capsys: pytest.CaptureFixture[str], stateDir: Path) -> None:
    assert main(["start", "--port", "0", "--state-dir", str(stateDir)]) == 2
    assert capsys.readouterr().err == (
        "mcpgateway start: argument --port: 0 is not a port (1-65535)\n"
        "`mcpgateway start --help` lists the options\n"
    )


# -- start: a config the gateway will not rewrite -----------------------------------------


def test_start_refuses_a_config_outside_home_and_says_how_to_serve_it(
    tmp_path: Path, ctx: CliContext, cli: Cli
) -> None:
    outside = tmp_path / "team" / "servers.json"
    outside.parent.mkdir()
    outside.write_text('{"mcpServers": {}}')
    ctx.launch = noLaunch
    code, out, err = cli("start", "--config", str(outside))
    assert (code, out) == (1, "")
    assert len(err.splitlines()) == 1
    assert "is outside the home directory" in err
    assert f"add --no-rewrite (`mcpgateway start --no-rewrite --config {outside}`" in err
    code, out, _ = cli("start", "--config", str(outside), "--json")
    assert code == 1 and "--no-rewrite" in json.loads(out)["error"]


def test_start_refuses_a_symlink_in_home_to_a_file_outside(
    home: Path, tmp_path: Path, ctx: CliContext, cli: Cli
) -> None:
    real = tmp_path / "dotfiles" / ".claude.json"
    real.parent.mkdir()
    real.write_text('{"mcpServers": {}}')
    (home / ".claude.json").symlink_to(real)
    ctx.launch = noLaunch
    code, _, err = cli("start")  # the default config
    assert code == 1
    assert f"(resolved: {real})" in err
    assert "add --no-rewrite (`mcpgateway start --no-rewrite`" in err


def test_start_no_rewrite_serves_a_config_outside_home(tmp_path: Path, start: Start) -> None:
    outside = tmp_path / "servers.json"
    outside.write_text('{"mcpServers": {}}')
    started = start("--no-rewrite", "--config", str(outside))
    code, _, err = started.outcome
    assert (code, err) == (0, "")
    assert "--rewrite-config" not in started.argv
    assert started.argv[started.argv.index("--config") + 1] == str(outside)


def test_detached_twistd_never_logs_to_dev_null(tmp_path: Path) -> None:
    """twistd's log file rotates past 1 MB by renaming it: given /dev/null,
    as root, it replaced the system's /dev/null with a regular file. The
    detached gateway's twistd gets an observer that drops events instead
    (the gateway writes gateway.log itself), and twistd's own parser takes it."""
    from twisted.logger import ILogObserver
    from twisted.scripts._twistd_unix import ServerOptions

    from mcpgateway.runtime import logs

    argv = gatewayArgv(tmp_path, 9200, None, foreground=False, rewrite=False)
    assert "/dev/null" not in argv and "--logfile" not in argv
    options = ServerOptions()
    options.parseOptions(argv[argv.index("mcpgateway.launch") + 1 : argv.index("mcpgateway")])
    observer = options["logger"]()
    assert ILogObserver.providedBy(observer)
    assert options["logger"] is logs.discarding and TWISTD_LOGGER == logs.DISCARD
    observer({"log_format": "dropped", "log_level": None})

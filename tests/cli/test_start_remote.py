"""C{mcpgateway start --remote {keep,adopt}}: passed on to the gateway with
the rewrite; a bad value, or C{adopt} with C{--no-rewrite}, is refused
before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.start import gatewayArgv
from tests.cli.support import Cli, run
from tests.support.cli.start import FakeLauncher
from tests.support.cli.started import Start


def test_gateway_argv_passes_remote_with_the_rewrite(tmp_path: Path) -> None:
    argv = gatewayArgv(tmp_path, 9100, None, False, True, remote="adopt")
    assert argv[argv.index("--remote") + 1] == "adopt"
    assert "--remote" not in gatewayArgv(tmp_path, 9100, None, False, True)
    assert "--remote" not in gatewayArgv(tmp_path, 9100, None, False, False, remote="adopt")


def test_start_remote_adopt(home: Path, start: Start) -> None:
    (home / ".claude.json").write_text('{"mcpServers": {}}')
    started = start("--remote", "adopt")
    assert started.code == 0
    assert started.argv[started.argv.index("--remote") + 1] == "adopt"


def test_start_refuses_adopt_without_rewrite(
    stateDir: Path, locked: None, ctx: CliContext, cli: Cli
) -> None:
    ctx.launch = FakeLauncher(stateDir, None)
    code, out, err = cli("start", "--remote", "adopt", "--no-rewrite")
    assert code != 0 and out == ""
    assert "--remote adopt and --no-rewrite" in err
    assert ctx.launch.argv == []


def test_start_refuses_a_bad_value(capsys: pytest.CaptureFixture[str], stateDir: Path) -> None:
    code, _, err = run(capsys, stateDir, "start", "--remote", "always")
    assert code == 2
    assert "invalid choice: 'always'" in err

"""C{mcpgateway start --log-level LEVEL}: the gateway's own C{--log-level}
words, passed on to the gateway it starts (detached or in the foreground);
without it the gateway's default (info); a word the gateway would refuse is
refused before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.start import LOG_LEVELS, gatewayArgv
from mcpgateway.runtime import logs
from tests.cli.support import Cli
from tests.support.cli.start import FakeLauncher
from tests.support.cli.started import Start


def test_the_words_are_the_gateways() -> None:
    assert LOG_LEVELS == logs.LEVELS


def test_gateway_argv_passes_the_level_to_the_gateway(tmp_path: Path) -> None:
    argv = gatewayArgv(tmp_path, 9100, None, False, False, logLevel="debug")
    assert argv[argv.index("--log-level") + 1] == "debug"
    assert argv.index("--log-level") > argv.index("mcpgateway")  # the gateway's, not twistd's
    assert "--log-level" not in gatewayArgv(tmp_path, 9100, None, False, False)


@pytest.mark.parametrize("foreground", [False, True])
def test_start_log_level_reaches_the_gateway(
    home: Path, ctx: CliContext, start: Start, foreground: bool
) -> None:
    (home / ".claude.json").write_text('{"mcpServers": {}}')
    ctx.terminalForeground = lambda: True
    started = start("--log-level", "warn", *(["--foreground"] if foreground else []))
    assert started.code == 0, started.err
    assert started.gateway[started.gateway.index("--log-level") + 1] == "warn"
    # the gateway takes the command line start gives it
    assert started.options()["log-level"] == "warn"


def test_start_without_it_leaves_the_gateways_default(start: Start) -> None:
    started = start()
    assert started.code == 0 and "--log-level" not in started.argv


def test_start_refuses_a_word_the_gateway_does_not_know(
    stateDir: Path, ctx: CliContext, cli: Cli
) -> None:
    ctx.launch = FakeLauncher(stateDir, None)
    code, out, err = cli("start", "--log-level", "verbose")
    assert (code, out) == (2, "")
    assert "invalid choice: 'verbose'" in err and "debug" in err
    assert ctx.launch.argv == []

# -*- test-case-name: tests.cli.test_start_sandbox -*-
"""C{mcpgateway start --sandbox auto|off|bubblewrap|landlock}: the
gateway's own C{--sandbox}, passed on to the gateway it starts (detached
or in the foreground); without it the gateway decides (its default, or
C{$MCPGATEWAY_SANDBOX}, which it inherits); a word the gateway would
refuse is refused before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.start import gatewayArgv
from mcpgateway.sandbox import confine
from mcpgateway.startup.sandboxing import MODES as SANDBOX_MODES
from tests.cli.support import Cli
from tests.support.cli.start import FakeLauncher
from tests.support.cli.started import Start


def test_the_words_are_the_sandboxs() -> None:
    assert SANDBOX_MODES == confine.MODES


def test_gateway_argv_passes_the_mode_to_the_gateway(tmp_path: Path) -> None:
    argv = gatewayArgv(tmp_path, 9100, None, False, False, sandbox="off")
    assert argv[argv.index("--sandbox") + 1] == "off"
    assert argv.index("--sandbox") > argv.index("mcpgateway")  # the gateway's, not twistd's
    assert "--sandbox" not in gatewayArgv(tmp_path, 9100, None, False, False)


@pytest.mark.parametrize("foreground", [False, True])
@pytest.mark.parametrize("mode", ["auto", "off", "bubblewrap", "landlock"])
def test_start_sandbox_reaches_the_gateway(
    monkeypatch: pytest.MonkeyPatch,
    home: Path,
    ctx: CliContext,
    start: Start,
    foreground: bool,
    mode: str,
) -> None:
    monkeypatch.delenv("MCPGATEWAY_SANDBOX", raising=False)
    (home / ".claude.json").write_text('{"mcpServers": {}}')
    ctx.terminalForeground = lambda: True
    started = start("--sandbox", mode, *(["--foreground"] if foreground else []))
    assert started.code == 0, started.err
    assert started.gateway[started.gateway.index("--sandbox") + 1] == mode
    # the gateway takes the command line start gives it
    assert started.options()["sandbox"] == mode


def test_start_without_it_leaves_the_gateways_default(start: Start) -> None:
    started = start()
    assert started.code == 0 and "--sandbox" not in started.argv


def test_start_refuses_a_word_the_gateway_does_not_know(
    stateDir: Path, ctx: CliContext, cli: Cli
) -> None:
    ctx.launch = FakeLauncher(stateDir, None)
    code, out, err = cli("start", "--sandbox", "on")
    assert (code, out) == (2, "")
    assert "invalid choice: 'on'" in err and "auto" in err
    assert ctx.launch.argv == []

"""The checks of a C{mcpgateway start} option that is the gateway's own
(C{--log-level}, C{--sandbox}): C{start} passes it on after C{mcpgateway}
in twistd's command line, detached or in the foreground, leaves it out
when not given, and refuses a word the gateway would refuse before
anything starts."""

from __future__ import annotations

from pathlib import Path

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.start import gatewayArgv
from tests.cli.support import Cli
from tests.support.cli.start import FakeLauncher
from tests.support.cli.started import Start


def assertArgvPasses(tmp_path: Path, option: str, value: str, keyword: str) -> None:
    """L{gatewayArgv} given C{keyword=value} passes C{option value} to the
    gateway (not to twistd), and leaves C{option} out without it."""
    argv = gatewayArgv(tmp_path, 9100, None, False, False, **{keyword: value})  # type: ignore[arg-type]
    assert argv[argv.index(option) + 1] == value
    assert argv.index(option) > argv.index("mcpgateway")  # the gateway's, not twistd's
    assert option not in gatewayArgv(tmp_path, 9100, None, False, False)


def assertStartPasses(
    home: Path, ctx: CliContext, start: Start, option: str, value: str, foreground: bool
) -> None:
    """C{start option value} (in the foreground, if C{foreground}) starts
    the gateway with C{option value}, which the gateway's own parser takes."""
    (home / ".claude.json").write_text('{"mcpServers": {}}')
    ctx.terminalForeground = lambda: True
    started = start(option, value, *(["--foreground"] if foreground else []))
    assert started.code == 0, started.err
    assert started.gateway[started.gateway.index(option) + 1] == value
    # the gateway takes the command line start gives it
    assert started.options()[option.removeprefix("--")] == value


def assertStartLeavesOut(start: Start, option: str) -> None:
    """C{start} without C{option} starts the gateway without it."""
    started = start()
    assert started.code == 0 and option not in started.argv


def assertStartRefuses(
    stateDir: Path, ctx: CliContext, cli: Cli, option: str, word: str, known: str
) -> None:
    """C{start option word} is a usage error naming C{word} and the known
    word C{known}, and launches nothing."""
    ctx.launch = launcher = FakeLauncher(stateDir, None)
    code, out, err = cli("start", option, word)
    assert (code, out) == (2, "")
    assert f"invalid choice: '{word}'" in err and known in err
    assert launcher.argv == []

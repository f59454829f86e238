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
from mcpgateway.sandbox import confine
from mcpgateway.startup.sandboxing import MODES as SANDBOX_MODES
from tests.cli.support import Cli
from tests.support.cli.gatewayoption import (
    assertArgvPasses,
    assertStartLeavesOut,
    assertStartPasses,
    assertStartRefuses,
)
from tests.support.cli.started import Start


def test_the_words_are_the_sandboxs() -> None:
    assert SANDBOX_MODES == confine.MODES


def test_gateway_argv_passes_the_mode_to_the_gateway(tmp_path: Path) -> None:
    assertArgvPasses(tmp_path, "--sandbox", "off", "sandbox")


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
    assertStartPasses(home, ctx, start, "--sandbox", mode, foreground)


def test_start_without_it_leaves_the_gateways_default(start: Start) -> None:
    assertStartLeavesOut(start, "--sandbox")


def test_start_refuses_a_word_the_gateway_does_not_know(
    stateDir: Path, ctx: CliContext, cli: Cli
) -> None:
    assertStartRefuses(stateDir, ctx, cli, "--sandbox", "on", "auto")

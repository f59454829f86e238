"""C{mcpgateway start --log-level LEVEL}: the gateway's own C{--log-level}
words, passed on to the gateway it starts (detached or in the foreground);
without it the gateway's default (info); a word the gateway would refuse is
refused before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.start import LOG_LEVELS
from mcpgateway.runtime import logs
from tests.cli.support import Cli
from tests.support.cli.gatewayoption import (
    assertArgvPasses,
    assertStartLeavesOut,
    assertStartPasses,
    assertStartRefuses,
)
from tests.support.cli.started import Start


def test_the_words_are_the_gateways() -> None:
    assert LOG_LEVELS == logs.LEVELS


def test_gateway_argv_passes_the_level_to_the_gateway(tmp_path: Path) -> None:
    assertArgvPasses(tmp_path, "--log-level", "debug", "logLevel")


@pytest.mark.parametrize("foreground", [False, True])
def test_start_log_level_reaches_the_gateway(
    home: Path, ctx: CliContext, start: Start, foreground: bool
) -> None:
    assertStartPasses(home, ctx, start, "--log-level", "warn", foreground)


def test_start_without_it_leaves_the_gateways_default(start: Start) -> None:
    assertStartLeavesOut(start, "--log-level")


def test_start_refuses_a_word_the_gateway_does_not_know(
    stateDir: Path, ctx: CliContext, cli: Cli
) -> None:
    assertStartRefuses(stateDir, ctx, cli, "--log-level", "verbose", "debug")

"""The formatters and the colour rule of the C{mcpgateway} command."""

from __future__ import annotations

import io

import pytest

from mcpgateway.cli.output import formatDuration, useColour
from tests.cli.support import Terminal


def test_use_colour() -> None:
    assert useColour(Terminal())
    assert not useColour(io.StringIO())


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59.9, "59s"),
        (61, "1m 01s"),
        (3725, "1h 02m"),
        (90000, "1d 1h"),
        (float("inf"), "?"),
        (float("nan"), "?"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert formatDuration(seconds) == text

"""The formatters and the colour rule of the C{mcpgateway} command."""

from __future__ import annotations

import io

import pytest

from mcpgateway.cli.output import (
    LEGEND,
    SHARE_MARKS,
    SYMBOLS,
    formatDuration,
    shareMark,
    useColour,
)
from mcpgateway.cli.servers import SHARES
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


def test_every_share_has_its_own_mark_and_the_legend_names_them() -> None:
    """status and doctor mark a server by its share (docs/guide/scopes.md), never
    by the older stateless/stateful, and no mark is one of doctor's ✓ ○ ✗."""
    assert tuple(SHARE_MARKS) == SHARES
    marks = [shareMark(share) for share in SHARES]
    assert marks == ["●", "◐", "◔", "◆"]
    assert len(set(marks)) == len(SHARES) and not set(marks) & set(SYMBOLS.values())
    assert shareMark("stateless") == shareMark("someday") == "?"  # read mode words first
    assert LEGEND == (
        "share: ● global · ◐ workspace · ◔ credential · ◆ session"
        " (who shares a child: docs/guide/scopes.md)"
    )
    assert "stateful" not in LEGEND and "stateless" not in LEGEND

# -*- test-case-name: tests.startup.test_era2026options -*-
"""The options of the MCP 2026-07-28 side (docs/design/era.md), and the
older spellings of their names, which the command line still reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mcpgateway.protocol import bounds

Coerce = Callable[[str], Any]

OLD_SPELLINGS = {
    "--max-modern-in-flight": "--max-era2026-in-flight",
    "--modern-input-timeout": "--era2026-input-timeout",
}
"""Option names the gateway once had, and the names that replaced them."""


def era2026Parameters(positiveInt: Coerce, positiveFloat: Coerce) -> list[list[Any]]:
    """The C{optParameters} entries of the 2026-07-28 options (the coercions
    are the command line's own)."""
    return [
        [
            "max-era2026-in-flight",
            None,
            bounds.MAX_ERA2026_IN_FLIGHT,
            "Most MCP 2026-07-28 requests and listen streams one endpoint may have waiting"
            " (-32004 beyond).",
            positiveInt,
        ],
        [
            "era2026-input-timeout",
            None,
            bounds.ERA2026_INPUT_TIMEOUT,
            "Seconds an MCP 2026-07-28 call waits for its client's input_required answer;"
            " then the child's questions are declined and its call cancelled.",
            positiveFloat,
        ],
    ]


def newSpellings(argv: Sequence[str]) -> list[str]:
    """C{argv} with every older option name (alone or as C{--old=value})
    replaced by its current one; anything after C{--} is left as it is."""
    out: list[str] = []
    for index, arg in enumerate(argv):
        if arg == "--":
            return out + list(argv[index:])
        name, sep, value = arg.partition("=")
        out.append(OLD_SPELLINGS.get(name, name) + sep + value if name in OLD_SPELLINGS else arg)
    return out

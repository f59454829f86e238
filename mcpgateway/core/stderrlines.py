# -*- test-case-name: tests.core.test_stderrlines -*-
"""Which of a child's stderr lines say why it failed.

A failing child is told by its last stderr lines (its server's C{lastExit},
its callers' C{-32003}, the console). The last lines are often a program's
closing words, not its reason: C{npx} with a mistyped package prints
C{npm error 404 Not Found - GET ...} early, then five more lines of advice
and C{npm error A complete log of this run can be found in: ...}. So the
lines shown are the first line that looks like an error (L{looksLikeError})
followed by the last lines, when that line is not among them.

A line looks like an error when it holds an error word as a label
(C{error:}, C{Error:}, C{[ERROR]}, C{fatal:}, C{panic:}, C{npm ERR!}, Rust's
C{error[E0425]:}), an exception's name with its message (C{TypeError: ...},
C{ModuleNotFoundError: ...}), an npm error line other than npm's header lines
(C{npm error code E404}, C{errno}, C{syscall}: the line after them says what
went wrong), uv's C{No solution found}, or a shell's C{command not found}.
A Python C{Traceback} line is not one: the exception's line at its end is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

LAST_LINES = 3
"""The last stderr lines an exit reason quotes."""
STDERR_MARK = "; last stderr: "
"""How the gateway's own words about a child's end introduce its stderr lines."""
SKIPPED = "…"
"""Stands for the lines between the first error and the last lines."""

_ERROR = re.compile(
    r"(?:^|[\s\[(])(?:error|Error|ERROR|fatal|Fatal|FATAL|panic)(?:\[\w+\])?[:\]]"
    r"|\bnpm ERR!(?! (?:code|errno|syscall)\b)"
    r"|\bnpm error (?!(?:code|errno|syscall)\b)"
    r"|\b[A-Z]\w*(?:Error|Exception): "
    r"|\bNo solution found\b"
    r"|\bcommand not found\b"
)


def looksLikeError(line: str) -> bool:
    """Whether C{line} reads as the statement of an error (see the module)."""
    return _ERROR.search(line) is not None


def telling(lines: Iterable[str], last: int = LAST_LINES) -> list[str]:
    """The lines of C{lines} that say why a child failed: the last C{last},
    after the first line that looks like an error when that one comes
    before them (with L{SKIPPED} between, when lines were left out). At
    most C{last + 2} lines, each one of C{lines} (or L{SKIPPED})."""
    kept = list(lines)
    tail = kept[-last:] if last > 0 else []
    before = len(kept) - len(tail)
    first = next((i for i, line in enumerate(kept[:before]) if looksLikeError(line)), None)
    if first is None:
        return tail
    return [kept[first], *([SKIPPED] if first < before - 1 else []), *tail]


def stderrNote(lines: Iterable[str]) -> str:
    """What follows the gateway's words about a child's end: C{"; last
    stderr: "} and the L{telling} lines, joined by C{" | "}; C{""} when it
    wrote none."""
    shown = telling(lines)
    return STDERR_MARK + " | ".join(shown) if shown else ""

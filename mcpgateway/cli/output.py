# -*- test-case-name: tests.cli.test_output,tests.cli.test_main -*-
"""How the C{mcpgateway} command speaks: plain or coloured lines, or one JSON
document, and every failure as one line.

L{CliError} is a failure the user can act on; L{UsageError} is a command line
argparse rejected, raised by L{Parser} instead of printing argparse's usage
block. The formatters (sizes, durations, plurals, the mode marks) are shared
by C{status}, C{doctor}, C{start} and C{logs}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from typing import Any, NoReturn, TextIO

STATEFUL_MARK = "◆"
STATELESS_MARK = "○"
LEGEND = (
    f"{STATEFUL_MARK} = stateful (per-session children) | {STATELESS_MARK} = stateless"
    " (shared child)"
)
SYMBOLS = {"pass": "✓", "info": "○", "fail": "✗"}
COLOURS = {"pass": "32", "info": "33", "fail": "31"}


class CliError(Exception):
    """A failure the user can act on: one line, and the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class UsageError(Exception):
    """A command line argparse rejected: the program (C{mcpgateway start})
    and argparse's one-line message."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog
        self.message = message


class Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line and a pointer to
    C{--help} (printed by L{mcpgateway.cli.main.main}), not the usage block.
    Subcommand parsers are of this class too (argparse makes them of their
    parent's class)."""

    def error(self, message: str) -> NoReturn:
        # An argument may hold a line break (argparse quotes it as it is): keep one line.
        oneLine = message.replace("\r", "\\r").replace("\n", "\\n")
        raise UsageError(self.prog, oneLine)


Subcommands = argparse._SubParsersAction
"""What C{add_subparsers} returns: each command module adds its parser to it."""


class Output:
    """Where and how to print: plain or coloured text, or one JSON document."""

    def __init__(
        self, asJson: bool, stdout: TextIO | None = None, stderr: TextIO | None = None
    ) -> None:
        self.json = asJson
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.colour = useColour(self.stdout)

    def line(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def note(self, text: str) -> None:
        """A message for people: stderr, so stdout stays clean for scripts."""
        self.stderr.write(text + "\n")

    def paint(self, text: str, status: str) -> str:
        """C{text} in the colour of C{status} (C{pass}, C{info}, C{fail})."""
        if not self.colour or status not in COLOURS:
            return text
        return f"\x1b[{COLOURS[status]}m{text}\x1b[0m"

    def emit(self, document: dict[str, Any]) -> None:
        self.line(json.dumps(document, indent=2, sort_keys=False))


def useColour(stream: TextIO) -> bool:
    """Colours only on a terminal, and never when C{NO_COLOR} is set."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


def formatBytes(size: float) -> str:
    megabytes = size / (1024 * 1024)
    if megabytes >= 10:
        return f"{megabytes:.0f} MB"
    return f"{megabytes:.1f} MB"


def formatDuration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"  # a health answer from something that is not this gateway
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


def modeMark(mode: Any) -> str:
    return STATEFUL_MARK if mode == "stateful" else STATELESS_MARK


def formatEvent(event: dict[str, Any]) -> str:
    """One log event as C{HH:MM:SS kind text} (local time)."""
    when = event.get("time")
    stamp = (
        time.strftime("%H:%M:%S", time.localtime(when))
        if isinstance(when, (int, float)) and not isinstance(when, bool)
        else "--:--:--"
    )
    return f"{stamp} {event.get('kind', '?')!s:<13} {event.get('text', '')}"


def printEvent(out: Output, event: dict[str, Any]) -> None:
    """One log event as a line (C{--json}: as one compact JSON line), at once."""
    if out.json:
        out.line(json.dumps(event, separators=(",", ":")))
    else:
        out.line(formatEvent(event))
    with contextlib.suppress(OSError, ValueError):
        out.stdout.flush()


def portArgument(value: str) -> int:
    """An argparse C{type}: a TCP port number (1-65535)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a port (1-65535)")
    return number

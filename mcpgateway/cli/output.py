# -*- test-case-name: tests.cli.test_output,tests.cli.test_main -*-
"""How the C{mcpgateway} command speaks: plain or coloured lines, or one JSON
document, and every failure as one line.

L{CliError} is a failure the user can act on; L{UsageError} is a command line
argparse rejected, raised by L{Parser} instead of printing argparse's usage
block; L{OutputClosed} is a reader of stdout (or stderr) that went away
(C{mcpgateway status | head -3}): the command ends there, quietly, as C{git}
and C{ls} do (L{endQuietly}). Every line goes out in the order it was
written, stdout's and stderr's alike, also through a pipe that gets both
(C{2>&1}). The formatters (sizes, durations, plurals, the share marks) are shared
by C{status}, C{doctor}, C{start} and C{logs}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import select
import signal
import sys
import time
from typing import IO, TYPE_CHECKING, Any, NoReturn, TextIO

from mcpgateway.ops.gatewayprobe import GatewayProbe

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

SHARE_MARKS = {"global": "●", "workspace": "◐", "credential": "◔", "session": "◆"}
"""The mark of each C{"share"} word (docs/guide/scopes.md), widest first: the
fuller the circle, the more sessions share one child; C{◆} (a child of its
own) is what the older C{stateful} was marked with."""
UNKNOWN_SHARE_MARK = "?"
"""The mark of a share word this CLI does not know."""
LEGEND = (
    "share: "
    + " · ".join(f"{mark} {share}" for share, mark in SHARE_MARKS.items())
    + " (who shares a child: docs/guide/scopes.md)"
)
CLOSED_OUTPUT_EXIT = 128 + int(signal.SIGPIPE)
"""The exit status of a command whose output was closed under it: 141, what
a shell reports for C{git} or C{ls} killed by SIGPIPE (C{set -o pipefail}
sees the same as with them)."""
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

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        # argparse's --help and --version: as argparse does, but a closed pipe
        # ends the command like any other output (argparse ignores it).
        if message:
            stream = file or sys.stderr
            try:
                stream.write(message)
            except BrokenPipeError:
                raise OutputClosed(stream) from None
            except (AttributeError, OSError):
                pass


Subcommands = argparse._SubParsersAction
"""What C{add_subparsers} returns: each command module adds its parser to it."""


class OutputClosed(BaseException):
    """The reader of C{stream} went away (C{mcpgateway status | head -3}):
    the command stops where it is, with nothing more to say (L{endQuietly}).

    A C{BaseException}, as C{KeyboardInterrupt} is: the C{except OSError} and
    C{except Exception} that turn a command's own failures into one line must
    not turn this into one (there is nowhere to write it)."""

    def __init__(self, stream: object) -> None:
        super().__init__("output closed")
        self.stream = stream


def write(stream: IO[str], text: str) -> None:
    """C{stream.write(text)}; a closed pipe is L{OutputClosed}."""
    try:
        stream.write(text)
    except BrokenPipeError:
        raise OutputClosed(stream) from None


def flush(stream: IO[str]) -> None:
    """C{stream.flush()}; a closed pipe is L{OutputClosed}, a stream that
    cannot be flushed (closed, or no file at all) is left as it is."""
    try:
        stream.flush()
    except BrokenPipeError:
        raise OutputClosed(stream) from None
    except (OSError, ValueError):
        pass


def endQuietly(closed: OutputClosed, streams: tuple[IO[str], ...]) -> int:
    """End a command whose output was closed: no traceback, no message
    (stderr may be the closed one, and a reader that left wants nothing
    more), exit status L{CLOSED_OUTPUT_EXIT}.

    Python's recipe (docs.python.org/3/library/signal.html#note-on-sigpipe):
    the closed stream's file descriptor, and that of any of C{streams} that
    cannot be flushed either, now points at C{/dev/null}, so that the flush
    at the interpreter's exit does not print C{Exception ignored ...
    BrokenPipeError} and exit 120. SIGPIPE stays ignored (Python's default)
    rather than restored to its default action, which would also kill the
    command, silently, on a socket to the gateway that broke."""
    _toDevNull(closed.stream)
    for stream in streams:
        if stream is not closed.stream:
            try:
                stream.flush()
            except (OSError, ValueError):
                _toDevNull(stream)
    return CLOSED_OUTPUT_EXIT


def readerGone(stream: IO[str]) -> bool:
    """Whether C{stream} is a pipe (or terminal) nobody reads any more:
    C{poll} says POLLERR (a pipe's reader closed it) or POLLHUP (a terminal
    hung up). A stream with no file descriptor has a reader."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    try:
        ready = poller.poll(0)
    except OSError:
        return False
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in ready)


def _toDevNull(stream: object) -> None:
    """Point C{stream}'s file descriptor at C{/dev/null}; nothing to do for
    a stream with none (a test's C{StringIO})."""
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


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
        write(self.stdout, text + "\n")

    def note(self, text: str) -> None:
        """A message for people: stderr, so stdout stays clean for scripts.
        stdout's lines so far go out first, and the note at once: through a
        pipe that gets both (C{2>&1}), stdout block-buffered and stderr not,
        the lines keep the order they were written in."""
        self.flush()
        write(self.stderr, text + "\n")
        flush(self.stderr)

    def flush(self) -> None:
        """Send stdout's lines now (a closed pipe: L{OutputClosed})."""
        flush(self.stdout)

    def checkReader(self) -> None:
        """L{OutputClosed} if stdout is a pipe whose reader went away, before
        anything is written to it: a command that waits long between lines
        (C{logs | head -3}) ends with its reader, not at its next line."""
        if readerGone(self.stdout):
            raise OutputClosed(self.stdout)

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
    return isTerminal(stream)


def isTerminal(stream: object) -> bool:
    """Whether C{stream} is a terminal (a person reads it)."""
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


def shareMark(share: str) -> str:
    """The mark of a C{"share"} word (L{SHARE_MARKS}); read an older
    gateway's C{mode} with L{mcpgateway.cli.servers.serverShare} first."""
    return SHARE_MARKS.get(share, UNKNOWN_SHARE_MARK)


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
    out.flush()  # `logs | head -3` ends at the first event after head has gone


def portArgument(value: str) -> int:
    """An argparse C{type}: a TCP port number (1-65535)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a port (1-65535)")
    return number


def runningGateway(found: GatewayProbe) -> GatewayProbe:
    """C{found}, when it is a running gateway; else a L{CliError} saying it is not."""
    if not found.running:
        stale = " (stale state.json)" if found.stale else ""
        raise CliError(f"the gateway is not running{stale}; `mcpgateway start` starts it")
    return found

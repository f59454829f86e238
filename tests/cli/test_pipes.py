"""The C{mcpgateway} command in a pipeline: a reader that goes away (C{|
head -3}, C{| true}) ends any command quietly, with exit status 141 as for
C{git} or C{ls} killed by SIGPIPE; and stdout's and stderr's lines reach a
pipe that gets both (C{2>&1}) in the order they were written."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.cli import main
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CLOSED_OUTPUT_EXIT, Output, readerGone
from tests.cli.support import (
    EVENTS,
    SERVERS,
    FakeGateway,
    api,
    claudeJson,
    deadPid,
    sse,
    writeState,
)
from tests.support.cli.start import FakeLauncher

REPO = Path(__file__).resolve().parents[2]


def brokenPipe() -> BrokenPipeError:
    return BrokenPipeError(errno.EPIPE, "Broken pipe")


class UnbufferedClosedPipe(io.StringIO):
    """A stdout whose reader went away, unbuffered (C{PYTHONUNBUFFERED=1},
    C{python -u}): the first write fails."""

    def write(self, text: str) -> int:
        raise brokenPipe()


class BufferedClosedPipe(io.StringIO):
    """A stdout whose reader went away, block-buffered (Python's stdout on a
    pipe): writes are kept, the flush that sends them fails."""

    def flush(self) -> None:
        if self.getvalue():
            raise brokenPipe()


class Streams:
    """Puts in sys.stdout and sys.stderr for the test (pytest puts its own
    back between a fixture's setup and the test: call it in the test)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, stdout: type[io.StringIO]) -> None:
        self.monkeypatch, self.stdoutClass = monkeypatch, stdout

    def __call__(self, stdout: Any = None, stderr: Any = None) -> None:
        self.monkeypatch.setattr(sys, "stdout", stdout or self.stdoutClass())
        self.monkeypatch.setattr(sys, "stderr", stderr or io.StringIO())


@pytest.fixture(params=[UnbufferedClosedPipe, BufferedClosedPipe])
def closedStdout(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Streams:
    """Call it: sys.stdout is a pipe nobody reads any more (unbuffered, or
    block-buffered), sys.stderr a StringIO."""
    return Streams(monkeypatch, request.param)


@pytest.fixture
def streams(monkeypatch: pytest.MonkeyPatch) -> Streams:
    return Streams(monkeypatch, io.StringIO)


def stderrText() -> str:
    stream = sys.stderr
    assert isinstance(stream, io.StringIO)
    return stream.getvalue()


# -- a closed stdout, in this process ---------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["status", "--json"],
        ["doctor"],
        ["doctor", "--json"],
        ["servers", "list"],
        ["servers", "list", "--json"],
        ["logs", "demo", "--no-follow"],
        ["logs", "demo"],
        ["logs", "demo", "--json"],
        ["start"],
        ["--help"],
        ["--version"],
        ["servers", "add", "--help"],
    ],
)
def test_a_closed_stdout_ends_every_command_quietly(
    closedStdout: Streams, stateDir: Path, running: FakeGateway, argv: list[str]
) -> None:
    """No traceback, no "unexpected error" line (stderr stays empty, also
    with --json, whose error handler wrote to the same stdout), exit 141."""
    closedStdout()
    api(running, "GET", "/servers", 200, {"servers": [{"name": "demo", "state": "running"}]})
    api(running, "GET", "/servers/demo/logs?follow=false", 200, {"events": EVENTS})
    api(running, "GET", "/servers/demo/logs", 200, sse(*EVENTS))
    assert main([*argv, "--state-dir", str(stateDir)]) == CLOSED_OUTPUT_EXIT == 141
    assert stderrText() == ""


def test_a_closed_stdout_ends_a_failing_command_quietly(
    closedStdout: Streams, stateDir: Path
) -> None:
    """status of a stopped gateway writes to stdout and fails: the closed
    pipe wins, quietly."""
    closedStdout()
    assert main(["status", "--json", "--state-dir", str(stateDir)]) == 141
    assert stderrText() == ""


def test_a_closed_stdout_is_not_a_broken_log_stream(
    closedStdout: Streams, stateDir: Path, running: FakeGateway, ctx: CliContext
) -> None:
    """logs catches OSError from its stream ("broke off"); a BrokenPipeError
    of stdout is not one."""
    closedStdout()
    api(running, "GET", "/servers/demo/logs", 200, sse(*EVENTS))
    printed: list[dict[str, Any]] = []

    def printEvent(out: Output, event: dict[str, Any]) -> None:
        printed.append(event)
        out.line(event["text"])
        out.flush()

    ctx.printEvent = printEvent
    assert main(["logs", "demo", "--state-dir", str(stateDir)], ctx) == 141
    assert stderrText() == ""
    assert printed == EVENTS[:1]  # it stopped at the first line it could not write


def test_a_closed_stderr_too_is_quiet(streams: Streams, stateDir: Path, ctx: CliContext) -> None:
    """C{2>&1 | head -1}: the notes meet the closed pipe as well."""
    streams(UnbufferedClosedPipe(), UnbufferedClosedPipe())

    def boom(stateDir: Path) -> Any:
        raise ValueError("surprise")

    ctx.probe = boom
    assert main(["status", "--state-dir", str(stateDir)], ctx) == 141  # its error line, unwritten
    assert main(["stop", "--bogus"]) == 141  # a usage error, unwritten


def test_other_broken_pipes_are_still_errors(
    capsys: pytest.CaptureFixture[str], stateDir: Path, ctx: CliContext
) -> None:
    """A BrokenPipeError that is not our output's (a socket to the gateway,
    say) is an error like any other, not a quiet end."""

    def boom(stateDir: Path) -> Any:
        raise brokenPipe()

    ctx.probe = boom
    assert main(["status", "--state-dir", str(stateDir)], ctx) == 1
    assert capsys.readouterr().err == (
        "mcpgateway: unexpected error: BrokenPipeError: [Errno 32] Broken pipe"
        " (MCPGATEWAY_DEBUG=1 shows more)\n"
    )


# -- a real pipe -----------------------------------------------------------------------


@pytest.fixture
def widowedPipe() -> Iterator[int]:
    """The write end of a pipe whose read end is closed."""
    r, w = os.pipe()
    os.close(r)
    yield w
    os.close(w)


def test_the_output_is_sent_to_dev_null_once_its_reader_is_gone(
    streams: Streams, stateDir: Path, widowedPipe: int
) -> None:
    """Python's recipe: the closed descriptor then points at /dev/null, so
    the interpreter's own flush at exit has nothing to complain about
    ("Exception ignored ... BrokenPipeError", exit status 120)."""
    stdout = open(widowedPipe, "w", closefd=False)  # noqa: SIM115 (closed below)
    streams(stdout)
    assert readerGone(stdout)
    assert main(["status", "--state-dir", str(stateDir)]) == 141
    assert stderrText() == ""
    assert os.fstat(widowedPipe).st_rdev == os.stat(os.devnull).st_rdev
    assert not readerGone(stdout)
    stdout.close()  # flushes what was kept: into /dev/null, no error


def test_logs_ends_with_its_reader_not_at_its_next_event(
    streams: Streams, stateDir: Path, running: FakeGateway, widowedPipe: int
) -> None:
    """C{logs demo | head -3}: the gateway's keep-alive (every 15 s) is
    enough to see that head has gone; no event needed."""
    api(running, "GET", "/servers/demo/logs", 200, b": keep-alive\n\n")
    stdout = open(widowedPipe, "w", closefd=False)  # noqa: SIM115 (nothing to flush)
    streams(stdout)
    assert main(["logs", "demo", "--state-dir", str(stateDir)]) == 141
    assert stderrText() == ""  # not "the gateway ended the log stream of demo"


def test_reader_gone_is_false_for_streams_that_have_a_reader(tmp_path: Path) -> None:
    r, w = os.pipe()
    with open(w, "w") as pipe, open(tmp_path / "f", "w") as file:
        assert not readerGone(pipe)
        assert not readerGone(file)
        assert not readerGone(io.StringIO())
    os.close(r)


def cli(
    *args: str, stdout: Any, stderr: Any, unbuffered: bool, home: Path
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["HOME"] = str(home)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", *args],
        stdout=stdout,
        stderr=stderr,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("argv", [["doctor"], ["status", "--json"], ["--help"]])
def test_the_command_in_a_closed_pipe(
    stateDir: Path, home: Path, widowedPipe: int, argv: list[str], unbuffered: bool
) -> None:
    """C{python -m mcpgateway.cli doctor | true}: nothing on stderr, 141,
    stdout block-buffered (the default on a pipe: the error comes at the
    last flush) or not (the first write fails)."""
    done = cli(
        *argv,
        "--state-dir",
        str(stateDir),
        stdout=widowedPipe,
        stderr=subprocess.PIPE,
        unbuffered=unbuffered,
        home=home,
    )
    assert (done.returncode, done.stderr) == (141, "")


# -- stdout and stderr in one pipe -------------------------------------------------------


def test_notes_and_lines_keep_their_order_in_one_pipe(stateDir: Path, home: Path) -> None:
    """C{mcpgateway stop 2>&1 | cat}: stop's line (stdout, block-buffered on
    a pipe) comes before the note it wrote after it (stderr), not after."""
    config = home / ".claude.json"
    config.write_text(json.dumps(claudeJson(9100)))
    writeState(stateDir, deadPid(), 9100, config=str(config))
    done = cli(
        "stop",
        "--state-dir",
        str(stateDir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        unbuffered=False,
        home=home,
    )
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("mcpgateway was not running (stale state.json: pid ")
    assert lines[1] == f"  no backup of {config}; nothing to restore"
    assert lines[2].startswith(f"mcpgateway: {config} still has 2 entries pointing at")
    assert len(lines) == 3


class Pipe:
    """One pipe that stdout and stderr both go to (C{2>&1}), each through a
    buffer of its own that reaches the pipe only when flushed."""

    def __init__(self) -> None:
        self.received: list[str] = []

    def stream(self) -> io.StringIO:
        pipe = self

        class Buffered(io.StringIO):
            def flush(self) -> None:
                pipe.received.append(self.getvalue())
                self.seek(0)
                self.truncate()

        return Buffered()

    def lines(self) -> list[str]:
        return "".join(self.received).splitlines()


def test_start_says_it_serves_the_demo_before_it_says_it_started(
    streams: Streams,
    stateDir: Path,
    home: Path,
    locked: None,
    fakeGateway: FakeGateway,
    ctx: CliContext,
) -> None:
    """The demo note (stderr) is written first and reaches the pipe first,
    however either stream is buffered: even when both flush only at exit
    (stdout first, as the interpreter does), the note is not last."""
    pipe = Pipe()
    stdout, stderr = pipe.stream(), pipe.stream()
    streams(stdout, stderr)
    ctx.launch = FakeLauncher(stateDir, fakeGateway)
    fakeGateway.answers["/api/v1/servers"] = (200, SERVERS)
    code = main(["start", "--port", str(fakeGateway.port), "--state-dir", str(stateDir)], ctx)
    stdout.flush()  # the interpreter's exit
    stderr.flush()
    assert code == 0
    assert pipe.lines() == [
        f"mcpgateway: no {home / '.claude.json'}: serving the bundled demo server; a client's"
        " config written later is adopted within seconds",
        f"mcpgateway started (pid {os.getpid()}): 3 servers at"
        f" http://127.0.0.1:{fakeGateway.port}/<server>/mcp",
        f"  http://127.0.0.1:{fakeGateway.port}/context7/mcp",
        f"  http://127.0.0.1:{fakeGateway.port}/serena/mcp",
        f"  http://127.0.0.1:{fakeGateway.port}/tavily/mcp",
    ]

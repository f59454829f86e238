# -*- test-case-name: tests.cli.test_start,tests.cli.test_stop,tests.cli.test_main -*-
"""What the commands reach the world through: the HTTP client, the state
directory probe, the launcher of twistd, the client-config class, the clock
and the timeouts, in one L{CliContext} that L{mcpgateway.cli.main.main}
hands to every command (as tahoe-lafs hands its CLI an HTTP client).

A test passes a context with fakes in it, instead of patching module
globals; L{defaultContext} is the real one.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mcpgateway.cli.http import GatewayClient
from mcpgateway.cli.output import CliError, Output, printEvent
from mcpgateway.ops.gatewayprobe import GatewayProbe, probe
from mcpgateway.runtime import interpreter
from mcpgateway.runtime.portuse import PortInUse, checkPort

START_TIMEOUT = 15.0
"""Seconds C{start} waits for C{/health} to answer."""
STOP_TIMEOUT = 15.0
"""Seconds C{stop} waits for the gateway to exit after SIGTERM."""
HTTP_TIMEOUT = 5.0
"""Seconds any one HTTP request to the gateway may take: a gateway busy with
thousands of connections on a loaded machine answers a read in a few
seconds, and one that hangs is still told within a few."""
POLL_TIMEOUT = 1.0
"""Seconds one C{/health} request of a starting gateway may take."""
CHANGE_TIMEOUT = 20.0
"""Seconds a change through the management API may take (stopping a child
may take 5 s, a reload reads the config)."""
LOG_STREAM_TIMEOUT = 60.0
"""Seconds of silence after which a log stream is given up (the gateway
sends a keep-alive every 15 s)."""


@dataclass(frozen=True)
class Timeouts:
    """How long the commands wait, in seconds (see the constants above)."""

    start: float = START_TIMEOUT
    stop: float = STOP_TIMEOUT
    http: float = HTTP_TIMEOUT
    poll: float = POLL_TIMEOUT
    change: float = CHANGE_TIMEOUT
    logStream: float = LOG_STREAM_TIMEOUT


class Process(Protocol):
    """What C{start} uses of the twistd process it launched (a C{Popen})."""

    @property
    def returncode(self) -> int | Any: ...

    def communicate(self, *, timeout: float | None = None) -> tuple[Any, Any]: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...

    def send_signal(self, sig: int) -> None: ...


def gatewayPython(bytecodeFolder: str | None = None) -> tuple[str, ...]:
    """How C{start} runs twistd: L{mcpgateway.launch} (twistd with the gateway
    as its only plugin, no plugin discovery), with the interpreter's flags
    (L{mcpgateway.runtime.interpreter}: C{-OO}, no docstrings loaded: an idle
    gateway is 38 MiB instead of 41.6; C{-P}, nothing imported from the
    working directory; the bytecode kept in C{bytecodeFolder} when given,
    L{mcpgateway.runtime.interpreter.privateBytecodeFolder})."""
    return interpreter.command("-m", "mcpgateway.launch", bytecodeFolder=bytecodeFolder)


def warmBytecode(bytecodeFolder: str | None = None) -> None:
    """Have the gateway's C{-OO} bytecode written before it starts
    (L{mcpgateway.runtime.warmup.warm}, in a throw-away process run as the
    gateway is, in C{bytecodeFolder} when given): without it, the first start
    after an install compiles every module of Twisted and of the gateway,
    and keeps the compiler's garbage (about 5 MB) for its whole life. Best
    effort: a read-only install just compiles in the gateway."""
    code = "from mcpgateway.runtime.warmup import warm; warm()"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            interpreter.command("-c", code, bytecodeFolder=bytecodeFolder),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )


def launch(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start the gateway's twistd, in the home directory (a stable working
    directory for the gateway and its children)."""
    home = Path.home()
    try:
        return subprocess.Popen(argv, cwd=str(home) if home.is_dir() else "/", **kwargs)
    except OSError as e:
        raise CliError(f"cannot run {argv[0]}: {e.strerror}") from None


def terminalForeground() -> bool:
    """Whether this process's group is the foreground process group of its
    terminal (the first of stdin, stdout, stderr that is one): a Ctrl-C
    there reaches every process of the group."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False


def claudeConfigClass() -> Any:
    """C{mcpgateway.clientconfigs.claude.ClaudeConfig}, looked up late: a
    missing module is one line, not a traceback."""
    try:
        module = importlib.import_module("mcpgateway.clientconfigs.claude")
    except ImportError as e:
        raise CliError(f"cannot restore: {e}") from None
    return module.ClaudeConfig


@dataclass
class CliContext:
    """The seams of the commands; every field has its real default."""

    http: GatewayClient = field(default_factory=GatewayClient)
    probe: Callable[[Path], GatewayProbe] = probe
    """Reads the state directory (L{mcpgateway.ops.gatewayprobe.probe})."""
    launch: Callable[..., Process] = launch
    """Starts twistd: C{launch(argv, **popenArguments)}."""
    terminalForeground: Callable[[], bool] = terminalForeground
    """Whether a Ctrl-C of this process's terminal reaches it (and its
    children in its group): L{terminalForeground}."""
    bytecodeFolder: Callable[[str], str | None] = interpreter.privateBytecodeFolder
    """The folder a gateway of the state directory given keeps its bytecode
    in, if it keeps one (L{mcpgateway.runtime.interpreter.privateBytecodeFolder})."""
    warm: Callable[[str | None], None] = warmBytecode
    """Writes the gateway's bytecode before a start, in the folder given
    (L{warmBytecode})."""
    claudeConfigClass: Callable[[], Any] = claudeConfigClass
    """Returns the class that adopts and restores a Claude config."""
    printEvent: Callable[[Output, dict[str, Any]], None] = printEvent
    """Prints one event of C{logs}."""
    checkPort: Callable[[int], PortInUse | None] = checkPort
    """Whether another socket holds the port C{start} would listen on, and
    whose (L{mcpgateway.runtime.portuse.checkPort})."""
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    timeouts: Timeouts = field(default_factory=Timeouts)


def defaultContext() -> CliContext:
    """The real seams: urllib on loopback, the real state directory, twistd."""
    return CliContext()

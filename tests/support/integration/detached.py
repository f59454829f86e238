"""What tests/integration/cli/test_detached.py shares with the other tests:
environment, runCli, freePort, gatewayPids, daemonized, startForeground."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcpgateway.ops.statedir import pidAlive
from tests.integration.gateway import REPO
from tests.integration.gateway import freePort as freePort  # one per worker


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "HOME": str(home),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    for name in ("MCPGATEWAY_HOME", "NO_COLOR", "http_proxy", "HTTP_PROXY"):
        env.pop(name, None)
    env.update(extra)
    return env


def runCli(
    home: Path,
    *args: str,
    stateDir: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
    **options: Any,
) -> subprocess.CompletedProcess[str]:
    """C{python -m mcpgateway.cli ARGS --state-dir STATEDIR} (C{home/state}
    unless given) from C{home}, as a user runs it: in L{environment} unless
    C{env} is given, C{stdin} its input (none: at its end at once), its
    output captured; C{options} go to C{subprocess.run}."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mcpgateway.cli",
            *args,
            "--state-dir",
            str(stateDir or home / "state"),
        ],
        env=environment(home) if env is None else env,
        cwd=home,
        input=stdin or "",
        capture_output=True,
        text=True,
        timeout=timeout,
        **options,
    )


def gatewayPids(marker: Path) -> list[int]:
    """Live processes whose command line names C{marker} (our state dir)."""
    found = []
    needle = os.fsencode(str(marker))
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if needle in f.read() and pidAlive(int(entry)):
                        found.append(int(entry))
            except OSError:
                continue
    return found


@contextmanager
def daemonized(
    home: Path, port: int, listen: str, config: Path, stateDir: Path, env: dict[str, str]
) -> Iterator[int]:
    """Run C{twistd mcpgateway} without C{-n} (it daemonizes, its pid in
    C{home/twistd.pid}, its log in C{home/twistd.log}), listening on C{listen}
    (a port or an endpoint description for C{port}); yield its pid once
    C{port} takes connections. On leaving it sends SIGTERM and checks the
    daemon is gone within 20 seconds."""
    pidfile = home / "twistd.pid"
    argv = [
        sys.executable,
        "-c",
        "from twisted.scripts.twistd import run; run()",
        "--pidfile",
        str(pidfile),
        "--logfile",
        str(home / "twistd.log"),
        "mcpgateway",
        "--port",
        listen,
        "--config",
        str(config),
        "--state-dir",
        str(stateDir),
    ]
    launched = subprocess.run(argv, env=env, cwd=home, capture_output=True, text=True, timeout=60)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    deadline = time.monotonic() + 30
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield pid
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while pidAlive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not pidAlive(pid)


def startForeground(
    port: int, stateDir: Path, env: dict[str, str], cwd: Path
) -> subprocess.Popen[bytes]:
    """C{mcpgateway start --foreground --no-rewrite} on C{port}, its stdin
    closed and its output (stdout and stderr) on C{stdout}."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mcpgateway.cli",
            "start",
            "--foreground",
            "--no-rewrite",
            "--port",
            str(port),
            "--state-dir",
            str(stateDir),
        ],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

"""Misbehaving stdio children against a real gateway:
a child that closes its stdout and lives on, one that writes lines no parser
accepts, one that floods its stderr, one that writes a banner to stdout and
never answers (the gateway kills it, and says why), one that fails as a
mistyped C{npx} package does (its 404 early, npm's closing lines last)."""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import (
    REPO,
    RunningGateway,
    callEcho,
    errorText,
    waitFor,
    writeConfig,
)
from tests.support.integration.detached import runCli
from tests.support.integration.misbehaving_children import MISBEHAVING, alive, closingStdout

pytestmark = pytest.mark.integration


def server(*args: str, timeoutMs: int = 30_000) -> dict[str, Any]:
    return {
        "command": sys.executable,
        "args": [str(MISBEHAVING), *args],
        "requestTimeout": timeoutMs,
    }


def test_a_child_that_closes_its_stdout_is_replaced(start: Any, home: Path) -> None:
    """Unconfined: bubblewrap's own processes keep a confined child's stdout
    open, so there its closing is seen only when the child ends or a
    request times out (docs/guide/sandbox.md)."""
    config = writeConfig(home / "servers.json", {"mute": server("--close-stdout")})
    gateway: RunningGateway = start("--config", str(config), "--sandbox", "off")
    assert callEcho(gateway.url("mute"), "hello") == "hello"
    pid, described = closingStdout(gateway)
    assert pid not in described["pids"] and described["state"] != "running"
    assert "closed its stdout" in described["lastExit"]
    # Its process group is stopped (stdin EOF, TERM 2 s later) ...
    assert waitFor(lambda: not alive(pid), timeout=10)
    # ... and the next request starts a fresh child, at once: the old one had served.
    assert callEcho(gateway.url("mute"), "again") == "again"
    [fresh] = gateway.health()["servers"]["mute"]["pids"]
    assert fresh != pid
    assert gateway.health()["servers"]["mute"]["circuit"] == "closed"
    assert "Unhandled Error" not in gateway.text()


def test_lines_no_parser_accepts_are_skipped(start: Any, home: Path) -> None:
    config = writeConfig(home / "servers.json", {"noisy": server("--bad-lines")})
    gateway: RunningGateway = start("--config", str(config))
    began = time.monotonic()
    for i in range(3):
        assert callEcho(gateway.url("noisy"), f"call {i}") == f"call {i}"
    assert time.monotonic() - began < 20  # no call waited for a timeout
    described = gateway.health()["servers"]["noisy"]
    assert described["state"] == "running" and described["restarts"] == 0
    log = gateway.text()
    assert "Unhandled Error" not in log and "Traceback" not in log
    skipped = [line for line in log.splitlines() if "non-JSON line to stdout" in line]
    assert skipped  # logged, within the budget (10, then one per 10 s):
    assert len(skipped) <= 12, len(skipped)
    assert max(len(line) for line in skipped) < 1000  # excerpts, never whole lines


def test_a_stderr_flood_is_rate_limited_in_the_log(start: Any, home: Path) -> None:
    flood = 50_000
    config = writeConfig(home / "servers.json", {"loud": server("--stderr-flood", str(flood))})
    gateway: RunningGateway = start("--config", str(config))
    began = time.monotonic()
    assert callEcho(gateway.url("loud"), "hi") == "hi"  # answered after the flood
    with urllib.request.urlopen(
        f"http://127.0.0.1:{gateway.port}/api/v1/servers/loud/logs?follow=false", timeout=10
    ) as response:
        recent = json.loads(response.read())
    elapsed = time.monotonic() - began
    gateway.stop()  # the child's end logs the count of what was left out
    log = gateway.text()
    logged = [line for line in log.splitlines() if "flood line" in line]
    assert 100 <= len(logged) <= 100 + 20 * (elapsed + 2), (len(logged), elapsed)
    summaries = [line for line in log.splitlines() if "stderr line(s) not logged" in line]
    assert summaries, log[-2000:]
    dropped = sum(
        int(count)
        for line in summaries
        for count in re.findall(r"(\d+) stderr line\(s\) not logged", line)
    )
    assert dropped + len(logged) == flood
    # The bounded ring still has the latest lines.
    texts = [e["text"] for e in (recent["events"] if isinstance(recent, dict) else recent)]
    assert f"flood line {flood - 1}: the quick brown fox jumps over the lazy dog" in texts
    assert len(log) < 200_000  # the flood was about 3 MB


def test_a_banner_on_stdout_is_the_cause_every_report_gives(start: Any, home: Path) -> None:
    """The child prints a banner to stdout and never answers C{initialize}:
    the gateway kills it at its start timeout, and C{/health}, C{status} and
    C{doctor} say the gateway killed it because it wrote non-JSON to stdout,
    quoting the banner, not "killed by signal 9"."""
    config = writeConfig(home / "servers.json", {"chatty": server("--banner-only", timeoutMs=2000)})
    gateway: RunningGateway = start("--config", str(config), "--start-timeout", "2")
    with pytest.raises(Exception) as raised:
        callEcho(gateway.url("chatty"), "hello")
    assert "did not answer initialize" in errorText(raised.value)

    def lastExit() -> str:
        return str(gateway.health()["servers"]["chatty"].get("lastExit") or "")

    assert waitFor(lambda: lastExit().startswith("killed by the gateway"), timeout=30), lastExit()
    cause = lastExit()
    assert cause.startswith(
        "killed by the gateway: it wrote non-JSON to stdout and did not answer initialize"
    ), cause
    assert "first stdout line: 'Weather server listening on stdio \\x1b[32m(ready)" in cause
    assert "last stderr: banner written" in cause and "signal 9" not in cause
    status = runCli(home, "status")
    assert f"last exit: {cause}" in status.stdout, status.stdout
    doctor = runCli(home, "doctor")
    assert "killed by the gateway: it wrote non-JSON to stdout" in doctor.stdout, doctor.stdout


def test_a_mistyped_npx_packages_404_is_the_stderr_every_report_gives(
    start: Any, home: Path
) -> None:
    """npm writes its 404 first and six closing lines after it: the exit
    reason quotes the 404, then the last lines."""
    script = REPO / "tests" / "fixtures" / "npm404_server.py"
    config = writeConfig(
        home / "servers.json", {"typo": {"command": sys.executable, "args": [str(script)]}}
    )
    gateway: RunningGateway = start("--config", str(config))
    with pytest.raises(Exception) as raised:
        callEcho(gateway.url("typo"), "hello")
    notFound = "npm error 404 Not Found - GET https://registry.npmjs.org/@modelcontextprotocol"
    assert notFound in errorText(raised.value)
    cause = str(gateway.health()["servers"]["typo"].get("lastExit") or "")
    assert cause.startswith(f"exited with code 1; last stderr: {notFound}"), cause
    assert cause.endswith(
        "npm notice | npm error A complete log of this run can be found in:"
        " /root/.npm/_logs/2026-11-27T10_55_17_355Z-debug-0.log"
    ), cause
    status = runCli(home, "status")
    assert f"last exit: {cause}" in status.stdout, status.stdout

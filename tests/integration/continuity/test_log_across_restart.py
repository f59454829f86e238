"""gateway.log and the audit log across C{mcpgateway restart} and to the end
of C{mcpgateway stop}, as a fresh user runs them (detached, the bundled demo).

Defect C: during the restart's hand-over both processes wrote gateway.log at
their own offsets: the successor's first lines overwrote the old process's
last ones (fragments such as C{"026-11-23T08:41:36+0000 [-] GatewaySite
starting on 9100"}), and audit records could be lost the same way.
Defect D: the log file was closed as the stop began, so it ended at
C{Received SIGTERM, shutting down.}: no child exit, no C{all children
stopped in …s}, no C{Main loop terminated.}.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.ops.statedir import pidAlive
from tests.integration.audittrail import assertVerifies, requestRecords
from tests.integration.gateway import REPO, freePort, waitFor

pytestmark = pytest.mark.integration
VERSION = "2025-11-25"
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} \[[^\]]+\] ")


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A fresh HOME (no ~/.claude.json: the bundled demo is served); a
    gateway a failed test left running is killed."""
    yield tmp_path
    state = tmp_path / "gw" / "state.json"
    try:
        pid = int(json.loads(state.read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return
    if pidAlive(pid):
        os.kill(pid, signal.SIGKILL)


def cli(home: Path, *args: str) -> str:
    env = {
        **os.environ,
        "HOME": str(home),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "MCPGATEWAY_AUDIT_LOG": str(home / "audit.jsonl"),
    }
    env.pop("MCPGATEWAY_HOME", None)
    done = subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", *args, "--state-dir", str(home / "gw")],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class Session:
    """One MCP session on the demo server, over plain HTTP."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sid = ""

    def post(self, message: dict[str, Any]) -> dict[str, Any] | None:
        headers = {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "MCP-Protocol-Version": VERSION,
        }
        if self.sid:
            headers["Mcp-Session-Id"] = self.sid
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("POST", "/demo/mcp", json.dumps(message), headers)
            response = conn.getresponse()
            body = response.read().decode()
            assert response.status in (200, 202), body
            self.sid = response.getheader("mcp-session-id") or self.sid
        finally:
            conn.close()
        if not body.strip():
            return None
        if body.lstrip().startswith("{"):
            return json.loads(body)  # type: ignore[no-any-return]
        data = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
        return data[-1]  # type: ignore[no-any-return]

    def open(self) -> None:
        answer = self.post(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "logtest", "version": "1"},
                },
            }
        )
        assert answer is not None and "result" in answer, answer
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def echo(self, n: int, text: str) -> None:
        answer = self.post(
            {
                "jsonrpc": "2.0",
                "id": n,
                "method": "tools/call",
                "params": {"name": "echo", "arguments": {"message": text}},
            }
        )
        assert answer is not None and text in json.dumps(answer.get("result")), answer


def waitGone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while pidAlive(pid):
        assert time.monotonic() < deadline, f"pid {pid} still runs"
        time.sleep(0.05)


def said(lines: list[str], text: str) -> list[int]:
    """The indexes of the lines whose message contains C{text}."""
    return [i for i, line in enumerate(lines) if text in line]


def test_the_log_has_both_processes_whole_and_every_stop_to_its_end(home: Path) -> None:
    port = freePort()
    cli(home, "start", "--port", str(port))
    first = int(json.loads((home / "gw" / "state.json").read_text())["pid"])
    session = Session(port)
    session.open()
    session.echo(1, "before the restart")  # the demo child runs: its exit is logged at stop

    cli(home, "restart")
    second = int(json.loads((home / "gw" / "state.json").read_text())["pid"])
    assert second != first
    # The predecessor accepts until the successor's word reaches it: the call
    # that must reach the successor waits for that.
    handedOver = "this process accepts no more connections"
    assert waitFor(lambda: handedOver in (home / "gw" / "gateway.log").read_text(), 30)
    session.echo(2, "after the restart")  # the same session, in the successor
    waitGone(first)  # the old process wrote its stop's lines meanwhile

    cli(home, "stop")
    waitGone(second)

    text = (home / "gw" / "gateway.log").read_text()
    lines = text.splitlines()
    # Whole lines only: each starts with a timestamp (a multi-line event's
    # further lines with a tab), so no line was cut or overwritten.
    cut = [line for line in lines if not (STAMP.match(line) or line.startswith("\t"))]
    assert cut == [], text
    # Both processes' start-up, each once.
    assert len(said(lines, "starting up.")) == 2, text  # twistd's first line
    assert len(said(lines, " serving 1 server(s): demo")) == 2, text
    assert len(said(lines, f"listening on 127.0.0.1:{port}")) == 2, text
    assert len(said(lines, "restored 1 session(s)")) == 1, text
    # Both stops to their end: the old process's after the hand-over, the
    # successor's after SIGTERM.
    assert len(said(lines, "all children stopped in ")) == 2, text
    assert len(said(lines, "Main loop terminated.")) == 2, text
    sigterm = said(lines, "Received SIGTERM, shutting down.")
    assert len(sigterm) == 1, text
    tail = lines[sigterm[0] :]
    assert said(tail, "all children stopped in "), text
    assert said(tail, "Main loop terminated."), text
    # The demo's child went to the successor with the restart, kept: it exits
    # once, at the successor's stop.
    assert said(lines, "handed 1 running child(ren) to the next process"), text
    exits = said(lines, "server demo child pid ")
    assert len(exits) == 1 and exits[0] > sigterm[0], text

    # The audit log: one whole record per call, the old process's and the new one's,
    # and its chain intact across the hand-over.
    records = requestRecords(home / "audit.jsonl")
    calls = [r for r in records if r["method"] == "tools/call"]
    assert [r["outcome"] for r in calls] == ["ok", "ok"], records
    assertVerifies(home / "audit.jsonl", home, home / "gw")

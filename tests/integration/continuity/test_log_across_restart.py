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

import json
import re
from pathlib import Path

import pytest

from tests.integration.audittrail import assertVerifies, cli, echo, requestRecords, waitGone
from tests.integration.audittrail import home as home  # the fixture
from tests.integration.gateway import freePort, waitFor
from tests.support.mcpclient import Session

pytestmark = pytest.mark.integration
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} \[[^\]]+\] ")


def said(lines: list[str], text: str) -> list[int]:
    """The indexes of the lines whose message contains C{text}."""
    return [i for i, line in enumerate(lines) if text in line]


def test_the_log_has_both_processes_whole_and_every_stop_to_its_end(home: Path) -> None:
    port = freePort()
    cli(home, "start", "--port", str(port))
    first = int(json.loads((home / "gw" / "state.json").read_text())["pid"])
    session = Session(f"http://127.0.0.1:{port}/demo/mcp", name="logtest")
    session.open()
    echo(session, "before the restart")  # the demo child runs: its exit is logged at stop

    cli(home, "restart")
    second = int(json.loads((home / "gw" / "state.json").read_text())["pid"])
    assert second != first
    # The predecessor accepts until the successor's word reaches it: the call
    # that must reach the successor waits for that.
    handedOver = "this process accepts no more connections"
    assert waitFor(lambda: handedOver in (home / "gw" / "gateway.log").read_text(), 30)
    echo(session, "after the restart")  # the same session, in the successor
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

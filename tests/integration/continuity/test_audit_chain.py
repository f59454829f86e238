"""The audit trail of a real gateway across C{mcpgateway restart}: the old
and the new process each write their segment of the hash chain,
C{mcpgateway audit verify} finds it intact (while the gateway runs and
after it stopped), and names the file and line of a record edited by one
character or of a line deleted."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.ops.auditchain import digest
from mcpgateway.ops.statedir import pidAlive
from tests.integration.audittrail import auditVerify, requestRecords
from tests.integration.gateway import REPO, freePort, waitFor

pytestmark = pytest.mark.integration
VERSION = "2025-11-25"


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A fresh HOME (the bundled demo is served); a gateway a failed test
    left running is killed."""
    yield tmp_path
    try:
        pid = int(json.loads((tmp_path / "gw" / "state.json").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return
    if pidAlive(pid):
        os.kill(pid, signal.SIGKILL)


def cli(home: Path, *args: str) -> str:
    """C{mcpgateway ARGS...} on the test's state directory, its audit log
    given by the environment (so C{restart} hands it to the successor)."""
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


def gatewayPid(home: Path) -> int:
    return int(json.loads((home / "gw" / "state.json").read_text())["pid"])


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
                    "clientInfo": {"name": "audittest", "version": "1"},
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


def echoes(path: Path) -> list[dict[str, Any]]:
    try:
        return [r for r in requestRecords(path) if r["method"] == "tools/call"]
    except (OSError, ValueError):
        return []  # not written yet, or a line being written


def verdict(path: Path) -> tuple[int, str, dict[str, Any]]:
    """C{audit verify PATH}: its exit code, its text, its C{--json} document."""
    text = auditVerify(str(path), stateDir=path.parent / "gw")
    document = auditVerify("--json", str(path), stateDir=path.parent / "gw")
    assert document.returncode == text.returncode, document.stdout + document.stderr
    return text.returncode, text.stdout + text.stderr, json.loads(document.stdout)


def test_a_trail_across_a_restart_verifies_and_names_an_edit_and_a_deletion(
    home: Path,
) -> None:
    trail = home / "audit.jsonl"
    port = freePort()
    cli(home, "start", "--port", str(port))
    first = gatewayPid(home)
    session = Session(port)
    session.open()
    texts = [f"call {n}" for n in range(6)]
    for n in range(3):
        session.echo(n + 1, texts[n])

    cli(home, "restart")
    second = gatewayPid(home)
    assert second != first
    for n in range(3, 6):
        session.echo(n + 1, texts[n])  # the same session, in the successor
    waitGone(first)  # the old process ended its segment

    # While the successor runs: every call recorded (within a second), the trail intact.
    assert waitFor(lambda: len(echoes(trail)) == 6, timeout=10), trail.read_text()
    code, text, document = verdict(trail)
    assert code == 0, text
    assert document["intact"] and document["segments"] == 2, document
    assert len(document["open"]) == 1  # the successor's segment, still written to

    cli(home, "stop")
    waitGone(second)
    code, text, document = verdict(trail)
    assert code == 0, text
    assert text.startswith("intact: ") and "2 segment(s)" in text, text
    assert document["open"] == [] and document["anchored"] == 0, document

    original = trail.read_bytes()
    entries = [json.loads(line) for line in original.splitlines()]
    starts = [e for e in entries if e["kind"] == "segment"]
    assert [s["pid"] for s in starts] == [first, second]
    assert starts[0]["prev"] is None  # the first segment began the file
    assert starts[1]["prev"] in {e["hash"] for e in entries[: entries.index(starts[1])]}
    calls = [e for e in entries if e.get("method") == "tools/call"]
    assert [c["argsDigest"] for c in calls] == [digest({"message": t}) for t in texts]
    assert {c["seg"] for c in calls[:3]} == {starts[0]["seg"]}
    # (a call just after the restart may still be the old process's: it
    # stops accepting once the successor listens)
    assert all(c["decision"] == "allowed" and c["outcome"] == "ok" for c in calls)

    # One character of a request record edited: that file and line are named.
    victim = entries.index(calls[4])
    lines = original.splitlines(keepends=True)
    assert b'"tool":"echo"' in lines[victim]
    lines[victim] = lines[victim].replace(b'"tool":"echo"', b'"tool":"echO"')
    trail.write_bytes(b"".join(lines))
    code, text, document = verdict(trail)
    assert code == 1, text
    assert f"NOT INTACT: {trail}:{victim + 1}: edited" in text, text
    assert document["problem"] == {
        "file": str(trail),
        "line": victim + 1,
        "kind": "edited",
        "detail": "its MAC does not match its content under the audit key: edited, or"
        " sealed again by someone without the key (or the key is not this trail's)",
    }

    # The line deleted instead: the next record of its segment names it missing.
    lines = original.splitlines(keepends=True)
    del lines[victim]
    trail.write_bytes(b"".join(lines))
    code, text, document = verdict(trail)
    assert code == 1, text
    seg, number = calls[4]["seg"], calls[4]["n"]
    after = next(
        i for i, e in enumerate(entries) if e["seg"] == seg and e["n"] == number + 1
    )  # its successor, one line up now
    assert f"NOT INTACT: {trail}:{after}: removed" in text, text
    assert f"record {number} of segment {seg}" in text, text
    assert (document["problem"]["line"], document["problem"]["kind"]) == (after, "removed")

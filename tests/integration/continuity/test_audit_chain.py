"""The audit trail of a real gateway across C{mcpgateway restart}: the old
and the new process each write their segment of the hash chain,
C{mcpgateway audit verify} finds it intact (while the gateway runs and
after it stopped), and names the file and line of a record edited by one
character or of a line deleted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.ops.auditchain import digest
from tests.integration.audittrail import (
    auditVerify,
    cli,
    echo,
    gatewayPid,
    requestRecords,
    waitGone,
)
from tests.integration.audittrail import home as home  # the fixture
from tests.integration.gateway import freePort, waitFor
from tests.support.mcpclient import Session

pytestmark = pytest.mark.integration


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
    session = Session(f"http://127.0.0.1:{port}/demo/mcp", name="audittest")
    session.open()
    texts = [f"call {n}" for n in range(6)]
    for n in range(3):
        echo(session, texts[n])

    cli(home, "restart")
    second = gatewayPid(home)
    assert second != first
    for n in range(3, 6):
        echo(session, texts[n])  # the same session, in the successor
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

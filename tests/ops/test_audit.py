"""The audit log file: nothing opened before C{startService}, mode 0600,
lines buffered and written once a second on the clock and at stop,
rotation, refusals rate-limited, payloads only when asked, strict JSON."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mcpgateway.config.references import MIN_REDACTED, Redactor
from mcpgateway.ops.audit import AuditLog
from tests.support.jsonvalues import jsonValues
from tests.support.ops.audit import RECORDED, lines, record


def test_nothing_is_opened_before_start_and_lines_wait_for_the_clock(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, clock)
    log.record(record())  # before start (twistd has not daemonized yet): kept in memory
    assert not path.exists()
    log.startService()
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert lines(path) == []
        log.record(record(method="ping", tool=None))
        clock.advance(1.0)
        assert [(r["method"], r["tool"]) for r in lines(path)] == [
            ("tools/call", "echo"),
            ("ping", None),
        ]
        assert lines(path)[0] == {
            **RECORDED,
            "resource": {"server": "srv", "tool": "echo"},
            "decision": "allowed",
            "policies": [],
        }
        log.record(record(method="last"))
    finally:
        log.stopService()
    assert lines(path)[-1]["method"] == "last"  # flushed at stop
    assert clock.getDelayedCalls() == []


def test_a_full_buffer_is_written_at_once(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, clock)
    log.startService()
    try:
        for _ in range(log.FLUSH_RECORDS):
            log.record(record())
        assert len(lines(path)) == log.FLUSH_RECORDS
    finally:
        log.stopService()


def test_rotation_keeps_the_mode_and_the_count(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, clock, rotateLength=300, maxFiles=2)
    log.startService()
    try:
        for _ in range(6):
            for _ in range(3):
                log.record(record())
            clock.advance(1.0)
    finally:
        log.stopService()
    rotated = sorted(p.name for p in tmp_path.iterdir())
    assert rotated == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    for name in rotated:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_refusals_are_rate_limited_and_the_next_line_says_how_many_were_left_out(
    tmp_path: Path,
) -> None:
    clock = Clock()
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, clock, refusalsPerSecond=3)
    log.startService()
    try:
        for _ in range(10):
            log.record(record("refused", status=401))
        log.record(record("ok"))  # never rate-limited
        clock.advance(1.0)
        log.record(record("refused", status=401))
        clock.advance(1.0)
    finally:
        log.stopService()
    written = lines(path)
    assert [r["outcome"] for r in written] == ["refused"] * 3 + ["ok", "refused"]
    assert written[-1]["suppressed"] == 7
    assert "suppressed" not in written[0]


def test_payloads_only_when_asked(tmp_path: Path) -> None:
    clock = Clock()
    for payloads, expected in ((False, None), (True, {"arguments": {"a": 1}})):
        path = tmp_path / f"audit-{payloads}.jsonl"
        log = AuditLog(path, clock, payloads=payloads)
        log.startService()
        log.record(record(payload={"arguments": {"a": 1}}))
        log.stopService()
        assert lines(path)[0].get("payload") == expected


def secrets(values: dict[str, str]) -> Callable[[str], Callable[[str], str] | None]:
    """The redaction of server C{srv}'s secrets (C{values}: by their
    reference's text), as the gateway's children hold them."""
    redactor = Redactor(values)
    return lambda server: redactor if server == "srv" else None


def test_a_servers_secrets_are_taken_out_of_every_string_of_the_payload(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    secret = 'pa"ss\\wörd-42'  # escaped in JSON text: found before the escaping
    log = AuditLog(path, Clock(), payloads=True, redact=secrets({"${keyring:pw}": secret}))
    log.startService()
    log.record(
        record(
            payload={
                "arguments": {"note": f"use {secret} now", secret: [secret]},
                "result": {"content": [{"type": "text", "text": f"token={secret}"}]},
            }
        )
    )
    log.record(record(server="other", payload={"arguments": {"note": secret}}))
    log.stopService()
    [mine, other] = lines(path)
    assert mine["payload"] == {
        "arguments": {"note": "use ${keyring:pw} now", "${keyring:pw}": ["${keyring:pw}"]},
        "result": {"content": [{"type": "text", "text": "token=${keyring:pw}"}]},
    }
    assert other["payload"] == {"arguments": {"note": secret}}  # not its secret


def test_the_secrets_are_those_of_the_children_when_the_record_is_kept(tmp_path: Path) -> None:
    """A child that ends before the write (within the second) still has
    its secrets taken out of the records of its requests."""
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    running: dict[str, Callable[[str], str]] = {"srv": Redactor({"${env:KEY}": "sk-live-123"})}
    log = AuditLog(path, clock, payloads=True, redact=running.get)
    log.startService()
    log.record(record(payload={"result": "key sk-live-123"}))
    del running["srv"]  # its child exited
    clock.advance(1.0)
    log.stopService()
    assert lines(path)[0]["payload"] == {"result": "key ${env:KEY}"}


def test_a_payload_whose_secrets_cannot_be_found_is_left_out(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"

    def broken(server: str) -> Callable[[str], str] | None:
        raise RuntimeError("no pools")

    log = AuditLog(path, Clock(), payloads=True, redact=broken)
    log.startService()
    log.record(record(payload={"arguments": {"a": "sk-live-123"}}))
    log.stopService()
    [line] = lines(path)
    assert "payload" not in line and line["outcome"] == "ok"


def test_an_unwritable_place_is_one_error_and_no_records(tmp_path: Path) -> None:
    clock = Clock()
    log = AuditLog(tmp_path / "missing" / "audit.jsonl", clock)
    log.startService()
    log.record(record())
    log.stopService()
    assert log.failed and log.records == 0


values = jsonValues(text=20, keys=8, items=4, leaves=12, nan=True)


@settings(max_examples=50, deadline=None)
@given(arguments=values)
def test_every_payload_is_written_as_strict_json(tmp_path_factory: Any, arguments: Any) -> None:
    clock = Clock()
    path = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    log = AuditLog(path, clock, payloads=True)
    log.startService()
    log.record(record(payload={"arguments": arguments}))
    log.stopService()
    strict = [
        json.loads(line, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
        for line in path.read_text().splitlines()
    ]
    assert [entry["tool"] for entry in strict if "tool" in entry] == ["echo"], strict


def test_a_long_payload_is_cut_at_64_kib(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, clock, payloads=True)
    log.startService()
    log.record(record(payload={"arguments": {"blob": "x" * 100_000}, "result": {"ok": 1}}))
    log.stopService()
    [line] = lines(path)
    assert line["payload"]["truncated"] is True
    assert len(line["payload"]["arguments"]) == 65536
    assert line["payload"]["arguments"].startswith('{"blob":"xxx')
    assert line["payload"]["result"] == {"ok": 1}


@settings(max_examples=50, deadline=None)
@given(
    secret=st.text(min_size=MIN_REDACTED, max_size=12).filter(
        lambda s: "$" not in s and "}" not in s and s not in "${keyring:k}"
    ),  # (the reference's own text cannot make it up again)
    arguments=values,
)
def test_a_secret_is_nowhere_in_the_file(
    tmp_path_factory: Any, secret: str, arguments: Any
) -> None:
    path = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    log = AuditLog(path, Clock(), payloads=True, redact=secrets({"${keyring:k}": secret}))
    log.startService()
    log.record(record(payload={"arguments": {"x": [arguments, f"<{secret}>"]}, "result": secret}))
    log.stopService()
    [line] = lines(path)
    for text in _strings(line["payload"]):
        assert secret not in text


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value, *(s for v in value.values() for s in _strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_a_member_request_names_the_members_resource() -> None:
    """A request of an aggregate endpoint is recorded under the endpoint
    and the name its client sent, and acted on its member's resource."""
    line = record(
        server="/mcp", tool="files__write_file", member=("files", "tools/call", "write_file")
    ).line()
    assert (line["server"], line["tool"]) == ("/mcp", "files__write_file")
    assert line["resource"] == {"server": "files", "tool": "write_file"}
    read = record(server="/mcp", method="resources/read", member=("files", "resources/read", "a"))
    assert read.line()["resource"] == {"server": "files", "uri": "a"}
    assert record().line()["resource"] == {"server": "srv", "tool": "echo"}

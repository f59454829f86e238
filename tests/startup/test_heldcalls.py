"""The gateway's held calls as a service (L{mcpgateway.startup.heldcalls}):
made on first use, swept on the clock once made and started, stopped with
the service; and each change of a held call's state in the audit trail."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
from twisted.application.service import MultiService
from twisted.internet.task import Clock

from mcpgateway import tap
from mcpgateway.flow.held import HeldCall, HeldState
from mcpgateway.flow.labels import Label
from mcpgateway.ops.audit import AuditRecord
from mcpgateway.startup import wiring
from mcpgateway.startup.heldcalls import (
    SWEEP_SECONDS,
    HeldCallsService,
    auditRecorder,
    wireHeldCalls,
)
from tests.fakes import FakeProcessReactor
from tests.http import sendLines
from tests.support.config.resolve import fired
from tests.support.runtime.fresh import demoConfig

ARGS = {"title": "hello"}


class FakeAudit:
    payloads = False

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def record(self, entry: AuditRecord) -> None:
        self.records.append(entry)


def test_the_store_is_made_on_first_use_and_swept_once_started() -> None:
    clock = Clock()
    service = HeldCallsService(clock)
    service.startService()
    assert not service.made and clock.getDelayedCalls() == []  # nothing ticks for nothing
    store = service.store()
    assert service.store() is store and service.made and service.sweeping
    clock.advance(2)  # held between two sweeps
    call = store.hold("", ("", "pid", "1"), "s", "t", ARGS, "v1")
    waited = store.whenDecided(call.id)
    clock.advance(store.holdSeconds - 1)
    clock.advance(1)
    assert not waited.called  # no sweep has run since the expiry
    clock.advance(SWEEP_SECONDS - 2)
    assert fired(waited).state is HeldState.EXPIRED
    service.stopService()
    assert not service.sweeping and clock.getDelayedCalls() == []


def test_a_store_made_before_the_start_is_swept_from_the_start() -> None:
    """twistd forks between making the tree and starting it: no timer
    before the start."""
    clock = Clock()
    service = HeldCallsService(clock, interval=1.0)
    service.store()
    assert not service.sweeping and clock.getDelayedCalls() == []
    service.startService()
    assert service.sweeping
    service.stopService()
    service.startService()  # started again: swept again
    assert service.sweeping
    service.stopService()


def test_it_is_wired_under_the_tree_with_the_audit_trail() -> None:
    clock = Clock()
    top = MultiService()
    audit = FakeAudit()
    service = wireHeldCalls(clock, top, audit)
    assert service.parent is top
    call = service.store().hold("", ("", "pid", "1"), "s", "t", ARGS, "v1")
    assert [r.method for r in audit.records] == ["approvals/held"]
    service.store().allow(call.id, "owner")
    assert audit.records[-1].method == "approvals/allowed"
    assert (
        wireHeldCalls(clock, MultiService(), None)
        .store()
        .hold("", ("", "pid", "1"), "s", "t", ARGS, "v1")
    )


def test_each_change_is_an_audit_record() -> None:
    clock = Clock()
    clock.advance(50)
    audit = FakeAudit()
    record = auditRecorder(audit, clock)
    base = HeldCall(
        id="abc",
        principal="key-alice",
        client=("key-alice", "client", "claude"),
        server="github",
        tool="create_issue",
        arguments=ARGS,
        labels=frozenset(Label),
        reason="the client has read untrusted content",
        policyVersion="v1",
        created=10.0,
        expiry=70.0,
        digest="sha256:00",
    )
    for state, by, why in (
        (HeldState.PENDING, None, ""),
        (HeldState.ALLOWED, "key-root", ""),
        (HeldState.USED, "key-root", ""),
        (HeldState.DENIED, "owner", "not that repo"),
        (HeldState.EXPIRED, None, ""),
    ):
        record(replace(base, state=state, decidedBy=by, denyReason=why))
    lines = [r.line() for r in audit.records]
    assert [line["method"] for line in lines] == [
        "approvals/held",
        "approvals/allowed",
        "approvals/used",
        "approvals/denied",
        "approvals/expired",
    ]
    assert [line["decision"] for line in lines] == [
        "denied",
        "allowed",
        "allowed",
        "denied",
        "denied",
    ]
    assert [line["via"] for line in lines] == [
        None,
        "person:key-root",
        None,
        "person:owner",
        "clock",
    ]
    assert lines[3]["reason"] == "denied: not that repo"
    assert lines[0]["reason"] == "held: the client has read untrusted content"
    assert all(line["policies"] == ["flow"] for line in lines)
    assert all(
        line["principal"] == "key-alice" and line["tool"] == "create_issue" for line in lines
    )
    assert all(line["ts"] == 50 and line["argsDigest"].startswith("sha256:") for line in lines)
    assert "hello" not in repr(lines)


def test_the_gateway_hands_its_held_calls_to_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    # The owner's door asks the kernel who holds a connection: this one is in memory.
    monkeypatch.setattr(wiring, "doorFor", lambda *args, **kwargs: None)
    options = tap.Options()
    options.parseOptions(
        [
            "--port",
            "9312",
            "--config",
            str(demoConfig(tmp_path)),
            "--state-dir",
            str(tmp_path / "st"),
        ]
    )
    reactor = FakeProcessReactor()
    top = tap.makeService(options, reactor)
    [service] = [s for s in cast(MultiService, top) if isinstance(s, HeldCallsService)]
    assert not service.made  # nothing held, nothing asked: not made
    top.startService()
    try:
        [(_, site, _, _)] = reactor.tcpServers
        call = service.store().hold("", ("", "pid", "1"), "s", "t", ARGS, "v1")
        lines = ["GET /api/v1/approvals HTTP/1.1", "host: 127.0.0.1:9312", "content-length: 0"]
        response = sendLines(site, lines, b"", "127.0.0.1")
        assert response.status == 200, response.body
        assert [c["id"] for c in response.json()["pending"]] == [call.id]
        assert service.sweeping
    finally:
        top.stopService()
    assert not service.sweeping


def test_the_gateway_hands_its_held_calls_to_the_console_which_never_makes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(wiring, "doorFor", lambda *args, **kwargs: None)
    options = tap.Options()
    options.parseOptions(
        [
            "--port",
            "9313",
            "--config",
            str(demoConfig(tmp_path)),
            "--state-dir",
            str(tmp_path / "st"),
        ]
    )
    reactor = FakeProcessReactor()
    top = tap.makeService(options, reactor)
    [service] = [s for s in cast(MultiService, top) if isinstance(s, HeldCallsService)]
    top.startService()

    def get(path: str) -> str:
        lines = [f"GET {path} HTTP/1.1", "host: 127.0.0.1:9313", "content-length: 0"]
        response = sendLines(site, lines, b"", "127.0.0.1")
        assert response.status == 200, response.body
        return response.body.decode()

    try:
        [(_, site, _, _)] = reactor.tcpServers
        assert 'id="held-count">0<' in get("/")
        assert "No call waits" in get("/status/approvals")
        assert service.existing() is None and not service.made  # reading makes nothing
        call = service.store().hold("", ("", "pid", "1"), "s", "t", ARGS, "v1")
        assert service.existing() is service.store()
        assert 'id="held-count">1<' in get("/")
        assert f'data-call="{call.id}"' in get("/status/approvals")
    finally:
        top.stopService()

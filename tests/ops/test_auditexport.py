"""The audit trail's copies: RFC 5424 syslog datagrams (framing, severity,
a Unix socket or UDP, a lost send counted) and OpenTelemetry log records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from twisted.internet.task import Clock

from mcpgateway.core.decision import Decision
from mcpgateway.ops.audit import AuditLog
from mcpgateway.ops.auditexport import SyslogExporter, SyslogTarget, frame, parseTarget
from mcpgateway.ops.otelaudit import OtelAuditExporter
from tests.support.ops.auditverify import record


class Datagrams:
    """A datagram transport that keeps what is written."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[bytes, Any]] = []
        self.fail = fail
        self.closed = False

    def write(self, data: bytes, addr: Any = None) -> None:
        if self.fail:
            raise OSError("connection refused")
        self.sent.append((data, addr))

    def stopListening(self) -> None:
        self.closed = True

    def loseConnection(self) -> None:
        self.closed = True


class DatagramReactor:
    """A reactor's datagram methods: the transports they open."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, Any]] = []

    def listenUDP(self, port: int, protocol: Any, *rest: object) -> Datagrams:
        self.opened.append(("udp", port))
        return Datagrams()

    def connectUNIXDatagram(self, path: str, protocol: Any, *rest: object) -> Datagrams:
        self.opened.append(("unix", path))
        return Datagrams()


def test_targets_are_parsed() -> None:
    assert parseTarget("unix:///dev/log") == SyslogTarget(unix="/dev/log")
    assert parseTarget("unix:/dev/log") == SyslogTarget(unix="/dev/log")
    assert parseTarget("udp:127.0.0.1:5514") == SyslogTarget(host="127.0.0.1", port=5514)
    assert parseTarget("udp:[::1]:514") == SyslogTarget(host="::1", port=514)
    for bad in ("tcp:x:1", "udp:host", "udp:host:0", "unix:dev/log"):
        with pytest.raises(ValueError):
            parseTarget(bad)


def test_a_line_is_framed_as_rfc_5424() -> None:
    line = b'{"kind":"request","hash":"ab"}'
    data = frame(line, {"ts": 1767225600.25, "decision": "allowed"}, "gw", 42)
    assert data == b"<86>1 2026-01-01T00:00:00.250Z gw mcpgateway 42 audit - " + line
    denied = frame(line, {"ts": 0, "decision": "denied"}, "gw", 42)
    assert denied.startswith(b"<84>1 1970-01-01T00:00:00.000Z ")
    assert frame(line, {"kind": "segment"}, "", 1, now=0).startswith(b"<85>1 1970")
    assert len(frame(b"x" * 20000, {}, "gw", 1, now=0)) == 8192


def test_each_written_line_goes_to_syslog_over_udp(tmp_path: Path) -> None:
    reactor = DatagramReactor()
    exporter = SyslogExporter(SyslogTarget(host="10.0.0.9", port=514), reactor, host="gw.example")
    transport = Datagrams()
    exporter._transport = transport
    log = AuditLog(tmp_path / "audit.jsonl", Clock(), exporters=(exporter,))
    log.startService()
    log.record(record(0, decision=Decision("denied", ("p1",), "no")))
    log.stopService()
    assert transport.closed
    file = (tmp_path / "audit.jsonl").read_bytes().splitlines()
    assert [addr for _, addr in transport.sent] == [("10.0.0.9", 514)] * 3
    heads = [data.split(b" - ", 1)[0] for data, _ in transport.sent]
    assert [h.split(b">")[0] for h in heads] == [b"<85", b"<84", b"<85"]
    assert all(b" gw mcpgateway " in h for h in heads)
    assert [data.split(b" audit - ", 1)[1] for data, _ in transport.sent] == file


def test_the_socket_is_opened_on_the_reactor_at_the_first_line() -> None:
    for target, opened in (
        (SyslogTarget(host="127.0.0.1", port=514), ("udp", 0)),
        (SyslogTarget(unix="/dev/log"), ("unix", "/dev/log")),
    ):
        reactor = DatagramReactor()
        exporter = SyslogExporter(target, reactor, host="gw")
        assert reactor.opened == []
        exporter.export(b"{}", {})
        exporter.export(b"{}", {})
        assert reactor.opened == [opened]
        assert len(exporter._transport.sent) == 2


def test_a_lost_send_is_counted_not_raised() -> None:
    exporter = SyslogExporter(SyslogTarget(unix="/dev/log"), DatagramReactor(), host="gw")
    exporter._transport = Datagrams(fail=True)
    exporter.export(b"{}", {})
    exporter.export(b"{}", {})
    assert exporter.lost == 2


def test_each_written_line_goes_to_opentelemetry_logs(tmp_path: Path) -> None:
    memory = InMemoryLogRecordExporter()
    exporter = OtelAuditExporter(memory)
    clock = Clock()
    log = AuditLog(tmp_path / "audit.jsonl", clock, exporters=(exporter,))
    assert exporter.provider is None  # made with the first line written: the segment's start
    log.startService()
    assert exporter.provider is not None
    log.record(record(0, decision=Decision("limited", ("per-user",), "slow down", 1.0)))
    clock.advance(1.0)
    exporter.provider.force_flush()
    [segment, request] = [item.log_record for item in memory.get_finished_logs()]
    assert json.loads(str(request.body))["decision"] == "limited"
    assert request.attributes is not None
    assert request.attributes["mcpgateway.audit.decision"] == "limited"
    assert list(request.attributes["mcpgateway.audit.policies"]) == ["per-user"]
    assert request.severity_text == "WARNING"
    assert json.loads(str(segment.body))["kind"] == "segment"
    log.stopService()
    assert exporter.provider is None

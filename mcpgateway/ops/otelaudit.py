# -*- test-case-name: tests.ops.test_auditexport -*-
"""The audit trail as OpenTelemetry logs (C{--audit-otel}): each sealed
line a log record (its body the line, its attributes the record's
principal, method, server, resource, decision and outcome) through the
SDK's C{BatchLogRecordProcessor} (its own thread exports) to the OTLP/HTTP
logs exporter of the C{otel} extra, configured by the standard environment
(C{OTEL_EXPORTER_OTLP_ENDPOINT}, C{OTEL_EXPORTER_OTLP_LOGS_ENDPOINT}, ...).
Imported only when asked for; the SDK's logs API is still marked
experimental (C{opentelemetry.sdk._logs}).
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.resources import Resource

from mcpgateway import __version__
from mcpgateway.ops.auditexport import severityOf

_SEVERITY = {
    "info": SeverityNumber.INFO,
    "notice": SeverityNumber.INFO2,
    "warning": SeverityNumber.WARN,
}
_ATTRIBUTES = ("principal", "method", "server", "tool", "decision", "outcome", "seg", "kind")


class OtelAuditExporter:
    """Sends each sealed line as an OpenTelemetry log record."""

    def __init__(self, exporter: LogRecordExporter | None = None) -> None:
        """
        @param exporter: where the records go (C{None}: OTLP over HTTP).
            The provider and its thread are made at the first record (after
            twistd daemonized).
        """
        self._exporter = exporter
        self.provider: LoggerProvider | None = None
        self._logger: Any = None

    def _open(self) -> Any:
        if self._logger is None:
            exporter = self._exporter
            if exporter is None:
                from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

                exporter = OTLPLogExporter()
            self.provider = LoggerProvider(
                resource=Resource.create(
                    {"service.name": "mcpgateway", "service.version": __version__}
                )
            )
            self.provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
            self._logger = self.provider.get_logger("mcpgateway.audit", __version__)
        return self._logger

    def export(self, line: bytes, record: dict[str, Any]) -> None:
        """Queue one line (the processor's thread sends it)."""
        severity = severityOf(record)
        attributes: dict[str, Any] = {
            f"mcpgateway.audit.{key}": record[key]
            for key in _ATTRIBUTES
            if isinstance(record.get(key), (str, int, float, bool))
        }
        policies = record.get("policies")
        if isinstance(policies, list) and policies:
            attributes["mcpgateway.audit.policies"] = [str(p) for p in policies]
        ts = record.get("ts")
        stamp = float(ts) if isinstance(ts, (int, float)) else time.time()
        self._open().emit(
            LogRecord(
                timestamp=int(stamp * 1e9),
                severity_text=severity.upper(),
                severity_number=_SEVERITY[severity],
                body=line.decode("utf-8", "replace"),
                attributes=attributes,
                event_name="mcpgateway.audit",
            )
        )

    def close(self) -> None:
        """Flush and stop (blocking up to the SDK's timeout: at the process's end)."""
        provider, self.provider, self._logger = self.provider, None, None
        if provider is not None:
            provider.shutdown()

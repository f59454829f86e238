# -*- test-case-name: tests.ops.test_otel -*-
"""The OpenTelemetry SDK behind L{mcpgateway.core.tracing}: imported only
with C{--otel} or C{OTEL_EXPORTER_OTLP_ENDPOINT} (the C{otel} extra:
C{pip install 'mcpgateway[otel]'}), after twistd daemonized.

Spans go through a C{BatchSpanProcessor} (its own thread exports them) to
the OTLP/HTTP exporter; the convention's duration histograms through a
C{PeriodicExportingMetricReader} (its own thread too). The exporters read
the standard environment (C{OTEL_EXPORTER_OTLP_ENDPOINT}, default
C{http://localhost:4318}, C{OTEL_EXPORTER_OTLP_HEADERS}, C{OTEL_SERVICE_NAME},
C{OTEL_RESOURCE_ATTRIBUTES}, ...). Nothing here runs an export on the
reactor thread: ending a span only queues it, and L{OtelTracer.shutdown}
(flush and stop) is called in a thread by L{TracingService}.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.metrics import Histogram
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState, format_span_id, format_trace_id
from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger

from mcpgateway import __version__, logs
from mcpgateway.core import tracing
from mcpgateway.core.tracing import AttributeValue, SpanContext

DURATION_BOUNDARIES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
"""The boundaries the MCP conventions advise for the duration histograms."""
_DESCRIPTIONS = {
    "mcp.server.operation.duration": "MCP request duration as observed on the receiver"
    " (the gateway) from the time it was received until the result was sent.",
    "mcp.client.operation.duration": "MCP request duration as observed on the sender"
    " (the gateway, to a child) from the time it was sent until the response arrived.",
    "mcp.server.session.duration": "The duration of an MCP session as observed on the gateway.",
}
_KINDS = {"server": SpanKind.SERVER, "client": SpanKind.CLIENT}


class OtelSpan:
    """A L{tracing.Span} over an SDK span."""

    __slots__ = ("_span",)

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    @property
    def context(self) -> SpanContext:
        ctx = self._span.get_span_context()
        return SpanContext(
            format_trace_id(ctx.trace_id),
            format_span_id(ctx.span_id),
            int(ctx.trace_flags),
            ctx.trace_state.to_header() if ctx.trace_state else "",
        )

    def setAttribute(self, key: str, value: AttributeValue) -> None:
        self._span.set_attribute(key, value)

    def setError(self, errorType: str, description: str) -> None:
        self._span.set_attribute("error.type", errorType)
        self._span.set_status(Status(StatusCode.ERROR, description))

    def end(self) -> None:
        self._span.end()


def remoteParent(parent: SpanContext) -> Any:
    """An SDK context whose current span is the remote C{parent}."""
    state = TraceState.from_header([parent.state]) if parent.state else None
    remote = trace.SpanContext(
        trace_id=int(parent.traceId, 16),
        span_id=int(parent.spanId, 16),
        is_remote=True,
        trace_flags=TraceFlags(parent.flags & 0xFF),
        trace_state=state,
    )
    return trace.set_span_in_context(NonRecordingSpan(remote))


class OtelTracer:
    """The L{tracing.Tracer} of the OpenTelemetry SDK.

    @param spanProcessor: where ended spans go (C{None}: a
        C{BatchSpanProcessor} over the OTLP/HTTP exporter).
    @param metricReader: what reads the histograms (C{None}: a
        C{PeriodicExportingMetricReader} over the OTLP/HTTP exporter).
    """

    def __init__(
        self,
        spanProcessor: SpanProcessor | None = None,
        metricReader: MetricReader | None = None,
        resource: Mapping[str, str] | None = None,
    ) -> None:
        attributes: dict[str, str] = {
            "service.version": __version__,
            "process.runtime.name": platform.python_implementation().lower(),
            "process.runtime.version": platform.python_version(),
        }
        attributes.update(resource or {})
        # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
        made = Resource.create(attributes)
        if str(made.attributes.get("service.name", "")).startswith("unknown_service"):
            made = made.merge(Resource({"service.name": "mcpgateway"}))
        if spanProcessor is None:
            spanProcessor = BatchSpanProcessor(_spanExporter())
        if metricReader is None:
            metricReader = PeriodicExportingMetricReader(_metricExporter())
        self.tracerProvider = TracerProvider(resource=made, shutdown_on_exit=False)
        self.tracerProvider.add_span_processor(spanProcessor)
        self.meterProvider = MeterProvider(
            resource=made, metric_readers=[metricReader], shutdown_on_exit=False
        )
        self._tracer = self.tracerProvider.get_tracer("mcpgateway", __version__)
        meter = self.meterProvider.get_meter("mcpgateway", __version__)
        self._histograms: dict[str, Histogram] = {
            name: meter.create_histogram(
                name,
                unit="s",
                description=text,
                explicit_bucket_boundaries_advisory=DURATION_BOUNDARIES,
            )
            for name, text in _DESCRIPTIONS.items()
        }

    def startSpan(
        self,
        name: str,
        kind: tracing.SpanKind,
        parent: SpanContext | None,
        attributes: Mapping[str, AttributeValue],
    ) -> OtelSpan:
        context = remoteParent(parent) if parent is not None else None
        span = self._tracer.start_span(
            name, context=context, kind=_KINDS[kind], attributes=dict(attributes)
        )
        return OtelSpan(span)

    def recordDuration(
        self, metric: str, seconds: float, attributes: Mapping[str, AttributeValue]
    ) -> None:
        histogram = self._histograms.get(metric)
        if histogram is not None:
            histogram.record(seconds, dict(attributes))

    def shutdown(self) -> None:
        """Export what is left and stop (blocking: call it in a thread)."""
        try:
            self.tracerProvider.shutdown()
        finally:
            self.meterProvider.shutdown()


def _spanExporter() -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(timeout=5)


def _metricExporter() -> Any:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(timeout=5)


class TracingService(Service):
    """Traces the gateway from C{startService} (after twistd daemonized: the
    SDK's export threads belong to the daemon) until C{stopService}, which
    flushes and stops the SDK in a thread of the reactor's pool."""

    log = Logger(observer=logs.observer)

    def __init__(self, reactor: Any, make: Callable[[], OtelTracer] | None = None) -> None:
        """
        @param make: builds the tracer (C{None}: L{OtelTracer} with its
            OTLP/HTTP exporters).
        """
        self._reactor = reactor
        self._make: Callable[[], OtelTracer] = make if make is not None else OtelTracer
        self.tracer: OtelTracer | None = None

    def startService(self) -> None:
        super().startService()
        self.tracer = self._make()
        tracing.install(self.tracer)
        self.log.info("tracing: OpenTelemetry spans and metrics are exported over OTLP/HTTP")

    def stopService(self) -> Deferred[None] | None:
        super().stopService()
        active, self.tracer = self.tracer, None
        if active is None:
            return None
        if tracing.tracer is active:
            tracing.install(None)
        done: Deferred[None] = deferToThreadPool(
            self._reactor, self._reactor.getThreadPool(), active.shutdown
        )
        done.addErrback(lambda f: self.log.failure("flushing the traces failed", f))
        return done

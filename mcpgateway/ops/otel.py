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

The stop is bounded: both providers flush at once, and after
L{SHUTDOWN_DEADLINE} seconds in all (an unresponsive collector: the SDK
would wait 5 s per export and retry) the gateway gives up on what is left
and stops anyway, within C{mcpgateway stop}'s wait. What the SDK logs
(Python C{logging}: an export that failed, a retry) is one structured
warning line each in the gateway's log (L{SdkLogBridge}), not text on
stderr.
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

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
from twisted.python.failure import Failure

from mcpgateway import __version__
from mcpgateway.core import tracing
from mcpgateway.core.tracing import AttributeValue, SpanContext
from mcpgateway.runtime import logs

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorFromThreads, IReactorThreads

DURATION_BOUNDARIES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
"""The boundaries the MCP conventions advise for the duration histograms."""
_DESCRIPTIONS = {
    "mcp.server.operation.duration": "MCP request duration as observed on the receiver"
    " (the gateway) from the time it was received until the result was sent.",
    "mcp.client.operation.duration": "MCP request duration as observed on the sender"
    " (the gateway, to a child) from the time it was sent until the response arrived.",
    "mcp.server.session.duration": "The duration of an MCP session as observed on the gateway.",
}
_KINDS = {"server": SpanKind.SERVER, "client": SpanKind.CLIENT, "internal": SpanKind.INTERNAL}
SHUTDOWN_DEADLINE = 3.0
"""Seconds, in all, that flushing and stopping the SDK may take at stop."""


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

    def shutdown(self, deadline: float = SHUTDOWN_DEADLINE) -> bool:
        """Export what is left and stop, both providers at once, for at most
        C{deadline} seconds in all (blocking: call it in a thread). Past the
        deadline, what is still being exported is left to the SDK's daemon
        threads, which end with the process.

        @return: whether both were done in time.
        @raise Exception: what a provider's shutdown raised (the first)."""
        ends = time.monotonic() + deadline
        millis = max(1, int(deadline * 1000))
        errors: list[BaseException] = []

        def run(stop: Callable[[], object]) -> Callable[[], None]:
            def body() -> None:
                try:
                    stop()
                except BaseException as e:  # reported to the caller, not on stderr
                    errors.append(e)

            return body

        threads = [
            threading.Thread(
                target=run(self.tracerProvider.shutdown), name="OtelShutdownSpans", daemon=True
            ),
            threading.Thread(
                target=run(lambda: self.meterProvider.shutdown(timeout_millis=millis)),
                name="OtelShutdownMetrics",
                daemon=True,
            ),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(0.0, ends - time.monotonic()))
        if errors:
            raise errors[0]
        return not any(thread.is_alive() for thread in threads)


def _spanExporter() -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(timeout=5)


def _metricExporter() -> Any:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(timeout=5)


class SdkLogBridge(logging.Handler):
    """The SDK's Python C{logging} records (warnings and worse) as one
    structured warning line each in the gateway's log, handed to the
    reactor thread (the SDK logs from its export threads)."""

    SHOWN = 300

    def __init__(self, reactor: IReactorFromThreads, log: Logger) -> None:
        super().__init__(logging.WARNING)
        self._reactor = reactor
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                message = f"{message}: {record.exc_info[1]}"
            shown = message[: self.SHOWN] + ("..." if len(message) > self.SHOWN else "")
            self._reactor.callFromThread(
                self._log.warn,
                "tracing: the OpenTelemetry SDK says: {sdkMessage}",
                sdkMessage=shown,
                sdkLogger=record.name,
                sdkLevel=record.levelname,
            )
        except Exception:
            self.handleError(record)


_SDK_LOGGER = "opentelemetry"


class TracingService(Service):
    """Traces the gateway from C{startService} (after twistd daemonized: the
    SDK's export threads belong to the daemon) until C{stopService}, which
    flushes and stops the SDK in a thread of the reactor's pool, for at most
    L{SHUTDOWN_DEADLINE} seconds."""

    log = Logger(observer=logs.observer)
    deadline = SHUTDOWN_DEADLINE

    def __init__(
        self, reactor: IReactorThreads, make: Callable[[], OtelTracer] | None = None
    ) -> None:
        """
        @param make: builds the tracer (C{None}: L{OtelTracer} with its
            OTLP/HTTP exporters).
        """
        self._reactor = reactor
        self._make: Callable[[], OtelTracer] = make if make is not None else OtelTracer
        self.tracer: OtelTracer | None = None
        self._bridge: SdkLogBridge | None = None
        self._propagated = True

    def startService(self) -> None:
        super().startService()
        sdkLogger = logging.getLogger(_SDK_LOGGER)
        self._bridge = SdkLogBridge(self._reactor, self.log)
        sdkLogger.addHandler(self._bridge)
        self._propagated, sdkLogger.propagate = sdkLogger.propagate, False
        self.tracer = self._make()
        tracing.install(self.tracer)
        self.log.info("tracing: OpenTelemetry spans and metrics are exported over OTLP/HTTP")

    def stopService(self) -> Deferred[None] | None:
        super().stopService()
        active, self.tracer = self.tracer, None
        if active is None:
            self._unbridge()
            return None
        if tracing.tracer is active:
            tracing.install(None)
        deadline = self.deadline
        done: Deferred[bool] = deferToThreadPool(
            self._reactor, self._reactor.getThreadPool(), active.shutdown, deadline
        )

        def finished(inTime: bool) -> None:
            if inTime:
                self._unbridge()
                return
            # The SDK's threads go on until the process ends, and may log:
            # still into the gateway's log, not onto stderr.
            self.log.warn(
                "tracing: the OTLP collector did not take the last spans and metrics within"
                " {seconds:g} s; stopping without them",
                seconds=deadline,
            )

        def failed(reason: Failure) -> None:
            self._unbridge()
            self.log.failure("flushing the traces failed", reason)

        return done.addCallbacks(finished, failed)

    def _unbridge(self) -> None:
        bridge, self._bridge = self._bridge, None
        if bridge is not None:
            sdkLogger = logging.getLogger(_SDK_LOGGER)
            sdkLogger.removeHandler(bridge)
            sdkLogger.propagate = self._propagated

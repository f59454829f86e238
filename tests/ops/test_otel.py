"""The OpenTelemetry SDK behind the tracer interface (L{mcpgateway.ops.otel}),
with the SDK's in-memory span exporter and metric reader: span kinds,
names, attributes and parents as the MCP conventions want them, the
histograms, and the service that installs it and flushes at stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from twisted.logger import LogLevel

from mcpgateway.core import tracing
from mcpgateway.core.sessions import shortId
from mcpgateway.core.tracing import SpanContext
from mcpgateway.ops.otel import SHUTDOWN_DEADLINE, OtelTracer, TracingService
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcessReactor, capturedGatewayLogs
from tests.http import Harness, spec

CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"


class Made:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.metrics = InMemoryMetricReader()
        self.tracer = OtelTracer(
            SimpleSpanProcessor(self.spans), self.metrics, {"service.name": "gw-test"}
        )


@pytest.fixture
def made() -> Iterator[Made]:
    m = Made()
    yield m
    tracing.install(None)
    m.tracer.shutdown()


def test_span_parent_kind_attributes_and_error(made: Made) -> None:
    parent = SpanContext(CLIENT_TRACE, CLIENT_SPAN, 1, "vendor=x")
    message = jsonrpc.request(4, "tools/call", {"name": "echo"})
    span, out = tracing.startServer(made.tracer, tracing.withContext(message, parent), "sid", "v1")
    tracing.finish(span, "error", jsonrpc.errorResponse(4, -32602, "bad"))
    [finished] = made.spans.get_finished_spans()
    assert finished.name == "tools/call echo"
    assert finished.kind is SpanKind.SERVER
    assert finished.parent is not None and finished.parent.is_remote
    assert finished.parent.span_id == int(CLIENT_SPAN, 16)
    assert finished.context.trace_id == int(CLIENT_TRACE, 16)
    assert finished.context.trace_state.to_header() == "vendor=x"
    attributes = dict(finished.attributes or {})
    assert attributes["mcp.method.name"] == "tools/call"
    assert attributes["gen_ai.tool.name"] == "echo"
    assert attributes["mcp.session.id"] == "sid"
    assert attributes["mcp.protocol.version"] == "v1"
    assert attributes["jsonrpc.request.id"] == "4"
    assert attributes["network.transport"] == "tcp"
    assert attributes["error.type"] == "-32602"
    assert finished.status.status_code is StatusCode.ERROR
    assert finished.resource.attributes["service.name"] == "gw-test"
    # What goes further names this span, in the same trace.
    injected = tracing.metaContext(out)
    assert injected == SpanContext(CLIENT_TRACE, f"{finished.context.span_id:016x}", 1, "vendor=x")


def test_chain_through_the_gateway(made: Made) -> None:
    """client -> gateway SERVER -> gateway CLIENT -> child, exported by the SDK."""
    tracing.install(made.tracer)
    h = Harness({"srv": spec("srv")})
    sid = h.initialize()
    made.spans.clear()
    params = {"name": "echo", "_meta": {"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"}}
    call = h.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params},
        session=sid,
    )
    forwarded = h.process().sentMessages()[-1]
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {"content": []}})
    assert call.events()[0]["result"] == {"content": []}
    spans = {s.kind: s for s in made.spans.get_finished_spans()}
    server, client = spans[SpanKind.SERVER], spans[SpanKind.CLIENT]
    assert server.context.trace_id == client.context.trace_id == int(CLIENT_TRACE, 16)
    assert server.parent is not None and server.parent.span_id == int(CLIENT_SPAN, 16)
    assert client.parent is not None and client.parent.span_id == server.context.span_id
    child = tracing.parseTraceparent(forwarded["params"]["_meta"]["traceparent"])
    assert child is not None and child.spanId == f"{client.context.span_id:016x}"
    assert dict(server.attributes or {})["mcp.session.id"] == shortId(sid)
    metrics = made.metrics.get_metrics_data()
    assert metrics is not None
    names = {
        metric.name: metric
        for rm in metrics.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
    }
    assert {"mcp.server.operation.duration", "mcp.client.operation.duration"} <= set(names)
    [point] = [
        p
        for p in names["mcp.client.operation.duration"].data.data_points
        if dict(p.attributes or {}).get("mcp.method.name") == "tools/call"
    ]
    assert isinstance(point, HistogramDataPoint) and point.count == 1
    assert names["mcp.client.operation.duration"].unit == "s"
    for p in names["mcp.server.operation.duration"].data.data_points:
        assert set(dict(p.attributes or {})) <= {
            "mcp.method.name",
            "mcpgateway.server",
            "error.type",
        }


def test_a_tasks_span_is_internal_in_its_clients_trace(made: Made) -> None:
    parent = SpanContext(CLIENT_TRACE, CLIENT_SPAN, 1)
    span = tracing.startTask(made.tracer, "weather", "forecast", parent)
    assert made.spans.get_finished_spans() == ()  # open while the task runs
    tracing.endTask(span, "failed", {"code": -32000, "message": "down"})
    [finished] = made.spans.get_finished_spans()
    assert (finished.name, finished.kind) == ("mcpgateway.task", SpanKind.INTERNAL)
    assert finished.parent is not None and finished.parent.span_id == int(CLIENT_SPAN, 16)
    assert finished.context.trace_id == int(CLIENT_TRACE, 16)
    attributes = dict(finished.attributes or {})
    assert attributes["gen_ai.tool.name"] == "forecast"
    assert attributes["mcpgateway.server"] == "weather"
    assert attributes["mcpgateway.task.status"] == "failed"
    assert attributes["error.type"] == "-32000"
    assert finished.status.status_code is StatusCode.ERROR


def test_service_installs_at_start_and_flushes_at_stop() -> None:
    made = Made()
    shutdowns: list[bool] = []
    original = made.tracer.shutdown

    def shutdown(deadline: float = SHUTDOWN_DEADLINE) -> bool:
        shutdowns.append(True)
        assert deadline == SHUTDOWN_DEADLINE
        return original(deadline)

    made.tracer.shutdown = shutdown  # type: ignore[method-assign]
    service = TracingService(FakeProcessReactor(), lambda: made.tracer)
    assert tracing.tracer is None  # nothing before startService (after daemonizing)
    service.startService()
    assert tracing.tracer is made.tracer
    span = made.tracer.startSpan("ping", "client", None, {})
    span.end()
    done = service.stopService()
    assert done is not None
    results: list[object] = []
    done.addBoth(results.append)
    assert results == [None] and shutdowns == [True]
    assert tracing.tracer is None
    assert [s.name for s in made.spans.get_finished_spans()] == ["ping"]


# -- the stop is bounded, and the SDK's logging is the gateway's --


class Unanswered:
    """An exporter whose collector does not answer: each export waits for
    its 5 s timeout (as the OTLP/HTTP exporter's), unless released."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.calls = 0

    def wait(self) -> None:
        self.calls += 1
        self.released.wait(5.0)


class UnansweredSpans(SpanExporter):
    def __init__(self, unanswered: Unanswered) -> None:
        self.unanswered = unanswered

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.unanswered.wait()
        return SpanExportResult.FAILURE


class UnansweredMetrics(MetricExporter):
    def __init__(self, unanswered: Unanswered) -> None:
        super().__init__()
        self.unanswered = unanswered

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.unanswered.wait()
        return MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


def test_an_unanswering_collector_holds_the_stop_no_longer_than_the_deadline() -> None:
    # Before: the tracer provider, then the meter provider, each waiting for
    # its exports (5 s each here; 10-16 s with the SDK's retries).
    unanswered = Unanswered()
    tracer = OtelTracer(
        BatchSpanProcessor(UnansweredSpans(unanswered)),
        PeriodicExportingMetricReader(UnansweredMetrics(unanswered), 60_000),
    )
    try:
        tracer.startSpan("ping", "client", None, {}).end()
        tracer.recordDuration("mcp.client.operation.duration", 0.1, {})
        started = time.monotonic()
        inTime = tracer.shutdown(deadline=0.3)
        took = time.monotonic() - started
    finally:
        unanswered.released.set()  # let the SDK's threads end
    assert inTime is False
    assert took < 1.5, took
    assert unanswered.calls == 2  # both were flushing at once


def test_a_collector_that_answers_is_flushed_in_time(made: Made) -> None:
    made.tracer.startSpan("ping", "client", None, {}).end()
    assert made.tracer.shutdown(deadline=5.0) is True
    assert [s.name for s in made.spans.get_finished_spans()] == ["ping"]


def test_the_service_says_when_it_stopped_without_the_last_spans() -> None:
    made = Made()
    made.tracer.shutdown = lambda deadline=SHUTDOWN_DEADLINE: False  # type: ignore[method-assign]
    service = TracingService(FakeProcessReactor(), lambda: made.tracer)
    service.startService()
    try:
        with capturedGatewayLogs() as events:
            done = service.stopService()
    finally:
        service._unbridge()
    assert done is not None
    [warning] = [e for e in events if "did not take" in e.get("log_format", "")]
    assert warning["log_level"] == LogLevel.warn
    assert warning["seconds"] == SHUTDOWN_DEADLINE


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_sdks_export_failures_are_one_structured_warning_not_stderr() -> None:
    made = Made()
    service = TracingService(FakeProcessReactor(), lambda: made.tracer)
    root = Collect()
    logging.getLogger().addHandler(root)
    sdk = logging.getLogger("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    try:
        service.startService()
        with capturedGatewayLogs() as events:
            sdk.warning(
                "Transient error %s encountered while exporting span batch, retrying in %.2fs.",
                "HTTPConnectionPool(host='localhost', port=4318): Max retries exceeded",
                1.0,
            )
            try:
                raise ConnectionError("refused")
            except ConnectionError:
                sdk.exception("Exception while exporting Span.")
            sdk.info("not shown: below warning")
        service.stopService()
    finally:
        logging.getLogger().removeHandler(root)
        service._unbridge()
    said = [e for e in events if e.get("sdkLogger") == sdk.name]
    assert [e["log_level"] for e in said] == [LogLevel.warn, LogLevel.warn]
    assert said[0]["sdkMessage"].startswith("Transient error HTTPConnectionPool(")
    assert said[0]["sdkLevel"] == "WARNING"
    assert said[1]["sdkMessage"] == "Exception while exporting Span.: refused"
    assert said[1]["sdkLevel"] == "ERROR"
    assert root.records == []  # not on to Python's handlers (stderr under twistd)
    # After the stop, the SDK's logger is as it was.
    assert logging.getLogger("opentelemetry").propagate is True
    assert logging.getLogger("opentelemetry").handlers == []

"""The OpenTelemetry SDK behind the tracer interface (L{mcpgateway.ops.otel}),
with the SDK's in-memory span exporter and metric reader: span kinds,
names, attributes and parents as the MCP conventions want them, the
histograms, and the service that installs it and flushes at stop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from mcpgateway import jsonrpc
from mcpgateway.core import tracing
from mcpgateway.core.sessions import shortId
from mcpgateway.core.tracing import SpanContext
from mcpgateway.ops.otel import OtelTracer, TracingService
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


class InlinePool:
    def callInThreadWithCallback(
        self, onResult: Callable[[bool, Any], None], f: Callable[[], Any]
    ) -> None:
        try:
            onResult(True, f())
        except BaseException as e:  # pragma: no cover - reported to the Deferred
            onResult(False, e)


class InlineReactor:
    def getThreadPool(self) -> InlinePool:
        return InlinePool()

    def callFromThread(self, f: Callable[..., Any], *args: Any) -> None:
        f(*args)


def test_service_installs_at_start_and_flushes_at_stop() -> None:
    made = Made()
    shutdowns: list[bool] = []
    original = made.tracer.shutdown

    def shutdown() -> None:
        shutdowns.append(True)
        original()

    made.tracer.shutdown = shutdown  # type: ignore[method-assign]
    service = TracingService(InlineReactor(), lambda: made.tracer)
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

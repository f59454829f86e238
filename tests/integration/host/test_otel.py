"""A real gateway (C{twist mcpgateway --otel}) exporting over OTLP/HTTP to a
receiver written here (decoded with opentelemetry-proto), a real stdio
child reporting the C{traceparent} it received in C{_meta}
(tests/fixtures/trace_server.py), and the Python SDK as the client with its
own C{traceparent}: one trace runs client -> gateway SERVER -> gateway
CLIENT -> child, with the convention's names and attributes; the spans and
metrics are flushed when the gateway stops (the batch delay is set to a
minute, so only the flush at stop can deliver them)."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
pytest.importorskip("opentelemetry.proto")

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.integration.gateway import REPO, RunningGateway, writeConfig

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
FIXTURE = REPO / "tests" / "fixtures" / "trace_server.py"


class Receiver:
    """An OTLP/HTTP receiver on loopback: what it was sent, decoded."""

    def __init__(self) -> None:
        self.spans: list[tuple[dict[str, Any], Span]] = []
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path == "/v1/traces":
                    request = ExportTraceServiceRequest.FromString(body)
                    with receiver.lock:
                        for rs in request.resource_spans:
                            resource = {a.key: a.value.string_value for a in rs.resource.attributes}
                            for ss in rs.scope_spans:
                                receiver.spans += [(resource, span) for span in ss.spans]
                    reply = ExportTraceServiceResponse().SerializeToString()
                elif self.path == "/v1/metrics":
                    with receiver.lock:
                        receiver.metrics.append(ExportMetricsServiceRequest.FromString(body))
                    reply = ExportMetricsServiceResponse().SerializeToString()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def attributes(span: Span) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in span.attributes:
        kind = a.value.WhichOneof("value")
        out[a.key] = getattr(a.value, kind) if kind else None
    return out


def callTrace(url: str) -> dict[str, Any]:
    import anyio
    from mcp import Client

    async def main() -> dict[str, Any]:
        async with Client(url, mode="legacy") as client:
            # The SDK's RequestParamsMeta names progress_token only; _meta is open.
            meta: Any = {"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01", "tracestate": "client=1"}
            result = await client.call_tool("trace", {}, meta=meta)
            seen: dict[str, Any] = json.loads(result.content[0].text)  # type: ignore[union-attr]
            return seen

    return anyio.run(main)


def test_one_trace_client_gateway_child(
    home: Path, start: Callable[..., RunningGateway], receiver: Receiver
) -> None:
    config = writeConfig(
        home / "servers.json", {"trace": {"command": sys.executable, "args": [str(FIXTURE)]}}
    )
    gateway = start(
        "--config",
        str(config),
        "--otel",
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_SERVICE_NAME": "gateway-under-test",
            "OTEL_BSP_SCHEDULE_DELAY": "60000",
            "OTEL_METRIC_EXPORT_INTERVAL": "60000",
        },
    )
    seen = callTrace(gateway.url("trace"))
    assert receiver.spans == []  # nothing yet: the batch waits a minute
    gateway.stop()  # SIGTERM: the flush at stop must deliver everything
    assert "Traceback" not in gateway.text(), gateway.text()

    spans = [span for _, span in receiver.spans]
    resources = {resource.get("service.name") for resource, _ in receiver.spans}
    assert resources == {"gateway-under-test"}
    calls = [s for s in spans if s.name == "tools/call trace"]
    [server] = [s for s in calls if s.kind == Span.SPAN_KIND_SERVER]
    [client] = [s for s in calls if s.kind == Span.SPAN_KIND_CLIENT]

    # The chain: the client's span -> SERVER -> CLIENT -> what the child saw.
    assert server.trace_id.hex() == client.trace_id.hex() == TRACE_ID
    assert server.parent_span_id.hex() == CLIENT_SPAN
    assert client.parent_span_id == server.span_id
    assert seen["traceparent"] == f"00-{TRACE_ID}-{client.span_id.hex()}-01"
    assert seen["tracestate"] == "client=1"

    s = attributes(server)
    assert s["mcp.method.name"] == "tools/call"
    assert s["gen_ai.tool.name"] == "trace"
    assert s["network.transport"] == "tcp"
    assert s["network.protocol.name"] == "http"
    assert s["mcp.protocol.version"]
    assert len(s["mcp.session.id"]) == 8  # what logs call it: the id itself is a secret
    assert s["mcp.session.id"] in gateway.text()
    assert "jsonrpc.request.id" in s
    assert "error.type" not in s
    c = attributes(client)
    assert c["mcp.method.name"] == "tools/call"
    assert c["gen_ai.tool.name"] == "trace"
    assert c["network.transport"] == "pipe"
    # The session's initialize is traced too.
    assert any(x.name == "initialize" and x.kind == Span.SPAN_KIND_SERVER for x in spans)

    names = {
        metric.name: metric
        for request in receiver.metrics
        for rm in request.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
    }
    assert {"mcp.server.operation.duration", "mcp.client.operation.duration"} <= set(names)
    assert names["mcp.server.operation.duration"].unit == "s"


def test_metrics_page_names_without_otel(home: Path, start: Callable[..., RunningGateway]) -> None:
    """Without --otel, the convention's figures are on /metrics, under their
    Prometheus names."""
    import urllib.request

    config = writeConfig(
        home / "servers.json", {"trace": {"command": sys.executable, "args": [str(FIXTURE)]}}
    )
    gateway = start("--config", str(config))
    callTrace(gateway.url("trace"))
    with urllib.request.urlopen(f"http://127.0.0.1:{gateway.port}/metrics", timeout=5) as r:
        text = r.read().decode()
    labels = '{server="trace",mcp_method_name="tools/call",outcome="ok"} 1'
    assert "mcp_server_operation_duration_seconds_count" + labels in text
    assert "mcp_client_operation_duration_seconds_count" + labels in text
    assert "mcpgateway_build_info{" in text


def test_detached_twistd_traces_and_flushes_at_stop(home: Path, receiver: Receiver) -> None:
    """twistd without -n: the tracer (and the SDK's export threads) are made
    after daemonizing, so the daemon exports, and flushes at SIGTERM."""
    from tests.support.integration.detached import daemonized, environment, freePort

    config = writeConfig(
        home / "servers.json", {"trace": {"command": sys.executable, "args": [str(FIXTURE)]}}
    )
    port = freePort()
    env = environment(
        home,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,  # turns tracing on without --otel
        OTEL_BSP_SCHEDULE_DELAY="60000",
        OTEL_METRIC_EXPORT_INTERVAL="60000",
    )
    listen = f"tcp:{port}:interface=127.0.0.1"
    with daemonized(home, port, listen, config, home / "st", env):
        seen = callTrace(f"http://127.0.0.1:{port}/trace/mcp")
    log = (home / "twistd.log").read_text()
    [client] = [
        s
        for _, s in receiver.spans
        if s.name == "tools/call trace" and s.kind == Span.SPAN_KIND_CLIENT
    ]
    assert seen["traceparent"] == f"00-{TRACE_ID}-{client.span_id.hex()}-01", log

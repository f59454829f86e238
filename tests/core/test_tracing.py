"""Tracing in the MCP conventions (L{mcpgateway.core.tracing}): the W3C
trace context in C{params._meta}, the router's CLIENT spans, the web's
SERVER spans and the chain client -> SERVER -> CLIENT -> child, through a
recording tracer; and nothing of OpenTelemetry imported without --otel."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from mcpgateway.core import stats, tracing
from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import shortId
from mcpgateway.core.tasks.manager import TaskManager
from mcpgateway.core.tasks.store import TaskStore
from mcpgateway.core.taskterms import EXTENSION
from mcpgateway.core.tracing import SpanContext
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcessReactor, FakeSession
from tests.http import Harness, spec
from tests.support.web import mcpcall

CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"
CLIENT_PARENT = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"


@dataclass
class RecordedSpan:
    name: str
    kind: str
    parent: SpanContext | None
    attributes: dict[str, Any]
    context: SpanContext
    error: tuple[str, str] | None = None
    ended: int = 0

    def setAttribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value

    def setError(self, errorType: str, description: str) -> None:
        self.error = (errorType, description)
        self.attributes["error.type"] = errorType

    def end(self) -> None:
        self.ended += 1


@dataclass
class RecordingTracer:
    spans: list[RecordedSpan] = field(default_factory=list)
    durations: list[tuple[str, float, dict[str, Any]]] = field(default_factory=list)

    def startSpan(
        self,
        name: str,
        kind: tracing.SpanKind,
        parent: SpanContext | None,
        attributes: Mapping[str, Any],
    ) -> RecordedSpan:
        n = len(self.spans) + 1
        traceId = parent.traceId if parent is not None else f"{n:032x}"
        state = parent.state if parent is not None else ""
        span = RecordedSpan(
            name, kind, parent, dict(attributes), SpanContext(traceId, f"{n:016x}", 1, state)
        )
        self.spans.append(span)
        return span

    def recordDuration(self, metric: str, seconds: float, attributes: Mapping[str, Any]) -> None:
        self.durations.append((metric, seconds, dict(attributes)))

    def kind(self, kind: str) -> list[RecordedSpan]:
        return [s for s in self.spans if s.kind == kind]


@pytest.fixture
def tracer() -> Iterator[RecordingTracer]:
    recording = RecordingTracer()
    tracing.install(recording)
    try:
        yield recording
    finally:
        tracing.install(None)


def meta(message: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = message["params"]["_meta"]
    return result


# -- W3C trace context ---------------------------------------------------------


def test_traceparent_parse_and_format() -> None:
    context = tracing.parseTraceparent(CLIENT_PARENT)
    assert context == SpanContext(CLIENT_TRACE, CLIENT_SPAN, 1)
    assert tracing.formatTraceparent(context) == CLIENT_PARENT
    # A later version may carry more after the flags; version 00 may not.
    assert tracing.parseTraceparent(f"01-{CLIENT_TRACE}-{CLIENT_SPAN}-00-extra") is not None
    for bad in (
        f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01-extra",
        f"ff-{CLIENT_TRACE}-{CLIENT_SPAN}-01",
        f"00-{'0' * 32}-{CLIENT_SPAN}-01",
        f"00-{CLIENT_TRACE}-{'0' * 16}-01",
        f"00-{CLIENT_TRACE.upper()}-{CLIENT_SPAN}-01",
        f"00-{CLIENT_TRACE}-{CLIENT_SPAN}",
        "",
        None,
        42,
    ):
        assert tracing.parseTraceparent(bad) is None, bad


def test_tracestate_kept_valid_members_only() -> None:
    assert tracing.parseTracestate("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE") == (
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    )
    assert tracing.parseTracestate("a=1,a=2") == "a=1"
    assert tracing.parseTracestate("Bad Key=1") == ""
    assert tracing.parseTracestate("x" * 600) == ""
    assert tracing.parseTracestate(",".join(f"k{i}=v" for i in range(33))) == ""
    assert tracing.parseTracestate(7) == ""


hexes = st.text("0123456789abcdef", min_size=1, max_size=1)


@settings(max_examples=50)
@given(
    st.text("0123456789abcdef", min_size=32, max_size=32).filter(lambda t: t != "0" * 32),
    st.text("0123456789abcdef", min_size=16, max_size=16).filter(lambda t: t != "0" * 16),
    st.integers(0, 255),
)
def test_traceparent_round_trip(traceId: str, spanId: str, flags: int) -> None:
    context = SpanContext(traceId, spanId, flags)
    assert tracing.parseTraceparent(tracing.formatTraceparent(context)) == context


@settings(max_examples=100)
@given(st.one_of(st.text(max_size=80), st.binary(max_size=20), st.none(), st.integers()))
def test_outside_input_never_raises(value: Any) -> None:
    parsed = tracing.parseTraceparent(value)
    if parsed is not None:
        assert tracing.parseTraceparent(tracing.formatTraceparent(parsed)) == parsed
    assert isinstance(tracing.parseTracestate(value), str)
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "x",
        "params": {"_meta": {"traceparent": value}},
    }
    tracing.metaContext(message)


def test_with_context_copies_and_replaces_tracestate() -> None:
    params = {"name": "t", "_meta": {"progressToken": 3, "tracestate": "old=1"}}
    message = jsonrpc.request(1, "tools/call", params)
    out = tracing.withContext(message, SpanContext(CLIENT_TRACE, CLIENT_SPAN, 1, "new=2"))
    assert meta(out) == {"progressToken": 3, "traceparent": CLIENT_PARENT, "tracestate": "new=2"}
    assert params == {"name": "t", "_meta": {"progressToken": 3, "tracestate": "old=1"}}


# -- the router's CLIENT spans ---------------------------------------------------


def routed() -> tuple[Clock, Router, list[dict[str, Any]], FakeSession]:
    clock = Clock()
    router = Router("srv", clock, 10.0, SharedFanout())
    sent: list[dict[str, Any]] = []
    router.attachChild(sent.append)
    session = FakeSession("s1", capabilities={})
    router.attach(session)
    return clock, router, sent, session


def test_no_tracer_no_change_to_messages() -> None:
    assert tracing.tracer is None
    _, router, sent, session = routed()
    params = {"name": "echo", "_meta": {"traceparent": CLIENT_PARENT, "tracestate": "a=1"}}
    router.request(session, jsonrpc.request(1, "tools/call", params), None)
    [out] = sent
    assert out["params"] == params  # passed on as the client sent it
    router.request(session, jsonrpc.request(2, "tools/list"), None)
    assert "params" not in sent[1] or "_meta" not in (sent[1].get("params") or {})


def test_client_span_parent_attributes_and_injection(tracer: RecordingTracer) -> None:
    clock, router, sent, session = routed()
    params = {"name": "echo", "_meta": {"traceparent": CLIENT_PARENT, "tracestate": "a=1"}}
    response = router.request(session, jsonrpc.request(7, "tools/call", params), None)
    [span] = tracer.spans
    assert span.kind == "client"
    assert span.name == "tools/call echo"
    assert span.parent == SpanContext(CLIENT_TRACE, CLIENT_SPAN, 1, "a=1")
    assert span.attributes["mcp.method.name"] == "tools/call"
    assert span.attributes["gen_ai.tool.name"] == "echo"
    [out] = sent
    assert span.attributes["jsonrpc.request.id"] == str(out["id"])  # the id on the child
    assert meta(out)["traceparent"] == tracing.formatTraceparent(span.context)
    assert meta(out)["tracestate"] == "a=1"
    assert span.ended == 0
    clock.advance(0.5)
    router.childMessage(jsonrpc.resultResponse(out["id"], {"content": []}))
    assert span.ended == 1 and span.error is None
    assert self_result(response)["id"] == 7
    [(metric, seconds, attributes)] = tracer.durations
    assert metric == "mcp.client.operation.duration" and seconds == 0.5
    assert attributes == {"mcp.method.name": "tools/call", "mcpgateway.server": "srv"}


def self_result(d: Any) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    d.addCallback(results.append)
    return results[0]


def test_client_span_error_type(tracer: RecordingTracer) -> None:
    clock, router, sent, session = routed()
    router.request(session, jsonrpc.request(1, "tools/call", {"name": "x"}), None)
    router.childMessage(jsonrpc.errorResponse(sent[0]["id"], -32602, "bad arguments"))
    router.request(session, jsonrpc.request(2, "tools/call", {"name": "y"}), None)
    clock.advance(10.0)
    router.request(session, jsonrpc.request(3, "resources/read", {"uri": "file:///a"}), None)
    router.childExited("exited with status 1")
    failed, timedOut, exited = tracer.spans
    assert failed.error == ("-32602", "bad arguments")
    assert failed.attributes["rpc.response.status_code"] == "-32602"
    assert timedOut.error is not None and timedOut.error[0] == "timeout"
    assert exited.error is not None and exited.error[0] == "child_exit"
    assert exited.name == "resources/read"  # a URI is never in the name
    assert exited.attributes["mcp.resource.uri"] == "file:///a"
    assert all(span.ended == 1 for span in tracer.spans)
    assert failed.parent is None  # no context came with the request: a new trace


def test_session_duration_recorded_when_a_session_leaves(tracer: RecordingTracer) -> None:
    clock, router, _, session = routed()
    session.created = 0.0  # type: ignore[attr-defined]
    clock.advance(42.0)
    router.detach(session)
    router.detach(session)  # once
    ops = stats.operationsFor(clock)
    assert ops.sessions["srv"].count == 1 and ops.sessions["srv"].sum == 42.0
    assert [d[0] for d in tracer.durations] == ["mcp.server.session.duration"]


# -- the web's SERVER spans, end to end on fake children -------------------------


def test_chain_client_server_client_child(tracer: RecordingTracer) -> None:
    h = Harness({"srv": spec("srv")})
    sid = h.initialize()
    tracer.spans.clear()
    params = {"name": "echo", "_meta": {"traceparent": CLIENT_PARENT}}
    call = mcpcall.call(h, sid, 3, "tools/call", params)
    forwarded = h.process().sentMessages()[-1]
    server, client = tracer.spans
    assert (server.kind, client.kind) == ("server", "client")
    assert server.name == client.name == "tools/call echo"
    assert server.parent == SpanContext(CLIENT_TRACE, CLIENT_SPAN, 1)
    assert client.parent == server.context
    child = tracing.parseTraceparent(meta(forwarded)["traceparent"])
    assert child == client.context
    assert child is not None and child.traceId == CLIENT_TRACE
    # The id is the session's only secret: spans carry what logs call it.
    assert server.attributes["mcp.session.id"] == shortId(sid)
    assert sid not in repr(tracer.spans)
    assert server.attributes["mcp.protocol.version"]
    assert server.attributes["network.transport"] == "tcp"
    assert server.attributes["network.protocol.name"] == "http"
    assert server.attributes["jsonrpc.request.id"] == "3"
    assert server.attributes["gen_ai.tool.name"] == "echo"
    assert server.ended == 0
    h.process().reply(
        {"jsonrpc": "2.0", "id": forwarded["id"], "error": {"code": -32000, "message": "no"}}
    )
    assert call.events()[0]["error"]["code"] == -32000
    assert server.ended == client.ended == 1
    assert server.attributes["error.type"] == client.attributes["error.type"] == "-32000"


def test_http_traceparent_header_when_meta_has_none(tracer: RecordingTracer) -> None:
    h = Harness({"srv": spec("srv")})
    sid = h.initialize()
    tracer.spans.clear()
    h.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
        session=sid,
        headers={"traceparent": CLIENT_PARENT},
    )
    server = tracer.kind("server")[0]
    assert server.parent == SpanContext(CLIENT_TRACE, CLIENT_SPAN, 1)
    assert server.name == "tools/list"


# -- nothing of OpenTelemetry without --otel -----------------------------------


def test_no_opentelemetry_import_without_otel() -> None:
    code = (
        "import sys\n"
        "from mcpgateway import tap\n"
        "import mcpgateway.web.app, mcpgateway.web.endpoints.mcp, mcpgateway.report.metrics\n"
        "import mcpgateway.core.router, mcpgateway.core.tracing\n"
        "options = tap.Options()\n"
        "options.parseOptions([])\n"
        "assert not options['otel']\n"
        "found = sorted(m for m in sys.modules if m.startswith('opentelemetry'))\n"
        "print(found)\n"
        "assert not found, found\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_era2026_request_server_span(tracer: RecordingTracer) -> None:
    """A 2026-07-28 request: a SERVER span, its parent the client's _meta,
    and the params the core gets carry the span's context (the envelope
    stripped as before)."""
    from tests.support.web.fakeera2026 import Era2026Harness, body, headersFor

    h = Era2026Harness()
    message = body("tools/call", 5, {"name": "echo", "_meta": {"traceparent": CLIENT_PARENT}})
    response = h.post(message, headers=headersFor(message))
    [call] = h.era2026.calls
    [server] = tracer.spans
    assert server.kind == "server" and server.name == "tools/call echo"
    assert server.parent == SpanContext(CLIENT_TRACE, CLIENT_SPAN, 1)
    assert server.attributes["mcp.protocol.version"] == "2026-07-28"
    assert server.attributes["network.transport"] == "tcp"
    assert tracing.metaContext({"params": call.request.params}) == server.context
    call.reply({"content": []})
    assert response.status == 200
    assert server.ended == 1 and server.error is None


# -- a task's lifetime -----------------------------------------------------------


def slowCall(
    made: TaskManager, clock: Clock, params: dict[str, Any]
) -> tuple[str, Deferred[jsonrpc.Message]]:
    """A C{tools/call} on C{weather} that outlives C{--task-after}: its task's
    id, and the child's call (the test answers it)."""
    calls: list[Deferred[jsonrpc.Message]] = []

    def run(request: Era2026Request, sink: Any) -> Deferred[jsonrpc.Message]:
        calls.append(Deferred())
        return calls[-1]

    request = Era2026Request(
        clientId=1,
        method="tools/call",
        params=params,
        capabilities={"extensions": {EXTENSION: {}}},
    )
    box: list[Any] = []
    made.call("weather", request, lambda _: True, run, lambda r, t: succeed(None)).addBoth(
        box.append
    )
    clock.advance(made.limits.after)
    [handle] = box
    return handle["result"]["taskId"], calls[0]


def taskManager() -> tuple[TaskManager, Clock]:
    clock = Clock()
    return TaskManager(TaskStore(None, now=lambda: 1_800_000_000.0), clock), clock


def test_a_task_is_one_internal_span_from_its_creation_to_its_end(
    tracer: RecordingTracer,
) -> None:
    made, clock = taskManager()
    params = {"name": "forecast", "_meta": {"traceparent": CLIENT_PARENT}}
    taskId, child = slowCall(made, clock, params)
    [span] = tracer.spans
    assert (span.name, span.kind, span.ended) == ("mcpgateway.task", "internal", 0)
    assert span.parent == SpanContext(CLIENT_TRACE, CLIENT_SPAN, 1)  # the tools/call's span
    assert span.attributes == {
        "mcp.method.name": "tools/call",
        "mcpgateway.server": "weather",
        "gen_ai.tool.name": "forecast",
    }
    clock.advance(600)  # it lasts while the call runs
    assert span.ended == 0
    child.callback(jsonrpc.resultResponse(1, {"content": []}))
    assert span.ended == 1 and span.error is None
    assert span.attributes["mcpgateway.task.status"] == "completed"
    assert taskId not in repr(span)  # the id a client polls with is never exported


def test_a_failed_tasks_span_fails_and_a_cancelled_ones_does_not(
    tracer: RecordingTracer,
) -> None:
    made, clock = taskManager()
    _, child = slowCall(made, clock, {"name": "forecast"})
    child.callback(jsonrpc.errorResponse(1, -32000, "the forecast service is down"))
    [failed] = tracer.spans
    assert failed.parent is None  # no trace context: a new trace
    assert (failed.ended, failed.error) == (1, ("-32000", "the forecast service is down"))
    assert failed.attributes["mcpgateway.task.status"] == "failed"
    assert failed.attributes["rpc.response.status_code"] == "-32000"
    taskId, child = slowCall(made, clock, {"name": "forecast"})
    cancel = Era2026Request(
        clientId=2,
        method="tasks/cancel",
        params={"taskId": taskId},
        capabilities={"extensions": {EXTENSION: {}}},
    )
    made.serve("weather", cancel, lambda r, s: Deferred())
    cancelled = tracer.spans[1]
    assert child.called  # the child's call was cancelled with it: the span ends once
    assert (cancelled.ended, cancelled.error) == (1, None)
    assert cancelled.attributes["mcpgateway.task.status"] == "cancelled"


def test_a_call_answered_in_time_or_untraced_makes_no_span(tracer: RecordingTracer) -> None:
    made, clock = taskManager()
    request = Era2026Request(
        clientId=1,
        method="tools/call",
        params={"name": "forecast"},
        capabilities={"extensions": {EXTENSION: {}}},
    )
    quick = succeed(jsonrpc.resultResponse(1, {"content": []}))
    made.call("weather", request, lambda _: True, lambda r, s: quick, lambda r, t: succeed(None))
    assert tracer.spans == [] and made.fastAnswers == 1
    tracing.install(None)
    _, child = slowCall(made, clock, {"name": "forecast"})
    child.callback(jsonrpc.resultResponse(1, {"content": []}))
    assert tracer.spans == [] and made.created == 1


def test_otel_without_the_extra_refuses_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    from mcpgateway.startup import otelwiring

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SystemExit) as exited:
        otelwiring.tracing(FakeProcessReactor())
    assert exited.value.code == 1
    assert "pip install 'mcpgateway[otel]'" in capsys.readouterr().err
    # Only the variable (perhaps set for other programs): one line, no tracing.
    assert otelwiring.tracing(FakeProcessReactor(), required=False) is None
    assert "serving without tracing" in capsys.readouterr().err

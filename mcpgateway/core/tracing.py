# -*- test-case-name: tests.core.test_tracing -*-
"""Tracing in the OpenTelemetry MCP conventions.

What the core and the web call, with no OpenTelemetry in it (that is
L{mcpgateway.ops.otel}, imported only with C{--otel}):

  - the W3C trace context as MCP carries it, in C{params._meta}
    (C{traceparent}, C{tracestate}): L{parseTraceparent},
    L{formatTraceparent}, L{parseTracestate}, L{metaContext},
    L{withContext};
  - the L{Tracer} and L{Span} interfaces, and the one tracer of the process,
    L{tracer} (C{None}, the default: nothing is traced, and the request path
    pays one attribute read). A client request the web serves is a SERVER
    span (L{startServer}), each request the router sends to a child a
    CLIENT span (L{startClient}), named C{"{mcp.method.name} {target}"}
    with the convention's attributes; a task (the Tasks extension) an
    INTERNAL span, C{mcpgateway.task}, for its whole life (L{startTask});
  - L{Tracer.recordDuration}: the duration histograms the conventions name,
    handed to the tracer when there is one by L{mcpgateway.core.stats},
    which keeps them always (they are on C{/metrics}).

The SERVER span's context travels to the router inside the message itself
(the web puts it in the forwarded message's C{_meta}; the router reads it
as the parent of its CLIENT span and replaces it with that span's own), so
no signature between the web and the router carries it, and a request that
waits for a child to start keeps its parent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from mcpgateway.protocol.jsonrpc import Message

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"

SpanKind = Literal["server", "client", "internal"]
AttributeValue = str | int | float | bool

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?\Z")
_TRACESTATE_KEY = re.compile(
    r"([a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})\Z"
)
_TRACESTATE_VALUE = re.compile(
    r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]\Z"
)
MAX_TRACESTATE = 512
"""Longest C{tracestate} kept (W3C: propagate at least 512 characters)."""


@dataclass(frozen=True, slots=True)
class SpanContext:
    """A span's identity as W3C trace context carries it.

    @ivar traceId: 32 lowercase hex digits, not all zero.
    @ivar spanId: 16 lowercase hex digits, not all zero.
    @ivar flags: the trace flags (bit 0: sampled).
    @ivar state: the C{tracestate} (C{""}: none).
    """

    traceId: str
    spanId: str
    flags: int = 1
    state: str = ""


def parseTraceparent(value: object) -> SpanContext | None:
    """The context a C{traceparent} value names, or C{None} when it is not
    one (W3C Trace Context level 1: version C{ff} and all-zero ids are
    invalid; version C{00} has nothing after the flags; a later version may)."""
    if not isinstance(value, str) or len(value) > 512:
        return None
    match = _TRACEPARENT.match(value.strip(" \t"))
    if match is None:
        return None
    version, traceId, spanId, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if traceId == "0" * 32 or spanId == "0" * 16:
        return None
    return SpanContext(traceId, spanId, int(flags, 16))


def formatTraceparent(context: SpanContext) -> str:
    """The C{traceparent} value of C{context} (version 00)."""
    return f"00-{context.traceId}-{context.spanId}-{context.flags & 0xFF:02x}"


def parseTracestate(value: object) -> str:
    """C{value} as a C{tracestate} to pass on: its valid list members (at
    most 32, first kept on duplicate keys), C{""} for none or when it is
    longer than L{MAX_TRACESTATE}."""
    if not isinstance(value, str) or len(value) > MAX_TRACESTATE:
        return ""
    members: list[str] = []
    seen: set[str] = set()
    for part in value.split(","):
        part = part.strip(" \t")
        if not part:
            continue
        key, sep, item = part.partition("=")
        if not sep or not _TRACESTATE_KEY.match(key) or not _TRACESTATE_VALUE.match(item):
            return ""  # one invalid member: the whole header is discarded
        if key in seen:
            continue
        seen.add(key)
        members.append(f"{key}={item}")
    if len(members) > 32:
        return ""
    return ",".join(members)


def metaContext(message: Message) -> SpanContext | None:
    """The trace context in C{message}'s C{params._meta}, if valid."""
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    if not isinstance(meta, dict):
        return None
    context = parseTraceparent(meta.get(TRACEPARENT))
    if context is None:
        return None
    state = parseTracestate(meta.get(TRACESTATE))
    return SpanContext(context.traceId, context.spanId, context.flags, state) if state else context


def paramsWithContext(params: Any, context: SpanContext) -> dict[str, Any]:
    """A copy of C{params} whose C{_meta} carries C{context} (and no other
    C{tracestate} than its own)."""
    copied: dict[str, Any] = dict(params) if isinstance(params, dict) else {}
    old = copied.get("_meta")
    meta = {k: v for k, v in old.items() if k != TRACESTATE} if isinstance(old, dict) else {}
    meta[TRACEPARENT] = formatTraceparent(context)
    if context.state:
        meta[TRACESTATE] = context.state
    copied["_meta"] = meta
    return copied


def withContext(message: Message, context: SpanContext) -> Message:
    """A copy of C{message} whose C{params._meta} carries C{context}."""
    return {**message, "params": paramsWithContext(message.get("params"), context)}


# -- the tracer --------------------------------------------------------------


class Span(Protocol):
    """One span in progress."""

    @property
    def context(self) -> SpanContext:
        """Its identity, to inject into what goes further."""

    def setAttribute(self, key: str, value: AttributeValue) -> None:
        """Set one attribute."""

    def setError(self, errorType: str, description: str) -> None:
        """Mark it failed: C{error.type} and an error status."""

    def end(self) -> None:
        """It is over (called once)."""


class Tracer(Protocol):
    """Makes spans and takes the convention's measurements (an exporter
    behind it; L{mcpgateway.ops.otel.OtelTracer})."""

    def startSpan(
        self,
        name: str,
        kind: SpanKind,
        parent: SpanContext | None,
        attributes: Mapping[str, AttributeValue],
    ) -> Span:
        """Start a span (C{parent} C{None}: a new trace)."""

    def recordDuration(
        self, metric: str, seconds: float, attributes: Mapping[str, AttributeValue]
    ) -> None:
        """One measurement of the histogram C{metric} (a convention name)."""


tracer: Tracer | None = None
"""The process's tracer; C{None}: nothing is traced (read it, as
C{tracing.tracer}, once per request)."""


def install(new: Tracer | None) -> None:
    """Trace with C{new} from now on (C{None}: stop tracing)."""
    global tracer
    tracer = new


NETWORK = {"network.transport": "tcp", "network.protocol.name": "http"}
"""The transport attributes of a SERVER span (Streamable HTTP)."""

_TARGETS = {"tools/call": "gen_ai.tool.name", "prompts/get": "gen_ai.prompt.name"}
_URIS = frozenset({"resources/read", "resources/subscribe", "resources/unsubscribe"})


def requestAttributes(message: Message) -> tuple[str, dict[str, AttributeValue]]:
    """The span name (C{"{mcp.method.name} {target}"}, the target a tool's
    or prompt's name) and the attributes C{message}, a request, gives."""
    method = message.get("method")
    method = method if isinstance(method, str) else ""
    attributes: dict[str, AttributeValue] = {"mcp.method.name": method}
    requestId = message.get("id")
    if isinstance(requestId, str | int) and not isinstance(requestId, bool):
        attributes["jsonrpc.request.id"] = str(requestId)
    params = message.get("params")
    name = method
    if isinstance(params, dict):
        key = _TARGETS.get(method)
        target = params.get("name") if key is not None else None
        if key is not None and isinstance(target, str):
            attributes[key] = target[:256]
            name = f"{method} {target[:256]}"
        uri = params.get("uri") if method in _URIS else None
        if isinstance(uri, str):
            attributes["mcp.resource.uri"] = uri[:1024]
    return name, attributes


def startServer(
    active: Tracer,
    message: Message,
    sessionId: str | None,
    protocolVersion: str | None,
    fallbackParent: str | None = None,
) -> tuple[Span, Message]:
    """A SERVER span for the client request C{message} (its parent the
    client's C{_meta.traceparent}, else C{fallbackParent}, an HTTP
    C{traceparent} header), and C{message} carrying that span's context."""
    name, attributes = requestAttributes(message)
    attributes.update(NETWORK)
    if sessionId:
        attributes["mcp.session.id"] = sessionId
    if protocolVersion:
        attributes["mcp.protocol.version"] = protocolVersion
    parent = metaContext(message)
    if parent is None and fallbackParent is not None:
        parent = parseTraceparent(fallbackParent)
    span = active.startSpan(name, "server", parent, attributes)
    return span, withContext(message, span.context)


def startClient(active: Tracer, message: Message, server: str) -> tuple[Span, Message]:
    """A CLIENT span for C{message}, about to go to a child of C{server}
    (its parent the context in C{message}'s C{_meta}: the SERVER span, or
    the client's own), and C{message} carrying this span's context instead."""
    name, attributes = requestAttributes(message)
    attributes["network.transport"] = "pipe"
    attributes["mcpgateway.server"] = server
    span = active.startSpan(name, "client", metaContext(message), attributes)
    return span, withContext(message, span.context)


def errorTypeOf(response: Any) -> str | None:
    """The C{error.type} of a JSON-RPC response: its error code, as text."""
    error = response.get("error") if isinstance(response, dict) else None
    if not isinstance(error, dict):
        return None
    code = error.get("code")
    return str(code) if isinstance(code, int) and not isinstance(code, bool) else "_OTHER"


def finish(span: Span, outcome: str, response: Any = None) -> None:
    """End C{span} with C{outcome} (L{stats.OUTCOMES}); a JSON-RPC error
    C{response} gives the C{error.type}, else the outcome does."""
    if outcome != "ok":
        errorType = errorTypeOf(response) or outcome
        error = response.get("error") if isinstance(response, dict) else None
        text = error.get("message") if isinstance(error, dict) else None
        span.setError(errorType, text[:256] if isinstance(text, str) else outcome)
        if errorType.lstrip("-").isdigit():
            span.setAttribute("rpc.response.status_code", errorType)
    span.end()


TASK_SPAN = "mcpgateway.task"
"""The name of a task's span (L{startTask})."""


def startTask(active: Tracer, server: str, tool: str, parent: SpanContext | None) -> Span:
    """An INTERNAL span for a task's lifetime (the Tasks extension), from
    its creation to its end (L{endTask}): on C{server}'s child, running
    C{tool}; its parent the SERVER span of the C{tools/call} that became
    the task (C{parent}, from that request's C{_meta}; C{None}: a new
    trace). The task's id is not an attribute: it is what its client
    polls with."""
    attributes: dict[str, AttributeValue] = {
        "mcp.method.name": "tools/call",
        "mcpgateway.server": server,
    }
    if tool:
        attributes["gen_ai.tool.name"] = tool[:256]
    return active.startSpan(TASK_SPAN, "internal", parent, attributes)


def endTask(span: Span, status: str, error: Any = None) -> None:
    """End a task's span with its final C{status}
    (C{mcpgateway.task.status}): a C{failed} task's span is failed too,
    with its JSON-RPC C{error}'s code and message; a cancelled one is not
    (its client chose to end it)."""
    span.setAttribute("mcpgateway.task.status", status)
    if status == "failed":
        finish(span, "error", {"error": error if isinstance(error, dict) else {}})
    else:
        span.end()

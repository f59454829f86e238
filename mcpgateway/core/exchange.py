# -*- test-case-name: tests.core.test_router -*-
"""The pieces of one child's id space that the router keeps: an
L{Exchange} (a client request forwarded to the child, with its sink, its
client id and its timeout), a request the child made of a client
(L{ServerRequest}), the L{Fanout} protocol that says who hears what a child
says unasked, and the small rules for MCP hints and task-augmented calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.core import tracing
from mcpgateway.core.sessions import SessionLike
from mcpgateway.protocol import childhints, jsonrpc
from mcpgateway.protocol.jsonrpc import Message

Sink = Callable[[Message], bool]
"""Writes one message to a client stream; C{False} when the stream is gone."""

LIST_CHANGED = frozenset(
    {
        "notifications/tools/list_changed",
        "notifications/prompts/list_changed",
        "notifications/resources/list_changed",
    }
)
"""The child's notifications that say one of its lists changed (L{Router.onList})."""
STARTS = frozenset({"initialize", "server/discover"})
"""A child's handshake (the gateway's or its session's C{initialize}, the
gateway's C{server/discover} of a 2026 child): timed by the start
timeout (C{--start-timeout}), not the request timeout, as a start (a
confined child's launcher, an C{npx} resolving its package) is slower
than a call."""


class Exchange:
    """One client request in flight on the child."""

    __slots__ = (
        "blocked",
        "cancelReason",
        "childId",
        "clientId",
        "clientToken",
        "method",
        "progressed",
        "related",
        "response",
        "session",
        "span",
        "started",
    )

    def __init__(
        self,
        session: SessionLike | None,
        clientId: Any,
        method: str,
        clientToken: Any,
        related: Sink | None,
        canceller: Callable[[Deferred[Message]], None],
    ) -> None:
        self.session = session
        self.clientId = clientId
        self.method = method
        self.clientToken = clientToken
        self.related = related
        self.response: Deferred[Message] = Deferred(canceller)
        self.cancelReason: str | None = None
        self.started = 0.0
        self.childId = 0
        """Its id on the child."""
        self.blocked = False
        """Held (L{Router.hold}): no timeout runs for it."""
        self.progressed: float | None = None
        """When the child last reported its progress (its timeout then
        restarts: L{mcpgateway.core.router.PROGRESS_CAP})."""
        self.span: tracing.Span | None = None
        """Its CLIENT span, when the gateway traces (L{tracing.tracer})."""


class ServerRequest:
    __slots__ = ("childId", "exchange", "method", "session")

    def __init__(
        self, childId: Any, method: str, session: SessionLike, exchange: Exchange | None = None
    ) -> None:
        self.childId = childId
        self.method = method
        self.session = session
        self.exchange = exchange
        """The client request on whose stream it went, if it went on one."""


def nowhere(message: Message) -> None:
    """Where messages go before a child was ever attached: a defect."""
    raise RuntimeError("no child is attached to this router")


def discard(message: Message) -> None:
    """Where messages go once the child is gone: nowhere."""


def noop() -> None:
    """No child, or one whose writes cannot be hurried."""


NO_HINT = object()


def relatedRequest(message: Message) -> Any:
    """The child request's L{childhints.HINT_RELATED}, or L{NO_HINT}."""
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    if isinstance(meta, dict) and childhints.HINT_RELATED in meta:
        return meta[childhints.HINT_RELATED]
    return NO_HINT


def withoutHints(message: Message) -> Message:
    """C{message} without the gateway's hints in C{params._meta} (a client
    never sees them)."""
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    if not isinstance(meta, dict) or not any(hint in meta for hint in childhints.HINTS):
        return message
    assert isinstance(params, dict)
    kept = {key: value for key, value in meta.items() if key not in childhints.HINTS}
    params = {key: value for key, value in params.items() if key != "_meta"}
    if kept:
        params["_meta"] = kept
    return {**message, "params": params}


def taskAugmented(message: Message) -> bool:
    """Whether the client request C{message} asks to run as a task
    (C{params.task}, MCP 2025-11-25)."""
    params = message.get("params")
    return isinstance(params, dict) and "task" in params


def sameId(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b)


def refusalFor(session: SessionLike, message: Message) -> tuple[int, str] | None:
    """The error to answer the child with when C{session} did not declare
    the capability C{message} needs."""
    caps = session.capabilities
    method = message["method"]
    if method == "sampling/createMessage" and "sampling" not in caps:
        return jsonrpc.METHOD_NOT_FOUND, "the client did not declare the sampling capability"
    if method == "roots/list" and "roots" not in caps:
        return jsonrpc.METHOD_NOT_FOUND, "the client did not declare the roots capability"
    if method == "elicitation/create":
        declared = caps.get("elicitation")
        mode = (message.get("params") or {}).get("mode", "form")
        supported = isinstance(declared, dict) and (
            mode in declared or (mode == "form" and not declared)
        )
        if not supported:
            return jsonrpc.INVALID_PARAMS, f"the client does not support elicitation mode '{mode}'"
    return None

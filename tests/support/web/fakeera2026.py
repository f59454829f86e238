"""A fake L{Era2026Gateway} (what the web asks of the core for MCP 2026-07-28
requests) and a harness that puts it behind the real C{Site}: the web's
2026 side is tested without the core's bridge."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.core.era2026.types import Era2026Request, ListenFilter, ListenHandle, Sink
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.status import Era2026Stats
from mcpgateway.protocol import era2026form
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.web.app import makeSite
from tests.http import ACCEPT_BOTH, Harness, Response

VERSION = "2026-07-28"


@dataclass
class Call:
    """One C{era2026Call} the web made."""

    server: str
    request: Era2026Request
    sink: Sink
    answer: Deferred[Message]
    cancelled: list[bool] = field(default_factory=list)

    def reply(self, result: dict[str, Any]) -> None:
        self.answer.callback({"jsonrpc": "2.0", "id": self.request.clientId, "result": result})

    def error(self, code: int, text: str, data: Any = None) -> None:
        error: dict[str, Any] = {"code": code, "message": text}
        if data is not None:
            error["data"] = data
        self.answer.callback({"jsonrpc": "2.0", "id": self.request.clientId, "error": error})


class FakeHandle:
    """A listen stream in the fake core."""

    def __init__(self, honoured: ListenFilter) -> None:
        self.honoured = honoured
        self.ended: Deferred[str] = Deferred()
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


@dataclass
class Listen:
    """One C{listen} the web made."""

    server: str
    request: Era2026Request
    wanted: ListenFilter
    sink: Sink
    opened: Deferred[ListenHandle]
    cancelled: list[bool] = field(default_factory=list)

    def open(self, honoured: ListenFilter | None = None) -> FakeHandle:
        handle = FakeHandle(self.wanted if honoured is None else honoured)
        self.opened.callback(handle)
        return handle


class FakeEra2026:
    """Records what the web asks; the test answers."""

    def __init__(self, refusals: dict[str, str] | None = None) -> None:
        self.refusals = dict(refusals or {})
        self.calls: list[Call] = []
        self.listens: list[Listen] = []
        self.paramMaps: dict[tuple[str, str, str], dict[str, str]] = {}
        self.paramLookups: list[tuple[str, str, str]] = []
        self.stats: defaultdict[str, Era2026Stats] = defaultdict(Era2026Stats)
        self.autoAnswer: dict[str, Any] | None = None
        """When set, every call is answered at once with this result."""

    def era2026Refusal(self, server: str) -> str | None:
        return self.refusals.get(server)

    def era2026Call(self, server: str, request: Era2026Request, sink: Sink) -> Deferred[Message]:
        """Recorded once the request's C{gate} (if any) lets it through, as
        a call that waits on its request."""
        gate = request.gate
        if gate is not None:
            ungated = replace(request, gate=None)
            return gate(
                server, request.params, lambda: self.era2026Call(server, ungated, sink), True
            )
        cancelled: list[bool] = []
        answer: Deferred[Message] = Deferred(lambda d: cancelled.append(True))
        call = Call(server, request, sink, answer, cancelled)
        self.calls.append(call)
        if self.autoAnswer is not None:
            call.reply(dict(self.autoAnswer))
        return answer

    def listen(
        self, server: str, request: Era2026Request, wanted: ListenFilter, sink: Sink
    ) -> Deferred[ListenHandle]:
        cancelled: list[bool] = []
        opened: Deferred[ListenHandle] = Deferred(lambda d: cancelled.append(True))
        self.listens.append(Listen(server, request, wanted, sink, opened, cancelled))
        return opened

    def paramHeaders(self, server: str, scope: str, tool: str) -> dict[str, str] | None:
        self.paramLookups.append((server, scope, tool))
        return self.paramMaps.get((server, scope, tool))

    def era2026Stats(self, server: str) -> Era2026Stats:
        return self.stats[server]

    @property
    def reached(self) -> int:
        """How many requests reached the core."""
        return len(self.calls) + len(self.listens)


def meta(
    capabilities: dict[str, Any] | None = None,
    version: str = VERSION,
    **extra: Any,
) -> dict[str, Any]:
    """A request envelope."""
    envelope: dict[str, Any] = {
        era2026form.PROTOCOL_VERSION_KEY: version,
        era2026form.CAPABILITIES_KEY: {} if capabilities is None else capabilities,
        era2026form.CLIENT_INFO_KEY: {"name": "test", "version": "1"},
    }
    envelope.update(extra)
    return envelope


def body(
    method: str, requestId: Any = 1, params: dict[str, Any] | None = None, **metaArgs: Any
) -> dict[str, Any]:
    """A 2026 request with its envelope."""
    full = dict(params or {})
    extra = metaArgs.pop("_meta", {})
    full["_meta"] = {**meta(**metaArgs), **full.get("_meta", {}), **extra}
    return {"jsonrpc": "2.0", "id": requestId, "method": method, "params": full}


def headersFor(message: dict[str, Any], **overrides: str | None) -> dict[str, str]:
    """The routing headers a conforming client sends for C{message}."""
    params = message.get("params")
    params = params if isinstance(params, dict) else {}
    envelope = params.get("_meta")
    envelope = envelope if isinstance(envelope, dict) else {}
    version = envelope.get(era2026form.PROTOCOL_VERSION_KEY, VERSION)
    method = message.get("method")
    out: dict[str, str | None] = {
        "mcp-protocol-version": version if isinstance(version, str) else VERSION,
        "mcp-method": method if isinstance(method, str) else None,
    }
    key = era2026form.NAMED_METHODS.get(method) if isinstance(method, str) else None
    if key is not None and isinstance(params.get(key), str):
        out["mcp-name"] = era2026form.encodeNameHeader(params[key])
    out.update(overrides)
    return {k: v for k, v in out.items() if v is not None}


class Era2026Harness(Harness):
    """The real site (and gateway, with fake children, for handshake
    sessions) whose 2026 requests go to a L{FakeEra2026}."""

    def __init__(
        self,
        servers: dict[str, ServerSpec] | None = None,
        refusals: dict[str, str] | None = None,
        limits: MessageBounds | None = None,
        maxBody: int = 4096,
    ) -> None:
        super().__init__(servers, maxBody=maxBody)
        self.era2026 = FakeEra2026(refusals)
        self.site = makeSite(
            self.gateway, self.reactor, maxBody=maxBody, limits=limits, era2026=self.era2026
        )

    def post(
        self,
        message: Any,
        headers: dict[str, str] | None = None,
        path: str = "/srv/mcp",
        **kwargs: Any,
    ) -> Response:
        """POST C{message} with the headers a conforming client sends
        (C{headers} replaces or adds some)."""
        sent = headersFor(message) if isinstance(message, dict) else {}
        sent.update(headers or {})
        return self.request("POST", path, message, headers=sent, **kwargs)

    def rawPost(self, raw: bytes, headers: dict[str, str], path: str = "/srv/mcp") -> Response:
        return self.request("POST", path, raw=raw, headers=headers)


def sseEvents(response: Response) -> list[dict[str, Any]]:
    """The SSE messages of a response so far (each C{data:} line)."""
    return [
        json.loads(line[6:]) for line in response.body.split(b"\n") if line.startswith(b"data: ")
    ]


ACCEPT = ACCEPT_BOTH

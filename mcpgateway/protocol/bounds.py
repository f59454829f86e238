# -*- test-case-name: tests.protocol.test_jsonrpc,tests.startup.test_tap,tests.web.endpoints.test_mcp -*-
"""Every bound the gateway puts on what a client may send, in one place.

A L{MessageBounds} is handed to L{mcpgateway.web.app.makeSite}; the parser bounds
(nesting depth, number size) are also the defaults of
L{mcpgateway.protocol.jsonrpc.loads}, which reads the children's output too.
C{docs/guide/limits.md} lists each limit with the error it gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_BODY = 4 * 1024 * 1024
"""Bytes in one POST body (HTTP 413 beyond)."""
MAX_BATCH = 100
"""Messages in one JSON-RPC batch (HTTP 413, -32600 beyond)."""
MAX_DEPTH = 100
"""Nesting levels of arrays and objects in one JSON text (-32700 beyond).
Far below what Python's own recursion limit allows, so nothing that walks a
parsed message can hit a C{RecursionError}."""
MAX_NUMBER_DIGITS = 1000
"""Characters in one JSON number (-32700 beyond): below Python's 4,300-digit
integer-conversion limit, and big numbers cost quadratic time to convert."""
MAX_IN_FLIGHT_PER_SESSION = 64
"""Requests one session may have waiting for a child (-32004 beyond)."""
HEADER_TIMEOUT = 10.0
"""Seconds from a request's first byte until its headers are complete (408)."""
MAX_CONNECTIONS_PER_PEER = 2048
"""Open connections from one IP address (503 beyond). Every local client
shares 127.0.0.1, so this is also the bound on all local clients together."""
KEEPALIVE_INTERVAL = 15.0
"""Seconds of silence after which an SSE stream gets a C{: keep-alive} comment."""
POLL_SPIN = 100.0
"""Microseconds the gateway's reactor polls before it sleeps, after a run of
quick waits (C{--poll-spin}; L{mcpgateway.tuned.reactor})."""
REPLAY_MAX_EVENTS = 1000
"""Events kept per resumable SSE stream for a C{Last-Event-ID} replay (the
oldest go first beyond)."""
REPLAY_MAX_BYTES = 4 * 1024 * 1024
"""Bytes of events kept per resumable SSE stream (the oldest go first beyond;
the newest event is always kept)."""
REPLAY_TTL = 300.0
"""Seconds a resumable stream's events wait for the client to resume after
its connection went away."""
SSE_RETRY = 1.0
"""Seconds a client waits before it resumes a broken stream (the C{retry:}
field of the priming event)."""
MAX_ERA2026_IN_FLIGHT = 256
"""MCP 2026-07-28 requests (and listen streams) one endpoint may have
waiting for the core (-32004 beyond): the 2026 revision has no session to
count them by."""
MAX_SUSPENDED_CALLS = 256
"""2026 calls of one server waiting for their client's C{input_required}
answer at once (-32004 beyond; the child's call is cancelled)."""
RESULT_STORE_BYTES = 256 * 1024 * 1024
"""Bytes of large tool results the aggregate endpoint keeps for
C{get_result}, across every session (the oldest go first)."""
MAX_SESSION_INFO = 64 * 1024
"""Bytes of the C{capabilities} and C{clientInfo} of one C{initialize},
together, as compact JSON (HTTP 400, -32600 beyond). A session keeps both for
its whole life and the sessions file saves them; real clients send well
under 2 KiB."""
MAX_SESSIONS = 10_000
"""Live sessions of one gateway process, every endpoint together (an
C{initialize} beyond is refused with HTTP 503, -32000, until some end)."""
MAX_SESSIONS_PER_PRINCIPAL = 1_000
"""Live sessions of one authenticated principal (every endpoint together):
a tenth of L{MAX_SESSIONS}, so no one caller can fill the gateway. Without
authentication every caller is the same anonymous one, and only
L{MAX_SESSIONS} applies."""
ERA2026_INPUT_TIMEOUT = 600.0
"""Seconds a suspended 2026 call waits for its client's retry (each
round); then its child's questions are answered as declined and its call is
cancelled."""


@dataclass(frozen=True)
class MessageBounds:
    """The bounds one gateway site enforces (see C{docs/guide/limits.md})."""

    maxBody: int = MAX_BODY
    maxBatch: int = MAX_BATCH
    maxDepth: int = MAX_DEPTH
    maxNumberDigits: int = MAX_NUMBER_DIGITS
    maxInFlightPerSession: int = MAX_IN_FLIGHT_PER_SESSION
    headerTimeout: float = HEADER_TIMEOUT
    maxConnectionsPerPeer: int = MAX_CONNECTIONS_PER_PEER
    keepAliveInterval: float = KEEPALIVE_INTERVAL
    replayMaxEvents: int = REPLAY_MAX_EVENTS
    replayMaxBytes: int = REPLAY_MAX_BYTES
    replayTTL: float = REPLAY_TTL
    sseRetry: float = SSE_RETRY
    maxEra2026InFlight: int = MAX_ERA2026_IN_FLIGHT
    maxSuspendedCalls: int = MAX_SUSPENDED_CALLS
    era2026InputTimeout: float = ERA2026_INPUT_TIMEOUT
    maxSessionInfo: int = MAX_SESSION_INFO
    maxSessions: int = MAX_SESSIONS
    maxSessionsPerPrincipal: int = MAX_SESSIONS_PER_PRINCIPAL

    def __post_init__(self) -> None:
        for name in (
            "maxBody",
            "maxBatch",
            "maxDepth",
            "maxNumberDigits",
            "maxInFlightPerSession",
            "maxConnectionsPerPeer",
            "replayMaxEvents",
            "replayMaxBytes",
            "maxEra2026InFlight",
            "maxSuspendedCalls",
            "maxSessionInfo",
            "maxSessions",
            "maxSessionsPerPrincipal",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive integer, not {value!r}")
        for name in (
            "headerTimeout",
            "keepAliveInterval",
            "replayTTL",
            "sseRetry",
            "era2026InputTimeout",
        ):
            value = getattr(self, name)
            if (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or not (value > 0 and math.isfinite(value))
            ):
                raise ValueError(f"Limits.{name} must be a positive number, not {value!r}")
        if self.maxNumberDigits >= 4300:
            raise ValueError(
                "Limits.maxNumberDigits must stay below Python's 4300-digit integer limit"
            )

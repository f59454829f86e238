# -*- test-case-name: tests.web.plumbing.test_resumable -*-
"""What a client may still ask for again: the events of resumable SSE streams.

MCP 2025-11-25 (basic/transports §Resumability and Redelivery) lets a server
put an C{id} on its SSE events; a client whose connection broke asks again
with C{GET} and C{Last-Event-ID}, and the server replays what followed that
event I{on the stream that was disconnected}, never what belongs to another.
Sessions that negotiated 2025-11-25 or later get this; older ones keep
streams without ids (their clients do not expect a priming event).

An event id is C{<process>-<kind><n>-<seq>}: C{process} is random per
gateway process (sessions outlive restarts, the streams' events do not, so an
id from an earlier process can never be mistaken for a current one), C{kind}
is C{p} for the response stream of a POST and C{g} for the GET stream, C{n}
counts the process's streams (so no key is ever used twice), C{seq} counts
the stream's events (C{0} is the priming event, which is never replayed).

A L{StreamLog} keeps, per stream, its last events up to a count and a byte
bound (L{mcpgateway.protocol.bounds.MessageBounds}); it is dropped when the stream's request
was answered over a connection that stayed up to the end, when the stream is
replaced or its session ends, or C{ttl} seconds after its last connection
went away. One ticker per store sweeps the ones past their time, and runs
only while some wait.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

from twisted.internet.interfaces import IReactorTime
from twisted.web.server import Request

from mcpgateway.core.sessions import Stream
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.runtime.timers import Every


class LoggedStream(Stream, Protocol):
    """The stream a L{StreamLog} keeps the events of
    (L{mcpgateway.web.plumbing.sse.SSEStream}): a client's C{Last-Event-ID} carries
    it on over a new request, and it ends when its log's time runs out."""

    def attach(self, request: Request, after: int) -> None:
        """Replay the events after C{after} over C{request}, then go on live."""

    def expire(self) -> None:
        """End the stream: nothing more is kept of it."""


PROCESS = secrets.token_hex(4)
"""This process's part of every event id."""

FIRST_RESUMABLE = "2025-11-25"


def resumable(protocolVersion: str) -> bool:
    """Whether a session of C{protocolVersion} gets event ids and replay (the
    handshake versions are dates, so they order as strings)."""
    return protocolVersion >= FIRST_RESUMABLE


def kindOf(eventId: str) -> str | None:
    """C{"p"} or C{"g"} for an id of our form (of any process), else C{None}."""
    parts = eventId.split("-")
    if len(parts) != 3 or parts[1][:1] not in ("p", "g"):
        return None
    return parts[1][0]


class StreamLog:
    """The replayable events of one stream, oldest first."""

    __slots__ = (
        "_events",
        "_store",
        "completed",
        "detachedAt",
        "evicted",
        "key",
        "kind",
        "seq",
        "sessionId",
        "size",
        "stream",
    )

    def __init__(self, store: ReplayStore, sessionId: str, key: str, kind: str) -> None:
        self._store = store
        self.sessionId = sessionId
        self.key = key
        self.kind = kind
        self.stream: LoggedStream | None = None
        self.seq = 0
        self._events: deque[tuple[int, bytes]] | None = None
        """Made at the first event kept: an idle GET stream never has one,
        and an empty deque is 760 bytes (memory per idle session)."""
        self.size = 0
        self.evicted = 0
        """The highest seq dropped to keep within the bounds (0: none)."""
        self.completed = False
        self.detachedAt: float | None = None

    @property
    def events(self) -> Sequence[tuple[int, bytes]]:
        """The kept events, oldest first: (seq, frame)."""
        return self._events if self._events is not None else ()

    @property
    def retryMs(self) -> int:
        """Milliseconds a client should wait before it resumes."""
        return self._store.retryMs

    def priming(self) -> bytes:
        """The priming event (seq 0): an id and empty data, with the retry delay."""
        return b"id: %s-0\nretry: %d\ndata:\n\n" % (self.key.encode("ascii"), self._store.retryMs)

    def record(self, data: bytes) -> bytes:
        """Give the event carrying C{data} (a JSON text) its id; keep it; its frame."""
        self.seq += 1
        frame = b"id: %s-%d\nevent: message\ndata: %s\n\n" % (
            self.key.encode("ascii"),
            self.seq,
            data,
        )
        events = self._events
        if events is None:
            events = self._events = deque()
        events.append((self.seq, frame))
        self.size += len(frame)
        store = self._store
        while len(events) > store.maxEvents or (self.size > store.maxBytes and len(events) > 1):
            seq, old = events.popleft()
            self.size -= len(old)
            self.evicted = seq
        return frame

    def keep(self) -> None:
        """Its first id went out: a client may ask for it from now on."""
        self._store.keep(self)

    def after(self, seq: int) -> list[bytes]:
        """The kept frames that followed event C{seq}."""
        return [frame for s, frame in self.events if s > seq]

    def detached(self) -> None:
        """Its connection went away: it waits for a resume, at most C{ttl}."""
        self._store.waiting(self)

    def attached(self) -> None:
        self.detachedAt = None
        self._store.resumed(self)

    def drop(self) -> None:
        self._store.drop(self)
        self.stream = None  # it points back here: no cycle left for the collector


class ReplayStore:
    """Every session's stream logs, for one gateway site."""

    def __init__(self, clock: IReactorTime, limits: MessageBounds | None = None) -> None:
        limits = limits if limits is not None else MessageBounds()
        self._clock = clock
        self.maxEvents = limits.replayMaxEvents
        self.maxBytes = limits.replayMaxBytes
        self.ttl = limits.replayTTL
        self.retryMs = int(limits.sseRetry * 1000)
        self.logs: dict[str, StreamLog] = {}
        """Stream key: log. Keys are unique in the process, so one dict
        serves every session (no dict per session: memory per
        idle session); L{find} checks that the log is the session's."""
        self._counter = 0
        """Streams opened: one counter for all sessions, so no key is ever reused."""
        self._waiting: set[StreamLog] = set()
        self._sweeper = Every(clock, min(max(self.ttl / 10, 1.0), 30.0), self.sweep)

    def open(self, sessionId: str, kind: str) -> StreamLog:
        """A new stream's log (C{kind}: C{"p"} or C{"g"}), findable once its
        first id went out (a one-piece answer never is)."""
        self._counter += 1
        key = f"{PROCESS}-{kind}{self._counter}"
        return StreamLog(self, sessionId, key, kind)

    def keep(self, log: StreamLog) -> None:
        """Make C{log} findable: its first id went out."""
        self.logs[log.key] = log

    def find(self, sessionId: str, eventId: str) -> tuple[StreamLog, int] | None:
        """The log of the stream C{eventId} belongs to, and its seq."""
        key, _, seq = eventId.rpartition("-")
        log = self.logs.get(key)
        if log is None or log.sessionId != sessionId:
            return None  # never another session's stream
        if not (seq.isascii() and seq.isdigit() and len(seq) < 19):
            return None
        number = int(seq)
        if number > log.seq:
            return None  # an id this stream never gave
        return log, number

    def drop(self, log: StreamLog) -> None:
        self._waiting.discard(log)
        if self.logs.get(log.key) is log:
            del self.logs[log.key]

    def waiting(self, log: StreamLog) -> None:
        log.detachedAt = self._clock.seconds()
        self._waiting.add(log)
        if not self._sweeper.running:
            self._sweeper.start()

    def resumed(self, log: StreamLog) -> None:
        self._waiting.discard(log)

    def sweep(self) -> None:
        """Drop the logs that waited for a resume longer than C{ttl}."""
        if not self._waiting:
            self._sweeper.stop()
            return
        limit = self._clock.seconds() - self.ttl
        for log in [w for w in self._waiting if (w.detachedAt or 0.0) <= limit]:
            stream = log.stream
            self.drop(log)
            if stream is not None:
                stream.expire()

    def count(self) -> dict[str, Any]:
        """How much is kept (for tests and diagnostics)."""
        logs = list(self.logs.values())
        return {
            "streams": len(logs),
            "waiting": len(self._waiting),
            "events": sum(len(log.events) for log in logs),
            "bytes": sum(log.size for log in logs),
        }

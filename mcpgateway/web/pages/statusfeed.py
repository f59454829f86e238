# -*- test-case-name: tests.web.pages.test_statuspage -*-
"""The status page's live feed: one SSE stream of the page's data per watcher.

One L{StatusFeed} serves every open status page. It renders a snapshot once
and writes the same frame to every watcher: every C{interval} seconds (2)
while anyone watches, and soon after a server's event (a child's exit, a
restart, a circuit change: L{StatusFeed.nudge}, at most once per
C{NUDGE_DELAY}; stderr lines wait for the next tick). Nobody watching: no
timer runs and no snapshot is taken.

Bounded: at most C{maxWatchers} streams at once (more are answered 503 with
C{Retry-After}), and a watcher that does not read is skipped while its
connection's send buffer is full (it is a push producer its channel pauses;
the next snapshot it gets is the newest, so nothing piles up for it). While
the site hands over to a restart's successor, each stream is ended at the
next push (the browser's C{EventSource} reconnects, to the successor).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime
from twisted.logger import Logger
from twisted.web.server import NOT_DONE_YET, Request
from zope.interface import implementer

from mcpgateway.core.eventlog import EventLog
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs
from mcpgateway.runtime.timers import Every
from mcpgateway.web.plumbing.replies import jsonReply

INTERVAL = 2.0
"""Seconds between two snapshots while someone watches."""
NUDGE_DELAY = 0.25
"""How soon after a server's event the watchers get a fresh snapshot (events
coming faster are coalesced into that one push)."""
MAX_WATCHERS = 16
"""Status streams open at once, in total."""
RETRY_MS = 2000
"""The C{retry:} delay an C{EventSource} waits before reconnecting."""


@implementer(IPushProducer)
class _Watcher:
    """One open stream: its response, and whether its channel can take more."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.paused = False
        self.open = True

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False

    def stopProducing(self) -> None:
        self.open = False

    def handingOver(self) -> bool:
        """Whether its site hands over to a restart's successor."""
        channel = getattr(self.request, "channel", None)
        return bool(getattr(getattr(channel, "site", None), "handingOver", False))


class StatusFeed:
    """Pushes the status page's data to every watcher, from one ticker."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        clock: IReactorTime,
        snapshot: Callable[[], Any],
        eventLogs: Callable[[], Iterable[EventLog]] = tuple,
        interval: float = INTERVAL,
        maxWatchers: int = MAX_WATCHERS,
    ) -> None:
        """
        @param snapshot: the data a frame carries (JSON-encodable), taken
            once per push for all watchers.
        @param eventLogs: the event logs of the servers now (they come and go
            with reloads): an event in any of them brings a push soon.
        """
        self._clock = clock
        self._snapshot = snapshot
        self._eventLogs = eventLogs
        self._maxWatchers = maxWatchers
        self.watchers: set[_Watcher] = set()
        self.pushes = 0
        """Snapshots taken so far (each written to every watcher)."""
        self._ticker = Every(clock, interval, self._push)
        self._nudged: IDelayedCall | None = None
        self._listening: dict[int, tuple[EventLog, Callable[[], None]]] = {}

    @property
    def running(self) -> bool:
        """Whether its ticker runs (someone watches)."""
        return self._ticker.running

    def watch(self, request: Request) -> bytes | int:
        """Serve C{request} as a stream: the current snapshot at once, then
        the next ones until the client goes away."""
        if len(self.watchers) >= self._maxWatchers:
            request.setHeader(b"retry-after", b"10")
            return jsonReply(
                request,
                503,
                {
                    "error": f"too many status streams: {self._maxWatchers} are open, the most"
                    " the gateway serves at once; close a status page (or read GET /health)"
                },
            )
        request.setHeader(b"content-type", b"text/event-stream")
        request.setHeader(b"cache-control", b"no-cache, no-store")
        request.setHeader(b"x-accel-buffering", b"no")
        if request.method == b"HEAD":
            return b""
        watcher = _Watcher(request)
        request.registerProducer(watcher, True)
        self.watchers.add(watcher)
        request.notifyFinish().addBoth(lambda _: self._gone(watcher))
        request.write(b"retry: %d\n\n" % RETRY_MS)
        self._write(watcher, self._frame())
        if not self._ticker.running:
            self._ticker.start()
        self._follow()
        return NOT_DONE_YET

    def nudge(self) -> None:
        """Push a fresh snapshot soon (coalesced), if anyone watches."""
        if self.watchers and self._nudged is None:
            self._nudged = self._clock.callLater(NUDGE_DELAY, self._push)

    def closeAll(self) -> int:
        """End every stream (their clients reconnect); how many ended."""
        watchers = list(self.watchers)
        for watcher in watchers:
            self._close(watcher)
        return len(watchers)

    def _frame(self) -> bytes:
        self.pushes += 1
        return b"data: " + jsonrpc.dumps(self._snapshot()) + b"\n\n"

    def _push(self) -> None:
        nudged, self._nudged = self._nudged, None
        if nudged is not None and nudged.active():
            nudged.cancel()
        if not self.watchers:
            self._idle()
            return
        try:
            frame = self._frame()
        except Exception:
            self.log.failure("the status page's snapshot failed")
            return
        for watcher in list(self.watchers):
            try:
                if watcher.handingOver():
                    self._close(watcher)
                else:
                    self._write(watcher, frame)
            except Exception:
                self.log.failure("a status stream failed; ended it")
                self._gone(watcher)
        self._follow()

    def _write(self, watcher: _Watcher, frame: bytes) -> None:
        request = watcher.request
        if not watcher.open or request.finished or getattr(request, "_disconnected", False):
            self._gone(watcher)
        elif not watcher.paused:
            request.write(frame)

    def _close(self, watcher: _Watcher) -> None:
        request = watcher.request
        self._gone(watcher)
        if not request.finished and not getattr(request, "_disconnected", False):
            request.unregisterProducer()
            request.finish()

    def _gone(self, watcher: _Watcher) -> None:
        if watcher not in self.watchers:
            return
        watcher.open = False
        self.watchers.discard(watcher)
        if not self.watchers:
            self._idle()

    def _idle(self) -> None:
        """Nobody watches: no ticker, no pending push, no event listeners."""
        if self._ticker.running:
            self._ticker.stop()
        nudged, self._nudged = self._nudged, None
        if nudged is not None and nudged.active():
            nudged.cancel()
        for _, stop in self._listening.values():
            stop()
        self._listening.clear()

    def _follow(self) -> None:
        """Listen to the event logs of the servers there are now (only)."""
        if not self.watchers:
            return
        current = {id(log): log for log in self._eventLogs()}
        for key in list(self._listening):
            if key not in current or self._listening[key][0] is not current[key]:
                self._listening.pop(key)[1]()
        for key, log in current.items():
            if key not in self._listening:
                self._listening[key] = (log, log.listen(self._heard))

    def _heard(self, event: dict[str, Any]) -> None:
        # A child's stderr can be a torrent: it shows at the next tick.
        if event.get("kind") != "stderr":
            self.nudge()

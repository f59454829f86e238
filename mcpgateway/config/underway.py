# -*- test-case-name: tests.config.test_underway -*-
"""The reloads of the servers under way, and the requests waiting for them.

A reload of the config may adopt a client's file: the file is rewritten,
in a thread, to name a route the gateway serves only once that reload is
handed to it, back in the reactor's thread. A client that watches its file
(VS Code, Cursor) connects at once, and could ask for that route in
between. L{ReloadsUnderWay} lets such a request wait: while a reload is
under way, L{ReloadsUnderWay.settling} gives a Deferred that fires once no
reload is (the servers it found are served), and the HTTP side looks the
route up again then (L{mcpgateway.web.awaitedroute}).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from twisted.internet.defer import Deferred


class ReloadsUnderWay:
    """Counts the reloads under way (waiting for the config's lock, loading,
    or being handed to the gateway), and fires the Deferreds of
    L{settling} when the last one ends."""

    def __init__(self) -> None:
        self._count = 0
        self._waiting: list[Deferred[None]] = []

    @contextmanager
    def covering(self) -> Iterator[None]:
        """A reload is under way while this block runs (awaits included):
        from before it waits for the lock until its servers are handed to
        the gateway, failed or not."""
        self._count += 1
        try:
            yield
        finally:
            self._count -= 1
            if self._count == 0:
                waiting, self._waiting = self._waiting, []
                for waiter in waiting:
                    waiter.callback(None)

    def settling(self) -> Deferred[None] | None:
        """A Deferred that fires once no reload is under way; C{None} when
        none is now. Cancelling it (a request that stops waiting) forgets
        it."""
        if self._count == 0:
            return None

        def forget(waiter: Deferred[None]) -> None:
            if waiter in self._waiting:
                self._waiting.remove(waiter)

        waiter: Deferred[None] = Deferred(forget)
        self._waiting.append(waiter)
        return waiter

# -*- test-case-name: tests.core.test_backlog, tests.core.test_predecessor -*-
"""The notifications a session's client missed while its standalone stream
was closed for a moment: L{Backlog}.

A client that listens (it opened a GET stream once) gets what a child
tells its session outside a request on that stream: a resource it
subscribed to changed, a log line, a list changed, a task's status. The
stream closes now and then while the session goes on: a restart's old
process ends every GET stream so that the clients open them again at its
successor, and meanwhile, until it hands them over, the children are
still the old process's, and what they say still reaches it. A client's
connection may also drop and come back. A notification that finds no
stream waits here, in order, and goes out first on the session's next
stream; the old process saves what waits with the session, and the
successor sends it on (L{mcpgateway.core.gateway.continuity}). Direct
stdio loses none of them, so the gateway should not either.

Only notifications wait (a child's request has its own wait for a stream,
L{mcpgateway.core.streamwaits}), and only so many: at most L{MAX_KEPT} of
them and L{MAX_BYTES} in all, the oldest dropped first and counted, so
that a session whose client went away without a word (it is reaped later)
holds a few kilobytes at most, and a saved session record stays well
under the session store's limit for one record.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message

MAX_KEPT = 64
"""The most notifications that wait for one session's next stream."""
MAX_BYTES = 32 * 1024
"""The most bytes of them (as JSON) that wait for one session."""


def isNotification(message: Message) -> bool:
    """Whether C{message} is a notification: a method and no id."""
    return "id" not in message and isinstance(message.get("method"), str)


class Backlog:
    """The notifications that wait for one session's next stream, oldest
    first, and how many were dropped to keep within L{MAX_KEPT} and
    L{MAX_BYTES}."""

    __slots__ = ("_kept", "dropped", "size")

    def __init__(self) -> None:
        self._kept: deque[tuple[Message, int]] = deque()
        self.size = 0
        """The bytes of what waits, as JSON."""
        self.dropped = 0
        """Notifications dropped since the last L{take}."""

    def __len__(self) -> int:
        return len(self._kept)

    def keep(self, message: Message) -> None:
        """Keep C{message} for the next stream, dropping the oldest beyond
        the bounds (one over L{MAX_BYTES} alone is dropped itself)."""
        size = len(jsonrpc.dumps(message))
        if size > MAX_BYTES:
            self.dropped += 1
            return
        kept = self._kept
        kept.append((message, size))
        self.size += size
        while len(kept) > MAX_KEPT or self.size > MAX_BYTES:
            _, oldest = kept.popleft()
            self.size -= oldest
            self.dropped += 1

    def take(self) -> tuple[list[Message], int]:
        """What waits, oldest first, and how many were dropped; both
        forgotten here."""
        messages = [message for message, _ in self._kept]
        dropped = self.dropped
        self._kept.clear()
        self.size = self.dropped = 0
        return messages, dropped

    def messages(self) -> list[Message]:
        """What waits, oldest first (for a saved record), kept here."""
        return [message for message, _ in self._kept]


def checkedBacklog(value: Any) -> list[Message]:
    """The notifications of a saved record's C{backlog}: a list of at most
    L{MAX_KEPT} objects, each a notification (L{isNotification}).

    @raise ValueError: C{value} is not that."""
    if not isinstance(value, list) or len(value) > MAX_KEPT:
        raise ValueError(f"a session's backlog is not a list of at most {MAX_KEPT} messages")
    for message in value:
        if not (isinstance(message, dict) and isNotification(message)):
            raise ValueError("a session's backlog holds something other than a notification")
    return list(value)

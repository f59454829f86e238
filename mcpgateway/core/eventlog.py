# -*- test-case-name: tests.core.test_upstream,tests.web.admin.test_api -*-
"""What happened to one server lately: its children's stderr and lifecycle.

An L{EventLog} keeps the last events in a bounded ring (for late readers) and
hands each new one to live listeners (the management API's log streams).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IReactorTime

Event = dict[str, Any]
Listener = Callable[[Event], None]


class EventLog:
    """A ring of recent events and the listeners that want new ones."""

    def __init__(self, clock: IReactorTime, size: int = 500) -> None:
        self._clock = clock
        self._events: deque[Event] = deque(maxlen=size)
        self._listeners: list[Listener] = []

    def emit(self, kind: str, text: str, **fields: Any) -> None:
        """Record one event: C{kind} is C{stderr} or a lifecycle word."""
        event = {"time": self._clock.seconds(), "kind": kind, "text": text, **fields}
        self._events.append(event)
        for listener in list(self._listeners):
            listener(event)

    def recent(self, count: int | None = None) -> list[Event]:
        events = list(self._events)
        return events if count is None else events[-count:]

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call C{listener} with every new event; returns the way to stop."""
        self._listeners.append(listener)

        def stop() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return stop

    @property
    def listeners(self) -> int:
        return len(self._listeners)

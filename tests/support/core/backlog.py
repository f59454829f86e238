"""A session's GET streams as a test sees them, and the notifications it
gets: what the tests of the backlog of missed notifications share."""

from __future__ import annotations

from mcpgateway.core.sessions import Session
from mcpgateway.protocol.jsonrpc import Message


class ListStream:
    """A GET stream that keeps what is sent on it while open."""

    def __init__(self) -> None:
        self.open = True
        self.sent: list[Message] = []

    def send(self, message: Message) -> bool:
        if self.open:
            self.sent.append(message)
        return self.open

    def close(self) -> None:
        self.open = False

    def suspend(self) -> None:
        self.open = False


def updated(n: int) -> Message:
    return {
        "jsonrpc": "2.0",
        "method": "notifications/resources/updated",
        "params": {"uri": f"demo://{n}"},
    }


def session() -> Session:
    return Session("sid-1", "srv", "2025-06-18", {}, {}, 0.0)


def listened(s: Session) -> ListStream:
    """C{s}'s client opened a GET stream, which then closed."""
    stream = ListStream()
    s.getStream = stream
    s.streamOpened()
    stream.close()
    s.streamEnded()
    return stream


def reopened(s: Session) -> ListStream:
    stream = ListStream()
    s.getStream = stream
    s.streamOpened()
    return stream

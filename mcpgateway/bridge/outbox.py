# -*- test-case-name: tests.bridge.test_client -*-
"""The client's messages until the bridge is done with them.

A message waits in the L{Outbox} while the gateway cannot take it (not
found yet, gone away, a session being made anew); a request waits at most
C{timeout} seconds from when it was read, then gets a JSON-RPC error naming
the gateway. Every request is awaited until it has its answer (or an error):
the client closing stdin asks the bridge to end, but what it sent before
still gets its answers, and L{Outbox.drain} waits for them, at most
C{timeout} seconds, saying on stderr what was left unanswered.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from mcpgateway.bridge.framing import Outgoing
from mcpgateway.bridge.link import Link, LinkState
from mcpgateway.bridge.responses import describe
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs


class PendingMessage:
    """A client message on its way to the gateway."""

    __slots__ = ("created", "message", "timer")

    def __init__(self, message: Outgoing, created: float) -> None:
        self.message = message
        self.created = created
        self.timer: IDelayedCall | None = None


class Unreachable(Protocol):
    """Why no gateway answers, as the errors and the log say it."""

    def unreachable(self) -> str:
        """Why the gateway cannot be reached."""

    def stillLooking(self) -> str:
        """What the wait at stdin's end is for when no gateway is reached yet."""


class Outbox:
    """The client's waiting messages, and its requests not answered yet.

    @param clock: for each request's deadline and the drain's.
    @param link: whether the link is down or closed (a closed bridge
        answers nothing).
    @param toClient: writes one message (one line) to the client.
    @param why: says why no gateway answers.
    @param timeout: seconds a request waits for an unreachable gateway, and
        the drain for the answers.
    @ivar draining: fires once the wait at stdin's end is over (C{None}: no
        such wait; see L{drain}).
    @ivar gaveUpAtEnd: the requests read before stdin's end that were
        answered with an error because no gateway could be reached (as the
        log names them).
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        clock: IReactorTime,
        link: Link,
        toClient: Callable[[bytes], None],
        why: Unreachable,
        timeout: float,
    ) -> None:
        self._clock = clock
        self._link = link
        self._toClient = toClient
        self._why = why
        self._timeout = timeout
        self._waiting: deque[PendingMessage] = deque()
        self._unanswered: dict[PendingMessage, None] = {}
        """The client's requests not answered yet (an ordered set)."""
        self.draining: Deferred[None] | None = None
        self._drainStarted = 0.0
        self._drainTimer: IDelayedCall | None = None
        self.gaveUpAtEnd: list[str] = []

    def add(self, message: Outgoing, sendable: bool) -> PendingMessage | None:
        """C{message}, read now (a request is awaited from now on): to be
        sent at once when C{sendable} (the gateway can take it) and nothing
        waits before it; else it waits, and C{None}."""
        pending = PendingMessage(message, self._clock.seconds())
        if message.isRequest:
            self._unanswered[pending] = None
        if sendable and not self._waiting:
            return pending
        self.wait(pending)
        return None

    def wait(self, pending: PendingMessage, front: bool = False) -> None:
        """C{pending} waits for the gateway (at the front: it was sent before
        those waiting); a request at most until its deadline."""
        if front:
            self._waiting.appendleft(pending)
        else:
            self._waiting.append(pending)
        if pending.message.isRequest and pending.timer is None:
            left = max(0.0, pending.created + self._timeout - self._clock.seconds())
            pending.timer = self._clock.callLater(left, self._expire, pending)

    def next(self) -> PendingMessage | None:
        """The first waiting message, taken out (C{None}: none waits)."""
        if not self._waiting:
            return None
        pending = self._waiting.popleft()
        if pending.timer is not None:
            pending.timer.cancel()
            pending.timer = None
        return pending

    def failWaiting(self, text: str) -> None:
        """Answer every waiting request with C{text}: no gateway will come."""
        while (pending := self.next()) is not None:
            self._gaveUp(pending, text)

    def answerError(self, pending: PendingMessage, code: int, text: str) -> None:
        """Answer C{pending} (a request) with a JSON-RPC error."""
        if pending.message.isRequest and self._link.state is not LinkState.CLOSED:
            self._toClient(jsonrpc.dumps(jsonrpc.errorResponse(pending.message.id, code, text)))
        self.settled(pending)

    def settled(self, pending: PendingMessage) -> None:
        """C{pending} got its answer (or an error, or never will): it is
        no longer awaited."""
        if pending in self._unanswered:
            del self._unanswered[pending]
            if not self._unanswered:
                self.endDrain()

    def awaitedAtEnd(self, pending: PendingMessage) -> bool:
        """Whether stdin has ended and the end waits for C{pending}'s answer."""
        return self.draining is not None and pending in self._unanswered

    def clear(self) -> None:
        """The end: nothing waits any more."""
        for pending in self._waiting:
            if pending.timer is not None:
                pending.timer.cancel()
                pending.timer = None
        self._waiting.clear()

    def _expire(self, pending: PendingMessage) -> None:
        pending.timer = None
        try:
            self._waiting.remove(pending)
        except ValueError:
            return
        self._gaveUp(
            pending,
            f"mcpgateway bridge: {self._why.unreachable()}; gave up after {self._timeout:g} s",
        )

    def _gaveUp(self, pending: PendingMessage, text: str) -> None:
        """Answer C{pending} with C{text}: no gateway could be reached for it."""
        if self.awaitedAtEnd(pending):
            self.gaveUpAtEnd.append(describe(pending.message))
        self.answerError(pending, jsonrpc.SERVER_UNAVAILABLE, text)

    # -- the end -----------------------------------------------------------------

    def drain(self) -> Deferred[None]:
        """Fires once every awaited request has had its answer (or an error),
        at most C{timeout} seconds from now, or at L{endDrain}; what is left
        unanswered then is said on stderr. Fires at once when no request is
        awaited."""
        link = self._link
        if link.state is LinkState.CLOSED or not self._unanswered:
            return succeed(None)
        if self.draining is None:
            self.draining = Deferred()
            self._drainStarted = self._clock.seconds()
            self._drainTimer = self._clock.callLater(self._timeout, self.endDrain)
            self.log.info(
                "stdin ended: waiting up to {timeout} s for the answers to {count}"
                " request(s){down}",
                timeout=f"{self._timeout:g}",
                count=len(self._unanswered),
                down=self._why.stillLooking() if link.state is LinkState.DOWN else "",
            )
        return self.draining

    def endDrain(self) -> None:
        """Stop waiting for answers: all came, the time is up, or the end."""
        draining, self.draining = self.draining, None
        if draining is None:
            return
        if self._drainTimer is not None and self._drainTimer.active():
            self._drainTimer.cancel()
        self._drainTimer = None
        if self.gaveUpAtEnd:
            down = self._link.state is LinkState.DOWN
            self.log.warn(
                "stdin ended; {count} request(s) got an error, as {why}: {requests}",
                count=len(self.gaveUpAtEnd),
                why=self._why.unreachable() if down else "no gateway answered",
                requests=", ".join(self.gaveUpAtEnd),
            )
        if self._unanswered:
            self.log.warn(
                "stdin ended; after {seconds} s, {count} request(s) still had no answer"
                " and are left unanswered: {requests}",
                seconds=f"{self._clock.seconds() - self._drainStarted:.1f}",
                count=len(self._unanswered),
                requests=", ".join(describe(p.message) for p in self._unanswered),
            )
        draining.callback(None)

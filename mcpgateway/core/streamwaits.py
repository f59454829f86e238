# -*- test-case-name: tests.core.test_router_streamwait -*-
"""A child's requests to its clients, between the proof and the client.

Once the fanout proved which session a child's request (sampling,
elicitation, roots) is for, the request still needs a stream to reach that
client: the stream of its request in flight, else its standalone GET stream.
A client that has just initialized may have neither yet: server-everything
asks for roots 350 ms after it is initialized, and the Python SDK opens its
GET stream only after its own C{notifications/initialized}, a moment later.
L{StreamWaits} holds such a request for that one session, for at most
L{STREAM_WAIT} seconds on the injected clock, and gives it to whichever
comes first: the session's GET stream opening, or the stream of the
session's next request through the same child. Nothing held is ever given
to another session; when the time runs out the child gets the refusal it
would have got at once.

L{refusedByAll} is the other question asked before a request is called
ambiguous: whether every session that could be asked would refuse it the
same way anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.core.exchange import Exchange, refusalFor
from mcpgateway.core.sessions import SessionLike, StreamAwaiting, shortId
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs
from mcpgateway.runtime.timers import Deadlines

STREAM_WAIT = 5.0
"""Seconds a child's request to a session with no open stream waits for one
(the session's GET stream, or the stream of its next request)."""


class _Held:
    """One child request held for its session."""

    __slots__ = ("message", "session")

    def __init__(self, session: SessionLike, message: Message) -> None:
        self.session = session
        self.message = message


class StreamWaits:
    """The child's requests, by gateway id, that wait for their session to
    have a stream (see the module docstring).

    @ivar held: the requests waiting, by gateway id, oldest first; empty
        (falsy) on the hot path of every request that finds none.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        server: str,
        clock: IReactorTime,
        expired: Callable[[int], None],
        timeout: float = STREAM_WAIT,
    ) -> None:
        """
        @param server: the name of the child's server (for the log).
        @param expired: called with the gateway id of a request whose wait
            ran out (it is forgotten here by then, and the log said so): the
            child is to be refused.
        """
        self.server = server
        self.held: dict[int, _Held] = {}
        self._expired = expired
        self._deadlines: Deadlines[int] = Deadlines(clock, timeout, self._expire)
        self._watching: dict[int, Callable[[], None]] = {}
        """The callback registered with each session (by its C{id()}) whose
        GET stream is awaited."""

    def __len__(self) -> int:
        return len(self.held)

    def __contains__(self, gatewayId: object) -> bool:
        return gatewayId in self.held

    @property
    def timeout(self) -> float:
        return self._deadlines.timeout

    def hold(self, gatewayId: int, session: SessionLike, message: Message) -> None:
        """Keep C{message} (already under its gateway id) for C{session}
        until a stream of it opens, or for L{timeout} seconds."""
        self.held[gatewayId] = _Held(session, message)
        self._deadlines.add(gatewayId)
        self._watch(session)
        self.log.debug(
            "server {server}: its {method} waits (at most {wait:g} s) for session {sid} to"
            " open a stream",
            server=self.server,
            method=message.get("method"),
            wait=self.timeout,
            sid=shortId(session.id),
        )

    def _watch(self, session: SessionLike) -> None:
        """Be told when C{session}'s GET stream opens (once per session)."""
        key = id(session)
        if key in self._watching or not isinstance(session, StreamAwaiting):
            return

        def opened() -> None:
            self._watching.pop(key, None)
            try:
                self._streamOpened(session)
            except Exception:
                self.log.failure("server {server}: a held request failed", server=self.server)

        self._watching[key] = opened
        session.awaitStream(opened)

    def streamOf(self, session: SessionLike, ex: Exchange) -> list[int]:
        """C{session} sent a request (C{ex}) whose stream may carry what is
        held for it: give it everything held for it, oldest first, as long
        as the stream takes it. Returns the gateway ids given."""
        send = ex.related
        if send is None:
            return []
        given = []
        for gatewayId, held in list(self.held.items()):
            if held.session is session:
                if not send(held.message):
                    break
                given.append(gatewayId)
                self._forget(gatewayId)
        self._unwatchIfDone(session)
        return given

    def _streamOpened(self, session: SessionLike) -> None:
        """C{session}'s GET stream opened: give it what is held for it."""
        for gatewayId, held in list(self.held.items()):
            if held.session is session:
                if not session.deliver(held.message):
                    break  # closed again at once: wait on, for the rest of the time
                self._forget(gatewayId)
        if any(held.session is session for held in self.held.values()):
            self._watch(session)  # for its next GET stream, within the time left

    def drop(self, gatewayId: object) -> bool:
        """Forget the request C{gatewayId} (answered, cancelled by the
        child); whether it was held."""
        if not isinstance(gatewayId, int) or gatewayId not in self.held:
            return False
        session = self.held[gatewayId].session
        self._forget(gatewayId)
        self._unwatchIfDone(session)
        return True

    def clear(self) -> None:
        """The child is gone: nothing it asked waits any more."""
        sessions = [held.session for held in self.held.values()]
        self.held.clear()
        self._deadlines.stop()
        for session in sessions:
            self._unwatchIfDone(session)

    def _forget(self, gatewayId: int) -> None:
        self.held.pop(gatewayId, None)
        self._deadlines.discard(gatewayId)

    def _unwatchIfDone(self, session: SessionLike) -> None:
        """Stop awaiting C{session}'s GET stream once nothing is held for it."""
        if any(held.session is session for held in self.held.values()):
            return
        callback = self._watching.pop(id(session), None)
        if callback is not None and isinstance(session, StreamAwaiting):
            session.unawaitStream(callback)

    def _expire(self, gatewayId: int) -> None:
        held = self.held.pop(gatewayId, None)
        if held is None:
            return
        self._unwatchIfDone(held.session)
        self.log.warn(
            "server {server}: refused its {method} request: session {sid} opened no stream"
            " to receive it (neither its GET stream nor a request) within {wait:g} s",
            server=self.server,
            method=held.message.get("method"),
            sid=shortId(held.session.id),
            wait=self.timeout,
        )
        self._expired(gatewayId)


def refusedByAll(
    sessions: Iterable[SessionLike], exchanges: Iterable[Exchange], message: Message
) -> tuple[int, str] | None:
    """The refusal every client session C{sessions} (those a child's request
    may be for) would give the child's request C{message}: none declared
    the capability it needs. C{None} when a 2026 call is in flight among
    C{exchanges} (its capabilities are its own rounds'), or one of them
    could answer."""
    candidates = list(sessions)
    if not candidates or any(session.era2026 for session in candidates):
        return None
    if any(ex.session is not None and ex.session.era2026 for ex in exchanges):
        return None
    refusals = {refusalFor(session, message) for session in candidates}
    if len(refusals) != 1:
        return None
    [refusal] = refusals
    return refusal

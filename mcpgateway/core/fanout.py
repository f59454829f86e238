# -*- test-case-name: tests.core.test_router -*-
"""Who hears what a child says: the sharing policy of one child's traffic.

A L{Router} keeps a child's id space; its fanout decides everything that
differs between a child several sessions share and a child of one session:

 - L{SharedFanout}: the gateway initialized the child itself (a client's
   C{notifications/initialized} stays in the gateway); resource
   subscriptions are counted per URI (the child hears the first subscribe
   and the last unsubscribe; listen streams, L{mcpgateway.core.listen},
   count like sessions) and the child's log level is the lowest any
   session asked for; list changes go to every session, resource updates
   to their subscribers, log messages to the one request in flight or to
   the sessions whose level they reach (a modern request only when it
   asked for a level, and never a listen stream). A request of the child
   (sampling, elicitation, roots) goes to a client only when the child
   serves exactly one: one 2025 session attached (requests in flight or
   not; a session whose client process is known to have exited does not
   count) and no modern call in flight, or one modern call in flight and no
   2025 session attached; otherwise it is refused (see docs/routing.md).
   Who has requests in flight proves nothing: a child asks on its own too.
   Nothing else is delivered.
 - L{OwnerFanout}: everything goes to the one session, on the stream of its
   latest request when there is one, and its requests pass unchanged.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from twisted.internet.defer import Deferred, succeed

from mcpgateway import jsonrpc
from mcpgateway.core.listen import Listener
from mcpgateway.core.router import LOG_LEVELS, Exchange, Router, Sink
from mcpgateway.core.sessions import SessionLike
from mcpgateway.jsonrpc import Message

_LEVEL_RANK = {name: rank for rank, name in enumerate(LOG_LEVELS)}
_LIST_CHANGED = frozenset(
    {
        "notifications/tools/list_changed",
        "notifications/prompts/list_changed",
        "notifications/resources/list_changed",
    }
)


class SharedFanout:
    """A child shared by many sessions.

    @ivar subscriptions: how many sessions subscribed to each URI.
    @ivar childLogLevel: the level the child was last told, if any.
    """

    handshake = True
    intercepts = frozenset({"resources/subscribe", "resources/unsubscribe", "logging/setLevel"})
    keeps = frozenset({"notifications/initialized"})
    """The gateway initialized the child itself."""

    def __init__(self, roots: tuple[dict[str, Any], ...] = ()) -> None:
        self.subscriptions: Counter[str] = Counter()
        self.childLogLevel: str | None = None
        self.roots = roots
        """What the child's C{roots/list} is answered with when no session
        asked provably (see L{mcpgateway.core.router.Fanout.roots})."""

    # -- client to child -----------------------------------------------------

    def intercept(
        self, router: Router, session: SessionLike, message: Message, related: Sink | None
    ) -> Deferred[Message]:
        method = message["method"]
        if method == "resources/subscribe":
            return self._subscribe(router, session, message, related)
        if method == "resources/unsubscribe":
            return self._unsubscribe(router, session, message, related)
        return self._setLevel(router, session, message, related)

    def _subscribe(
        self, router: Router, session: SessionLike, message: Message, related: Sink | None
    ) -> Deferred[Message]:
        uri = (message.get("params") or {}).get("uri")
        if not isinstance(uri, str) or uri in session.subscriptions:
            return (
                router.forward(session, message, related)
                if not isinstance(uri, str)
                else succeed(jsonrpc.resultResponse(message["id"], {}))
            )
        session.subscriptions.add(uri)
        self.subscriptions[uri] += 1
        if self.subscriptions[uri] > 1:
            return succeed(jsonrpc.resultResponse(message["id"], {}))

        def undoOnError(response: Message) -> Message:
            if "error" in response and uri in session.subscriptions:
                session.subscriptions.discard(uri)
                self.subscriptions[uri] -= 1
                if self.subscriptions[uri] <= 0:
                    del self.subscriptions[uri]
            return response

        return router.forward(session, message, related).addCallback(undoOnError)

    def _unsubscribe(
        self, router: Router, session: SessionLike, message: Message, related: Sink | None
    ) -> Deferred[Message]:
        uri = (message.get("params") or {}).get("uri")
        if not isinstance(uri, str) or uri not in session.subscriptions:
            return succeed(jsonrpc.resultResponse(message["id"], {}))
        session.subscriptions.discard(uri)
        self.subscriptions[uri] -= 1
        if self.subscriptions[uri] > 0:
            return succeed(jsonrpc.resultResponse(message["id"], {}))
        del self.subscriptions[uri]
        return router.forward(session, message, related)

    def _setLevel(
        self, router: Router, session: SessionLike, message: Message, related: Sink | None
    ) -> Deferred[Message]:
        level = (message.get("params") or {}).get("level")
        if level not in _LEVEL_RANK:
            return succeed(
                jsonrpc.errorResponse(
                    message["id"], jsonrpc.INVALID_PARAMS, f"unknown logging level {level!r}"
                )
            )
        session.logLevel = level
        lowest = min(
            (s.logLevel for s in router.sessions if s.logLevel),
            key=_LEVEL_RANK.__getitem__,
            default=level,
        )
        if lowest == self.childLogLevel:
            return succeed(jsonrpc.resultResponse(message["id"], {}))
        self.childLogLevel = lowest
        params = {**message.get("params", {}), "level": lowest}
        return router.forward(session, {**message, "params": params}, related)

    def detached(self, router: Router, session: SessionLike) -> None:
        for uri in session.subscriptions:
            self.subscriptions[uri] -= 1
            if self.subscriptions[uri] <= 0:
                del self.subscriptions[uri]
                router.call("resources/unsubscribe", {"uri": uri})
        session.subscriptions.clear()
        if session.logLevel is not None:
            lowest = min(
                (s.logLevel for s in router.sessions if s.logLevel),
                key=_LEVEL_RANK.__getitem__,
                default=None,
            )
            if lowest is not None and lowest != self.childLogLevel:
                self.childLogLevel = lowest
                router.call("logging/setLevel", {"level": lowest})

    def restored(self, router: Router) -> None:
        for uri in self.subscriptions:
            router.call("resources/subscribe", {"uri": uri})
        if self.childLogLevel is not None:
            router.call("logging/setLevel", {"level": self.childLogLevel})
        for session in list(router.sessions):
            if isinstance(session, Listener):
                session.childRestored()

    # -- child to client -----------------------------------------------------

    def notification(self, router: Router, message: Message) -> None:
        method = message["method"]
        params = message.get("params")
        if method in _LIST_CHANGED:
            for session in list(router.sessions):
                session.deliver(message)
        elif method == "notifications/resources/updated" and isinstance(params, dict):
            uri = params.get("uri")
            for session in list(router.sessions):
                if uri in session.subscriptions:
                    session.deliver(message)
        elif method == "notifications/message" and isinstance(params, dict):
            self._logMessage(router, message, params)
        elif method == "notifications/cancelled" and isinstance(params, dict):
            router.serverCancelled(message, params)
        else:
            router.log.debug(
                "server {server}: notification {method} concerns no session; dropped",
                server=router.name,
                method=method,
            )

    def _logMessage(self, router: Router, message: Message, params: dict[str, Any]) -> None:
        rank = _LEVEL_RANK.get(params.get("level", ""), len(LOG_LEVELS))
        inflight = router.clientExchanges()
        if len(inflight) == 1 and inflight[0].related is not None:
            # Part of that request's output, unless its session asked for
            # less (a modern request: unless it asked for a level at all).
            session = inflight[0].session
            assert session is not None
            level = session.logLevel
            wanted = (
                rank >= _LEVEL_RANK.get(level, len(LOG_LEVELS))
                if level is not None
                else not session.modern
            )
            if wanted and inflight[0].related(message):
                return
        for session in list(router.sessions):
            if (
                not session.modern
                and session.logLevel is not None
                and rank >= _LEVEL_RANK[session.logLevel]
            ):
                session.deliver(message)

    def requester(self, router: Router) -> tuple[SessionLike, Exchange | None] | str:
        """The requester is proven only when the child serves exactly one
        client at that moment: the 2025 sessions attached to it, whether or
        not they have requests in flight (less those whose client process is
        known to have exited: L{Router.clientSessions}), and the modern calls
        (and listen streams) with requests in flight on it. That client then gets the
        request (on the stream of its latest C{tools/call}, else of its latest
        request, else on its own stream).

        stdio carries no link between a child's request and the call that
        caused it, and a child asks on its own too (at start-up, on a timer),
        whatever calls are in flight: the one session with requests in flight
        is no proof while another session is attached. Anything else would be
        a guess, and a wrong guess shows one user's prompt to another user's
        model (or one user's roots to another): the gateway never guesses. (A
        request naming the call it serves, C{_meta}
        C{mcpgateway/relatedRequestId}, is routed by the router before the
        fanout is asked.)"""
        inflight = router.clientExchanges()
        clients: dict[int, SessionLike] = {id(s): s for s in router.clientSessions()}
        for ex in inflight:
            if ex.session is not None and ex.session.modern:
                clients.setdefault(id(ex.session), ex.session)
        if not clients:
            return "no client session is attached to this server to answer it"
        if len(clients) > 1:
            legacy = sum(1 for s in clients.values() if not s.modern)
            modern = len(clients) - legacy
            if not modern:
                return (
                    f"ambiguous: {legacy} client sessions use the shared server"
                    f" '{router.name}', and its request names none of them, so the gateway"
                    " cannot tell which one it is for; the gateway gives this server a child"
                    " per session from the next session on (unless its share is pinned)"
                )
            return (
                f"ambiguous: {legacy} client session(s) and {modern} modern call(s) use"
                f" the shared server '{router.name}', so the gateway cannot tell which one"
                " it is for (a server names the request it serves with"
                " _meta mcpgateway/relatedRequestId, see docs/era.md)"
            )
        [session] = clients.values()
        own = [ex for ex in inflight if ex.session is session]
        calls = [ex for ex in own if ex.method == "tools/call"]
        latest = (calls or own)[-1] if own else None
        return session, latest


class OwnerFanout:
    """The child of one session, its C{owner}: the client initializes it, and
    everything the child says is the owner's."""

    handshake = False
    intercepts: frozenset[str] = frozenset()
    keeps: frozenset[str] = frozenset()
    roots: tuple[dict[str, Any], ...] = ()
    """Its owner answers C{roots/list} itself."""

    def __init__(self, owner: SessionLike) -> None:
        self.owner = owner

    def intercept(
        self, router: Router, session: SessionLike, message: Message, related: Sink | None
    ) -> Deferred[Message]:
        return router.forward(session, message, related)  # intercepts nothing

    def detached(self, router: Router, session: SessionLike) -> None:
        """Nothing to give back: the owner's requests pass unchanged."""

    def restored(self, router: Router) -> None:
        """Nothing to restore: a per-session child is never restarted."""

    def notification(self, router: Router, message: Message) -> None:
        """Everything goes to the owner, on the stream of its latest request
        when there is one."""
        if message["method"] == "notifications/cancelled":
            router.serverCancelled(message, message.get("params") or {})
            return
        latest = router.latestExchange(self.owner)
        if latest is not None and latest.related is not None and latest.related(message):
            return
        self.owner.deliver(message)

    def requester(self, router: Router) -> tuple[SessionLike, Exchange | None] | str:
        """The owner asked: it is the only session the child serves."""
        return self.owner, router.latestExchange(self.owner)

# -*- test-case-name: tests.core.test_router, tests.core.test_router_streamwait -*-
"""A child's requests to its clients: from the child to one session, and back.

A child asks its client things (C{roots/list}, C{sampling/createMessage},
C{elicitation/create}) under ids of its own; several sessions may share the
child, and each client answers under the id it was asked with. L{ChildAsks}
gives each such request a gateway id, passes it to the one session it is
proven to be for (L{mcpgateway.core.fanout}: a request naming the call it
serves goes to that call's client, whatever else is in flight), holds it
for a session with no stream open yet (L{StreamWaits}), and brings the
client's answer back to the child under the child's own id. A request no
session can be proven to have caused is L{answerUnproven}'s.

It is one L{mcpgateway.core.router.Router}'s collaborator: the router owns
the child's id space and its client requests, this its requests to clients.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from twisted.internet.interfaces import IReactorTime

from mcpgateway.core.exchange import (
    NO_HINT,
    Exchange,
    ServerRequest,
    refusalFor,
    relatedRequest,
    sameId,
    withoutHints,
)
from mcpgateway.core.sessions import SessionLike, shortId
from mcpgateway.core.streamwaits import StreamWaits
from mcpgateway.core.unproven import GATEWAYS, RouterLike, answerUnproven, givesRoots
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message


class _Fanout(Protocol):
    roots: tuple[dict[str, Any], ...]

    def requester(self, router: Any, message: Message) -> tuple[SessionLike, Exchange | None] | str:
        """The session that provably made the child ask C{message}, or why none can be."""


class AskedRouter(RouterLike, Protocol):
    """What of a child's L{mcpgateway.core.router.Router} is used here."""

    @property
    def fanout(self) -> _Fanout:
        """Who a request of the child is proven to be for."""


class ChildAsks:
    """The child's requests waiting for a client's answer, by gateway id.

    @ivar requests: each request passed to a session, by its gateway id.
    """

    def __init__(self, router: AskedRouter, clock: IReactorTime, ids: Iterator[int]) -> None:
        """
        @param ids: the router's id counter (a gateway id is never a child id
            in flight, which keeps the log unambiguous).
        """
        self._router = router
        self._ids = ids
        self.requests: dict[int, ServerRequest] = {}
        self.waits = StreamWaits(router.name, clock, self._waitedOut)
        """The child's requests held for a session with no stream open yet."""

    def opened(self, session: SessionLike, ex: Exchange) -> None:
        """C{session}'s request C{ex} (with a stream) was opened: the
        requests held for that session go on its stream."""
        if self.waits.held:
            for gatewayId in self.waits.streamOf(session, ex):
                self.requests[gatewayId].exchange = ex

    def asking(self, session: SessionLike, gatewayId: int) -> bool:
        """Whether the child's request C{gatewayId} to C{session} still
        waits for an answer."""
        sreq = self.requests.get(gatewayId)
        return sreq is not None and sreq.session is session

    def detached(self, session: SessionLike, reason: str) -> None:
        """C{session} left: the child's requests waiting on it are refused
        (C{reason}, the session's, said as the cause after the method)."""
        send = self._router.send
        for gatewayId, sreq in list(self.requests.items()):
            if sreq.session is session:
                del self.requests[gatewayId]
                self.waits.drop(gatewayId)
                send(
                    jsonrpc.errorResponse(
                        sreq.childId,
                        jsonrpc.INTERNAL_ERROR,
                        f"{sreq.method}: no client to answer it ({reason})",
                    )
                )

    def refuseAll(self, why: str) -> int:
        """Refuse every request of the child's that still waits for a
        client (C{why} said after its method): how many there were."""
        waiting = list(self.requests.items())
        self.requests.clear()  # the same dict: the router reads it as it is
        for gatewayId, sreq in waiting:
            self.waits.drop(gatewayId)
            self._router.send(
                jsonrpc.errorResponse(sreq.childId, jsonrpc.INTERNAL_ERROR, f"{sreq.method}: {why}")
            )
        return len(waiting)

    def clear(self) -> None:
        """The child went away: nothing it asked waits any more."""
        self.requests.clear()
        self.waits.clear()

    def clientResponse(self, session: SessionLike, message: Message) -> bool:
        """Pass a client's answer to a child request back with the child's id."""
        router = self._router
        gatewayId = message.get("id")
        sreq = self.requests.get(gatewayId) if isinstance(gatewayId, int) else None
        if sreq is None or sreq.session is not session or not isinstance(gatewayId, int):
            router.log.warn(
                "server {server}: session {sid} answered unknown request id {id!r}; dropped",
                server=router.name,
                sid=shortId(session.id),
                id=gatewayId,
            )
            return False
        del self.requests[gatewayId]
        self.waits.drop(gatewayId)
        router.send({**message, "id": sreq.childId})
        if sreq.method == "roots/list":  # after its answer: what it held goes next
            router.childRoots.answered(session, "result" in message, givesRoots(message))
        return True

    def serverCancelled(self, message: Message, params: dict[str, Any]) -> None:
        """The child cancelled a request it had sent to a session: tell that
        session, under the gateway's id, on the stream the request went on
        while it is open, else on the session's own."""
        for gatewayId, sreq in list(self.requests.items()):
            if sameId(sreq.childId, params.get("requestId")):
                del self.requests[gatewayId]
                if self.waits.drop(gatewayId):
                    return  # its session never saw it
                out = {**message, "params": {**params, "requestId": gatewayId}}
                ex = sreq.exchange  # the stream the request went on, while it is open
                if ex is None or ex.related is None or not ex.related(out):
                    sreq.session.deliver(out)
                return

    def childRequest(self, message: Message) -> None:
        """Route one request the child wrote to its client."""
        router = self._router
        method = message["method"]
        if method == "ping":
            router.send(jsonrpc.resultResponse(message["id"], {}))
            return
        related = relatedRequest(message)
        if related is not NO_HINT:
            named = router.exchangeFor(related)
            if named is None or named.session is None:
                # Named exactly, and not in flight (any more): never anyone else.
                self._refuse(message, f"the request it names ({related!r}) is not in flight")
                return
            self.toSession(named.session, named, message)
            return
        target = router.fanout.requester(router, message)
        if method == "roots/list":
            router.childRoots.childAsked()
            workspace = router.fanout.roots
            unproven = isinstance(target, str) or refusalFor(target[0], message) is not None
            if workspace and unproven:
                # A workspace child: every session it serves has that workspace
                # for its root, so the answer is known without asking any of them
                # (and given for the one session it serves when that one did not
                # declare roots).
                router.send(jsonrpc.resultResponse(message["id"], {"roots": list(workspace)}))
                router.childRoots.gave(GATEWAYS, True)
                return
        if isinstance(target, str):
            answerUnproven(router, message, target)
            return
        session, ex = target
        self.toSession(session, ex, message)

    def toSession(self, session: SessionLike, ex: Exchange | None, message: Message) -> None:
        """Pass the child's request C{message} to C{session} (on the stream of
        C{ex} when it has one) under a gateway id. A 2025 session that did not
        declare the capability it needs is refused here; a 2026 one's own
        code checks each round's capabilities and answers the child itself."""
        method = message["method"]
        if not session.era2026:
            refusal = refusalFor(session, message)
            if refusal is not None:
                self._router.send(jsonrpc.errorResponse(message["id"], *refusal))
                return
        gatewayId = next(self._ids)
        sreq = self.requests[gatewayId] = ServerRequest(message["id"], method, session)
        out = {**message, "id": gatewayId}
        if not session.era2026:
            out = withoutHints(out)
        if ex is not None and ex.related is not None and ex.related(out):
            sreq.exchange = ex  # its cancellation goes the same way
        elif not session.deliver(out) and gatewayId in self.requests:
            if session.era2026:  # (not answered already by its own code)
                del self.requests[gatewayId]
                self._refuse(message, "the client session has no open stream to receive it")
            else:
                self.waits.hold(gatewayId, session, out)

    def _refuse(self, message: Message, why: str) -> None:
        text = f"{message['method']}: {why}"
        self._router.send(jsonrpc.errorResponse(message["id"], jsonrpc.INTERNAL_ERROR, text))

    def _waitedOut(self, gatewayId: int) -> None:
        """A request held for its session (L{StreamWaits}) found no stream of
        it in time: the child gets the refusal it would have got at once."""
        sreq = self.requests.pop(gatewayId, None)
        if sreq is not None:
            self._router.send(
                jsonrpc.errorResponse(
                    sreq.childId,
                    jsonrpc.INTERNAL_ERROR,
                    f"{sreq.method}: the client session has no open stream to receive it",
                )
            )

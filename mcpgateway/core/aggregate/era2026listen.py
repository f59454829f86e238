# -*- test-case-name: tests.core.aggregate.test_era2026 -*-
"""C{subscriptions/listen} (MCP 2026-07-28) on the aggregate endpoint.

An L{AggregateListen} is one open listen stream of C{/mcp}: it carries the
aggregate's own list changes, as a C{/mcp} session gets them (a change of
what its caller's view lists, whatever caused it: a member's catalog
listed again, a server added, removed or filtered; coalesced over
L{NOTIFY_DELAY}, one notification per list that changed), never a member's
own C{list_changed}. Every list flag is honoured (the aggregate declares
C{listChanged} for all three). Its resource URIs go to the member that
owns each (the one that lists it, or whose template matches it, or that a
C{ui://} or C{skill://} URI names), as one listen stream of that member's
pool per member, under the member's own URIs; they are honoured when that
member honours them, and its updates reach the client under the URIs the
client asked for. When such a member stream ends (its server removed,
the gateway stopping) the aggregate stream ends with it, and its client
listens again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from twisted.internet.defer import Deferred, DeferredList, maybeDeferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.aggregate import apps
from mcpgateway.core.aggregate.session import KIND_METHOD, NOTIFY_DELAY, AggregateSession
from mcpgateway.core.aggregate.view import View
from mcpgateway.core.era2026.types import Era2026Request, ListenFilter, ListenHandle, Sink
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs

T = TypeVar("T")
MemberRoute = Callable[[str], "tuple[PoolLike, Era2026Request] | None"]
"""A member's pool and the request on its route (C{None}: not a member)."""


class Watched(Protocol):
    """What a listen stream needs of the aggregator
    (L{mcpgateway.core.aggregate.aggregator.Aggregator})."""

    watchers: set[Callable[[], object]]

    def viewNow(self, session: AggregateSession) -> View:
        """The session's view from the catalogs known now."""


class AggregateListen:
    """One listen stream of an aggregate endpoint (a L{ListenHandle}).

    @ivar honoured: what it carries (the acknowledgement's content).
    @ivar ended: fires with a reason when a member's stream it holds ends.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        aggregator: Watched,
        clock: IReactorTime,
        session: AggregateSession,
        view: View,
        wanted: ListenFilter,
        sink: Sink,
    ) -> None:
        self.honoured = ListenFilter(
            tools=wanted.tools, prompts=wanted.prompts, resources=wanted.resources
        )
        self.ended: Deferred[str] = Deferred()
        self.open = True
        self._aggregator = aggregator
        self._clock = clock
        self._session = session
        self._sink = sink
        self._seen = dict(view.fingerprints)
        self._members: list[tuple[ListenHandle, tuple[tuple[str, str], ...]]] = []
        self._call: IDelayedCall | None = None
        aggregator.watchers.add(self._changed)

    def _changed(self) -> None:
        """What a view may show changed: look again after L{NOTIFY_DELAY}."""
        if self.open and (self._call is None or not self._call.active()):
            self._call = self._clock.callLater(NOTIFY_DELAY, self._tell)

    def _tell(self) -> None:
        """Send a C{list_changed} for each honoured list that changed."""
        self._call = None
        if not self.open:
            return
        now = dict(self._aggregator.viewNow(self._session).fingerprints)
        for kind, method in KIND_METHOD.items():
            if now.get(kind) != self._seen.get(kind) and getattr(self.honoured, kind):
                self._sink(jsonrpc.notification(method))
        self._seen = now

    def adopt(self, handle: ListenHandle, asked: Sequence[tuple[str, str]]) -> None:
        """A member's stream for some of its URIs opened: held until this
        one closes, and this one ends with it.

        @param asked: each C{/mcp} URI asked of the member, with the
            member's own URI for it (what the member's stream honours).
        """
        if not self.open:
            handle.close()
            return
        self._members.append((handle, tuple(asked)))
        handle.ended.addCallback(self.end)
        handle.ended.addErrback(lambda f: self.log.failure("a member's listen stream failed", f))

    def opened(self, uris: tuple[str, ...]) -> AggregateListen:
        """Every member stream is open: C{uris} (in the order asked) are
        honoured when a member's stream honours them."""
        held = {
            shown
            for handle, asked in self._members
            for shown, own in asked
            if own in handle.honoured.uris
        }
        self.honoured = replace(self.honoured, uris=tuple(uri for uri in uris if uri in held))
        return self

    # -- ListenHandle --------------------------------------------------------------

    def close(self) -> None:
        """The client went away: the member streams are closed."""
        if not self.open:
            return
        self.open = False
        self._aggregator.watchers.discard(self._changed)
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()
        members, self._members = self._members, []
        for handle, _ in members:
            try:
                handle.close()
            except Exception:
                self.log.failure("closing a member's listen stream failed")

    def end(self, reason: Any) -> None:
        """End the stream from the gateway's side (C{ended} fires)."""
        if not self.open:
            return
        self.close()
        self.ended.callback(str(reason))


def openListen(
    aggregator: Watched,
    clock: IReactorTime,
    session: AggregateSession,
    view: View,
    forMember: MemberRoute,
    wanted: ListenFilter,
    sink: Sink,
) -> Deferred[AggregateListen]:
    """Open an L{AggregateListen} for C{session} (seeing C{view}): fires
    once the members' streams for C{wanted}'s URIs are open. Cancelled
    (the client went away first), it closes what it opened."""
    handle = AggregateListen(aggregator, clock, session, view, wanted, sink)
    byServer: dict[str, list[tuple[str, str]]] = {}
    for uri in wanted.uris:
        server, _ = view.uriOwner(uri)
        if server is not None:
            byServer.setdefault(server, []).append((uri, view.memberUri(uri)))
    opening: list[Deferred[None]] = []
    for server, asked in sorted(byServer.items()):
        routed = forMember(server)
        if routed is None:
            continue
        pool, request = routed
        own = ListenFilter(uris=tuple(dict.fromkeys(uri for _, uri in asked)))
        started: Deferred[ListenHandle] = maybeDeferred(
            pool.era2026.listen, request, own, _shownTo(sink, server)
        )
        opening.append(
            started.addCallbacks(
                handle.adopt, _notHonoured, callbackArgs=(asked,), errbackArgs=(server,)
            )
        )
    pending = DeferredList(opening, consumeErrors=True)

    def cancel(_: Deferred[AggregateListen]) -> None:
        handle.close()
        pending.cancel()

    result: Deferred[AggregateListen] = Deferred(cancel)

    def done(_: object) -> None:
        if handle.open and not result.called:  # not cancelled meanwhile
            result.callback(handle.opened(wanted.uris))

    pending.addCallback(done)
    return result


def _shownTo(sink: Sink, server: str) -> Sink:
    """Where member C{server}'s stream writes: C{sink}, each resource update
    under the URI the client asked for (L{apps.updated}: a C{ui://} or
    C{skill://} URI under its server)."""
    return lambda message: sink(apps.updated(message, server))


def _notHonoured(reason: Failure, server: str) -> None:
    """A member's stream could not open: its URIs are not honoured."""
    AggregateListen.log.info(
        "aggregate listen: server {server}'s resource subscriptions are not honoured: {why}",
        server=server,
        why=reason.getErrorMessage(),
    )


def detached(waited: Deferred[T]) -> Deferred[T]:
    """A Deferred that fires as C{waited} does, and whose cancellation
    (a client that went away) does not cancel C{waited} (a catalog probe
    that other callers wait for too)."""
    out: Deferred[T] = Deferred()

    def passOn(result: T | Failure) -> None:
        if out.called:
            return
        if isinstance(result, Failure):
            out.errback(result)
        else:
            out.callback(result)

    waited.addBoth(passOn)
    return out

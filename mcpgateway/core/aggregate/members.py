# -*- test-case-name: tests.web.endpoints.test_aggregate_web, tests.core.aggregate.test_aggregate_tasks -*-
"""The member sessions of the aggregate sessions.

One job: an aggregate session's L{MemberSession} on a server, opened on its
pool at the first request that needs it (one opening however many requests
wait for it; the session's log level and subscriptions given to it),
sent the client's requests (a member whose own child ended is opened again
once), and dropped when its server changed, its child ended or its
aggregate session ends. A member is an ordinary session of its server's
pool, so that server's router does what it does for a direct session: ids,
progress, cancellation, the child's sampling, elicitation and roots
requests, refusals and promotion. A member is saved within its aggregate
session's record, and given back to it, with its own id, when the session
is restored (L{MemberSessions.restore}): its server's pool restores it as
any restored session of its own (its child kept by a restart or a crash,
else started anew with the member's C{initialize} replayed, and the
client told so with the next answer).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Mapping
from typing import Any

from twisted.internet.defer import Deferred, fail, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.aggregate.calls import retagged
from mcpgateway.core.aggregate.relay import MemberRelay
from mcpgateway.core.aggregate.session import (
    AggregateSession,
    CallFailed,
    MemberSession,
    Sink,
    idKey,
)
from mcpgateway.core.aggregate.view import View
from mcpgateway.core.pools.pool import PoolLike, SessionGone
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs


class MemberSessions:
    """Opens, calls and drops the aggregate sessions' member sessions."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        pools: Mapping[str, PoolLike],
        clock: IReactorTime,
        sessions: Collection[AggregateSession],
        relay: MemberRelay,
        viewNow: Callable[[AggregateSession], View],
    ) -> None:
        """
        @param pools: the gateway's pools (the live mapping: reconfigures show).
        @param sessions: the open aggregate sessions (the live collection): a
            member opened for a session no longer among them is not kept.
        @param relay: where a member's child's messages go.
        @param viewNow: a session's view now (which server a URI it
            subscribed to belongs to).
        """
        self._pools = pools
        self._clock = clock
        self._sessions = sessions
        self._relay = relay
        self._relayed = relay.relayed
        self._viewNow = viewNow
        self.changed: Callable[[MemberSession], object] | None = None
        """Told when a session's members changed (one opened, restored or
        dropped): the record that holds them is saved again (the session
        registry's C{served}, set by the gateway)."""

    def restore(self, session: AggregateSession) -> set[str]:
        """Give C{session} (restored from a previous process) back its saved
        members whose server is configured, with their own ids, each
        restored on its server's pool as a session of its own would be;
        the names of their servers. The others wait for their next use
        (L{open})."""
        servers: set[str] = set()
        for server in sorted(session.saved):
            if server in session.members or server in session.opening:
                continue  # one of this process's (its saved child is stopped)
            if self._restored(session, server) is not None:
                servers.add(server)
        return servers

    def merge(self, session: AggregateSession, saved: Mapping[str, dict[str, Any]]) -> set[str]:
        """The predecessor's last record of C{session} (restored here from an
        earlier save) has the members C{saved}: a member restored here that
        it no longer has is dropped (it ended there), one it opened since
        is restored (L{restore}); the names of their servers."""
        for server, member in list(session.members.items()):
            last = saved.get(server)
            if member.restored and (last is None or last["id"] != member.id):
                self.drop(member, "ended by the predecessor")
        for server, record in saved.items():
            if server not in session.members and server not in session.opening:
                session.saved[server] = record
        return self.restore(session)

    def _restored(self, session: AggregateSession, server: str) -> MemberSession | None:
        """C{session}'s saved member on C{server}, restored on its pool
        (C{None}: its server or its route is not configured)."""
        pool = self._pools.get(server)
        saved = session.saved.get(server)
        if pool is None or saved is None:
            return None
        variant = pool.variantFor(saved["scope"], principal=session.principal)
        if variant is None:
            return None
        del session.saved[server]
        member = MemberSession.fromSaved(session, pool, self._relay, saved)
        member.variant = variant
        pool.restore(member)
        session.members[server] = member
        self.log.debug(
            "aggregate session {sid}: member {server} restored",
            sid=session.shortId,
            server=server,
        )
        return member

    def open(self, session: AggregateSession, server: str, route: str) -> Deferred[MemberSession]:
        """C{session}'s member on C{server} (on C{route}): the one it has,
        else one opened now (or being opened) on the server's pool."""
        pool = self._pools.get(server)
        if pool is None:
            raise CallFailed(
                jsonrpc.INVALID_PARAMS, f"server '{server}' is not configured any more"
            )
        member = session.members.get(server)
        if member is not None:
            if member.pool is pool and pool.gone(member) is None:
                return succeed(member)
            self.drop(member, "its server changed or its child ended")
        waiters = session.opening.get(server)
        if waiters is not None:
            waiting: Deferred[MemberSession] = Deferred()
            waiters.append(waiting)
            return waiting
        if server in session.saved:
            restored = self._restored(session, server)
            session.saved.pop(server, None)  # one whose route is gone is opened anew
            if restored is not None:
                self._changed(restored)
                return succeed(restored)
        variant = pool.variantFor(route, principal=session.principal)
        if variant is None:
            raise CallFailed(
                jsonrpc.INVALID_PARAMS, f"server '{server}' has no route for this session"
            )
        member = MemberSession(session, pool, self._relay, route, self._clock.seconds())
        member.variant = variant
        initialize = jsonrpc.request(
            0,
            "initialize",
            {
                "protocolVersion": session.protocolVersion,
                "capabilities": session.capabilities,
                "clientInfo": session.clientInfo,
            },
        )
        started = maybeDeferred(pool.open, member, initialize)
        first: Deferred[MemberSession] = Deferred()
        waiters = [first]
        session.opening[server] = waiters

        def settle(result: MemberSession | Failure) -> None:
            session.opening.pop(server, None)
            if isinstance(result, Failure):
                # Whatever the pool started for it (a child of its own) goes.
                self._close(member, f"it could not be opened: {result.getErrorMessage()}")
            for waiter in waiters:
                if isinstance(result, Failure):
                    waiter.errback(result)
                else:
                    waiter.callback(result)

        started.addCallback(self._opened, member, server).addBoth(settle)
        return first

    def _opened(self, response: Message, member: MemberSession, server: str) -> MemberSession:
        """C{member}'s pool answered its C{initialize}: it is its session's
        member on C{server} (given the session's log level and the
        subscriptions of that server)."""
        session, pool = member.parent, member.pool
        if "result" not in response:
            error = response.get("error") or {}
            raise CallFailed(
                jsonrpc.SERVER_UNAVAILABLE,
                f"server '{server}' did not start a session: {error.get('message', 'no answer')}",
            )
        if session not in self._sessions:
            raise CallFailed(jsonrpc.INVALID_REQUEST, "the session ended")
        session.members[server] = member
        session.saved.pop(server, None)  # an earlier process's member is this one's now
        self._changed(member)
        pool.notify(member, jsonrpc.notification("notifications/initialized"))
        if session.logLevel is not None:
            self.send(member, "logging/setLevel", {"level": session.logLevel})
        for uri in sorted(session.subscriptions):
            if session.learned.get(uri) == server or self._uriServer(session, uri) == server:
                own = self._viewNow(session).memberUri(uri)
                self.send(member, "resources/subscribe", {"uri": own})
        self.log.debug(
            "aggregate session {sid}: member {server} opened",
            sid=session.shortId,
            server=server,
        )
        return member

    def _uriServer(self, session: AggregateSession, uri: str) -> str | None:
        server, _ = self._viewNow(session).uriOwner(uri, session.learned.get)
        return server

    def call(
        self,
        session: AggregateSession,
        server: str,
        route: str,
        message: Message,
        related: Sink | None,
        tagged: bool = True,
        untimed: bool = False,
    ) -> Deferred[Message]:
        """Send C{message} (the client's id and C{_meta} kept) to the member
        of C{server}; fires with the child's response (its result's
        related-task tag translated, unless not C{tagged}: the caller does
        it). A member whose own child ended is opened again once. An
        C{untimed} call (a task's: its time to live bounds it) has no
        request timeout."""
        key = idKey(message.get("id"))

        def send(member: MemberSession, again: bool) -> Deferred[Message]:
            session.inflight[key] = member
            sent = maybeDeferred(
                member.pool.forward, member, message, self._relayed(member, related)
            )
            if untimed:
                member.pool.untime(member, message.get("id"))

            def gone(reason: Failure) -> Deferred[Message]:
                if reason.check(SessionGone) and again:
                    self.drop(member, "its own child ended")
                    return self.open(session, server, route).addCallback(send, False)
                return fail(reason)

            return sent.addErrback(gone)

        def done(result: Any) -> Any:
            session.inflight.pop(key, None)
            if tagged and isinstance(result, dict):
                return retagged(session.tasks, server, result, "result")
            return result

        return self.open(session, server, route).addCallback(send, True).addBoth(done)

    def send(self, member: MemberSession, method: str, params: dict[str, Any]) -> None:
        """A request of the aggregate's own to C{member} (its answer dropped)."""
        message = jsonrpc.request(f"mcpgateway-{secrets.token_hex(4)}", method, params)
        maybeDeferred(member.pool.forward, member, message, None).addErrback(
            lambda reason: self.log.info(
                "aggregate: {method} to member {server} failed: {why}",
                method=method,
                server=member.server,
                why=reason.getErrorMessage(),
            )
        )

    def gone(self, member: MemberSession, reason: str) -> Deferred[None]:
        """C{member}'s own child is gone (the reaper found it): the member is
        dropped and opened again at its next use; the client's session lives."""
        parent = member.parent
        self._forget(member)
        self.log.info(
            "aggregate session {sid}: member {server} ended ({reason});"
            " opened again at its next use",
            sid=parent.shortId,
            server=member.server,
            reason=reason,
        )
        return member.pool.close(member, reason)

    def drop(self, member: MemberSession, why: str) -> None:
        """Forget C{member} and close it on its pool."""
        self._forget(member)
        self._close(member, why)

    def closeAll(self, session: AggregateSession, reason: str) -> list[Deferred[None]]:
        """Close every member of C{session} (which ends): what it was asked
        and sent is forgotten; one Deferred per member closed."""
        members, session.members = session.members, {}
        closing = [member.pool.close(member, reason) for member in members.values()]
        session.asks.clear()
        session.inflight.clear()
        return closing

    def _forget(self, member: MemberSession) -> None:
        """C{member} is no longer its session's: its entry, and the child's
        questions and the calls it was sent, are forgotten."""
        parent = member.parent
        if parent.members.get(member.server) is member:
            del parent.members[member.server]
            self._changed(member)
        for askId in [a for a, (asker, _) in parent.asks.items() if asker is member]:
            del parent.asks[askId]
        for key in [k for k, m in parent.inflight.items() if m is member]:
            del parent.inflight[key]

    def _changed(self, member: MemberSession) -> None:
        changed = self.changed
        if changed is not None:
            changed(member)

    def _close(self, member: MemberSession, why: str) -> None:
        maybeDeferred(member.pool.close, member, why).addErrback(
            lambda reason: self.log.failure(
                "aggregate: closing member {server} failed", reason, server=member.server
            )
        )

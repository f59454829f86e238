# -*- test-case-name: tests.core.aggregate.test_relay, tests.web.endpoints.test_aggregate_web -*-
"""What crosses between an aggregate session's client and its members,
besides the client's requests and their answers.

One job: re-key it per aggregate session, so nothing reaches a session
that is not its owner:

  - a child's request (sampling, elicitation, roots) gets an id of this
    aggregate session's own (routers number theirs per child, so two
    members can both ask request 1); the client's answer is looked up in
    I{this} session's table only, then handed to the member's router,
    which checks once more that the member is the asker;
  - a client's C{notifications/cancelled} goes to the member its request
    went to, or nowhere; a child's, for a request it asked, names the
    session's id of it;
  - a child's own C{*/list_changed} is dropped: the aggregate sends its
    own when what the client sees changed (coalesced);
  - a child's C{notifications/tasks/status} reaches the session only for a
    task it created through that member, under the session's id of it, and
    the C{_meta} related-task tag of what a child sends is translated (or
    dropped, for a task that is not the session's);
  - a child's log message names its server as its C{logger};
  - a child's C{notifications/resources/updated} of a C{ui://} or
    C{skill://} URI names it as the aggregate shows it (under its server).
"""

from __future__ import annotations

from typing import Any

from twisted.logger import Logger

from mcpgateway.core.aggregate import apps
from mcpgateway.core.aggregate.calls import retagged
from mcpgateway.core.aggregate.session import (
    CHILD_LIST_CHANGED,
    AggregateSession,
    MemberSession,
    Sink,
    idKey,
)
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs


class MemberRelay:
    """The messages between the aggregate sessions' clients and their
    members that are not a request's answer (the members'
    L{ChildRelay<mcpgateway.core.aggregate.session.ChildRelay>})."""

    log = Logger(observer=logs.observer)

    def fromChild(self, member: MemberSession, message: Message, sink: Sink | None) -> bool:
        """Pass what C{member}'s child sent to its aggregate session's
        client, re-keyed (to C{sink}, the stream of the request it
        concerns, when given); C{False} if it could not be delivered."""
        parent = member.parent
        method = message.get("method")
        message = retagged(parent.tasks, member.server, message, "params")
        if "id" in message and isinstance(method, str):
            askId = parent.nextAskId()
            parent.asks[askId] = (member, message["id"])
            out = {**message, "id": askId}
            if sink(out) if sink is not None else parent.deliver(out):
                return True
            parent.asks.pop(askId, None)
            return False
        if method in CHILD_LIST_CHANGED:
            return True  # the catalogs re-list; the aggregate sends its own
        params = message.get("params")
        if method == "notifications/cancelled" and isinstance(params, dict):
            gatewayId = params.get("requestId")
            for askId, (asker, asked) in list(parent.asks.items()):
                if asker is member and asked == gatewayId:
                    del parent.asks[askId]
                    message = {**message, "params": {**params, "requestId": askId}}
                    break
            else:
                return True
        elif method == "notifications/tasks/status":
            childId = params.get("taskId") if isinstance(params, dict) else None
            taskId = parent.tasks.idOf(member.server, childId)
            if taskId is None:
                # Not a task this session created through this member: never
                # shown to it.
                self.log.debug(
                    "aggregate session {sid}: status of task {task!r} of {server},"
                    " which is not its own; dropped",
                    sid=parent.shortId,
                    task=childId,
                    server=member.server,
                )
                return True
            assert isinstance(params, dict)
            parent.tasks.update(taskId, params)
            message = {**message, "params": {**params, "taskId": taskId}}
        elif (
            method == "notifications/message"
            and isinstance(params, dict)
            and "logger" not in params
        ):
            message = {**message, "params": {**params, "logger": member.server}}
        elif method == "notifications/resources/updated":
            message = apps.updated(message, member.server)  # an app's, a skill's: under its server
        return sink(message) if sink is not None else parent.deliver(message)

    def relayed(self, member: MemberSession, related: Sink | None) -> Sink | None:
        """Where what C{member}'s child sends about one request goes: to
        C{related} (that request's stream), re-keyed; C{None}: nowhere of
        its own (the session's stream)."""
        if related is None:
            return None
        return lambda message: self.fromChild(member, message, related)

    def notify(self, session: AggregateSession, message: Message) -> None:
        """Pass a client notification to the members it concerns."""
        method = message.get("method")
        given = message.get("params")
        params: dict[str, Any] = given if isinstance(given, dict) else {}
        if method == "notifications/cancelled":
            member = session.inflight.get(idKey(params.get("requestId")))
            if member is not None:
                member.pool.notify(member, message)
        elif method == "notifications/roots/list_changed":
            for member in list(session.members.values()):
                member.pool.notify(member, message)
        # notifications/initialized: every member had its own.

    def answer(self, session: AggregateSession, message: Message) -> bool:
        """Pass a client's answer to a member's request; C{False} if this
        session was asked no such thing."""
        askId = message.get("id")
        entry = (
            session.asks.pop(askId, None)
            if isinstance(askId, int) and not isinstance(askId, bool)
            else None
        )
        if entry is None:
            self.log.warn(
                "aggregate session {sid} answered unknown request id {id!r}; dropped",
                sid=session.shortId,
                id=askId,
            )
            return False
        member, gatewayId = entry
        return member.pool.answer(member, {**message, "id": gatewayId})

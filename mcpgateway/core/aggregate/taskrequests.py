# -*- test-case-name: tests.core.aggregate.test_aggregate_tasks -*-
"""The aggregate endpoint's tasks.

One job: a C{tools/call} a member answers with a task handle (a
task-augmented call answered with a C{CreateTaskResult}) is recorded in the
session's task table under an id of the gateway's own (opaque, mapped to
the member and the child's own id, which the client never sees), so a later
C{tasks/*} request reaches that member; C{tasks/get}, C{tasks/result} and
C{tasks/cancel} go to it, for a task the session created only, a
C{tasks/result} shielded as the result of the call that made the task would
have been; C{tasks/list} lists the session's tasks only.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet.defer import (
    Deferred,
    DeferredList,
    maybeDeferred,
)
from twisted.logger import Logger

from mcpgateway.core.aggregate.callcontext import GatewayCalls
from mcpgateway.core.aggregate.calls import (
    retagged,
    shownCursor,
)
from mcpgateway.core.aggregate.members import MemberSessions
from mcpgateway.core.aggregate.session import (
    TASK_NOT_FOUND,
    TASKS_PAGE,
    AggregateSession,
    CallFailed,
    Sink,
)
from mcpgateway.core.aggregate.view import View
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs


class TaskRequests:
    """The aggregate sessions' tasks: made through a member, then asked of it."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        pools: Mapping[str, PoolLike],
        members: MemberSessions,
        calls: GatewayCalls,
        viewNow: Callable[[AggregateSession], View],
    ) -> None:
        """
        @param pools: the gateway's pools (the live mapping: a task of a
            server removed is forgotten).
        @param calls: what shields a task's result.
        @param viewNow: a session's view now (the task's tool's definition).
        """
        self._pools = pools
        self._members = members
        self._calls = calls
        self._viewNow = viewNow

    def created(
        self, response: Message, session: AggregateSession, server: str, route: str, tool: str
    ) -> Message:
        """A task-augmented call of C{tool} was answered: a C{CreateTaskResult}
        makes its task this session's (through C{server}'s member), under an
        id of the gateway's own (the answer says that one)."""
        result = response.get("result")
        task = result.get("task") if isinstance(result, dict) else None
        childId = task.get("taskId") if isinstance(task, dict) else None
        if (
            isinstance(result, dict)
            and isinstance(task, dict)
            and isinstance(childId, str)
            and not session.ended
        ):
            taskId, forgotten = session.tasks.remember(server, childId, route, tool, task)
            for gone in forgotten:
                self.log.info(
                    "aggregate session {sid}: forgot task {task!r} (at most {limit} tasks,"
                    " or its server made its id again)",
                    sid=session.shortId,
                    task=gone,
                    limit=session.tasks.limit,
                )
            response = {**response, "result": {**result, "task": {**task, "taskId": taskId}}}
        # Otherwise answered at once (a server that runs it as a plain call).
        return retagged(session.tasks, server, response, "result")

    def request(
        self,
        session: AggregateSession,
        message: Message,
        params: dict[str, Any],
        related: Sink | None,
    ) -> Deferred[Message]:
        """C{tasks/get}, C{tasks/result} or C{tasks/cancel}: to the member
        that created the task, for a task this session created only."""
        method = str(message.get("method"))
        taskId = params.get("taskId")
        entry = session.tasks.get(taskId)
        if entry is None:
            raise CallFailed(
                jsonrpc.INVALID_PARAMS,
                f"{TASK_NOT_FOUND}: {shownCursor(taskId)} is not a task of this session"
                if isinstance(taskId, str)
                else f"{method} needs a taskId (a string)",
            )
        assert isinstance(taskId, str)
        if not session.mayUse(entry.server) or entry.server not in self._pools:
            session.tasks.forget(taskId)
            raise CallFailed(
                jsonrpc.INVALID_PARAMS,
                f"{TASK_NOT_FOUND}: its server '{entry.server}' is not available to this"
                " session any more",
            )
        forwarded = {**message, "params": {**params, "taskId": entry.childId}}
        answer = self._members.call(
            session, entry.server, entry.route, forwarded, related, tagged=False
        )
        answer.addCallback(self._answered, session, taskId, method)
        if method == "tasks/result":
            tool = entry.tool
            answer.addCallback(
                lambda response: self._calls.shielded(
                    response, session, self._viewNow(session), tool
                )
            )
        return answer

    def _answered(
        self, response: Message, session: AggregateSession, taskId: str, method: str
    ) -> Message:
        """Keep what the member said of C{taskId} (a task it no longer knows
        is forgotten); the answer says the session's id, not the child's."""
        entry = session.tasks.get(taskId)
        if entry is None:
            return response
        response = retagged(session.tasks, entry.server, response, "result")
        result = response.get("result")
        error = response.get("error")
        if isinstance(result, dict):
            if method == "tasks/result":
                session.tasks.ended(taskId)
                session.learn(entry.server, result)
            elif result.get("taskId") == entry.childId:
                session.tasks.update(taskId, result)
                response = {**response, "result": {**result, "taskId": taskId}}
        elif (
            method != "tasks/cancel"  # -32602 there: it was terminal already
            and isinstance(error, dict)
            and error.get("code") == jsonrpc.INVALID_PARAMS
        ):
            session.tasks.forget(taskId)  # expired or unknown in its child
        return response

    def tasksList(
        self,
        session: AggregateSession,
        message: Message,
        params: dict[str, Any],
        related: Sink | None,
    ) -> Deferred[Message]:
        """This session's tasks (and no other's), oldest first, a page of
        L{TASKS_PAGE}; a task not known to have ended is asked of its open
        member first (C{tasks/get}) so its status is current."""
        cursor = params.get("cursor")
        try:
            shown, nextCursor = session.tasks.page(cursor, TASKS_PAGE)
        except ValueError:
            raise CallFailed(
                jsonrpc.INVALID_PARAMS,
                f"Invalid params: invalid cursor {shownCursor(cursor)}",
            ) from None
        asked: list[Deferred[None]] = []

        def refreshed(response: Message, taskId: str) -> None:
            self._answered(response, session, taskId, "tasks/get")

        for taskId, entry in shown:
            member = session.members.get(entry.server)
            if entry.terminal or member is None or member.pool.gone(member) is not None:
                continue
            request = jsonrpc.request(
                f"mcpgateway-{secrets.token_hex(4)}", "tasks/get", {"taskId": entry.childId}
            )
            asked.append(
                maybeDeferred(member.pool.forward, member, request, None).addCallbacks(
                    refreshed, lambda _: None, callbackArgs=(taskId,)
                )
            )

        def answer(_: object) -> Message:
            tasks = []
            for taskId, _entry in shown:
                entry = session.tasks.get(taskId)
                if entry is not None:
                    tasks.append({**entry.task, "taskId": taskId})
            result: dict[str, Any] = {"tasks": tasks}
            if nextCursor is not None:
                result["nextCursor"] = nextCursor
            return jsonrpc.resultResponse(message["id"], result)

        return DeferredList(asked, consumeErrors=True).addCallback(answer)

# -*- test-case-name: tests.core.test_router, tests.core.test_fanout_loglines -*-
"""Who hears what a child says: the sharing policy of one child's traffic.

A L{Router} keeps a child's id space; its fanout decides everything that
differs between a child several sessions share and a child of one session:

 - L{SharedFanout}: the gateway initialized the child itself (a client's
   C{notifications/initialized} stays in the gateway); resource
   subscriptions are counted per URI (the child hears the first subscribe
   and the last unsubscribe; listen streams, L{mcpgateway.core.era2026.listen},
   count like sessions) and the child's log level is the lowest any
   session asked for; list changes go to every session, resource updates
   to their subscribers, a log line to the child's one client (on its
   request in flight, else on its own stream when its level reaches it; a
   2026 request only when it asked for a level, and never a listen
   stream) or, when every session attached is one principal's, to the one
   session with requests in flight, on that request's stream; to none
   otherwise (L{SharedFanout._logMessage}). A request of the child
   (sampling, elicitation, roots) goes to a client only when the child
   serves exactly one: one 2025 session attached (requests in flight or
   not; a session whose client process is known to have exited does not
   count) and no 2026 call in flight, or one 2026 call in flight and no
   2025 session attached; or, when every session attached is one
   principal's, it goes to the one session with a request in flight (the
   same person either way); otherwise it is refused (see docs/design/routing.md).
   Across principals, who has requests in flight proves nothing: a child
   asks on its own too.
   Tasks (MCP 2025-11-25) are the child's, its ids one space for every
   session: the fanout remembers which session each task was created for
   (L{TaskOwners}, from the C{CreateTaskResult} answering a task-augmented
   request), answers C{tasks/get}, C{tasks/result} and C{tasks/cancel} for
   another session's (or an unknown) task itself, with the specification's
   "task not found" error, lists a session's own tasks only, and gives a
   C{notifications/tasks/status} to the task's session only. A message of
   the child that names a task (C{_meta} L{RELATED_TASK}) is that task's
   session's only: a notification (a log line, say) goes to it alone, and
   is dropped for a task that is no session's; a request (an elicitation
   while the task is C{input_required}) goes to it, and is refused for a
   task that is no session's (a list change still goes to every session,
   the task's name left out for the others).
   Nothing else is delivered.
 - L{OwnerFanout}: everything goes to the one session, on the stream of its
   latest request when there is one, and its requests pass unchanged.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol, runtime_checkable

from twisted.internet.defer import Deferred, succeed

from mcpgateway.core.exchange import Exchange, Sink
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import SessionLike
from mcpgateway.core.taskterms import RELATED_TASK, isTerminal
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.envelope import LOG_LEVELS
from mcpgateway.protocol.jsonrpc import Message

_LEVEL_RANK = {name: rank for rank, name in enumerate(LOG_LEVELS)}
_LIST_CHANGED = frozenset(
    {
        "notifications/tools/list_changed",
        "notifications/prompts/list_changed",
        "notifications/resources/list_changed",
    }
)
TASKS_KEPT = 1024
"""Task ids remembered per shared child (with their session); beyond, the
session adding one makes room (its oldest terminal task, else its oldest),
and only a session with no other task takes it from the one that has the
most (L{TaskOwners.remember})."""
TASK_NOT_FOUND = "Failed to retrieve task: Task not found"
"""The error (C{-32602}, as the specification words it) for a task id that
is not the session's own: the same whether another session's or none."""
TASK_REQUESTS = frozenset({"tasks/get", "tasks/result", "tasks/cancel"})
"""The client requests that name one task (C{params.taskId})."""
_GATEWAY_ERRORS = frozenset(
    {
        jsonrpc.SERVER_UNAVAILABLE,
        jsonrpc.REQUEST_TIMEOUT,
        jsonrpc.CHILD_EXITED,
        jsonrpc.TOO_MANY_REQUESTS,
    }
)
"""Errors the gateway makes itself (the child did not answer)."""


@runtime_checkable
class HearsRestarts(Protocol):
    """A session of a child's router that is told when the child was
    started again and its subscriptions restored (a
    L{Listener<mcpgateway.core.era2026.listen.Listener>}: it sends its client
    a C{list_changed} for each list it listens to)."""

    def childRestored(self) -> None:
        """The child is new: its lists may be too."""


class _Task:
    __slots__ = ("session", "terminal")

    def __init__(self, session: SessionLike, terminal: bool) -> None:
        self.session = session
        self.terminal = terminal


class TaskOwners:
    """The tasks of one shared child: task id (the child's own, passed
    unchanged) -> the session it was created for, at most C{limit} of them.

    A task is forgotten when its session leaves the child, when the child
    says it does not know it (C{-32602} to C{tasks/get}), when the child is
    replaced (a new id space), and to make room. A task whose result was
    fetched (C{tasks/result} answered by the child) is kept, as terminal,
    so that the session may ask for it again (a retry after a lost
    connection); it is among the first to go to make room for its own
    session's. Room is made by the session that adds a task: its oldest
    terminal task, else its oldest; only when it has no other task, by the
    session that has the most (its oldest terminal, else its oldest). One
    session's tasks so never crowd out another's finished ones."""

    def __init__(self, limit: int = TASKS_KEPT) -> None:
        self.limit = limit
        self._tasks: dict[str, _Task] = {}
        self._counts: Counter[SessionLike] = Counter()

    def __len__(self) -> int:
        return len(self._tasks)

    def owner(self, taskId: object) -> SessionLike | None:
        """The session C{taskId} was created for, if it is known."""
        task = self._tasks.get(taskId) if isinstance(taskId, str) else None
        return task.session if task is not None else None

    def remember(self, taskId: str, session: SessionLike, status: object) -> list[str]:
        """C{taskId} was created for C{session}; returns the ids forgotten to
        make room."""
        self.forget(taskId)
        self._tasks[taskId] = _Task(session, isTerminal(status))
        self._counts[session] += 1
        forgotten: list[str] = []
        while len(self._tasks) > self.limit:
            victim = self._victim(session, taskId)
            self.forget(victim)
            forgotten.append(victim)
        return forgotten

    def _victim(self, adding: SessionLike, added: str) -> str:
        """The task to forget to make room for C{added}, C{adding}'s new one:
        C{adding}'s own oldest terminal task, else its oldest; when it has no
        other, the same of the session that has the most."""
        others = [session for session in self._counts if session is not adding]
        source = (
            adding
            if self._counts[adding] > 1 or not others
            else max(others, key=self._counts.__getitem__)
        )
        keys = [
            key for key, task in self._tasks.items() if task.session is source and key != added
        ] or [added]
        return next((key for key in keys if self._tasks[key].terminal), keys[0])

    def status(self, taskId: str, status: object) -> None:
        """The child said C{taskId} has C{status} now."""
        task = self._tasks.get(taskId)
        if task is not None and isTerminal(status):
            task.terminal = True

    def ended(self, taskId: str) -> None:
        """C{taskId} is terminal (its status is not known, or its result was
        fetched)."""
        task = self._tasks.get(taskId)
        if task is not None:
            task.terminal = True

    def forget(self, taskId: str) -> None:
        task = self._tasks.pop(taskId, None)
        if task is not None:
            self._counts[task.session] -= 1
            if self._counts[task.session] <= 0:
                del self._counts[task.session]

    def forgetSession(self, session: SessionLike) -> None:
        """C{session} left the child: its tasks are nobody's now."""
        if self._counts.pop(session, 0):
            for key in [key for key, task in self._tasks.items() if task.session is session]:
                del self._tasks[key]

    def clear(self) -> None:
        self._tasks.clear()
        self._counts.clear()


class SharedFanout:
    """A child shared by many sessions.

    @ivar subscriptions: how many sessions subscribed to each URI.
    @ivar childLogLevel: the level the child was last told, if any.
    """

    handshake = True
    intercepts = frozenset(
        {"resources/subscribe", "resources/unsubscribe", "logging/setLevel", "tasks/list"}
        | TASK_REQUESTS
    )
    keeps = frozenset({"notifications/initialized"})
    """The gateway initialized the child itself."""
    tracksTasks = True
    """Its sessions share the child's task ids: whose each task is matters."""

    def __init__(self, roots: tuple[dict[str, Any], ...] = ()) -> None:
        self.subscriptions: Counter[str] = Counter()
        self.childLogLevel: str | None = None
        self.tasks = TaskOwners()
        """The session each task of the child was created for."""
        self.roots = roots
        """What the child's C{roots/list} is answered with when no session
        asked provably (see L{mcpgateway.core.router.Fanout.roots})."""

    # -- client to child -----------------------------------------------------

    def intercept(
        self, router: Router, session: SessionLike, message: Message, related: Sink | None
    ) -> Deferred[Message]:
        method = message["method"]
        if method in TASK_REQUESTS:
            return self._taskRequest(router, session, message, related)
        if method == "tasks/list":
            return router.forward(session, message, related).addCallback(self._ownTasks, session)
        if method == "resources/subscribe":
            return self._subscribe(router, session, message, related)
        if method == "resources/unsubscribe":
            return self._unsubscribe(router, session, message, related)
        if method == "logging/setLevel":
            return self._setLevel(router, session, message, related)
        # A task-augmented request (Router.request): a task it creates is
        # this session's.
        return router.forward(session, message, related).addCallback(
            self._taskCreated, router, session
        )

    # -- tasks -----------------------------------------------------------------

    def _taskCreated(self, response: Message, router: Router, session: SessionLike) -> Message:
        """Remember the task of a C{CreateTaskResult} as C{session}'s (a
        session no longer attached, or a 2026 call, keeps none: nothing
        would ever forget it, and nothing could ask for it)."""
        result = response.get("result")
        task = result.get("task") if isinstance(result, dict) else None
        taskId = task.get("taskId") if isinstance(task, dict) else None
        if not isinstance(taskId, str) or session not in router.sessions:
            return response
        previous = self.tasks.owner(taskId)
        if previous is not None and previous is not session:
            router.log.warn(
                "server {server}: its new task {task!r} has the id of a task of another"
                " session; that one is forgotten",
                server=router.name,
                task=taskId,
            )
        assert isinstance(task, dict)
        for gone in self.tasks.remember(taskId, session, task.get("status")):
            router.log.info(
                "server {server}: forgot task {task!r} (more than {limit} tasks)",
                server=router.name,
                task=gone,
                limit=self.tasks.limit,
            )
        return response

    def _taskRequest(
        self, router: Router, session: SessionLike, message: Message, related: Sink | None
    ) -> Deferred[Message]:
        """C{tasks/get}, C{tasks/result}, C{tasks/cancel}: to the child for a
        task of C{session} only; any other id is answered here, as not found
        (another session's task is never revealed, not even that it exists)."""
        params = message.get("params")
        taskId = params.get("taskId") if isinstance(params, dict) else None
        if not isinstance(taskId, str) or self.tasks.owner(taskId) is not session:
            return succeed(
                jsonrpc.errorResponse(message["id"], jsonrpc.INVALID_PARAMS, TASK_NOT_FOUND)
            )
        return router.forward(session, message, related).addCallback(
            self._taskAnswered, session, taskId, message["method"]
        )

    def _taskAnswered(
        self, response: Message, session: SessionLike, taskId: str, method: str
    ) -> Message:
        """Keep what the child said of C{taskId}: a fetched result makes it
        terminal (kept: the session may ask again, and the child answers), a
        task the child does not know (to C{tasks/get}) is forgotten."""
        if self.tasks.owner(taskId) is not session:
            return response
        result = response.get("result")
        error = response.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        if method == "tasks/result":
            if result is not None or code not in _GATEWAY_ERRORS:
                self.tasks.ended(taskId)  # its outcome was fetched (or it is unknown)
        elif isinstance(result, dict):
            self.tasks.status(taskId, result.get("status"))
        elif code == jsonrpc.INVALID_PARAMS:
            if method == "tasks/cancel":
                self.tasks.ended(taskId)  # terminal already, or unknown
            else:
                self.tasks.forget(taskId)  # expired or unknown in the child
        return response

    def _ownTasks(self, response: Message, session: SessionLike) -> Message:
        """C{session}'s tasks of a C{tasks/list} page of the child (a page may
        come back shorter, or empty with a C{nextCursor}: the cursor is the
        child's, passed unchanged)."""
        result = response.get("result")
        if not isinstance(result, dict):
            return response
        tasks = result.get("tasks")
        own = []
        for task in tasks if isinstance(tasks, list) else ():
            taskId = task.get("taskId") if isinstance(task, dict) else None
            if isinstance(taskId, str) and self.tasks.owner(taskId) is session:
                self.tasks.status(taskId, task.get("status"))
                own.append(task)
        return {**response, "result": {**result, "tasks": own}}

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
        self.tasks.forgetSession(session)
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
        self.tasks.clear()  # a new child: its task ids are not the last one's
        for uri in self.subscriptions:
            router.call("resources/subscribe", {"uri": uri})
        if self.childLogLevel is not None:
            router.call("logging/setLevel", {"level": self.childLogLevel})
        for session in list(router.sessions):
            if isinstance(session, HearsRestarts):
                session.childRestored()

    # -- child to client -----------------------------------------------------

    def notification(self, router: Router, message: Message) -> None:
        router.childRoots.childSpoke()  # a word: roots it was given are applied
        method = message["method"]
        params = message.get("params")
        if method == "notifications/cancelled" and isinstance(params, dict):
            router.serverCancelled(message, params)  # to the session it was sent to
        elif method == "notifications/tasks/status" and isinstance(params, dict):
            self._taskStatus(router, message, params)
        elif method in _LIST_CHANGED:
            owner = self.tasks.owner(relatedTask(message))
            for session in list(router.sessions):
                session.deliver(message if session is owner else _untagged(message))
        elif relatedTask(message) is not _UNTAGGED:
            self._taskMessage(router, message)
        elif method == "notifications/resources/updated" and isinstance(params, dict):
            uri = params.get("uri")
            for session in list(router.sessions):
                if uri in session.subscriptions:
                    session.deliver(message)
        elif method == "notifications/message" and isinstance(params, dict):
            self._logMessage(router, message, params)
        else:
            router.log.debug(
                "server {server}: notification {method} concerns no session; dropped",
                server=router.name,
                method=method,
            )

    def _taskStatus(self, router: Router, message: Message, params: dict[str, Any]) -> None:
        """A task's status: to the session it was created for, or nowhere."""
        taskId = params.get("taskId")
        owner = self.tasks.owner(taskId)
        if owner is None:
            router.log.debug(
                "server {server}: status of task {task!r}, which is no session's; dropped",
                server=router.name,
                task=taskId,
            )
            return
        assert isinstance(taskId, str)
        self.tasks.status(taskId, params.get("status"))
        owner.deliver(message)

    def _taskMessage(self, router: Router, message: Message) -> None:
        """A notification that names a task (C{_meta} L{RELATED_TASK}): to
        the task's session only (a log line when its level admits it, a
        resource update when it subscribed), on the stream of its request in
        flight when it has one (its C{tasks/result} first), else on its own
        stream; dropped for a task that is no session's."""
        method = message["method"]
        params = message.get("params")
        taskId = relatedTask(message)
        owner = self.tasks.owner(taskId)
        if owner is None:
            router.log.debug(
                "server {server}: {method} of task {task!r}, which is no session's; dropped",
                server=router.name,
                method=method,
                task=taskId,
            )
            return
        assert isinstance(params, dict)  # it has a _meta
        ex = _taskStream(router, owner)
        if method == "notifications/message":
            level = owner.logLevel
            rank = _LEVEL_RANK.get(params.get("level", ""), len(LOG_LEVELS))
            wanted = level is None or rank >= _LEVEL_RANK.get(level, len(LOG_LEVELS))
            if wanted and ex is not None and ex.related is not None and ex.related(message):
                return
            if level is not None and wanted:
                owner.deliver(message)
        elif method == "notifications/resources/updated":
            if params.get("uri") in owner.subscriptions:
                owner.deliver(message)
        elif ex is None or ex.related is None or not ex.related(message):
            owner.deliver(message)

    def _logMessage(self, router: Router, message: Message, params: dict[str, Any]) -> None:
        """A log line that names no task: the child's one client's, when it
        serves exactly one (the 2025 sessions attached to it and the
        sessions with requests in flight, as for L{requester}; without
        probing processes, so a session whose client exited still counts and
        a line may be dropped, never given to another). It goes on the stream
        of that client's latest request in flight when its level admits it
        (with none set: a 2025 session's request only), else on its own
        stream when its C{logging/setLevel} admits it.

        A child serving several clients says in a log line nothing of whose
        it is, and it may quote any of them (a URI, an argument). When every
        2025 session attached is one principal's and exactly one of them has
        requests in flight (no 2026 call: L{_oneCaller}), the line goes on
        the stream of that session's latest request, its level admitting it,
        as a direct connection would put it: whatever it quotes is that one
        person's, and a line is only read, never answered. Otherwise it goes
        to none (the gateway never guesses across principals)."""
        inflight = router.clientExchanges()
        # Who counts is who counts for a request of the child's (requester):
        # a 2026 client by its calls in flight, not by an idle listen
        # stream (its calls and its stream are separate objects: counted by
        # the stream, a 2026 client alone would never get its own lines).
        clients: dict[int, SessionLike] = {id(s): s for s in router.sessions if not s.era2026}
        for ex in inflight:
            if ex.session is not None:
                clients.setdefault(id(ex.session), ex.session)
        alone = len(clients) == 1
        caller = next(iter(clients.values())) if alone else _oneCaller(clients, inflight)
        if caller is None:
            if clients:
                router.log.debug(
                    "server {server}: a log line of a child serving {count} client sessions"
                    " names none of them; dropped",
                    server=router.name,
                    count=len(clients),
                )
            return
        rank = _LEVEL_RANK.get(params.get("level", ""), len(LOG_LEVELS))
        level = caller.logLevel
        own = [ex for ex in inflight if ex.session is caller]
        if own and own[-1].related is not None:
            wanted = (
                rank >= _LEVEL_RANK.get(level, len(LOG_LEVELS))
                if level is not None
                else not caller.era2026
            )
            if wanted and own[-1].related(message):
                return
        if alone and not caller.era2026 and level is not None and rank >= _LEVEL_RANK[level]:
            caller.deliver(message)

    def requester(
        self, router: Router, message: Message
    ) -> tuple[SessionLike, Exchange | None] | str:
        """The requester is proven only when the child serves exactly one
        client at that moment: the 2025 sessions attached to it, whether or
        not they have requests in flight (less those whose client process is
        known to have exited: L{Router.clientSessions}), and the 2026 calls
        (and listen streams) with requests in flight on it. That client then gets the
        request (on the stream of its latest C{tools/call}, else of its latest
        request, else on its own stream).

        stdio carries no link between a child's request and the call that
        caused it, and a child asks on its own too (at start-up, on a timer),
        whatever calls are in flight: the one session with requests in flight
        is no proof while another principal's session is attached. Anything
        else would be a guess, and a wrong guess shows one user's prompt to
        another user's model (or one user's roots to another): the gateway
        never guesses across principals. Among one principal's sessions a
        sampling, elicitation or roots request goes to the one with a
        request in flight (L{_soleCaller}): whether it is for that call or
        the child's own, it reaches the same person, where a refusal would
        fail the tool. With no request in flight it is refused. (A
        request naming the call it serves, C{_meta}
        C{mcpgateway/relatedRequestId}, is routed by the router before the
        fanout is asked.) A request that names a task (C{_meta}
        L{RELATED_TASK}: an elicitation or sampling of a task that is
        C{input_required}) is its session's, proven by the task's id, which
        only the session it was created for can use: it goes on the stream of
        that session's C{tasks/result} in flight, else of its latest request,
        else on its own stream; for a task that is no session's, it is
        refused."""
        taskId = relatedTask(message)
        if taskId is not _UNTAGGED:
            owner = self.tasks.owner(taskId)
            if owner is None:
                return f"the task it names ({taskId!r}) is no client session's"
            return owner, _taskStream(router, owner)
        # A request held behind the roots barrier for another caller has not
        # reached the child: nothing the child asks now is for it.
        roots = router.childRoots
        inflight = [ex for ex in router.clientExchanges() if not roots.behind(ex)]
        clients: dict[int, SessionLike] = {id(s): s for s in router.clientSessions()}
        for ex in inflight:
            if ex.session is not None and ex.session.era2026:
                clients.setdefault(id(ex.session), ex.session)
        if not clients:
            return "no client session is attached to this server to answer it"
        if len(clients) > 1:
            caller = _soleCaller(message, clients, inflight)
            if caller is not None:
                router.log.info(
                    "server {server}: its {method} goes to session {sid}, the only one with"
                    " a call in flight of the {count} sessions (one principal) using it",
                    server=router.name,
                    method=message["method"],
                    sid=getattr(caller[0], "shortId", caller[0].id),
                    count=len(clients),
                )
                return caller
            handshake = sum(1 for s in clients.values() if not s.era2026)
            era2026 = len(clients) - handshake
            if not era2026:
                return (
                    f"ambiguous: {handshake} client sessions use the shared server"
                    f" '{router.name}', and its request names none of them, so the gateway"
                    " cannot tell which one it is for"
                )
            return (
                f"ambiguous: {handshake} client session(s) and {era2026} 2026 call(s) use"
                f" the shared server '{router.name}', so the gateway cannot tell which one"
                " it is for (a server names the request it serves with"
                " _meta mcpgateway/relatedRequestId, see docs/design/era.md)"
            )
        [session] = clients.values()
        own = [ex for ex in inflight if ex.session is session]
        calls = [ex for ex in own if ex.method == "tools/call"]
        latest = (calls or own)[-1] if own else None
        return session, latest


_ASKS_A_PERSON = frozenset({"sampling/createMessage", "elicitation/create", "roots/list"})
"""The child requests that the one caller of a single-principal child gets
(L{_soleCaller}). A C{roots/list} among them: a tool that needs the roots
(a filesystem server's, server-everything's C{get-roots-list}) asks while
serving the call, and the roots it gets are the caller's, the one person's
whose windows they all are. One the child asks on its own, with no call in
flight, has no caller and is refused."""


def _soleCaller(
    message: Message, clients: dict[int, SessionLike], inflight: list[Exchange]
) -> tuple[SessionLike, Exchange] | None:
    """The session a child's sampling, elicitation or roots request goes to
    while several 2025 sessions are attached: the one caller of
    L{_oneCaller}, on the stream of its latest C{tools/call} (else of its
    latest request). The child may be asking on its own rather than for
    that call; then the question still reaches the person whose windows
    they all are, which is harmless, where a refusal fails the tool. Across
    principals, nothing but a proof delivers (see L{SharedFanout.requester})."""
    if message.get("method") not in _ASKS_A_PERSON:
        return None
    caller = _oneCaller(clients, inflight)
    if caller is None:
        return None
    own = [ex for ex in inflight if ex.session is caller]
    calls = [ex for ex in own if ex.method == "tools/call"]
    return caller, (calls or own)[-1]


def _oneCaller(clients: dict[int, SessionLike], inflight: list[Exchange]) -> SessionLike | None:
    """The only one of C{clients} with a request in flight on the child,
    when every one of them is one principal's (a loopback gateway's one
    user, or one authenticated caller): a 2025 session, or a 2026 call
    (L{Era2026Call<mcpgateway.core.era2026.mrtr.Era2026Call>}, whose
    question goes out as a round of the call); else C{None}."""
    principals = set()
    for session in clients.values():
        principal = getattr(session, "principal", None)
        if not isinstance(principal, str):
            return None
        principals.add(principal)
    if len(principals) != 1:
        return None
    callers = {id(ex.session) for ex in inflight if id(ex.session) in clients}
    if len(callers) != 1:
        return None
    [callerId] = callers
    return clients[callerId]


class OwnerFanout:
    """The child of one session, its C{owner}: the client initializes it, and
    everything the child says is the owner's."""

    handshake = False
    intercepts = frozenset({"logging/setLevel", "resources/subscribe", "resources/unsubscribe"})
    """Passed on unchanged, and kept on the session once the child agreed
    (L{_kept}): a child started anew for the session (after a restart, a
    crash, an exit) is given its log level and subscriptions again."""
    keeps: frozenset[str] = frozenset()
    tracksTasks = False
    """The child's tasks are all its owner's: passed unchanged."""
    roots: tuple[dict[str, Any], ...] = ()
    """Its owner answers C{roots/list} itself."""

    def __init__(self, owner: SessionLike) -> None:
        self.owner = owner

    def intercept(
        self, router: Router, session: SessionLike, message: Message, related: Sink | None
    ) -> Deferred[Message]:
        return router.forward(session, message, related).addCallback(_kept, session, message)

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

    def requester(
        self, router: Router, message: Message
    ) -> tuple[SessionLike, Exchange | None] | str:
        """The owner asked: it is the only session the child serves."""
        return self.owner, router.latestExchange(self.owner)


def _kept(answer: Message, session: SessionLike, message: Message) -> Message:
    """C{answer}, once what C{message} set (a log level, a subscription) is
    kept on C{session}, if the child agreed (a result)."""
    params = message.get("params")
    if "result" not in answer or not isinstance(params, dict):
        return answer
    method = message["method"]
    if method == "logging/setLevel":
        level = params.get("level")
        if isinstance(level, str) and level in _LEVEL_RANK:
            session.logLevel = level
        return answer
    uri = params.get("uri")
    if isinstance(uri, str):
        if method == "resources/subscribe":
            session.subscriptions.add(uri)
        else:
            session.subscriptions.discard(uri)
    return answer


_UNTAGGED = object()
"""L{relatedTask} of a message that names no task."""


def relatedTask(message: Message) -> object:
    """The task id a message of the child names in C{params._meta}
    L{RELATED_TASK} (whatever its type: an id that is not a string is no
    session's), or L{_UNTAGGED} when it names none."""
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    if not isinstance(meta, dict) or RELATED_TASK not in meta:
        return _UNTAGGED
    related = meta[RELATED_TASK]
    return related.get("taskId") if isinstance(related, dict) else None


def _untagged(message: Message) -> Message:
    """C{message} without L{RELATED_TASK} (for the sessions a task is not
    of: another session's task id is never shown)."""
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    if not isinstance(meta, dict) or RELATED_TASK not in meta:
        return message
    assert isinstance(params, dict)
    kept = {key: value for key, value in meta.items() if key != RELATED_TASK}
    params = {key: value for key, value in params.items() if key != "_meta"}
    if kept:
        params["_meta"] = kept
    return {**message, "params": params}


def _taskStream(router: Router, owner: SessionLike) -> Exchange | None:
    """The request of C{owner} in flight that a message of one of its tasks
    goes with: its newest C{tasks/result} (MCP: a task's messages go on that
    stream), else its newest request, else none (its own stream)."""
    own = [ex for ex in router.clientExchanges() if ex.session is owner]
    results = [ex for ex in own if ex.method == "tasks/result"]
    return (results or own)[-1] if own else None

# -*- test-case-name: tests.web.endpoints.test_mcp,tests.web.endpoints.test_cluster_web -*-
"""What serves an MCP endpoint's sessions: a L{Backend} (a server's pool,
L{PoolBackend}; the aggregate endpoint has its own), per-principal limits
(L{Quota}), and where a session another replica owns goes (L{ClusterSessionsLike}).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.web.iweb import IRequest
from twisted.web.server import Request

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.gateway.settings import Connection
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.sessions import Session
from mcpgateway.core.tasks.handshake import HandshakeTasks, announced
from mcpgateway.httpbase.principal import ANONYMOUS, Principal
from mcpgateway.protocol.jsonrpc import Message

if TYPE_CHECKING:
    from mcpgateway.cluster.routing import Where  # a cluster's replicas only
    from mcpgateway.cluster.sealing import Address  # cryptography: clustered gateways only
from mcpgateway.web.endpoints.credentials import Credentials
from mcpgateway.web.plumbing.requestcontext import RequestContext, contextOf

PREDECESSOR_WAIT = 60.0
"""Seconds a request for an unknown session waits for a restart's
predecessor to exit (its sessions are merged then), unless the gateway says
otherwise (L{Gateway.predecessorWait}: the restart's timeouts, and a margin)."""
Sink = Callable[[Message], bool]


class Quota(Protocol):
    """Per-principal limits (L{mcpgateway.auth.quota.PrincipalQuota})."""

    def admit(self, principal: str, requests: int = 1) -> float | None:
        """C{None}: admitted; else the seconds after which to try again."""

    def release(self, principal: str, requests: int = 1) -> None:
        """C{requests} admitted ones ended."""


class ClusterSessionsLike(Protocol):
    """Where requests for unknown session ids go in a cluster
    (L{mcpgateway.web.teamcluster.ClusterServices})."""

    replica: str
    """This replica's label (C{--replica-id})."""

    def resolve(
        self, sessionId: str, server: str, scope: str, principal: Principal, fromPeer: bool
    ) -> Where:
        """See L{mcpgateway.cluster.routing.ClusterSessions.resolve}."""

    def ownedElsewhere(self, sessionId: str, server: str, scope: str, principal: Principal) -> bool:
        """See L{mcpgateway.cluster.routing.ClusterSessions.ownedElsewhere}."""

    def forward(
        self, request: Request, owner: Address, principal: Principal, body: bytes
    ) -> Deferred[bool]:
        """See L{mcpgateway.cluster.forward.PeerForwarder.forward}."""

    def taskOwner(self, taskId: str, server: str, scope: str, principal: str) -> Address | None:
        """See L{mcpgateway.web.teamcluster.ClusterServices.taskOwner}."""


class SessionFinder(Protocol):
    """Which session a request to an MCP endpoint names, if it may use it
    (the endpoint's L{mcpgateway.web.endpoints.mcp.SessionLookup}): what its
    POSTs, batches and streams are given."""

    def session(
        self,
        request: Request,
        version: str | None,
        payload: Any = None,
        context: RequestContext | None = None,
    ) -> Session | bytes:
        """See L{mcpgateway.web.endpoints.mcp.SessionLookup.session}."""


def principalOf(request: IRequest) -> Principal:
    """The principal the door found for C{request} (L{ANONYMOUS} without one)."""
    principal = contextOf(request).principal
    return principal if isinstance(principal, Principal) else ANONYMOUS


class ForwardTo(Exception):
    """The request's session belongs to another replica: forward it there."""

    def __init__(self, owner: Address) -> None:
        self.owner = owner


class AfterPredecessor(Exception):
    """The request must wait until the predecessor's sessions are merged;
    C{requestId}: the id its refusal carries if the wait times out."""

    def __init__(self, waiting: Deferred[None], requestId: Any = None) -> None:
        self.waiting = waiting
        self.requestId = requestId


class Backend(Protocol):
    """What an endpoint serves its 2025 sessions from: one server's pool
    (L{PoolBackend}), or the aggregate of every server
    (L{mcpgateway.web.endpoints.aggregate.AggregateBackend})."""

    @property
    def credentialEnv(self) -> tuple[str, ...]:
        """The C{X-Mcp-Env-*} names its sessions may send."""

    def open(
        self,
        request: Request,
        initialize: Message,
        version: str,
        *,
        clientPid: int | None,
        connection: Connection | None,
        scope: str,
        credentialKey: str,
        credentials: Credentials,
        principal: str,
    ) -> tuple[Session, Deferred[Message]]:
        """Open a session (see
        L{mcpgateway.core.gateway.sessionopener.SessionOpener.openSession})."""

    def gone(self, session: Session) -> str | None:
        """Why C{session} can no longer be served, or C{None}."""

    def decidesCall(self, session: Session, message: Message) -> bool:
        """Whether it puts C{session}'s C{tools/call} C{message} to the
        flow rule itself (in L{forward}), where the endpoint does not."""

    def forward(
        self, session: Session, message: Message, related: Sink | None
    ) -> Deferred[Message]:
        """Serve one client request of C{session}."""

    def notify(self, session: Session, message: Message) -> None:
        """Pass on one client notification."""

    def answer(self, session: Session, message: Message) -> bool:
        """Pass on one client answer to a request it was sent."""

    def bind(self, session: Session, request: Request) -> None:
        """C{session} serves C{request} (its principal's now: the web has
        checked the key); what the session may reach follows it."""


def _cursorOf(message: Message) -> Any:
    params = message.get("params")
    return params.get("cursor") if isinstance(params, dict) else None


HELD_TASK_METHODS = frozenset({"tasks/get", "tasks/result", "tasks/cancel"})
"""The requests of a task that name it, which the gateway answers for a
task it made in a session whose child makes its own (L{PoolBackend._heldAsTask});
the first page of that session's C{tasks/list} shows them before the child's."""


class PoolBackend:
    """The sessions of one server's pool (C{/<server>/mcp})."""

    def __init__(self, gateway: Gateway, server: str) -> None:
        self._gateway = gateway
        self._server = server
        self.pool: PoolLike = gateway.pools[server]
        tasks = gateway.settings.tasks
        self._tasks = None if tasks is None else HandshakeTasks(tasks, server)

    @property
    def credentialEnv(self) -> tuple[str, ...]:
        return self.pool.spec.credentialEnv

    @property
    def direct(self) -> bool:
        """Whether it serves every request as its pool does (no gateway-made
        tasks in between): an endpoint may then call the pool itself."""
        return self._tasks is None

    def open(
        self,
        request: Request,
        initialize: Message,
        version: str,
        *,
        clientPid: int | None,
        connection: Connection | None,
        scope: str,
        credentialKey: str,
        credentials: Credentials,
        principal: str,
    ) -> tuple[Session, Deferred[Message]]:
        session, answer = self._gateway.opener.openSession(
            self._server,
            initialize,
            version,
            clientPid=clientPid,
            connection=connection,
            scope=scope,
            credentialKey=credentialKey,
            credentials=credentials,
            principal=principal,
        )
        if self._tasks is not None:
            answer.addCallback(announced, version)
        return session, answer

    def gone(self, session: Session) -> str | None:
        return self.pool.gone(session)

    def decidesCall(self, session: Session, message: Message) -> bool:
        """Whether this backend, not the endpoint, puts C{message} (a
        C{tools/call}) to the flow rule: a 2025-11-25 task-augmented call
        the gateway may make a task of, whose held wait is then the task's
        (L{forward}), not its request's."""
        tasks = self._tasks
        return tasks is not None and tasks.wants(session, message)

    def forward(
        self, session: Session, message: Message, related: Sink | None
    ) -> Deferred[Message]:
        tasks = self._tasks
        if tasks is None or not tasks.wants(session, message):
            return self.pool.forward(session, message, related)

        def untime(requestId: Any) -> bool:
            return self.pool.untime(session, requestId)

        def call(sent: Message, about: Sink | None) -> Deferred[Message]:
            return self._call(session, sent, related, about)

        def served(childServes: bool) -> Deferred[Message]:
            if not childServes:
                return tasks.serve(session, message, call, untime)
            method = message.get("method")
            if method == "tools/call":
                if self._heldAsTask(session, message):
                    return tasks.serve(session, message, call, untime)
                return self._decided(session, message, related, bounded=True)
            if method in HELD_TASK_METHODS and tasks.owns(session, message):
                return tasks.serve(session, message, call, untime)
            forwarded = self.pool.forward(session, message, related)
            if method == "tasks/list" and not _cursorOf(message):
                forwarded.addCallback(tasks.withOwn, session)
            return forwarded

        return self.pool.childTasks(session).addCallback(served)

    def _heldAsTask(self, session: Session, message: Message) -> bool:
        """Whether a task-augmented C{tools/call} to a child that makes its
        own tasks is one the flow rule does not let through now: the
        gateway then makes the task itself (the call waits in it for a
        person, and goes to the child as a plain call once allowed), as it
        does for a child without tasks. A tool the child says must run as
        a task (C{execution.taskSupport: "required"}) is left to the child:
        its call waits on its request, and goes as asked once allowed."""
        flow = self._gateway.flow
        params = message.get("params")
        if flow is None or not flow.active or not isinstance(params, dict):
            return False
        decision, _ = flow.decide(session, self._server, params)
        return not decision.allowed and not self._mustBeChildTask(params.get("name"))

    def _mustBeChildTask(self, tool: Any) -> bool:
        catalog = self._gateway.catalogs.get(self._server)
        listed = () if catalog is None else catalog.lists.get("tools", ())
        for found in listed:
            if isinstance(found, dict) and found.get("name") == tool:
                execution = found.get("execution")
                return isinstance(execution, dict) and execution.get("taskSupport") == "required"
        return False

    def _call(
        self, session: Session, message: Message, related: Sink | None, about: Sink | None
    ) -> Deferred[Message]:
        """One request of a gateway-made task on the session's child: a
        call (its answer goes to the task, what the child says about it to
        C{about}, nothing to the request's stream; held by the flow rule,
        it waits for a person as long as the held call does) or a list."""
        if message.get("method") != "tools/call":
            return maybeDeferred(self.pool.forward, session, message, related)
        return self._decided(session, message, about, bounded=False)

    def _decided(
        self, session: Session, message: Message, sink: Sink | None, bounded: bool
    ) -> Deferred[Message]:
        """A C{tools/call} the endpoint left to this backend
        (L{decidesCall}), put to the flow rule when it is active
        (L{FlowStep.through<mcpgateway.flow.step.FlowStep.through>}): sent
        to the child once let through; a task's call is sent without a
        request timeout (the task's time to live bounds it), even when a
        person's yes came after the task was made."""
        flow = self._gateway.flow

        def send() -> Deferred[Message]:
            sent = self.pool.forward(session, message, sink)
            if not bounded:
                self.pool.untime(session, message.get("id"))
            return sent

        if flow is None or not flow.active:
            return maybeDeferred(send)
        answered = flow.answered(message.get("id"))
        return flow.through(session, self._server, message.get("params"), send, answered, bounded)

    def notify(self, session: Session, message: Message) -> None:
        self.pool.notify(session, message)

    def answer(self, session: Session, message: Message) -> bool:
        elsewhere = self._gateway.answersElsewhere
        if elsewhere is not None and elsewhere.takes(session, message):
            return True  # a restart's predecessor asked it
        if self._tasks is not None:
            self._tasks.answered(session, message)
        return self.pool.answer(session, message)

    def bind(self, session: Session, request: Request) -> None:
        """Nothing: the session's server is the one the door let through."""

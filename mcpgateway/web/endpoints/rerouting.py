# -*- test-case-name: tests.web.endpoints.test_endpoint_parts,tests.web.endpoints.test_cluster_web -*-
"""A request to the MCP endpoint answered elsewhere, or later.

One job: a request that cannot be answered here and now. One naming a
session another replica owns, or a 2026-07-28 C{tasks/*} request whose
task lives on another replica, is forwarded there (the owner answers,
streamed back as it comes); if the owner cannot be reached, the request is
rendered here again (the owner is down now). One naming a session a
restart's predecessor may have opened in its last moments is rendered
again once the predecessor exited, or answered that the session is not
found after L{Gateway.predecessorWait} seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import NOT_DONE_YET, Request

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.protocol import jsonrpc
from mcpgateway.web.endpoints.backends import PREDECESSOR_WAIT, ClusterSessionsLike, principalOf
from mcpgateway.web.endpoints.principal import principalKey
from mcpgateway.web.endpoints.refusals import EndpointRefusals
from mcpgateway.web.endpoints.requestreading import watchDisconnect
from mcpgateway.web.plumbing.replies import internalErrorReply
from mcpgateway.web.plumbing.requestcontext import contextOf

if TYPE_CHECKING:
    from mcpgateway.cluster.sealing import Address  # cryptography: clustered gateways only

_TIMED_OUT = object()
ROUTED_IDS = 4
"""How many of a listen's task ids, at most, are opened to find the
replica it goes to: opening one costs an AES-GCM open per task server,
and only the first owner found is used."""


class Rendering(Protocol):
    """What L{Rerouting} needs of its endpoint: to render a request again,
    and the servers whose tasks the endpoint's clients poll."""

    def render(self, request: Request) -> bytes | int:
        """Answer C{request} (a body, or C{NOT_DONE_YET})."""

    def taskServers(self) -> tuple[str, ...]:
        """The servers whose tasks the endpoint's clients poll."""


class Rerouting:
    """The requests of one MCP endpoint (one server, one route) answered
    by another replica, or once a restart's predecessor exited."""

    def __init__(
        self,
        host: Rendering,
        gateway: Gateway,
        refusals: EndpointRefusals,
        clock: IReactorTime,
        server: str,
        scope: str,
        log: Logger,
        cluster: ClusterSessionsLike | None = None,
    ) -> None:
        """
        @param host: the endpoint, which renders a request again.
        @param gateway: how long a predecessor is waited for, and which
            tasks are this process's.
        @param cluster: the other replicas (C{None}: not clustered).
        """
        self._host = host
        self._gateway = gateway
        self._refusals = refusals
        self._clock = clock
        self._server = server
        self._scope = scope
        self._log = log
        self._cluster = cluster

    def _again(self, request: Request) -> None:
        """Render C{request} again, and finish it with the body, if any."""
        if request.content is not None:
            request.content.seek(0)
        body = self._host.render(request)
        if body is not NOT_DONE_YET:
            assert isinstance(body, bytes)
            request.write(body)
            request.finish()

    def later(self, request: Request, waiting: Deferred[None], requestId: Any = None) -> int:
        """Render C{request} again once C{waiting} fires; after
        L{Gateway.predecessorWait} seconds, answer that the session is not
        found (with C{requestId}, the id of the request's body)."""
        gone = watchDisconnect(request)

        def again(timedOut: object) -> None:
            if gone or request.finished:
                return
            if timedOut is not _TIMED_OUT:
                self._again(request)
                return
            request.write(
                self._refusals.refuse(
                    request, 404, jsonrpc.INVALID_REQUEST, "Session not found", requestId
                )
            )
            request.finish()

        limit = getattr(self._gateway, "predecessorWait", PREDECESSOR_WAIT)
        waiting.addTimeout(limit, self._clock, onTimeoutCancel=lambda *_: _TIMED_OUT)
        waiting.addCallback(again)
        waiting.addErrback(
            lambda f: self._log.failure("answering after the predecessor exited failed", f)
        )
        return NOT_DONE_YET

    def taskOwner(self, request: Request, payload: Any) -> Address | None:
        """The replica a C{tasks/*} request's task lives on, when it is
        another one, the task is not here and the request may be forwarded
        (not a peer's, not one whose owner just failed to answer). A
        C{subscriptions/listen} that names C{taskIds} goes to the owner of
        the first of them that lives on another replica: only the owner
        sees its task change (the others it names are not honoured there,
        unless that replica owns them too).

        This runs before the request is checked, on whatever ids it names,
        so what it costs is bounded: each id is looked at once, one whose
        clear label is this replica's is never opened (an id this cluster
        made says the same in its sealed part, so it is never another
        replica's), and at most L{ROUTED_IDS} others are opened."""
        if self._cluster is None or not isinstance(payload, dict):
            return None
        context = contextOf(request)
        if context.fromPeer or context.forwardFailed:
            return None
        from mcpgateway.protocol.era2026form import TASK_METHODS
        from mcpgateway.web.endpoints.era2026 import MAX_LISTEN_URIS

        params = payload.get("params")
        method = payload.get("method")
        if method in TASK_METHODS:
            taskIds: Any = [params.get("taskId") if isinstance(params, dict) else None]
        elif method == "subscriptions/listen" and isinstance(params, dict):
            wanted = params.get("notifications")
            taskIds = wanted.get("taskIds") if isinstance(wanted, dict) else None
        else:
            return None
        if not isinstance(taskIds, list):
            return None
        here = f"{self._cluster.replica}."
        named = dict.fromkeys(t for t in taskIds[:MAX_LISTEN_URIS] if isinstance(t, str))
        opened = 0
        for taskId in named:
            if "." not in taskId or taskId.startswith(here):
                continue  # not a sealed id, or one of this replica's
            owner = self._ownerOf(request, taskId)
            if owner is not None:
                return owner
            opened += 1
            if opened >= ROUTED_IDS:
                break
        return None

    def _ownerOf(self, request: Request, taskId: str) -> Address | None:
        """The other replica task C{taskId} lives on (C{None}: here, or none)."""
        assert self._cluster is not None
        principal = principalKey(request)
        tasks = self._gateway.settings.tasks
        if tasks is not None and tasks.owned(taskId, self._scope, principal) is not None:
            return None
        for server in self._host.taskServers():
            owner = self._cluster.taskOwner(taskId, server, self._scope, principal)
            if owner is not None:
                return owner
        return None

    def forwardTo(self, request: Request, owner: Address) -> int:
        """Forward C{request} to C{owner}, the replica whose session it
        names; if the owner cannot be reached, look at it again here (the
        owner is down now: the session visits, or is not found)."""
        assert self._cluster is not None
        content = request.content
        body = b""
        if content is not None:
            content.seek(0)
            body = content.read()
            content.seek(0)
        gone = watchDisconnect(request)
        context = contextOf(request)
        context.forwardedTo = owner
        forwarded = self._cluster.forward(request, owner, principalOf(request), body)

        def done(handled: bool) -> None:
            if handled:
                return
            context.forwardedTo = None
            context.forwardFailed = True
            if gone or request.finished:
                return
            self._again(request)

        def failed(reason: Failure) -> None:
            self._log.failure(
                "server {server}: forwarding a request failed", reason, server=self._server
            )
            if not (gone or request.finished or request.startedWriting):
                request.write(internalErrorReply(request))
                request.finish()

        forwarded.addCallback(done).addErrback(failed)
        return NOT_DONE_YET

# -*- test-case-name: tests.core.era2026.test_mrtr -*-
"""What the web's 2026 endpoint and the core say to each other about MCP
2026-07-28 requests.

One job: the vocabulary between L{mcpgateway.web.endpoints.era2026} (the HTTP ladder:
methods, headers, envelopes, status codes) and the core (L{mcpgateway.core.era2026.mrtr},
L{mcpgateway.core.era2026.listen}: the era translation in front of a handshake child).
The web has checked everything the transport spec lets it check before it
builds a L{Era2026Request}; the core answers with a finished JSON-RPC message
in the 2026 shape (C{resultType}, cache hints, translated error codes), whose
HTTP status the web reads off its error code
(L{mcpgateway.protocol.era2026form.httpStatus}).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from twisted.internet.defer import Deferred

from mcpgateway.core.status import Era2026Stats
from mcpgateway.protocol.jsonrpc import Message

Sink = Callable[[Message], bool]
"""Writes one message on the request's own
response (a progress notification); C{False} once it is gone."""
Gate = Callable[
    [str, Mapping[str, Any], Callable[[], "Deferred[Message]"], bool], "Deferred[Message]"
]
"""Lets a C{tools/call} through, or answers it instead: the flow rule, as
the web attaches it to a request (L{Era2026Request.gate}). Given the
server the call reaches, its C{params} as that server gets them (its own
name of the tool), how to send it, and whether a call it holds waits at
most a bound (C{True}: the request waits on it) or as long as a person may
take (C{False}: the call of a task, whose client does not wait on it)."""


@dataclass(frozen=True)
class Era2026Request:
    """One 2026 client request, checked by the web.

    @ivar clientId: the JSON-RPC id, verbatim.
    @ivar params: as the child gets them (L{mcpgateway.protocol.era2026form.stripEnvelope}
        done); still holds C{_meta.progressToken} when the client sent one.
    @ivar capabilities: the request's C{clientCapabilities}.
    @ivar clientInfo: the request's C{clientInfo} (C{{}} when absent).
    @ivar logLevel: the request's C{logLevel}, or C{None}.
    @ivar inputResponses: a retry's answers, or C{None}.
    @ivar requestState: a retry's token, or C{None}.
    @ivar scope: the route (C{""}: the server's global route; else a workspace key).
    @ivar credentialKey: the keyed hash of C{credentials}.
    @ivar credentials: the server's C{credentialEnv} values the client sent.
    @ivar principal: the authenticated caller (C{""}: none; reserved).
    @ivar clientPid: the pid the client says it runs as (C{X-Client-Pid},
        else C{clientInfo.pid}; C{None}: not said, or an authenticated
        client, whose pid may name a process on another machine).
    @ivar servers: the servers that caller may use (C{None}: every one): what
        an aggregate endpoint serves it (a token's C{mcp:<server>} scopes).
    @ivar withheld: servers that caller may not use whatever C{servers}
        says (the gateway's own C{gateway} server, to one that is no admin).
    @ivar untimed: a call that becomes a task if it lasts
        (L{mcpgateway.core.tasks.manager}): the server's request timeout
        does not apply to it; the task's time to live does.
    @ivar childTask: a C{tools/call} the child runs as its own task
        (L{mcpgateway.core.era2026.childtask}).
    """

    clientId: Any
    method: str
    params: dict[str, Any]
    capabilities: dict[str, Any] = field(default_factory=dict)
    clientInfo: dict[str, Any] = field(default_factory=dict)
    logLevel: str | None = None
    inputResponses: dict[str, Any] | None = None
    requestState: str | None = None
    scope: str = ""
    credentialKey: str = ""
    credentials: tuple[tuple[str, str], ...] = ()
    principal: str = ""
    clientPid: int | None = None
    servers: frozenset[str] | None = None
    withheld: frozenset[str] = frozenset()
    untimed: bool = False
    childTask: bool = False
    asker: Any = field(default=None, compare=False)
    """Who asks (L{mcpgateway.core.aggregate.memberpolicy.Asker}), which
    an aggregate's policy decides by (C{None}: nobody authenticated)."""
    gate: Gate | None = field(default=None, compare=False)
    """What each C{tools/call} of the request passes on its way to a child
    (the flow rule, while it is active; C{None}: nothing)."""


@dataclass(frozen=True)
class ListenFilter:
    """What a C{subscriptions/listen} stream carries (or was honoured)."""

    tools: bool = False
    prompts: bool = False
    resources: bool = False
    uris: tuple[str, ...] = ()
    taskIds: tuple[str, ...] = ()
    """The tasks whose status changes it carries (the Tasks extension's
    C{notifications/tasks}, L{mcpgateway.core.tasks.listening})."""


class ListenHandle(Protocol):
    """One open listen stream in the core."""

    honoured: ListenFilter
    """What the child can send (the acknowledgement's content)."""
    ended: Deferred[str]
    """Fires with a reason when the core ends the stream (server removed, gateway stopping)."""

    def close(self) -> None:
        """The client went away: give back what the stream held."""


class Era2026Gateway(Protocol):
    """What the web asks of the gateway for 2026 requests (the
    L{mcpgateway.core.gateway.gateway.Gateway} implements it)."""

    def era2026Refusal(self, server: str) -> str | None:
        """Why C{server} does not serve the 2026 revision (its answers are
        404/-32601 so that clients fall back to C{initialize}), or C{None}."""

    def era2026Call(self, server: str, request: Era2026Request, sink: Sink) -> Deferred[Message]:
        """Serve one 2026 request (any method of
        L{mcpgateway.protocol.era2026form.ERA2026_METHODS} but C{subscriptions/listen}):
        fires with the finished response (the client's id). Cancelling it is
        the client's disconnect (the child's call is cancelled). A
        C{tools/call} goes to the child it reaches through the request's
        C{gate}, inside the task it may become."""

    def listen(
        self, server: str, request: Era2026Request, wanted: ListenFilter, sink: Sink
    ) -> Deferred[ListenHandle]:
        """Open a listen stream: the child's notifications that C{wanted}
        selects go to C{sink} (untagged; the web tags them)."""

    def paramHeaders(self, server: str, scope: str, tool: str) -> dict[str, str] | None:
        """C{Mcp-Param-*} header name to argument name for C{tool}, from the
        child's last tools/list (C{None}: tool not known, skip the check)."""

    def era2026Stats(self, server: str) -> Era2026Stats:
        """C{server}'s 2026 counters."""


Run = Callable[[Era2026Request, Sink], Deferred[Message]]
"""Serves one 2026 request on a server's child (a pool's C{era2026.serve})."""


def gated(server: str, run: Run, gate: Gate | None) -> Run:
    """C{run}, a C{tools/call} to C{server}, through C{gate} (C{None}: as
    it is): a task's call (C{untimed}) may wait for a person as long as
    the task lives, any other call only as long as its request may."""
    if gate is None:
        return run
    decide = gate

    def through(request: Era2026Request, sink: Sink) -> Deferred[Message]:
        return decide(server, request.params, lambda: run(request, sink), not request.untimed)

    return through

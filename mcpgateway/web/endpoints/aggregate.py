# -*- test-case-name: tests.web.endpoints.test_aggregate_web -*-
"""The aggregate endpoint on the web: C{/mcp}, C{/mcp~<key>} and their
named endpoints (C{/mcp/search}, C{/mcp/<name>}).

One job: give an L{McpEndpoint} the aggregate as its backend
(L{AggregateBackend}), and say which requests go to which aggregate
endpoint (L{aggregatePath}). The MCP transport (headers, streams,
resumption, limits) is the endpoint's, the same as on C{/<server>/mcp}.

The mode is chosen at C{initialize}: the endpoint's own (C{/mcp} is
C{full}, C{/mcp/search} is C{search}), or C{?mode=search|full} on the
initialize request; the session keeps it. L{AggregateEndpoint} refuses,
before anything else, a C{?mode=} that is neither (400, naming both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from twisted.internet.defer import Deferred
from twisted.web.iweb import IRequest
from twisted.web.server import Request

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.gateway.settings import Connection
from mcpgateway.core.sessions import Session
from mcpgateway.protocol import envelope, jsonrpc
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.web.endpoints.backends import Sink, principalOf
from mcpgateway.web.endpoints.credentials import Credentials
from mcpgateway.web.endpoints.guard import forCaller, header, showsChildText
from mcpgateway.web.endpoints.mcp import McpEndpoint
from mcpgateway.web.endpoints.principal import (
    askerOf,
    principalKey,
    principalServers,
    principalWithheld,
)
from mcpgateway.web.plumbing.replies import validIdOrNull

if TYPE_CHECKING:
    # The 2026-07-28 side loads on the endpoint's first 2026 request.
    # Loaded with the aggregator, on the first request to an aggregate endpoint.
    from mcpgateway.core.aggregate.era2026 import AggregateEra2026
    from mcpgateway.core.aggregate.session import AggregateSession
    from mcpgateway.web.endpoints.era2026 import Era2026Endpoint

ENDPOINT_NAME = re.compile(r"[a-z0-9-]{1,32}")
"""What an aggregate endpoint's name may be (never C{mcp})."""
MODES = ("full", "search")


@dataclass(frozen=True)
class AggregatePath:
    """Which aggregate endpoint a request path names.

    @ivar endpoint: the settings' name (C{default} for C{/mcp} itself).
    @ivar scope: the workspace key (C{""}: the global routes).
    """

    endpoint: str
    scope: str


def aggregatePath(segment: str, rest: list[bytes]) -> AggregatePath | None:
    """The aggregate endpoint of a path whose first segment is C{segment}
    (C{mcp} or C{mcp~<key>}) and whose other segments are C{rest}; C{None}:
    not one (a 404)."""
    name, tilde, key = segment.partition("~")
    if name != "mcp" or (tilde and not key):
        return None
    if not rest:
        return AggregatePath("default", key)
    if len(rest) == 1:
        endpoint = rest[0].decode("utf-8", "replace")
        if ENDPOINT_NAME.fullmatch(endpoint) and endpoint != "mcp" and endpoint != "default":
            return AggregatePath(endpoint, key)
    return None


def modeRefusal(request: Request) -> str | None:
    """Why the request's C{?mode=} cannot be served (C{None}: none given,
    or each one given is one of L{MODES})."""
    asked = request.args.get(b"mode") if request.args else None
    for raw in asked or ():
        value = raw.decode("utf-8", "replace")
        if value not in MODES:
            return (
                f"Bad Request: unknown mode {envelope.shown(value)}: ?mode= is one of"
                f" {', '.join(MODES)} (full lists every server's tools; search lists"
                " search, describe, invoke and get_result)"
            )
    return None


def serverName(endpoint: str) -> str:
    """The C{server} of the sessions of aggregate endpoint C{endpoint}."""
    return "/mcp" if endpoint == "default" else f"/mcp/{endpoint}"


class AggregateBackend:
    """The aggregate's sessions, for one aggregate endpoint."""

    @property
    def credentialEnv(self) -> tuple[str, ...]:
        """None: a member with C{credentialEnv} is served from its route's
        child without them (docs/guide/aggregate.md)."""
        return ()

    def __init__(self, gateway: Gateway, endpoint: str) -> None:
        self._gateway = gateway
        self._endpoint = endpoint
        self.loopbackOnly = True
        """The gateway is bound to loopback only (its L{AggregateEndpoint} says)."""

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
        settings = self._gateway.aggregateSide.aggregator.endpoint(self._endpoint)
        mode = settings.mode if settings is not None else "full"
        asked = request.args.get(b"mode") if request.args else None
        if asked:
            value = asked[0].decode("ascii", "replace")
            if value in MODES:
                mode = value
        who = principalOf(request)
        return self._gateway.opener.openAggregate(
            self._endpoint,
            mode,
            initialize,
            version,
            clientPid,
            connection,
            scope=scope,
            principal=principal,
            mayUse=who.mayUse,
        )

    def gone(self, session: Session) -> str | None:
        return None

    def bind(self, session: Session, request: Request) -> None:
        """The members a request may reach are its principal's servers now
        (a token's scopes, re-read at every request; a session rebuilt on
        another replica gets them here); what a member's error may say to
        it (L{showsChildText}: an C{invoke} of search mode quotes it)."""
        aggregate = cast("AggregateSession", session)
        who = principalOf(request)
        aggregate.mayUse = who.mayUse
        aggregate.asker = askerOf(request)
        shown = showsChildText(self.loopbackOnly, who, request)
        aggregate.forCaller = _asIs if shown else _public

    def decidesCall(self, session: Session, message: Message) -> bool:
        """Always: the aggregate decides each call as the member's it
        reaches (L{mcpgateway.core.aggregate.flowcalls})."""
        return True

    def forward(
        self, session: Session, message: Message, related: Sink | None
    ) -> Deferred[Message]:
        return self._gateway.aggregateSide.aggregator.forward(
            cast("AggregateSession", session), message, related
        )

    def notify(self, session: Session, message: Message) -> None:
        self._gateway.aggregateSide.aggregator.notify(cast("AggregateSession", session), message)

    def answer(self, session: Session, message: Message) -> bool:
        elsewhere = self._gateway.answersElsewhere
        if elsewhere is not None and elsewhere.takes(session, message):
            return True  # a restart's predecessor asked it
        return self._gateway.aggregateSide.aggregator.answer(
            cast("AggregateSession", session), message
        )

    def era2026(self) -> AggregateEra2026:
        """What serves the endpoint's 2026-07-28 requests (made now, its
        aggregator at its first request)."""
        from mcpgateway.core.aggregate.era2026 import AggregateEra2026

        return AggregateEra2026(self._gateway, self._endpoint)


class AggregateEndpoint(McpEndpoint):
    """The MCP endpoint of an aggregate endpoint: the transport of
    L{McpEndpoint}, after a refusal of its own: a C{?mode=} that is not one
    of L{MODES} is a 400 naming them (whatever the method: a client whose
    URL has it sends it on every request, and no session is made).

    Its 2026-07-28 requests are served by the aggregate's
    L{AggregateEra2026} (unless C{era2026} names another service), in the
    endpoint's mode, or in the one C{?mode=} names (each request carries it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        backend = kwargs.get("backend")
        made: AggregateEra2026 | None = None
        if kwargs.get("era2026") is None and isinstance(backend, AggregateBackend):
            made = kwargs["era2026"] = backend.era2026()
        super().__init__(*args, **kwargs)
        if isinstance(self.backend, AggregateBackend):
            self.backend.loopbackOnly = self._loopbackOnly
        # A call is decided by the flow rule as the member's it reaches (the
        # aggregate's, L{mcpgateway.core.aggregate.flowcalls}), not as a
        # server named /mcp.
        self.posts.flow = None
        self._withMode = made.withMode if made is not None else None
        """The service of another mode (C{None}: C{era2026} was given)."""
        self._era2026Service = made
        """The endpoint's own 2026-07-28 service (C{None}: C{era2026} was given)."""
        self._modes: dict[str, Era2026Endpoint] = {}
        """The 2026-07-28 side of each C{?mode=} asked for."""

    def taskServers(self) -> tuple[str, ...]:
        """Every server's: a task polled here was made by one of its members."""
        return tuple(self._gateway.pools)

    def era2026For(self, request: Request) -> Era2026Endpoint:
        asked = request.args.get(b"mode") if request.args else None
        withMode = self._withMode
        if not asked or withMode is None:
            return self.era2026
        mode = asked[0].decode("ascii", "replace")  # one of MODES: render checked it
        endpoint = self._modes.get(mode)
        if endpoint is None:
            endpoint = self._modes[mode] = self._era2026Of(withMode(mode))
            endpoint.flow = self.era2026.flow  # each member call is decided as the member's
        return endpoint

    callsMembers = True
    """A call may reach a member (L{callTarget})."""

    def callTarget(self, request: IRequest, message: Any) -> tuple[str, str] | None:
        """The member a call reaches and the name it has there, in the view
        of the caller: its session's (the session of another principal is
        never read), or for a 2026-07-28 request the view of its principal
        and route; C{None}: no member (the gateway's own tools, a name no
        member serves: the call counts as the endpoint's)."""
        if not isinstance(message, dict) or not isinstance(message.get("params"), dict):
            return None
        from mcpgateway.core.aggregate.session import AggregateSession

        method, params = message.get("method"), message["params"]
        if not isinstance(method, str):
            return None
        sessionId = header(request, "mcp-session-id")
        principal = principalKey(request)
        session: AggregateSession | None = None
        if sessionId is not None:
            found = self._gateway.sessions.get(sessionId)
            if isinstance(found, AggregateSession) and found.principal == principal:
                session = found
        elif self._era2026Service is not None:
            from mcpgateway.core.era2026.types import Era2026Request

            session = self._era2026Service.session(
                Era2026Request(
                    None,
                    method,
                    params,
                    scope=self._scope,
                    principal=principal,
                    servers=principalServers(request),
                    withheld=principalWithheld(request),
                    asker=askerOf(request),
                )
            )
        if session is None:
            return None
        view = self._gateway.aggregateSide.aggregator.viewNow(session)
        return view.callTarget(method, params, session.learned.get)

    def endEra2026Streams(self, reason: str) -> int:
        """End the open listen streams of every mode (see L{Era2026Endpoint.endStreams})."""
        ended = super().endEra2026Streams(reason)
        return ended + sum(endpoint.endStreams(reason) for endpoint in self._modes.values())

    def render(self, request: Request) -> bytes | int:
        refusal = modeRefusal(request)
        if refusal is not None:
            return self._refusals.refuse(
                request, 400, jsonrpc.INVALID_REQUEST, refusal, self._bodyId(request)
            )
        return super().render(request)

    def _bodyId(self, request: Request) -> Any:
        """The id of the POSTed request a refusal answers, when it can be
        read (C{None} otherwise: a notification, a batch, no body)."""
        if request.method != b"POST" or request.content is None:
            return None
        if getattr(request, "bodyTooLarge", False):
            return None
        try:
            payload = jsonrpc.loads(request.content.read())
        except jsonrpc.ParseError:
            return None
        finally:
            request.content.seek(0)
        if isinstance(payload, dict) and "method" in payload:
            return validIdOrNull(payload.get("id"))
        return None


def _asIs(message: Message) -> Message:
    return message


def _public(message: Message) -> Message:
    """C{message} as a caller who may not read a child's stderr reads it."""
    return forCaller(message, False)

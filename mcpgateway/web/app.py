# -*- test-case-name: tests.web.admin.test_api,tests.web.endpoints.test_mcp,tests.web.admin.test_sessions_api -*-
"""The gateway's HTTP tree: guards, the MCP endpoints, and the management apps.

L{GatewayRoot} checks C{Origin} and C{Host} on every request, hands
C{/<server>/mcp} to that server's L{McpEndpoint} and C{/<server>~<key>/mcp}
to the endpoint of one of its workspace routes (see docs/guide/scopes.md; an
unknown key is 404, never the global route), answers C{/health} itself,
serves the status page at C{/} and its stream at C{/status/events}
(L{mcpgateway.web.pages.statuspage}; a browser's request that changes something
must carry its CSRF header), and hands everything else to the management
surface (the Klein app of C{/api/v1}, and L{mcpgateway.web.pages.reports.ReportsResource}
for C{/sessions} and C{/metrics}), which is loaded on first use: a gateway
that only serves MCP traffic and C{mcpgateway status} never imports Klein
(about 5 MB).
L{makeSite} builds the C{Site} within a L{MessageBounds}: a request class that caps
body sizes, and a channel that gives a request's headers a deadline and caps
the connections of one peer address (of one client process behind a door).
A gateway that authenticates no one has a door
(L{mcpgateway.httpbase.door}): a connection from any account but its
owner's is refused 403 as it is accepted (where the account cannot be
named, each request without the owner token is). A path that is not UTF-8 is
refused before it can reach Klein.

A team gateway (docs/guide/team.md) puts a L{TeamServices} in front: every MCP
request passes a door (the authentication gate, whose refusal never reaches
a pool; the principal it finds is kept on the request's context,
L{mcpgateway.web.plumbing.requestcontext}; one audit record when the request
ends), C{/sessions*}, C{/api/v1} and the status
page need an admin principal, C{/.well-known/oauth-protected-resource*} is the gate's, and
C{/health} and C{/metrics} stay open but show a caller without an admin's token
only that the gateway lives (L{mcpgateway.web.pages.liveness}). An MCP path no
server, route or aggregate endpoint answers is authenticated first, as a
real one is: no caller without a valid token learns which exist.

A replica of a cluster (docs/guide/cluster.md) puts a L{ClusterServices} on that
surface: the door looks for a peer's C{Mcp-Gateway-Peer} header first (a
valid one is the principal, with neither the token gate nor the limits:
the replica the client reached checked and counted it; an invalid one is
401), the endpoints send unknown session ids to it, the audit record of a
forwarded request is the owner's to write, and C{/health} and C{/metrics}
show what it forwarded and which sessions visit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web import http
from twisted.web.http import HTTPFactory
from twisted.web.resource import IResource
from twisted.web.server import Site

from mcpgateway.config.problems import ConfigProblems
from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.httpbase.clienterrors import ClientErrors
from mcpgateway.httpbase.door import Door
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.runtime import logs
from mcpgateway.runtime.turnwrites import Flusher
from mcpgateway.runtime.twistedprivate import GenericHTTPChannelProtocol
from mcpgateway.tuned.httpreader import checkInstalled
from mcpgateway.tuned.request import GatewayRequest
from mcpgateway.tuned.switch import STOCK, twistedSetting
from mcpgateway.tuned.turnflush import TurnFlusher
from mcpgateway.web.plumbing.requestcontext import contextOf
from mcpgateway.web.plumbing.stock import StockRequest, stockChannel

if TYPE_CHECKING:
    from mcpgateway.core.era2026.types import Era2026Gateway
    from mcpgateway.web.endpoints.backends import Backend

    # Loaded at the page's first request.
    from mcpgateway.web.pages.approvalspage import HeldCallsIfAny
from mcpgateway.tuned.channel import IDLE_CONNECTION_TIMEOUT, ConnectionGuard, GatewayChannel
from mcpgateway.web.root import GatewayRoot, ResourceFactory
from mcpgateway.web.teamcluster import TeamServices

_log = Logger(observer=logs.observer, namespace="mcpgateway.web.app")
HANDOVER_IDLE = 2.0
"""Seconds a connection may stay silent between requests once a restart's
successor accepts the new ones (L{GatewaySite.handOver}): then the old
process closes it, as its idle timeout would later. Clients keep idle
connections alive for 5 to 15 s (httpx, aiohttp; urllib's for as long as
the process lives), and the children move to the successor only once the
old process's connections are gone. Two seconds lets the SDKs' GET
reconnection, 1 s after the old process ended their streams, come and be
answered on the connection it was kept alive on, rather than meet its
closing."""


def _channelFactory(site: HTTPFactory) -> GatewayChannel | GenericHTTPChannelProtocol:
    """A connection's protocol: its L{GatewayChannel} itself, or, where
    Twisted's HTTP/2 support is installed (h2), Twisted's wrapper around it,
    which hands the connection to HTTP/2 when TLS negotiates it (ALPN).
    Without h2 the wrapper would only pass every call on: a few hundred
    bytes per connection, held by every idle session's GET stream, and a
    call more per read."""
    channel = GatewayChannel()
    return GenericHTTPChannelProtocol(channel) if http.H2_ENABLED else channel


class GatewaySite(Site):
    """A C{Site} without the per-request access log (hot path; see /health),
    whose connections are L{GatewayChannel}s."""

    _log = Logger(observer=logs.observer)

    protocol = _channelFactory  # type: ignore[assignment]  # Twisted types it as the h2 wrapper only

    idleTimeout: float | None = IDLE_CONNECTION_TIMEOUT
    """Seconds a connection may stay silent between requests (no byte of a
    new request, no response in progress); enforced by the site's
    L{ConnectionGuard}, not by a timer per connection."""

    def __init__(
        self,
        resource: IResource,
        clock: IReactorTime,
        limits: MessageBounds,
        clientErrors: ClientErrors,
        flusher: Flusher | None = None,
        door: Door | None = None,
    ) -> None:
        super().__init__(resource, reactor=clock, timeout=None, parsePOSTFormSubmission=False)
        self.flusher: Flusher = flusher if flusher is not None else TurnFlusher(clock)
        """Sends what a reactor turn wrote to a connection
        (L{mcpgateway.runtime.turnwrites}): the spawner's, handed in by
        start-up, or the site's own turn flusher
        (L{mcpgateway.tuned.turnflush})."""
        self.answering = 0
        """Requests read whose response's head has not gone out yet (streams
        that stay open are not counted once their head is out): at 0, a
        finished response is sent at once, not at the end of the turn
        (L{GatewayChannel.requestDone})."""
        self.serving = 0
        """Requests read and not finished yet, on every connection (a
        response streamed for long counts until it ends)."""
        self.limits = limits
        self.guard = ConnectionGuard(clock, limits, clientErrors, door)
        """Counts and times the connections; with C{door}, lets in only its
        owner's (L{mcpgateway.httpbase.door})."""

    handingOver = False
    """Set by L{handOver}: a restart's successor accepts the connections now."""
    gateway: Gateway | None = None

    def servesAtMostOne(self) -> bool:
        """Whether at most one request is being served (read and not
        finished): the reactor polls a little before it sleeps only then
        (L{mcpgateway.tuned.reactor.GatewayReactor.spinBeforeWaiting})."""
        return self.serving <= 1

    def log(self, request: http.Request) -> None:
        """No access log: what the gateway serves is logged through
        C{twisted.logger}. Twisted's C{Request.finish} calls this with each
        finished request."""

    def _updateLogDateTime(self) -> None:
        """Nothing: with no access log (L{log}), there is no log date to
        keep fresh. Twisted's C{HTTPFactory} refreshes it every second from
        C{startFactory} on, which wakes an idle gateway every second."""

    def handOver(
        self, deadline: float, atDeadline: Callable[[], object] | None = None
    ) -> Deferred[None]:
        """A restart's successor accepts the new connections (see
        L{mcpgateway.ops.handover}): answer what still comes on the open ones
        with C{Connection: close}, end the GET streams (their clients open
        them again, at the successor) and the 2026-07-28 listen streams
        (with their graceful result: their clients listen again, at the
        successor), answer the calls held for a person's yes with their
        denial (L{mcpgateway.flow.step.FlowStep.endWaits}), close each
        connection once it has been silent between requests for
        L{HANDOVER_IDLE} seconds (a client's idle keep-alive connection
        would otherwise hold the hand-over of the children, and every call
        to them, until C{deadline}), and fire once every connection is
        closed, or after C{deadline} seconds (the rest are closed then,
        once C{atDeadline} has run: it answers the requests still in flight,
        L{mcpgateway.ops.childhandover.ChildSender.letGo}, so that their
        clients read an error rather than a stream cut short)."""
        # A response in progress keeps the persistence it was given: closing
        # after it without having said so would make the client's next request
        # on the connection fail. That next request is answered with
        # Connection: close instead (GatewayChannel.checkPersistence).
        self.handingOver = True
        channels = self.guard.channels
        endEra2026Streams(self, "the gateway is restarting")
        if self.gateway is not None:
            flow = self.gateway.flow
            if flow is not None:  # a held call's wait would outlast the hand-over
                flow.endWaits("The gateway restarted before a person decided it")
            for session in list(self.gateway.sessions):
                stream = session.getStream
                if stream is not None:
                    stream.close()
        done: Deferred[None] = Deferred()
        clock = self.guard.clock
        started = clock.seconds()

        def check() -> None:
            now = clock.seconds()
            silent = [
                channel
                for channel in channels
                if channel.silentFor(now, HANDOVER_IDLE)
                and channel.transport is not None
                and not getattr(channel.transport, "disconnecting", False)
            ]
            if silent:
                self._log.info(
                    "restart: closing {count} idle keep-alive connection(s), silent"
                    " {idle:g} s: the successor serves their clients' next requests",
                    count=len(silent),
                    idle=HANDOVER_IDLE,
                )
                for channel in silent:
                    transport = channel.transport
                    if transport is not None:
                        transport.loseConnection()
            if not channels:
                done.callback(None)
                return
            if clock.seconds() - started >= deadline:
                if atDeadline is not None:
                    try:
                        atDeadline()
                    except Exception:
                        self._log.failure("restart: ending the requests still in flight failed")
                self._log.info(
                    "closing {count} connection(s) still open {deadline:g} s after the hand-over",
                    count=len(channels),
                    deadline=deadline,
                )
                for channel in list(channels):
                    if channel.transport is not None:
                        channel.transport.loseConnection()
                done.callback(None)
                return
            clock.callLater(0.05, check)

        check()
        return done


class StockSite(GatewaySite):
    """A L{GatewaySite} whose connections are twisted.web's own channel and
    request (C{--twisted=stock}, L{mcpgateway.web.plumbing.stock}): Twisted's parser,
    headers and writes, held to the same bounds."""

    protocol = stockChannel


def makeSite(
    gateway: Gateway,
    clock: IReactorTime,
    loopbackOnly: bool = True,
    maxBody: int | None = None,
    api: ResourceFactory | None = None,
    limits: MessageBounds | None = None,
    keys: WorkspaceKeys | None = None,
    era2026: Era2026Gateway | None = None,
    team: TeamServices | None = None,
    flusher: Flusher | None = None,
    twisted: str | None = None,
    door: Door | None = None,
    config: Callable[[], ConfigProblems] | None = None,
    apiHasToken: bool | None = None,
    approvals: HeldCallsIfAny | None = None,
    settling: Callable[[], Deferred[None] | None] | None = None,
) -> GatewaySite:
    """The C{Site} serving the gateway, within C{limits}; C{maxBody}, when
    given, overrides C{limits.maxBody}; C{keys}, C{era2026}, C{team}: see
    L{GatewayRoot}; C{flusher}: the one the children's stdin is sent with
    too (one end-of-turn timer for both; C{None}: the site's own);
    C{twisted}: C{"tuned"} (the gateway's channel and request) or
    C{"stock"} (a L{StockSite}); C{None}: as C{$MCPGATEWAY_TWISTED} says
    (L{mcpgateway.tuned.switch}); C{door}: who may connect (a gateway
    that authenticates no one; C{None}: every connection is let in);
    C{config}: what the config holds that the gateway cannot use, which
    C{/health} shows; C{apiHasToken}: see L{GatewayRoot}; C{approvals}:
    the gateway's held calls, which the console's held calls' page shows
    (C{None}: none are held); C{settling}: while a reload of the config is
    under way, a Deferred that fires once it is served (see L{GatewayRoot})."""
    if twisted is None:
        twisted = twistedSetting(None, os.environ)
    stock = twisted == STOCK
    if not stock:
        checkInstalled()
    if limits is None:
        limits = MessageBounds()
    if maxBody is not None and maxBody != limits.maxBody:
        limits = replace(limits, maxBody=maxBody)
    bodyBytes = limits.maxBody

    class BoundedRequest(GatewayRequest):
        bodyLimit = bodyBytes

    class BoundedStockRequest(StockRequest):
        bodyLimit = bodyBytes

    clientErrors = ClientErrors(clock, principalOf=lambda request: contextOf(request).principalKey)
    root = GatewayRoot(
        gateway,
        clock,
        loopbackOnly,
        api,
        limits,
        clientErrors,
        keys,
        era2026,
        team,
        door,
        config,
        apiHasToken=apiHasToken,
        approvals=approvals,
        settling=settling,
    )
    kind = StockSite if stock else GatewaySite
    site = kind(root, clock, limits, clientErrors, flusher, door)
    site.gateway = gateway
    site.requestFactory = BoundedStockRequest if stock else BoundedRequest
    site.displayTracebacks = False
    return site


def endEra2026Streams(site: Any, reason: str) -> int:
    """End the 2026-07-28 listen streams of C{site} (a L{makeSite} site)
    with their graceful result; how many ended (0 for any other factory)."""
    root = getattr(site, "resource", None)
    if isinstance(root, GatewayRoot):
        return root.endEra2026Streams(reason)
    return 0


def backendOf(site: Any, session: Any) -> Backend | None:
    """What serves C{session} at its endpoint of C{site} (a L{makeSite}
    site; C{None}: its endpoint is gone, or another factory)."""
    root = getattr(site, "resource", None)
    return root.backendOf(session) if isinstance(root, GatewayRoot) else None

# -*- test-case-name: tests.bridge.test_client -*-
"""The bridge's HTTP side: one MCP Streamable HTTP session with the gateway.

L{BridgeClient} POSTs each client message (the line as it came, ids
untouched) with the session's C{Mcp-Session-Id} and C{MCP-Protocol-Version};
relays what comes back (a JSON body, or every event of the request's SSE
stream: progress, logs, the server's own requests, then the response) to
the client; keeps the session's GET stream open for what the server sends
unasked (reopening it, with C{Last-Event-ID} when the gateway gave ids); and
DELETEs the session at the end, bounded. A C{ping} before the client's
C{initialize} is answered by the bridge itself (there is no session yet).

The gateway going away (connection refused or reset) is not the end: the
client's messages wait in an outbox (each request at most C{timeout}
seconds, then it gets a JSON-RPC error naming the gateway) while the bridge
probes C{/health} with a bounded backoff on the clock, finding the gateway
anew in the state directory each time (L{BridgeClient} is given a C{locate}
function), starting one when none ever ran (C{start}), and resuming the same
session once it answers. A start that fails because another gateway holds
the state directory (several bridges started at once: the client starts
every server together) is not a failure: the requests stay queued, within
their C{timeout}, until that gateway writes its state and answers
C{/health} (the gateway restores its sessions: see
C{docs/design/continuity.md}). A 404 on the session means it is really gone: the
bridge initializes a new one with the client's original C{initialize}
params, says so on stderr, and sends what was waiting.

The client closing stdin asks the bridge to end (the MCP stdio transport's
shutdown), but the requests it sent before still get their answers:
L{BridgeClient.drain} waits for them, at most C{timeout} seconds, before
the session is ended (so C{printf '...' | mcpgateway bridge URL} works).

L{BridgeClient} relays; its collaborators do the rest: L{Link} holds the
session and its headers, L{GatewayFinder} finds (or starts) the gateway,
L{Outbox} holds what waits and what is awaited, L{BridgeGetStream} keeps the GET
stream, L{Reinitializer} makes a lost session anew. Everything is on the
injected clock and the injected C{IAgent}: the unit tests drive it with a
fake agent and C{twisted.internet.task.Clock}.

Why not treq: it is not a dependency of the gateway (it would pull in
C{requests} and more for a program meant to start in a fraction of a
second), and the bridge needs what treq wraps anyway: streaming bodies
(SSE) delivered as they come, and a persistent connection pool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IAgent, IResponse

from mcpgateway.bridge.finder import GatewayFinder
from mcpgateway.bridge.framing import Outgoing
from mcpgateway.bridge.getstream import BridgeGetStream
from mcpgateway.bridge.link import LOST, NOT_SENT, Link, LinkState
from mcpgateway.bridge.outbox import Outbox, PendingMessage
from mcpgateway.bridge.reinitialize import Reinitializer
from mcpgateway.bridge.responses import idOf, oneLine
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Kind
from mcpgateway.remote.sse import SSEReader, endedCleanly, headerOf, isSSE, readBody, reasonOf
from mcpgateway.runtime import logs
from mcpgateway.runtime.bytesproducer import BytesProducer

DELETE_TIMEOUT = 2.0
"""Seconds the DELETE of the session at the end may take."""

_ERA2026 = b'"io.modelcontextprotocol/protocolVersion"'
"""What a 2026 (2026-07-28) request carries in its C{_meta}."""


class BridgeClient:
    """The session with the gateway, for one stdio client.

    @param clock: the reactor's clock (backoff, request timeouts, DELETE).
    @param agent: the HTTP client (an C{twisted.web.client.Agent} on a
        persistent pool).
    @param locate: the gateway server's MCP URL, or C{None} when no gateway
        runs; called on every connection attempt.
    @param toClient: writes one message (one line, no newline) to the client.
    @param start: starts a gateway; its Deferred fires with C{None}, or with
        why it could not. Tried once, when no gateway runs at the first attempt.
    @param starting: whether another gateway holds the state directory (is
        starting there): a start that failed then waits for that one.
    @param where: where C{locate} looks for the gateway (C{"state directory
        /home/u/.mcpgateway"}), for the messages.
    @param timeout: seconds a request waits for an unreachable gateway.
    @param ownerHeaders: the headers every request to the gateway at a URL
        carries (its owner token; see L{Link}).
    @ivar link: the link with the gateway and the session there.
    @ivar finder: finds (or starts) the gateway, and finds it again.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        clock: IReactorTime,
        agent: IAgent,
        locate: Callable[[], str | None],
        toClient: Callable[[bytes], None],
        *,
        start: Callable[[], Deferred[str | None]] | None = None,
        starting: Callable[[], bool] | None = None,
        where: str | None = None,
        timeout: float = 60.0,
        ownerHeaders: Callable[[str], dict[str, str]] | None = None,
    ) -> None:
        self._clock = clock
        self._agent = agent
        self._toClient = toClient
        self._timeout = timeout
        self.link = Link(where, ownerHeaders)
        self.finder = GatewayFinder(
            clock,
            agent,
            self.link,
            locate,
            self._up,
            self._failWaiting,
            self._bug,
            start=start,
            starting=starting,
            timeout=timeout,
        )
        self._outbox = Outbox(clock, self.link, toClient, self.finder, timeout)
        self._stream = BridgeGetStream(
            clock, agent, self.link, toClient, self._goDown, self._sessionLost, self._bug
        )
        self._renewal = Reinitializer(
            agent, self.link, self._stream, self._goDown, self._pump, self._bug
        )
        self._initInFlight = False
        self._closing: Deferred[None] | None = None

    @property
    def state(self) -> LinkState:
        """Where the bridge stands with the gateway."""
        return self.link.state

    @property
    def reinitializations(self) -> int:
        """How many new sessions the bridge made for ones the gateway lost."""
        return self._renewal.count

    @property
    def gaveUpAtEnd(self) -> list[str]:
        """The requests read before stdin's end that were answered with an
        error because no gateway could be reached (as the log names them)."""
        return self._outbox.gaveUpAtEnd

    # -- the client's messages ---------------------------------------------

    def connect(self) -> None:
        """Find (or start) the gateway now."""
        self.finder.connect()

    def send(self, message: Outgoing) -> None:
        """Relay one message from the client."""
        link = self.link
        if link.state is LinkState.CLOSED:
            return
        if (
            message.method == "ping"
            and message.kind is Kind.REQUEST
            and link.initParams is None
            and _ERA2026 not in message.body
        ):
            # MCP lets a client ping before it initializes; the gateway has no
            # session for it yet (it would answer 400): the bridge answers.
            # (A 2026 request, which carries its protocol version in its
            # _meta and needs no initialize, goes to the gateway.)
            self._toClient(jsonrpc.dumps(jsonrpc.resultResponse(message.id, {})))
            return
        if message.method == "initialize" and message.kind is Kind.REQUEST:
            link.initParams = message.params
            if link.sessionId is not None:  # the client starts over
                self._renewal.forgetSession()
        elif message.method == "notifications/initialized":
            link.clientInitialized = True
        pending = self._outbox.add(message, link.state is LinkState.UP and not self._initInFlight)
        if pending is not None:
            self._post(pending)

    def _failWaiting(self, text: str) -> None:
        """Answer every waiting request with C{text}: no gateway will come."""
        self._outbox.failWaiting(text)

    def _pump(self) -> None:
        while self.link.state is LinkState.UP and not self._initInFlight:
            pending = self._outbox.next()
            if pending is None:
                return
            self._post(pending)

    # -- POST ----------------------------------------------------------------

    def _post(self, pending: PendingMessage) -> None:
        message = pending.message
        isInit = message.method == "initialize" and message.kind is Kind.REQUEST
        if isInit:
            self._initInFlight = True
        link = self.link
        sessionId = link.sessionId
        d = self._agent.request(b"POST", link.urlBytes, link.headers, BytesProducer(message.body))
        d.addCallbacks(
            self._posted,
            self._postFailed,
            callbackArgs=(pending, sessionId),
            errbackArgs=(pending,),
        )
        d.addErrback(self._bug, "relaying a message")

    def _posted(self, response: IResponse, pending: PendingMessage, sessionId: str | None) -> None:
        code = response.code
        message = pending.message
        isInit = message.method == "initialize" and message.kind is Kind.REQUEST
        if isInit and 200 <= code < 300:
            sid = headerOf(response, b"mcp-session-id")
            if sid is not None:
                self.link.setSession(sid)
        if code == 404 and sessionId is not None:
            readBody(response)
            self._sessionGone(pending, sessionId)
            return
        if 200 <= code < 300:
            if isSSE(response):
                reader = SSEReader(lambda event: self._deliver(event.data, pending))
                response.deliverBody(reader)
                reader.finished.addCallback(self._streamEnded, pending, reader)
                reader.finished.addErrback(self._bug, "relaying a stream")
                return
            readBody(response).addCallback(self._bodyRead, pending).addErrback(
                self._bug, "relaying an answer"
            )
            return
        readBody(response).addCallback(self._refused, pending, code).addErrback(
            self._bug, "relaying an error"
        )

    def _deliver(self, data: bytes, pending: PendingMessage) -> None:
        outbox = self._outbox
        for line in oneLine(data):
            if self._initInFlight and pending.message.method == "initialize":
                self._initialized(line, pending)
            self._toClient(line)
            if outbox.draining is not None and outbox.awaitedAtEnd(pending):
                # Its answer may come before its stream ends: stop waiting now.
                isResponse, responseId, _ = idOf(line)
                if isResponse and responseId == pending.message.id:
                    self._outbox.settled(pending)

    def _initialized(self, line: bytes, pending: PendingMessage) -> None:
        isResponse, responseId, result = idOf(line)
        if isResponse and responseId == pending.message.id:
            if isinstance(result, dict) and isinstance(result.get("protocolVersion"), str):
                self.link.setProtocolVersion(result["protocolVersion"])
            self._endInit()

    def _endInit(self) -> None:
        if self._initInFlight:
            self._initInFlight = False
            self._pump()

    def _bodyRead(self, result: tuple[bytes, Failure], pending: PendingMessage) -> None:
        body, reason = result
        if not endedCleanly(reason):
            self._brokenAnswer(pending, reason, None)
        else:
            self._deliver(body, pending)
        self._outbox.settled(pending)
        if pending.message.method == "notifications/initialized":
            self._stream.open()
        self._finished(pending)

    def _streamEnded(
        self, ended: tuple[Failure], pending: PendingMessage, reader: SSEReader
    ) -> None:
        (reason,) = ended
        if not endedCleanly(reason):
            self._brokenAnswer(pending, reason, reader.lastData)
        self._outbox.settled(pending)
        self._finished(pending)

    def _brokenAnswer(
        self, pending: PendingMessage, reason: Failure, lastData: bytes | None
    ) -> None:
        """The answer's connection broke: tell the client, unless its
        response already went through."""
        if lastData is not None:
            isResponse, responseId, _ = idOf(lastData)
            if isResponse and responseId == pending.message.id:
                return
        self._outbox.answerError(
            pending,
            jsonrpc.SERVER_UNAVAILABLE,
            f"mcpgateway bridge: the connection to the gateway at {self.link.where()} broke"
            f" before it answered ({reasonOf(reason)}); the gateway may have stopped",
        )
        self._lost(reason)

    def _finished(self, pending: PendingMessage) -> None:
        if pending.message.method == "initialize":
            self._endInit()

    def _refused(self, result: tuple[bytes, Failure], pending: PendingMessage, code: int) -> None:
        """A non-2xx answer: the gateway's JSON-RPC error goes to the client
        (with the request's own id), or one saying what HTTP said."""
        body, _ = result
        message = pending.message
        if message.isRequest:
            error: Any = None
            try:
                value = jsonrpc.loads(body)
            except jsonrpc.ParseError:
                value = None
            if isinstance(value, dict) and isinstance(value.get("error"), dict):
                error = value["error"]
            if error is None:
                shown = body[:200].decode("utf-8", "replace").strip()
                error = {
                    "code": jsonrpc.SERVER_UNAVAILABLE,
                    "message": f"mcpgateway bridge: the gateway answered HTTP {code}: {shown}",
                }
            self._toClient(jsonrpc.dumps({"jsonrpc": "2.0", "id": message.id, "error": error}))
        else:
            self.log.warn(
                "the gateway refused a {kind} (HTTP {code}): {body}",
                kind=message.kind.value,
                code=code,
                body=body[:200].decode("utf-8", "replace"),
            )
        self._outbox.settled(pending)
        self._finished(pending)

    def _postFailed(self, reason: Failure, pending: PendingMessage) -> None:
        if self.link.state is LinkState.CLOSED or reason.check(CancelledError):
            self._outbox.settled(pending)
            self._finished(pending)
            return
        message = pending.message
        if reason.check(*NOT_SENT):
            self._outbox.wait(pending, front=True)
        elif reason.check(*LOST):
            if not message.isRequest or message.method in ("initialize", "ping"):
                self._outbox.wait(pending, front=True)  # harmless to send again
            else:
                self._outbox.answerError(
                    pending,
                    jsonrpc.SERVER_UNAVAILABLE,
                    f"mcpgateway bridge: the connection to the gateway at {self.link.where()}"
                    f" broke before it answered ({reasonOf(reason)}); the gateway may have"
                    " stopped",
                )
        else:
            self.log.failure("relaying a message failed", failure=reason)
            self._outbox.answerError(
                pending,
                jsonrpc.INTERNAL_ERROR,
                f"mcpgateway bridge: cannot reach the gateway: {reasonOf(reason)}",
            )
            self._finished(pending)
            return
        self._goDown(reasonOf(reason))  # before _finished, which may pump
        self._finished(pending)

    def _lost(self, reason: Failure) -> None:
        if reason.check(*NOT_SENT, *LOST) or not endedCleanly(reason):
            self._goDown(reasonOf(reason))

    # -- the gateway going away and coming back ----------------------------

    def _goDown(self, reason: str) -> None:
        link = self.link
        if link.state in (LinkState.DOWN, LinkState.CLOSED):
            return
        if link.state is LinkState.REINITIALIZING:
            self._renewal.wanted = True
        self.log.warn(
            "the gateway at {url} went away ({reason}); reconnecting (requests wait up"
            " to {timeout} s)",
            url=link.where(),
            reason=reason,
            timeout=f"{self._timeout:g}",
        )
        link.state = LinkState.DOWN
        self._stream.stop()
        self.finder.lost(reason)

    def _up(self) -> None:
        """The link is up (again): resume the session, or make it anew."""
        if self._renewal.wanted:
            self._renewal.start()
            return
        self._stream.open()
        self._pump()

    # -- a session that is gone ------------------------------------------------

    def _sessionLost(self) -> None:
        """The gateway no longer knows the session (its GET stream said so)."""
        self._renewal.start()

    def _sessionGone(self, pending: PendingMessage, sessionId: str) -> None:
        self._outbox.wait(pending, front=True)
        if sessionId == self.link.sessionId and self.link.state is LinkState.UP:
            self._renewal.start()
        # else a new session was made meanwhile (or is being made): send again
        self._finished(pending)
        self._pump()

    # -- the end -----------------------------------------------------------------

    def drain(self) -> Deferred[None]:
        """The client's stdin ended: fires once every request it sent has
        had its answer (or an error), at most C{timeout} seconds from now,
        or when L{close} comes first; what is left unanswered then is said
        on stderr. Fires at once when no request is awaited. Call it once,
        then L{close}."""
        return self._outbox.drain()

    def close(self) -> Deferred[None]:
        """End: stop the GET stream and every timer, DELETE the session
        (best effort, at most L{DELETE_TIMEOUT} seconds), stop any
        L{drain}. Idempotent."""
        if self._closing is None:
            self._closing = self._close()
            self._outbox.endDrain()
        return self._closing

    def _close(self) -> Deferred[None]:
        link = self.link
        wasUp = link.state in (LinkState.UP, LinkState.REINITIALIZING)
        link.state = LinkState.CLOSED
        self.finder.stop()
        self._stream.stop()
        self._outbox.clear()
        if not wasUp or link.sessionId is None or not link.urlBytes:
            return succeed(None)
        headers = link.headers.copy()
        headers.removeHeader(b"content-type")
        sessionId = link.sessionId
        d = self._agent.request(b"DELETE", link.urlBytes, headers, None)
        d.addCallback(readBody)
        d.addTimeout(DELETE_TIMEOUT, self._clock)

        def done(result: object) -> None:
            if isinstance(result, Failure):
                self.log.info(
                    "could not end session {session} at the gateway: {why}",
                    session=sessionId,
                    why=reasonOf(result),
                )

        closing: Deferred[None] = d.addBoth(done)
        return closing

    def _bug(self, reason: Failure, doing: str) -> None:
        self.log.failure("mcpgateway bridge: a bug while {doing}", failure=reason, doing=doing)

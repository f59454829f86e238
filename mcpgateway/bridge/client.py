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
C{docs/continuity.md}). A 404 on the session means it is really gone: the
bridge initializes a new one with the client's original C{initialize}
params, says so on stderr, and sends what was waiting.

The client closing stdin asks the bridge to end (the MCP stdio transport's
shutdown), but the requests it sent before still get their answers:
L{BridgeClient.drain} waits for them, at most C{timeout} seconds, before
the session is ended (so C{printf '...' | mcpgateway bridge URL} works).

Everything is on the injected clock and the injected C{IAgent}: the unit
tests drive it with a fake agent and C{twisted.internet.task.Clock}.

Why not treq: it is not a dependency of the gateway (it would pull in
C{requests} and more for a program meant to start in a fraction of a
second), and the bridge needs what treq wraps anyway: streaming bodies
(SSE) delivered as they come, and a persistent connection pool.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IResponse

from mcpgateway.bridge.framing import Outgoing
from mcpgateway.bridge.responses import describe, idOf, oneLine
from mcpgateway.bridge.upkeep import LOST, NOT_SENT, LinkState, SessionUpkeep
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Kind
from mcpgateway.remote.sse import SSEReader, endedCleanly, headerOf, isSSE, readBody, reasonOf
from mcpgateway.runtime import logs
from mcpgateway.runtime.bodies import BytesProducer

BACKOFF = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0)
"""Seconds between probes of a gateway that went away (then every 2 s)."""
DELETE_TIMEOUT = 2.0
"""Seconds the DELETE of the session at the end may take."""
NO_GATEWAY = "no gateway is running"

_NOT_CONNECTED = "not connected yet"
_MODERN = b'"io.modelcontextprotocol/protocolVersion"'
"""What a modern (2026-07-28) request carries in its C{_meta}."""


class Pending:
    """A client message on its way to the gateway."""

    __slots__ = ("created", "message", "timer")

    def __init__(self, message: Outgoing, created: float) -> None:
        self.message = message
        self.created = created
        self.timer: IDelayedCall | None = None


class BridgeClient(SessionUpkeep):
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
    ) -> None:
        self._clock = clock
        self._agent = agent
        self._locate = locate
        self._toClient = toClient
        self._start = start
        self._starting = starting
        self._lookedIn = where
        self._noGateway = NO_GATEWAY
        """Why no gateway was found (the reason given when none is)."""
        self._waitingForOther = False
        self._timeout = timeout
        self.state = LinkState.DOWN
        self.url: str | None = None
        self._urlBytes = b""
        self._host = b""
        self.sessionId: str | None = None
        self.protocolVersion: str | None = None
        self.initParams: Any = None
        self.clientInitialized = False
        self._headers: Headers = Headers()
        self._initInFlight = False
        self._outbox: deque[Pending] = deque()
        self._attempt = 0
        self._retry: IDelayedCall | None = None
        self._startTried = False
        self._everUp = False
        self._downReason = _NOT_CONNECTED
        self._needReinit = False
        self.reinitializations = 0
        self._get: SSEReader | None = None
        self._getActive = False
        self._getAllowed = True
        self._getTimer: IDelayedCall | None = None
        self._lastEventId: bytes | None = None
        self._closing: Deferred[None] | None = None
        self._unanswered: dict[Pending, None] = {}
        """The client's requests not answered yet (an ordered set)."""
        self._draining: Deferred[None] | None = None
        self._drainStarted = 0.0
        self._drainTimer: IDelayedCall | None = None
        self.gaveUpAtEnd: list[str] = []
        """The requests read before stdin's end that were answered with an
        error because no gateway could be reached (as the log names them)."""

    # -- the client's messages ---------------------------------------------

    def connect(self) -> None:
        """Find (or start) the gateway now."""
        if self._retry is None and self.state is LinkState.DOWN:
            self._scheduleProbe(0)

    def send(self, message: Outgoing) -> None:
        """Relay one message from the client."""
        if self.state is LinkState.CLOSED:
            return
        if (
            message.method == "ping"
            and message.kind is Kind.REQUEST
            and self.initParams is None
            and _MODERN not in message.body
        ):
            # MCP lets a client ping before it initializes; the gateway has no
            # session for it yet (it would answer 400): the bridge answers.
            # (A modern request, which carries its protocol version in its
            # _meta and needs no initialize, goes to the gateway.)
            self._toClient(jsonrpc.dumps(jsonrpc.resultResponse(message.id, {})))
            return
        if message.method == "initialize" and message.kind is Kind.REQUEST:
            self.initParams = message.params
            if self.sessionId is not None:  # the client starts over
                self._forgetSession()
        elif message.method == "notifications/initialized":
            self.clientInitialized = True
        pending = Pending(message, self._clock.seconds())
        if message.isRequest:
            self._unanswered[pending] = None
        if self.state is LinkState.UP and not self._outbox and not self._initInFlight:
            self._post(pending)
        else:
            self._wait(pending)

    def _wait(self, pending: Pending, front: bool = False) -> None:
        if front:
            self._outbox.appendleft(pending)
        else:
            self._outbox.append(pending)
        if pending.message.isRequest and pending.timer is None:
            left = max(0.0, pending.created + self._timeout - self._clock.seconds())
            pending.timer = self._clock.callLater(left, self._expire, pending)

    def _expire(self, pending: Pending) -> None:
        pending.timer = None
        try:
            self._outbox.remove(pending)
        except ValueError:
            return
        self._gaveUp(
            pending,
            f"mcpgateway bridge: {self._unreachable()}; gave up after {self._timeout:g} s",
        )

    def _gaveUp(self, pending: Pending, text: str) -> None:
        """Answer C{pending} with C{text}: no gateway could be reached for it."""
        if self._draining is not None and pending in self._unanswered:
            self.gaveUpAtEnd.append(describe(pending.message))
        self._answerError(pending, jsonrpc.SERVER_UNAVAILABLE, text)

    def _unreachable(self) -> str:
        """Why the gateway cannot be reached: the one at its URL, or none
        found where the bridge looks."""
        if self.url is not None:
            return f"the gateway at {self.url} is not reachable ({self._downReason})"
        where = f" on {self._lookedIn}" if self._lookedIn else ""
        reason = "" if self._downReason == NO_GATEWAY else f" ({self._downReason})"
        return f"{NO_GATEWAY}{where}{reason}"

    def _where(self) -> str:
        return self.url or self._lookedIn or "(no gateway running)"

    def _answerError(self, pending: Pending, code: int, text: str) -> None:
        if pending.message.isRequest and self.state is not LinkState.CLOSED:
            self._toClient(jsonrpc.dumps(jsonrpc.errorResponse(pending.message.id, code, text)))
        self._settled(pending)

    def _settled(self, pending: Pending) -> None:
        """C{pending} got its answer (or an error, or never will): it is
        no longer awaited."""
        if pending in self._unanswered:
            del self._unanswered[pending]
            if not self._unanswered:
                self._endDrain()

    def _pump(self) -> None:
        while self._outbox and self.state is LinkState.UP and not self._initInFlight:
            pending = self._outbox.popleft()
            if pending.timer is not None:
                pending.timer.cancel()
                pending.timer = None
            self._post(pending)

    # -- POST ----------------------------------------------------------------

    def _setUrl(self, url: str) -> None:
        if url == self.url:
            return
        self.url = url
        self._urlBytes = url.encode("ascii")
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        self._host = host.encode("idna")
        self._rebuildHeaders()

    def _rebuildHeaders(self) -> None:
        headers = {
            b"host": [self._host],
            b"content-type": [b"application/json"],
            b"accept": [b"application/json, text/event-stream"],
        }
        if self.sessionId is not None:
            headers[b"mcp-session-id"] = [self.sessionId.encode("ascii")]
        if self.protocolVersion is not None:
            headers[b"mcp-protocol-version"] = [self.protocolVersion.encode("ascii")]
        self._headers = Headers(headers)

    def _post(self, pending: Pending) -> None:
        message = pending.message
        isInit = message.method == "initialize" and message.kind is Kind.REQUEST
        if isInit:
            self._initInFlight = True
        sessionId = self.sessionId
        d = self._agent.request(b"POST", self._urlBytes, self._headers, BytesProducer(message.body))
        d.addCallbacks(
            self._posted,
            self._postFailed,
            callbackArgs=(pending, sessionId),
            errbackArgs=(pending,),
        )
        d.addErrback(self._bug, "relaying a message")

    def _posted(self, response: IResponse, pending: Pending, sessionId: str | None) -> None:
        code = response.code
        message = pending.message
        isInit = message.method == "initialize" and message.kind is Kind.REQUEST
        if isInit and 200 <= code < 300:
            sid = headerOf(response, b"mcp-session-id")
            if sid is not None:
                self.sessionId = sid
                self._rebuildHeaders()
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

    def _deliver(self, data: bytes, pending: Pending) -> None:
        for line in oneLine(data):
            if self._initInFlight and pending.message.method == "initialize":
                self._initialized(line, pending)
            self._toClient(line)
            if self._draining is not None and pending in self._unanswered:
                # Its answer may come before its stream ends: stop waiting now.
                isResponse, responseId, _ = idOf(line)
                if isResponse and responseId == pending.message.id:
                    self._settled(pending)

    def _initialized(self, line: bytes, pending: Pending) -> None:
        isResponse, responseId, result = idOf(line)
        if isResponse and responseId == pending.message.id:
            if isinstance(result, dict) and isinstance(result.get("protocolVersion"), str):
                self.protocolVersion = result["protocolVersion"]
                self._rebuildHeaders()
            self._endInit()

    def _endInit(self) -> None:
        if self._initInFlight:
            self._initInFlight = False
            self._pump()

    def _bodyRead(self, result: tuple[bytes, Failure], pending: Pending) -> None:
        body, reason = result
        if not endedCleanly(reason):
            self._brokenAnswer(pending, reason, None)
        else:
            self._deliver(body, pending)
        self._settled(pending)
        if pending.message.method == "notifications/initialized":
            self._openGet()
        self._finished(pending)

    def _streamEnded(self, ended: tuple[Failure], pending: Pending, reader: SSEReader) -> None:
        (reason,) = ended
        if not endedCleanly(reason):
            self._brokenAnswer(pending, reason, reader.lastData)
        self._settled(pending)
        self._finished(pending)

    def _brokenAnswer(self, pending: Pending, reason: Failure, lastData: bytes | None) -> None:
        """The answer's connection broke: tell the client, unless its
        response already went through."""
        if lastData is not None:
            isResponse, responseId, _ = idOf(lastData)
            if isResponse and responseId == pending.message.id:
                return
        self._answerError(
            pending,
            jsonrpc.SERVER_UNAVAILABLE,
            f"mcpgateway bridge: the connection to the gateway at {self._where()} broke"
            f" before it answered ({reasonOf(reason)}); the gateway may have stopped",
        )
        self._lost(reason)

    def _finished(self, pending: Pending) -> None:
        if pending.message.method == "initialize":
            self._endInit()

    def _refused(self, result: tuple[bytes, Failure], pending: Pending, code: int) -> None:
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
        self._settled(pending)
        self._finished(pending)

    def _postFailed(self, reason: Failure, pending: Pending) -> None:
        if self.state is LinkState.CLOSED or reason.check(CancelledError):
            self._settled(pending)
            self._finished(pending)
            return
        message = pending.message
        if reason.check(*NOT_SENT):
            self._wait(pending, front=True)
        elif reason.check(*LOST):
            if not message.isRequest or message.method in ("initialize", "ping"):
                self._wait(pending, front=True)  # harmless to send again
            else:
                self._answerError(
                    pending,
                    jsonrpc.SERVER_UNAVAILABLE,
                    f"mcpgateway bridge: the connection to the gateway at {self._where()}"
                    f" broke before it answered ({reasonOf(reason)}); the gateway may have"
                    " stopped",
                )
        else:
            self.log.failure("relaying a message failed", failure=reason)
            self._answerError(
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
        if self.state in (LinkState.DOWN, LinkState.CLOSED):
            return
        if self.state is LinkState.REINITIALIZING:
            self._needReinit = True
        self.log.warn(
            "the gateway at {url} went away ({reason}); reconnecting (requests wait up"
            " to {timeout} s)",
            url=self._where(),
            reason=reason,
            timeout=f"{self._timeout:g}",
        )
        self.state = LinkState.DOWN
        self._downReason = reason
        self._attempt = 0
        self._stopGet()
        self._scheduleProbe(BACKOFF[0])

    def _scheduleProbe(self, delay: float) -> None:
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = self._clock.callLater(delay, self._probe)

    def _backoff(self) -> None:
        self._attempt += 1
        self._scheduleProbe(BACKOFF[min(self._attempt, len(BACKOFF) - 1)])

    def _probe(self) -> None:
        self._retry = None
        if self.state is not LinkState.DOWN:
            return
        url = self._locate()
        if url is None:
            if self._start is not None and not self._startTried and not self._everUp:
                self._startTried = True
                self.log.info("no gateway is running: starting one")
                self._start().addBoth(self._startDone)
                return
            if self._waitingForOther and not self._otherStarting():
                self._otherEnded()
            self._downReason = self._noGateway
            self._backoff()
            return
        self._waitingForOther = False
        self._setUrl(url)
        parts = urlsplit(url)
        health = f"{parts.scheme}://{parts.netloc}/health".encode("ascii")
        d = self._agent.request(b"GET", health, Headers({b"host": [self._host]}), None)
        d.addCallbacks(self._probeAnswered, self._probeFailed)
        d.addErrback(self._bug, "probing the gateway")

    def _startDone(self, result: str | Failure | None) -> None:
        if self.state is LinkState.CLOSED:
            return
        if result is not None:
            why = result.getErrorMessage() if isinstance(result, Failure) else result
            if self._locate() is not None or self._otherStarting():
                # Another bridge (or user) started one first: it holds the
                # state directory. Wait for it, requests queued.
                self.log.info(
                    "another gateway is starting on {where}: waiting for it (requests wait"
                    " up to {timeout} s)",
                    where=self._lookedIn or "its state directory",
                    timeout=f"{self._timeout:g}",
                )
                self._waitingForOther = True
                self._noGateway = self._downReason = (
                    "another gateway was starting there and did not answer in time"
                )
                self._scheduleProbe(BACKOFF[0])
                return
            self.log.error("could not start the gateway: {why}", why=why)
            self._noGateway = self._downReason = f"it could not be started: {why}"
            where = f" on {self._lookedIn}" if self._lookedIn else ""
            self._failWaiting(
                f"mcpgateway bridge: {NO_GATEWAY}{where} and it could not be started: {why}"
            )
        self._scheduleProbe(0)

    def _otherStarting(self) -> bool:
        return self._starting is not None and self._starting()

    def _otherEnded(self) -> None:
        """The gateway another start was making let go of the state
        directory without ever serving: its start failed."""
        self._waitingForOther = False
        self._noGateway = "the gateway another start was making stopped without serving"
        where = f" on {self._lookedIn}" if self._lookedIn else ""
        self.log.error(
            "the gateway another start was making{where} stopped without serving; its"
            " gateway.log says why",
            where=where,
        )
        self._failWaiting(
            f"mcpgateway bridge: the gateway another start was making{where} stopped"
            " without serving (its gateway.log says why)"
        )

    def _failWaiting(self, text: str) -> None:
        """Answer every waiting request with C{text}: no gateway will come."""
        while self._outbox:
            pending = self._outbox.popleft()
            if pending.timer is not None:
                pending.timer.cancel()
                pending.timer = None
            self._gaveUp(pending, text)

    def _probeAnswered(self, response: IResponse) -> None:
        readBody(response)  # any HTTP answer: it is up; the connection goes back to the pool
        self._up()

    def _probeFailed(self, reason: Failure) -> None:
        if self.state is not LinkState.DOWN:
            return
        self._downReason = reasonOf(reason)
        self._backoff()

    def _up(self) -> None:
        if self.state is not LinkState.DOWN:
            return
        self.state = LinkState.UP
        self._attempt = 0
        if self._everUp:
            self.log.info(
                "reconnected to the gateway at {url}{session}",
                url=self.url,
                session=f"; resuming session {self.sessionId}" if self.sessionId else "",
            )
        else:
            self.log.info("connected to {url}", url=self.url)
        self._everUp = True
        if self._needReinit:
            self._reinitialize()
            return
        self._openGet()
        self._pump()

    # -- a session that is gone ------------------------------------------------

    def _sessionGone(self, pending: Pending, sessionId: str) -> None:
        self._wait(pending, front=True)
        if sessionId == self.sessionId and self.state is LinkState.UP:
            self._reinitialize()
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
        if self.state is LinkState.CLOSED or not self._unanswered:
            return succeed(None)
        if self._draining is None:
            self._draining = Deferred()
            self._drainStarted = self._clock.seconds()
            self._drainTimer = self._clock.callLater(self._timeout, self._endDrain)
            self.log.info(
                "stdin ended: waiting up to {timeout} s for the answers to {count}"
                " request(s){down}",
                timeout=f"{self._timeout:g}",
                count=len(self._unanswered),
                down=self._stillLooking() if self.state is LinkState.DOWN else "",
            )
        return self._draining

    def _stillLooking(self) -> str:
        """What the wait at stdin's end is for when no gateway is reached yet."""
        if self._downReason == _NOT_CONNECTED:
            where = (
                f" at {self.url}" if self.url else f" on {self._lookedIn or 'its state directory'}"
            )
            now = f"not connected to the gateway{where} yet"
        else:
            now = self._unreachable()
        return (
            f"; {now}: still trying, and a request still waiting for it"
            f" {self._timeout:g} s after it was read gets an error"
        )

    def _endDrain(self) -> None:
        """Stop waiting for answers: all came, the time is up, or the end."""
        draining, self._draining = self._draining, None
        if draining is None:
            return
        if self._drainTimer is not None and self._drainTimer.active():
            self._drainTimer.cancel()
        self._drainTimer = None
        if self.gaveUpAtEnd:
            self.log.warn(
                "stdin ended; {count} request(s) got an error, as {why}: {requests}",
                count=len(self.gaveUpAtEnd),
                why=self._unreachable() if self.state is LinkState.DOWN else "no gateway answered",
                requests=", ".join(self.gaveUpAtEnd),
            )
        if self._unanswered:
            self.log.warn(
                "stdin ended; after {seconds} s, {count} request(s) still had no answer"
                " and are left unanswered: {requests}",
                seconds=f"{self._clock.seconds() - self._drainStarted:.1f}",
                count=len(self._unanswered),
                requests=", ".join(describe(p.message) for p in self._unanswered),
            )
        draining.callback(None)

    def close(self) -> Deferred[None]:
        """End: stop the GET stream and every timer, DELETE the session
        (best effort, at most L{DELETE_TIMEOUT} seconds), stop any
        L{drain}. Idempotent."""
        if self._closing is None:
            self._closing = self._close()
            self._endDrain()
        return self._closing

    def _close(self) -> Deferred[None]:
        wasUp = self.state in (LinkState.UP, LinkState.REINITIALIZING)
        self.state = LinkState.CLOSED
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None
        self._stopGet()
        for pending in self._outbox:
            if pending.timer is not None:
                pending.timer.cancel()
                pending.timer = None
        self._outbox.clear()
        if not wasUp or self.sessionId is None or not self._urlBytes:
            return succeed(None)
        headers = self._headers.copy()
        headers.removeHeader(b"content-type")
        sessionId = self.sessionId
        d = self._agent.request(b"DELETE", self._urlBytes, headers, None)
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

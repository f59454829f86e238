# -*- test-case-name: tests.remote.test_streamable -*-
"""One upstream session with a remote MCP server over Streamable HTTP.

A L{StreamableChild} is what a process is for a stdio server: the pools,
the router and the breaker hold it as a L{mcpgateway.core.child.Child}. Each
message the router writes to it is POSTed to the server's URL with the
session's C{Mcp-Session-Id} (the server's, given to the gateway: never a
client's) and C{MCP-Protocol-Version}; what comes back (a JSON body, or every
event of the request's SSE stream: progress, logs, the server's own
requests, then the response) is handed to the router as if the child had
written it. After C{notifications/initialized} a GET stream carries what the
server sends unasked; it is reopened with C{Last-Event-ID} when it ends.

What a process does by failing, a remote server does over HTTP, and each
failure is answered the way the router expects a child to answer:

 - A request the server cannot take (unreachable, a 5xx, a 401) is answered
   with a JSON-RPC error naming the server and the reason.
 - A 404 on the session means the server forgot it (a restart, an expiry):
   the gateway initializes a new session with the client's own
   C{initialize} params, says so in the log, and sends the message again,
   once.
 - A POST stream that ends before the response resumes with a GET carrying
   the stream's last event id, when the server gave ids, as often as the
   resumed stream brings something new; a request whose stream has no ids,
   or whose resumes bring nothing L{RESUMES} times in a row (a backoff
   apart), is answered with an error.

The gateway's secrets never go upstream: only the entry's own C{headers}
are sent, and a client's bearer token is never among them.
"""

from __future__ import annotations

import re
import secrets
from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IResponse

from mcpgateway.core.spec import RemoteEndpoint
from mcpgateway.protocol import jsonrpc, wire2026
from mcpgateway.remote.base import RemoteChildBase
from mcpgateway.remote.oauth.credentials import UpstreamCredentials, loginNeeded, signInHint
from mcpgateway.remote.oauth.exchange import TokenExchange
from mcpgateway.remote.ratelimited import RATE_LIMITED, upstreamRateLimited
from mcpgateway.remote.sse import (
    Event,
    SSEReader,
    discard,
    endedCleanly,
    headerOf,
    isSSE,
    readBody,
    reasonOf,
)
from mcpgateway.runtime.bodies import BytesProducer

GET_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds before the GET stream is reopened after it failed (then every 30 s)."""
STOP_TIMEOUT = 2.0
"""Seconds the DELETE of the session may take when the gateway ends it."""
RESUMES = 3
"""Times in a row one request's dropped stream is resumed without bringing
anything new before the request is answered with an error."""
_EXCERPT = 200
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]{1,1024}")
REINIT_ID = "mcpgateway-reinitialize"
"""The id prefix of the gateway's own C{initialize} of a session the server lost."""


class StreamableChild(RemoteChildBase):
    """One upstream Streamable HTTP session, held like a child process.

    @param name: the server's name, for the log and the errors.
    @param endpoint: the server's URL and headers.
    @param agent: the HTTP client (an C{Agent} on the server's connection pool).
    @param onMessage: told of every JSON-RPC message the server sends.
    @param onStderr: told of each line said about what went wrong.
    """

    def __init__(
        self,
        name: str,
        endpoint: RemoteEndpoint,
        agent: IAgent,
        clock: IReactorTime,
        onMessage: Callable[[jsonrpc.Message], None],
        onStderr: Callable[[str], None] | None = None,
        credentials: UpstreamCredentials | None = None,
        exchange: TokenExchange | None = None,
    ) -> None:
        super().__init__(name, onMessage, onStderr)
        self.endpoint = endpoint
        self._credentials = credentials
        self._exchange = exchange
        """Trades the principal's token for the server's (C{"auth": "exchange"})."""
        """The gateway's OAuth tokens (C{None}, or no grant: only the entry's headers)."""
        self._ownAuthorization = any(k.lower() == "authorization" for k, _ in endpoint.headers)
        self._authRetried: set[Any] = set()
        self._agent = agent
        self._clock = clock
        self._url = endpoint.url.encode("ascii")
        self.sessionId: str | None = None
        self.protocolVersion: str | None = None
        self.reinitializations = 0
        self._initRequest: jsonrpc.Message | None = None
        """The client's C{initialize}, replayed when the server loses the session."""
        self._clientInitialized = False
        self._blocked = False
        """An C{initialize} is in flight: other messages wait for its session id."""
        self._waiting: deque[jsonrpc.Message] = deque()
        self._unanswered: dict[Any, jsonrpc.Message] = {}
        """Requests sent and not answered yet, by the C{(type, id)} of their id."""
        self._resumes: dict[Any, int] = {}
        self._get: SSEReader | None = None
        self._getWanted = False
        self._getTimer: IDelayedCall | None = None
        self._getFailures = 0
        self._lastEventId: bytes | None = None

    # -- what the router writes -----------------------------------------------

    def send(self, message: jsonrpc.Message) -> None:
        """POST one message to the server (after the session's C{initialize})."""
        if self.exited:
            return
        method = message.get("method")
        if method == "initialize" and "id" in message:
            self._initRequest = message
            self._blocked = True
            self._post(message)
            return
        if method == "notifications/initialized":
            self._clientInitialized = True
            if not self._blocked:
                self._sendInitialized(message)
                return
        if self._blocked:
            self._waiting.append(message)
            return
        self._post(message)

    # -- POST -----------------------------------------------------------------

    def _headers(self, accept: bytes = b"application/json, text/event-stream") -> Headers:
        headers = Headers({b"accept": [accept]})
        if accept != b"text/event-stream":
            headers.setRawHeaders(b"content-type", [b"application/json"])
        for key, value in self.endpoint.headers:
            headers.setRawHeaders(key.encode("latin-1"), [value.encode("latin-1")])
        if self._exchange is not None and not self._ownAuthorization:
            bearer = self._exchange.authorization(self.endpoint.principal)
            if bearer is not None:
                headers.setRawHeaders(b"authorization", [bearer.encode("ascii")])
        elif self._credentials is not None and not self._ownAuthorization:
            bearer = self._credentials.authorization(
                self.name, self.endpoint.principal, self.endpoint.url
            )
            if bearer is not None:
                headers.setRawHeaders(b"authorization", [bearer.encode("ascii")])
        if self.sessionId is not None:
            headers.setRawHeaders(b"mcp-session-id", [self.sessionId.encode("ascii")])
        if self.protocolVersion is not None:
            headers.setRawHeaders(b"mcp-protocol-version", [self.protocolVersion.encode("ascii")])
        return headers

    def _post(
        self, message: jsonrpc.Message, again: bool = False, traded: bool = False
    ) -> Deferred[Any] | None:
        """POST C{message}; fires once its answer was taken in (C{None}: it
        waits for the principal's token to be traded first)."""
        if self._exchange is not None and not self._ownAuthorization and not traded:
            waiting = self._exchange.ready(self.endpoint.principal)
            if waiting is not None:  # the principal's token is traded for the server's first
                waiting.addCallback(self._traded, message, again)
                return None
        body = jsonrpc.dumps(message)
        self.bytesOut += len(body)
        if "id" in message and "method" in message:
            self._unanswered[_key(message["id"])] = message
        sessionId = self.sessionId
        d = self._agent.request(b"POST", self._url, self._headers(), BytesProducer(body))
        d.addCallbacks(
            self._posted,
            self._postFailed,
            callbackArgs=(message, sessionId, again),
            errbackArgs=(message,),
        )
        d.addErrback(self._bug, "sending a message")
        return d

    def _posted(
        self, response: IResponse, message: jsonrpc.Message, sessionId: str | None, again: bool
    ) -> None:
        code = response.code
        if self.exited:
            readBody(response)
            return
        if message.get("method") == "initialize" and 200 <= code < 300:
            given = headerOf(response, b"mcp-session-id")
            if given is not None and _VISIBLE_ASCII.fullmatch(given):  # as the transport says
                self.sessionId = given
            elif given is not None:
                self._said(
                    f"server '{self.name}' gave a session id that is not visible ASCII; ignored"
                )
        if 200 <= code < 300:
            if isSSE(response):
                self._readStream(response, message)
            else:
                readBody(response).addCallback(self._bodyRead, message).addErrback(
                    self._bug, "reading an answer"
                )
            if code == 202 and message.get("method") == "notifications/initialized":
                self._openGet()
            return
        if code == 429 and "id" in message and "method" in message:
            readBody(response)  # drained; the answer is the gateway's own
            self._rateLimited(message, headerOf(response, b"retry-after"))
            return
        readBody(response).addCallback(
            self._refusedBody, message, code, sessionId, again
        ).addErrback(self._bug, "reading a refusal")

    def _rateLimited(self, message: jsonrpc.Message, retryAfter: str | None) -> None:
        """The server answered C{message} HTTP 429: its caller gets the
        gateway's rate-limit error (L{mcpgateway.remote.ratelimited}), with
        the server's C{Retry-After}."""
        if message is self._initRequest or str(message["id"]).startswith(REINIT_ID):
            self._failed(message, "answered HTTP 429 (too many requests)")
            return
        error = upstreamRateLimited(message["id"], self.name, retryAfter, self._clock.seconds())
        self._answerError(message, RATE_LIMITED, error["error"]["message"], error["error"]["data"])

    def _bodyRead(self, result: tuple[bytes, Failure], message: jsonrpc.Message) -> None:
        body, _ = result
        isRequest = "id" in message and "method" in message
        if (
            body.strip() and isRequest
        ):  # what a notification's or a response's answer says is not a message
            self._deliverData(body)
        self._unansweredAfter(message, "answered the request without a response")

    def _refusedBody(
        self,
        result: tuple[bytes, Failure],
        message: jsonrpc.Message,
        code: int,
        sessionId: str | None = None,
        again: bool = False,
    ) -> None:
        body, _ = result
        if sessionLost(code, body, sessionId):
            if sessionId == self.sessionId:
                self._sessionLost(message, again)
                return
            if not again and message is not self._initRequest:
                # Sent on a session the server lost before a new one was made: send it anew.
                if "id" in message and "method" in message:
                    self._unanswered.pop(_key(message["id"]), None)
                if self._blocked:
                    self._waiting.append(message)
                else:
                    self._post(message, again=True)
                return
        if code == 401 and (self._tradeAgain(message) or self._loginMayHelp(message)):
            return
        excerpt = body[:_EXCERPT].decode("utf-8", "replace").strip()
        why = f"answered HTTP {code}" + (f": {excerpt}" if excerpt else "")
        if code in (401, 403) and self._ownAuthorization:
            why += " (check the credentials in the entry's headers)"
        elif code in (401, 403) and self._exchange is not None:
            why += " (it refuses the token the gateway's issuer exchanged yours for)"
        elif code == 401:
            self._loginNeeded(message, why)
            return
        self._failed(message, why)

    def _loginNeeded(self, message: jsonrpc.Message, why: str) -> None:
        """C{message} needs a token the gateway does not have: answer it with
        what gives the gateway one. A principal whose client takes URL
        elicitations gets the login link as one (-32042, the MCP way to send
        a user to a third party's authorization); anyone else gets it in the
        error's text."""
        link = (
            None
            if self._credentials is None
            else self._credentials.loginLink(self.name, self.endpoint.principal)
        )
        if (
            link is None
            or message is self._initRequest
            or not ("id" in message and "method" in message)
            or not takesUrlElicitation(self._initRequest)
        ):
            hint = loginNeeded(self._credentials, self.name, self.endpoint.principal)
            self._failed(message, f"{why}; it needs a login: {hint}")
            return
        assert self._credentials is not None
        self._credentials.wantLogin(self.name, self.endpoint.principal)
        hint = signInHint(self._credentials, self.name, self.endpoint.principal, link)
        text = f"server '{self.name}' needs you to {hint}"
        self._said(f"server '{self.name}': the remote server at {self.endpoint.url} {why}")
        elicitation = {
            "mode": "url",
            "elicitationId": secrets.token_urlsafe(12),
            "url": link,
            "message": f"Sign in to {self.name} so the gateway can call it for you.",
        }
        self._answerError(
            message, jsonrpc.URL_ELICITATION_REQUIRED, text, {"elicitations": [elicitation]}
        )

    def _traded(self, problem: str | None, message: jsonrpc.Message, again: bool) -> None:
        """The token exchange for C{message} is over: send it, or answer why not."""
        if self.exited:
            return
        if problem is None:
            self._post(message, again, traded=True)
            return
        if "id" in message and "method" in message:
            self._unanswered[_key(message["id"])] = message
        self._failed(message, f"needs a token for you: {problem}")

    def _tradeAgain(self, message: jsonrpc.Message) -> bool:
        """A 401 to a message sent with an exchanged token: trade again and
        send it once more (once); whether that is under way."""
        exchange = self._exchange
        key = _key(message.get("id")) if "id" in message else id(message)
        if exchange is None or self._ownAuthorization or key in self._authRetried:
            return False
        self._authRetried.add(key)
        exchange.forget(self.endpoint.principal)
        if "id" in message and "method" in message:
            self._unanswered.pop(_key(message["id"]), None)
        # Not "again": a server that answers the new token 404 (a session
        # bound to the old one) gets a new session, as for a refreshed login.
        self._post(message)
        return True

    def _loginMayHelp(self, message: jsonrpc.Message) -> bool:
        """A 401 to C{message}: refresh the gateway's token and send the
        message again (once); whether that is under way."""
        credentials = self._credentials
        if credentials is None or self._ownAuthorization:
            return False
        key = _key(message.get("id")) if "id" in message else id(message)
        credentials.look()
        principal = self.endpoint.principal
        url = self.endpoint.url
        if key in self._authRetried or credentials.grant(self.name, principal, url) is None:
            return False
        self._authRetried.add(key)

        def refreshed(done: bool) -> None:
            if self.exited:
                return
            if not done:
                self._authRetried.discard(key)
                self._failed(
                    message,
                    "answered HTTP 401; its token is refused:"
                    f" {loginNeeded(credentials, self.name, principal)}",
                )
                return
            if "id" in message and "method" in message:
                self._unanswered.pop(_key(message["id"]), None)
            # Not sent "again": the token may be a new login's, another client
            # of the server, and a server that binds its sessions to the
            # credential (the Python SDK's) answers 404: a new session is made.
            self._post(message)

        credentials.refresh(self.name, principal, url).addCallback(refreshed).addErrback(
            self._bug, "refreshing a token"
        )
        return True

    def _postFailed(self, reason: Failure, message: jsonrpc.Message) -> None:
        self._failed(message, f"is not reachable ({reasonOf(reason)})")

    def _failed(self, message: jsonrpc.Message, why: str) -> None:
        """C{message} did not reach the server: say so, and answer it."""
        text = f"server '{self.name}': the remote server at {self.endpoint.url} {why}"
        self._said(text)
        if str(message.get("id")).startswith(REINIT_ID):
            self._end(f"could not initialize a new session: {why}")
            return
        if "id" in message and "method" in message:
            self._answerError(message, jsonrpc.SERVER_UNAVAILABLE, text)
        if message is self._initRequest and self._blocked:
            self._unblock()

    def _answerError(
        self, message: jsonrpc.Message, code: int, text: str, data: Any = None
    ) -> None:
        if self._unanswered.pop(_key(message["id"]), None) is None:
            return
        self._resumes.pop(_key(message["id"]), None)
        if self.exited or str(message["id"]).startswith(REINIT_ID):
            return
        self._onMessage(jsonrpc.errorResponse(message["id"], code, text, data))

    def _unansweredAfter(self, message: jsonrpc.Message, why: str) -> None:
        """C{message}'s answer has ended; if it was a request still waiting, it
        never will be answered."""
        if "id" in message and "method" in message and _key(message["id"]) in self._unanswered:
            self._failed(message, why)

    # -- SSE ------------------------------------------------------------------

    def _readStream(
        self,
        response: IResponse,
        message: jsonrpc.Message | None,
        resumed: SSEReader | None = None,
    ) -> None:
        reader = SSEReader(lambda event: self._event(event, message))
        resumedFrom = None
        if resumed is not None:  # a reconnection keeps the last event id and the retry delay
            resumedFrom = reader.parser.lastEventId = resumed.parser.lastEventId
            reader.parser.retry = resumed.parser.retry
        response.deliverBody(reader)
        reader.finished.addCallback(self._streamEnded, reader, message, resumedFrom)
        reader.finished.addErrback(self._bug, "reading a stream")

    def _event(self, event: Event, about: jsonrpc.Message | None = None) -> None:
        """An event of the stream that answers C{about} (C{None}: none)."""
        self._deliverData(event.data, about)

    def _getEvent(self, event: Event) -> None:
        """An event of the GET stream: its id is where the stream resumes."""
        if event.id is not None:
            self._lastEventId = event.id
        self._deliverData(event.data)

    def _streamEnded(
        self,
        result: tuple[Failure],
        reader: SSEReader,
        message: jsonrpc.Message | None,
        resumedFrom: bytes | None = None,
    ) -> None:
        if self.exited or message is None:
            return
        if "id" not in message or _key(message["id"]) not in self._unanswered:
            return
        key = _key(message["id"])
        eventId = reader.parser.lastEventId
        # A stream that moved on before it ended (a server that ends its
        # streams to poll) is resumed as long as it does; only resumes that
        # brought nothing new are counted.
        tries = self._resumes.get(key, 0) if eventId == resumedFrom else 0
        if eventId is not None and tries < RESUMES:
            self._resumes[key] = tries + 1
            (reason,) = result
            self.log.info(
                "server {server}: the stream of a request ended before its answer ({how});"
                " resuming it after event {eventId}",
                server=self.name,
                how="closed" if endedCleanly(reason) else reasonOf(reason),
                eventId=eventId.decode("utf-8", "replace"),
            )
            retry = reader.parser.retry
            delay = 0.0 if tries == 0 else GET_BACKOFF[tries - 1]
            if retry is not None:
                delay = retry / 1000.0
            if delay > 0:  # the server's retry: delay, or a backoff once a resume brought nothing
                self._clock.callLater(delay, self._resume, reader, message)
            else:
                self._resume(reader, message)
            return
        self._failed(message, "ended the request's stream before answering it")

    def _resume(self, ended: SSEReader, message: jsonrpc.Message) -> None:
        if self.exited or _key(message["id"]) not in self._unanswered:
            return
        headers = self._headers(b"text/event-stream")
        headers.setRawHeaders(b"last-event-id", [ended.parser.lastEventId or b""])
        d = self._agent.request(b"GET", self._url, headers)

        def resumed(response: IResponse) -> None:
            if 200 <= response.code < 300 and isSSE(response):
                self._readStream(response, message, ended)
                return
            readBody(response)
            self._failed(message, f"would not resume the request's stream (HTTP {response.code})")

        d.addCallbacks(resumed, lambda reason: self._postFailed(reason, message))
        d.addErrback(self._bug, "resuming a stream")

    # -- the GET stream -------------------------------------------------------

    def _openGet(self) -> None:
        """Open the stream of what the server sends unasked (once the client's
        session is initialized)."""
        self._getWanted = True
        if self._get is not None or self._getTimer is not None or self.exited:
            return
        headers = self._headers(b"text/event-stream")
        if self._lastEventId is not None:
            headers.setRawHeaders(b"last-event-id", [self._lastEventId])
        sessionId = self.sessionId
        d = self._agent.request(b"GET", self._url, headers)
        d.addCallbacks(self._getAnswered, self._getFailed, callbackArgs=(sessionId,))
        d.addErrback(self._bug, "opening the GET stream")

    def _getAnswered(self, response: IResponse, sessionId: str | None) -> None:
        if self.exited or sessionId != self.sessionId:
            discard(response)
            return
        if response.code == 405:  # the server offers no such stream
            readBody(response)
            self._getWanted = False
            return
        if not (200 <= response.code < 300 and isSSE(response)):
            readBody(response).addCallback(self._getRefused, response.code, sessionId).addErrback(
                self._bug, "reading the GET stream's refusal"
            )
            return
        self._getFailures = 0
        reader = SSEReader(self._getEvent)
        self._get = reader
        response.deliverBody(reader)
        reader.finished.addCallback(self._getEnded, reader)
        reader.finished.addErrback(self._bug, "reading the GET stream")

    def _getRefused(self, result: tuple[bytes, Failure], code: int, sessionId: str | None) -> None:
        if self.exited or sessionId != self.sessionId:
            return
        if sessionLost(code, result[0], sessionId):
            if not self._blocked:
                self._sessionLost(None, False)
            return
        self._getRetry(f"HTTP {code}")

    def _getEnded(self, result: tuple[Failure], reader: SSEReader) -> None:
        if reader is not self._get:
            return
        self._get = None
        retry = reader.parser.retry
        self._getRetry(None, None if retry is None else retry / 1000.0)

    def _getFailed(self, reason: Failure) -> None:
        self._getRetry(reasonOf(reason))

    def _getRetry(self, why: str | None, delay: float | None = None) -> None:
        if self.exited or not self._getWanted:
            return
        if why is not None:
            self._getFailures += 1
            self._said(
                f"server '{self.name}': the GET stream of {self.endpoint.url} failed ({why})"
            )
        if delay is None:
            delay = GET_BACKOFF[min(self._getFailures, len(GET_BACKOFF) - 1)]
        self._getTimer = self._clock.callLater(delay, self._reopenGet)

    def _reopenGet(self) -> None:
        self._getTimer = None
        self._openGet()

    def _closeGet(self) -> None:
        if self._getTimer is not None and self._getTimer.active():
            self._getTimer.cancel()
        self._getTimer = None
        reader, self._get = self._get, None
        if reader is not None:
            reader.abort()

    # -- a session the server lost ----------------------------------------------

    def _sessionLost(self, message: jsonrpc.Message | None, again: bool) -> None:
        """The server answered 404 for the session: initialize a new one with
        the client's C{initialize}, then send C{message} again (once)."""
        initRequest = self._initRequest
        if message is not None and (again or initRequest is None or message is initRequest):
            self._failed(message, "no longer knows the session")
            return
        if message is not None:
            if "id" in message and "method" in message:
                self._unanswered.pop(_key(message["id"]), None)
            self._waiting.appendleft(message)
        if self._blocked:
            return  # a new session is being made already
        assert initRequest is not None
        self.reinitializations += 1
        self.log.info(
            "server {server}: the remote server no longer knows the session {sessionId};"
            " initializing a new one with the client's initialize",
            server=self.name,
            sessionId=self.sessionId,
        )
        self.sessionId = None
        self.protocolVersion = None
        self._closeGet()
        self._blocked = True
        replay = dict(initRequest, id=f"{REINIT_ID}-{self.reinitializations}")
        self._post(replay)

    def _reinitialized(self, response: jsonrpc.Message) -> None:
        if "error" in response:
            self._end(f"refused to initialize a new session: {response['error']}")
            return
        if self._clientInitialized:
            self._sendInitialized({"jsonrpc": "2.0", "method": "notifications/initialized"}, True)
            return
        self._unblock(again=True)

    def _sendInitialized(self, message: jsonrpc.Message, again: bool = False) -> None:
        """POST C{notifications/initialized}, holding what follows until the
        server has taken it: a server may make tools of the client's
        capabilities once it sees it (server-everything does), and a
        request on another connection could otherwise arrive first."""
        self._blocked = True
        d = self._post(message)
        if d is None:  # waits for a token exchange: what follows waits with it
            self._unblock(again)
            return
        d.addBoth(lambda _: self._unblock(again) if self._blocked and not self.exited else None)

    def _unblock(self, again: bool = False) -> None:
        self._blocked = False
        waiting, self._waiting = self._waiting, deque()
        while waiting and not self.exited:
            message = waiting.popleft()
            if message.get("method") == "notifications/initialized":
                self._waiting = waiting  # what follows it waits until the server took it
                self._sendInitialized(message, again)
                return
            self._post(message, again)

    # -- what the server sends --------------------------------------------------

    def _deliverData(self, data: bytes, about: jsonrpc.Message | None = None) -> None:
        """Deliver the message(s) of C{data}; a request among them that came
        on the stream answering request C{about} is that request's
        (Streamable HTTP: a server sends a request related to a client's on
        that request's stream), and says so to the router
        (L{wire2026.HINT_RELATED}): a child shared by many sessions asks
        exactly the session whose call it serves."""
        self.bytesIn += len(data)
        try:
            value = jsonrpc.loads(data, allowLoneSurrogates=True)
        except Exception as e:
            self._said(f"server '{self.name}' sent a non-JSON message ({e}); skipped")
            return
        for item in value if isinstance(value, list) else [value]:
            if type(item) is dict and item:  # some servers send {} events to keep a stream alive
                self._deliver(relatedTo(item, about))

    def _deliver(self, message: jsonrpc.Message) -> None:
        if "method" not in message and "id" in message:
            key = _key(message["id"])
            request = self._unanswered.pop(key, None)
            self._resumes.pop(key, None)
            self._authRetried.discard(key)
            if request is not None and request.get("method") == "initialize":
                self._initAnswered(request, message)
                if str(message["id"]).startswith(REINIT_ID):
                    return
            self.responses += 1
        if self.exited:
            return
        try:
            self._onMessage(message)
        except Exception:
            self.log.failure("routing a message from server {server} failed", server=self.name)

    def _initAnswered(self, request: jsonrpc.Message, response: jsonrpc.Message) -> None:
        result = response.get("result")
        if isinstance(result, dict) and isinstance(result.get("protocolVersion"), str):
            version = result["protocolVersion"]
            if version.isascii() and version.isprintable():
                self.protocolVersion = version
        if str(request["id"]).startswith(REINIT_ID):
            self._reinitialized(response)
        elif self._blocked:
            self._unblock()

    # -- the end ----------------------------------------------------------------

    def signal(self, name: str) -> None:
        """End the session now (what C{KILL} or C{TERM} does to a process)."""
        self._delete()
        self._end(f"closed by the gateway (SIG{name})")

    def stop(self, graceTime: float = 2.0, termTime: float = 3.0) -> Deferred[None]:
        """End the session: DELETE it (bounded), then let it go."""
        if self.exited:
            return succeed(None)
        done = self._delete()
        timer = self._clock.callLater(min(STOP_TIMEOUT, graceTime + termTime), done.cancel)

        def finished(_: object) -> None:
            if timer.active():
                timer.cancel()
            self._end("closed by the gateway")

        done.addBoth(finished)
        waiter: Deferred[None] = Deferred()
        self.ended.addBoth(lambda result: waiter.callback(None))
        return waiter

    def _delete(self) -> Deferred[None]:
        """DELETE the session at the server (its answer does not matter)."""
        self._closeGet()
        if self.sessionId is None or self.exited:
            return succeed(None)
        request = self._agent.request(b"DELETE", self._url, self._headers())
        self.sessionId = None
        request.addCallback(readBody)
        done: Deferred[None] = request.addBoth(_nothing)
        return done

    def _closed(self) -> None:
        self._closeGet()
        self._waiting.clear()


def relatedTo(message: jsonrpc.Message, about: jsonrpc.Message | None) -> jsonrpc.Message:
    """C{message} with the router's hint that it serves request C{about},
    when it is a server's request that came on C{about}'s stream. The
    gateway's hints are the gateway's: any a remote server wrote itself are
    dropped, so it cannot steer its request to another session."""
    if "method" not in message or "id" not in message:
        return message
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    related = (
        about is not None and "id" in about and about.get("method") not in (None, "initialize")
    )
    if not related and not (isinstance(meta, dict) and any(h in meta for h in wire2026.HINTS)):
        return message
    if params is not None and not isinstance(params, dict):
        return message
    kept = {k: v for k, v in (meta or {}).items() if k not in wire2026.HINTS}
    if related:
        assert about is not None
        kept[wire2026.HINT_RELATED] = about["id"]
    rest = {k: v for k, v in (params or {}).items() if k != "_meta"}
    if kept:
        rest["_meta"] = kept
    return {**message, "params": rest}


def takesUrlElicitation(initialize: jsonrpc.Message | None) -> bool:
    """Whether the client whose C{initialize} this is declared URL-mode
    elicitation (C{capabilities.elicitation.url})."""
    params = None if initialize is None else initialize.get("params")
    capabilities = params.get("capabilities") if isinstance(params, dict) else None
    elicitation = capabilities.get("elicitation") if isinstance(capabilities, dict) else None
    return isinstance(elicitation, dict) and isinstance(elicitation.get("url"), dict)


def sessionLost(code: int, body: bytes, sessionId: str | None) -> bool:
    """Whether an answer to a request that carried C{sessionId} says the
    server no longer knows the session: a 404, as the transport asks, or the
    400 "No valid session ID" of servers built on the SDKs' examples (they
    answer an unknown session that way)."""
    if sessionId is None:
        return False
    return code == 404 or (code == 400 and b"session" in body[:_EXCERPT].lower())


def _nothing(_: object) -> None:
    """Whatever it was, it is over."""


def _key(requestId: Any) -> tuple[str, Any]:
    """A request id as a dict key: C{1} and C{"1"} are different ids."""
    return (type(requestId).__name__, requestId)

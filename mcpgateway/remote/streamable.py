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

L{StreamableChild} holds the session (its C{initialize}, what waits for it,
a new one when the server lost it) and POSTs; its collaborators do the
rest: L{UpstreamHeaders} (what each request carries), L{Answers} (what the
router is owed), L{RemoteRefusals} (what a refusal gets), L{StreamResumer} (a
request's stream) and L{RemoteGetStream} (the session's GET stream).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.iweb import IAgent, IResponse

from mcpgateway.core.spec import RemoteEndpoint
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import RATE_LIMITED
from mcpgateway.remote.answers import OWN_ID, Answers, isOwn
from mcpgateway.remote.base import RemoteChildBase
from mcpgateway.remote.getstream import RemoteGetStream
from mcpgateway.remote.headers import UpstreamHeaders, sessionLost
from mcpgateway.remote.oauth.credentials import UpstreamCredentials
from mcpgateway.remote.oauth.exchange import TokenExchange
from mcpgateway.remote.ratelimited import upstreamRateLimited
from mcpgateway.remote.refusals import RemoteRefusals
from mcpgateway.remote.sse import headerOf, isSSE, readBody, reasonOf
from mcpgateway.remote.streamresumer import StreamResumer
from mcpgateway.runtime.bytesproducer import BytesProducer

STOP_TIMEOUT = 2.0
"""Seconds the DELETE of the session may take when the gateway ends it."""
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]{1,1024}")


class StreamableChild(RemoteChildBase):
    """One upstream Streamable HTTP session, held like a child process.

    @param name: the server's name, for the log and the errors.
    @param endpoint: the server's URL and headers.
    @param agent: the HTTP client (an C{Agent} on the server's connection pool).
    @param onMessage: told of every JSON-RPC message the server sends.
    @param onStderr: told of each line said about what went wrong.
    @param credentials: the gateway's OAuth tokens (C{None}, or no grant:
        only the entry's headers).
    @param exchange: trades the principal's token for the server's
        (C{"auth": "exchange"}).
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
        self._exchange = exchange
        self._agent = agent
        self._clock = clock
        self._url = endpoint.url.encode("ascii")
        self.reinitializations = 0
        self._initRequest: jsonrpc.Message | None = None
        """The client's C{initialize}, replayed when the server loses the session."""
        self._clientInitialized = False
        self._blocked = False
        """An C{initialize} is in flight: other messages wait for its session id."""
        self._waiting: deque[jsonrpc.Message] = deque()
        self._headers = UpstreamHeaders(name, endpoint, credentials, exchange)
        self._answers = Answers(name, endpoint.url, self, onMessage, self._said, self._initAnswered)
        self._refusals = RemoteRefusals(
            name,
            endpoint,
            self._headers,
            self._answers,
            self,
            self._post,
            self._failed,
            self._said,
            self._bug,
            credentials,
            exchange,
        )
        self._streams = StreamResumer(
            clock,
            agent,
            endpoint.url,
            self._headers,
            self._answers,
            self,
            self._failed,
            self._bug,
            name,
        )
        self._get = RemoteGetStream(
            clock,
            agent,
            self._headers,
            self._answers,
            self,
            self._getSessionLost,
            self._said,
            self._bug,
            name,
            endpoint.url,
        )

    @property
    def sessionId(self) -> str | None:
        """The session the server gave (C{None}: none yet, or it ended)."""
        return self._headers.sessionId

    @property
    def protocolVersion(self) -> str | None:
        """The protocol version the server's C{initialize} answer chose."""
        return self._headers.protocolVersion

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

    def _post(
        self, message: jsonrpc.Message, again: bool = False, traded: bool = False
    ) -> Deferred[Any] | None:
        """POST C{message}; fires once its answer was taken in (C{None}: it
        waits for the principal's token to be traded first)."""
        headers = self._headers
        if self._exchange is not None and not traded and not headers.ownAuthorization:
            waiting = self._exchange.ready(self.endpoint.principal)
            if waiting is not None:  # the principal's token is traded for the server's first
                waiting.addCallback(self._traded, message, again)
                return None
        body = jsonrpc.dumps(message)
        self.bytesOut += len(body)
        self._answers.sent(message)
        sessionId = headers.sessionId
        d = self._agent.request(b"POST", self._url, headers.build(), BytesProducer(body))
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
                self._headers.sessionId = given
            elif given is not None:
                self._said(
                    f"server '{self.name}' gave a session id that is not visible ASCII; ignored"
                )
        if 200 <= code < 300:
            if isSSE(response):
                self._streams.read(response, message)
            else:
                readBody(response).addCallback(self._bodyRead, message).addErrback(
                    self._bug, "reading an answer"
                )
            if code == 202 and message.get("method") == "notifications/initialized":
                self._get.open()
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
        if message is self._initRequest or isOwn(message):
            self._failed(message, "answered HTTP 429 (too many requests)")
            return
        error = upstreamRateLimited(message["id"], self.name, retryAfter, self._clock.seconds())
        self._answers.answerError(
            message, RATE_LIMITED, error["error"]["message"], error["error"]["data"]
        )

    def _bodyRead(self, result: tuple[bytes, Failure], message: jsonrpc.Message) -> None:
        body, _ = result
        isRequest = "id" in message and "method" in message
        if (
            body.strip() and isRequest
        ):  # what a notification's or a response's answer says is not a message
            self._answers.deliverData(body)
        if isRequest and self._answers.owed(message):  # its answer has ended without a response
            self._failed(message, "answered the request without a response")

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
            if sessionId == self._headers.sessionId:
                self._sessionLost(message, again)
                return
            if not again and message is not self._initRequest:
                # Sent on a session the server lost before a new one was made: send it anew.
                self._answers.forget(message)
                if self._blocked:
                    self._waiting.append(message)
                else:
                    self._post(message, again=True)
                return
        self._refusals.refused(message, code, body, self._initRequest)

    def _traded(self, problem: str | None, message: jsonrpc.Message, again: bool) -> None:
        """The token exchange for C{message} is over: send it, or answer why not."""
        if self.exited:
            return
        if problem is None:
            self._post(message, again, traded=True)
            return
        self._answers.sent(message)
        self._failed(message, f"needs a token for you: {problem}")

    def _postFailed(self, reason: Failure, message: jsonrpc.Message) -> None:
        self._failed(message, f"is not reachable ({reasonOf(reason)})")

    def _failed(self, message: jsonrpc.Message, why: str) -> None:
        """C{message} did not reach the server: say so, and answer it (the
        gateway's own C{initialize} failing ends the child)."""
        self._answers.failed(message, why)
        if isOwn(message):
            self._end(f"could not initialize a new session: {why}")
            return
        if message is self._initRequest and self._blocked:
            self._unblock()

    # -- a session the server lost ----------------------------------------------

    def _sessionLost(self, message: jsonrpc.Message | None, again: bool) -> None:
        """The server answered 404 for the session: initialize a new one with
        the client's C{initialize}, then send C{message} again (once)."""
        initRequest = self._initRequest
        if message is not None and (again or initRequest is None or message is initRequest):
            self._failed(message, "no longer knows the session")
            return
        if message is not None:
            self._answers.forget(message)
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
        self._headers.sessionId = None
        self._headers.protocolVersion = None
        self._get.close()
        self._blocked = True
        replay = dict(initRequest, id=f"{OWN_ID}-{self.reinitializations}")
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

    def _initAnswered(self, request: jsonrpc.Message, response: jsonrpc.Message) -> None:
        result = response.get("result")
        if isinstance(result, dict) and isinstance(result.get("protocolVersion"), str):
            version = result["protocolVersion"]
            if version.isascii() and version.isprintable():
                self._headers.protocolVersion = version
        if isOwn(request):
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
        self._get.close()
        if self._headers.sessionId is None or self.exited:
            return succeed(None)
        request = self._agent.request(b"DELETE", self._url, self._headers.build())
        self._headers.sessionId = None
        request.addCallback(readBody)
        done: Deferred[None] = request.addBoth(_nothing)
        return done

    def _closed(self) -> None:
        self._get.close()
        self._waiting.clear()

    def _getSessionLost(self) -> None:
        """The GET stream found the session lost: make a new one, unless
        one is being made."""
        if not self._blocked:
            self._sessionLost(None, False)


def _nothing(_: object) -> None:
    """Whatever it was, it is over."""

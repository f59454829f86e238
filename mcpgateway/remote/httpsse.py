# -*- test-case-name: tests.remote.test_httpsse -*-
"""One upstream session with a remote MCP server over the 2024-11-05 HTTP+SSE
transport (an entry's C{"type": "sse"}).

The session is the GET stream: the server's first event, C{endpoint}, names
the URL the gateway POSTs each message to; every message of the server
(responses, its own requests, notifications) arrives on the stream as a
C{message} event. Messages written before the endpoint is known wait for it.
The transport cannot resume a stream, so its end is the end of the session,
as a process's exit is: the pool starts a new one the way it restarts a
child. The endpoint must be on the server's own origin: a stream that points
the gateway's POSTs anywhere else ends the session.

What a request carries, what the router is owed and what a refusal gets are
the same as for a Streamable HTTP session, and done by the same
collaborators (L{UpstreamHeaders}, L{Answers}, L{RemoteRefusals}).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.iweb import IAgent, IResponse

from mcpgateway.core.spec import RemoteEndpoint
from mcpgateway.protocol import jsonrpc
from mcpgateway.remote.answers import Answers
from mcpgateway.remote.base import RemoteChildBase
from mcpgateway.remote.headers import UpstreamHeaders
from mcpgateway.remote.oauth.credentials import UpstreamCredentials, loginNeeded
from mcpgateway.remote.refusals import RemoteRefusals
from mcpgateway.remote.sse import (
    Event,
    SSEReader,
    discard,
    endedCleanly,
    isSSE,
    readBody,
    reasonOf,
)
from mcpgateway.runtime.bytesproducer import BytesProducer


class HttpSSEChild(RemoteChildBase):
    """One upstream HTTP+SSE session, held like a child process; it opens its
    stream when it is made.

    @param name: the server's name, for the log and the errors.
    @param endpoint: the server's URL (its stream's) and headers.
    @param agent: the HTTP client (an C{Agent} on the server's connection pool).
    @param clock: the reactor's clock (the session has no timers of its own).
    @param onMessage: told of every JSON-RPC message the server sends.
    @param onStderr: told of each line said about what went wrong.
    @param credentials: the gateway's OAuth tokens (C{None}, or no grant:
        only the entry's headers).
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
    ) -> None:
        super().__init__(name, onMessage, onStderr)
        self.endpoint = endpoint
        self._credentials = credentials
        self._agent = agent
        self._postUrl: bytes | None = None
        self._holding = False
        self._stream: SSEReader | None = None
        self._waiting: deque[jsonrpc.Message] = deque()
        self._headers = UpstreamHeaders(name, endpoint, credentials)
        self._answers = Answers(name, endpoint.url, self, onMessage, self._said, self._initAnswered)
        self._refusals = RemoteRefusals(
            name,
            endpoint,
            self._headers,
            self._answers,
            self,
            self._post,
            self._answers.failed,
            self._said,
            self._bug,
            credentials,
        )
        url = endpoint.url.encode("ascii")
        d = agent.request(b"GET", url, self._headers.build(b"text/event-stream"))
        d.addCallbacks(self._streamOpened, self._streamFailed)
        d.addErrback(self._bug, "opening the SSE stream")

    def send(self, message: jsonrpc.Message) -> None:
        """POST one message to the stream's endpoint (once it is known; and
        after C{notifications/initialized}, once the server has taken it: a
        server may make tools of the client's capabilities on it, and a
        request on another connection could otherwise arrive first)."""
        if self.exited:
            return
        if self._postUrl is None or self._holding:
            self._waiting.append(message)
            return
        if message.get("method") == "notifications/initialized":
            self._holding = True
            self._post(message).addBoth(lambda _: self._release())
            return
        self._post(message)

    def _release(self) -> None:
        """Send what waited for the endpoint or for C{notifications/initialized}."""
        self._holding = False
        waiting, self._waiting = self._waiting, type(self._waiting)()
        while waiting and not self.exited and not self._holding:
            self.send(waiting.popleft())
        if waiting:  # another notifications/initialized holds the rest
            waiting.extend(self._waiting)
            self._waiting = waiting

    def _post(self, message: jsonrpc.Message) -> Deferred[Any]:
        assert self._postUrl is not None
        body = jsonrpc.dumps(message)
        self.bytesOut += len(body)
        self._answers.sent(message)
        d = self._agent.request(b"POST", self._postUrl, self._headers.build(), BytesProducer(body))
        d.addCallbacks(
            self._accepted, self._postFailed, callbackArgs=(message,), errbackArgs=(message,)
        )
        d.addErrback(self._bug, "sending a message")
        return d

    def _accepted(self, response: IResponse, message: jsonrpc.Message) -> None:
        """The answer comes on the stream; the POST's own body says nothing."""
        if 200 <= response.code < 300:
            readBody(response)
            return
        readBody(response).addCallback(self._refused, message, response.code).addErrback(
            self._bug, "reading a refusal"
        )

    def _refused(self, result: tuple[bytes, Failure], message: jsonrpc.Message, code: int) -> None:
        self._refusals.refused(message, code, result[0], None)

    def _postFailed(self, reason: Failure, message: jsonrpc.Message) -> None:
        self._answers.failed(message, f"is not reachable ({reasonOf(reason)})")

    def _initAnswered(self, request: jsonrpc.Message, response: jsonrpc.Message) -> None:
        """The server's answer to the client's C{initialize}: later requests
        carry the protocol version it chose."""
        result = response.get("result")
        if isinstance(result, dict) and isinstance(result.get("protocolVersion"), str):
            version = result["protocolVersion"]
            if version.isascii() and version.isprintable():
                self._headers.protocolVersion = version

    # -- the stream -------------------------------------------------------------

    def _streamOpened(self, response: IResponse) -> None:
        if self.exited:
            discard(response)
            return
        if not (200 <= response.code < 300 and isSSE(response)):
            readBody(response)
            why = f"answered its SSE stream's GET with HTTP {response.code}"
            if response.code == 401 and not self._headers.ownAuthorization:
                hint = loginNeeded(self._credentials, self.name, self.endpoint.principal)
                why += f"; it needs a login: {hint}"
            self._lost(why)
            return
        reader = SSEReader(self._streamEvent)
        self._stream = reader
        response.deliverBody(reader)
        reader.finished.addCallback(self._streamClosed, reader)
        reader.finished.addErrback(self._bug, "reading the SSE stream")

    def _streamFailed(self, reason: Failure) -> None:
        self._lost(f"is not reachable ({reasonOf(reason)})")

    def _streamEvent(self, event: Event) -> None:
        if event.type == b"endpoint":
            self._endpointGiven(event.data)
        elif event.type in (None, b"message"):
            self._answers.deliverData(event.data)

    def _endpointGiven(self, data: bytes) -> None:
        target = urljoin(self.endpoint.url, data.decode("utf-8", "replace").strip())
        given, ours = urlsplit(target), urlsplit(self.endpoint.url)
        if (given.scheme, given.netloc) != (ours.scheme, ours.netloc):
            self._lost(f"named an endpoint on another origin ({given.scheme}://{given.netloc})")
            return
        self._postUrl = target.encode("ascii", "replace")
        self._release()

    def _streamClosed(self, result: tuple[Failure], reader: SSEReader) -> None:
        if reader is not self._stream:
            return  # closed by the gateway
        (reason,) = result
        how = "closed its SSE stream" if endedCleanly(reason) else reasonOf(reason)
        self._lost(how if how.startswith("closed") else f"dropped its SSE stream ({how})")

    def _lost(self, why: str) -> None:
        """The session is gone: answer what waits, and end."""
        if self.exited:
            return
        text = f"server '{self.name}': the remote server at {self.endpoint.url} {why}"
        self._said(text)
        for message in list(self._waiting):
            if "id" in message and "method" in message:
                self._onMessage(
                    jsonrpc.errorResponse(message["id"], jsonrpc.SERVER_UNAVAILABLE, text)
                )
        self._waiting.clear()
        self._end(why)

    # -- the end ----------------------------------------------------------------

    def signal(self, name: str) -> None:
        """End the session now (what C{KILL} or C{TERM} does to a process)."""
        self._end(f"closed by the gateway (SIG{name})")

    def stop(self, graceTime: float = 2.0, termTime: float = 3.0) -> Deferred[None]:
        """End the session: the transport has no DELETE, closing the stream
        ends it."""
        self._end("closed by the gateway")
        return succeed(None)

    def _closed(self) -> None:
        reader, self._stream = self._stream, None
        if reader is not None:
            reader.abort()
        self._waiting.clear()

# -*- test-case-name: tests.remote.test_streamable_streams -*-
"""The SSE stream that answers one request to a remote MCP server, resumed
when it ends before the response.

Every event of the stream (progress, logs, the server's own requests, then
the response) is delivered as it comes. A stream that ends first resumes
with a GET carrying its last event id, when the server gave ids, as often as
the resumed stream brings something new; a request whose stream has no ids,
or whose resumes bring nothing L{RESUMES} times in a row (a backoff apart,
or the server's C{retry}), is answered with an error.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IAgent, IResponse

from mcpgateway.protocol import jsonrpc
from mcpgateway.remote.answers import Answers, Lived
from mcpgateway.remote.getstream import GET_BACKOFF
from mcpgateway.remote.headers import UpstreamHeaders
from mcpgateway.remote.sse import SSEReader, endedCleanly, isSSE, readBody, reasonOf
from mcpgateway.runtime import logs

RESUMES = 3
"""Times in a row one request's dropped stream is resumed without bringing
anything new before the request is answered with an error."""


class StreamResumer:
    """Reads the streams that answer one server's requests.

    @param clock: for the delays before a resume.
    @param agent: the HTTP client.
    @param url: the server's URL.
    @param headers: the session's headers.
    @param answers: delivers what comes, and knows what is still owed.
    @param child: whether the child has ended.
    @param failed: answers a request whose answer will not come, saying why.
    @param bug: logs a failure no one expected, saying what was being done.
    @param name: the server's name, for the log.
    """

    log = Logger(observer=logs.observer, namespace="mcpgateway.remote")

    def __init__(
        self,
        clock: IReactorTime,
        agent: IAgent,
        url: str,
        headers: UpstreamHeaders,
        answers: Answers,
        child: Lived,
        failed: Callable[[jsonrpc.Message, str], None],
        bug: Callable[[Failure, str], None],
        name: str,
    ) -> None:
        self._clock = clock
        self._agent = agent
        self._url = url.encode("ascii")
        self._headers = headers
        self._answers = answers
        self._child = child
        self._failed = failed
        self._bug = bug
        self._name = name

    def read(
        self, response: IResponse, message: jsonrpc.Message, resumed: SSEReader | None = None
    ) -> None:
        """Deliver the events of C{response}, the stream that answers
        C{message} (C{resumed}: the stream it resumes)."""
        answers = self._answers
        reader = SSEReader(lambda event: answers.deliverData(event.data, message))
        resumedFrom = None
        if resumed is not None:  # a reconnection keeps the last event id and the retry delay
            resumedFrom = reader.parser.lastEventId = resumed.parser.lastEventId
            reader.parser.retry = resumed.parser.retry
        response.deliverBody(reader)
        reader.finished.addCallback(self._ended, reader, message, resumedFrom)
        reader.finished.addErrback(self._bug, "reading a stream")

    def _ended(
        self,
        result: tuple[Failure],
        reader: SSEReader,
        message: jsonrpc.Message,
        resumedFrom: bytes | None,
    ) -> None:
        if self._child.exited or not self._answers.owed(message):
            return
        eventId = reader.parser.lastEventId
        # A stream that moved on before it ended (a server that ends its
        # streams to poll) is resumed as long as it does; only resumes that
        # brought nothing new are counted.
        tries = self._answers.resumes(message) if eventId == resumedFrom else 0
        if eventId is not None and tries < RESUMES:
            self._answers.resumed(message, tries + 1)
            (reason,) = result
            self.log.info(
                "server {server}: the stream of a request ended before its answer ({how});"
                " resuming it after event {eventId}",
                server=self._name,
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
        if self._child.exited or not self._answers.owed(message):
            return
        headers = self._headers.build(b"text/event-stream")
        headers.setRawHeaders(b"last-event-id", [ended.parser.lastEventId or b""])
        d = self._agent.request(b"GET", self._url, headers)

        def resumed(response: IResponse) -> None:
            if 200 <= response.code < 300 and isSSE(response):
                self.read(response, message, ended)
                return
            readBody(response)
            self._failed(message, f"would not resume the request's stream (HTTP {response.code})")

        def failed(reason: Failure) -> None:
            self._failed(message, f"is not reachable ({reasonOf(reason)})")

        d.addCallbacks(resumed, failed)
        d.addErrback(self._bug, "resuming a stream")

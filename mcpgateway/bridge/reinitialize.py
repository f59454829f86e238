# -*- test-case-name: tests.bridge.test_client -*-
"""A new gateway session for the bridge when the gateway has lost the old one.

A 404 on the session means the gateway no longer knows it (a restart that
lost it, an idle timeout): the bridge initializes a new session with the
client's own C{initialize} params and C{notifications/initialized}, says so
on stderr, and goes on; the client never sees it (the bridge's own
C{initialize} has an id of its own, L{REINITIALIZE_ID}, and its answer is
not relayed).
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IAgent, IResponse

from mcpgateway.bridge.getstream import BridgeGetStream
from mcpgateway.bridge.link import LOST, NOT_SENT, Link, LinkState
from mcpgateway.bridge.responses import idOf, messagesOf
from mcpgateway.protocol import jsonrpc
from mcpgateway.remote.sse import endedCleanly, headerOf, readBody, reasonOf
from mcpgateway.runtime import logs
from mcpgateway.runtime.bytesproducer import BytesProducer

REINITIALIZE_ID = "mcpgateway-bridge-reinitialize-{n}"
"""The id of the bridge's own C{initialize} (its answer never reaches the client)."""


class Reinitializer:
    """Makes the new session, with the link in L{LinkState.REINITIALIZING}
    meanwhile (what the client sends waits).

    @param agent: the HTTP client.
    @param link: the session to renew.
    @param stream: the session's GET stream (forgotten with the old
        session, opened on the new one).
    @param onLost: told why, when the gateway went away meanwhile.
    @param pump: sends what waited, once the link is up again.
    @param bug: logs a failure no one expected, saying what was being done.
    @ivar wanted: a new session is needed (once the gateway is back).
    @ivar count: how many new sessions were made.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        agent: IAgent,
        link: Link,
        stream: BridgeGetStream,
        onLost: Callable[[str], None],
        pump: Callable[[], None],
        bug: Callable[[Failure, str], None],
    ) -> None:
        self._agent = agent
        self._link = link
        self._stream = stream
        self._onLost = onLost
        self._pump = pump
        self._bug = bug
        self.wanted = False
        self.count = 0

    def forgetSession(self) -> None:
        """The session is over: the link and its GET stream start afresh."""
        self._link.forget()
        self._stream.forget()

    def start(self) -> None:
        """Initialize a new session with the client's C{initialize} params."""
        link = self._link
        old = link.sessionId
        self.wanted = True
        if link.initParams is None:
            self.log.error(
                "session {session} is gone at the gateway, and the client never sent"
                " initialize: cannot make a new one",
                session=old,
            )
            self.wanted = False
            self.forgetSession()
            self._pump()
            return
        link.state = LinkState.REINITIALIZING
        clientInitialized = link.clientInitialized
        self.forgetSession()
        link.clientInitialized = clientInitialized
        self.count += 1
        body = jsonrpc.dumps(
            jsonrpc.request(REINITIALIZE_ID.format(n=self.count), "initialize", link.initParams)
        )
        d = self._agent.request(b"POST", link.urlBytes, link.headers, BytesProducer(body))
        d.addCallback(self._answered, old)
        d.addErrback(self._failed)
        d.addErrback(self._bug, "re-initializing")

    def _answered(self, response: IResponse, old: str | None) -> Deferred[None]:
        sid = headerOf(response, b"mcp-session-id")

        def read(result: tuple[bytes, Failure]) -> Deferred[None] | None:
            body, reason = result
            if self._link.state is not LinkState.REINITIALIZING:
                return None
            if not endedCleanly(reason):
                self._onLost(reasonOf(reason))
                return None
            version = None
            for data in messagesOf(response, body):
                isResponse, _, res = idOf(data)
                if isResponse and isinstance(res, dict):
                    version = res.get("protocolVersion")
            if response.code != 200 or sid is None or not isinstance(version, str):
                self.log.error(
                    "session {old} is gone at the gateway, and a new initialize failed"
                    " (HTTP {code}): {body}",
                    old=old,
                    code=response.code,
                    body=body[:200].decode("utf-8", "replace"),
                )
                self._done()
                return None
            return self._made(sid, version, old)

        return readBody(response).addCallback(read)

    def _made(self, sid: str, version: str, old: str | None) -> Deferred[None] | None:
        """The gateway made session C{sid}: tell it the client is initialized
        (when the client was)."""
        link = self._link
        link.setSession(sid)
        link.setProtocolVersion(version)
        self.log.warn(
            "session {old} is gone at the gateway (404): initialized a new session"
            " {new} with the client's original initialize params; what the server"
            " kept for the old session is lost",
            old=old,
            new=sid,
        )
        if not link.clientInitialized:
            self._done()
            return None
        initialized = jsonrpc.dumps(jsonrpc.notification("notifications/initialized"))
        d = self._agent.request(b"POST", link.urlBytes, link.headers, BytesProducer(initialized))

        def sent(answer: IResponse) -> None:
            readBody(answer)
            self._done()

        return d.addCallbacks(sent, self._failed)

    def _failed(self, reason: Failure) -> None:
        if self._link.state is not LinkState.REINITIALIZING:
            return
        if reason.check(*NOT_SENT, *LOST):
            self._onLost(reasonOf(reason))
            return
        self.log.failure("re-initializing the session failed", failure=reason)
        self._done()

    def _done(self) -> None:
        if self._link.state is not LinkState.REINITIALIZING:
            return
        self.wanted = False
        self._link.state = LinkState.UP
        self._stream.open()
        self._pump()

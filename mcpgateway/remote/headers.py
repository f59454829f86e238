# -*- test-case-name: tests.remote.test_streamable,tests.remote.test_httpsse -*-
"""The headers of every request a child of a remote MCP server makes.

Only the entry's own C{headers} and the gateway's bearer for the principal
go upstream (an OAuth grant of the gateway's, or the token a principal's own
was exchanged for), never a client's; then the session's C{Mcp-Session-Id}
and C{MCP-Protocol-Version} once the server gave them. L{sessionLost} reads
an answer that says the server no longer knows that session.
"""

from __future__ import annotations

from twisted.web.http_headers import Headers

from mcpgateway.core.spec import RemoteEndpoint
from mcpgateway.remote.oauth.credentials import UpstreamCredentials
from mcpgateway.remote.oauth.exchange import TokenExchange

BOTH = b"application/json, text/event-stream"
"""What a POST accepts: a JSON body, or an SSE stream."""


class UpstreamHeaders:
    """The headers of one remote server's requests, for one session.

    @param name: the server's name (its grants are kept by it).
    @param endpoint: the server's URL and the entry's own headers.
    @param credentials: the gateway's OAuth tokens (C{None}, or no grant:
        only the entry's headers).
    @param exchange: trades the principal's token for the server's
        (C{"auth": "exchange"}).
    @ivar ownAuthorization: the entry's headers carry their own
        C{Authorization} (the gateway adds none, and a refusal is theirs).
    @ivar sessionId: the session the server gave, sent with every later request.
    @ivar protocolVersion: the version its C{initialize} answer chose.
    """

    def __init__(
        self,
        name: str,
        endpoint: RemoteEndpoint,
        credentials: UpstreamCredentials | None = None,
        exchange: TokenExchange | None = None,
    ) -> None:
        self._name = name
        self._endpoint = endpoint
        self._credentials = credentials
        self._exchange = exchange
        self.ownAuthorization = any(k.lower() == "authorization" for k, _ in endpoint.headers)
        self.sessionId: str | None = None
        self.protocolVersion: str | None = None

    def build(self, accept: bytes = BOTH) -> Headers:
        """The headers of one request that accepts C{accept} (a POST's, by
        default; C{text/event-stream}: a GET's, without a content type)."""
        headers = Headers({b"accept": [accept]})
        if accept != b"text/event-stream":
            headers.setRawHeaders(b"content-type", [b"application/json"])
        endpoint = self._endpoint
        for key, value in endpoint.headers:
            headers.setRawHeaders(key.encode("latin-1"), [value.encode("latin-1")])
        if self._exchange is not None and not self.ownAuthorization:
            bearer = self._exchange.authorization(endpoint.principal)
            if bearer is not None:
                headers.setRawHeaders(b"authorization", [bearer.encode("ascii")])
        elif self._credentials is not None and not self.ownAuthorization:
            bearer = self._credentials.authorization(self._name, endpoint.principal, endpoint.url)
            if bearer is not None:
                headers.setRawHeaders(b"authorization", [bearer.encode("ascii")])
        if self.sessionId is not None:
            headers.setRawHeaders(b"mcp-session-id", [self.sessionId.encode("ascii")])
        if self.protocolVersion is not None:
            headers.setRawHeaders(b"mcp-protocol-version", [self.protocolVersion.encode("ascii")])
        return headers


def sessionLost(code: int, body: bytes, sessionId: str | None) -> bool:
    """Whether an answer to a request that carried C{sessionId} says the
    server no longer knows the session: a 404, as the transport asks, or the
    400 "No valid session ID" of servers built on the SDKs' examples (they
    answer an unknown session that way)."""
    if sessionId is None:
        return False
    return code == 404 or (code == 400 and b"session" in body[:200].lower())

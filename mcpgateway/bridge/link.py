# -*- test-case-name: tests.bridge.test_client -*-
"""Where the bridge stands with the gateway: reachable or not, at which URL,
in which MCP session, and the headers every request of that session carries.

L{Link} holds those facts in one place: the client relays through it, and its
collaborators (L{mcpgateway.bridge.finder}, L{mcpgateway.bridge.getstream},
L{mcpgateway.bridge.reinitialize}) read and move it. It also names what an
HTTP request fails with when the gateway never got it (L{NOT_SENT}) or went
away before answering (L{LOST}).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from twisted.internet.error import ConnectError, ConnectionClosed, DNSLookupError
from twisted.web.client import RequestTransmissionFailed, ResponseNeverReceived
from twisted.web.http_headers import Headers

NOT_SENT = (ConnectError, DNSLookupError, RequestTransmissionFailed)
"""What a request fails with when it never reached the gateway."""
LOST = (ResponseNeverReceived, ConnectionClosed)
"""What a request fails with when the gateway went away before answering."""


class LinkState(Enum):
    """Where the bridge stands with the gateway it forwards to."""

    DOWN = "down"
    """The gateway is not reachable (or not found yet): probing it."""
    UP = "up"
    REINITIALIZING = "reinitializing"
    CLOSED = "closed"


class Link:
    """The bridge's link with the gateway, and its session there.

    @param lookedIn: where the bridge looks for the gateway (C{"state
        directory /home/u/.mcpgateway"}), for the messages; C{None} when it
        is given the gateway's URL.
    @param ownerHeaders: the headers every request to a gateway URL carries
        (the owner token of the state directory, for a loopback URL:
        L{mcpgateway.runtime.ownertoken.ownerHeaders}); asked each time the
        gateway is found (a gateway the bridge started made the token).
    @ivar headers: what every POST of the session carries (the host, the
        content type, C{Accept}, the owner token, and the session's id and
        protocol version once the gateway gave them); rebuilt only when one
        of those changes.
    @ivar probeHeaders: what a probe of the gateway's C{/health} carries
        (the host, the owner token).
    @ivar initParams: the C{params} of the client's C{initialize}, for a new
        session when the gateway lost the old one.
    """

    def __init__(
        self,
        lookedIn: str | None = None,
        ownerHeaders: Callable[[str], dict[str, str]] | None = None,
    ) -> None:
        self.lookedIn = lookedIn
        self._ownerHeaders = ownerHeaders
        self._owner: dict[bytes, list[bytes]] = {}
        self.state = LinkState.DOWN
        self.url: str | None = None
        self.urlBytes = b""
        self.host = b""
        self.sessionId: str | None = None
        self.protocolVersion: str | None = None
        self.initParams: Any = None
        self.clientInitialized = False
        self.headers: Headers = Headers()
        self.probeHeaders: Headers = Headers()

    def setUrl(self, url: str) -> None:
        """The gateway's MCP URL (as found this time), and its owner token
        as the state directory holds it now."""
        found = {} if self._ownerHeaders is None else self._ownerHeaders(url)
        owner = {k.lower().encode("ascii"): [v.encode("ascii")] for k, v in found.items()}
        if url == self.url and owner == self._owner:
            return
        self._owner = owner
        self.url = url
        self.urlBytes = url.encode("ascii")
        host = urlsplit(url).netloc.rpartition("@")[2]
        self.host = host.encode("idna")
        self._rebuildHeaders()

    def setSession(self, sessionId: str) -> None:
        """The gateway named the session C{sessionId}."""
        self.sessionId = sessionId
        self._rebuildHeaders()

    def setProtocolVersion(self, version: str) -> None:
        """The gateway's C{initialize} answer chose C{version}."""
        self.protocolVersion = version
        self._rebuildHeaders()

    def forget(self) -> None:
        """The session is over (the client starts over, or the gateway lost
        it): later requests carry no session."""
        self.sessionId = None
        self.protocolVersion = None
        self.clientInitialized = False
        self._rebuildHeaders()

    def where(self) -> str:
        """The gateway as the messages name it: its URL, else where the
        bridge looks for it."""
        return self.url or self.lookedIn or "(no gateway running)"

    def _rebuildHeaders(self) -> None:
        self.probeHeaders = Headers({b"host": [self.host], **self._owner})
        headers = {
            b"host": [self.host],
            b"content-type": [b"application/json"],
            b"accept": [b"application/json, text/event-stream"],
            **self._owner,
        }
        if self.sessionId is not None:
            headers[b"mcp-session-id"] = [self.sessionId.encode("ascii")]
        if self.protocolVersion is not None:
            headers[b"mcp-protocol-version"] = [self.protocolVersion.encode("ascii")]
        self.headers = Headers(headers)

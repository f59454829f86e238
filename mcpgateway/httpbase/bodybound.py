# -*- test-case-name: tests.web.plumbing.test_stock,tests.httpbase.test_chunked_body_bound -*-
"""The body limit every request of the gateway keeps, on Twisted as it
ships and on the tuned path alike: a body over C{bodyLimit} bytes is not
stored (a C{Content-Length} over it is refused before the body comes, a
chunked one as soon as it passes), and a client that goes away before its
answer is finished is told to whoever waits on the request (C{onLost})."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from io import BytesIO
from typing import IO, Any

from twisted.web.server import Request

from mcpgateway.protocol.bounds import MAX_BODY


class BodyBoundedRequest(Request):
    """Twisted's C{Request} with the gateway's body limit; the tuned and the
    stock request both derive from it and differ in how they store what is
    kept (L{keeps})."""

    __slots__ = ()
    bodyLimit = MAX_BODY
    bodyTooLarge: bool
    _bodyBytes: int
    onLost: Callable[[], object] | None

    def connectionLost(self, reason: Any) -> None:
        onLost, self.onLost = self.onLost, None
        super().connectionLost(reason)
        if onLost is not None:
            onLost()

    def gotLength(self, length: int | None) -> None:
        """Where the body goes: nowhere over the limit; else as Twisted
        decides (L{contentFile}), decided here rather than by asking the site."""
        if length is not None and length > self.bodyLimit:
            self.bodyTooLarge = True
            length = 0
        self.content = contentFile(length)

    def keeps(self, data: bytes) -> bool:
        """Whether C{data}, the next piece of the body, is to be stored: not
        once the body is over the limit, when what was stored is dropped
        and L{overBound} is called (once)."""
        if self.bodyTooLarge:
            return False
        self._bodyBytes += len(data)
        if self._bodyBytes <= self.bodyLimit:
            return True
        self.bodyTooLarge = True
        content: IO[bytes] | None = self.content
        if content is not None:
            content.seek(0)
            content.truncate()
        self.overBound()
        return False

    def overBound(self) -> None:
        """The body just passed the limit (nothing by default)."""


def contentFile(length: int | None) -> IO[bytes]:
    """Where a request's body of C{length} announced bytes goes, as Twisted
    decides: memory under 100,000 bytes, else a temporary file."""
    if length is not None and length < 100_000:
        return BytesIO()
    return tempfile.TemporaryFile()

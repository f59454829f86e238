# -*- test-case-name: tests.bridge.test_client,tests.cluster.test_forward -*-
"""A request body held in memory, for C{twisted.web.client.Agent}.

Twisted's C{FileBodyProducer} writes through a cooperator, one chunk per
reactor turn; a JSON-RPC message is already whole in memory, so it is
written at once, with its length known (a C{Content-Length} request, no
chunked encoding).
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IConsumer
from twisted.web.iweb import IBodyProducer
from zope.interface import implementer


@implementer(IBodyProducer)
class BytesProducer:
    """C{body}, written at once when the request starts."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.length: int = len(body)

    def startProducing(self, consumer: IConsumer) -> Deferred[None]:
        if self.body:
            consumer.write(self.body)
        return succeed(None)

    def pauseProducing(self) -> None:
        """Nothing to pause: the body is written at once."""

    def resumeProducing(self) -> None:
        """Nothing to resume: the body is written at once."""

    def stopProducing(self) -> None:
        """Nothing to stop: the body is written at once."""

#!/usr/bin/env python3
"""A maintained HTTP/1.1 parser on a bare Twisted protocol: what twisted.web costs.

The rule: stay on twisted.web unless a maintained library does better.
This is the measurement behind that question. A plain Twisted C{Protocol}
parses requests with httptools (llhttp, the parser of Node.js and uvicorn)
and answers ``tools/call echo`` exactly as ``twfloor.py``'s twisted.web site
does (the caller's id, ``Echo: <message>``, one SSE event in one
Content-Length response, the body decoded and the answer encoded with the
stdlib ``json``). It keeps no request object, headers or resource tree, so
it is a floor, not a design: the difference between the two floors is the
most that moving the gateway's hot path off twisted.web's parser and
``Request`` could save.

``hotpath.py --floor`` drives it in process beside twisted.web when httptools
is installed (``benchmarks/run`` installs it with the "bench" extra).
"""

from __future__ import annotations

import json
from typing import Any

import httptools  # type: ignore[import-not-found, unused-ignore]
from twfloor import echoAnswer
from twisted.internet.protocol import Factory, Protocol


class Floor(Protocol):
    """Answers each complete request in the turn its last byte came."""

    def connectionMade(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.body: list[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self.parser.feed_data(data)

    # httptools' callbacks (the headers and URL are parsed, and ignored here)
    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        message: dict[str, Any] = json.loads(b"".join(self.body))
        self.body = []
        body = echoAnswer(message)
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body)
        )


def makeFactory() -> Factory:
    return Factory.forProtocol(Floor)

#!/usr/bin/env python3
"""Bare twisted.web answering the load generator: the floor under the gateway.

A C{Site} on the epoll reactor (as C{twist} runs the gateway) whose one
resource answers what ``mcpload.py load`` sends, with no MCP behind it:
``initialize`` (a JSON result and an ``Mcp-Session-Id``),
``notifications/initialized`` (202), ``tools/list`` (the echo tool, which the
SDK clients list before calling) and ``tools/call echo`` (``Echo: <message>``
with the caller's id, one C{application/json} response with a Content-Length,
as the gateway answers a quick call). No form parsing, no access log, the body
decoded and the answer encoded with the stdlib ``json``, like the gateway.
So its CPU per call is what any gateway built on twisted.web pays before
it does anything of its own; ``peers.py`` runs it as the reference row
``twisted-web`` beside the gateway.

``makeSite()`` is the same site for ``hotpath.py --floor`` (in process).

Usage: twfloor.py [PORT]  (prints ``listening <port>`` on stdout; stops on SIGTERM)
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from twisted.web.resource import Resource
from twisted.web.server import Request, Site


class Answer(Resource):
    isLeaf = True

    def render_POST(self, request: Any) -> bytes:
        message = json.loads(request.content.read())
        method = message.get("method")
        if "id" not in message:
            request.setResponseCode(202)
            return b""
        if method == "initialize":
            request.setHeader(b"mcp-session-id", os.urandom(16).hex().encode())
            request.setHeader(b"content-type", b"application/json")
            result: dict[str, Any] = {
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "twfloor", "version": "1"},
            }
            return json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode()
        if method == "tools/list":  # what the SDK clients ask before calling
            request.setHeader(b"content-type", b"application/json")
            tools = {"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}
            return json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": tools}).encode()
        request.setHeader(b"content-type", b"application/json")
        return echoAnswer(message)


def echoAnswer(message: dict[str, Any]) -> bytes:
    """The JSON answering the echo call C{message}, as the gateway answers a
    quick call: the caller's id, C{Echo: <message>}."""
    text = "Echo: " + message["params"]["arguments"]["message"]
    answer = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": message["id"],
            "result": {"content": [{"type": "text", "text": text}]},
        },
        separators=(",", ":"),
    ).encode()
    return answer


class NoForms(Request):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parsePOSTFormSubmission", False)
        super().__init__(*args, **kwargs)


class Quiet(Site):
    def log(self, request: Any) -> None:
        pass


def makeSite(reactor: Any = None) -> Site:
    """The floor's site (C{reactor}: its clock; C{hotpath.py --floor} drives
    it in process with a fake one)."""
    site = Quiet(Answer(), reactor=reactor)
    site.requestFactory = NoForms
    return site


def main() -> None:
    from twisted.internet import epollreactor

    epollreactor.install()  # as twist runs the gateway
    from twisted.internet import reactor

    site = makeSite(reactor)
    number = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    port = reactor.listenTCP(number, site, interface="127.0.0.1")  # type: ignore[arg-type]
    sys.stdout.write(f"listening {port.getHost().port}\n")  # type: ignore[attr-defined]
    sys.stdout.flush()
    reactor.run()


if __name__ == "__main__":
    main()

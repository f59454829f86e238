#!/usr/bin/env python3
"""The canned server: a trivial MCP-over-HTTP server for calibration.

``mcpload.py canned`` runs it. It answers what the load generators send, with
canned bodies and no MCP behind them, so what a client kind makes against it
is that client's own ceiling on this machine (``peers.py``'s ``ceiling`` row).
``--corrupt-every N`` answers every Nth call with another call's message and
``--drop-every N`` closes every Nth call's connection: the verifiers' self-check.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from typing import Any

from workerio import PROTOCOL_VERSION, _loads, out

_CANNED_INIT = json.dumps(
    {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {"tools": {"listChanged": True}},
        "serverInfo": {"name": "canned", "version": "1"},
    },
    separators=(",", ":"),
).encode()


_CANNED_TOOLS = b'{"tools":[{"name":"echo","inputSchema":{"type":"object"}}]}'


class CannedServer(asyncio.Protocol):
    """Answers initialize (JSON), notifications (202), tools/list (the echo tool,
    which the SDK clients list before calling), tools/call (the echo, one
    application/json body), GET (an open SSE stream), DELETE (200). No
    validation beyond what it needs."""

    counter = 0
    calls = 0
    corruptEvery = 0  # self-check of the verifier: answer with another call's message
    dropEvery = 0  # self-check: close the connection instead of answering
    lastMessage = ""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buf = bytearray()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            i = head.lower().find(b"content-length:")
            j = head.find(b"\r\n", i)
            length = int(head[i + 15 : j if j >= 0 else len(head)]) if i >= 0 else 0
            if len(buf) < end + 4 + length:
                return
            body = bytes(buf[end + 4 : end + 4 + length])
            del buf[: end + 4 + length]
            if head.startswith(b"GET"):
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"transfer-encoding: chunked\r\n\r\n"
                )
                continue
            if head.startswith(b"DELETE"):
                self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                continue
            msg = _loads(body)
            if "id" not in msg:
                self.transport.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
            elif msg.get("method") == "tools/list":
                rid = json.dumps(msg["id"]).encode()
                payload = b'{"jsonrpc":"2.0","id":%s,"result":%s}' % (rid, _CANNED_TOOLS)
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(payload), payload)
                )
            elif msg.get("method") == "initialize":
                CannedServer.counter += 1
                payload = b'{"jsonrpc":"2.0","id":%s,"result":%s}' % (
                    json.dumps(msg["id"]).encode(),
                    _CANNED_INIT,
                )
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"mcp-session-id: canned-%d\r\ncontent-length: %d\r\n\r\n%s"
                    % (CannedServer.counter, len(payload), payload)
                )
            else:
                CannedServer.calls += 1
                n = CannedServer.calls
                if self.dropEvery and n % self.dropEvery == 0:
                    self.transport.close()
                    return
                message = msg["params"]["arguments"]["message"]
                if self.corruptEvery and n % self.corruptEvery == 0 and CannedServer.lastMessage:
                    message, CannedServer.lastMessage = CannedServer.lastMessage, message
                else:
                    CannedServer.lastMessage = message
                text = json.dumps("Echo: " + message)
                # One application/json body, as the gateway answers a quick
                # call: what every client kind reads cheapest (an SSE answer
                # costs the SDK clients a connection per call).
                answer = (
                    b'{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":%s}]}}'
                    % (
                        json.dumps(msg["id"]).encode(),
                        text.encode(),
                    )
                )
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(answer), answer)
                )


async def runCanned(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    CannedServer.corruptEvery = args.corrupt_every
    CannedServer.dropEvery = args.drop_every
    server = await loop.create_server(CannedServer, "127.0.0.1", args.port, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    stop: asyncio.Future[None] = loop.create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))  # type: ignore[func-returns-value]
    out("listening", port=port, loop=args.loopName)
    await stop  # runs until SIGTERM or SIGINT
    server.close()

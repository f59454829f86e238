"""Drive the gateway's real C{Site} over in-memory transports (no reactor, no
sockets), with fake children: a small HTTP/1.1 client for unit tests."""

from __future__ import annotations

import json
import sys
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.tasks.manager import TaskManager
from mcpgateway.web.app import makeSite
from tests.fakes import FakeProcess, FakeProcessReactor, fakeSpawner
from tests.support.web.httphead import parseHead

ACCEPT_BOTH = "application/json, text/event-stream"


class Response:
    """One HTTP exchange; read it again after the fake child has answered."""

    def __init__(self, transport: StringTransport) -> None:
        self.transport = transport

    def _split(self) -> tuple[str, dict[str, str], bytes]:
        raw = self.transport.value()
        head, _, body = raw.partition(b"\r\n\r\n")
        start, headers = parseHead(head)
        return start, headers, body

    @property
    def status(self) -> int:
        return int(self._split()[0].split()[1])

    @property
    def headers(self) -> dict[str, str]:
        return self._split()[1]

    @property
    def body(self) -> bytes:
        _, headers, body = self._split()
        if headers.get("transfer-encoding") == "chunked":
            return _dechunk(body)[0]
        return body

    @property
    def complete(self) -> bool:
        """Whether the response has ended (last chunk, or full content-length)."""
        if b"\r\n\r\n" not in self.transport.value():
            return False
        _, headers, body = self._split()
        if headers.get("transfer-encoding") == "chunked":
            return _dechunk(body)[1]
        return len(body) >= int(headers.get("content-length", "0"))

    def json(self) -> Any:
        return json.loads(self.body)

    def events(self) -> list[dict[str, Any]]:
        """The messages received so far: the SSE events, or the one message
        of an C{application/json} answer once it is complete."""
        if self.headers.get("content-type") == "application/json":
            return [self.json()] if self.complete else []
        out = []
        for frame in self.body.split(b"\n\n"):
            data = [line[6:] for line in frame.split(b"\n") if line.startswith(b"data: ")]
            if data:
                out.append(json.loads(b"\n".join(data)))
        return out

    def comments(self) -> list[bytes]:
        return [line for line in self.body.split(b"\n") if line.startswith(b":")]


def _dechunk(body: bytes) -> tuple[bytes, bool]:
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        if not _:
            break
        length = int(size, 16)
        if length == 0:
            return out, True
        out += rest[:length]
        body = rest[length + 2 :]
    return out, False


def sendLines(site: Any, lines: list[str], data: bytes, peer: str = "127.0.0.1") -> Response:
    """Send C{site} a request of the request and header C{lines} and the body
    C{data}, over a new connection from C{peer}; its response."""
    transport = StringTransport(peerAddress=IPv4Address("TCP", peer, 50000))
    protocol = site.buildProtocol(transport.getPeer())
    protocol.makeConnection(transport)
    protocol.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
    response = Response(transport)
    response.protocol = protocol  # type: ignore[attr-defined]
    return response


class Harness:
    """A gateway with fake children behind a real Site."""

    def __init__(
        self,
        servers: dict[str, ServerSpec] | None = None,
        maxBody: int = 4096,
        loopbackOnly: bool = True,
        tasks: TaskManager | None = None,
        reactor: FakeProcessReactor | None = None,
        team: Any = None,
    ) -> None:
        """
        @param tasks: the gateway's tasks (C{None}: none, the
            endpoints forward to their pools at once; a running gateway
            always has them).
        @param reactor: the gateway's (C{None}: a new one), for C{tasks}
            made on its clock.
        @param team: what stands in front of the endpoints
            (L{mcpgateway.web.teamcluster.TeamServices}; C{None}: nothing).
        """
        self.reactor = reactor if reactor is not None else FakeProcessReactor()
        specs = servers or {"srv": spec("srv")}
        self.gateway = Gateway(specs, fakeSpawner(self.reactor), lazyStart=False, tasks=tasks)
        self.site = makeSite(
            self.gateway, self.reactor, loopbackOnly=loopbackOnly, maxBody=maxBody, team=team
        )

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        session: str | None = None,
        accept: str | None = ACCEPT_BOTH,
        contentType: str | None = "application/json",
        peer: str = "127.0.0.1",
    ) -> Response:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        hdrs = {"host": "127.0.0.1:9100"}
        if accept is not None:
            hdrs["accept"] = accept
        if method in ("POST", "PATCH", "PUT") and contentType is not None:
            hdrs["content-type"] = contentType
        if session is not None:
            hdrs["mcp-session-id"] = session
        hdrs.update(headers or {})
        hdrs["content-length"] = str(len(data))
        lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in hdrs.items()]
        return sendLines(self.site, lines, data, peer)

    def process(self, index: int = -1) -> FakeProcess:
        return self.reactor.processes[index]

    def initialize(
        self,
        server: str = "srv",
        version: str = "2025-11-25",
        capabilities: dict[str, Any] | None = None,
        requestId: Any = 1,
        answerChild: bool = True,
        served: Any = None,
    ) -> str:
        """Open a session (answering the child's handshake if needed, the
        child declaring C{served}: L{answerHandshake}); its id."""
        response = self.request(
            "POST",
            f"/{server}/mcp",
            initializeMessage(version, capabilities or {}, requestId=requestId),
        )
        if answerChild and not response.complete:
            self.answerHandshake(capabilities=served)
        assert response.status == 200, response.body
        return response.headers["mcp-session-id"]

    def answerHandshake(self, index: int = -1, capabilities: Any = None) -> None:
        """The child at C{index} answers the last initialize it got,
        declaring C{capabilities} (tools, unless given)."""
        proc = self.process(index)
        init = [m for m in proc.sentMessages() if m.get("method") == "initialize"][-1]
        proc.reply(
            {
                "jsonrpc": "2.0",
                "id": init["id"],
                "result": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {"tools": {}} if capabilities is None else capabilities,
                    "serverInfo": {"name": "fake", "version": "0"},
                },
            }
        )


def initializeMessage(
    version: str = "2025-11-25",
    capabilities: Any = None,
    clientInfo: Any = None,
    requestId: Any = 1,
) -> dict[str, Any]:
    """An C{initialize} request (C{clientInfo} by default: test, version 1)."""
    return {
        "jsonrpc": "2.0",
        "id": requestId,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {} if capabilities is None else capabilities,
            "clientInfo": {"name": "test", "version": "1"} if clientInfo is None else clientInfo,
        },
    }


def spec(
    name: str,
    mode: str = "stateless",
    executable: str | None = sys.executable,
    timeout: float = 60.0,
) -> ServerSpec:
    return ServerSpec(
        name=name, command="fake-server", mode=mode, requestTimeout=timeout, executable=executable
    )

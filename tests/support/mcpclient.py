"""The integration tests' one MCP client over raw HTTP: both eras of the
protocol, and every status, header and byte of each answer.

The tests that need the gateway's own refusals (a status, a header, a
body an SDK would hide or turn into an exception) or headers of their own
(a bearer token, an C{Origin}) speak through this module; tests that only
need a working client use a real SDK.

- L{request} sends one HTTP request on a connection of its own (so that a
  gateway that restarts has no idle connection to wait for) and returns a
  L{Reply}: status, headers, body, and the JSON-RPC messages in it (one JSON
  document, or each C{data} of an SSE stream, as L{SseParser} reads it).
- L{Session} is a handshake-era client (2024-11-05 … 2025-11-25):
  C{initialize}, C{notifications/initialized}, the C{Mcp-Session-Id} and
  C{MCP-Protocol-Version} headers on what follows, C{DELETE} at the end.
- L{Client2026} is a 2026-07-28 client: no session, the C{_meta} envelope on
  every request and the C{MCP-Protocol-Version}, C{Mcp-Method} and
  C{Mcp-Name} headers that must agree with it.
"""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import ssl
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests import http as harness

ACCEPT = "application/json, text/event-stream"
VERSION_2025 = "2025-11-25"
VERSION_2026 = "2026-07-28"
META = "io.modelcontextprotocol/"
"""The prefix of the 2026 envelope's keys in C{params._meta}."""


# -- SSE ----------------------------------------------------------------------------------


@dataclass
class SseEvent:
    """One dispatched SSE event: its fields as text (C{data} lines joined by
    newlines); C{None} for a field the event did not carry."""

    data: str | None = None
    event: str | None = None
    id: str | None = None
    retry: str | None = None

    def fields(self) -> dict[str, str]:
        """The fields the event carried, by name."""
        named = {"data": self.data, "event": self.event, "id": self.id, "retry": self.retry}
        return {name: value for name, value in named.items() if value is not None}

    def json(self) -> Any:
        """The event's data as a JSON document."""
        assert self.data is not None, self
        return json.loads(self.data)


class SseParser:
    """Reads an SSE stream fed in pieces of any size: each blank line ends
    an event that carried at least one field (so a priming event with an
    C{id} and an empty C{data} is seen too); comment lines are skipped;
    lines end in CRLF, LF or CR."""

    def __init__(self) -> None:
        self._buffer = b""
        self._current = SseEvent()
        self._fields = False
        self._pendingCR = False

    def feed(self, data: bytes) -> list[SseEvent]:
        """The events that C{data} completes."""
        if self._pendingCR and data.startswith(b"\n"):
            data = data[1:]
        self._pendingCR = False
        self._buffer += data
        out: list[SseEvent] = []
        while True:
            ends = [i for i in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if i >= 0]
            if not ends:
                return out
            end = min(ends)
            line = self._buffer[:end]
            skip = end + 1
            if self._buffer[end : end + 1] == b"\r":
                if end + 1 == len(self._buffer):
                    self._pendingCR = True
                elif self._buffer[end + 1 : end + 2] == b"\n":
                    skip = end + 2
            self._buffer = self._buffer[skip:]
            event = self._line(line.decode("utf-8", "replace"))
            if event is not None:
                out.append(event)

    def _line(self, text: str) -> SseEvent | None:
        if text == "":
            if not self._fields:
                return None
            event, self._current, self._fields = self._current, SseEvent(), False
            return event
        if text.startswith(":"):
            return None
        name, _, value = text.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            current = self._current.data
            self._current.data = value if current is None else current + "\n" + value
        elif name in ("event", "id", "retry"):
            setattr(self._current, name, value)
        else:
            return None
        self._fields = True
        return None


def parseSse(data: bytes) -> list[SseEvent]:
    """Every complete event of the SSE stream C{data}."""
    return SseParser().feed(data)


def messagesOf(contentType: str, body: bytes) -> list[Any]:
    """The JSON-RPC messages of an answer: each non-empty C{data} of an SSE
    stream, the JSON document of any other body, none of an empty one."""
    if contentType.split(";")[0].strip().lower() == "text/event-stream":
        return [event.json() for event in parseSse(body) if event.data and event.data.strip()]
    if not body.strip():
        return []
    return [json.loads(body)]


# -- one HTTP exchange --------------------------------------------------------------------


class Headers(dict[str, str]):
    """Response headers by name, in any case (kept lower-case): a repeated
    header's values joined by ", "."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        for name, value in pairs:
            key = name.lower()
            super().__setitem__(key, f"{self[key]}, {value}" if key in self else value)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(name.lower(), default)


def bearer(token: str | None) -> dict[str, str]:
    """The C{Authorization} header of C{token}; none for C{None}."""
    return {} if token is None else {"authorization": f"Bearer {token}"}


@dataclass
class Reply:
    """One HTTP answer, whole: C{headers} by name in any case (L{Headers});
    C{headerList} keeps each header as it came."""

    status: int
    headerList: list[tuple[str, str]]
    body: bytes
    headers: Headers = field(init=False)

    def __post_init__(self) -> None:
        self.headers = Headers(self.headerList)

    @property
    def contentType(self) -> str:
        return self.headers.get("content-type") or ""

    @property
    def session(self) -> str | None:
        """The C{Mcp-Session-Id} the answer names."""
        return self.headers.get("mcp-session-id")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def events(self) -> list[SseEvent]:
        return parseSse(self.body)

    @property
    def messages(self) -> list[Any]:
        return messagesOf(self.contentType, self.body)

    @property
    def answer(self) -> Any:
        """The last message of the answer that is a response (it has an
        C{id} and a C{result} or C{error}), else its last message, else
        C{None}."""
        messages = self.messages
        responses = [m for m in messages if isinstance(m, dict) and ("result" in m or "error" in m)]
        if responses:
            return responses[-1]
        return messages[-1] if messages else None

    def json(self) -> Any:
        return json.loads(self.body)


def connect(
    url: str, timeout: float = 30.0, context: ssl.SSLContext | None = None
) -> tuple[http.client.HTTPConnection, str]:
    """An C{http.client} connection to C{url}'s host, and the path to send."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname or "127.0.0.1", port, timeout=timeout, context=context
        )
    else:
        connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", port, timeout=timeout
        )
    return connection, pathOf(url)


def pathOf(url: str) -> str:
    """What a request for C{url} names after its method."""
    parts = urllib.parse.urlsplit(url)
    return (parts.path or "/") + ("?" + parts.query if parts.query else "")


def prepared(
    method: str, body: Any, headers: Mapping[str, str] | None
) -> tuple[bytes | None, dict[str, str]]:
    """C{body} as JSON (bytes as they are), and the headers: for a POST the
    C{Content-Type} and C{Accept} an MCP client sends unless C{headers}
    names its own."""
    sent = {"content-type": "application/json", "accept": ACCEPT} if method == "POST" else {}
    sent.update({k.lower(): v for k, v in (headers or {}).items()})
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    return data, sent


def exchange(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Any,
    headers: Mapping[str, str] | None,
) -> Reply:
    """One HTTP request on C{connection}, whatever its status (L{prepared})."""
    data, sent = prepared(method, body, headers)
    connection.request(method, path, data, sent)
    response = connection.getresponse()
    return Reply(response.status, response.getheaders(), response.read())


def request(
    url: str,
    method: str = "POST",
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    context: ssl.SSLContext | None = None,
) -> Reply:
    """L{exchange} on a connection of its own."""
    connection, path = connect(url, timeout, context)
    try:
        return exchange(connection, method, path, body, headers)
    finally:
        connection.close()


def post(url: str, message: Any, headers: Mapping[str, str] | None = None, **kw: Any) -> Reply:
    """POST one JSON-RPC message (or any JSON, or raw bytes)."""
    return request(url, "POST", message, headers, **kw)


@dataclass
class Stream:
    """An answer read as it arrives: its status and headers at once, its
    SSE events one by one (L{next}), until the test closes it."""

    connection: http.client.HTTPConnection
    response: http.client.HTTPResponse
    parser: SseParser = field(default_factory=SseParser)
    pending: list[SseEvent] = field(default_factory=list)

    @property
    def status(self) -> int:
        return self.response.status

    def header(self, name: str) -> str | None:
        return self.response.getheader(name)

    def next(self) -> SseEvent | None:
        """The next event, or C{None} once the stream ended."""
        while not self.pending:
            line = self.response.readline()
            if not line:
                return None
            self.pending.extend(self.parser.feed(line))
        return self.pending.pop(0)

    def events(self, stopAfter: int | None = None) -> list[SseEvent]:
        """Events until the stream ends, or C{stopAfter} of them."""
        out: list[SseEvent] = []
        while stopAfter is None or len(out) < stopAfter:
            event = self.next()
            if event is None:
                break
            out.append(event)
        return out

    def read(self) -> bytes:
        """The rest of the answer; then the connection is closed."""
        try:
            return self.response.read()
        finally:
            self.close()

    def close(self) -> None:
        """Drop the answer and its connection, as a client that goes away."""
        self.response.close()
        self.connection.close()


class Listener:
    """A standalone SSE stream (a session's GET), open once this is made,
    its messages read on a thread into C{messages} until it ends."""

    def __init__(self, url: str, headers: Mapping[str, str], timeout: float = 60.0) -> None:
        self.messages: list[Any] = []
        listening = {"accept": "text/event-stream", **headers}
        self.stream = stream(url, "GET", None, listening, timeout)
        assert self.stream.status == 200, self.stream.status
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while (event := self.stream.next()) is not None:
                if event.data and event.data.strip():
                    self.messages.append(event.json())
        except (OSError, ValueError):
            pass  # the gateway stopped, or the test closed the stream

    def close(self) -> None:
        self.stream.close()


def stream(
    url: str,
    method: str = "POST",
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Stream:
    """L{request}, its answer left open to be read event by event."""
    data, sent = prepared(method, body, headers)
    connection, path = connect(url, timeout)
    connection.request(method, path, data, sent)
    return Stream(connection, connection.getresponse())


def listSessions(port: int, headers: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """C{GET /sessions} of the gateway on loopback C{port}: its sessions."""
    reply = request(f"http://127.0.0.1:{port}/sessions", "GET", None, headers, timeout=5)
    assert reply.status == 200, (reply.status, reply.text)
    body = reply.json()
    return body["sessions"] if isinstance(body, dict) else body  # type: ignore[no-any-return]


# -- the handshake era --------------------------------------------------------------------


def initializeMessage(
    requestId: Any = 0,
    version: str = VERSION_2025,
    capabilities: dict[str, Any] | None = None,
    name: str = "tests",
) -> dict[str, Any]:
    """An C{initialize} request from a client called C{name}."""
    return harness.initializeMessage(
        version, capabilities, {"name": name, "version": "1"}, requestId
    )


class RpcError(AssertionError):
    """A request that was not answered with a C{result}."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"HTTP {reply.status}: {reply.text[:500]}")
        self.reply = reply

    @property
    def status(self) -> int:
        return self.reply.status

    @property
    def body(self) -> bytes:
        return self.reply.body


class Session:
    """One handshake-era MCP session on C{url} over raw HTTP: C{headers}
    (a bearer token, an C{Origin}) go on every request of it. Given an
    C{id}, it speaks in that session without initializing (one a previous
    process opened, one another client holds). Each request has a
    connection of its own unless C{keepAlive}: then one connection serves
    them all, opened again after the server closed it or it failed."""

    def __init__(
        self,
        url: str,
        version: str = VERSION_2025,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        name: str = "tests",
        context: ssl.SSLContext | None = None,
        id: str | None = None,
        keepAlive: bool = False,
    ) -> None:
        self.url = url
        self.keepAlive = keepAlive
        self.connection: http.client.HTTPConnection | None = None
        self.version = version
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.name = name
        self.context = context
        self.id = id
        self._ids = itertools.count(1)

    def sessionHeaders(self) -> dict[str, str]:
        """The headers on each request: C{headers}, and once initialized
        the session id and the negotiated version."""
        sent = dict(self.headers)
        if self.id is not None:
            sent["mcp-session-id"] = self.id
            sent["mcp-protocol-version"] = self.version
        return sent

    def post(self, message: Any, headers: Mapping[str, str] | None = None) -> Reply:
        """POST C{message} in this session, whatever the answer."""
        sent = {**self.sessionHeaders(), **(headers or {})}
        if not self.keepAlive:
            return post(self.url, message, sent, timeout=self.timeout, context=self.context)
        if self.connection is None:
            self.connection, _ = connect(self.url, self.timeout, self.context)
        try:
            reply = exchange(self.connection, "POST", pathOf(self.url), message, sent)
        except Exception:
            self.close()
            raise
        if (reply.headers.get("connection") or "").lower() == "close":
            self.close()
        return reply

    def close(self) -> None:
        """Close the kept-alive connection, if one is open."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def open(self, capabilities: dict[str, Any] | None = None) -> Any:
        """C{initialize} then C{notifications/initialized}: the result."""
        reply = self.post(initializeMessage(0, self.version, capabilities, self.name))
        answer = reply.answer
        if reply.status != 200 or not isinstance(answer, dict) or "result" not in answer:
            raise RpcError(reply)
        self.id = reply.session
        assert self.id, reply.headers
        initialized = self.notify("notifications/initialized")
        assert initialized.status == 202, (initialized.status, initialized.text)
        return answer["result"]

    def send(
        self, method: str, params: dict[str, Any] | None = None, requestId: Any = None
    ) -> Reply:
        """A request C{method} (the next id unless C{requestId}), its reply."""
        message: dict[str, Any] = {
            "jsonrpc": "2.0",
            "id": next(self._ids) if requestId is None else requestId,
            "method": method,
        }
        if params is not None:
            message["params"] = params
        return self.post(message)

    def request(
        self, method: str, params: dict[str, Any] | None = None, requestId: Any = None
    ) -> Any:
        """L{send}, its response message (a C{result} or an C{error})."""
        return self.send(method, params, requestId).answer

    def result(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """L{send}, its C{result}; L{RpcError} for anything else."""
        reply = self.send(method, params)
        answer = reply.answer
        if not isinstance(answer, dict) or "result" not in answer:
            raise RpcError(reply)
        return answer["result"]

    def call(self, tool: str, arguments: dict[str, Any] | None = None) -> Any:
        """C{tools/call}'s result."""
        return self.result("tools/call", {"name": tool, "arguments": arguments or {}})

    def notify(self, method: str, params: dict[str, Any] | None = None) -> Reply:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        return self.post(message)

    def listen(self) -> Listener:
        """The session's GET stream, read on a thread."""
        return Listener(self.url, self.sessionHeaders(), max(self.timeout, 60.0))

    def delete(self) -> Reply:
        """C{DELETE} the session."""
        return request(self.url, "DELETE", None, self.sessionHeaders(), self.timeout, self.context)


# -- 2026-07-28 ---------------------------------------------------------------------------


def headerValue(value: str) -> str:
    """C{value} as an C{Mcp-Name} header carries it: as it is when it is
    visible ASCII, else in the C{=?base64?…?=} form."""
    if value and all(0x20 < ord(c) < 0x7F or c == " " for c in value) and value.strip() == value:
        return value
    return "=?base64?" + base64.b64encode(value.encode()).decode() + "?="


NAMED = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
"""The 2026 methods whose C{Mcp-Name} header repeats a member of C{params}."""


class Client2026:
    """A 2026-07-28 client on C{url}: every request carries the envelope
    (version, C{capabilities}, client info) in C{params._meta} and the
    routing headers that agree with it, plus C{headers}."""

    def __init__(
        self,
        url: str,
        capabilities: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        name: str = "tests",
        version: str = VERSION_2026,
    ) -> None:
        self.url = url
        self.capabilities = capabilities if capabilities is not None else {}
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.name = name
        self.version = version
        self._ids = itertools.count(1)

    def envelope(self) -> dict[str, Any]:
        return {
            META + "protocolVersion": self.version,
            META + "clientCapabilities": self.capabilities,
            META + "clientInfo": {"name": self.name, "version": "1"},
        }

    def message(
        self, method: str, params: dict[str, Any] | None = None, requestId: Any = None
    ) -> dict[str, Any]:
        """The request C{method} with the envelope added to C{params}."""
        given = dict(params or {})
        given["_meta"] = {**self.envelope(), **given.get("_meta", {})}
        return {
            "jsonrpc": "2.0",
            "id": next(self._ids) if requestId is None else requestId,
            "method": method,
            "params": given,
        }

    def routing(self, message: dict[str, Any]) -> dict[str, str]:
        """The headers C{message} must carry."""
        sent = {"mcp-protocol-version": self.version, "mcp-method": message["method"]}
        named = NAMED.get(message["method"])
        target = message.get("params", {}).get(named) if named else None
        if isinstance(target, str):
            sent["mcp-name"] = headerValue(target)
        return sent

    def post(self, message: dict[str, Any], headers: Mapping[str, str] | None = None) -> Reply:
        """POST C{message} as it is, with the routing headers it implies
        (C{headers} override them)."""
        sent = {**self.headers, **self.routing(message), **(headers or {})}
        return post(self.url, message, sent, timeout=self.timeout)

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        name: str | None = None,
        requestId: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """The request C{method}, its reply; C{name} is its C{Mcp-Name}
        where the method is not one whose name this client knows."""
        named = {} if name is None else {"mcp-name": headerValue(name)}
        return self.post(self.message(method, params, requestId), {**named, **(headers or {})})

    def request(
        self, method: str, params: dict[str, Any] | None = None, name: str | None = None, **kw: Any
    ) -> Any:
        """L{send}, its response message."""
        return self.send(method, params, name, **kw).answer

    def result(
        self, method: str, params: dict[str, Any] | None = None, name: str | None = None, **kw: Any
    ) -> Any:
        """L{send}, its C{result}; L{RpcError} for anything else."""
        reply = self.send(method, params, name, **kw)
        answer = reply.answer
        if not isinstance(answer, dict) or "result" not in answer:
            raise RpcError(reply)
        return answer["result"]

    def call(self, tool: str, arguments: dict[str, Any] | None = None, **kw: Any) -> Any:
        """C{tools/call}'s result."""
        return self.result("tools/call", {"name": tool, "arguments": arguments or {}}, **kw)

    def discover(self) -> Any:
        return self.result("server/discover")

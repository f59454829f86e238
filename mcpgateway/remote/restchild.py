# -*- test-case-name: tests.remote.test_openapi -*-
"""A REST API served as an MCP server: the child of an C{"type": "openapi"}
entry.

A L{RestChild} answers the MCP requests the router writes to it itself:
C{initialize} (once the OpenAPI document is read: from a file, or fetched
from its URL with the server's own HTTP client), C{ping}, C{tools/list}
(L{mcpgateway.remote.openapi}), and C{tools/call}, which becomes one HTTP
request to the API's base URL with the entry's headers (and the gateway's
OAuth token for the server, after C{mcpgateway login}). The answer's body is
the tool's text; a JSON object is its C{structuredContent} too when the tool
declares an output schema; an HTTP error is a tool error (C{isError}), so the
model sees what the API said. Answers are delivered on a later reactor turn,
as a process's would be.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IResponse

from mcpgateway.core.spec import RemoteEndpoint
from mcpgateway.protocol import jsonrpc, versions
from mcpgateway.remote.base import RemoteChildBase
from mcpgateway.remote.oauth.credentials import UpstreamCredentials
from mcpgateway.remote.openapi import Api, SpecError, parseApi
from mcpgateway.remote.sse import readBody, reasonOf
from mcpgateway.runtime.bodies import BytesProducer

MAX_TEXT = 1024 * 1024
"""The longest answer body given to a model as text (longer is cut, and says so)."""


class RestChild(RemoteChildBase):
    """One REST API, held like a child process."""

    def __init__(
        self,
        name: str,
        endpoint: RemoteEndpoint,
        agent: IAgent,
        clock: IReactorTime,
        onMessage: Callable[[jsonrpc.Message], None],
        onStderr: Callable[[str], None] | None = None,
        credentials: UpstreamCredentials | None = None,
    ) -> None:
        super().__init__(name, onMessage, onStderr)
        self.endpoint = endpoint
        self._agent = agent
        self._clock = clock
        self._credentials = credentials
        self.api: Api | None = None
        self._waiters: list[Deferred[Api]] = []

    # -- what the router writes -----------------------------------------------

    def send(self, message: jsonrpc.Message) -> None:
        if self.exited or "method" not in message or "id" not in message:
            return  # notifications, and answers to requests it never makes
        method = message["method"]
        if method == "initialize":
            self._load().addCallbacks(
                lambda api: self._answer(message, self._initialized(message, api)),
                lambda reason: self._refuse(message, reason),
            )
        elif method == "ping":
            self._later(message, {})
        elif method == "tools/list":
            self._load().addCallbacks(
                lambda api: self._answer(
                    message, {"tools": [op.tool() for op in api.operations.values()]}
                ),
                lambda reason: self._refuse(message, reason),
            )
        elif method == "tools/call":
            self._load().addCallbacks(
                lambda api: self._call(api, message),
                lambda reason: self._refuse(message, reason),
            )
        else:
            self._later(
                message,
                error=jsonrpc.errorResponse(
                    message["id"], jsonrpc.METHOD_NOT_FOUND, f"{method} is not served"
                ),
            )

    # -- the document ---------------------------------------------------------

    def _load(self) -> Deferred[Api]:
        """The API, read once; the requests that come while it is read wait
        for it, and a failed read is tried again by the next request."""
        if self.api is not None:
            return succeed(self.api)
        waiter: Deferred[Api] = Deferred()
        self._waiters.append(waiter)
        if len(self._waiters) == 1:
            spec = self.endpoint.spec or ""
            if spec.startswith(("http://", "https://")):
                loading = self._fetch(spec)
            else:
                loading = self._read(Path(spec))
            loading.addBoth(self._loaded)
        return waiter

    def _loaded(self, result: Api | Failure) -> None:
        waiters, self._waiters = self._waiters, []
        if isinstance(result, Failure):
            self._said(f"server '{self.name}': its OpenAPI document: {result.getErrorMessage()}")
            for waiter in waiters:
                waiter.errback(result)
            return
        for waiter in waiters:
            waiter.callback(result)

    def _read(self, path: Path) -> Deferred[Api]:
        try:
            document = json.loads(path.read_bytes())
        except OSError as e:
            return _failed(SpecError(f"{path} cannot be read ({e.strerror or e})"))
        except ValueError as e:
            return _failed(SpecError(f"{path} is not JSON ({e})"))
        return self._parsed(document)

    def _fetch(self, url: str) -> Deferred[Api]:
        headers = Headers({b"accept": [b"application/json"]})
        d = self._agent.request(b"GET", url.encode("ascii"), headers)

        def answered(response: IResponse) -> Deferred[Api]:
            def body(result: tuple[bytes, Failure]) -> Deferred[Api]:
                if response.code != 200:
                    return _failed(SpecError(f"{url} answered HTTP {response.code}"))
                try:
                    document = json.loads(result[0])
                except ValueError as e:
                    return _failed(SpecError(f"{url} is not JSON ({e})"))
                return self._parsed(document)

            return readBody(response).addCallback(body)

        def unreachable(reason: Failure) -> Failure:
            if reason.check(SpecError):
                return reason
            return Failure(SpecError(f"{url} is not reachable ({reasonOf(reason)})"))

        return d.addCallback(answered).addErrback(unreachable)

    def _parsed(self, document: Any) -> Deferred[Api]:
        try:
            api = parseApi(document)
        except SpecError as e:
            return _failed(e)
        self.api = api
        self.log.info(
            "server {server}: {count} tool(s) from its OpenAPI document ({title} {version})",
            server=self.name,
            count=len(api.operations),
            title=api.title,
            version=api.version,
        )
        return succeed(api)

    def _initialized(self, message: jsonrpc.Message, api: Api) -> dict[str, Any]:
        params = message.get("params")
        asked = params.get("protocolVersion") if isinstance(params, dict) else None
        version = asked if asked in versions.HANDSHAKE_VERSIONS else versions.LATEST
        return {
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": api.title or self.name, "version": api.version or "0"},
        }

    # -- a call -----------------------------------------------------------------

    def baseUrl(self, api: Api) -> str:
        """The entry's C{baseUrl}, else the document's first server (relative
        to the document's URL)."""
        if self.endpoint.url:
            return self.endpoint.url
        spec = self.endpoint.spec or ""
        first = api.servers[0] if api.servers else ""
        return urljoin(spec, first) if spec.startswith(("http://", "https://")) else first

    def _call(self, api: Api, message: jsonrpc.Message) -> None:
        given = message.get("params")
        params: dict[str, Any] = given if isinstance(given, dict) else {}
        operation = api.operations.get(str(params.get("name")))
        if operation is None:
            self._later(
                message,
                error=jsonrpc.errorResponse(
                    message["id"], jsonrpc.INVALID_PARAMS, f"unknown tool: {params.get('name')}"
                ),
            )
            return
        passed = params.get("arguments")
        arguments: dict[str, Any] = passed if isinstance(passed, dict) else {}
        try:
            path, extra, body = operation.request(arguments)
        except ValueError as e:
            self._later(message, _toolError(str(e)))
            return
        base = self.baseUrl(api)
        if urlsplit(base).scheme not in ("http", "https"):
            self._later(message, _toolError(f"server '{self.name}' has no base URL (baseUrl)"))
            return
        url = base.rstrip("/") + path
        headers = Headers({b"accept": [b"application/json"]})
        for key, value in (*self.endpoint.headers, *extra.items()):
            headers.setRawHeaders(key.encode("latin-1"), [value.encode("latin-1")])
        if self._credentials is not None and not headers.hasHeader(b"authorization"):
            bearer = self._credentials.authorization(self.name)
            if bearer is not None:
                headers.setRawHeaders(b"authorization", [bearer.encode("ascii")])
        producer = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            self.bytesOut += len(data)
            headers.setRawHeaders(b"content-type", [b"application/json"])
            producer = BytesProducer(data)
        d = self._agent.request(
            operation.method.upper().encode("ascii"), url.encode("ascii"), headers, producer
        )
        d.addCallback(self._called, message, operation.outputSchema is not None)
        d.addErrback(
            lambda reason: self._answer(
                message, _toolError(f"{url} is not reachable ({reasonOf(reason)})")
            )
        )
        d.addErrback(self._bug, "calling an API")

    def _called(self, response: IResponse, message: jsonrpc.Message, structured: bool) -> Any:
        def body(result: tuple[bytes, Failure]) -> None:
            data = result[0]
            self.bytesIn += len(data)
            text = data[:MAX_TEXT].decode("utf-8", "replace")
            if len(data) > MAX_TEXT:
                text += f"\n[cut: the answer has {len(data)} bytes]"
            if not 200 <= response.code < 300:
                self._answer(message, _toolError(f"HTTP {response.code}: {text}".strip()))
                return
            answer: dict[str, Any] = {
                "content": [{"type": "text", "text": text or f"HTTP {response.code} (no body)"}]
            }
            if structured:
                try:
                    value = json.loads(data)
                except ValueError:
                    value = None
                if isinstance(value, dict):
                    answer["structuredContent"] = value
            self._answer(message, answer)

        return readBody(response).addCallback(body)

    # -- answers ----------------------------------------------------------------

    def _answer(self, message: jsonrpc.Message, result: dict[str, Any]) -> None:
        self._later(message, result)

    def _refuse(self, message: jsonrpc.Message, reason: Failure) -> None:
        text = f"server '{self.name}': {reason.getErrorMessage()}"
        self._later(
            message,
            error=jsonrpc.errorResponse(message["id"], jsonrpc.SERVER_UNAVAILABLE, text),
        )

    def _later(
        self,
        message: jsonrpc.Message,
        result: dict[str, Any] | None = None,
        error: jsonrpc.Message | None = None,
    ) -> None:
        answer = error if error is not None else jsonrpc.resultResponse(message["id"], result)
        self._clock.callLater(0, self._deliver, answer)

    def _deliver(self, answer: jsonrpc.Message) -> None:
        if self.exited:
            return
        self.responses += 1
        try:
            self._onMessage(answer)
        except Exception:
            self.log.failure("routing an answer of server {server} failed", server=self.name)

    # -- the end ----------------------------------------------------------------

    def signal(self, name: str) -> None:
        self._end(f"closed by the gateway (SIG{name})")

    def stop(self, graceTime: float = 2.0, termTime: float = 3.0) -> Deferred[None]:
        self._end("closed by the gateway")
        return succeed(None)


def _toolError(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


def _failed(error: Exception) -> Deferred[Api]:
    d: Deferred[Api] = Deferred()
    d.errback(Failure(error))
    return d

# -*- test-case-name: tests.remote.test_openapi -*-
"""A REST API served as an MCP server: the child of an C{"type": "openapi"}
entry.

A L{RestChild} answers the MCP requests the router writes to it itself:
C{initialize} (once the OpenAPI document is read: from a file, or fetched
from its URL with the server's own HTTP client), C{ping}, C{tools/list}
(L{mcpgateway.remote.openapi}), and C{tools/call}, which becomes one HTTP
request to the API's base URL with the entry's headers and a bearer token:
the client credentials' (L{ClientCredentialsToken}), else the gateway's
token for the principal the child serves (after C{mcpgateway login}, or a
principal's sign-in). A 401 gets a new token (the client credentials'
next, the login's refreshed one) and the request is sent again, once; a 401
the gateway has no token for is a tool error naming the login. The answer's body is
the tool's text; a JSON object is its C{structuredContent} too when the tool
declares an output schema; an HTTP error is a tool error (C{isError}), so the
model sees what the API said; a path parameter that would name another path
(C{..}) is the call's JSON-RPC invalid-params error, and nothing is sent.
Answers are delivered on a later reactor turn, as a process's would be.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
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
from mcpgateway.remote.oauth.clientcredentials import (
    ClientCredentialsError,
    ClientCredentialsToken,
)
from mcpgateway.remote.oauth.credentials import UpstreamCredentials, loginNeeded
from mcpgateway.remote.openapi import Api, InvalidArgument, SpecError, parseApi
from mcpgateway.remote.ratelimited import upstreamRateLimited
from mcpgateway.remote.sse import headerOf, readBody, reasonOf
from mcpgateway.runtime.bytesproducer import BytesProducer

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
        clientToken: ClientCredentialsToken | None = None,
    ) -> None:
        """
        @param credentials: the gateway's upstream OAuth grants (C{mcpgateway login}).
        @param clientToken: the token of the entry's client credentials
            (C{None}: it has none).
        """
        super().__init__(name, onMessage, onStderr)
        self.endpoint = endpoint
        self._agent = agent
        self._clock = clock
        self._credentials = credentials
        self._clientToken = clientToken
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
            Deferred.fromCoroutine(self._document()).addBoth(self._loaded)
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

    async def _document(self) -> Api:
        """The entry's OpenAPI document, read from its file or fetched from
        its URL, and parsed; L{SpecError} says why not."""
        spec = self.endpoint.spec or ""
        if spec.startswith(("http://", "https://")):
            return await self._fetch(spec)
        path = Path(spec)
        try:
            document = json.loads(path.read_bytes())
        except OSError as e:
            raise SpecError(f"{path} cannot be read ({e.strerror or e})") from None
        except ValueError as e:
            raise SpecError(f"{path} is not JSON ({e})") from None
        return self._parsed(document)

    async def _fetch(self, url: str) -> Api:
        headers = Headers({b"accept": [b"application/json"]})
        try:
            response = await self._agent.request(b"GET", url.encode("ascii"), headers)
            body, _ = await readBody(response)
            if response.code != 200:
                raise SpecError(f"{url} answered HTTP {response.code}")
            try:
                document = json.loads(body)
            except ValueError as e:
                raise SpecError(f"{url} is not JSON ({e})") from None
            return self._parsed(document)
        except SpecError:
            raise
        except Exception:
            raise SpecError(f"{url} is not reachable ({reasonOf(Failure())})") from None

    def _parsed(self, document: Any) -> Api:
        api = parseApi(document)  # SpecError: the document is not one
        self.api = api
        self.log.info(
            "server {server}: {count} tool(s) from its OpenAPI document ({title} {version})",
            server=self.name,
            count=len(api.operations),
            title=api.title,
            version=api.version,
        )
        return api

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
        except InvalidArgument as e:
            self._later(
                message,
                error=jsonrpc.errorResponse(
                    message["id"], jsonrpc.INVALID_PARAMS, f"Invalid params: {e}"
                ),
            )
            return
        except ValueError as e:
            self._later(message, _toolError(str(e)))
            return
        base = self.baseUrl(api)
        if urlsplit(base).scheme not in ("http", "https"):
            self._later(message, _toolError(f"server '{self.name}' has no base URL (baseUrl)"))
            return
        headers = (*self.endpoint.headers, *extra.items())
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = _Request(
            operation.method.upper().encode("ascii"),
            base.rstrip("/") + path,
            base,
            headers,
            data,
            operation.outputSchema is not None,
        )
        self._send(message, request)

    def _send(self, message: jsonrpc.Message, request: _Request, again: bool = False) -> None:
        """Make C{request} with its token (once more after a 401: C{again})."""
        d = self._bearer(request)

        def send(bearer: str | None) -> Deferred[None]:
            headers = Headers({b"accept": [b"application/json"]})
            for key, value in request.headers:
                headers.setRawHeaders(key.encode("latin-1"), [value.encode("latin-1")])
            if bearer is not None and not headers.hasHeader(b"authorization"):
                headers.setRawHeaders(b"authorization", [bearer.encode("ascii")])
            else:
                bearer = None
            producer = None
            if request.body is not None:
                self.bytesOut += len(request.body)
                headers.setRawHeaders(b"content-type", [b"application/json"])
                producer = BytesProducer(request.body)
            sent = self._agent.request(
                request.method, request.url.encode("ascii"), headers, producer
            )
            sent.addErrback(lambda reason: Failure(_Unreachable(reasonOf(reason))))
            return sent.addCallback(self._called, message, request, bearer, again)

        d.addCallback(send)
        d.addErrback(self._notSent, message, request)
        d.addErrback(self._bug, "calling an API")

    def _bearer(self, request: _Request) -> Deferred[str | None]:
        """The C{Authorization} value a call carries: none when the entry
        has its own, the client credentials' token, or the gateway's token
        for the principal this child serves (C{mcpgateway login})."""
        if self.endpoint.ownAuthorization:
            return succeed(None)
        if self._clientToken is not None:
            return self._clientToken.authorization(request.base).addCallback(_optional)
        if self._credentials is None:
            return succeed(None)
        return succeed(
            self._credentials.authorization(self.name, self.endpoint.principal, request.base)
        )

    def _notSent(self, reason: Failure, message: jsonrpc.Message, request: _Request) -> None:
        """The call never got an answer from the API: no token (the token
        endpoint's refusal), or the API could not be reached."""
        if reason.check(ClientCredentialsError):
            text = f"server '{self.name}': {reason.getErrorMessage()}"
            self._said(text)
        elif reason.check(_Unreachable):
            text = f"{request.url} is not reachable ({reason.getErrorMessage()})"
        else:
            reason.raiseException()
        self._answer(message, _toolError(text))

    def _called(
        self,
        response: IResponse,
        message: jsonrpc.Message,
        request: _Request,
        bearer: str | None,
        again: bool,
    ) -> Any:
        def body(result: tuple[bytes, Failure]) -> Deferred[None] | None:
            data = result[0]
            self.bytesIn += len(data)
            text = data[:MAX_TEXT].decode("utf-8", "replace")
            if len(data) > MAX_TEXT:
                text += f"\n[cut: the answer has {len(data)} bytes]"
            if response.code == 401 and not again:
                renewed = self._renewal(bearer, request)
                if renewed is not None:
                    return renewed.addCallback(self._renewed, message, request, _status(401, text))
            if response.code == 429:
                retryAfter = headerOf(response, b"retry-after")
                error = upstreamRateLimited(
                    message["id"], self.name, retryAfter, self._clock.seconds()
                )
                self._later(message, error=error)
                return None
            if not 200 <= response.code < 300:
                refused = _status(response.code, text)
                if response.code == 401:
                    refused += self._refusedBecause(bearer)
                self._answer(message, _toolError(refused))
                return None
            answer: dict[str, Any] = {
                "content": [{"type": "text", "text": text or f"HTTP {response.code} (no body)"}]
            }
            if request.structured:
                try:
                    value = json.loads(data)
                except ValueError:
                    value = None
                if isinstance(value, dict):
                    answer["structuredContent"] = value
            self._answer(message, answer)
            return None

        return readBody(response).addCallback(body)

    # -- a 401 --------------------------------------------------------------------

    def _renewal(self, bearer: str | None, request: _Request) -> Deferred[bool] | None:
        """After a 401 to a request that carried C{bearer}: a Deferred of
        whether a new token is there to send it again with (the client
        credentials' next token, or the login's refreshed one), or C{None}
        when none can be had."""
        if self.endpoint.ownAuthorization:
            return None
        if self._clientToken is not None:
            return self._clientToken.renew(bearer, request.base).addCallback(lambda _: True)
        credentials = self._credentials
        if credentials is None:
            return None
        principal = self.endpoint.principal
        credentials.look()
        grant = credentials.grant(self.name, principal, request.base)
        if grant is None or not grant.accessToken:
            return None
        if bearer != f"Bearer {grant.accessToken}":
            return succeed(True)  # a login or a refresh since this request went out
        if not grant.refreshToken:
            return None
        return credentials.refresh(self.name, principal, request.base)

    def _renewed(
        self, done: bool, message: jsonrpc.Message, request: _Request, refused: str
    ) -> None:
        if self.exited:
            return
        if done:
            self._send(message, request, again=True)
            return
        text = refused + self._refusedBecause("refused")
        self._said(f"server '{self.name}': {request.url} answered {text}")
        self._answer(message, _toolError(text))

    def _refusedBecause(self, bearer: str | None) -> str:
        """Why the API said 401, and what to do: the entry's headers, the
        client credentials, or a login (L{loginNeeded}; the server is then noted
        as needing one, for C{/health})."""
        if self.endpoint.ownAuthorization:
            return " (check the credentials in the entry's headers)"
        if self._clientToken is not None:
            return (
                f" (the token of client credentials from {self._clientToken.credentials.tokenUrl}"
                " is refused)"
            )
        if self._credentials is None:
            return ""
        hint = loginNeeded(self._credentials, self.name, self.endpoint.principal)
        if bearer is None:
            return f"; it needs a login: {hint}"
        return f"; its token is refused: {hint}"

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
        """End the child now (what a signal does to a process): there is no
        process, so its end says only that the gateway closed it."""
        self._end("closed by the gateway")

    def stop(self, graceTime: float = 2.0, termTime: float = 3.0) -> Deferred[None]:
        self._end("closed by the gateway")
        return succeed(None)


@dataclass(frozen=True)
class _Request:
    """One call's HTTP request, as it is sent again after a 401."""

    method: bytes
    url: str
    base: str
    """The API's base URL (the client credentials' RFC 8707 C{resource})."""
    headers: tuple[tuple[str, str], ...] = field(repr=False)
    body: bytes | None = field(repr=False)
    structured: bool


class _Unreachable(Exception):
    """The API could not be reached; the message says why."""


def _status(code: int, text: str) -> str:
    """An HTTP error as a tool error says it: its status and its body."""
    text = text.strip()
    return f"HTTP {code}: {text}" if text else f"HTTP {code}"


def _optional(bearer: str) -> str | None:
    return bearer


def _toolError(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}

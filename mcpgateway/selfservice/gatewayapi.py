# -*- test-case-name: tests.selfservice.test_gatewayapi -*-
"""The running gateway's management API, as the C{gateway} server uses it.

C{GET /api/v1/servers}, C{GET|DELETE|PATCH /api/v1/servers/<name>} and
C{POST /api/v1/servers}, with the token the gateway gave this process
(L{mcpgateway.selfservice.TOKEN_ENV}): the API takes it for these endpoints
and no other. Synchronous (a tool call runs on a thread of its own), never
through an C{http_proxy} of the environment, https to a gateway on TLS
trusting its certificate on loopback only (as the C{mcpgateway} command
does). Every failure is an L{ApiError} with the API's own message.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from mcpgateway.selfservice import TOKEN_ENV, URL_ENV

TIMEOUT = 60.0
"""Seconds one API request may take (an add reloads the gateway's config)."""
MAX_ANSWER = 4 * 1024 * 1024
"""Bytes of an answer read at most."""

Send = Callable[[str, str, bytes | None, Mapping[str, str]], tuple[int, bytes]]
"""C{(method, url, body, headers)}: the status and body of the answer;
L{ApiError} when none came."""


class ApiError(Exception):
    """The API refused (C{status}, its C{error} as the message) or could not
    be reached (C{status} 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def isLoopback(host: str) -> bool:
    """Whether C{host} is C{localhost} or a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _HttpsHandler(urllib.request.HTTPSHandler):
    """https that trusts any certificate of a gateway on loopback (the
    gateway's own, often self-signed) and verifies any other."""

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        host = urllib.parse.urlsplit(req.full_url).hostname or ""
        context = ssl.create_default_context()
        if isLoopback(host):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return self.do_open(http.client.HTTPSConnection, req, context=context)


def urllibSend(timeout: float = TIMEOUT) -> Send:
    """L{Send} with urllib, no proxy, at most L{MAX_ANSWER} bytes read."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _HttpsHandler())

    def send(
        method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> tuple[int, bytes]:
        request = urllib.request.Request(url, body, dict(headers), method=method)
        try:
            with opener.open(request, timeout=timeout) as response:
                return int(response.status), response.read(MAX_ANSWER)
        except urllib.error.HTTPError as e:
            try:
                return e.code, e.read(MAX_ANSWER)
            finally:
                e.close()
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            reason = getattr(e, "reason", None) or e
            raise ApiError(0, f"the gateway at {url} did not answer: {reason}") from None

    return send


class GatewayApi:
    """The servers endpoints of the gateway at C{url}."""

    def __init__(self, url: str, token: str, send: Send | None = None) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._send = send if send is not None else urllibSend()

    @classmethod
    def fromEnviron(cls, environ: Mapping[str, str]) -> GatewayApi | None:
        """The API the gateway named in C{environ}; C{None} when it named none."""
        url, token = environ.get(URL_ENV, ""), environ.get(TOKEN_ENV, "")
        if not url or not token:
            return None
        return cls(url, token)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """C{method} on C{/api/v1<path>}: the answer's JSON.

        @raise ApiError: a status other than 2xx (the API's message), or no answer.
        """
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        status, answer = self._send(method, f"{self.url}/api/v1{path}", data, headers)
        try:
            document = json.loads(answer) if answer.strip() else None
        except ValueError:
            document = None
        if 200 <= status < 300:
            return document
        error = document.get("error") if isinstance(document, dict) else None
        raise ApiError(status, error if isinstance(error, str) else f"HTTP {status}")

    def servers(self) -> list[dict[str, Any]]:
        """Every server's summary (C{GET /api/v1/servers})."""
        answer = self.request("GET", "/servers")
        servers = answer.get("servers") if isinstance(answer, dict) else None
        return [s for s in servers if isinstance(s, dict)] if isinstance(servers, list) else []

    def server(self, name: str) -> dict[str, Any] | None:
        """Everything about server C{name}; C{None} when there is none."""
        try:
            answer = self.request("GET", serverPath(name))
        except ApiError as e:
            if e.status == 404:
                return None
            raise
        return answer if isinstance(answer, dict) else None

    def add(
        self, name: str, entry: Mapping[str, Any], workspace: str | None = None
    ) -> dict[str, Any]:
        """Add server C{name} with C{entry} (for the sessions of C{workspace}
        only, when given); its summary."""
        body = {"name": name, **entry}
        if workspace is not None:
            body["workspace"] = workspace
        answer = self.request("POST", "/servers", body)
        return answer if isinstance(answer, dict) else {}

    def remove(self, name: str) -> None:
        """Remove server C{name} (one the API added)."""
        self.request("DELETE", serverPath(name))

    def setEnabled(self, name: str, enabled: bool) -> dict[str, Any]:
        """Enable or disable server C{name}; its summary."""
        answer = self.request("PATCH", serverPath(name), {"enabled": enabled})
        return answer if isinstance(answer, dict) else {}


def serverPath(name: str) -> str:
    """C{/servers/<name>}, the name quoted."""
    return f"/servers/{urllib.parse.quote(name, safe='')}"

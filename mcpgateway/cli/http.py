# -*- test-case-name: tests.cli.test_http,tests.cli.test_servers,tests.cli.test_status -*-
"""The C{mcpgateway} command's HTTP client: loopback requests to the gateway
with short timeouts, answers decoded as JSON, every failure one line.

Synchronous (urllib): the command never runs a reactor. A L{GatewayClient}
is handed to the commands in their L{mcpgateway.cli.context.CliContext}, so a
test gives them another opener instead of patching this module. It never
goes through an C{http_proxy} of the environment, speaks https to a gateway
on TLS trusting a self-signed certificate on loopback only (as
L{mcpgateway.healthcheck} does), reads at most
L{MAX_ANSWER} bytes of an answer, and sends a bearer token when one is set:
to the management API C{$MCPGATEWAY_API_TOKEN}, else C{$MCPGATEWAY_TOKEN};
to C{/health} and C{/sessions} C{$MCPGATEWAY_TOKEN} (a principal's token,
for a gateway run with authentication), else C{$MCPGATEWAY_API_TOKEN}.
Every request to a gateway on a loopback address also carries the owner
token of the state directory the command works on
(L{mcpgateway.runtime.ownertoken}), read at each request (a gateway being
started makes it): where the system cannot name a connection's account,
the gateway's door lets in only the requests that carry it.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Protocol

from mcpgateway.cli.output import CliError
from mcpgateway.healthcheck import tlsContext
from mcpgateway.ops.gatewayprobe import GatewayProbe
from mcpgateway.runtime.ownertoken import ownerHeaders
from mcpgateway.runtime.paths import API_PREFIX, API_TOKEN_ENV

MAX_ANSWER = 16 * 1024 * 1024
"""Bytes of an answer read at most (not L{mcpgateway.protocol.bounds.MAX_BODY}, the
gateway's cap on what it accepts)."""


TOKEN_ENV = "MCPGATEWAY_TOKEN"
"""A principal's bearer token (C{mcpgateway token new}) for a gateway run
with C{--auth-tokens} or OAuth."""

TOKEN_HELP = (
    f"Sends Authorization: Bearer ${API_TOKEN_ENV} when that is set (needed when the"
    f" gateway runs with --api-token), else ${TOKEN_ENV} (an admin's token, when the"
    " gateway runs with authentication)."
)
"""What the help of every command of the management API says about the token."""


def serverPath(name: str, action: str = "") -> str:
    """The API path C{/servers/NAME[action]}, the name quoted."""
    return f"/servers/{urllib.parse.quote(name, safe='')}{action}"


class Opener(Protocol):
    """What L{GatewayClient} needs of a C{urllib.request.OpenerDirector}."""

    def open(self, request: urllib.request.Request, /, *, timeout: float) -> Any: ...


class GatewayHTTPSHandler(urllib.request.HTTPSHandler):
    """https as C{python -m mcpgateway.healthcheck} speaks it: the
    certificate of a gateway on a loopback address is not verified (a
    self-signed one is fine there), any other must verify
    (L{mcpgateway.healthcheck.tlsContext})."""

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        host = urllib.parse.urlsplit(req.full_url).hostname or ""
        return self.do_open(http.client.HTTPSConnection, req, context=tlsContext(host))


def loopbackOpener() -> urllib.request.OpenerDirector:
    """An opener that never goes through an C{http_proxy} from the
    environment, and speaks https as L{GatewayHTTPSHandler} does."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), GatewayHTTPSHandler())


class GatewayClient:
    """Requests to a gateway: C{/health} and C{/sessions}, and the management
    API (C{/api/v1}) with its token."""

    def __init__(
        self,
        opener: Opener | None = None,
        environ: Mapping[str, str] | None = None,
        stateDir: Path | None = None,
    ) -> None:
        self.opener: Opener = opener if opener is not None else loopbackOpener()
        self.environ = os.environ if environ is None else environ
        self.stateDir = stateDir
        """The state directory whose owner token the requests carry (set
        by L{mcpgateway.cli.main} from C{--state-dir}; C{None}: none)."""

    @property
    def token(self) -> str | None:
        """The management API's bearer token (C{$MCPGATEWAY_API_TOKEN}, else
        C{$MCPGATEWAY_TOKEN})."""
        return self.environ.get(API_TOKEN_ENV) or self.environ.get(TOKEN_ENV) or None

    @property
    def principalToken(self) -> str | None:
        """The token sent to C{/health} and C{/sessions} (C{$MCPGATEWAY_TOKEN},
        else C{$MCPGATEWAY_API_TOKEN})."""
        return self.environ.get(TOKEN_ENV) or self.environ.get(API_TOKEN_ENV) or None

    def headers(self, body: bool = False) -> dict[str, str]:
        """Accept JSON; the bearer token when there is one."""
        headers = {"Accept": "application/json"}
        if body:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def open(
        self,
        url: str,
        headers: dict[str, str],
        timeout: float,
        method: str | None = None,
        data: bytes | None = None,
    ) -> IO[bytes]:
        """The answer to one request, as urllib raises its failures; the
        owner token added for a gateway on a loopback address."""
        if self.stateDir is not None:
            headers = {**headers, **ownerHeaders(self.stateDir, url)}
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        response: IO[bytes] = self.opener.open(request, timeout=timeout)
        return response

    def getJson(self, url: str, timeout: float) -> Any:
        """GET C{url} and decode its JSON body, or raise L{CliError} in one line."""
        headers = {"Accept": "application/json"}
        if self.principalToken:
            headers["Authorization"] = f"Bearer {self.principalToken}"
        try:
            with self.open(url, headers, timeout) as response:
                body = response.read(MAX_ANSWER)
        except urllib.error.HTTPError as e:
            raise CliError(f"{url} answered HTTP {e.code}") from None
        except urllib.error.URLError as e:
            raise CliError(f"no answer from {url}: {reason(e.reason)}") from None
        except (OSError, http.client.HTTPException) as e:
            raise CliError(f"no answer from {url}: {reason(e)}") from None
        return _decode(url, body)

    def api(
        self, found: GatewayProbe, method: str, path: str, body: Any = None, *, timeout: float
    ) -> Any:
        """C{method /api/v1<path>} with an optional JSON C{body}; the decoded
        answer, or a L{CliError} carrying the API's own message."""
        url = found.baseUrl() + API_PREFIX + path
        data = None if body is None else json.dumps(body).encode("utf-8")
        try:
            with self.open(url, self.headers(body is not None), timeout, method, data) as response:
                payload = response.read(MAX_ANSWER)
        except urllib.error.HTTPError as e:
            raise CliError(self.refused(url, e)) from None
        except urllib.error.URLError as e:
            raise CliError(f"no answer from {url}: {reason(e.reason)}") from None
        except (OSError, http.client.HTTPException) as e:
            raise CliError(f"no answer from {url}: {reason(e)}") from None
        return _decode(url, payload)

    def refused(self, url: str, error: urllib.error.HTTPError) -> str:
        """One line for an API call answered with an HTTP error."""
        return apiErrorMessage(url, error.code, _readError(error), self.token is not None)


def _decode(url: str, body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise CliError(f"{url} did not answer JSON") from None


def reason(error: Any) -> str:
    """Why a request got no answer, in a few words."""
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return str(error.strerror).lower()
    return str(error) or type(error).__name__


def _readError(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read(MAX_ANSWER)
    except (OSError, http.client.HTTPException):
        return b""
    finally:
        error.close()


def apiErrorMessage(url: str, status: int, body: bytes, tokenSet: bool) -> str:
    """One line for a refused API call: the API's C{error}, else the status."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    message = document.get("error") if isinstance(document, dict) else None
    if status == 404 and message == "not found":
        # The gateway's catch-all, not the API's: an older gateway.
        return (
            f"{url}: this gateway has no management API (/api/v1); restart it"
            " (`mcpgateway stop`, `mcpgateway start`) to run this version"
        )
    if not isinstance(message, str) or not message:
        return f"{url} answered HTTP {status}"
    if status == 401 and not tokenSet:
        return f"{message}; {API_TOKEN_ENV} is not set"
    return message


def fetchHealth(client: GatewayClient, found: GatewayProbe, timeout: float) -> dict[str, Any]:
    """C{GET /health}: a JSON object."""
    health = client.getJson(found.baseUrl() + "/health", timeout)
    if not isinstance(health, dict):
        raise CliError(f"{found.baseUrl()}/health did not answer a JSON object")
    return health


def fetchSessions(
    client: GatewayClient, found: GatewayProbe, timeout: float
) -> list[dict[str, Any]]:
    """C{GET /sessions}: a list, or C{{"sessions": [...]}}."""
    sessions = client.getJson(found.baseUrl() + "/sessions", timeout)
    if isinstance(sessions, dict):
        sessions = sessions.get("sessions")
    if not isinstance(sessions, list):
        raise CliError(f"{found.baseUrl()}/sessions did not answer a list")
    return [s for s in sessions if isinstance(s, dict)]

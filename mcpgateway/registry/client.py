# -*- test-case-name: tests.registry.test_client -*-
"""A registry's HTTP API: searching it and reading one server.

The API (the official registry's, which subregistries implement too) is
read-only and needs no token:

 - C{GET <base>/servers?search=TEXT&version=latest&limit=N&cursor=C}: a page
   of C{{"servers": [ServerResponse...], "metadata": {"nextCursor": C}}},
   the next page asked for with C{cursor} until there is no C{nextCursor};
 - C{GET <base>/servers/<name>/versions/latest} (or C{/versions/<version>}):
   one C{ServerResponse}, the name and version URL-encoded; 404 when the
   registry has no such server.

C{<base>} is the registry's URL with the API version C{/v0.1} (the stable
one; C{/v0} is the one in development) unless the URL given ends with an API
version already.

L{RegistryClient} does the paging and the reading over a L{Fetch} function:
L{urllibFetch} (synchronous: the C{mcpgateway} command never runs a reactor;
a gateway calls it in a thread), or a test's fake. Every failure is a
L{RegistryError} whose message is one line: the registry unreachable, an
answer that is not the API's (not JSON, too big, the wrong shape), or an
unknown name (L{UnknownServer}).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcpgateway.registry.schema import (
    RegistryDataError,
    ServerDetail,
    ServerSummary,
    readServer,
    readSummary,
)

DEFAULT_REGISTRY = "https://registry.modelcontextprotocol.io"
"""The official MCP registry."""
REGISTRY_ENV = "MCPGATEWAY_REGISTRY"
"""The variable that names another registry (C{--registry} wins over it)."""
API_VERSION = "v0.1"
"""The API version asked for when the registry's URL names none."""
API_VERSIONS = ("v0", "v0.1")
MAX_ANSWER = 8 * 1024 * 1024
"""Bytes of an answer read at most: a larger one is refused, not cut."""
PAGE_SIZE = 100
"""The most servers asked for in one page (the official registry's maximum)."""
MAX_PAGES = 20
"""Pages read at most for one search (a registry whose cursor never ends)."""
TIMEOUT = 15.0
"""Seconds one request may take."""


class RegistryError(Exception):
    """A registry that could not answer what was asked; the message is one line."""


class UnknownServer(RegistryError):
    """The registry has no server (or no version of it) by that name."""


@dataclass(frozen=True)
class RegistryAnswer:
    """What a registry answered: the HTTP status and the body (at most
    L{MAX_ANSWER} bytes)."""

    status: int
    body: bytes


Fetch = Callable[[str], RegistryAnswer]
"""C{GET url}: its answer, any status; L{RegistryError} when none came."""


@dataclass(frozen=True)
class RegistryApi:
    """The URLs of a registry's API under C{base} (its URL with the API
    version: C{https://registry.modelcontextprotocol.io/v0.1})."""

    base: str

    @classmethod
    def at(cls, url: str) -> RegistryApi:
        """The API of the registry at C{url}.

        @raise RegistryError: C{url} is not an http(s) URL.
        """
        parts = urllib.parse.urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RegistryError(f"registry URL {url!r}: must be an http:// or https:// URL")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise RegistryError(f"registry URL {url!r}: only a scheme, host, port and path")
        path = parts.path.rstrip("/")
        if path.rsplit("/", 1)[-1] not in API_VERSIONS:
            path += "/" + API_VERSION
        return cls(urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", "")))

    @property
    def root(self) -> str:
        """The registry's URL without the API version, for messages."""
        return self.base.rsplit("/", 1)[0]

    def searchUrl(self, query: str, limit: int, cursor: str | None = None) -> str:
        """A page of the latest versions of the servers matching C{query}."""
        params = {"search": query, "version": "latest", "limit": str(limit)}
        if cursor is not None:
            params["cursor"] = cursor
        return f"{self.base}/servers?{urllib.parse.urlencode(params)}"

    def serverUrl(self, name: str, version: str | None = None) -> str:
        """One version of one server (C{None}: its latest)."""
        quoted = urllib.parse.quote(name, safe="")
        which = urllib.parse.quote(version or "latest", safe="")
        return f"{self.base}/servers/{quoted}/versions/{which}"


@dataclass(frozen=True)
class Page:
    """One page of a search: its servers, the cursor of the next page (if
    any), and how many of its items could not be read."""

    servers: tuple[ServerSummary, ...]
    nextCursor: str | None
    unreadable: int = 0


@dataclass
class SearchResult:
    """The servers a search found (each name once, in the registry's order),
    whether the registry has more, and how many items could not be read."""

    servers: list[ServerSummary] = field(default_factory=list)
    more: bool = False
    unreadable: int = 0


def decode(answer: RegistryAnswer, url: str) -> Any:
    """The JSON of a 200 answer.

    @raise RegistryError: another status, or a body that is not JSON.
    """
    if answer.status != 200:
        raise RegistryError(f"{url} answered HTTP {answer.status}{_errorOf(answer.body)}")
    try:
        return json.loads(answer.body)
    except (ValueError, RecursionError):
        raise RegistryError(f"{url} did not answer JSON: is it an MCP registry?") from None


def _errorOf(body: bytes) -> str:
    """The registry's own C{error} (or C{detail}) of a refused request,
    in a few words: C{": Server not found"}."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    if not isinstance(document, dict):
        return ""
    message = document.get("error", document.get("detail"))
    if not isinstance(message, str) or not message:
        return ""
    return ": " + printable(message[:200])


def parsePage(answer: RegistryAnswer, url: str) -> Page:
    """A search page: C{{"servers": [...], "metadata": {"nextCursor": ...}}}."""
    document = decode(answer, url)
    servers = document.get("servers") if isinstance(document, dict) else None
    if not isinstance(servers, list):
        raise RegistryError(f"{url} answered no 'servers' list: is it an MCP registry?")
    found, unreadable = [], 0
    for item in servers:
        try:
            found.append(readSummary(item))
        except RegistryDataError:
            unreadable += 1
    metadata = document.get("metadata")
    cursor = metadata.get("nextCursor") if isinstance(metadata, dict) else None
    nextCursor = cursor if isinstance(cursor, str) and cursor and len(cursor) <= 1024 else None
    return Page(tuple(found), nextCursor, unreadable)


def parseServer(
    answer: RegistryAnswer, url: str, name: str, version: str | None = None
) -> ServerDetail:
    """One C{ServerResponse}; a 404 is L{UnknownServer}."""
    if answer.status == 404:
        which = f"version {version} of " if version else ""
        raise UnknownServer(f"the registry has no {which}server named {name!r}")
    try:
        detail = readServer(decode(answer, url))
    except RegistryDataError as e:
        raise RegistryError(f"{url}: {e}") from None
    if detail.name != name:
        raise RegistryError(f"{url} answered server {detail.name!r}, not {name!r}")
    return detail


class RegistryClient:
    """Searches and reads the registry of L{RegistryApi} C{api} through C{fetch}."""

    def __init__(self, api: RegistryApi, fetch: Fetch) -> None:
        self.api = api
        self._fetch = fetch

    def search(self, query: str, limit: int = 20) -> SearchResult:
        """At most C{limit} servers (latest versions) whose name or
        description holds C{query}, reading pages until there are enough.
        A server listed twice (a registry that ignores C{version=latest}) is
        listed once; a deleted one not at all."""
        result = SearchResult()
        seen: set[str] = set()
        cursors: set[str] = set()
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            url = self.api.searchUrl(query, min(PAGE_SIZE, max(limit, 1)), cursor)
            page = parsePage(self._fetch(url), url)
            result.unreadable += page.unreadable
            for server in page.servers:
                if server.name in seen or server.status == "deleted":
                    continue
                if len(result.servers) == limit:
                    result.more = True
                    return result
                seen.add(server.name)
                result.servers.append(server)
            cursor = page.nextCursor
            if cursor is None or cursor in cursors:
                return result
            cursors.add(cursor)
            if len(result.servers) == limit:
                result.more = True
                return result
        result.more = True
        return result

    def server(self, name: str, version: str | None = None) -> ServerDetail:
        """Server C{name} at C{version} (C{None}: its latest)."""
        if not name or len(name) > 200:
            raise UnknownServer(f"{name!r} is not a registry server name")
        url = self.api.serverUrl(name, version)
        return parseServer(self._fetch(url), url, name, version)


def printable(text: str) -> str:
    """C{text} with its control and format characters (an escape sequence
    of a terminal, a right-to-left override) shown as C{\\xNN}: registry text
    is printed to a terminal."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def isLoopback(url: str) -> bool:
    """Whether C{url}'s host is a loopback address (or C{localhost})."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def urllibFetch(
    timeout: float = TIMEOUT, opener: urllib.request.OpenerDirector | None = None
) -> Fetch:
    """L{Fetch} with urllib: the environment's proxy for a registry
    elsewhere, none for one on loopback (the CLI's L{loopbackOpener}
    approach), TLS verified, at most L{MAX_ANSWER} bytes read."""

    def fetch(url: str) -> RegistryAnswer:
        chosen = opener
        if chosen is None:
            proxies = urllib.request.ProxyHandler({} if isLoopback(url) else None)
            chosen = urllib.request.build_opener(proxies)
        request = urllib.request.Request(
            url, headers={"Accept": "application/json", "User-Agent": "mcpgateway"}
        )
        try:
            with chosen.open(request, timeout=timeout) as response:
                return RegistryAnswer(response.status, _readCapped(response, url))
        except urllib.error.HTTPError as e:
            try:
                body = e.read(64 * 1024)
            except (OSError, http.client.HTTPException):
                body = b""
            finally:
                e.close()
            return RegistryAnswer(e.code, body)
        except urllib.error.URLError as e:
            raise RegistryError(f"no answer from {url}: {_reason(e.reason)}") from None
        except (OSError, http.client.HTTPException, ValueError) as e:
            raise RegistryError(f"no answer from {url}: {_reason(e)}") from None

    return fetch


def _readCapped(response: Any, url: str) -> bytes:
    body: bytes = response.read(MAX_ANSWER + 1)
    if len(body) > MAX_ANSWER:
        raise RegistryError(f"{url} answered more than {MAX_ANSWER // (1024 * 1024)} MiB")
    return body


def _reason(error: Any) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return str(error.strerror).lower()
    return str(error) or type(error).__name__

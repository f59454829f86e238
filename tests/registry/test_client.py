"""The registry's API: its URLs, paging a search, reading one server, and
every way an answer can fail, over fake fetches and a fake urllib opener."""

from __future__ import annotations

import email.message
import io
import json
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from mcpgateway.registry.client import (
    MAX_ANSWER,
    RegistryAnswer,
    RegistryApi,
    RegistryClient,
    RegistryError,
    UnknownServer,
    isLoopback,
    printable,
    urllibFetch,
)
from tests.fixtures.registry_server import RecordedRegistry
from tests.registry.support import ROOT, document, recordedClient, recordedFetch


@pytest.mark.parametrize(
    ("given", "base"),
    [
        (
            "https://registry.modelcontextprotocol.io",
            "https://registry.modelcontextprotocol.io/v0.1",
        ),
        ("https://r.example/", "https://r.example/v0.1"),
        ("https://r.example/mirror/v0", "https://r.example/mirror/v0"),
        ("http://127.0.0.1:8080/v0.1/", "http://127.0.0.1:8080/v0.1"),
    ],
)
def test_the_api_version_is_added_unless_given(given: str, base: str) -> None:
    assert RegistryApi.at(given).base == base


@pytest.mark.parametrize(
    "url", ["ftp://r.example", "r.example", "https://", "https://u:p@r.example", "http://r?x=1"]
)
def test_a_registry_url_must_be_plain_http(url: str) -> None:
    with pytest.raises(RegistryError, match="registry URL"):
        RegistryApi.at(url)


def test_the_urls_quote_the_name_and_the_version() -> None:
    api = RegistryApi.at(ROOT)
    assert api.serverUrl("io.github.a/b") == f"{ROOT}/v0.1/servers/io.github.a%2Fb/versions/latest"
    assert api.serverUrl("a/b", "1.0.0+build/1").endswith("/versions/1.0.0%2Bbuild%2F1")
    query = parse_qs(urlsplit(api.searchUrl("a b&c", 5, "x:1")).query)
    assert query == {"search": ["a b&c"], "version": ["latest"], "limit": ["5"], "cursor": ["x:1"]}


def test_a_search_reads_pages_until_it_has_enough() -> None:
    seen: list[str] = []
    client = recordedClient(seen)
    found = client.search("", limit=4)
    assert [s.name for s in found.servers] == [
        "com.example/search",
        "io.github.acme/dotnet-tools",
        "io.github.acme/postgres",
        "io.github.acme/time",
    ]
    assert found.more and len(seen) == 1  # one page of 4; more to come
    everything = recordedClient().search("", limit=100)
    assert len(everything.servers) == 6 and not everything.more
    weather = [s for s in everything.servers if s.name == "io.github.acme/weather"]
    assert [s.version for s in weather] == ["1.4.2"]  # the latest only


def test_a_search_follows_the_cursor() -> None:
    registry = RecordedRegistry.fromDirectory()
    seen: list[str] = []

    def smallPages(url: str) -> RegistryAnswer:
        answer: RegistryAnswer = recordedFetch(registry, seen)(url.replace("limit=10", "limit=2"))
        return answer

    found = RegistryClient(RegistryApi.at(ROOT), smallPages).search("", limit=10)
    assert len(found.servers) == 6 and not found.more
    cursors = [parse_qs(urlsplit(url).query).get("cursor") for url in seen]
    assert cursors == [None, ["io.github.acme/dotnet-tools:0.5.0"], ["io.github.acme/time:0.6.2"]]


def page(servers: list[Any], cursor: str | None = None) -> RegistryAnswer:
    metadata = {} if cursor is None else {"nextCursor": cursor}
    return RegistryAnswer(200, json.dumps({"servers": servers, "metadata": metadata}).encode())


def test_a_search_lists_each_name_once_and_no_deleted_one() -> None:
    deleted = document(name="io.github.test/gone")
    deleted["_meta"] = {"io.modelcontextprotocol.registry/official": {"status": "deleted"}}
    answers = [page([document(), document(version="0.9.0"), deleted, {"server": {}}, 3])]
    client = RegistryClient(RegistryApi.at(ROOT), lambda url: answers.pop(0))
    found = client.search("x")
    assert [(s.name, s.version) for s in found.servers] == [("io.github.test/server", "1.0.0")]
    assert found.unreadable == 2 and not found.more


def test_a_cursor_seen_before_ends_the_search() -> None:
    calls: list[str] = []

    def loop(url: str) -> RegistryAnswer:
        calls.append(url)
        return page([document(name=f"a.b/s{len(calls)}")], "same")

    found = RegistryClient(RegistryApi.at(ROOT), loop).search("x", limit=50)
    assert len(calls) == 2 and len(found.servers) == 2


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (RegistryAnswer(500, b'{"error": "database down"}'), "answered HTTP 500: database down"),
        (RegistryAnswer(502, b"<html>bad gateway</html>"), "answered HTTP 502$"),
        (RegistryAnswer(200, b"<html>a login page</html>"), "did not answer JSON"),
        (RegistryAnswer(200, b'{"servers": {}}'), "no 'servers' list"),
        (RegistryAnswer(200, b"[1, 2]"), "no 'servers' list"),
        (RegistryAnswer(400, b'{"error": "\\u001b[31mred"}'), r"\\x1b\[31mred"),
    ],
)
def test_a_search_answered_with_garbage_is_one_line(answer: RegistryAnswer, message: str) -> None:
    client = RegistryClient(RegistryApi.at(ROOT), lambda url: answer)
    with pytest.raises(RegistryError, match=message):
        client.search("x")


def test_one_server_latest_or_a_version() -> None:
    client = recordedClient()
    assert client.server("io.github.acme/weather").version == "1.4.2"
    assert client.server("io.github.acme/weather", "1.3.0").version == "1.3.0"
    with pytest.raises(UnknownServer, match=r"no server named 'io\.github\.acme/nope'"):
        client.server("io.github.acme/nope")
    with pytest.raises(UnknownServer, match=r"no version 9\.9\.9 of server"):
        client.server("io.github.acme/weather", "9.9.9")
    with pytest.raises(UnknownServer):
        client.server("")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (RegistryAnswer(200, b"{}"), "'server' must be an object"),
        (RegistryAnswer(200, json.dumps(document(name="a.b/other")).encode()), "answered server"),
        (RegistryAnswer(200, b"not json"), "did not answer JSON"),
        (RegistryAnswer(503, b""), "HTTP 503"),
    ],
)
def test_one_server_answered_with_garbage(answer: RegistryAnswer, message: str) -> None:
    client = RegistryClient(RegistryApi.at(ROOT), lambda url: answer)
    with pytest.raises(RegistryError, match=message):
        client.server("io.github.test/server")


class FakeResponse(io.BytesIO):
    status = 200


class FakeOpener:
    """Answers every request with C{result} (or raises it), recording it."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.requests: list[tuple[urllib.request.Request, float]] = []

    def open(self, request: urllib.request.Request, timeout: float) -> Any:
        self.requests.append((request, timeout))
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


def test_urllib_fetch_reads_the_answer_and_asks_for_json() -> None:
    opener = FakeOpener(FakeResponse(b'{"servers": []}'))
    answer = urllibFetch(3.0, opener)("https://r.example/v0.1/servers")  # type: ignore[arg-type]
    assert answer == RegistryAnswer(200, b'{"servers": []}')
    [(request, timeout)] = opener.requests
    assert timeout == 3.0 and request.get_header("Accept") == "application/json"


def test_urllib_fetch_refuses_an_answer_over_the_cap() -> None:
    opener = FakeOpener(FakeResponse(b" " * (MAX_ANSWER + 1)))
    with pytest.raises(RegistryError, match="more than 8 MiB"):
        urllibFetch(opener=opener)("https://r.example/x")  # type: ignore[arg-type]


def test_urllib_fetch_gives_an_http_error_as_an_answer() -> None:
    error = urllib.error.HTTPError(
        "https://r.example/x",
        404,
        "Not Found",
        email.message.Message(),
        io.BytesIO(b'{"error": "Server not found"}'),
    )
    answer = urllibFetch(opener=FakeOpener(error))("https://r.example/x")  # type: ignore[arg-type]
    assert answer == RegistryAnswer(404, b'{"error": "Server not found"}')


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")), "refused"),
        (urllib.error.URLError(socket.gaierror(-2, "Name or service not known")), "not known"),
        (TimeoutError(), "timed out"),
        (ValueError("unknown url type"), "unknown url type"),
    ],
)
def test_urllib_fetch_without_an_answer_is_one_line(error: Exception, reason: str) -> None:
    with pytest.raises(RegistryError, match=f"no answer from https://r.example/x: .*{reason}"):
        urllibFetch(opener=FakeOpener(error))("https://r.example/x")  # type: ignore[arg-type]


def test_loopback_and_printable() -> None:
    assert isLoopback("http://127.0.0.1:9/x") and isLoopback("http://[::1]/")
    assert isLoopback("http://localhost/") and not isLoopback("https://registry.example")
    assert printable("a\x1b[2Jb\u202ec\nd é") == "a\\x1b[2Jb\\u202ec\\nd é"

"""Remote server entries in a C{mcpServers} file: the shapes each client
writes, the gateway scope only, their share, C{${VAR}} in the URL and the
headers, and what is refused."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from mcpgateway.config.servers import EntryError, parseConfig, parseEntry
from mcpgateway.core.spec import RemoteEndpoint, Sharing
from tests.fakes import FakeProcessReactor

NO_PATH: dict[str, str] = {"PATH": ""}


def remote(entry: dict[str, Any], environ: dict[str, str] | None = None) -> RemoteEndpoint:
    spec = parseEntry("r", entry, NO_PATH if environ is None else environ)
    assert spec.remote is not None
    return spec.remote


def refused(entry: Any, environ: dict[str, str] | None = None, scope: str = "gateway") -> str:
    with pytest.raises(EntryError) as caught:
        parseEntry("r", entry, NO_PATH if environ is None else environ, scope)
    return str(caught.value)


# -- the shapes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "transport"),
    [
        ({"type": "http", "url": "https://a.example/mcp"}, "http"),
        ({"type": "streamable-http", "url": "https://a.example/mcp"}, "http"),
        ({"type": "streamableHttp", "url": "https://a.example/mcp"}, "http"),
        ({"type": "streamable_http", "url": "https://a.example/mcp"}, "http"),
        ({"type": "sse", "url": "https://a.example/mcp"}, "sse"),
        ({"url": "https://a.example/mcp"}, "http"),  # Cursor: no type
        ({"serverUrl": "https://a.example/mcp"}, "http"),  # Windsurf
        ({"type": "http", "command": "ignored", "url": "https://a.example/mcp"}, "http"),
    ],
)
def test_each_clients_remote_shape_is_a_remote_server(
    entry: dict[str, Any], transport: str
) -> None:
    spec = parseEntry("r", entry, NO_PATH)
    assert spec.remote == RemoteEndpoint("https://a.example/mcp", transport, ())
    assert spec.command == "https://a.example/mcp"
    assert spec.args == () and spec.env == () and spec.cwd is None
    assert spec.runnable
    assert spec.scope == "gateway"


def test_a_command_without_a_type_is_stdio_even_with_a_url() -> None:
    spec = parseEntry("r", {"command": "c", "url": "https://a.example/mcp"}, NO_PATH)
    assert spec.remote is None and spec.command == "c"


def test_another_type_is_not_a_remote_server() -> None:
    assert "not a stdio server" in refused({"type": "websocket", "url": "wss://a.example/"})


@pytest.mark.parametrize("kind", [[], {}, 1, True])
def test_a_type_that_is_not_a_type_word_is_refused(kind: Any) -> None:
    assert "not a stdio server" in refused({"type": kind, "url": "https://a.example/mcp"})


def test_the_url_is_stripped_and_the_headers_kept_sorted() -> None:
    endpoint = remote(
        {
            "type": "http",
            "url": "  http://127.0.0.1:8000/mcp  ",
            "headers": {"X-B": "2", "Authorization": "Bearer t", "X-A": ""},
        }
    )
    assert endpoint.url == "http://127.0.0.1:8000/mcp"
    assert endpoint.headers == (("Authorization", "Bearer t"), ("X-A", ""), ("X-B", "2"))


def test_headers_are_never_shown() -> None:
    spec = parseEntry(
        "r", {"url": "https://a.example/mcp", "headers": {"X-Key": "k-secret"}}, NO_PATH
    )
    assert "k-secret" not in repr(spec)


# -- scope and share -------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["user", "local", "project"])
def test_remote_servers_are_only_served_from_the_gateways_own_config(scope: str) -> None:
    why = refused({"type": "http", "url": "https://a.example/mcp"}, scope=scope)
    assert why == "type 'http' is a remote server; clients keep using it directly"
    assert "remote server" in refused({"serverUrl": "https://a.example/mcp"}, scope=scope)


def test_a_clients_file_keeps_its_remote_servers_and_the_gateways_serves_them() -> None:
    data = {"mcpServers": {"r": {"url": "https://a.example/mcp"}, "s": {"command": "c"}}}
    user = parseConfig(data, "u.json", NO_PATH, "user")
    assert list(user.servers) == ["s"]
    assert user.warnings == [] and user.invalid == []
    assert user.notes == [
        "server 'r' (user scope): type 'http' is a remote server; clients keep using it directly"
    ]
    gateway = parseConfig(data, "g.json", NO_PATH, "gateway")
    assert sorted(gateway.servers) == ["r", "s"] and gateway.warnings == []
    project = parseConfig(
        {"projects": {"/p": {"mcpServers": data["mcpServers"]}}}, "c.json", NO_PATH, "user"
    )
    assert [p.name for p in project.projects] == ["s"]
    assert project.warnings == [] and len(project.notes) == 1 and "'r'" in project.notes[0]


def test_a_remote_server_is_shared_per_session_by_default() -> None:
    spec = parseEntry("r", {"url": "https://a.example/mcp"}, NO_PATH)
    assert spec.mode == "session" and spec.sharing is Sharing.SESSION
    stdio = parseEntry("s", {"command": "c"}, NO_PATH)
    assert stdio.mode == "global"


@pytest.mark.parametrize(
    ("key", "word", "share"),
    [
        ("share", "global", "global"),
        ("share", "session", "session"),
        ("mode", "stateless", "global"),
        ("mode", "stateful", "session"),
    ],
)
def test_a_remote_server_may_be_shared_globally_or_per_session(
    key: str, word: str, share: str
) -> None:
    spec = parseEntry("r", {"url": "https://a.example/mcp", key: word}, NO_PATH)
    assert spec.mode == share and spec.modeDeclared


@pytest.mark.parametrize("word", ["workspace", "credential"])
def test_a_remote_server_is_not_shared_per_workspace_or_credential(word: str) -> None:
    why = refused({"url": "https://a.example/mcp", "share": word})
    assert why == f"a remote server is shared 'global' or per 'session', not '{word}'"


# -- ${VAR} ------------------------------------------------------------------------------


def test_variables_are_expanded_in_the_url_and_the_headers() -> None:
    endpoint = remote(
        {
            "type": "sse",
            "url": "https://${HOST}/v${VERSION:-1}/sse",
            "headers": {"Authorization": "Bearer ${TOKEN}", "X-Team": "${TEAM:-core}"},
        },
        {"HOST": "api.example.com", "TOKEN": "t-1"},
    )
    assert endpoint == RemoteEndpoint(
        "https://api.example.com/v1/sse",
        "sse",
        (("Authorization", "Bearer t-1"), ("X-Team", "core")),
    )


def test_an_unset_variable_is_refused_naming_where_it_is() -> None:
    assert refused({"url": "https://${HOST}/mcp"}) == "${HOST} in url is not set and has no default"
    why = refused({"url": "https://a.example/mcp", "headers": {"Authorization": "Bearer ${T}"}})
    assert why == "${T} in headers.Authorization is not set and has no default"


def test_the_expanded_url_is_checked() -> None:
    assert "http:// or https://" in refused({"url": "${U}"}, {"U": "ftp://a.example/"})


# -- what is refused ----------------------------------------------------------------------


@pytest.mark.parametrize("url", [None, 7, "", "   ", ["https://a.example/"]])
def test_a_url_that_is_not_a_non_empty_string_is_refused(url: Any) -> None:
    assert refused({"type": "http", "url": url}) == "'url' must be a non-empty string"


def test_a_remote_type_without_a_url_is_refused() -> None:
    assert refused({"type": "sse"}) == "'url' must be a non-empty string"


@pytest.mark.parametrize(
    "url", ["ftp://a.example/mcp", "a.example/mcp", "/mcp", "http://", "https:///mcp", "file:///x"]
)
def test_a_url_that_is_not_http_is_refused(url: str) -> None:
    assert refused({"type": "http", "url": url}) == (
        f"'url' must be an http:// or https:// URL, not {url!r}"
    )


def test_a_url_that_is_not_ascii_is_refused() -> None:
    assert (
        refused({"url": "https://例え.jp/mcp"}) == "'url' must be ASCII (percent-encode the rest)"
    )


@pytest.mark.parametrize("headers", [[], "Authorization: x", {"A": 1}, {"A": None}])
def test_headers_that_are_not_an_object_of_strings_are_refused(headers: Any) -> None:
    why = refused({"url": "https://a.example/mcp", "headers": headers})
    assert why == "'headers' must be an object of string values"


@pytest.mark.parametrize("name", ["", "Bad Header", "X:Y", "X\nY", "Ünïcode", "(x)"])
def test_a_bad_header_name_is_refused(name: str) -> None:
    why = refused({"url": "https://a.example/mcp", "headers": {name: "v"}})
    assert why == f"header name {name!r} is not a valid HTTP header name"


@pytest.mark.parametrize("value", ["a\r\nX-Evil: 1", "a\nb", "a\rb", "a\x00", "a\x7f"])
def test_a_header_value_with_a_control_character_is_refused(value: str) -> None:
    why = refused({"url": "https://a.example/mcp", "headers": {"X-Key": value}})
    assert why == "the value of header 'X-Key' holds a control character"


def test_a_header_value_made_bad_by_a_variable_is_refused() -> None:
    entry = {"url": "https://a.example/mcp", "headers": {"X-Key": "${K}"}}
    assert "control character" in refused(entry, {"K": "a\r\nX-Evil: 1"})


# -- known defects: each test states the behaviour the code should have ------------------


def test_a_url_urlsplit_cannot_read_is_refused() -> None:
    refused({"url": "http://[::1/mcp"})


def test_a_variables_value_is_not_expanded_again() -> None:
    endpoint = remote({"url": "https://a.example/?q=${Q}"}, {"Q": "$${X}"})
    assert endpoint.url == "https://a.example/?q=$${X}"


def test_a_header_value_beyond_latin_1_is_refused() -> None:
    refused({"url": "https://a.example/mcp", "headers": {"Authorization": "Bearer ключ"}})


def test_an_https_server_on_a_gateway_that_left_tls_out_cannot_start_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mcpgateway.core.spec import RemoteEndpoint, ServerSpec
    from mcpgateway.remote.connect import RemoteServers

    monkeypatch.setitem(sys.modules, "OpenSSL", None)
    spec = ServerSpec(name="far", command="", remote=RemoteEndpoint("https://x/mcp"))
    with pytest.raises(OSError, match="restart the gateway"):
        RemoteServers(FakeProcessReactor()).connect(spec, lambda message: None, lambda line: None)

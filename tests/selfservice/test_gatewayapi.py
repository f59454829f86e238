"""The management API's client of the C{gateway} server: its token on
every request, names quoted in paths, the API's refusals as L{ApiError}s
with its own message, the gateway's address from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from mcpgateway import selfservice
from mcpgateway.selfservice.gatewayapi import ApiError, GatewayApi, isLoopback
from tests.selfservice.support import TOKEN, URL, FakeGateway, server


def test_requests_carry_the_token_and_quote_names() -> None:
    gateway = FakeGateway(server("a b"))
    api = GatewayApi(URL + "/", TOKEN, gateway.send)
    assert api.server("a b") is not None
    api.setEnabled("a b", False)
    [(method, path, body, headers), patch] = gateway.requests
    assert (method, path, body) == ("GET", "/api/v1/servers/a%20b", None)
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Content-Type" not in headers
    assert patch[:3] == ("PATCH", "/api/v1/servers/a%20b", {"enabled": False})
    assert patch[3]["Content-Type"] == "application/json"


def test_an_unknown_server_is_none_and_other_refusals_raise() -> None:
    gateway = FakeGateway()
    api = GatewayApi(URL, TOKEN, gateway.send)
    assert api.server("missing") is None
    with pytest.raises(ApiError) as raised:
        api.remove("missing")
    assert raised.value.status == 404 and str(raised.value) == "no server named 'missing'"


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (403, b'{"error": "this token is good for the servers endpoints only"}', "this token"),
        (500, b"<html>oops</html>", "HTTP 500"),
        (409, b'{"error": 3}', "HTTP 409"),
    ],
)
def test_refusals_say_what_the_api_said(status: int, body: bytes, message: str) -> None:
    def send(*_: Any) -> tuple[int, bytes]:
        return status, body

    with pytest.raises(ApiError) as raised:
        GatewayApi(URL, TOKEN, send).servers()
    assert raised.value.status == status and str(raised.value).startswith(message)


def test_an_odd_answer_lists_no_server() -> None:
    def send(*_: Any) -> tuple[int, bytes]:
        return 200, b'{"servers": [1, {"name": "x"}]}'

    assert GatewayApi(URL, TOKEN, send).servers() == [{"name": "x"}]


@pytest.mark.parametrize(
    ("environ", "found"),
    [
        ({selfservice.URL_ENV: URL, selfservice.TOKEN_ENV: TOKEN}, True),
        ({selfservice.URL_ENV: URL}, False),
        ({selfservice.TOKEN_ENV: TOKEN}, False),
        ({}, False),
    ],
)
def test_the_gateway_is_found_in_the_environment(environ: Mapping[str, str], found: bool) -> None:
    api = GatewayApi.fromEnviron(environ)
    assert (api is not None) == found
    if api is not None:
        assert api.url == URL


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("10.0.0.1", False), ("x", False)],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert isLoopback(host) is loopback

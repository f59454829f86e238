"""The command's HTTP client (L{GatewayClient}) with a fake opener: what it
sends, how each failure reads, and commands run with it in their context,
without a socket."""

from __future__ import annotations

import io
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mcpgateway import __version__
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.http import GatewayClient
from mcpgateway.cli.output import CliError
from mcpgateway.ops.gatewayprobe import GatewayProbe
from mcpgateway.runtime.ownertoken import loadOwnerToken
from tests.cli.support import EVENTS, HEALTH, SESSIONS, Cli, sse, writeState
from tests.support.cli.http import FakeOpener


def refusal(status: int, body: Any) -> urllib.error.HTTPError:
    return urllib.error.HTTPError(
        "http://x",
        status,
        "refused",
        None,  # type: ignore[arg-type]
        io.BytesIO(json.dumps(body).encode()),
    )


FOUND = GatewayProbe(Path("/state"), {"pid": 7, "port": 9100})
URL = "http://127.0.0.1:9100/health"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (refusal(500, {"error": "boom"}), f"{URL} answered HTTP 500"),
        (
            urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")),
            f"no answer from {URL}: connection refused",
        ),
        (TimeoutError(), f"no answer from {URL}: timed out"),
        (b"<html>", f"{URL} did not answer JSON"),
    ],
)
def test_get_json_failures_are_one_line(answer: Any, message: str) -> None:
    client = GatewayClient(FakeOpener({"/health": answer}), environ={})
    with pytest.raises(CliError) as failure:
        client.getJson(URL, 2.0)
    assert failure.value.message == message


def test_get_json_decodes_the_answer_with_the_timeout_given() -> None:
    opener = FakeOpener({"/health": HEALTH})
    assert GatewayClient(opener, environ={}).getJson(URL, 1.5) == HEALTH
    [(method, url, headers, body, timeout)] = opener.requests
    assert (method, url, body, timeout) == ("GET", URL, None, 1.5)
    assert headers == {"accept": "application/json"}


def test_api_sends_the_body_and_the_token_of_its_environment() -> None:
    opener = FakeOpener({"/api/v1/servers": {"name": "x"}})
    client = GatewayClient(opener, environ={"MCPGATEWAY_API_TOKEN": "tok"})
    assert client.api(FOUND, "POST", "/servers", {"name": "x"}, timeout=20.0) == {"name": "x"}
    [(method, url, headers, body, timeout)] = opener.requests
    assert (method, url, timeout) == ("POST", "http://127.0.0.1:9100/api/v1/servers", 20.0)
    assert headers["authorization"] == "Bearer tok"
    assert headers["content-type"] == "application/json"
    assert json.loads(body or b"") == {"name": "x"}


@pytest.mark.parametrize(
    ("environ", "status", "body", "message"),
    [
        ({}, 401, {"error": "needs a token"}, "needs a token; MCPGATEWAY_API_TOKEN is not set"),
        (
            {"MCPGATEWAY_API_TOKEN": ""},
            401,
            {"error": "needs a token"},
            "needs a token; MCPGATEWAY_API_TOKEN is not set",
        ),
        ({"MCPGATEWAY_API_TOKEN": "wrong"}, 401, {"error": "needs a token"}, "needs a token"),
        (
            {},
            404,
            {"error": "not found"},
            "http://127.0.0.1:9100/api/v1/servers: this gateway has no management API (/api/v1);"
            " restart it (`mcpgateway stop`, `mcpgateway start`) to run this version",
        ),
        ({}, 502, ["no error"], "http://127.0.0.1:9100/api/v1/servers answered HTTP 502"),
    ],
)
def test_api_refusals_are_the_apis_own_message(
    environ: dict[str, str], status: int, body: Any, message: str
) -> None:
    client = GatewayClient(FakeOpener({"/api/v1/servers": refusal(status, body)}), environ)
    with pytest.raises(CliError) as failure:
        client.api(FOUND, "GET", "/servers", timeout=2.0)
    assert failure.value.message == message


def test_status_through_a_fake_client_in_the_context(
    stateDir: Path, locked: None, ctx: CliContext, cli: Cli
) -> None:
    """The command gets its HTTP client from the context: no socket, no patching."""
    writeState(stateDir, os.getpid(), 9100)
    opener = FakeOpener({"/health": HEALTH, "/sessions": SESSIONS})
    ctx.http = GatewayClient(opener, environ={})
    code, out, err = cli("status")
    assert (code, err) == (0, "")
    assert out.splitlines()[0].startswith(
        f"mcpgateway {__version__} running: pid {os.getpid()}, port 9100"
    )
    assert [(method, url) for method, url, *_ in opener.requests] == [
        ("GET", "http://127.0.0.1:9100/health"),
        ("GET", "http://127.0.0.1:9100/sessions"),
    ]


def test_logs_follow_a_stream_of_the_fake_client(
    stateDir: Path, locked: None, ctx: CliContext, cli: Cli
) -> None:
    writeState(stateDir, os.getpid(), 9100)
    removed = {"time": 1700000002, "kind": "removed", "text": "server 'demo' was removed"}
    opener = FakeOpener({"/api/v1/servers/demo/logs": sse(*EVENTS, removed)})
    ctx.http = GatewayClient(opener, environ={"MCPGATEWAY_API_TOKEN": "tok"})
    code, out, _ = cli("logs", "demo", "--json")
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [*EVENTS, removed]
    [(method, _, headers, _, timeout)] = opener.requests
    assert (method, headers["accept"], headers["authorization"]) == (
        "GET",
        "text/event-stream",
        "Bearer tok",
    )
    assert timeout == ctx.timeouts.logStream


def test_every_request_to_a_loopback_gateway_carries_the_owner_token(tmp_path: Path) -> None:
    """Where the gateway cannot name a connection's account, its door lets
    in only the requests that carry the state directory's owner token."""
    opener = FakeOpener({"/health": HEALTH, "/api/v1/servers": {"servers": []}})
    client = GatewayClient(opener, environ={}, stateDir=tmp_path)
    client.getJson(URL, 2.0)  # no gateway made a token yet: none sent
    token = loadOwnerToken(tmp_path)
    client.getJson(URL, 2.0)  # read at each request: a starting gateway makes it
    client.api(FOUND, "GET", "/servers", timeout=2.0)
    client.getJson("http://gateway.example:9100/health", 2.0)  # never elsewhere
    assert [headers.get("mcp-gateway-owner") for _, _, headers, _, _ in opener.requests] == [
        None,
        token,
        token,
        None,
    ]


def test_status_sends_the_owner_token_of_its_state_directory(
    stateDir: Path, locked: None, ctx: CliContext, cli: Cli
) -> None:
    writeState(stateDir, os.getpid(), 9100)
    token = loadOwnerToken(stateDir)
    opener = FakeOpener({"/health": HEALTH, "/sessions": SESSIONS})
    ctx.http = GatewayClient(opener, environ={})
    code, _, err = cli("status")
    assert (code, err) == (0, "")
    assert ctx.http.stateDir == stateDir
    assert [headers["mcp-gateway-owner"] for _, _, headers, _, _ in opener.requests] == [
        token,
        token,
    ]

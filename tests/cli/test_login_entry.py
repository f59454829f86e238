"""C{mcpgateway login SERVER} reads what it needs from the running gateway's
entry: the server's URL, and the OAuth client id an adopted entry of
Claude Code's names (C{oauth.clientId}), which the login then registers as
instead of registering a client of its own; C{--client-id} wins."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.login import serverUrl
from mcpgateway.cli.output import CliError
from tests.cli.support import FakeGateway


def ask(name: str, url: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(name=name, url=url)


def test_the_entrys_url_and_client_id_come_from_the_running_gateway(
    running: FakeGateway, stateDir: Path, ctx: CliContext
) -> None:
    running.answers["/api/v1/servers/linear"] = (
        200,
        {"config": {"url": "https://mcp.linear.app/mcp", "oauthClientId": "claude-client"}},
    )
    assert serverUrl(ask("linear"), ctx, stateDir) == (
        "https://mcp.linear.app/mcp",
        "claude-client",
    )


def test_an_entry_without_a_client_id_registers_one(
    running: FakeGateway, stateDir: Path, ctx: CliContext
) -> None:
    running.answers["/api/v1/servers/linear"] = (200, {"config": {"url": "https://x/mcp"}})
    assert serverUrl(ask("linear"), ctx, stateDir) == ("https://x/mcp", None)


def test_a_given_url_asks_the_gateway_nothing(stateDir: Path, ctx: CliContext) -> None:
    assert serverUrl(ask("linear", "https://y/mcp"), ctx, stateDir) == ("https://y/mcp", None)


def test_a_stdio_server_is_not_one_to_log_in_to(
    running: FakeGateway, stateDir: Path, ctx: CliContext
) -> None:
    running.answers["/api/v1/servers/fs"] = (200, {"config": {"command": "npx"}})
    with pytest.raises(CliError, match="not a remote server"):
        serverUrl(ask("fs"), ctx, stateDir)

"""C{mcpgateway doctor}'s remote servers' logins: held, asked for, or not needed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mcpgateway.cli.checks import DoctorContext
from mcpgateway.cli.remotechecks import checkRemoteLogins
from mcpgateway.ops.gatewayprobe import GatewayProbe
from mcpgateway.remote.oauth.tokens import TokenStore, UpstreamGrant

REMOTE = {"transport": "http", "url": "https://mcp.example.com/mcp"}


def context(stateDir: Path, servers: dict[str, Any] | None) -> DoctorContext:
    health = None if servers is None else {"status": "ok", "servers": servers}
    return DoctorContext(stateDir, GatewayProbe(stateDir), health=health)


def test_a_remote_server_that_asked_for_a_login_it_has_not_had_fails_with_the_command(
    tmp_path: Path,
) -> None:
    servers = {
        "linear": {
            "remote": REMOTE,
            "failures": 1,
            "lastExit": "closed by the gateway (SIGKILL); last stderr: server 'linear': ..."
            " answered HTTP 401; it needs a login: run `mcpgateway login linear`",
        },
        "docs": {"remote": REMOTE},
        "fs": {"children": 1},
    }
    check = checkRemoteLogins(context(tmp_path, servers))
    assert check.status == "fail"
    assert check.fix == "mcpgateway login linear"
    assert check.details == (
        "docs: no login (it has not asked for one)",
        "linear: asks for a login it has not had",
    )


def test_a_held_login_says_whose_and_for_how_long_never_the_token(tmp_path: Path) -> None:
    TokenStore(tmp_path).put(
        UpstreamGrant(
            server="linear",
            resource="https://mcp.example.com/mcp",
            tokenEndpoint="https://auth.example.com/token",
            clientId="c",
            issuer="https://auth.example.com",
            accessToken="secret-access",
            refreshToken="secret-refresh",
            expiresAt=time.time() + 1800,
        )
    )
    check = checkRemoteLogins(context(tmp_path, {"linear": {"remote": REMOTE}}))
    assert check.status == "pass"
    [line] = check.details
    assert line.startswith("linear: logged in (https://auth.example.com), access token good ")
    assert "refreshed by the gateway" in line
    assert "secret" not in line


def test_without_remote_servers_or_a_server_list_nothing_is_checked(tmp_path: Path) -> None:
    assert checkRemoteLogins(context(tmp_path, {"fs": {}})).message == "No remote servers"
    assert checkRemoteLogins(context(tmp_path, None)).status == "info"

"""A remote server's login in C{/health} and on the status page: C{"login":
"needed"} in its C{"remote"} line once it refused a request for want of the
gateway's OAuth login, C{"ok"} while a grant is held, nothing when it never
asked; the page shows C{needs login: run mcpgateway login NAME}. Never a
token."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.spec import RemoteEndpoint, ServerSpec
from mcpgateway.remote.connect import RemoteServers
from mcpgateway.remote.oauth.credentials import loginNeeded
from mcpgateway.remote.oauth.tokens import TokenStore, UpstreamGrant
from mcpgateway.report.health import serverLine
from mcpgateway.web.pages.statuspage import pageData, renderLive
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.support.remote.oauth import MemoryKey
from tests.support.web.gateway_status import gatewayStatus
from tests.support.web.health import SERVER
from tests.support.web.statuspage import Page

URL = "https://mcp.example.com/mcp"
REMOTE = ServerSpec(name="linear", command="", remote=RemoteEndpoint(URL))


def remoteServers(tmp_path: Path) -> tuple[RemoteServers, TokenStore]:
    """A connector whose credentials read a store of the test's."""
    remotes = RemoteServers(FakeProcessReactor(), stateDir=tmp_path)
    credentials = remotes.credentials()
    assert credentials is not None
    store = TokenStore(tmp_path, MemoryKey())
    credentials._store = store
    return remotes, store


def grant() -> UpstreamGrant:
    return UpstreamGrant(
        server="linear",
        resource=URL,
        tokenEndpoint="https://auth.example.com/token",
        clientId="c",
        accessToken="the-access-token",
        refreshToken="the-refresh-token",
    )


def test_the_remote_line_says_login_only_once_the_server_asked() -> None:
    """C{"login"} is in the C{"remote"} line, with or without detail, and
    only when the read model has one; a stdio server has no remote line."""
    remote = replace(SERVER, spec=REMOTE)
    assert serverLine(remote)["remote"] == {"transport": "http", "url": URL}
    needed = replace(remote, login="needed")
    assert serverLine(needed)["remote"] == {"transport": "http", "url": URL, "login": "needed"}
    assert serverLine(needed, detail=False)["remote"] == {"transport": "http", "login": "needed"}
    assert "remote" not in serverLine(replace(SERVER, login="needed"))


def test_the_pools_status_reads_the_login_state_of_the_gateways_own_grant(
    tmp_path: Path,
) -> None:
    """Never asked: no state. A child's 401 without a grant (it asks for
    the login's hint): C{"needed"}. A login: C{"ok"}, and no token in the
    line. A principal's missing login is not the gateway's."""
    remotes, store = remoteServers(tmp_path)
    pool = makePool(REMOTE, fakeSpawner(FakeProcessReactor(), remotes=remotes))
    assert pool.status(0).login is None
    credentials = remotes.credentials()
    loginNeeded(credentials, "linear", "p-bob")
    assert pool.status(0).login is None
    assert loginNeeded(credentials, "linear", "") == "run `mcpgateway login linear`"
    assert pool.status(0).login == "needed"
    store.put(grant())
    assert credentials is not None
    credentials.look()
    status = pool.status(0)
    assert status.login == "ok"
    text = json.dumps(serverLine(status))
    assert "the-access-token" not in text and "the-refresh-token" not in text


def test_a_stdio_server_has_no_login_state(tmp_path: Path) -> None:
    """The connector is not asked about a server that is not remote."""
    remotes, _ = remoteServers(tmp_path)
    stdio = ServerSpec(name="mem", command="npx", executable="/usr/bin/npx")
    pool = makePool(stdio, fakeSpawner(FakeProcessReactor(), remotes=remotes))
    assert pool.status(0).login is None


def rendered(login: str | None) -> tuple[dict[str, Any], Page]:
    server = replace(SERVER, spec=REMOTE, name="linear", login=login)
    status = gatewayStatus({"linear": server})
    data = pageData(status)
    return data["servers"][0], Page(renderLive(data))


def test_the_status_page_shows_needs_login_with_the_command() -> None:
    """A server that needs a login gets a visible note naming the command;
    one that has it, or never asked, gets none."""
    line, page = rendered("needed")
    assert line["login"] == "needed"
    assert page.text("bad login") == "needs login: run mcpgateway login linear"
    assert "mcpgateway login linear" in page.text("code")
    for login in ("ok", None):
        line, page = rendered(login)
        assert line["login"] == login
        assert "needs login" not in page.text("bad login")

"""The spawner's connector of remote servers: made at start for a gateway
that serves a remote entry or holds remote tokens for its door, and on
first use for any other (a laptop's), closed when the gateway stops."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from mcpgateway.core.spec import RemoteEndpoint, ServerSpec
from mcpgateway.remote.connect import RemotePools, RemoteServers
from mcpgateway.remote.streamable import StreamableChild
from mcpgateway.startup.options import Options
from mcpgateway.startup.remotewiring import OnDemandRemotes, remoteConnector
from tests.fakes import FakeProcessReactor
from tests.support.startup.options import parseIn

STDIO = {"local": ServerSpec(name="local", command="/bin/cat")}
REMOTE = ServerSpec(name="far", command="", remote=RemoteEndpoint("http://127.0.0.1:9/mcp"))


def test_a_gateway_of_stdio_servers_makes_the_remote_connector_at_its_first_remote_child(
    tmp_path: Path,
) -> None:
    connector, service = remoteConnector(
        parseIn(tmp_path), STDIO, FakeProcessReactor(), tmp_path / "st"
    )
    assert isinstance(connector, OnDemandRemotes) and service is connector
    assert not connector.loaded
    service.startService()
    stopped: list[object] = []
    service.stopService().addCallback(stopped.append)  # nothing to close
    assert stopped == [None] and not connector.loaded
    child = connector.connect(REMOTE, lambda message: None, lambda line: None)
    assert isinstance(child, StreamableChild) and connector.loaded
    servers = connector.servers()
    assert isinstance(servers, RemoteServers)
    assert connector.loginState("far") == servers.loginState("far")
    assert connector.credentials() is servers.credentials() is not None
    first = servers.agentFor("far", "http://127.0.0.1:9/mcp")
    service.startService()
    service.stopService()
    assert servers.agentFor("far", "http://127.0.0.1:9/mcp") is not first  # its pools closed


def test_a_remote_entry_at_start_gets_the_remote_servers_at_once(tmp_path: Path) -> None:
    specs = {**STDIO, "far": REMOTE}
    connector, service = remoteConnector(
        parseIn(tmp_path), specs, FakeProcessReactor(), tmp_path / "st"
    )
    assert isinstance(connector, RemoteServers)
    assert isinstance(service, RemotePools) and service.remotes is connector


def test_a_door_that_holds_remote_tokens_gets_the_remote_servers_at_once(
    tmp_path: Path,
) -> None:
    for door in ({"auth-tokens": "tokens.json"}, {"oauth-issuer": "https://id.example"}):
        options: dict[str, Any] = {"auth-tokens": None, "oauth-issuer": None, **door}
        connector, _ = remoteConnector(
            cast(Options, options), STDIO, FakeProcessReactor(), tmp_path / "st"
        )
        assert isinstance(connector, RemoteServers), door

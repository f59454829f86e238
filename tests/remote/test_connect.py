"""The remote servers' HTTP clients: one per server, made on first use, and
their idle connections closed when the gateway stops."""

from __future__ import annotations

from mcpgateway.core.spec import RemoteEndpoint, ServerSpec
from mcpgateway.remote.connect import RemotePools, RemoteServers
from mcpgateway.remote.httpsse import HttpSSEChild
from mcpgateway.remote.restchild import RestChild
from mcpgateway.remote.streamable import StreamableChild
from tests.fakes import FakeProcessReactor


def test_each_server_gets_one_client_kept_until_the_pools_close() -> None:
    remotes = RemoteServers(FakeProcessReactor())
    first = remotes.agentFor("a", "http://127.0.0.1:9/mcp")
    assert remotes.agentFor("a", "http://127.0.0.1:9/mcp") is first
    assert remotes.agentFor("b", "http://127.0.0.1:9/mcp") is not first
    pools = RemotePools(remotes)
    pools.startService()
    closed: list[object] = []
    pools.stopService().addCallback(closed.append)
    assert len(closed) == 1 and not pools.running
    assert remotes.agentFor("a", "http://127.0.0.1:9/mcp") is not first


def test_each_transport_gets_its_child() -> None:
    remotes = RemoteServers(FakeProcessReactor())

    def connect(endpoint: RemoteEndpoint) -> object:
        spec = ServerSpec(name="far", command="", remote=endpoint)
        return remotes.connect(spec, lambda message: None, lambda line: None)

    assert isinstance(connect(RemoteEndpoint("http://127.0.0.1:9/mcp")), StreamableChild)
    assert isinstance(connect(RemoteEndpoint("http://127.0.0.1:9/sse", "sse")), HttpSSEChild)
    rest = connect(RemoteEndpoint("", "openapi", (), "/srv/openapi.json"))
    assert isinstance(rest, RestChild)

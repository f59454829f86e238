# -*- test-case-name: tests.web.endpoints.test_mcp -*-
"""What the MCP endpoint reads off a request and its connection: the
revision its C{MCP-Protocol-Version} names, a client's pid, a loopback
connection's ends, and whether the client went away.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.web.server import Request

from mcpgateway.protocol import versions
from mcpgateway.runtime.addresses import isLoopbackHost
from mcpgateway.web.endpoints.guard import header

if TYPE_CHECKING:
    from mcpgateway.core.gateway.settings import Connection


def era2026Header(request: Request) -> bool:
    """Whether C{MCP-Protocol-Version} names a revision outside the handshake era."""
    version = header(request, "mcp-protocol-version")
    return version is not None and version not in versions.HANDSHAKE_VERSIONS


def headerPid(request: Request) -> int | None:
    """The C{X-Client-Pid} header, when it is a plausible pid. Not asked
    on an authenticated request: its client may run on another machine,
    where its pid names nothing on the gateway's host."""
    value = header(request, "x-client-pid")
    value = value.strip() if value is not None else ""
    if not (value.isascii() and value.isdigit() and len(value) <= 10):
        return None
    pid = int(value)
    return pid if 0 < pid < 2**31 else None


def loopbackConnection(request: Request) -> Connection | None:
    """(peer host, peer port, local host, local port, client socket inode)
    of a loopback TCP request. The inode is the one the door named when it
    accepted the request's connection (the channel's C{peerInode},
    L{ChannelBounds<mcpgateway.httpbase.bounds.ChannelBounds>}), so that
    the owner look names that socket's holder and no other; 0 where no
    door named it (the kernel could not be asked), and the look goes by
    the addresses."""
    peer, local = request.getClientAddress(), request.getHost()
    tcp = (IPv4Address, IPv6Address)
    if isinstance(peer, tcp) and isinstance(local, tcp) and isLoopbackHost(peer.host):
        inode = getattr(request.channel, "peerInode", 0)
        return peer.host, peer.port, local.host, local.port, inode
    return None


def watchDisconnect(request: Request) -> list[bool]:
    """A list that becomes truthy when the client goes away before the answer."""
    gone: list[bool] = []
    request.notifyFinish().addErrback(lambda _: gone.append(True))
    return gone

"""On this machine's kernel: the owner lookup asks netlink (the door's own
lookup, L{mcpgateway.runtime.peeruid.SockDiag}) for a loopback socket's
inode and gets the one C{fstat} gives, for IPv4 and IPv6, and finds no
socket for a port no one holds; and this process can name its own peers."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from mcpgateway.ops import peerpid
from mcpgateway.runtime.peeruid import ABSENT, UNTOLD, PeerSocket, SockDiag, namesPeers

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


@contextmanager
def pair(family: socket.AddressFamily, host: str) -> Iterator[tuple[socket.socket, socket.socket]]:
    with socket.socket(family) as listener:
        listener.bind((host, 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()[:2]) as client:
            accepted, _ = listener.accept()
            with accepted:
                yield client, accepted


@pytest.mark.parametrize(
    ("family", "host"), [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]
)
def test_netlink_gives_the_client_sockets_inode(family: socket.AddressFamily, host: str) -> None:
    try:
        with pair(family, host) as (client, accepted):
            check(client, accepted)
    except OSError as e:
        pytest.skip(f"no {host} here: {e}")


def check(client: socket.socket, accepted: socket.socket) -> None:
    clientHost, clientPort = client.getsockname()[:2]
    serverHost, serverPort = accepted.getsockname()[:2]
    diag = SockDiag()
    try:
        named = diag.tcpPeer(clientHost, clientPort, serverHost, serverPort)
        if named is UNTOLD:
            pytest.skip("netlink sock_diag refused here")
        assert isinstance(named, PeerSocket) and named.uid == os.geteuid()
        inode = named.inode
        assert inode == os.fstat(client.fileno()).st_ino
        assert diag.tcpPeer(clientHost, clientPort, serverHost, serverPort + 1) is ABSENT
    finally:
        diag.close()
    ends = (clientHost, clientPort, serverHost, serverPort)
    assert peerpid.socketInodes([ends]) == [inode]
    assert peerpid.findClientPids([(*ends, 0)]) == [os.getpid()]
    assert peerpid.findClientPids([(*ends, inode)]) == [os.getpid()]


def test_this_process_names_its_own_peers() -> None:
    assert namesPeers()

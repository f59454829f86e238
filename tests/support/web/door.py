"""What the door's tests share (tests/httpbase/test_door.py,
test_clientcounts.py): a fake L{PeerNamer} that names each client port's
account as the test says, a site behind a door, and connections to it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from twisted.internet.address import IPv4Address, UNIXAddress
from twisted.internet.defer import Deferred
from twisted.internet.testing import StringTransport

from mcpgateway.httpbase.door import Door
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.runtime.peeruid import ABSENT, Named, PeerSocket
from mcpgateway.web.app import GatewaySite, makeSite
from tests.http import Harness

OWNER = 1000
"""The gateway's account in these tests."""
TOKEN = "t" * 43
"""The owner token of a door that has one in these tests."""
NAMES = {0: "root", 1000: "owner", 1001: "mallory"}


class FakeNamer:
    """Names the client of each port as C{accounts} says (a uid, an
    L{Unnamed<mcpgateway.runtime.peeruid.Unnamed>}, or a Deferred the test
    fires); every port's socket inode is the port itself. Its holders are
    found by C{walks}: each walk is a Deferred the test fires."""

    def __init__(self, accounts: dict[int, Any] | None = None, default: Any = OWNER) -> None:
        self.accounts = accounts or {}
        self.default = default
        self.asked: list[tuple[tuple[str, int], tuple[str, int]]] = []
        self.unixAsked: list[Any] = []
        self.unixPeer: Named = ABSENT
        self.walks: list[tuple[int, frozenset[int], tuple[int, ...], Deferred[dict[int, int]]]] = []

    def tcp(self, client: tuple[str, int], server: tuple[str, int]) -> Named | Deferred[Named]:
        self.asked.append((client, server))
        account = self.accounts.get(client[1], self.default)
        if isinstance(account, int):
            return PeerSocket(account, client[1])
        return account  # type: ignore[no-any-return]

    def unix(self, transport: Any) -> Named:
        self.unixAsked.append(transport)
        return self.unixPeer

    def holders(
        self, uid: int, inodes: frozenset[int], hints: Sequence[int]
    ) -> Deferred[dict[int, int]]:
        walk: Deferred[dict[int, int]] = Deferred()
        self.walks.append((uid, inodes, tuple(hints), walk))
        return walk


class DoorHarness(Harness):
    """A L{Harness} whose site has a door naming peers with C{namer}
    (and asking the owner C{token} where it cannot)."""

    def __init__(
        self,
        namer: FakeNamer,
        twisted: str | None = None,
        acceptsRoot: bool = False,
        owner: int = OWNER,
        limits: MessageBounds | None = None,
        token: str | None = None,
    ) -> None:
        super().__init__()
        self.namer = namer
        self.door = Door(self.reactor, namer, acceptsRoot, owner, NAMES.get, token)
        self.site: GatewaySite = makeSite(
            self.gateway, self.reactor, limits=limits, twisted=twisted, door=self.door
        )


def connect(
    site: GatewaySite, port: int = 50000, host: str = "127.0.0.1"
) -> tuple[Any, StringTransport]:
    """A new connection to C{site} from C{host:port} to C{127.0.0.1:9100}."""
    transport = StringTransport(
        hostAddress=IPv4Address("TCP", "127.0.0.1", 9100),
        peerAddress=IPv4Address("TCP", host, port),
    )
    protocol = site.buildProtocol(transport.getPeer())
    protocol.makeConnection(transport)
    return protocol, transport


def connectUnix(site: GatewaySite) -> tuple[Any, StringTransport]:
    transport = StringTransport(
        hostAddress=UNIXAddress("/run/gateway.sock"), peerAddress=UNIXAddress(None)
    )
    protocol = site.buildProtocol(transport.getPeer())
    protocol.makeConnection(transport)
    return protocol, transport


def answer(out: bytes) -> tuple[bytes, dict[str, Any]]:
    """The status line and the JSON body of the one answer in C{out}, which
    closes its connection."""
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"connection: close" in head.lower(), head
    assert out.count(b"HTTP/1.1 ") == 1, out
    return head.split(b"\r\n")[0], json.loads(body)


class HalfClosing(StringTransport):
    """A TCP transport's half close and abort, noted."""

    writeClosed = False
    aborted = False

    def loseWriteConnection(self) -> None:
        self.writeClosed = True

    def abortConnection(self) -> None:
        self.aborted = True

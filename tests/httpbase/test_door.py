"""The front door of a gateway that authenticates no one: a connection from
the owner's account is served; any other account's, root's (unless let
in), one the kernel names no process for and one it cannot be asked about
get 403 on whatever route they ask for, and the connection closes; each
refusal is logged naming the account, at most a line a minute per account.
A connection whose account only a worker thread can find is held unread
until then. On both channels; the kernel is never asked (a fake namer)."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel

from mcpgateway.httpbase.bounds import REFUSED_LINGER, ConnectionGuard
from mcpgateway.httpbase.clienterrors import ClientErrors
from mcpgateway.httpbase.door import LOG_SECONDS, Door, KernelNamer, accountName, socketOf
from mcpgateway.ops.peerpid import inodeHolders
from mcpgateway.runtime.peeruid import ABSENT, UNTOLD, Named, PeerSocket, SockDiag, hexEndpoint
from mcpgateway.runtime.threads import runInline
from mcpgateway.tuned.switch import STOCK, TUNED
from tests.fakes import capturedGatewayLogs
from tests.support.web.api import ApiHarness
from tests.support.web.channel_reading import HEALTH, echo, post
from tests.support.web.door import (
    OWNER,
    TOKEN,
    DoorHarness,
    FakeNamer,
    HalfClosing,
    answer,
    connect,
    connectUnix,
)

BOTH = pytest.mark.parametrize("twisted", [STOCK, TUNED])
ROUTES = [
    HEALTH,
    post("no-session", echo(1)),
    b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n\r\n",
    b"GET /api/v1/servers HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n\r\n",
    b"POST /api/v1/servers HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nContent-Type: application/json"
    b"\r\nContent-Length: 2\r\n\r\n{}",
]


def refusals(events: list[Any]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("log_namespace") == "mcpgateway.httpbase.door.Door"]


@BOTH
def test_the_owners_connection_is_served(twisted: str) -> None:
    h = DoorHarness(FakeNamer(), twisted)
    protocol, transport = connect(h.site)
    protocol.dataReceived(HEALTH)
    assert transport.value().startswith(b"HTTP/1.1 200 OK\r\n")
    assert not transport.disconnecting
    assert h.namer.asked == [(("127.0.0.1", 50000), ("127.0.0.1", 9100))]
    assert h.request("GET", "/health").status == 200


@BOTH
@pytest.mark.parametrize("route", range(len(ROUTES)))
def test_another_accounts_connection_is_refused_on_every_route(twisted: str, route: int) -> None:
    h = DoorHarness(FakeNamer({50000: 1001}), twisted)
    with capturedGatewayLogs() as events:
        protocol, transport = connect(h.site)
        protocol.dataReceived(ROUTES[route])  # never read
    status, body = answer(transport.value())
    assert status == b"HTTP/1.1 403 Forbidden"
    assert body["error"]["code"] == -32600
    assert body["error"]["message"] == (
        f"this gateway serves only the connections of its owner's account (uid {OWNER});"
        " this one comes from uid 1001"
    )
    assert transport.disconnecting
    assert h.reactor.processes == []  # nothing reached a server
    [line] = refusals(events)
    assert (line["uid"], line["user"], line["owner"], line["peer"]) == (
        1001,
        "mallory",
        OWNER,
        "127.0.0.1:50000",
    )
    assert line["log_level"].name == "warn"


def test_an_api_request_of_another_account_never_reaches_the_api(tmp_path: Path) -> None:
    api = ApiHarness(tmp_path / "state")
    door = Door(api.reactor, FakeNamer({50000: 1001}), owner=OWNER)
    api.site.guard = ConnectionGuard(api.reactor, api.site.limits, ClientErrors(api.reactor), door)
    protocol, transport = connect(api.site)
    protocol.dataReceived(ROUTES[-1])
    assert answer(transport.value())[0] == b"HTTP/1.1 403 Forbidden"
    assert not (tmp_path / "state" / "servers.json").exists()


@BOTH
def test_root_is_let_in_only_when_told_or_when_it_is_the_owner(twisted: str) -> None:
    namer = FakeNamer({50000: 0})
    with capturedGatewayLogs() as events:
        refused = connect(DoorHarness(namer, twisted).site)[1]
    assert answer(refused.value())[0] == b"HTTP/1.1 403 Forbidden"
    [line] = refusals(events)
    assert line["uid"] == 0 and "--owner-accepts-root" in line["hint"]
    assert connect(DoorHarness(namer, twisted, acceptsRoot=True).site)[1].value() == b""
    assert connect(DoorHarness(namer, twisted, owner=0).site)[1].value() == b""
    other = FakeNamer({50000: OWNER})
    rootsGateway = connect(DoorHarness(other, twisted, owner=0, acceptsRoot=True).site)[1]
    assert answer(rootsGateway.value())[0] == b"HTTP/1.1 403 Forbidden"


@BOTH
def test_a_peer_the_kernel_names_no_process_for_is_refused(twisted: str) -> None:
    h = DoorHarness(FakeNamer({50000: ABSENT}), twisted)
    with capturedGatewayLogs() as events:
        transport = connect(h.site)[1]
    status, body = answer(transport.value())
    assert status == b"HTTP/1.1 403 Forbidden"
    assert "names no process of this machine" in body["error"]["message"]
    [line] = refusals(events)
    assert "names no process" in line["log_format"] and "uid" not in line
    assert line["log_level"] == LogLevel.info and line["why"] == "closed already"


@BOTH
def test_a_peer_named_by_no_process_warns_unless_it_is_on_loopback(twisted: str) -> None:
    """A loopback peer the kernel names no process for closed its end
    already: refused,
    counted, logged at info. Another address may be another network
    namespace's: a warning."""
    h = DoorHarness(FakeNamer({50000: ABSENT, 50001: ABSENT}), twisted)
    with capturedGatewayLogs() as events:
        connect(h.site, 50000, host="10.0.0.7")
    [line] = refusals(events)
    assert line["log_level"] == LogLevel.warn and "network namespace" in line["why"]
    assert h.door.refused == 1


@BOTH
def test_a_system_that_cannot_name_the_peer_never_falls_back_to_open(twisted: str) -> None:
    h = DoorHarness(FakeNamer({50000: UNTOLD}), twisted)
    with capturedGatewayLogs() as events:
        transport = connect(h.site)[1]
    status, body = answer(transport.value())
    assert status == b"HTTP/1.1 403 Forbidden"
    assert "--auth-tokens FILE" in body["error"]["message"]
    [line] = refusals(events)
    assert "cannot tell which account" in line["log_format"]


@BOTH
def test_a_refused_client_still_sending_is_read_until_it_closes_or_for_two_seconds(
    twisted: str,
) -> None:
    """Closing a socket with bytes unread sends its client a reset, which a
    client still sending its body meets before the answer: the answer's
    sending side is closed, what still comes is read and dropped."""
    h = DoorHarness(FakeNamer({50000: 1001, 50001: 1001}), twisted)
    transports = []
    for port in (50000, 50001):
        transport = HalfClosing(
            hostAddress=IPv4Address("TCP", "127.0.0.1", 9100),
            peerAddress=IPv4Address("TCP", "127.0.0.1", port),
        )
        protocol = h.site.buildProtocol(transport.getPeer())
        protocol.makeConnection(transport)
        transports.append((protocol, transport))
    (protocol, transport), (closing, closingTransport) = transports
    assert transport.writeClosed and not transport.disconnecting
    protocol.dataReceived(ROUTES[-1] * 50)  # dropped
    assert transport.value().count(b"HTTP/1.1 ") == 1
    closing.connectionLost(None)  # its client read the answer and closed
    h.reactor.advance(REFUSED_LINGER - 0.1)
    assert not transport.aborted
    h.reactor.advance(0.1)
    assert transport.aborted and not closingTransport.aborted


def test_refusals_are_logged_once_a_minute_per_account_with_the_count_left_out() -> None:
    h = DoorHarness(FakeNamer({50000: 1001, 50001: 1002, 50002: ABSENT}))
    with capturedGatewayLogs() as events:
        for _ in range(5):
            connect(h.site, 50000)
        connect(h.site, 50001)
        connect(h.site, 50002)
        connect(h.site, 50002)
        h.reactor.advance(LOG_SECONDS - 1)
        connect(h.site, 50000)
        h.reactor.advance(1)
        connect(h.site, 50000)
    lines = refusals(events)
    assert [(e.get("uid"), e["more"]) for e in lines] == [
        (1001, ""),
        (1002, ""),
        (None, ""),
        (1001, " (5 more refused since its last line)"),
    ]
    assert lines[1]["user"] == "no user name"
    assert h.door.refused == 10


def test_the_owner_is_the_effective_uid_unless_given() -> None:
    clock = DoorHarness(FakeNamer()).reactor
    assert Door(clock, FakeNamer()).owner == os.geteuid()
    assert Door(clock, FakeNamer(), owner=4321).owner == 4321
    assert accountName(os.geteuid()) is not None
    assert accountName(2**31 - 7) is None


@BOTH
def test_a_unix_socket_peer_is_named_by_its_credentials(twisted: str) -> None:
    namer = FakeNamer()
    h = DoorHarness(namer, twisted)
    namer.unixPeer = PeerSocket(OWNER, 0, 4321)
    protocol, transport = connectUnix(h.site)
    protocol.dataReceived(HEALTH)
    assert transport.value().startswith(b"HTTP/1.1 200 OK\r\n")
    assert namer.unixAsked == [transport]
    assert h.site.guard.clients is not None
    assert h.site.guard.clients.perProcess == {(OWNER, 4321): 1}
    namer.unixPeer = PeerSocket(1001, 0, 99)
    with capturedGatewayLogs() as events:
        assert answer(connectUnix(h.site)[1].value())[0] == b"HTTP/1.1 403 Forbidden"
    assert [e["peer"] for e in refusals(events)] == ["pid 99 on the UNIX socket"]


@BOTH
def test_a_connection_named_later_is_held_unread_then_served(twisted: str) -> None:
    later: Deferred[Named] = Deferred()
    h = DoorHarness(FakeNamer({50000: later}), twisted)
    protocol, transport = connect(h.site)
    assert transport.producerState == "paused"
    protocol.dataReceived(HEALTH[:20])
    protocol.dataReceived(HEALTH[20:])
    assert transport.value() == b""
    h.reactor.advance(120)  # no deadline runs while it is held
    assert not transport.disconnecting
    later.callback(PeerSocket(OWNER, 50000))
    assert transport.producerState == "producing"
    assert transport.value().startswith(b"HTTP/1.1 200 OK\r\n")
    assert not transport.disconnecting


@BOTH
def test_the_channel_keeps_the_client_sockets_inode_named_at_accept(twisted: str) -> None:
    """What the owner look of the connection's sessions goes by: the inode
    of the socket the door named (at once, or later from a worker thread);
    0 where the kernel could not name it and the owner token lets it in."""
    later: Deferred[Named] = Deferred()
    h = DoorHarness(FakeNamer({50001: later, 50002: UNTOLD}), twisted, token=TOKEN)

    def inodeOf(port: int) -> int:
        """The inode the channel of the connection from C{port} keeps."""
        [channel] = [c for c in h.site.guard.channels if c.getPeer().port == port]
        return channel.peerInode

    for port in (50000, 50001):
        connect(h.site, port)
    assert inodeOf(50001) == 0  # held: not named yet
    later.callback(PeerSocket(OWNER, 7777))
    connect(h.site, 50002)
    assert [inodeOf(port) for port in (50000, 50001, 50002)] == [50000, 7777, 0]


@BOTH
def test_an_answer_that_comes_at_once_is_still_the_doors(twisted: str) -> None:
    """A worker thread's answer may be there before the guard looks (an
    inline runner): another account is refused all the same."""
    h = DoorHarness(FakeNamer({50000: succeed(PeerSocket(1001, 50000))}), twisted)
    assert answer(connect(h.site)[1].value())[0] == b"HTTP/1.1 403 Forbidden"
    h.namer.accounts[50001] = succeed(PeerSocket(OWNER, 50001))
    protocol, transport = connect(h.site, 50001)
    protocol.dataReceived(HEALTH)
    assert transport.value().startswith(b"HTTP/1.1 200 OK\r\n")


@BOTH
def test_a_connection_named_later_may_be_refused_or_gone(twisted: str) -> None:
    refused: Deferred[Named] = Deferred()
    gone: Deferred[Named] = Deferred()
    h = DoorHarness(FakeNamer({50000: refused, 50001: gone}), twisted)
    first, transport = connect(h.site, 50000)
    refused.callback(PeerSocket(1001, 50000))
    assert answer(transport.value())[0] == b"HTTP/1.1 403 Forbidden"
    first.connectionLost(None)
    protocol, goneTransport = connect(h.site, 50001)
    protocol.connectionLost(None)
    gone.callback(PeerSocket(OWNER, 50001))
    assert goneTransport.value() == b""
    assert h.site.guard.channels == set()
    assert h.site.guard.clients is not None and h.site.guard.clients.perUid == {}


@BOTH
def test_a_held_connection_that_sends_too_much_is_refused(twisted: str) -> None:
    later: Deferred[Named] = Deferred()
    h = DoorHarness(FakeNamer({50000: later}), twisted)
    protocol, transport = connect(h.site)
    protocol.dataReceived(b"x" * 70000)
    assert answer(transport.value())[0] == b"HTTP/1.1 413 Request Entity Too Large"
    later.callback(PeerSocket(OWNER, 50000))
    assert transport.value().count(b"HTTP/1.1") == 1


@BOTH
def test_a_failed_lookup_refuses_with_a_503_and_a_traceback(twisted: str) -> None:
    later: Deferred[Named] = Deferred()
    h = DoorHarness(FakeNamer({50000: later}), twisted)
    transport = connect(h.site)[1]
    with capturedGatewayLogs() as events:
        later.errback(RuntimeError("boom"))
    status, _ = answer(transport.value())
    assert status == b"HTTP/1.1 503 Service Unavailable"
    assert [e["log_format"] for e in events if "log_failure" in e] == [
        "admitting a connection failed"
    ]


class FakeDiag(SockDiag):
    def __init__(self, named: Named) -> None:
        super().__init__()
        self.named = named

    def tcpPeer(self, clientHost: str, clientPort: int, serverHost: str, serverPort: int) -> Named:
        return self.named


def test_the_kernel_namer_reads_the_tables_in_a_thread_only_when_netlink_cannot_tell(
    tmp_path: Path,
) -> None:
    threads: list[Any] = []

    def runInThread(f: Any, *args: Any) -> Deferred[Any]:
        threads.append(f)
        return runInline(f, *args)

    (tmp_path / "net").mkdir()
    line = "   0: {} {} 01 00000000:00000000 00:00000000 00000000  1001        0 77 1 0 20 4 30\n"
    loopback = bytes([127, 0, 0, 1])
    (tmp_path / "net" / "tcp").write_text(
        "header\n" + line.format(hexEndpoint(loopback, 50000), hexEndpoint(loopback, 9100))
    )
    client, server = ("127.0.0.1", 50000), ("127.0.0.1", 9100)
    told = KernelNamer(runInThread, inodeHolders, str(tmp_path), FakeDiag(PeerSocket(5, 6)))
    assert told.tcp(client, server) == PeerSocket(5, 6) and threads == []
    untold = KernelNamer(runInThread, inodeHolders, str(tmp_path), FakeDiag(UNTOLD))
    found = untold.tcp(client, server)
    assert isinstance(found, Deferred)
    assert found.result == PeerSocket(1001, 77)
    noTables = KernelNamer(runInThread, inodeHolders, str(tmp_path / "none"), FakeDiag(UNTOLD))
    assert noTables.tcp(client, server) is UNTOLD
    assert len(threads) == 1


def test_the_kernel_namer_finds_holders_in_a_thread(tmp_path: Path) -> None:
    for pid, fds in ((11, {"3": "socket:[77]", "4": "pipe:[1]"}), (12, {"5": "socket:[78]"})):
        folder = tmp_path / str(pid) / "fd"
        folder.mkdir(parents=True)
        for fd, target in fds.items():
            (folder / fd).symlink_to(target)
    namer = KernelNamer(runInline, inodeHolders, str(tmp_path))
    found = namer.holders(os.getuid(), frozenset({77, 78, 79}), [12])
    assert found.result == {77: 11, 78: 12}


class Handled:
    def __init__(self, handle: Any, transport: Any = None) -> None:
        self.handle = handle
        self.transport = transport

    def getHandle(self) -> Any:
        return self.handle


class Credentials:
    def getsockopt(self, level: int, option: int, size: int) -> bytes:
        return struct.pack("=iII", 42, OWNER, OWNER)


def test_a_unix_peer_is_read_from_the_socket_under_tls() -> None:
    sock = Credentials()
    assert socketOf(Handled(sock)) is sock
    assert socketOf(Handled(object(), Handled(sock))) is sock
    assert socketOf(StringTransport()) is None
    if hasattr(__import__("socket"), "SO_PEERCRED"):
        namer = KernelNamer(runInline, inodeHolders)
        assert namer.unix(Handled(object(), Handled(sock))) == PeerSocket(OWNER, 0, 42)

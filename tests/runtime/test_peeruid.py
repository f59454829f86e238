"""The account at the other end of a connection: the netlink request asks
for exactly one socket in any state; a reply names the socket's uid only
when it is exactly that socket and a process holds it (any bytes: never an
exception); the C{/proc/net/tcp*} rows say the same; a UNIX socket's peer
is read from C{SO_PEERCRED}. No real socket: the netlink socket is a fake."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.runtime import peeruid
from mcpgateway.runtime.peeruid import (
    ABSENT,
    MAPPED,
    UNTOLD,
    PeerSocket,
    SockDiag,
    asks,
    diagRequest,
    hexEndpoint,
    parseDiagReply,
    tableLookup,
    tableRow,
    unixPeer,
)

LOOPBACK = bytes([127, 0, 0, 1])
V6 = socket.inet_pton(socket.AF_INET6, "::1")


def reply(
    seq: int = 7,
    state: int = 1,
    uid: int = 1000,
    inode: int = 4242,
    sport: int = 50000,
    dport: int = 9100,
    src: bytes = LOOPBACK,
    dst: bytes = LOOPBACK,
    family: int = socket.AF_INET,
    kind: int = 20,
) -> bytes:
    """A netlink message as the kernel answers a C{SOCK_DIAG_BY_FAMILY} request."""
    body = (
        struct.pack("=BBBB", family, state, 0, 0)
        + struct.pack(">HH16s16s", sport, dport, src.ljust(16, b"\0"), dst.ljust(16, b"\0"))
        + struct.pack("=III", 0, 0x1234, 0x5678)
        + struct.pack("=IIIII", 0, 0, 0, uid, inode)
        + b"\x05\x00\x08\x00\x00\x00\x00\x00"  # an attribute the kernel adds (shutdown)
    )
    return struct.pack("=IHHII", 16 + len(body), kind, 0, seq, 0) + body


def error(errno: int, seq: int = 7) -> bytes:
    return struct.pack("=IHHII", 36, 2, 0, seq, 0) + struct.pack("=i", -errno) + b"\0" * 16


def parse(data: bytes, seq: int = 7, src: bytes = LOOPBACK, dst: bytes = LOOPBACK) -> object:
    return parseDiagReply(data, seq, src, 50000, dst, 9100)


def test_the_request_asks_for_one_socket_in_any_state_by_address() -> None:
    request = diagRequest(socket.AF_INET, LOOPBACK, 50000, LOOPBACK, 9100, 7)
    length, kind, flags, seq, pid = struct.unpack_from("=IHHII", request)
    assert (length, kind, flags, seq, pid) == (len(request), 20, 1, 7, 0)  # no NLM_F_DUMP
    family, protocol, ext, _, states = struct.unpack_from("=BBBBI", request, 16)
    assert (family, protocol, ext, states) == (socket.AF_INET, socket.IPPROTO_TCP, 0, 0xFFFFFFFF)
    sport, dport, src, dst = struct.unpack_from(">HH16s16s", request, 24)
    assert (sport, dport, src, dst) == (50000, 9100, LOOPBACK + b"\0" * 12, LOOPBACK + b"\0" * 12)
    assert struct.unpack_from("=III", request, 60) == (0, 0xFFFFFFFF, 0xFFFFFFFF)  # no cookie
    assert len(request) == 72


def test_the_socket_asked_for_gives_its_uid_and_inode() -> None:
    assert parse(reply()) == PeerSocket(1000, 4242)
    assert parse(reply(uid=0, state=4)) == PeerSocket(0, 4242)  # FIN_WAIT1, still held


def test_no_such_socket_and_a_socket_no_process_holds_are_absent() -> None:
    assert parse(error(2)) is ABSENT
    assert parse(reply(state=6, uid=0, inode=0)) is ABSENT  # TIME_WAIT: uid 0, never root
    assert parse(reply(state=5, uid=0, inode=0)) is ABSENT  # FIN_WAIT2 after close
    assert parse(reply(state=8, inode=0)) is ABSENT  # orphaned: its process closed it
    assert parse(reply(state=10)) is ABSENT  # a listener


def test_the_listener_the_kernel_falls_back_to_never_answers_for_a_client() -> None:
    listener = reply(state=10, sport=50000, dport=0, dst=b"\0" * 4)
    assert parse(listener) is ABSENT
    assert parse(reply(sport=50001)) is ABSENT
    assert parse(reply(dst=bytes([127, 0, 0, 2]))) is ABSENT


def test_an_ipv4_question_may_be_answered_by_a_dual_stack_socket() -> None:
    mapped = reply(family=socket.AF_INET6, src=MAPPED + LOOPBACK, dst=MAPPED + LOOPBACK)
    assert parse(mapped) == PeerSocket(1000, 4242)
    asked6 = parse(reply(), src=MAPPED + LOOPBACK, dst=MAPPED + LOOPBACK)
    assert asked6 == PeerSocket(1000, 4242)
    assert parse(reply(family=socket.AF_INET6, src=V6, dst=V6), src=V6, dst=V6).uid == 1000  # type: ignore[attr-defined]
    assert parse(reply(family=socket.AF_INET6, src=V6, dst=V6)) is ABSENT


def test_what_cannot_be_read_is_untold() -> None:
    assert parse(error(1)) is UNTOLD  # EPERM
    assert parse(reply(kind=3)) is UNTOLD
    assert parse(reply()[:40]) is UNTOLD
    assert parse(reply(family=99)) is UNTOLD
    assert parse(struct.pack("=IHHII", 8, 20, 0, 7, 0)) is UNTOLD  # a length below the header


def test_another_requests_answer_is_passed_over() -> None:
    assert parse(reply(seq=6)) is None
    assert parse(reply(seq=6, uid=0) + reply(seq=7)) == PeerSocket(1000, 4242)
    assert parse(b"") is None


def replyOf(f: dict[str, int]) -> bytes:
    return reply(
        f["seq"], f["state"], f["uid"], f["inode"], f["sport"], family=f["family"], kind=f["kind"]
    )


REPLY_FIELDS = st.fixed_dictionaries(
    {
        "seq": st.sampled_from([6, 7]),
        "state": st.integers(0, 255),
        "uid": st.integers(0, 2**32 - 1),
        "inode": st.integers(0, 2**32 - 1),
        "sport": st.sampled_from([50000, 50001]),
        "family": st.sampled_from([socket.AF_INET, socket.AF_INET6, 0]),
        "kind": st.sampled_from([20, 2, 3]),
    }
)


@given(
    st.lists(st.binary(max_size=120) | REPLY_FIELDS.map(replyOf), max_size=4),
    st.integers(0, 2**32 - 1),
)
def test_any_bytes_are_read_without_an_exception(pieces: list[bytes], seq: int) -> None:
    data = b"".join(pieces)
    found = parseDiagReply(data, seq, LOOPBACK, 50000, LOOPBACK, 9100)
    assert found is None or found in (ABSENT, UNTOLD) or isinstance(found, PeerSocket)
    if isinstance(found, PeerSocket):
        assert found.inode > 0 and found.pid is None


@given(REPLY_FIELDS)
def test_a_reply_names_an_account_only_for_the_held_socket_asked_for(
    fields: dict[str, int],
) -> None:
    found = parse(replyOf(fields))
    exact = fields["sport"] == 50000 and fields["family"] == socket.AF_INET
    held = fields["state"] not in (6, 10, 12) and fields["inode"] > 0
    if fields["seq"] != 7:
        assert found is None
    elif fields["kind"] == 20 and exact and held:
        assert found == PeerSocket(fields["uid"], fields["inode"])
    else:
        assert not isinstance(found, PeerSocket)


def test_the_lookups_of_each_pair_of_addresses() -> None:
    v4 = (socket.AF_INET, LOOPBACK, LOOPBACK)
    mapped = (socket.AF_INET6, MAPPED + LOOPBACK, MAPPED + LOOPBACK)
    assert asks("127.0.0.1", "127.0.0.1") == [v4, mapped]
    assert asks("::ffff:127.0.0.1", "::ffff:127.0.0.1") == [v4, mapped]  # a dual-stack listener
    assert asks("::1", "::1") == [(socket.AF_INET6, V6, V6)]
    assert asks("fe80::1%lo", "fe80::2%lo") is not None
    assert asks("::1", "127.0.0.1") is None
    assert asks("localhost", "127.0.0.1") is None


class FakeNetlink:
    """A netlink socket whose kernel answers from C{answers} (by port)."""

    def __init__(self, answers: dict[int, bytes | None], fail: bool = False) -> None:
        self.answers = answers
        self.sent: list[bytes] = []
        self.queued: list[bytes] = []
        self.fail = fail
        self.closed = False

    def send(self, data: bytes) -> int:
        if self.fail:
            raise OSError("gone")
        self.sent.append(data)
        seq = struct.unpack_from("=I", data, 8)[0]
        family = data[16]
        sport, _, src, dst = struct.unpack_from(">HH16s16s", data, 24)
        answer = self.answers.get(sport)
        if answer is not None:
            width = 4 if family == socket.AF_INET else 16
            head = struct.pack("=IHHII", len(answer), 20, 0, seq, 0)
            fixed = bytearray(head + answer[16:])
            fixed[16] = family
            fixed[20:56] = struct.pack(">HH16s16s", sport, 9100, src[:width], dst[:width])
            self.queued.append(bytes(fixed))
        else:
            self.queued.append(error(2, seq))
        return len(data)

    def recv(self, size: int, flags: int = 0) -> bytes:
        if not self.queued:
            raise BlockingIOError
        return self.queued.pop(0)

    def close(self) -> None:
        self.closed = True


def test_one_socket_asks_every_question_and_ipv4_is_also_asked_as_mapped() -> None:
    fake = FakeNetlink({50000: reply(), 50001: None})
    opened: list[FakeNetlink] = []

    def opener() -> socket.socket:
        opened.append(fake)
        return fake  # type: ignore[return-value]

    diag = SockDiag(opener)
    assert diag.tcpPeer("127.0.0.1", 50000, "127.0.0.1", 9100) == PeerSocket(1000, 4242)
    assert diag.tcpPeer("127.0.0.1", 50001, "127.0.0.1", 9100) is ABSENT
    assert [r[16] for r in fake.sent] == [socket.AF_INET, socket.AF_INET, socket.AF_INET6]
    assert len(opened) == 1
    seqs = [struct.unpack_from("=I", r, 8)[0] for r in fake.sent]
    assert seqs == [1, 2, 3]


def test_what_netlink_cannot_answer_is_untold() -> None:
    def refused() -> socket.socket:
        raise OSError("Address family not supported")

    diag = SockDiag(refused)
    assert diag.tcpPeer("127.0.0.1", 50000, "127.0.0.1", 9100) is UNTOLD
    assert diag.broken
    silent = FakeNetlink({})
    silent.send = lambda data: len(data)  # type: ignore[method-assign]
    assert SockDiag(lambda: silent).tcpPeer("::1", 1, "::1", 2) is UNTOLD  # type: ignore[arg-type, return-value]
    assert SockDiag(lambda: silent).tcpPeer("nope", 1, "::1", 2) is UNTOLD  # type: ignore[arg-type, return-value]
    assert SockDiag(lambda: silent).tcpPeer("::1", 0, "::1", 2) is UNTOLD  # type: ignore[arg-type, return-value]


def test_a_failing_socket_is_opened_again_at_the_next_question() -> None:
    sockets = [FakeNetlink({}, fail=True), FakeNetlink({50000: reply()})]
    diag = SockDiag(lambda: sockets.pop(0))  # type: ignore[arg-type, return-value]
    assert diag.tcpPeer("127.0.0.1", 50000, "127.0.0.1", 9100) is UNTOLD
    assert diag.tcpPeer("127.0.0.1", 50000, "127.0.0.1", 9100) == PeerSocket(1000, 4242)
    assert not diag.broken


HEADER = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
    "   uid  timeout inode\n"
)


def row(local: str, remote: str, state: str = "01", uid: int = 1000, inode: int = 77) -> str:
    return (
        f"   3: {local} {remote} {state} 00000000:00000000 00:00000000 00000000"
        f" {uid:>5}        0 {inode} 1 0000000000000000 20 4 30 10 -1\n"
    )


def test_the_tables_are_read_as_the_kernel_prints_them() -> None:
    client, server = hexEndpoint(LOOPBACK, 50000), hexEndpoint(LOOPBACK, 9100)
    assert server.endswith(":238C")
    if sys.byteorder == "little":
        assert client == "0100007F:C350"
    text = HEADER + row(server, "00000000:0000", "0A", 0, 5) + row(client, server)
    assert tableRow(text, client, server) == PeerSocket(1000, 77)
    assert tableRow(text, server, client) is None
    assert tableRow(HEADER + row(client, server, "06", 0, 0), client, server) is ABSENT
    assert tableRow(HEADER + row(client, server)[:60], client, server) is UNTOLD


@given(st.text(max_size=400), st.sampled_from(["0100007F:C350", "", "X"]))
def test_any_table_text_is_read_without_an_exception(text: str, local: str) -> None:
    found = tableRow(text, local, "0100007F:238C")
    assert found is None or found in (ABSENT, UNTOLD) or isinstance(found, PeerSocket)


def test_a_lookup_in_the_tables_of_a_proc_tree(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    client = hexEndpoint(LOOPBACK, 50000)
    (tmp_path / "net" / "tcp").write_text(HEADER)
    mapped = hexEndpoint(MAPPED + LOOPBACK, 50000), hexEndpoint(MAPPED + LOOPBACK, 9100)
    (tmp_path / "net" / "tcp6").write_text(HEADER + row(*mapped, uid=1001))
    assert client != mapped[0]
    found = tableLookup("127.0.0.1", 50000, "127.0.0.1", 9100, str(tmp_path))
    assert found == PeerSocket(1001, 77)
    assert tableLookup("127.0.0.1", 50001, "127.0.0.1", 9100, str(tmp_path)) is ABSENT
    assert tableLookup("127.0.0.1", 50000, "127.0.0.1", 9100, str(tmp_path / "no")) is UNTOLD
    assert peeruid.tablesReadable(str(tmp_path)) and not peeruid.tablesReadable(
        str(tmp_path / "no")
    )


class FakeUnixSocket:
    def __init__(self, credentials: bytes | None) -> None:
        self.credentials = credentials

    def getsockopt(self, level: int, option: int, size: int) -> bytes:
        if self.credentials is None:
            raise OSError("not connected")
        assert (level, size) == (socket.SOL_SOCKET, 12)
        return self.credentials


@pytest.mark.skipif(not hasattr(socket, "SO_PEERCRED"), reason="SO_PEERCRED is Linux's")
def test_a_unix_peer_is_read_with_its_pid() -> None:
    assert unixPeer(FakeUnixSocket(struct.pack("=iII", 321, 1000, 1000))) == PeerSocket(
        1000, 0, 321
    )
    assert unixPeer(FakeUnixSocket(struct.pack("=iII", 0, 1000, 1000))) == PeerSocket(1000)
    assert unixPeer(FakeUnixSocket(struct.pack("=iII", 0, 0xFFFFFFFF, 0))) is ABSENT
    assert unixPeer(FakeUnixSocket(None)) is UNTOLD
    assert unixPeer(object()) is UNTOLD


class AnsweringDiag(SockDiag):
    """A lookup that names every socket as C{named} says, and notes what it was asked."""

    def __init__(self, named: peeruid.Named) -> None:
        super().__init__()
        self.named = named
        self.asked: list[tuple[str, int, str, int]] = []

    def tcpPeer(
        self, clientHost: str, clientPort: int, serverHost: str, serverPort: int
    ) -> peeruid.Named:
        self.asked.append((clientHost, clientPort, serverHost, serverPort))
        return self.named


@contextlib.contextmanager
def fakeConnection() -> Iterator[peeruid.Endpoints]:
    yield ("127.0.0.1", 50000), ("127.0.0.1", 9100)


@contextlib.contextmanager
def noConnection() -> Iterator[peeruid.Endpoints]:
    raise OSError("no loopback here")
    yield  # pragma: no cover


def test_this_process_names_peers_when_its_own_connection_is_its_own(tmp_path: Path) -> None:
    """One lookup of a connection to itself says whether the door can name
    peers here: netlink's answer, else the tables', must be this account."""
    mine = AnsweringDiag(PeerSocket(os.geteuid(), 5))
    assert peeruid.namesPeers(fakeConnection, mine, str(tmp_path))
    assert mine.asked == [("127.0.0.1", 50000, "127.0.0.1", 9100)]
    assert not peeruid.namesPeers(fakeConnection, AnsweringDiag(PeerSocket(os.geteuid() + 1)))
    assert not peeruid.namesPeers(fakeConnection, AnsweringDiag(ABSENT), str(tmp_path))
    untold = AnsweringDiag(UNTOLD)
    assert not peeruid.namesPeers(fakeConnection, untold, str(tmp_path / "no"))
    (tmp_path / "net").mkdir()
    tables = hexEndpoint(LOOPBACK, 50000), hexEndpoint(LOOPBACK, 9100)
    (tmp_path / "net" / "tcp").write_text(HEADER + row(*tables, uid=os.geteuid()))
    assert peeruid.namesPeers(fakeConnection, untold, str(tmp_path))
    assert not peeruid.namesPeers(noConnection, mine, str(tmp_path))

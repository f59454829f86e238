"""The inode of a TCP socket asked of the kernel by its addresses: what a
C{SOCK_DIAG_BY_FAMILY} reply says (any bytes: never an exception), and the
owner lookup asking netlink first, reading C{/proc/net/tcp*} only for the
connections netlink could not tell about."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.ops import peerpid, sockdiag
from mcpgateway.ops.sockdiag import UNKNOWN, parseReply

SRC = bytes([127, 0, 0, 1])
DST = bytes([127, 0, 0, 1])


def reply(
    state: int = 1,
    inode: int = 4242,
    sport: int = 50000,
    dport: int = 9100,
    src: bytes = SRC,
    dst: bytes = DST,
    kind: int = 20,
) -> bytes:
    body = (
        struct.pack("=BBBB", 2, state, 0, 0)
        + struct.pack(">HH16s16s", sport, dport, src.ljust(16, b"\0"), dst.ljust(16, b"\0"))
        + struct.pack("=III", 0, 0, 0)
        + struct.pack("=IIIII", 0, 0, 0, 1000, inode)
    )
    return struct.pack("=IHHII", 16 + len(body), kind, 0, 1, 0) + body


def error(errno: int) -> bytes:
    return struct.pack("=IHHII", 36, 2, 0, 1, 0) + struct.pack("=i", -errno) + b"\0" * 16


def test_the_socket_asked_for_gives_its_inode() -> None:
    assert parseReply(reply(), SRC, 50000, DST, 9100) == 4242


def test_no_such_socket() -> None:
    assert parseReply(error(2), SRC, 50000, DST, 9100) is None


def test_a_socket_not_established_is_not_the_one() -> None:
    assert parseReply(reply(state=6), SRC, 50000, DST, 9100) is None  # TIME_WAIT


def test_another_socket_or_another_error_says_nothing() -> None:
    assert parseReply(reply(sport=50001), SRC, 50000, DST, 9100) == UNKNOWN
    assert parseReply(error(1), SRC, 50000, DST, 9100) == UNKNOWN  # EPERM
    assert parseReply(reply(kind=3), SRC, 50000, DST, 9100) == UNKNOWN
    assert parseReply(reply()[:40], SRC, 50000, DST, 9100) == UNKNOWN


@given(st.binary(max_size=200))
def test_any_reply_is_read_without_an_exception(data: bytes) -> None:
    found = parseReply(data, SRC, 50000, DST, 9100)
    assert found is None or isinstance(found, int)


def test_unusable_addresses_say_nothing() -> None:
    assert sockdiag.socketInode("nope", 1, "127.0.0.1", 2) == UNKNOWN
    assert sockdiag.socketInode("::1", 1, "127.0.0.1", 2) == UNKNOWN


def test_the_tables_are_read_only_for_what_netlink_could_not_tell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = {50000: 11, 50001: None, 50002: UNKNOWN}
    read: list[list[peerpid.Connection]] = []

    def tables(connections: list[peerpid.Connection], procRoot: str) -> list[int | None]:
        read.append(list(connections))
        return [99 for _ in connections]

    monkeypatch.setattr(sockdiag, "available", lambda: True)
    monkeypatch.setattr(sockdiag, "socketInode", lambda h, p, lh, lp: answers[p])
    monkeypatch.setattr(peerpid, "_tableInodes", tables)
    connections = [("127.0.0.1", port, "127.0.0.1", 9100) for port in answers]
    assert peerpid.socketInodes(connections) == [11, None, 99]
    assert read == [[("127.0.0.1", 50002, "127.0.0.1", 9100)]]
    read.clear()
    assert peerpid.socketInodes(connections[:2]) == [11, None] and read == []


def test_a_proc_tree_elsewhere_is_read_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another C{procRoot} (a test's tree) is never asked of the kernel."""
    monkeypatch.setattr(sockdiag, "socketInode", lambda *a: pytest.fail("asked netlink"))
    assert peerpid.socketInodes([("127.0.0.1", 1, "127.0.0.1", 2)], "/nonexistent") == [None]

"""portuse: who holds a port (against fake /proc trees), and the line that
says it, written by the gateway and read back by C{mcpgateway start}."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.runtime import portuse
from mcpgateway.runtime.portuse import (
    PortInUse,
    holderPid,
    inUseMessage,
    listenerUid,
    reportedInUse,
)
from tests.support.ops.peerpid import LITTLE_ENDIAN, LOOP4, LOOP6, MAPPED_LOOP, FakeProc, row
from tests.support.ops.procfixture import proc as proc  # the fixture

ANY4 = "00000000"
ANY6 = "0" * 32
OTHER4 = "0200007F"  # 127.0.0.2
REMOTE = f"{ANY4}:0000"
LISTEN = "0A"


def test_the_message() -> None:
    assert (
        inUseMessage(9101, 4321)
        == "port 9101 is in use (by pid 4321); stop that process, or pick another port with --port"
    )
    assert (
        inUseMessage(9101, None)
        == "port 9101 is in use; stop what holds it, or pick another port with --port"
    )
    assert PortInUse(9101, None).toJson() == {
        "ok": False,
        "error": "port 9101 is in use; stop what holds it, or pick another port with --port",
        "uid": None,
        "port": 9101,
        "pid": None,
    }


@LITTLE_ENDIAN
def test_the_listening_socket_of_the_port_names_its_process(proc: FakeProc) -> None:
    proc.tcp(
        row(f"{LOOP4}:238D", REMOTE, LISTEN, inode=500),  # port 9101
        row(f"{LOOP4}:238E", REMOTE, LISTEN, inode=600),  # port 9102
    )
    proc.process(10, fds=[600])
    proc.process(11, fds=["/dev/null", 500])
    assert holderPid(9101, "127.0.0.1", proc.path) == 11
    assert holderPid(9102, "127.0.0.1", proc.path) == 10
    assert holderPid(9103, "127.0.0.1", proc.path) is None


@LITTLE_ENDIAN
def test_a_listener_comes_before_a_connection_on_the_same_port(proc: FakeProc) -> None:
    proc.tcp(
        row(f"{LOOP4}:238D", f"{LOOP4}:C350", "01", inode=700),  # an accepted connection
        row(f"{LOOP4}:238D", REMOTE, LISTEN, inode=500),
    )
    proc.process(10, fds=[700])
    proc.process(11, fds=[500])
    assert holderPid(9101, "127.0.0.1", proc.path) == 11


@LITTLE_ENDIAN
@pytest.mark.parametrize(
    ("table", "address", "clashes"),
    [
        ("tcp", ANY4, True),  # every address: 127.0.0.1 too
        ("tcp6", ANY6, True),  # [::] (dual-stack) takes IPv4 too
        ("tcp6", MAPPED_LOOP, True),
        ("tcp", OTHER4, False),  # 127.0.0.2 leaves 127.0.0.1 free
        ("tcp6", LOOP6, False),  # ::1 is another address
    ],
)
def test_only_a_socket_whose_address_clashes_counts(
    proc: FakeProc, table: str, address: str, clashes: bool
) -> None:
    getattr(proc, table)(row(f"{address}:238D", REMOTE, LISTEN, inode=500))
    proc.process(11, fds=[500])
    assert holderPid(9101, "127.0.0.1", proc.path) == (11 if clashes else None)
    assert holderPid(9101, None, proc.path) == 11  # any address


@LITTLE_ENDIAN
def test_a_holder_whose_fds_cannot_be_read_is_not_named(proc: FakeProc) -> None:
    """Another user's process: its C{fd} directory cannot be listed."""
    proc.tcp(row(f"{LOOP4}:238D", REMOTE, LISTEN, inode=500))
    proc.process(10, fds=[999])
    (proc.root / "11").mkdir()  # no fd directory: as unreadable
    assert holderPid(9101, "127.0.0.1", proc.path) is None


@LITTLE_ENDIAN
def test_the_search_is_capped(proc: FakeProc) -> None:
    proc.tcp(row(f"{LOOP4}:238D", REMOTE, LISTEN, inode=500))
    for pid in range(10, 15):
        proc.process(pid, fds=[] if pid < 14 else [500])
    assert holderPid(9101, "127.0.0.1", proc.path) == 14
    assert holderPid(9101, "127.0.0.1", proc.path, maxProcs=0) is None
    assert holderPid(9101, "127.0.0.1", proc.path, maxFds=0) is None


def test_no_proc_no_pid(tmp_path: Path) -> None:
    assert holderPid(9101, "127.0.0.1", str(tmp_path / "nowhere")) is None


@LITTLE_ENDIAN
def test_odd_rows_are_skipped(proc: FakeProc) -> None:
    proc.tcp(
        "garbage\n",
        row(f"{LOOP4}:ZZZZ", REMOTE, LISTEN, inode=1),
        row(f"{LOOP4}:238D", REMOTE, LISTEN, inode="x"),
        row(f"{LOOP4}:238D", REMOTE, LISTEN, inode=0),
        row("XYZ:238D", REMOTE, LISTEN, inode=2),
        row(f"{LOOP4}:238D", REMOTE, LISTEN, inode=500),
    )
    proc.process(11, fds=[1, 2, 500])
    assert holderPid(9101, "127.0.0.1", proc.path) == 11


GATEWAY_LINE = (
    "2026-11-25T04:30:02+0000 [mcpgateway.ops.services.ListenerService#critical]"
    " cannot listen on tcp:9101:interface=127.0.0.1: "
)


def test_the_gateways_line_is_read_back() -> None:
    lines = ["2026 [mcpgateway.tap#info] config: 1 server", GATEWAY_LINE + inUseMessage(9101, 42)]
    assert reportedInUse(lines, 9101) == PortInUse(9101, 42)
    assert reportedInUse([GATEWAY_LINE + inUseMessage(9101, None)], 9101) == PortInUse(9101, None)


def test_twisteds_own_words_are_read_too() -> None:
    twisted = GATEWAY_LINE + "Couldn't listen on 127.0.0.1:9101: [Errno 98] Address already in use."
    assert reportedInUse([twisted], 9101) == PortInUse(9101, None)
    assert reportedInUse([twisted], 9100) is None


def test_other_lines_say_nothing() -> None:
    assert reportedInUse([GATEWAY_LINE + inUseMessage(9102, 42)], 9101) is None  # another port
    assert reportedInUse(["port 9101 is in use (by pid 42)"], 9101) is None  # not a listen failure
    manhole = (
        "2026 [mcpgateway.ops.manhole.ManholeService#critical] manhole: cannot listen on"
        " tcp:9101: Couldn't listen on 127.0.0.1:9101: [Errno 98] Address already in use."
    )
    assert reportedInUse([manhole], 9101) is None  # the manhole's port, not the gateway's
    denied = GATEWAY_LINE + "Couldn't listen on 127.0.0.1:9101: [Errno 13] Permission denied."
    assert reportedInUse([denied], 9101) is None
    assert reportedInUse([], 9101) is None


@given(
    st.integers(1, 65535),
    st.one_of(st.none(), st.integers(1, 2**22)),
    st.lists(st.text(max_size=120), max_size=5),
)
def test_any_line_is_read_without_raising_and_the_gateways_own_round_trips(
    port: int, pid: int | None, noise: list[str]
) -> None:
    for line in noise:
        found = reportedInUse([line], port)
        assert found is None or found.port == port
    said = GATEWAY_LINE + inUseMessage(port, pid)
    assert reportedInUse([*noise, said], port) in (PortInUse(port, pid), reportedInUse(noise, port))


@LITTLE_ENDIAN
def test_the_account_listening_on_a_port_is_read_from_the_table(proc: FakeProc) -> None:
    proc.tcp(
        row(f"{LOOP4}:238D", f"{LOOP4}:C350", "01", inode=700, uid=7),  # a connection: not it
        row(f"{LOOP4}:238D", REMOTE, LISTEN, inode=500, uid=1002),  # port 9101
        row(f"{OTHER4}:238E", REMOTE, LISTEN, inode=600, uid=1003),  # 127.0.0.2:9102
    )
    assert listenerUid(9101, "127.0.0.1", proc.path) == 1002
    assert listenerUid(9102, "127.0.0.1", proc.path) is None  # another address
    assert listenerUid(9103, "127.0.0.1", proc.path) is None


def test_a_port_another_account_holds_is_said_as_such() -> None:
    other = os.geteuid() + 1
    taken = PortInUse(9100, None, other)
    assert taken.foreign and not PortInUse(9100, 5, os.geteuid()).foreign
    assert f"held by another account's process (uid {other}" in taken.message
    assert "reaches that account, not your gateway" in taken.message
    assert "in use (by pid 5)" in PortInUse(9100, 5, os.geteuid()).message


def test_a_foreign_listener_is_named_with_its_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(portuse, "listenerUid", lambda port, host: 0 if port == 1 else None)
    monkeypatch.setattr(os, "geteuid", lambda: 1001)
    assert portuse.foreignListener(1) == "uid 0, root"
    assert portuse.foreignListener(2) is None

"""Finding a loopback client's pid, against fake /proc trees."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.ops import peerpid
from mcpgateway.ops.peerpid import (
    MAX_STEPS,
    clientRoot,
    findClientPid,
    findClientPids,
    inodeHolder,
    inodeHolders,
    ownerOfSocket,
    socketInode,
    socketInodes,
)
from mcpgateway.runtime.peeruid import ABSENT, UNTOLD, Named, PeerSocket, SockDiag
from tests.support.ops.peerpid import LITTLE_ENDIAN, LOOP4, LOOP6, MAPPED_LOOP, FakeProc, row
from tests.support.ops.procfixture import proc as proc  # the fixture

ME = os.getuid()

GATEWAY, CLIENT = 8080, 50000  # 1F90, C350


def inode4(proc: FakeProc, peer: str = "127.0.0.1", local: str = "127.0.0.1") -> int | None:
    return socketInode(peer, CLIENT, local, GATEWAY, proc.path)


# --- step 1: the socket's inode ------------------------------------------------------------


@LITTLE_ENDIAN
def test_ipv4_row_little_endian(proc: FakeProc) -> None:
    proc.tcp(row(f"{LOOP4}:C350", f"{LOOP4}:1F90", inode=4242))
    assert inode4(proc) == 4242


@LITTLE_ENDIAN
def test_ipv4_byte_order_of_every_octet(proc: FakeProc) -> None:
    # 10.1.2.3 -> 0302010A; 127.0.0.2 -> 0200007F
    proc.tcp(row("0302010A:C350", "0200007F:1F90", inode=77))
    assert inode4(proc, "10.1.2.3", "127.0.0.2") == 77
    assert inode4(proc, "3.2.1.10", "2.0.0.127") is None


@LITTLE_ENDIAN
def test_lowercase_hex_accepted(proc: FakeProc) -> None:
    proc.tcp(row("0100007f:c350", "0100007f:1f90", inode=5))
    assert inode4(proc) == 5


@LITTLE_ENDIAN
def test_ipv6_rows(proc: FakeProc) -> None:
    proc.tcp6(
        row(f"{LOOP6}:C350", f"{LOOP6}:1F90", inode=61),
        # 2001:db8::1 -> B80D0120 00000000 00000000 01000000
        row("B80D0120000000000000000001000000:C351", f"{LOOP6}:1F90", inode=62),
    )
    assert socketInode("::1", CLIENT, "::1", GATEWAY, proc.path) == 61
    assert socketInode("2001:db8::1", CLIENT + 1, "::1", GATEWAY, proc.path) == 62
    assert socketInode("::1%lo", CLIENT, "::1", GATEWAY, proc.path) == 61


@LITTLE_ENDIAN
def test_ipv4_mapped_row_in_tcp6(proc: FakeProc) -> None:
    """A dual-stack client socket connected to 127.0.0.1 is listed in tcp6."""
    proc.tcp6(row(f"{MAPPED_LOOP}:C350", f"{MAPPED_LOOP}:1F90", inode=64))
    assert inode4(proc) == 64
    assert inode4(proc, "::ffff:127.0.0.1", "::ffff:127.0.0.1") == 64


@LITTLE_ENDIAN
def test_ipv4_mapped_hosts_match_an_ipv4_row(proc: FakeProc) -> None:
    """A gateway listening on :: sees an IPv4 client as ::ffff:127.0.0.1."""
    proc.tcp(row(f"{LOOP4}:C350", f"{LOOP4}:1F90", inode=44))
    assert inode4(proc, "::ffff:127.0.0.1", "::ffff:127.0.0.1") == 44


@LITTLE_ENDIAN
def test_rows_not_established_ignored(proc: FakeProc) -> None:
    proc.tcp(
        row(f"{LOOP4}:C350", f"{LOOP4}:1F90", state="06", inode=1),
        row(f"{LOOP4}:C350", f"{LOOP4}:1F90", state="0A", inode=2),
        row(f"{LOOP4}:C350", f"{LOOP4}:1F90", state="01", inode=0),
    )
    assert inode4(proc) is None
    proc.tcp(
        row(f"{LOOP4}:C350", f"{LOOP4}:1F90", state="08", inode=1),
        row(f"{LOOP4}:C350", f"{LOOP4}:1F90", state="01", inode=3),
    )
    assert inode4(proc) == 3


@LITTLE_ENDIAN
def test_server_side_row_not_matched(proc: FakeProc) -> None:
    server = row(f"{LOOP4}:1F90", f"{LOOP4}:C350", inode=9)
    proc.tcp(server)
    assert inode4(proc) is None
    proc.tcp(server, row(f"{LOOP4}:C350", f"{LOOP4}:1F90", inode=10))
    assert inode4(proc) == 10


@LITTLE_ENDIAN
def test_ports_must_both_match(proc: FakeProc) -> None:
    proc.tcp(row(f"{LOOP4}:C350", f"{LOOP4}:1F91"), row(f"{LOOP4}:C351", f"{LOOP4}:1F90"))
    assert inode4(proc) is None


@pytest.mark.parametrize(
    "peer, peerPort, local, localPort",
    [
        ("localhost", CLIENT, "127.0.0.1", GATEWAY),
        ("127.0.0.1", 0, "127.0.0.1", GATEWAY),
        ("127.0.0.1", CLIENT, "127.0.0.1", 70000),
        ("127.0.0.1", CLIENT, "::1", GATEWAY),
        ("", CLIENT, "", GATEWAY),
    ],
)
def test_unusable_addresses(
    proc: FakeProc, peer: str, peerPort: int, local: str, localPort: int
) -> None:
    proc.tcp(row(f"{LOOP4}:C350", f"{LOOP4}:1F90"))
    assert socketInode(peer, peerPort, local, localPort, proc.path) is None


@LITTLE_ENDIAN
def test_malformed_tables(proc: FakeProc) -> None:
    good = row(f"{LOOP4}:C350", f"{LOOP4}:1F90", inode=12)
    proc.tcp(
        "garbage\n",
        "\n",
        "   1: short row 01\n",
        row(f"{LOOP4}:C350", f"{LOOP4}:1F90", inode="notanumber"),
    )
    (proc.root / "net" / "tcp6").write_bytes(b"\xff\xfe\0\x01 binary \x80\n")
    assert inode4(proc) is None
    proc.tcp("garbage\n", good)
    assert inode4(proc) == 12


def test_no_tables_is_not_linux(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    assert findClientPid("127.0.0.1", CLIENT, "127.0.0.1", GATEWAY, str(tmp_path / "proc")) is None
    assert findClientPid("127.0.0.1", CLIENT, "127.0.0.1", GATEWAY, str(tmp_path / "none")) is None


def test_tables_that_are_directories(proc: FakeProc) -> None:
    for name in ("tcp", "tcp6"):
        (proc.root / "net" / name).unlink()
        (proc.root / "net" / name).mkdir()
    assert inode4(proc) is None


# --- step 2: the process holding it ---------------------------------------------------------


def test_inode_found_in_fd_dir(proc: FakeProc) -> None:
    proc.process(100, [11, "pipe:[5]", "/dev/null", "anon_inode:[eventpoll]"])
    proc.process(200, ["/dev/null", 4242, 4243])
    proc.process(300, [42420, "socket:[4242", "socket:[42421]"])
    assert inodeHolder(4242, proc.path) == 200
    assert inodeHolder(4242, proc.path, ME) == 200
    assert inodeHolder(9999, proc.path) is None


@LITTLE_ENDIAN
def test_owner_of_socket(proc: FakeProc) -> None:
    proc.tcp(
        row(f"{LOOP4}:1F90", f"{LOOP4}:C350", inode=1),
        row(f"{LOOP4}:C350", f"{LOOP4}:1F90", inode=2),
    )
    proc.process(100, [1])  # the gateway: the server side
    proc.process(200, [2])  # the client
    assert ownerOfSocket("127.0.0.1", CLIENT, "127.0.0.1", GATEWAY, proc.path) == 200
    assert ownerOfSocket("127.0.0.1", CLIENT + 1, "127.0.0.1", GATEWAY, proc.path) is None


def test_other_users_processes_skipped(proc: FakeProc) -> None:
    proc.process(200, [4242])
    assert inodeHolder(4242, proc.path, ME + 1) is None
    assert inodeHolder(4242, proc.path, ME + 1, hints=[200]) is None


def test_owner_checked_before_fds_are_read(proc: FakeProc, monkeypatch: pytest.MonkeyPatch) -> None:
    proc.process(100, [4242])
    proc.process(200, [4242])
    owners = {str(proc.root / "100"): ME + 1, str(proc.root / "200"): ME}
    monkeypatch.setattr(peerpid, "_owner", lambda base: owners.get(base))
    read: list[str] = []
    realScandir = os.scandir

    def scandir(path: str) -> object:
        read.append(str(path))
        return realScandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert inodeHolder(4242, proc.path, ME, hints=[100]) == 200
    assert str(proc.root / "100" / "fd") not in read


def test_unreadable_entries_tolerated(proc: FakeProc, monkeypatch: pytest.MonkeyPatch) -> None:
    proc.process(100, [4242])  # readlink raises PermissionError here
    (proc.root / "101").mkdir()  # no fd dir (a zombie, or gone)
    (proc.root / "102").mkdir()
    (proc.root / "102" / "fd").write_text("not a directory")
    base = proc.process(103)
    (base / "fd" / "0").write_text("a regular file: readlink says EINVAL")
    os.symlink("/dev/null", base / "fd" / "1")
    proc.process(200, [4242])
    realReadlink = os.readlink

    def readlink(path: str) -> str:
        if str(path).startswith(str(proc.root / "100")):
            raise PermissionError(13, "Permission denied", path)
        return realReadlink(path)

    monkeypatch.setattr(os, "readlink", readlink)
    hints = [100, 101, 102, 103, 104]  # 104 does not exist
    assert inodeHolder(4242, proc.path, hints=hints) == 200


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode 000 directory anyway")
def test_fd_dir_without_permission(proc: FakeProc) -> None:
    base = proc.process(100, [4242])
    proc.process(200, [4242])
    (base / "fd").chmod(0)
    try:
        assert inodeHolder(4242, proc.path, hints=[100]) == 200
    finally:
        (base / "fd").chmod(0o755)


def test_max_fds(proc: FakeProc) -> None:
    proc.process(100, [1, 2, 3, 4, 5])
    proc.process(200, [4242])
    assert inodeHolder(4242, proc.path, hints=[100], maxFds=3) is None
    assert inodeHolder(4242, proc.path, hints=[100], maxFds=5) is None
    assert inodeHolder(4242, proc.path, hints=[100], maxFds=6) == 200


def test_max_procs(proc: FakeProc) -> None:
    proc.process(100, [1])
    proc.process(200, [4242])
    assert inodeHolder(4242, proc.path, hints=[100], maxProcs=1) is None
    assert inodeHolder(4242, proc.path, hints=[100], maxProcs=2) == 200
    assert inodeHolder(4242, proc.path, maxProcs=0) is None


def test_hints_tried_first(proc: FakeProc) -> None:
    """A socket inherited across fork is in two processes; the hinted one wins."""
    proc.process(100, [4242])
    proc.process(200, [4242])
    assert inodeHolder(4242, proc.path, hints=[200]) == 200
    assert inodeHolder(4242, proc.path, hints=[100]) == 100
    assert inodeHolder(4242, proc.path, hints=[200], maxProcs=1) == 200


def test_odd_hints(proc: FakeProc) -> None:
    proc.process(200, [4242])
    assert inodeHolder(4242, proc.path, hints=[-1, 0, 99999, 200, 200]) == 200
    # Duplicates are looked at once: 200 is found as the second process.
    assert inodeHolder(4242, proc.path, hints=[99999, 99999, 200], maxProcs=2) == 200


def test_missing_proc_root(tmp_path: Path) -> None:
    assert inodeHolder(4242, str(tmp_path / "none")) is None


# --- step 3: walking up ---------------------------------------------------------------------

APP = "/opt/App/app"


def electron(proc: FakeProc) -> None:
    """An Electron app: main 100 (under a shell), zygote 200, renderer 300, utility 400."""
    proc.process(50, ppid=1, comm="bash", exe="/usr/bin/bash", cmdline=["-bash"])
    proc.process(100, ppid=50, comm="app", exe=APP, cmdline=[APP, "--no-sandbox"])
    proc.process(200, ppid=100, comm="app", exe=APP, cmdline=[APP, "--type=zygote"])
    proc.process(300, ppid=200, comm="app", exe=APP, cmdline=[APP, "--type=renderer", "-x"])
    proc.process(
        400,
        [4242],
        ppid=100,
        comm="app",
        exe=APP,
        cmdline=[APP, "--type=utility", "--utility-sub-type=network.mojom.Network"],
    )


def test_walks_up_helpers_of_the_same_exe(proc: FakeProc) -> None:
    electron(proc)
    assert clientRoot(400, proc.path) == 100
    assert clientRoot(300, proc.path) == 100
    assert clientRoot(100, proc.path) == 100
    assert clientRoot(50, proc.path) == 50


def test_stops_at_a_different_exe(proc: FakeProc) -> None:
    proc.process(100, ppid=50, comm="bash", exe="/usr/bin/bash", cmdline=["bash"])
    proc.process(200, ppid=100, comm="app", exe=APP, cmdline=[APP, "--type=utility"])
    assert clientRoot(200, proc.path) == 200


def test_same_exe_without_a_helper_flag_is_its_own_client(proc: FakeProc) -> None:
    """A python client started by a python program (pytest): the child is the client."""
    proc.process(
        100, ppid=50, comm="python", exe="/usr/bin/python3.12", cmdline=["python", "-m", "pytest"]
    )
    proc.process(
        200,
        ppid=100,
        comm="python",
        exe="/usr/bin/python3.12",
        cmdline=["python", "client.py", "--type", "x"],
    )
    assert clientRoot(200, proc.path) == 200


def test_setproctitle_cmdline(proc: FakeProc) -> None:
    """Chromium rewrites its command line as one space-separated string."""
    proc.process(100, ppid=50, exe=APP, cmdline=[APP])
    proc.process(200, ppid=100, exe=APP, cmdline=f"{APP} --type=renderer --lang=en".encode())
    assert clientRoot(200, proc.path) == 100


def test_helper_flags_parameter(proc: FakeProc) -> None:
    proc.process(100, ppid=50, exe="/usr/bin/node", cmdline=["node", "main.js"])
    proc.process(200, ppid=100, exe="/usr/bin/node", cmdline=["node", "worker.js", "--worker"])
    assert clientRoot(200, proc.path) == 200
    assert clientRoot(200, proc.path, helperFlags=["--worker"]) == 100
    assert clientRoot(200, proc.path, helperFlags=[""]) == 200


def test_stops_before_pid_1(proc: FakeProc) -> None:
    proc.process(1, comm="app", exe=APP, cmdline=[APP])
    proc.process(200, ppid=1, exe=APP, cmdline=[APP, "--type=utility"])
    assert clientRoot(200, proc.path) == 200


def test_stops_at_a_parent_of_another_user(proc: FakeProc, monkeypatch: pytest.MonkeyPatch) -> None:
    electron(proc)
    monkeypatch.setattr(peerpid, "_owner", lambda base: ME + 1 if base.endswith("/100") else ME)
    assert clientRoot(400, proc.path) == 400
    assert clientRoot(300, proc.path) == 200
    assert clientRoot(300, proc.path, ME + 1) == 300


def test_at_most_max_steps(proc: FakeProc) -> None:
    for pid in range(100, 140):
        proc.process(pid, ppid=pid - 1, exe=APP, cmdline=[APP, "--type=renderer"])
    assert clientRoot(139, proc.path) == 139 - MAX_STEPS


def test_parent_cycle_ends(proc: FakeProc) -> None:
    proc.process(100, ppid=200, exe=APP, cmdline=[APP, "--type=renderer"])
    proc.process(200, ppid=100, exe=APP, cmdline=[APP, "--type=renderer"])
    assert clientRoot(100, proc.path) in (100, 200)


@pytest.mark.parametrize("comm", ["a b", "x) S 999 (y", "))", "(", ") 5 5 5 ("])
def test_comm_with_spaces_and_parentheses(proc: FakeProc, comm: str) -> None:
    proc.process(100, ppid=50, exe=APP, cmdline=[APP])
    proc.process(200, ppid=100, comm=comm, exe=APP, cmdline=[APP, "--type=renderer"])
    assert clientRoot(200, proc.path) == 100


@pytest.mark.parametrize(
    "stat",
    [
        b"",
        b"200 no parenthesis 1 100",
        b"200 (app) S",
        b"200 (app) S notanumber 1",
        b"\xff\xfe)\x00\x80",
        b"200 (app) S -5 1",
        b"200 (app) S 0 1",
    ],
)
def test_malformed_stat_stops(proc: FakeProc, stat: bytes) -> None:
    proc.process(100, ppid=50, exe=APP, cmdline=[APP])
    base = proc.process(200, ppid=100, exe=APP, cmdline=[APP, "--type=renderer"])
    (base / "stat").write_bytes(stat)
    assert clientRoot(200, proc.path) == 200


def test_missing_files_stop(proc: FakeProc) -> None:
    proc.process(100, ppid=50, exe=None, cmdline=[APP])
    proc.process(200, ppid=100, exe=APP, cmdline=[APP, "--type=renderer"])
    proc.process(300, ppid=100, exe=None, cmdline=[APP, "--type=renderer"])
    proc.process(400, ppid=100, exe=APP, cmdline=None)
    proc.process(500, ppid=100, exe=APP, cmdline=b"")
    proc.process(600, ppid=999, exe=APP, cmdline=[APP, "--type=renderer"])  # no parent dir
    for pid in (200, 300, 400, 500, 600, 700):  # 700 does not exist
        assert clientRoot(pid, proc.path) == pid


# --- all together ---------------------------------------------------------------------------


@LITTLE_ENDIAN
def test_find_client_pid(proc: FakeProc) -> None:
    electron(proc)
    proc.tcp(row(f"{LOOP4}:C350", f"{LOOP4}:1F90", inode=4242))
    proc.process(600, [4343], ppid=50, exe="/usr/bin/node", cmdline=["node", "cli.js"])
    proc.tcp6(row(f"{LOOP6}:C351", f"{LOOP6}:1F90", inode=4343))
    assert ownerOfSocket("127.0.0.1", CLIENT, "127.0.0.1", GATEWAY, proc.path) == 400
    assert findClientPid("127.0.0.1", CLIENT, "127.0.0.1", GATEWAY, proc.path) == 100
    assert (
        findClientPid("127.0.0.1", CLIENT, "127.0.0.1", GATEWAY, proc.path, ME, hints=[600]) == 100
    )
    assert findClientPid("::1", CLIENT + 1, "::1", GATEWAY, proc.path) == 600
    assert findClientPid("127.0.0.1", CLIENT, "127.0.0.1", GATEWAY, proc.path, ME + 1) is None
    assert findClientPid("127.0.0.1", CLIENT, "127.0.0.1", GATEWAY, proc.path, maxFds=0) is None


# --- many connections at once ---------------------------------------------------------------


@LITTLE_ENDIAN
def test_many_connections_in_one_walk(proc: FakeProc, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each connection gets its own pid, in order; the tables are read once
    and the processes walked once for all of them."""
    proc.tcp(
        row(f"{LOOP4}:C350", f"{LOOP4}:1F90", inode=11),
        row(f"{LOOP4}:C351", f"{LOOP4}:1F90", inode=12),
        row(f"{LOOP4}:C352", f"{LOOP4}:1F90", inode=13),
    )
    proc.process(300, [12])
    proc.process(400, [11, 13])
    opened: list[str] = []
    real = open

    def counting(path: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(path))
        return real(path, *args, **kwargs)

    walked: list[int] = []
    candidates = peerpid._candidates

    def counted(root: str, hints: Sequence[int]) -> Iterator[int]:
        for pid in candidates(root, hints):
            walked.append(pid)
            yield pid

    monkeypatch.setattr("builtins.open", counting)
    monkeypatch.setattr(peerpid, "_candidates", counted)
    connections = [("127.0.0.1", CLIENT + port, "127.0.0.1", GATEWAY, 0) for port in (0, 1, 2, 3)]
    assert findClientPids(connections, proc.path, ME) == [400, 300, 400, None]
    assert sorted(p for p in opened if "/net/" in p) == [
        f"{proc.path}/net/tcp",
        f"{proc.path}/net/tcp6",
    ]
    assert sorted(walked) == [300, 400]


@LITTLE_ENDIAN
def test_the_walk_stops_once_every_socket_is_found(proc: FakeProc) -> None:
    proc.tcp(
        row(f"{LOOP4}:C350", f"{LOOP4}:1F90", inode=11),
        row(f"{LOOP4}:C351", f"{LOOP4}:1F90", inode=12),
    )
    proc.process(300, [11, 12])
    proc.process(400, [11, 12])
    assert inodeHolders({11, 12}, proc.path, ME, hints=[400]) == {11: 400, 12: 400}
    capped = inodeHolders({11, 12}, proc.path, ME, maxFds=1)
    assert len(capped) == 1 and set(capped.values()) <= {300, 400}


@LITTLE_ENDIAN
def test_rows_are_found_among_thousands(proc: FakeProc) -> None:
    """The look-up searches the table's text: rows around the one wanted,
    other states of the same endpoints and lower-case hex do not mislead it."""
    noise = [
        row(f"{LOOP4}:{port:04X}", f"{LOOP4}:1F90", state="06", inode=port)
        for port in range(1000, 4000)
    ]
    proc.tcp(
        *noise,
        row(f"{LOOP4}:C350", f"{LOOP4}:1F90", state="06", inode=1),
        row(f"{LOOP4}:c350".lower(), f"{LOOP4}:1f90".lower(), inode=77),
    )
    assert socketInodes(
        [("127.0.0.1", CLIENT, "127.0.0.1", GATEWAY), ("127.0.0.1", 1500, "127.0.0.1", GATEWAY)],
        proc.path,
    ) == [77, None]


@LITTLE_ENDIAN
def test_known_pids_spare_the_walk(proc: FakeProc, monkeypatch: pytest.MonkeyPatch) -> None:
    """A socket whose holder was found before (by inode) is not looked for
    again; a new socket on the same ports (another inode) is."""
    proc.tcp(row(f"{LOOP4}:C350", f"{LOOP4}:1F90", inode=11))
    proc.process(300, [11])
    known: dict[int, int] = {}
    connection = [("127.0.0.1", CLIENT, "127.0.0.1", GATEWAY, 0)]
    assert findClientPids(connection, proc.path, ME, known=known) == [300]
    assert known == {11: 300}
    walks: list[set[int]] = []
    holders = peerpid.inodeHolders

    def counted(inodes: set[int], *args: Any) -> dict[int, int]:
        walks.append(set(inodes))
        return holders(inodes, *args)

    monkeypatch.setattr(peerpid, "inodeHolders", counted)
    assert findClientPids(connection, proc.path, ME, known=known) == [300]
    assert walks == []
    proc.tcp(row(f"{LOOP4}:C350", f"{LOOP4}:1F90", inode=12))  # the ports again, a new socket
    proc.process(400, [12])
    assert findClientPids(connection, proc.path, ME, known=known) == [400]
    assert walks == [{12}] and known == {11: 300, 12: 400}
    proc.tcp()  # no such connection any more: nothing, whatever is known
    assert findClientPids(connection, proc.path, ME, known=known) == [None]


# --- the inode named at accept: that socket's holder, or no one --------------------------------


@LITTLE_ENDIAN
def test_a_known_inode_names_its_holder_not_the_reused_ports(
    proc: FakeProc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client (pid 300, socket 11) closed its connection and another
    process (400) connected from the same port since: the table's row of
    those ports is 400's socket 12. A connection carrying inode 11 names
    300 while it holds 11, no one once it is gone; never 400. Its ports are
    not looked up at all."""
    proc.tcp(row(f"{LOOP4}:C350", f"{LOOP4}:1F90", inode=12))
    proc.process(400, [12])
    proc.process(300, [11])
    byPorts: list[Sequence[peerpid.Ends]] = []
    tables = peerpid.socketInodes

    def counted(connections: Sequence[peerpid.Ends], procRoot: str = "/proc") -> list[int | None]:
        byPorts.append(list(connections))
        return tables(connections, procRoot)

    monkeypatch.setattr(peerpid, "socketInodes", counted)
    accepted = ("127.0.0.1", CLIENT, "127.0.0.1", GATEWAY, 11)
    assert findClientPids([accepted], proc.path, ME) == [300]
    assert findClientPids([accepted], proc.path, ME, hints=[400]) == [300]
    (proc.root / "300" / "fd" / "0").unlink()  # the client's socket is gone
    known: dict[int, int] = {}
    assert findClientPids([accepted], proc.path, ME, hints=[400], known=known) == [None]
    assert known == {} and byPorts == []


@LITTLE_ENDIAN
def test_an_unknown_inode_is_looked_up_by_its_ports(proc: FakeProc) -> None:
    """Where no inode was named at accept (0), the ports name the socket
    when the look runs: the reused port's holder, as the table says then.
    In one batch with a known inode, each is looked up its own way."""
    proc.tcp(
        row(f"{LOOP4}:C350", f"{LOOP4}:1F90", inode=12),
        row(f"{LOOP4}:C351", f"{LOOP4}:1F90", inode=13),
    )
    proc.process(400, [12])
    proc.process(300, [11, 13])
    unknown = ("127.0.0.1", CLIENT, "127.0.0.1", GATEWAY, 0)
    accepted = ("127.0.0.1", CLIENT, "127.0.0.1", GATEWAY, 11)
    other = ("127.0.0.1", CLIENT + 1, "127.0.0.1", GATEWAY, 0)
    assert findClientPids([unknown], proc.path, ME) == [400]
    assert findClientPid("127.0.0.1", CLIENT, "127.0.0.1", GATEWAY, proc.path, ME) == 400
    assert findClientPids([unknown, accepted, other], proc.path, ME) == [400, 300, 300]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 65535), st.integers(0, 2**32 - 1)), max_size=12))
def test_only_the_connections_without_an_inode_are_looked_up_by_their_ends(
    asked: list[tuple[int, int]],
) -> None:
    """Whatever the batch, each connection's inode is the one it carries,
    or, for those carrying 0 (and only those, in their order), the one its
    ends name."""
    connections = [("127.0.0.1", port, "127.0.0.1", 9100, inode) for port, inode in asked]
    looked: list[Sequence[peerpid.Ends]] = []

    def byEnds(ends: Sequence[peerpid.Ends], procRoot: str = "/proc") -> list[int | None]:
        looked.append(list(ends))
        return [100_000 + port for _, port, _, _ in ends]

    with patch.object(peerpid, "socketInodes", byEnds):
        found = peerpid._inodesOf(connections, "/nowhere")
    assert found == [inode or 100_000 + port for port, inode in asked]
    unknown = [("127.0.0.1", port, "127.0.0.1", 9100) for port, inode in asked if not inode]
    assert looked == ([unknown] if unknown else [])


# --- netlink first, the tables for what it could not tell ------------------------------------


class AnsweringDiag(SockDiag):
    """A netlink lookup that answers each client port as C{answers} says."""

    answers: dict[int, Named] = {}
    opened: list[AnsweringDiag] = []

    def __init__(self) -> None:
        super().__init__()
        self.closed = False
        AnsweringDiag.opened.append(self)

    def tcpPeer(self, clientHost: str, clientPort: int, serverHost: str, serverPort: int) -> Named:
        return self.answers[clientPort]

    def close(self) -> None:
        self.closed = True


def test_the_tables_are_read_only_for_what_netlink_could_not_tell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    AnsweringDiag.answers = {50000: PeerSocket(ME, 11), 50001: ABSENT, 50002: UNTOLD}
    AnsweringDiag.opened = []
    read: list[list[peerpid.Ends]] = []

    def tables(connections: Sequence[peerpid.Ends], procRoot: str) -> list[int | None]:
        read.append(list(connections))
        return [99 for _ in connections]

    monkeypatch.setattr(peerpid, "SockDiag", AnsweringDiag)
    monkeypatch.setattr(peerpid, "_tableInodes", tables)
    connections = [("127.0.0.1", port, "127.0.0.1", 9100) for port in (50000, 50001, 50002)]
    assert socketInodes(connections) == [11, None, 99]
    assert read == [[("127.0.0.1", 50002, "127.0.0.1", 9100)]]
    read.clear()
    assert socketInodes(connections[:2]) == [11, None] and read == []
    assert len(AnsweringDiag.opened) == 2  # one netlink socket a batch, closed after it
    assert all(diag.closed for diag in AnsweringDiag.opened)


def test_a_held_socket_without_an_inode_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    AnsweringDiag.answers = {50000: PeerSocket(ME, 0)}
    monkeypatch.setattr(peerpid, "SockDiag", AnsweringDiag)
    assert socketInodes([("127.0.0.1", 50000, "127.0.0.1", 9100)]) == [None]


def test_a_proc_tree_elsewhere_is_never_asked_of_the_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(peerpid, "SockDiag", lambda: pytest.fail("asked netlink"))
    assert socketInodes([("127.0.0.1", 1, "127.0.0.1", 2)], "/nonexistent") == [None]


def test_without_netlink_the_tables_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where netlink cannot be opened (another system, a seccomp filter),
    every connection is read from the tables."""

    def refused() -> Any:
        raise OSError("no AF_NETLINK here")

    monkeypatch.setattr(peerpid, "SockDiag", lambda: SockDiag(refused))
    monkeypatch.setattr(peerpid, "_tableInodes", lambda c, p: [7 for _ in c])
    assert socketInodes([("127.0.0.1", 1, "127.0.0.1", 2)]) == [7]

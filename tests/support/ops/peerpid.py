"""What tests/ops/test_peerpid.py shares with the other tests: FakeProc,
LITTLE_ENDIAN, LOOP4, LOOP6, MAPPED_LOOP, row."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

LITTLE_ENDIAN = pytest.mark.skipif(
    sys.byteorder != "little", reason="hex literals are as a little-endian kernel prints them"
)

HEADER = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
    "   uid  timeout inode\n"
)


# Little-endian spellings, as /proc/net/tcp* shows them on x86.
LOOP4 = "0100007F"  # 127.0.0.1
LOOP6 = "00000000000000000000000001000000"  # ::1
MAPPED_LOOP = "0000000000000000FFFF00000100007F"  # ::ffff:127.0.0.1


def row(
    local: str, remote: str, state: str = "01", inode: int | str = 4242, uid: int = 1000
) -> str:
    return (
        f"   0: {local} {remote} {state} 00000000:00000000 00:00000000 00000000"
        f"  {uid}        0 {inode} 1 0000000000000000 20 4 30 10 -1\n"
    )


class FakeProc:
    """A fake C{/proc}: C{net/tcp*} tables and process directories."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "net").mkdir(parents=True)
        for name in ("self", "sys"):  # non-pid entries must be ignored
            (root / name).mkdir()

    @property
    def path(self) -> str:
        return str(self.root)

    def tcp(self, *rows: str) -> None:
        (self.root / "net" / "tcp").write_text(HEADER + "".join(rows))

    def tcp6(self, *rows: str) -> None:
        (self.root / "net" / "tcp6").write_text(HEADER + "".join(rows))

    def process(
        self,
        pid: int,
        fds: Sequence[int | str] = (),
        ppid: int = 1,
        comm: str = "node",
        exe: str | None = "/usr/bin/node",
        cmdline: Sequence[str] | bytes | None = ("node", "app.js"),
    ) -> Path:
        """A process directory; C{fds} are socket inodes or raw link targets."""
        base = self.root / str(pid)
        (base / "fd").mkdir(parents=True)
        for number, fd in enumerate(fds):
            target = f"socket:[{fd}]" if isinstance(fd, int) else fd
            os.symlink(target, base / "fd" / str(number))
        (base / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194304 0 0\n")
        if exe is not None:
            os.symlink(exe, base / "exe")
        if isinstance(cmdline, bytes):
            (base / "cmdline").write_bytes(cmdline)
        elif cmdline is not None:
            (base / "cmdline").write_bytes(b"".join(arg.encode() + b"\0" for arg in cmdline))
        return base

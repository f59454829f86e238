"""procfs: every /proc read, against a fake tree and this very process."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway import procfs


def fakeProc(
    tmp_path: Path, pid: int, stat: bytes, cmdline: bytes = b"", statm: bytes = b"100 25 0 0 0 0 0"
) -> str:
    base = tmp_path / str(pid)
    base.mkdir(parents=True)
    (base / "stat").write_bytes(stat)
    (base / "cmdline").write_bytes(cmdline)
    (base / "statm").write_bytes(statm)
    return str(tmp_path)


def test_stat_fields_after_a_command_name_with_parentheses_and_spaces(tmp_path: Path) -> None:
    fields = " ".join(str(n) for n in range(4, 30))  # field 4 (ppid) onwards
    root = fakeProc(tmp_path, 42, b"42 (we (ird) name) Z " + fields.encode())
    assert procfs.state(42, root) == "Z"
    assert procfs.parentPid(42, root) == 4
    assert procfs.startTime(42, root) == 22


def test_gone_or_odd_entries_are_none_never_an_error(tmp_path: Path) -> None:
    root = fakeProc(tmp_path, 7, b"garbage without parens", statm=b"x")
    assert procfs.state(7, root) is None and procfs.startTime(7, root) is None
    assert procfs.rss(7, root) is None
    assert procfs.state(8, root) is None and procfs.cmdline(8, root) is None
    assert procfs.exe(8, root) is None and procfs.owner(8, root) is None
    assert list(procfs.pids(str(tmp_path / "nowhere"))) == []


def test_rss_and_pids(tmp_path: Path) -> None:
    root = fakeProc(tmp_path, 9, b"9 (x) S 1", b"node\0server.js\0")
    (tmp_path / "self").mkdir()
    assert procfs.rss(9, root) == 25 * (procfs.pageSize() or 0)
    assert list(procfs.pids(root)) == [9]
    assert procfs.cmdline(9, root) == b"node\0server.js\0"


def test_this_process() -> None:
    assert procfs.parentPid(os.getpid()) == os.getppid()
    assert (procfs.rss() or 0) > 1_000_000
    assert procfs.exe("self") is not None
    assert procfs.owner(os.getpid()) == os.getuid()


@given(st.binary(max_size=300))
def test_any_stat_content_is_read_without_raising(content: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as root:
        fakeProc(Path(root), 5, content)
        procfs.state(5, root)
        procfs.parentPid(5, root)
        procfs.startTime(5, root)

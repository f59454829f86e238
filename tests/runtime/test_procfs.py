"""procfs: every /proc read, against a fake tree and this very process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.runtime import procfs


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
        state = procfs.state(5, root)
        parent = procfs.parentPid(5, root)
        started = procfs.startTime(5, root)
    assert state is None or isinstance(state, str)
    assert parent is None or isinstance(parent, int)
    assert started is None or isinstance(started, int)


def test_pss_and_cpu_time(tmp_path: Path) -> None:
    fields = ["S", "1", *["0"] * 9, "250", "50", *["0"] * 10]  # utime 250, stime 50 ticks
    root = fakeProc(tmp_path, 11, b"11 (node (x)) " + " ".join(fields).encode())
    (tmp_path / "11" / "smaps_rollup").write_bytes(
        b"55d6b1a8e000-7ffd5b1f5000 ---p 00000000 00:00 0      [rollup]\n"
        b"Rss:               12345 kB\nPss:                4096 kB\n"
        b"Private_Dirty:   100 kB\nOdd line\nKSM: x kB\n"
    )
    ticks = procfs.clockTicks() or 100
    assert procfs.cpuSeconds(11, root) == 300 / ticks
    assert procfs.pss(11, root) == 4096 * 1024
    assert procfs.smapsRollup(11, root) == {
        "Rss": 12345 * 1024,
        "Pss": 4096 * 1024,
        "Private_Dirty": 100 * 1024,
    }
    (tmp_path / "11" / "smaps_rollup").write_bytes(b"Rss: 1 kB\n")  # no Pss: unreadable
    assert procfs.pss(11, root) is None
    assert procfs.pss(12, root) is None and procfs.cpuSeconds(12, root) is None
    short = fakeProc(tmp_path, 13, b"13 (x) S 1 2 3")
    assert procfs.cpuSeconds(13, short) is None


def test_pss_and_cpu_of_this_process() -> None:
    if not os.path.exists("/proc/self/smaps_rollup"):
        pytest.skip("Linux before 4.14: PSS cannot be read (callers fall back to RSS)")
    pss, rss = procfs.pss(), procfs.rss()
    assert pss is not None and rss is not None and 0 < pss <= rss
    assert (procfs.cpuSeconds() or 0) > 0


@given(st.binary(max_size=400))
def test_any_smaps_rollup_content_is_read_without_raising(content: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as root:
        fakeProc(Path(root), 5, content)
        (Path(root) / "5" / "smaps_rollup").write_bytes(content)
        totals = procfs.smapsRollup(5, root)
        assert totals is None or all(v >= 0 for v in totals.values())
        procfs.cpuSeconds(5, root)


def test_the_last_pid_given(tmp_path: Path) -> None:
    assert procfs.lastPid(str(tmp_path)) is None
    (tmp_path / "loadavg").write_text("0.52 0.58 0.59 2/1121 31002\n")
    assert procfs.lastPid(str(tmp_path)) == 31002
    for odd in ("", "0.5 0.5 0.5 1/2 x\n", "0.5 0.5 0.5 1/2 0\n", "0.5 -3\n"):
        (tmp_path / "loadavg").write_text(odd)
        assert procfs.lastPid(str(tmp_path)) is None
    assert (procfs.lastPid() or 0) > 0


@given(st.sets(st.integers(1, 4_194_304), max_size=50), st.none() | st.integers(1, 4_194_304))
def test_newest_first_is_every_pid_once_from_the_last_given_down_and_round(
    pids: set[int], last: int | None
) -> None:
    """The pids given after C{last} wrapped round are the oldest: those at
    or below it come first, each of them newer than every pid above it."""
    order = procfs.newestFirst(pids, last)
    assert sorted(order) == sorted(pids)
    top = max(pids, default=0) if last is None else last
    below = [pid for pid in order if pid <= top]
    assert order == below + [pid for pid in order if pid > top]
    assert below == sorted(below, reverse=True)
    assert order[len(below) :] == sorted(order[len(below) :], reverse=True)

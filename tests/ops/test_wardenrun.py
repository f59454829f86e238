"""The warden program: what it follows, what it finds, what it stops."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.ops import wardenrun


def fakeProc(
    root: Path,
    pid: int,
    pgid: int,
    sid: int,
    state: str = "S",
    environ: bytes = b"",
    ppid: int = 1,
) -> None:
    """A C{/proc/PID} with its C{stat} and C{environ}."""
    entry = root / str(pid)
    entry.mkdir()
    (entry / "stat").write_bytes(
        f"{pid} (odd) name) {state} {ppid} {pgid} {sid} 0 -1 0 0 0 0 0".encode()
    )
    (entry / "environ").write_bytes(environ)


def test_follow_keeps_the_children_running_and_the_marker() -> None:
    leaders: set[int] = set()
    lines = [b"=MCPGATEWAY_CHILD_OF=7-ab\n", b"+10\n", b"+11\n", b"-10\n", b"junk\n", b"+\n"]
    assert wardenrun.follow(lines, leaders) == b"MCPGATEWAY_CHILD_OF=7-ab"
    assert leaders == {11}


@given(st.lists(st.binary(max_size=30), max_size=20))
def test_follow_takes_any_input_without_raising(lines: list[bytes]) -> None:
    leaders: set[int] = set()
    wardenrun.follow(lines, leaders)
    assert all(pid >= 0 for pid in leaders)


def test_members_are_the_groups_and_sessions_of_the_leaders(tmp_path: Path) -> None:
    fakeProc(tmp_path, 10, 10, 10)  # the child
    fakeProc(tmp_path, 11, 10, 10)  # its grandchild, in its group
    fakeProc(tmp_path, 12, 12, 10)  # a grandchild with a group of its own
    fakeProc(tmp_path, 13, 13, 13)  # someone else's
    fakeProc(tmp_path, 14, 10, 10, state="Z")  # a zombie: nothing to stop
    (tmp_path / "self").mkdir()
    assert sorted(wardenrun.members({10}, str(tmp_path))) == [10, 11, 12]


def test_marked_finds_what_left_the_session(tmp_path: Path) -> None:
    marker = b"MCPGATEWAY_CHILD_OF=7-ab"
    fakeProc(tmp_path, 20, 20, 20, environ=b"PATH=/bin\0" + marker + b"\0")
    fakeProc(tmp_path, 21, 21, 21, environ=marker + b"\0")
    fakeProc(tmp_path, 22, 22, 22, environ=b"X=" + marker + b"\0")  # only a value holds it
    fakeProc(tmp_path, 23, 23, 23, environ=b"MCPGATEWAY_CHILD_OF=7-abc\0")
    assert sorted(wardenrun.marked(marker, str(tmp_path))) == [20, 21]
    assert wardenrun.marked(b"", str(tmp_path)) == []


def test_stop_all_terms_then_kills_what_is_left(tmp_path: Path) -> None:
    marker = b"M=1"
    fakeProc(tmp_path, 10, 10, 10)
    fakeProc(tmp_path, 30, 30, 30, environ=b"M=1\0")
    sent: list[tuple[int, int]] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    count = wardenrun.stopAll(
        {10},
        marker,
        str(tmp_path),
        grace=1.0,
        sleep=sleep,
        monotonic=lambda: now[0],
        kill=lambda pid, signum: sent.append((pid, signum)),
    )
    assert count == 2
    assert sent == [
        (10, signal.SIGTERM),
        (30, signal.SIGTERM),
        (10, signal.SIGKILL),
        (30, signal.SIGKILL),
    ]


def test_stop_all_stops_waiting_once_all_are_gone(tmp_path: Path) -> None:
    fakeProc(tmp_path, 10, 10, 10)
    sent: list[tuple[int, int]] = []

    def kill(pid: int, signum: int) -> None:
        sent.append((pid, signum))
        (tmp_path / str(pid) / "stat").unlink()

    assert wardenrun.stopAll({10}, b"", str(tmp_path), kill=kill) == 1
    assert sent == [(10, signal.SIGTERM)]


def test_stop_all_with_nothing_left_signals_nothing(tmp_path: Path) -> None:
    def kill(pid: int, signum: int) -> None:
        raise AssertionError("nothing to signal")

    assert wardenrun.stopAll({10}, b"M=1", str(tmp_path), kill=kill) == 0


def test_signal_all_skips_the_gone(tmp_path: Path) -> None:
    sent: list[int] = []

    def kill(pid: int, signum: int) -> None:
        if pid == 1:
            raise ProcessLookupError(pid)
        sent.append(pid)

    wardenrun.signalAll([1, 2], signal.SIGTERM, kill)
    assert sent == [2]


def test_a_child_handed_to_the_next_process_is_spared_with_its_session(tmp_path: Path) -> None:
    leaders: set[int] = set()
    spared: set[int] = set()
    marker = wardenrun.follow([b"=M=1\n", b"+10\n", b"+20\n", b"!10\n"], leaders, spared)
    assert (leaders, spared) == ({20}, {10})
    fakeProc(tmp_path, 10, 10, 10, environ=b"M=1\0")  # the handed child, marked
    fakeProc(tmp_path, 11, 10, 10, environ=b"M=1\0")  # what it started, in its session
    fakeProc(tmp_path, 20, 20, 20, environ=b"M=1\0")
    killed: list[int] = []
    count = wardenrun.stopAll(
        leaders,
        marker,
        str(tmp_path),
        grace=0,
        kill=lambda pid, signum: killed.append(pid),
        spared=spared,
    )
    assert count == 1 and set(killed) == {20}


def test_a_handed_childs_sandbox_in_a_session_of_its_own_is_spared(tmp_path: Path) -> None:
    fakeProc(tmp_path, 10, 10, 10, environ=b"M=1\0")  # the launcher, now bubblewrap
    fakeProc(tmp_path, 11, 10, 10, ppid=10)  # the sandbox's init
    fakeProc(tmp_path, 12, 12, 12, environ=b"M=1\0", ppid=11)  # the server: --new-session
    fakeProc(tmp_path, 20, 20, 20, environ=b"M=1\0")
    fakeProc(tmp_path, 21, 21, 21, environ=b"M=1\0", ppid=20)  # another child's sandbox
    killed: list[int] = []
    count = wardenrun.stopAll(
        {20},
        b"M=1",
        str(tmp_path),
        grace=0,
        kill=lambda pid, signum: killed.append(pid),
        spared={10},
    )
    assert count == 2 and set(killed) == {20, 21}
    assert wardenrun.descendants({10}, str(tmp_path)) == {11, 12}


def recordOf(pid: int, fds: int = 3) -> bytes:
    body = f'{{"pid":{pid},"fds":{fds},"server":"s"}}'.encode()
    return b"*%d\n" % len(body) + body


def test_a_tally_holds_a_childs_record_and_descriptors_and_answers_it() -> None:
    closed: list[int] = []
    tally = wardenrun.Tally(close=closed.append)
    tally.feed(b"=M=1\n+10\n")
    data = recordOf(10)
    tally.feed(data[:5], [3, 4])  # a record may come in pieces, its descriptors first
    tally.feed(data[5:], [5])
    assert set(tally.held) == {10} and tally.held[10][1] == [3, 4, 5]
    assert tally.answers == [b"@10\n"] and tally.marker == b"M=1" and closed == []


@pytest.mark.parametrize("line", [b"~10\n", b"-10\n", b"!10\n"])
def test_a_tally_lets_go_of_a_child_being_stopped_ended_or_handed_over(line: bytes) -> None:
    closed: list[int] = []
    tally = wardenrun.Tally(close=closed.append)
    tally.feed(b"+10\n" + recordOf(10), [3, 4, 5])
    tally.feed(line)
    assert tally.held == {} and closed == [3, 4, 5]
    assert (10 in tally.leaders) is (line == b"~10\n")
    assert (10 in tally.spared) is (line == b"!10\n")


def test_a_tally_closes_the_descriptors_of_a_record_it_cannot_keep() -> None:
    closed: list[int] = []
    tally = wardenrun.Tally(close=closed.append)
    tally.feed(recordOf(11), [3, 4, 5])  # not a child it was told of
    body = b"not json"
    tally.feed(b"+12\n*%d\n" % len(body) + body, [6])
    assert tally.held == {} and sorted(closed) == [3, 4, 5, 6] and tally.answers == []


def test_a_tally_lets_go_of_everything_at_the_end() -> None:
    closed: list[int] = []
    tally = wardenrun.Tally(close=closed.append)
    tally.feed(b"+10\n" + recordOf(10) + b"+11\n", [3, 4, 5, 9])
    tally.releaseAll()
    assert tally.held == {} and sorted(closed) == [3, 4, 5, 9]


@given(st.lists(st.binary(max_size=40), max_size=20))
def test_a_tally_takes_any_input_without_raising(chunks: list[bytes]) -> None:
    tally = wardenrun.Tally(close=lambda fd: None)
    for chunk in chunks:
        tally.feed(chunk, [7])
    assert all(len(fds) == 3 for _, fds in tally.held.values())


def test_the_warden_reads_its_grace_and_socket_from_its_arguments() -> None:
    assert wardenrun.arguments(["--grace", "2.5", "--listen", "/s/warden.sock"]) == (
        2.5,
        "/s/warden.sock",
    )
    assert wardenrun.arguments(["--grace", "x"]) == (0.0, "")
    assert wardenrun.arguments(["--grace", "-3"]) == (0.0, "")
    assert wardenrun.frame(b"{}") == b"\0\0\0\x02{}"

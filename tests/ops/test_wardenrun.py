"""The warden program: what it follows, what it finds, what it stops."""

from __future__ import annotations

import json
import os
import signal
import stat
import struct
from pathlib import Path
from typing import Any

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
        "",
    )
    assert wardenrun.arguments(["--grace", "x"]) == (0.0, "", "")
    assert wardenrun.arguments(["--grace", "-3"]) == (0.0, "", "")
    assert wardenrun.frame(b"{}") == b"\0\0\0\x02{}"


def test_the_warden_reads_where_to_report_from_its_arguments() -> None:
    assert wardenrun.arguments(["--report", "/s/warden-report.json"]) == (
        0.0,
        "",
        "/s/warden-report.json",
    )


def startedProc(root: Path, pid: int, start: int, state: str = "S") -> None:
    """A C{/proc/PID/stat} with every field up to the start time (22)."""
    entry = root / str(pid)
    entry.mkdir()
    fields = [state, "1", str(pid), str(pid)] + ["0"] * 15 + [str(start)]
    (entry / "stat").write_bytes(f"{pid} (srv) {' '.join(fields)}".encode())
    (entry / "environ").write_bytes(b"")


def test_a_tally_hears_the_secret_the_start_times_and_what_each_child_is(tmp_path: Path) -> None:
    startedProc(tmp_path, 10, 5000)
    tally = wardenrun.Tally(procRoot=str(tmp_path))
    tally.feed(b"&c0ffee\n+10\n+11\n")
    tally.feed(b'#10 {"server":"files","why":"it was given secrets"}\n')
    tally.feed(b'#11 {"server":"npm","helper":true}\n#12 [1]\n#x {}\n#13 not json\n')
    assert tally.secret == b"c0ffee" and tally.starts == {10: 5000}
    assert tally.notes == {
        10: {"server": "files", "why": "it was given secrets"},
        11: {"server": "npm", "helper": True},
    }
    # A helper (a package install) is stopped, never named as a child.
    assert tally.stopped([10, 11, 14]) == [
        {"pid": 10, "server": "files", "why": "it was given secrets"},
        {"pid": 14, "server": "?", "why": wardenrun.NOT_GIVEN},
    ]
    assert tally.stopped([10], "past the grace")[0]["why"] == "past the grace"
    tally.feed(b"-10\n")
    assert 10 not in tally.notes and 10 not in tally.starts


def test_a_leader_whose_pid_another_process_has_now_is_never_stopped(tmp_path: Path) -> None:
    startedProc(tmp_path, 10, 5000)  # the child, as it was heard of
    startedProc(tmp_path, 20, 9999)  # pid 20 is another process's now
    fakeProc(tmp_path, 21, 20, 20)  # ...which its group holds
    fakeProc(tmp_path, 31, 30, 30)  # the group of a leader that is gone
    starts = {10: 5000, 20: 6000, 30: 7000}
    assert wardenrun.stillOurs({10, 20, 30, 40}, starts, str(tmp_path)) == {10, 30, 40}
    killed: list[int] = []
    wardenrun.stopAll(
        {10, 20, 30},
        b"",
        str(tmp_path),
        grace=0,
        kill=lambda pid, signum: killed.append(pid),
        starts=starts,
    )
    assert sorted(set(killed)) == [10, 31]


class FakeConn:
    """One connection to the warden's socket: what it sends, what it is sent."""

    def __init__(self, said: bytes, uid: int | None = None) -> None:
        self.said = said
        self.uid = os.getuid() if uid is None else uid
        self.sent = b""
        self.fds: list[int] = []

    def getsockopt(self, level: int, name: int, size: int) -> bytes:
        return struct.pack("3i", 1234, self.uid, 0)

    def settimeout(self, seconds: float) -> None:
        pass

    def recv(self, size: int) -> bytes:
        out, self.said = self.said[:size], self.said[size:]
        return out

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def sendmsg(self, buffers: list[bytes], ancillary: list[Any]) -> int:
        self.sent += b"".join(buffers)
        self.fds += list(ancillary[0][2])
        return sum(len(b) for b in buffers)

    def __enter__(self) -> FakeConn:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class FakeServer:
    def __init__(self, conns: list[FakeConn]) -> None:
        self.conns = conns

    def settimeout(self, seconds: float) -> None:
        pass

    def accept(self) -> tuple[FakeConn, None]:
        if not self.conns:
            raise TimeoutError
        return self.conns.pop(0), None


def test_only_the_gateway_that_proves_the_secret_gets_the_children(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(wardenrun, "say", lambda text: None)
    held = {10: (b'{"pid":10}', [3, 4, 5])}
    secret = b"c0ffee"
    other = FakeConn(b"", uid=os.getuid() + 1)
    silent = FakeConn(b"")  # a process of the same user that says nothing
    guess = FakeConn(b"gateway c0ffef\n")
    empty = FakeConn(b"gateway \n")
    successor = FakeConn(b"gateway c0ffee\n" + wardenrun.ADOPTED)
    server = FakeServer([other, silent, guess, empty, successor])
    stopped = [{"pid": 11, "server": "files", "why": "it was given secrets"}]
    taken = wardenrun.offer(server, held, 60, 1, secret=secret, stopped=stopped)  # type: ignore[arg-type]
    assert taken == {10}
    assert other.sent == silent.sent == guess.sent == empty.sent == b"" and guess.fds == []
    assert successor.fds == [3, 4, 5]
    frames, data = [], successor.sent
    while data:
        size = int.from_bytes(data[:4], "big")
        frames.append(json.loads(data[4 : 4 + size]))
        data = data[4 + size :]
    assert frames == [{"pid": 10}, {"kind": "end", "left": 1, "stopped": stopped, "fds": 0}]


def test_with_no_secret_no_process_proves_anything() -> None:
    assert not wardenrun.proven(FakeConn(b"gateway \n"), b"")  # type: ignore[arg-type]
    assert not wardenrun.proven(FakeConn(b"gateway c0ffee"), b"c0ffee")  # type: ignore[arg-type]
    assert not wardenrun.proven(FakeConn(b"x" * 1000), b"c0ffee")  # type: ignore[arg-type]
    assert wardenrun.proven(FakeConn(b"gateway c0ffee\nmore"), b"c0ffee")  # type: ignore[arg-type]


def test_mcpgateway_stop_with_the_secret_has_the_held_children_stop_now(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """C{mcpgateway stop} after a crash: a connection that says C{stop} and
    the secret ends the wait for the next gateway (the children stop at
    once, none handed over); C{stop} with a wrong secret is nothing."""
    monkeypatch.setattr(wardenrun, "say", lambda text: None)
    held = {10: (b'{"pid":10}', [3, 4, 5])}
    guess = FakeConn(b"stop c0ffef\n")
    stop = FakeConn(b"stop c0ffee\n")
    late = FakeConn(b"gateway c0ffee\n" + wardenrun.ADOPTED)
    server = FakeServer([guess, stop, late])
    with pytest.raises(wardenrun.StopAsked):
        wardenrun.offer(server, held, 60, 0, secret=b"c0ffee")  # type: ignore[arg-type]
    assert guess.sent == stop.sent == b"" and stop.fds == []
    assert server.conns == [late]  # never offered what stops
    with pytest.raises(wardenrun.StopAsked):
        wardenrun.proven(FakeConn(b"stop c0ffee\n"), b"c0ffee")  # type: ignore[arg-type]
    assert not wardenrun.proven(FakeConn(b"stop \n"), b"")  # type: ignore[arg-type]


def test_the_children_no_gateway_took_are_reported_with_why(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    proc.mkdir()
    startedProc(proc, 10, 5000)  # held through the grace
    startedProc(proc, 11, 5001)  # not given to the warden
    tally = wardenrun.Tally(procRoot=str(proc), close=lambda fd: None)
    tally.feed(b'+10\n+11\n+12\n#11 {"server":"b","why":"it was given secrets"}\n')
    tally.feed(b'#10 {"server":"a"}\n' + recordOf(10), [3, 4, 5])
    left = wardenrun.leftWithoutTaker(tally, 60, str(proc))
    assert [(one["pid"], one["server"]) for one in left] == [(10, "a"), (11, "b")]
    assert "within the 60 s grace" in str(left[0]["why"])
    assert left[1]["why"] == "it was given secrets"
    report = tmp_path / "warden-report.json"
    wardenrun.writeReport(str(report), left)
    assert json.loads(report.read_text()) == {"stopped": left}
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    wardenrun.writeReport(str(tmp_path / "none.json"), [])
    assert not (tmp_path / "none.json").exists()
    atOnce = wardenrun.leftWithoutTaker(tally, 0, str(proc))
    assert all("--adopt-grace is 0" in str(one["why"]) for one in atOnce)
    tally.stoppedWhy = wardenrun.STOPPED_BY_STOP  # mcpgateway stop asked
    [stopped, _] = wardenrun.leftWithoutTaker(tally, 60, str(proc))
    assert stopped["why"] == "mcpgateway stop stopped it before a gateway started again"

"""The order of the walk for a socket's holder, against fake /proc trees:
the newest processes first, so that a client that has just started is
found before it can exit, and a holder's parent that holds the same
socket (a client whose forked worker inherited it) before the holder."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.ops import peerpid
from mcpgateway.ops.peerpid import MAX_STEPS, inodeHolder, inodeHolders
from tests.support.ops.peerpid import FakeProc
from tests.support.ops.procfixture import proc as proc  # the fixture

ME = os.getuid()


def walked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids the walk looks at, in order, from now on."""
    seen: list[int] = []
    candidates = peerpid._candidates

    def counted(root: str, hints: Sequence[int]) -> Iterator[int]:
        for pid in candidates(root, hints):
            seen.append(pid)
            yield pid

    monkeypatch.setattr(peerpid, "_candidates", counted)
    return seen


def test_a_client_just_started_is_among_the_first_looked_at(
    proc: FakeProc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Older processes (lower pids) are looked at after it: on a loaded
    machine, a walk that reads them all first can get to a short-lived
    client after it has exited."""
    for pid in range(100, 160):
        proc.process(pid, [pid, pid + 1000])
    proc.process(4000, [4242])
    order = walked(monkeypatch)
    assert inodeHolder(4242, proc.path, ME, maxProcs=1) == 4000
    assert order == [4000]
    assert inodeHolder(4242, proc.path, ME, hints=[120], maxProcs=2) == 4000  # hints first


def test_after_the_pids_wrapped_round_the_newest_are_still_first(
    proc: FakeProc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past C{pid_max} the kernel gives low pids again: the newest are
    those at or below the last pid given (C{loadavg}'s last field), then
    the highest of the older ones."""
    for pid in range(30000, 30060):
        proc.process(pid, [pid])
    proc.process(40, [4242])
    proc.process(35, [4343])
    (proc.root / "loadavg").write_text("3.12 2.80 2.41 4/612 41\n")
    order = walked(monkeypatch)
    assert inodeHolder(4242, proc.path, ME, maxProcs=1) == 40
    assert inodeHolders({4343}, proc.path, ME) == {4343: 35}
    assert order[:3] == [40, 40, 35]
    assert inodeHolder(30000, proc.path, ME) == 30000


def test_several_new_clients_end_the_walk_early(
    proc: FakeProc, monkeypatch: pytest.MonkeyPatch
) -> None:
    for pid in range(100, 160):
        proc.process(pid, [pid])
    for pid, inode in ((4000, 11), (4001, 12), (4002, 13)):
        proc.process(pid, [inode])
    order = walked(monkeypatch)
    assert inodeHolders({11, 12, 13}, proc.path, ME) == {11: 4000, 12: 4001, 13: 4002}
    assert order == [4002, 4001, 4000]


def test_a_forked_worker_gives_way_to_its_parent(proc: FakeProc) -> None:
    """The client (300) forked a worker (400) and that a worker of its own
    (500): all hold the client's socket; the client is its holder."""
    proc.process(300, [4242], ppid=200)
    proc.process(400, [7, 4242], ppid=300)
    proc.process(500, [4242], ppid=400)
    proc.process(200, [8], ppid=1)  # the client's launcher: not a holder
    assert inodeHolder(4242, proc.path, ME) == 300
    assert inodeHolder(4242, proc.path, ME, hints=[500]) == 300


def test_a_parent_that_does_not_hold_the_socket_is_not_climbed(proc: FakeProc) -> None:
    """A line is followed while it holds the socket, and no further: not
    past a parent without it, nor to pid 1, nor to another user's process."""
    proc.process(100, [4242], ppid=1)
    proc.process(300, [4242], ppid=200)
    proc.process(200, [9], ppid=100)  # closed what it inherited
    proc.process(400, [4242], ppid=300)
    assert inodeHolder(4242, proc.path, ME, hints=[400]) == 300
    proc.process(1, [5151])
    proc.process(600, [5151], ppid=1)
    assert inodeHolder(5151, proc.path, ME) == 600


def test_another_users_parent_is_not_climbed(
    proc: FakeProc, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc.process(300, [4242], ppid=1)
    proc.process(400, [4242], ppid=300)
    owners = {str(proc.root / "300"): ME + 1}
    monkeypatch.setattr(peerpid, "_owner", lambda base: owners.get(base, ME))
    assert inodeHolder(4242, proc.path, ME) == 400


def test_each_parent_is_read_once_for_all_its_children(
    proc: FakeProc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten clients started by one parent (a test runner, a shell) cost one
    read of that parent's fds, not ten."""
    proc.process(200, [1, 2, 3], ppid=1)
    for pid in range(300, 310):
        proc.process(pid, [pid * 10], ppid=200)
    read: list[str] = []
    scandir = os.scandir

    def counting(path: str) -> object:
        read.append(str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", counting)
    found = inodeHolders({pid * 10 for pid in range(300, 310)}, proc.path, ME)
    assert found == {pid * 10: pid for pid in range(300, 310)}
    assert read.count(str(proc.root / "200" / "fd")) == 1


def test_the_climb_is_counted_in_the_fd_cap(proc: FakeProc) -> None:
    """Past the cap, the holder found before it stands."""
    proc.process(300, [1, 2, 3, 4242], ppid=1)
    proc.process(400, [4242], ppid=300)
    assert inodeHolder(4242, proc.path, ME, maxFds=1) == 400
    assert inodeHolder(4242, proc.path, ME, maxFds=5) == 300


def test_a_parent_cycle_ends(proc: FakeProc) -> None:
    proc.process(300, [4242], ppid=400)
    proc.process(400, [4242], ppid=300)
    assert inodeHolder(4242, proc.path, ME) in (300, 400)


@settings(max_examples=60, deadline=None)
@given(
    line=st.integers(1, MAX_STEPS + 4),
    holding=st.integers(1, MAX_STEPS + 4),
    others=st.lists(st.integers(2, 99), max_size=8, unique=True),
)
def test_the_eldest_holder_of_a_line_whatever_its_length(
    line: int, holding: int, others: list[int]
) -> None:
    """A line of C{line} processes, each forked by the one before, of
    which the last C{holding} hold the socket, among unrelated processes:
    the holder is the eldest of those that hold it, at most
    L{MAX_STEPS} parents above the newest."""
    with tempfile.TemporaryDirectory() as root:
        proc = FakeProc(Path(root) / "proc")
        for pid in others:
            proc.process(pid, [pid], ppid=1)
        first = 1000
        for step in range(line):
            holds = step >= line - min(holding, line)
            proc.process(first + step, [4242] if holds else [5], ppid=first + step - 1)
        newest = first + line - 1
        eldestHolding = first + line - min(holding, line)
        assert inodeHolder(4242, proc.path, ME) == max(eldestHolding, newest - MAX_STEPS)

"""The state directory: atomic writes, /proc start times, the child ledger and
orphan detection, all against a fake C{/proc} tree under C{tmp_path}."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.ops.statedir import ChildLedger, findOrphans, processStartTime
from mcpgateway.runtime.atomicfile import writeFileAtomic as atomicWrite
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import spec
from tests.support.core.pools.pool import perSessionOf


def statLine(pid: int, start: int, comm: str = "srv") -> bytes:
    """A /proc/PID/stat line whose field 22 (start time) is C{start}."""
    # Fields 3..21 after the comm, then 22 = start, then a few more.
    fields = [
        "S",
        "1",
        str(pid),
        str(pid),
        "0",
        "-1",
        "4194560",
        "100",
        "0",
        "0",
        "0",
        "7",
        "3",
        "0",
        "0",
        "20",
        "0",
        "1",
        "0",
        str(start),
        "123456",
        "789",
        "0",
    ]
    return f"{pid} ({comm}) {' '.join(fields)}\n".encode()


def fakeProc(
    root: Path, pid: int, start: int | None = None, comm: str = "srv", cmdline: bytes | None = None
) -> None:
    base = root / str(pid)
    base.mkdir(parents=True, exist_ok=True)
    if start is not None:
        (base / "stat").write_bytes(statLine(pid, start, comm))
    if cmdline is not None:
        (base / "cmdline").write_bytes(cmdline)


def writeLedger(stateDir: Path, gatewayPid: Any, children: Any) -> None:
    (stateDir / "children.json").write_text(
        json.dumps({"gatewayPid": gatewayPid, "children": children})
    )


def dirEntries(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


# -- atomicWrite ------------------------------------------------------------------


def test_atomic_write_writes_the_content_with_mode_0600_and_leaves_no_temp_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "children.json"
    atomicWrite(target, b'{"a": 1}')
    assert target.read_bytes() == b'{"a": 1}'
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert dirEntries(tmp_path) == ["children.json"]
    atomicWrite(target, b"second")  # replaces an existing file
    assert target.read_bytes() == b"second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert dirEntries(tmp_path) == ["children.json"]


def test_atomic_write_honours_an_explicit_mode(tmp_path: Path) -> None:
    target = tmp_path / "f"
    atomicWrite(target, b"x", mode=0o644)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("call", "error"),
    [("replace", OSError(28, "No space left on device")), ("fsync", OSError(5, "I/O error"))],
    ids=["the rename fails", "writing fails"],
)
def test_atomic_write_keeps_the_old_file_when_a_step_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str, error: OSError
) -> None:
    target = tmp_path / "children.json"
    target.write_bytes(b"old")

    def broken(*args: Any) -> None:
        raise error

    monkeypatch.setattr(os, call, broken)
    with pytest.raises(OSError, match=error.strerror):
        atomicWrite(target, b"new")
    assert target.read_bytes() == b"old"
    assert dirEntries(tmp_path) == ["children.json"]


# -- processStartTime ----------------------------------------------------------------


def test_process_start_time_reads_field_22(tmp_path: Path) -> None:
    fakeProc(tmp_path, 321, start=987654)
    assert processStartTime(321, str(tmp_path)) == 987654


def test_process_start_time_survives_spaces_and_parentheses_in_the_comm(tmp_path: Path) -> None:
    fakeProc(tmp_path, 322, start=42, comm="my (odd) srv) 1 2 3")
    assert processStartTime(322, str(tmp_path)) == 42


def test_process_start_time_is_none_for_missing_or_garbage_stat(tmp_path: Path) -> None:
    assert processStartTime(999, str(tmp_path)) is None
    fakeProc(tmp_path, 400)
    (tmp_path / "400" / "stat").write_bytes(b"garbage without a paren")
    assert processStartTime(400, str(tmp_path)) is None
    (tmp_path / "400" / "stat").write_bytes(b"400 (x) S 1 2")
    assert processStartTime(400, str(tmp_path)) is None
    (tmp_path / "400" / "stat").write_bytes(statLine(400, 0).replace(b" 0 123456", b" zz 123456"))
    assert processStartTime(400, str(tmp_path)) is None


def test_process_start_time_of_this_process_from_the_real_proc() -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("no /proc")
    started = processStartTime(os.getpid())
    assert isinstance(started, int) and started > 0
    assert started == processStartTime(os.getpid())


# -- ChildLedger -------------------------------------------------------------------------


def readLedger(stateDir: Path) -> Any:
    return json.loads((stateDir / "children.json").read_text())


def test_ledger_records_spawns_and_exits(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    state = tmp_path / "state"
    state.mkdir()
    fakeProc(proc, 1000, start=111)
    fakeProc(proc, 1001, start=222)
    ledger = ChildLedger(state, procRoot=str(proc))
    assert not (state / "children.json").exists()
    ledger.spawned("alpha", 1000)
    assert readLedger(state) == {
        "gatewayPid": os.getpid(),
        "children": {"1000": {"server": "alpha", "start": 111}},
    }
    ledger.spawned("beta", 1001)
    ledger.spawned("gamma", 1002)  # no /proc entry: start unknown
    assert readLedger(state)["children"] == {
        "1000": {"server": "alpha", "start": 111},
        "1001": {"server": "beta", "start": 222},
        "1002": {"server": "gamma", "start": None},
    }
    ledger.exited(1000)
    assert readLedger(state)["children"] == {
        "1001": {"server": "beta", "start": 222},
        "1002": {"server": "gamma", "start": None},
    }
    assert stat.S_IMODE((state / "children.json").stat().st_mode) == 0o600
    assert dirEntries(state) == ["children.json"]


def test_ledger_exit_of_an_unknown_pid_does_not_rewrite(tmp_path: Path) -> None:
    ledger = ChildLedger(tmp_path, procRoot=str(tmp_path / "proc"))
    ledger.exited(5)
    assert not (tmp_path / "children.json").exists()
    ledger.spawned("alpha", 5)
    (tmp_path / "children.json").write_text("sentinel")
    ledger.exited(77)
    assert (tmp_path / "children.json").read_text() == "sentinel"


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25"},
}


def test_gateway_keeps_the_ledger_in_step_with_its_children(tmp_path: Path) -> None:
    """The ledger as the gateway's watcher: spawn, exit, restart, vanish."""
    proc = tmp_path / "proc"
    fakeProc(proc, 1000, start=500)
    fakeProc(proc, 1001, start=600)
    fakeProc(proc, 1002, start=700)
    reactor = FakeProcessReactor()
    gateway = Gateway(
        {"srv": spec("srv", mode="stateful")},
        fakeSpawner(reactor, watcher=ChildLedger(tmp_path, procRoot=str(proc))),
        lazyStart=False,
    )
    gateway.opener.openSession("srv", INITIALIZE, "2025-11-25")
    assert readLedger(tmp_path)["children"] == {"1000": {"server": "srv", "start": 500}}
    other, _ = gateway.opener.openSession("srv", INITIALIZE, "2025-11-25")
    assert sorted(readLedger(tmp_path)["children"]) == ["1000", "1001"]
    reactor.processes[0].exit(1)
    assert readLedger(tmp_path)["children"] == {"1001": {"server": "srv", "start": 600}}
    upstream = perSessionOf(gateway.pools["srv"]).upstreamFor(other)
    assert upstream is not None
    upstream.childVanished()
    assert readLedger(tmp_path)["children"] == {}
    third, _ = gateway.opener.openSession("srv", INITIALIZE, "2025-11-25")
    assert readLedger(tmp_path)["children"] == {"1002": {"server": "srv", "start": 700}}
    gateway.endSession(third)  # stopping: recorded until it has really exited
    assert reactor.processes[2].stdinClosed
    assert readLedger(tmp_path)["children"] == {"1002": {"server": "srv", "start": 700}}
    reactor.processes[2].exit(0)
    assert readLedger(tmp_path)["children"] == {}


# -- findOrphans -----------------------------------------------------------------------


def test_find_orphans_returns_only_children_whose_start_time_matches(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    fakeProc(proc, 2001, start=100)  # still the same process
    fakeProc(proc, 2002, start=999)  # pid recycled by another process
    fakeProc(proc, 2004, start=400)  # recorded without a start time
    fakeProc(proc, 2006, start=5)
    writeLedger(
        tmp_path,
        1,
        {
            "2001": {"server": "alpha", "start": 100},
            "2002": {"server": "beta", "start": 200},
            "2003": {"server": "gamma", "start": 300},  # gone
            "2004": {"server": "delta", "start": None},
            "nope": {"server": "x", "start": 1},
            "2005": "not a record",
            "2006": {"start": 5},  # no server name
        },
    )
    assert findOrphans(tmp_path, str(proc)) == [(2001, "alpha"), (2006, "?")]


@pytest.mark.parametrize(
    "content",
    [
        None,
        "",
        "{not json",
        "[1, 2]",
        '"text"',
        '{"gatewayPid": 1}',
        '{"gatewayPid": 1, "children": []}',
    ],
)
def test_find_orphans_is_empty_for_a_missing_or_garbage_ledger(
    tmp_path: Path, content: str | None
) -> None:
    proc = tmp_path / "proc"
    fakeProc(proc, 2001, start=100)
    if content is not None:
        (tmp_path / "children.json").write_text(content)
    assert findOrphans(tmp_path, str(proc)) == []


def test_find_orphans_is_empty_while_the_recording_gateway_still_runs(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    fakeProc(proc, 2001, start=100)
    fakeProc(proc, 555, start=50, cmdline=b"/usr/bin/python3\0-m\0twisted\0mcpgateway\0")
    writeLedger(tmp_path, 555, {"2001": {"server": "alpha", "start": 100}})
    assert findOrphans(tmp_path, str(proc)) == []


def test_find_orphans_when_the_recorded_gateway_pid_is_not_a_gateway(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    fakeProc(proc, 2001, start=100)
    writeLedger(tmp_path, 555, {"2001": {"server": "alpha", "start": 100}})
    # The gateway's pid is gone ...
    assert findOrphans(tmp_path, str(proc)) == [(2001, "alpha")]
    # ... or was reused by a process that is not a gateway ...
    fakeProc(proc, 555, start=50, cmdline=b"/usr/bin/vim\0notes.txt\0")
    assert findOrphans(tmp_path, str(proc)) == [(2001, "alpha")]
    # ... or has a cmdline but no stat (gone between the reads).
    (proc / "555" / "stat").unlink()
    (proc / "555" / "cmdline").write_bytes(b"mcpgateway\0")
    assert findOrphans(tmp_path, str(proc)) == [(2001, "alpha")]


def test_find_orphans_when_the_recorded_gateway_pid_is_our_own(tmp_path: Path) -> None:
    """Pid 1 in a container is every gateway's pid: our own pid means the
    previous gateway is gone, even though /proc says it is a gateway."""
    proc = tmp_path / "proc"
    fakeProc(proc, 2001, start=100)
    fakeProc(proc, os.getpid(), start=50, cmdline=b"mcpgateway\0")
    writeLedger(tmp_path, os.getpid(), {"2001": {"server": "alpha", "start": 100}})
    assert findOrphans(tmp_path, str(proc)) == [(2001, "alpha")]


def test_pid_alive_of_an_impossible_pid_is_false_not_an_error() -> None:
    from mcpgateway.ops.statedir import pidAlive

    assert pidAlive(10**30) is False
    assert pidAlive(2**31) is False


def test_the_ledger_of_a_gateway_that_is_gone_names_its_children_running_or_not(
    tmp_path: Path,
) -> None:
    from mcpgateway.ops.statedir import LedgerChild, previousChildren

    proc = tmp_path / "proc"
    fakeProc(proc, 2001, start=100)
    fakeProc(proc, 2007, start=70)
    writeLedger(
        tmp_path,
        1,
        {
            "2001": {"server": "alpha", "start": 100},
            "2003": {"server": "gamma", "start": 300},  # gone: it ended by itself
            "2007": {"server": "alpha", "start": 70, "helper": True},  # its package install
        },
    )
    assert previousChildren(tmp_path, str(proc)) == [
        LedgerChild(2001, "alpha", True),
        LedgerChild(2003, "gamma", False),
        LedgerChild(2007, "alpha", True, helper=True),
    ]
    # The install is stopped as the children are, when nothing else stops it.
    assert findOrphans(tmp_path, str(proc)) == [(2001, "alpha"), (2007, "alpha")]


def test_a_process_started_for_a_child_is_in_the_ledger_marked_as_such(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    fakeProc(proc, 3001, start=12)
    ledger = ChildLedger(tmp_path, procRoot=str(proc))
    ledger.helperSpawned("files", 3001)
    data = json.loads((tmp_path / "children.json").read_text())
    assert data["children"] == {"3001": {"server": "files", "start": 12, "helper": True}}
    ledger.exited(3001)
    assert json.loads((tmp_path / "children.json").read_text())["children"] == {}


def test_a_start_refused_by_a_lock_with_no_state_names_the_pid_holding_it(tmp_path: Path) -> None:
    """A restart's previous process, stopping or still handing over, holds
    the lock after its successor removed state.json: the refusal names it,
    not a gateway "still starting" that nobody can find."""
    from mcpgateway.ops.statedir import AlreadyRunning, InstanceLock, lockHolders
    from tests.support.cli.stop import standIn

    assert lockHolders(tmp_path) == []  # no lock file
    with standIn(tmp_path) as holder:
        assert lockHolders(tmp_path) == [holder.pid]
        with pytest.raises(AlreadyRunning) as refused:
            InstanceLock(tmp_path).acquire()
    assert f"(pid {holder.pid} holds its lock with no state written:" in str(refused.value)
    assert "still starting: it has not written" not in str(refused.value)


def test_the_lock_holders_are_found_through_their_open_descriptors(tmp_path: Path) -> None:
    """A fake /proc: the pid whose descriptor is the lock file, none other."""
    from mcpgateway.ops.statedir import LOCK_FILE, lockHolders

    lock = tmp_path / LOCK_FILE
    lock.write_text("")
    other = tmp_path / "other"
    other.write_text("")
    proc = tmp_path / "proc"
    for pid, target in ((11, lock), (12, other), (13, None)):
        (proc / str(pid) / "fd").mkdir(parents=True)
        if target is not None:
            (proc / str(pid) / "fd" / "4").symlink_to(target)
    (proc / "self").mkdir()
    assert lockHolders(tmp_path, str(proc)) == [11]

"""Owner look-ups asked for together share one scan of /proc."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from mcpgateway.ops import peerpid
from mcpgateway.ops.ownerscan import KNOWN_MOST, KNOWN_SECONDS, CoalescedPidFinder, ProcScan
from mcpgateway.ops.peerpid import Connection
from tests.support.ops.peerpid import LITTLE_ENDIAN, LOOP4, FakeProc, row
from tests.support.ops.procfixture import proc as proc  # the fixture

ME = os.getuid()


class FakeThreads:
    """C{runInThread} whose work runs when the test says so."""

    def __init__(self) -> None:
        self.calls: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], Deferred[Any]]]
        self.calls = []

    def __call__(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self.calls.append((f, args, kwargs, d))
        return d

    def finish(self) -> None:
        f, args, kwargs, d = self.calls.pop(0)
        try:
            result = f(*args, **kwargs)
        except Exception:
            d.errback(Failure())
        else:
            d.callback(result)


class Scans:
    """A scan that answers each connection's peer port + 1000, and records
    what each scan was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[list[Connection], list[int]]] = []

    def __call__(self, connections: list[Connection], hints: Sequence[int]) -> list[int | None]:
        self.asked.append((list(connections), list(hints)))
        return [None if port == 0 else port + 1000 for _, port, _, _, _ in connections]


def on(port: int, host: str = "127.0.0.1", inode: int = 0) -> Connection:
    """A connection from client port C{port} to the gateway's 9100."""
    return (host, port, host, 9100, inode)


def results(ds: list[Deferred[int | None]]) -> list[object]:
    got: list[object] = []
    for d in ds:
        d.addBoth(got.append)
    return got


def test_lookups_asked_during_a_scan_share_the_next_one() -> None:
    threads, scans = FakeThreads(), Scans()
    finder = CoalescedPidFinder(threads, scans)
    first = finder(on(1), [7])
    assert finder.scanning and len(threads.calls) == 1
    later = [finder(on(port), [port]) for port in (2, 3, 0)]
    assert len(threads.calls) == 1  # they wait for the running scan
    got = results([first, *later])
    threads.finish()
    assert got == [1001]
    assert len(threads.calls) == 1 and finder.scanning  # the next scan, for all three
    threads.finish()
    assert got == [1001, 1002, 1003, None]
    assert not finder.scanning and finder.scans == 2
    assert scans.asked == [
        ([on(1)], [7]),
        ([on(2), on(3), on(0)], [0, 2, 3]),
    ]


@LITTLE_ENDIAN
def test_a_look_with_a_known_inode_names_only_that_sockets_holder(proc: FakeProc) -> None:
    """Looks asked of the finder carry their client socket's inode to the
    scan of C{/proc}: one for the socket named at accept (11, pid 300's,
    whose client port another process, 400, has reused since) names 300,
    and no one once 300 let go of it; one whose inode is not known (0)
    goes by the ports, as the table names them then (400's)."""
    proc.tcp(row(f"{LOOP4}:C350", f"{LOOP4}:238C", inode=12))  # 50000 -> 9100
    proc.process(400, [12])
    proc.process(300, [11])
    threads = FakeThreads()

    def scan(connections: list[Connection], hints: Sequence[int]) -> list[int | None]:
        return peerpid.findClientPids(connections, proc.path, ME, hints)

    finder = CoalescedPidFinder(threads, scan)
    got = results([finder(on(50000, inode=11), [400]), finder(on(50000), [400])])
    while threads.calls:
        threads.finish()
    (proc.root / "300" / "fd" / "0").unlink()
    later = results([finder(on(50000, inode=11), [400])])
    threads.finish()
    assert got == [300, 400] and later == [None]


def test_a_failed_scan_fails_its_lookups_and_the_next_one_still_runs() -> None:
    threads = FakeThreads()
    broken = [True]

    def scan(connections: list[Connection], hints: Sequence[int]) -> list[int | None]:
        if broken[0]:
            raise OSError("no /proc")
        return [42 for _ in connections]

    finder = CoalescedPidFinder(threads, scan)
    failing = results([finder(on(1, "::1"), [])])
    waiting = results([finder(on(2, "::1"), [])])
    threads.finish()
    [reason] = failing
    assert isinstance(reason, Failure) and reason.check(OSError)
    broken[0] = False
    threads.finish()
    assert waiting == [42]
    assert not finder.scanning


def test_a_scan_answering_the_wrong_count_fails_every_lookup_of_it() -> None:
    threads = FakeThreads()
    finder = CoalescedPidFinder(threads, lambda connections, hints: [1])
    got = results([finder(on(p), []) for p in (1,)])
    got += results([finder(on(p), []) for p in (2, 3)])
    threads.finish()
    threads.finish()
    assert got[0] == 1
    assert all(isinstance(r, Failure) and r.check(ValueError) for r in got[1:])


def test_a_thread_pool_that_refuses_fails_the_lookup() -> None:
    def refuse(f: Callable[..., Any], *args: Any, **kwargs: Any) -> Deferred[Any]:
        raise RuntimeError("the pool is stopped")

    finder = CoalescedPidFinder(refuse, Scans())
    [reason] = results([finder(on(1), [])])
    assert isinstance(reason, Failure) and reason.check(RuntimeError)
    assert not finder.scanning


@pytest.mark.parametrize("count", [1, 64])
def test_a_burst_costs_two_scans(count: int) -> None:
    threads, scans = FakeThreads(), Scans()
    finder = CoalescedPidFinder(threads, scans)
    got = results([finder(on(p), []) for p in range(1, count + 1)])
    while threads.calls:
        threads.finish()
    assert got == [p + 1000 for p in range(1, count + 1)]
    assert finder.scans == min(count, 2)


def test_the_proc_scan_keeps_what_it_found_for_a_few_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The default scan hands the same map of known pids to every scan, and
    a fresh one after L{KNOWN_SECONDS} (or once it holds L{KNOWN_MOST})."""
    seen: list[dict[int, int]] = []

    def find(connections: list[Connection], hints: Sequence[int], known: dict[int, int]) -> Any:
        seen.append(known)
        known[len(known) + 1] = 7
        return [7 for _ in connections]

    monkeypatch.setattr(peerpid, "findClientPids", find)
    now = [100.0]
    scan = ProcScan(lambda: now[0])
    connection = [on(1)]
    assert scan(connection, hints=[]) == [7]
    now[0] += KNOWN_SECONDS - 1
    scan(connection, hints=[])
    assert seen[0] is seen[1] and len(scan.known) == 2
    now[0] += 1
    scan(connection, hints=[])
    assert seen[2] is not seen[1] and len(scan.known) == 1
    scan.known.update((n, 1) for n in range(KNOWN_MOST))
    scan(connection, hints=[])
    assert seen[3] is not seen[2] and len(scan.known) == 1


def test_a_finder_has_a_proc_scan_of_its_own() -> None:
    finders = [CoalescedPidFinder(FakeThreads()) for _ in range(2)]
    scans = [finder._scan for finder in finders]
    assert all(isinstance(scan, ProcScan) for scan in scans) and scans[0] is not scans[1]

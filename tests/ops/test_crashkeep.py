"""A crash keeps the children: what the gateway gives its warden, once a
second, and how the next gateway waits for a crashed one's warden (fakes
only: no socket, no process)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure

from mcpgateway.core.eventlog import EventLog
from mcpgateway.core.handedchild import HandedChild
from mcpgateway.core.pools.runningchildren import RunningChild
from mcpgateway.ops import crashkeep
from mcpgateway.ops.childhandover import ChildAdoption
from mcpgateway.ops.crashkeep import ID_JUMP, KEEP_EVERY, SETTLE, CrashAdoption, CrashKeeping


class FakeWarden:
    def __init__(self, runs: bool = True) -> None:
        self.kept: set[int] = set()
        self.onSpawned: Callable[[], object] | None = None
        self.runs = runs
        self.records: list[tuple[int, dict[str, Any], tuple[int, ...]]] = []
        self.notes: list[tuple[int, str, str]] = []

    def guard(self) -> bool:
        return self.runs

    def keep(self, pid: int, record: bytes, fds: tuple[int, ...]) -> bool:
        self.records.append((pid, json.loads(record), fds))
        self.kept.add(pid)
        return True

    def note(self, pid: int, server: str, why: str) -> None:
        self.notes.append((pid, server, why))


class FakeRouter:
    def __init__(self) -> None:
        self._ids = iter(range(7, 100))


class FakeSpec:
    def __init__(self, name: str) -> None:
        self.name = name


class FakeChild:
    def __init__(self, proxied: bool) -> None:
        self.proxied = proxied


class FakeUpstream:
    def __init__(self, name: str, pid: int | None, proxied: bool = False) -> None:
        self.spec = FakeSpec(name)
        self.pid = pid
        self.router = FakeRouter()
        self.child = FakeChild(proxied)


class FakePool:
    def __init__(
        self,
        name: str,
        children: list[tuple[str, FakeUpstream]],
        events: EventLog | None = None,
    ) -> None:
        self.spec = FakeSpec(name)
        self.children = children
        self.events = events


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakePool]:
    """Pools whose running children are listed as they are, each one
    keepable but those named C{busy}."""

    def running(pool: FakePool) -> Any:
        for session, upstream in pool.children:
            yield RunningChild(session, upstream, None, (), pool.spec)  # type: ignore[arg-type]

    def describe(configured: Any, upstream: FakeUpstream, session: str, *rest: Any, **kw: Any):  # type: ignore[no-untyped-def]
        assert upstream.pid is not None
        return HandedChild(
            upstream.spec.name,
            session,
            "f",
            upstream.pid,
            upstream.pid,
            nextId=kw["nextId"],
            fds=(3, 4, 5),
        )

    monkeypatch.setattr(crashkeep, "runningChildren", running)
    monkeypatch.setattr(
        crashkeep, "whyNotKept", lambda u: "busy" if u.spec.name == "busy" else None
    )
    monkeypatch.setattr(crashkeep, "describeChild", describe)
    return {}


def test_each_running_child_is_given_to_the_warden_once(pools: dict[str, FakePool]) -> None:
    pools["files"] = FakePool(
        "files", [("", FakeUpstream("files", 50)), ("s1", FakeUpstream("files", 51))]
    )
    pools["busy"] = FakePool("busy", [("", FakeUpstream("busy", 60))])
    warden = FakeWarden()
    clock = Clock()
    keeping = CrashKeeping(lambda: pools, warden, clock)
    keeping.startService()
    clock.advance(KEEP_EVERY)
    assert [(pid, record["session"]) for pid, record, _ in warden.records] == [(50, ""), (51, "s1")]
    # The next router's ids start well past the ones this one may still use.
    assert warden.records[0][1]["nextId"] == 7 + ID_JUMP
    assert warden.records[0][2] == (3, 4, 5)
    clock.advance(KEEP_EVERY)
    assert len(warden.records) == 2  # already held
    keeping.stopService()
    assert clock.getDelayedCalls() == [] and warden.onSpawned is None


def test_it_looks_only_while_children_start(pools: dict[str, FakePool]) -> None:
    warden = FakeWarden()
    clock = Clock()
    keeping = CrashKeeping(lambda: pools, warden, clock)
    keeping.startService()
    clock.advance(SETTLE + KEEP_EVERY)
    assert clock.getDelayedCalls() == []  # idle: no timer at all
    pools["files"] = FakePool("files", [("", FakeUpstream("files", 50))])
    assert warden.onSpawned is not None
    warden.onSpawned()  # the warden was told of a spawn
    clock.advance(KEEP_EVERY)
    assert [pid for pid, _, _ in warden.records] == [50]
    clock.advance(SETTLE)
    assert clock.getDelayedCalls() == []  # the looks end SETTLE seconds after it
    keeping.stopService()


def test_a_child_is_given_as_soon_as_it_is_initialized(pools: dict[str, FakePool]) -> None:
    clock = Clock()
    pools["files"] = pool = FakePool("files", [], EventLog(clock))
    warden = FakeWarden()
    keeping = CrashKeeping(lambda: pools, warden, clock)
    keeping.startService()
    assert warden.onSpawned is not None
    warden.onSpawned()  # its child was spawned; it is not initialized yet
    events = pool.events
    assert events is not None
    events.emit("stderr", "starting")
    clock.advance(0)
    assert warden.records == []
    events.emit("initialized", "initialized", pid=50)
    pool.children.append(("", FakeUpstream("files", 50)))  # it runs once the event is told
    clock.advance(0)
    # Given at once, not a look later: a crash in the next second keeps it.
    assert [pid for pid, _, _ in warden.records] == [50]
    events.emit("initialized", "initialized", pid=50)
    clock.advance(0)
    assert len(warden.records) == 1  # already held
    keeping.stopService()
    events.emit("initialized", "initialized", pid=51)
    assert clock.getDelayedCalls() == []  # stopped: it hears nothing more


def test_a_child_reaching_the_proxy_or_with_no_warden_is_not_given(
    pools: dict[str, FakePool],
) -> None:
    pools["net"] = FakePool("net", [("", FakeUpstream("net", 70, proxied=True))])
    warden = FakeWarden()
    assert CrashKeeping(lambda: pools, warden, Clock()).sync() == 0
    assert warden.notes == [(70, "net", crashkeep.PROXIED)]  # the next gateway says why


def test_a_child_whose_server_the_proxy_served_for_its_install_is_kept(
    pools: dict[str, FakePool],
) -> None:
    # Its package's install reached the registries through the proxy, in the
    # server's name: the child itself has no way out through it.
    pools["installed"] = FakePool("installed", [("", FakeUpstream("installed", 71))])
    warden = FakeWarden()
    assert CrashKeeping(lambda: pools, warden, Clock()).sync() == 1
    assert CrashKeeping(lambda: pools, FakeWarden(runs=False), Clock()).sync() == 0


def test_the_warden_is_told_why_a_child_is_not_given(pools: dict[str, FakePool]) -> None:
    pools["busy"] = FakePool("busy", [("", FakeUpstream("busy", 60))])
    warden = FakeWarden()
    CrashKeeping(lambda: pools, warden, Clock()).sync()
    assert warden.notes == [(60, "busy", "busy")] and warden.records == []


def test_with_no_warden_waiting_the_children_start_at_once(tmp_path: Path) -> None:
    adoption = ChildAdoption(Clock(), crashkeep.TAKE_WAIT)
    CrashAdoption(MemoryReactorClock(), tmp_path, adoption).startService()
    assert adoption.pending("files") is None


def test_a_warden_socket_nobody_listens_on_lets_the_children_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(crashkeep, "wardenWaits", lambda stateDir: True)
    reactor = MemoryReactorClock()
    adoption = ChildAdoption(reactor, crashkeep.TAKE_WAIT)
    CrashAdoption(reactor, tmp_path, adoption).startService()
    held = adoption.pending("files")
    assert held is not None and not held.called
    [(path, factory, *_)] = reactor.unixClients
    assert path == str(tmp_path / "warden.sock")
    factory.clientConnectionFailed(None, Failure(ConnectionRefusedError()))
    assert held.called and adoption.pending("files") is None


class FakeHandle:
    def __init__(self, uid: int) -> None:
        self.uid = uid

    def getsockopt(self, level: int, name: int, size: int) -> bytes:
        import struct

        return struct.pack("3i", 1, self.uid, 0)


@pytest.mark.parametrize("uid", [0, 1])
def test_the_next_gateway_proves_itself_to_the_warden_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uid: int
) -> None:
    import os

    from twisted.internet.testing import StringTransport

    monkeypatch.setattr(crashkeep, "wardenWaits", lambda stateDir: True)
    reactor = MemoryReactorClock()
    adoption = ChildAdoption(reactor, crashkeep.TAKE_WAIT)
    CrashAdoption(reactor, tmp_path, adoption, b"c0ffee").startService()
    [(_, factory, *_)] = reactor.unixClients
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    mine = os.getuid() + uid  # uid 1: the socket is another user's
    transport.getHandle = lambda: FakeHandle(mine)  # type: ignore[attr-defined]
    protocol.makeConnection(transport)
    if uid:
        assert transport.value() == b"" and transport.disconnecting
    else:
        assert transport.value() == b"gateway c0ffee\n"
        assert adoption.reply is not None


def test_the_proof_starts_as_the_warden_asks_without_loading_its_program() -> None:
    from mcpgateway.ops import wardenrun

    assert crashkeep.PROOF == wardenrun.PROOF
    # The gateway names the warden's program by its path only.
    source = Path(crashkeep.__file__).read_text()
    assert "import wardenrun" not in source and "wardenrun import" not in source

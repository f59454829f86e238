"""The gateway removes the launchers' caches no entry wants any more: a
few seconds after start and twice a day after, in the thread pool, one pass at a
time, saying what it removed and what it could not."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import LogEvent, formatEvent

from mcpgateway.ops.cachepruning import FIRST_PASS, PRUNE_EVERY, CachePruning, prune
from mcpgateway.runtime.threads import runInline
from mcpgateway.sandbox import cachekeeping, installkeeping
from mcpgateway.sandbox.cachekeeping import IN_USE, REMOVING, ROUTE, Folder
from tests.fakes import capturedGatewayLogs

DAY = 86400.0


def made(state: Path, key: str, route: str, started: float) -> Path:
    folder = state / "caches" / key
    (folder / "npm").mkdir(parents=True)
    (folder / "npm" / "index.js").write_bytes(b"x" * 5000)
    (folder / ROUTE).write_text(route)
    (folder / IN_USE).touch()
    os.utime(folder / IN_USE, (started, started))
    return folder


class HandRun:
    """A thread runner the test runs by hand."""

    def __init__(self) -> None:
        self.waiting: list[tuple[Callable[..., Any], tuple[Any, ...], Deferred[Any]]] = []

    def __call__(self, f: Callable[..., Any], *args: Any) -> Deferred[Any]:
        done: Deferred[Any] = Deferred()
        self.waiting.append((f, args, done))
        return done

    def finish(self) -> None:
        f, args, done = self.waiting.pop(0)
        done.callback(f(*args))


def test_the_first_pass_runs_soon_after_start_then_twice_a_day(tmp_path: Path) -> None:
    now = 1_000 * DAY
    made(tmp_path, "memory-v1", "copy-memory", now - 2 * DAY)
    made(tmp_path, "memory-v2", "copy-memory", now - DAY)
    clock, run = Clock(), HandRun()
    service = CachePruning(str(tmp_path), clock, run, now=lambda: now)
    with capturedGatewayLogs() as events:
        service.startService()
        clock.advance(FIRST_PASS - 1)
        assert run.waiting == []
        clock.advance(1)
        assert len(run.waiting) == 1
        run.finish()
        assert sorted(os.listdir(tmp_path / "caches")) == ["memory-v2"]
        clock.advance(PRUNE_EVERY)
        assert len(run.waiting) == 1
    said = [formatEvent(event) for event in events]
    assert any(
        "removed the launcher caches" in line
        and "memory-v1" in line
        and "its entry changed since" in line
        for line in said
    ), said
    service.stopService()
    assert clock.getDelayedCalls() == []


def test_a_pass_running_still_is_not_doubled_and_stopping_waits_for_it(tmp_path: Path) -> None:
    clock, run = Clock(), HandRun()
    service = CachePruning(str(tmp_path), clock, run)
    service.startService()
    clock.advance(FIRST_PASS)
    assert service.run() is None
    assert len(run.waiting) == 1
    stopped = service.stopService()
    assert isinstance(stopped, Deferred) and not stopped.called
    run.finish()
    assert stopped.called


def test_a_folder_that_cannot_be_removed_is_said_and_the_others_go(
    tmp_path: Path, monkeypatch: Any
) -> None:
    now = 1_000 * DAY
    made(tmp_path, "a-v1", "copy-a", now - 40 * DAY)
    made(tmp_path, "b-v1", "copy-b", now - 40 * DAY)
    real = cachekeeping.remove

    def failing(folder: Folder) -> int | None:
        if folder.path.endswith("a-v1"):
            raise PermissionError(13, "Permission denied")
        return real(folder)

    monkeypatch.setattr(cachekeeping, "remove", failing)
    service = CachePruning(str(tmp_path), Clock(), runInline, now=lambda: now)
    with capturedGatewayLogs() as events:
        service.run()
    assert os.listdir(tmp_path / "caches") == ["a-v1"]
    said = [formatEvent(event) for event in events]
    assert any("b-v1" in line and "no child started on them for 30 days" in line for line in said)
    warned: list[LogEvent] = [e for e in events if "could not remove" in formatEvent(e)]
    assert len(warned) == 1 and "a-v1: Permission denied" in formatEvent(warned[0])


def test_what_a_stopped_removal_left_is_removed_at_the_next_pass(tmp_path: Path) -> None:
    away = made(tmp_path, f"{REMOVING}x-v1", "copy-x", 0)
    removed = prune(str(tmp_path), 1_000 * DAY)
    assert not away.exists() and removed.failed == [] and removed.folders == []


def test_a_state_directory_with_no_caches_is_no_work(tmp_path: Path) -> None:
    removed = prune(str(tmp_path), 1_000 * DAY)
    assert removed.folders == [] and removed.installs == [] and removed.failed == []


def test_an_install_every_entry_left_is_removed_and_said(tmp_path: Path) -> None:
    """server-memory pinned 1.0 then 2.0: the 1.0 install goes at the next
    pass, with one line; the install 2.0 runs from stays."""
    old = tmp_path / "npx" / "memory@1.0-abc"
    new = tmp_path / "npx" / "memory@2.0-def"
    for install in (old, new):
        (install / "node_modules").mkdir(parents=True)
        (install / "node_modules" / "index.js").write_bytes(b"x" * 7000)
    for fd in installkeeping.claimInstalls(str(tmp_path), [("npx", old.name)], "copy-memory"):
        os.close(fd)  # its child exited
    later = installkeeping.claimInstalls(str(tmp_path), [("npx", new.name)], "copy-memory")
    claim = tmp_path / "claims" / "npx" / old.name / "copy-memory" / IN_USE
    os.utime(claim, (1.0, 1.0))  # started before the 2.0 one
    service = CachePruning(str(tmp_path), Clock(), runInline)
    with capturedGatewayLogs() as events:
        service.run()
    assert sorted(os.listdir(tmp_path / "npx")) == [new.name]
    assert sorted(os.listdir(tmp_path / "claims" / "npx")) == [new.name]
    said = [formatEvent(event) for event in events]
    assert any(
        "removed the package install" in line and old.name in line and "runs a newer" in line
        for line in said
    ), said
    for fd in later:
        os.close(fd)

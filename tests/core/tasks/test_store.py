"""The task journal: a task is on the disk before its handle is returned,
its end too; a restart finds the finished tasks with their results and
fails the others, saying why; expired tasks are forgotten; a torn line is
skipped; the journal is rewritten with the live tasks only."""

from __future__ import annotations

import json
from pathlib import Path

from twisted.internet.task import Clock

from mcpgateway.core.tasks.keeping import CUT_BY_RESTART, TaskKeeping
from mcpgateway.core.tasks.manager import TaskManager
from mcpgateway.core.tasks.model import COMPLETED, FAILED, INPUT_REQUIRED, Task
from mcpgateway.core.tasks.store import JOURNAL_NAME, TaskStore


def task(taskId: str = "t1", createdAt: float = 1000.0, ttlMs: int = 60_000) -> Task:
    return Task(taskId, "weather", "", "p-alice", "forecast", createdAt, ttlMs, 500)


def store(tmp_path: Path, now: list[float], maxResultBytes: int = 1024) -> TaskStore:
    return TaskStore(tmp_path / JOURNAL_NAME, maxResultBytes, lambda: now[0])


def test_a_new_task_is_flushed_to_the_disk_before_create_returns(tmp_path: Path) -> None:
    now = [1000.0]
    kept = store(tmp_path, now)
    assert kept.create(task())
    assert kept.syncs == 1
    [line] = (tmp_path / JOURNAL_NAME).read_text().splitlines()
    assert json.loads(line)["taskId"] == "t1"
    assert oct((tmp_path / JOURNAL_NAME).stat().st_mode & 0o777) == "0o600"


def test_a_finished_task_and_its_result_outlive_a_restart(tmp_path: Path) -> None:
    now = [1000.0]
    first = store(tmp_path, now)
    made = task()
    first.create(made)
    made.status, made.result = COMPLETED, {"content": [{"type": "text", "text": "sunny"}]}
    first.update(made)
    assert first.syncs == 2  # the end is durable too
    second = store(tmp_path, now)
    assert second.load(CUT_BY_RESTART) == 1
    found = second.get("t1")
    assert found is not None and found.status == COMPLETED
    assert found.result == {"content": [{"type": "text", "text": "sunny"}]}


def test_a_task_cut_by_the_restart_is_failed_with_the_reason_never_run_again(
    tmp_path: Path,
) -> None:
    now = [1000.0]
    first = store(tmp_path, now)
    waiting = task("t2")
    first.create(task("t1"))
    first.create(waiting)
    waiting.status, waiting.inputRequests, waiting.requestState = INPUT_REQUIRED, {"k": {}}, "s"
    first.update(waiting)
    second = store(tmp_path, now)
    second.load(CUT_BY_RESTART)
    for taskId in ("t1", "t2"):
        found = second.get(taskId)
        assert found is not None and found.status == FAILED
        assert found.error == {"code": -32603, "message": CUT_BY_RESTART}
        assert found.requestState is None and found.inputRequests is None


def test_expired_tasks_are_forgotten_and_not_read_back(tmp_path: Path) -> None:
    now = [1000.0]
    kept = store(tmp_path, now)
    kept.create(task("short", ttlMs=1000))
    kept.create(task("long"))
    now[0] = 1001.0
    assert kept.get("short") is None
    assert kept.expire() == 0  # already forgotten by the look
    again = store(tmp_path, now)
    again.load(CUT_BY_RESTART)
    assert again.get("short") is None and again.get("long") is not None


def test_a_torn_line_is_skipped_and_the_journal_rewritten_with_live_tasks(tmp_path: Path) -> None:
    now = [1000.0]
    kept = store(tmp_path, now)
    kept.create(task("t1"))
    kept.create(task("t2"))
    kept.forget(task("t2"))
    with (tmp_path / JOURNAL_NAME).open("ab") as f:
        f.write(b'{"taskId": "t3", "sta')
    again = store(tmp_path, now)
    assert again.load(CUT_BY_RESTART) == 1
    lines = (tmp_path / JOURNAL_NAME).read_text().splitlines()
    assert [json.loads(line)["taskId"] for line in lines] == ["t1"]


def test_a_result_too_large_to_keep_is_served_but_not_kept_across_a_restart(
    tmp_path: Path,
) -> None:
    now = [1000.0]
    kept = store(tmp_path, now, maxResultBytes=64)
    made = task()
    kept.create(made)
    made.status, made.result = COMPLETED, {"content": [{"type": "text", "text": "x" * 200}]}
    kept.update(made)
    assert kept.get("t1") is made and made.result is not None
    assert "x" * 200 not in (tmp_path / JOURNAL_NAME).read_text()
    again = store(tmp_path, now)
    again.load(CUT_BY_RESTART)
    found = again.get("t1")
    assert found is not None and found.status == FAILED
    assert "larger than the gateway keeps" in str(found.statusMessage)


def test_an_unwritable_journal_keeps_the_task_in_memory(tmp_path: Path) -> None:
    now = [1000.0]
    kept = TaskStore(tmp_path / "missing" / JOURNAL_NAME, 1024, lambda: now[0])
    assert not kept.create(task())
    assert kept.get("t1") is not None


def test_the_service_loads_at_start_and_expires_once_a_minute(tmp_path: Path) -> None:
    now = [1000.0]
    first = store(tmp_path, now)
    first.create(task("t1", ttlMs=30_000))
    second = store(tmp_path, now)
    clock = Clock()
    service = TaskKeeping(TaskManager(second, clock), clock)
    service.startService()
    assert len(second) == 1
    now[0] = 1031.0
    clock.advance(60)
    assert len(second) == 0
    service.stopService()
    assert not clock.getDelayedCalls()
    assert service.manager.stopping == CUT_BY_RESTART

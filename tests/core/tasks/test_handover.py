"""The task journal across a restart's hand-over: the successor reads it
only once its predecessor has exited (tasks/* requests wait meanwhile), its
own tasks made before then are kept as they are while the predecessor's
unfinished ones are failed, and neither process rewrites the journal while
the other may append to it."""

from __future__ import annotations

from pathlib import Path

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.tasks.keeping import CUT_BY_RESTART, TaskKeeping
from mcpgateway.core.tasks.manager import TaskManager
from mcpgateway.core.tasks.model import COMPLETED, EXTENSION, FAILED, WORKING, Task
from mcpgateway.core.tasks.store import JOURNAL_NAME, TaskStore
from mcpgateway.protocol import jsonrpc

NOW = 1000.0


def task(taskId: str, status: str = WORKING) -> Task:
    return Task(taskId, "weather", "", "", "forecast", NOW, 60_000, 500, status=status)


def store(tmp_path: Path) -> TaskStore:
    return TaskStore(tmp_path / JOURNAL_NAME, now=lambda: NOW)


def get(taskId: str) -> Era2026Request:
    return Era2026Request(
        clientId=3,
        method="tasks/get",
        params={"taskId": taskId},
        capabilities={"extensions": {EXTENSION: {}}},
    )


def never(*_: object) -> Deferred[jsonrpc.Message]:
    raise AssertionError("nothing runs")


def test_the_successor_reads_the_journal_once_its_predecessor_exited(tmp_path: Path) -> None:
    predecessor = store(tmp_path)
    predecessor.create(task("old-running"))
    successor = TaskManager(store(tmp_path), Clock())
    gone: Deferred[None] = Deferred()
    service = TaskKeeping(successor, Clock(), gone)
    service.startService()
    waiting = successor.afterLoad(lambda: successor.serve("weather", get("old-running"), never))
    answers: list[jsonrpc.Message] = []
    waiting.addCallback(answers.append)
    assert answers == []  # held: the predecessor may still finish it

    finished = task("old-running", COMPLETED)
    finished.result = {"content": [{"type": "text", "text": "sunny"}]}
    predecessor.update(finished)  # the predecessor's call ended during its drain
    passed: list[object] = []
    gone.addCallback(passed.append)
    gone.callback(None)
    [answer] = answers
    assert answer["result"]["status"] == COMPLETED
    assert answer["result"]["result"]["content"][0]["text"] == "sunny"
    assert passed == [None]  # what the shared Deferred carries goes on
    service.stopService()


def test_the_successors_own_tasks_survive_its_late_load(tmp_path: Path) -> None:
    predecessor = store(tmp_path)
    predecessor.create(task("old-cut"))
    later = store(tmp_path)
    later.create(task("new-running"))  # made while the predecessor drained
    later.load(CUT_BY_RESTART)
    mine, theirs = later.get("new-running"), later.get("old-cut")
    assert mine is not None and mine.status == WORKING
    assert theirs is not None and theirs.status == FAILED
    assert theirs.statusMessage == CUT_BY_RESTART


def test_no_rewrite_before_the_load_nor_once_the_stop_began(tmp_path: Path) -> None:
    kept = store(tmp_path)
    assert not kept.mayCompact
    kept.load(CUT_BY_RESTART)
    assert kept.mayCompact
    service = TaskKeeping(TaskManager(kept, Clock()), Clock())
    service.startService()
    service.stopService()
    assert not kept.mayCompact
    for i in range(510):  # past the rewrite threshold: appended, never rewritten
        kept.create(task(f"t{i}"))
        kept.forget(task(f"t{i}"))
    lines = (tmp_path / JOURNAL_NAME).read_text().splitlines()
    assert len(lines) == 1020

"""The task journal across a restart's hand-over: the successor reads it
only once its predecessor has exited (tasks/* requests wait meanwhile, at
most a bounded time, after which a task not known yet is "not read yet,
ask again", never unknown), its own tasks made before then are kept as
they are while the predecessor's unfinished ones are failed, and neither
process rewrites the journal while the other may append to it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.sessions import Session
from mcpgateway.core.tasks.handshake import HandshakeTasks
from mcpgateway.core.tasks.keeping import CUT_BY_RESTART, TaskKeeping
from mcpgateway.core.tasks.manager import TaskManager
from mcpgateway.core.tasks.model import COMPLETED, FAILED, WORKING, Task
from mcpgateway.core.tasks.store import JOURNAL_NAME, TaskStore
from mcpgateway.core.taskterms import EXTENSION
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


def held(tmp_path: Path, wait: float = 30.0) -> tuple[TaskManager, Clock, Deferred[None]]:
    """A restart's successor whose predecessor has not exited yet, and
    whose predecessor made C{old-running}."""
    store(tmp_path).create(task("old-running"))
    clock = Clock()
    successor = TaskManager(store(tmp_path), clock)
    gone: Deferred[None] = Deferred()
    TaskKeeping(successor, clock, gone, wait=wait).startService()
    return successor, clock, gone


def test_a_request_held_past_the_wait_is_told_to_ask_again_not_unknown(tmp_path: Path) -> None:
    successor, clock, gone = held(tmp_path)
    assert successor.loading
    waiting = successor.afterLoad(lambda: successor.serve("weather", get("old-running"), never))
    answers: list[jsonrpc.Message] = []
    waiting.addCallback(answers.append)
    clock.advance(29)
    assert answers == []
    clock.advance(1)  # the predecessor is still there: answered all the same
    [answer] = answers
    assert answer["error"]["code"] == jsonrpc.INTERNAL_ERROR
    assert "has not read its tasks yet" in answer["error"]["message"]
    assert "unknown" not in answer["error"]["message"]
    gone.callback(None)  # the load after it: nothing answered twice
    assert not successor.loading
    assert successor.serve("weather", get("old-running"), never)["result"]["status"] == FAILED
    unknown = successor.serve("weather", get("nope"), never)
    assert unknown["error"]["code"] == jsonrpc.INVALID_PARAMS
    assert "unknown task 'nope'" in unknown["error"]["message"]


def test_a_shorter_wait_may_be_asked_and_a_cancelled_one_stops(tmp_path: Path) -> None:
    successor, clock, gone = held(tmp_path)
    short = successor.afterLoad(lambda: "answered", 2.0)
    gaveUp = successor.afterLoad(lambda: "never")
    gaveUp.cancel()
    gaveUp.addErrback(lambda _: None)
    assert len(clock.getDelayedCalls()) == 2  # the short wait's timer, and the expiry loop
    clock.advance(2)
    assert short.result == "answered"
    gone.callback(None)


def test_a_2025_task_request_before_the_load_waits_then_is_answered(tmp_path: Path) -> None:
    store(tmp_path).create(replace(task("old-2025"), session="s-1"))
    clock = Clock()
    successor = TaskManager(store(tmp_path), clock)
    gone: Deferred[None] = Deferred()
    TaskKeeping(successor, clock, gone, wait=10.0).startService()
    handshake = HandshakeTasks(successor, "weather")
    who = Session("s-1", "weather", "2025-11-25", {}, {}, NOW)
    asking = {"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"taskId": "old-2025"}}
    early = handshake.serve(who, asking, never)
    late: list[jsonrpc.Message] = []
    early.addCallback(late.append)
    clock.advance(10)
    [notYet] = late
    assert notYet["error"]["code"] == jsonrpc.INTERNAL_ERROR, notYet
    assert "ask again" in notYet["error"]["message"]
    gone.callback(None)
    again = handshake.serve(who, asking, never)
    again.addCallback(late.append)
    assert late[1]["result"]["status"] == FAILED, late

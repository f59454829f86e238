"""A task's watchers are told each change the manager keeps, at once:
its status (working, input_required, working again, its end, a cancel), a
new status message from its progress, and nothing once they stop; a task
still running when its time to live is over is told as failed, once, and
its watchers are dropped; a watcher that fails does not keep the others from
being told."""

from __future__ import annotations

from mcpgateway.core.tasks.manager import TTL_OVER, TaskTerms
from mcpgateway.core.tasks.model import Task
from mcpgateway.core.tasks.watching import LastShown, TaskWatchers, statusLook
from mcpgateway.protocol import jsonrpc
from tests.support.core.tasks.manager import complete, manager, startTask, tasksRequest


def statuses(seen: list[Task]) -> list[str]:
    return [task.status for task in seen]


def test_each_status_change_is_told_at_once_and_nothing_after_stop() -> None:
    made, child, clock = manager()
    taskId, running = startTask(made, child, clock)
    seen: list[tuple[str, str | None]] = []
    stop = made.watchers.watch(taskId, lambda task: seen.append((task.status, task.statusMessage)))
    asked = {"q": {"method": "elicitation/create"}}
    running.callback(
        jsonrpc.resultResponse(
            1, {"resultType": "input_required", "inputRequests": asked, "requestState": "S"}
        )
    )
    assert seen == [("input_required", None)]
    made.serve("weather", tasksRequest("tasks/update", taskId, inputResponses={"q": {}}), child.run)
    assert seen[-1] == ("working", None)
    retry, resumed = child.calls[-1]
    resumed.callback(complete(retry.clientId))
    assert seen[-1] == ("completed", None)
    stop()
    stop()  # twice is nothing
    assert not made.watchers.watching(taskId)


def test_a_new_status_message_is_told_a_repeated_one_is_not() -> None:
    made, child, clock = manager()
    taskId, _ = startTask(made, child, clock)
    seen: list[str | None] = []
    made.watchers.watch(taskId, lambda task: seen.append(task.statusMessage))
    sink = child.sinks[-1]
    progress = {"progressToken": "mcpgateway-task", "progress": 1, "total": 4}
    sink(jsonrpc.notification("notifications/progress", progress))
    sink(jsonrpc.notification("notifications/progress", progress))
    sink(jsonrpc.notification("notifications/progress", {**progress, "message": "half"}))
    assert seen == ["1 of 4", "half"]


def test_a_cancel_is_told_and_an_expired_task_is_told_its_end_then_drops_its_watchers() -> None:
    made, child, clock = manager(TaskTerms(ttl=60))
    first, _ = startTask(made, child, clock)
    second, _ = startTask(made, child, clock)
    seen: list[Task] = []
    made.watchers.watch(first, seen.append)
    made.watchers.watch(second, seen.append)
    made.serve("weather", tasksRequest("tasks/cancel", first), child.run)
    assert statuses(seen) == ["cancelled"]
    made.store._now = lambda: 1_800_000_000.0 + 61
    made.expire()
    assert len(made.watchers) == 0
    assert statuses(seen) == ["cancelled", "failed"]  # the running one's end, once
    assert seen[-1].taskId == second and seen[-1].statusMessage == TTL_OVER


def test_a_failing_watcher_is_logged_and_the_others_are_told() -> None:
    made, child, clock = manager()
    taskId, running = startTask(made, child, clock)
    seen: list[Task] = []

    def broken(task: Task) -> None:
        raise RuntimeError("boom")

    made.watchers.watch(taskId, broken)
    made.watchers.watch(taskId, seen.append)
    running.callback(complete(1))
    assert statuses(seen) == ["completed"]


def test_an_unwatched_task_costs_no_watcher() -> None:
    watchers = TaskWatchers()
    task = Task("t", "s", "", "", "tool", 1.0, 1000, 500)
    watchers.changed(task)
    assert len(watchers) == 0


def test_shown_says_fresh_only_when_what_is_shown_changed() -> None:
    shown = LastShown(statusLook)
    task = Task("t", "s", "", "", "tool", 1.0, 1000, 500)
    assert shown.fresh(task) and not shown.fresh(task)
    task.lastUpdatedAt = 5.0  # not what a notification is about
    assert not shown.fresh(task)
    task.status, task.inputRequests = "input_required", {"a": {}, "b": {}}
    assert shown.fresh(task)
    task.answered = {"a": {}}
    assert shown.fresh(task) and not shown.fresh(task)
    shown.forget("t")
    assert shown.fresh(task)

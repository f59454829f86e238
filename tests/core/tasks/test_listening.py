"""A listen stream that names taskIds (the Tasks extension): honoured for
the caller's own tasks only, each task's state as it stands right after the
acknowledgement, then one notifications/tasks per change (what tasks/get
would answer, without resultType), the last one its end (a task whose time
to live runs out while it runs included); a stream of tasks only ends once
they are all over; its lists and URIs are the pool's stream's; a restarted
gateway holds it until its journal is read."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from mcpgateway.core.era2026.types import Era2026Request, ListenFilter, ListenHandle
from mcpgateway.core.tasks.keeping import TaskKeeping
from mcpgateway.core.tasks.listening import ALL_OVER, openListen, ownedOn
from mcpgateway.core.tasks.manager import TTL_OVER, TaskManager, TaskTerms
from mcpgateway.core.tasks.model import Task
from mcpgateway.core.tasks.store import TaskStore
from mcpgateway.protocol import jsonrpc
from tests.support.core.tasks.manager import (
    WITH_TASKS,
    FakeChild,
    complete,
    manager,
    startTask,
    tasksRequest,
)


def listenRequest(principal: str = "p-alice", capabilities: Any = None) -> Era2026Request:
    return Era2026Request(
        clientId="listen-1",
        method="subscriptions/listen",
        params={},
        capabilities=WITH_TASKS if capabilities is None else capabilities,
        principal=principal,
    )


class FakeInner:
    """The pool's listen stream of the lists a listen asked for."""

    def __init__(self, wanted: ListenFilter) -> None:
        self.honoured = ListenFilter(tools=wanted.tools)
        self.wanted = wanted
        self.ended: Deferred[str] = Deferred()
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Opened:
    """One listen opened through L{openListen}: what it sent, how it ended."""

    def __init__(
        self,
        made: TaskManager,
        taskIds: tuple[str, ...],
        tools: bool = False,
        request: Era2026Request | None = None,
    ) -> None:
        self.sent: list[jsonrpc.Message] = []
        self.inners: list[FakeInner] = []
        self.ended: list[str] = []
        request = request if request is not None else listenRequest()
        wanted = ListenFilter(tools=tools, taskIds=taskIds)
        opening = openListen(
            made, request, wanted, self.sink, ownedOn(made, "weather", request), self.inner
        )
        self.handles: list[ListenHandle] = []
        opening.addCallback(self.handles.append)

    def sink(self, message: jsonrpc.Message) -> bool:
        self.sent.append(message)
        return True

    def inner(self, wanted: ListenFilter) -> Deferred[ListenHandle]:
        inner = FakeInner(wanted)
        self.inners.append(inner)
        return succeed(inner)

    @property
    def handle(self) -> ListenHandle:
        [handle] = self.handles
        if not self.ended:
            handle.ended.addCallback(self.ended.append)
        return handle

    def statuses(self) -> list[str]:
        return [m["params"]["status"] for m in self.sent if m["method"] == "notifications/tasks"]


def test_working_then_completed_each_the_task_as_tasks_get_shows_it() -> None:
    made, child, clock = manager()
    taskId, running = startTask(made, child, clock)
    opened = Opened(made, (taskId,))
    assert opened.handle.honoured == ListenFilter(taskIds=(taskId,))
    assert opened.sent == []  # nothing before the acknowledgement goes out
    clock.advance(0)
    running.callback(complete(1))
    assert opened.statuses() == ["working", "completed"]
    last = opened.sent[-1]
    got = made.serve("weather", tasksRequest("tasks/get", taskId), child.run)["result"]
    assert last == {
        "jsonrpc": "2.0",
        "method": "notifications/tasks",
        "params": {k: v for k, v in got.items() if k != "resultType"},
    }
    assert last["params"]["result"]["content"][0]["text"] == "sunny"
    assert opened.ended == [ALL_OVER]
    assert not made.watchers.watching(taskId)


def test_another_principals_task_an_unknown_id_and_no_extension_are_not_honoured() -> None:
    made, child, clock = manager()
    taskId, _ = startTask(made, child, clock)
    bob = Opened(made, (taskId, "nope"), request=listenRequest("p-bob"))
    assert bob.handle.honoured.taskIds == ()
    plain = Opened(made, (taskId,), request=listenRequest(capabilities={}))
    assert plain.handle.honoured.taskIds == ()
    clock.advance(0)
    assert bob.sent == [] and plain.sent == []
    assert bob.ended == [ALL_OVER] and plain.ended == [ALL_OVER]


def test_a_question_is_told_with_its_input_requests_and_answers_shrink_it() -> None:
    made, child, clock = manager()
    taskId, running = startTask(made, child, clock)
    opened = Opened(made, (taskId,))
    clock.advance(0)
    asked = {"a": {"method": "elicitation/create"}, "b": {"method": "elicitation/create"}}
    running.callback(
        jsonrpc.resultResponse(
            1, {"resultType": "input_required", "inputRequests": asked, "requestState": "S"}
        )
    )
    assert opened.sent[-1]["params"]["inputRequests"] == asked
    made.serve("weather", tasksRequest("tasks/update", taskId, inputResponses={"a": {}}), child.run)
    assert list(opened.sent[-1]["params"]["inputRequests"]) == ["b"]
    assert opened.statuses() == ["working", "input_required", "input_required"]
    assert "requestState" not in opened.sent[-1]["params"]


def test_a_task_over_already_is_told_once_and_the_stream_ends() -> None:
    made, child, clock = manager()
    taskId, running = startTask(made, child, clock)
    running.callback(complete(1))
    opened = Opened(made, (taskId,))
    assert opened.handle.honoured.taskIds == (taskId,) and opened.ended == []
    clock.advance(0)
    assert opened.statuses() == ["completed"]
    assert opened.ended == [ALL_OVER]


def test_a_change_before_the_first_look_is_sent_once() -> None:
    made, child, clock = manager()
    taskId, running = startTask(made, child, clock)
    opened = Opened(made, (taskId,))
    assert opened.handle.honoured.taskIds == (taskId,)
    running.callback(complete(1))
    clock.advance(0)
    assert opened.statuses() == ["completed"]


def test_lists_go_to_the_pools_stream_which_ends_it_and_is_closed_with_it() -> None:
    made, child, clock = manager()
    taskId, running = startTask(made, child, clock)
    opened = Opened(made, (taskId,), tools=True)
    [inner] = opened.inners
    assert inner.wanted == ListenFilter(tools=True)
    assert opened.handle.honoured == ListenFilter(tools=True, taskIds=(taskId,))
    clock.advance(0)
    running.callback(complete(1))
    assert opened.ended == []  # it carries list changes still
    inner.ended.callback("server removed")
    assert opened.ended == ["server removed"]

    second, _ = startTask(made, child, clock)
    again = Opened(made, (second,), tools=True)
    again.handle.close()
    assert again.inners[0].closed and not made.watchers.watching(second)


def test_a_client_gone_stops_the_watching_and_nothing_is_sent() -> None:
    made, child, clock = manager()
    taskId, running = startTask(made, child, clock)
    opened = Opened(made, (taskId,))
    opened.handle.close()
    opened.handle.close()
    clock.advance(0)
    running.callback(complete(1))
    assert opened.sent == [] and not made.watchers.watching(taskId)
    assert opened.inners == []  # a stream of tasks only needs no pool stream


def test_a_restarted_gateway_holds_the_listen_until_its_journal_is_read() -> None:
    made, child, clock = manager()
    taskId, running = startTask(made, child, clock)
    running.callback(complete(1))
    made.holdUntilLoaded(30)
    opened = Opened(made, (taskId,))
    assert opened.handles == []
    made.loaded()
    assert opened.handle.honoured.taskIds == (taskId,)
    clock.advance(0)
    assert opened.statuses() == ["completed"]


def test_an_archived_task_is_honoured_once_it_is_over() -> None:
    made, _, clock = manager()
    kept = Task("r2.x", "weather", "", "p-alice", "forecast", 1.0, 3_600_000, 500, "completed")
    kept.result = {"content": []}
    running = Task("r2.y", "weather", "", "p-alice", "forecast", 1.0, 3_600_000, 500)

    class Archive:
        def find(self, taskId: str, server: str, scope: str, principal: str) -> Task | None:
            return {"r2.x": kept, "r2.y": running}.get(taskId)

    made.archive = Archive()  # type: ignore[assignment]
    opened = Opened(made, ("r2.x", "r2.y"))
    assert opened.handle.honoured.taskIds == ("r2.x",)
    clock.advance(0)
    assert opened.statuses() == ["completed"] and opened.ended == [ALL_OVER]


def test_a_task_whose_time_to_live_runs_out_is_told_failed_and_the_stream_ends() -> None:
    clock = Clock()
    made = TaskManager(
        TaskStore(None, now=lambda: 1_800_000_000.0 + clock.seconds()), clock, TaskTerms(ttl=120)
    )
    child = FakeChild()
    TaskKeeping(made, clock).startService()  # looks for expired tasks once a minute
    taskId, _ = startTask(made, child, clock)
    opened = Opened(made, (taskId,))
    assert opened.handle.honoured.taskIds == (taskId,)
    clock.advance(0)
    assert opened.statuses() == ["working"]
    clock.advance(100)
    assert opened.ended == []  # its time is not over yet
    clock.advance(60)  # the look at 120 s finds it over
    assert opened.statuses() == ["working", "failed"]
    last = opened.sent[-1]["params"]
    assert last["statusMessage"] == TTL_OVER
    assert last["error"] == {"code": jsonrpc.INTERNAL_ERROR, "message": TTL_OVER}
    assert opened.ended == [ALL_OVER]
    assert child.cancelled == [child.calls[0][0]]  # its call is cancelled with it
    assert not made.watchers.watching(taskId) and made.store.get(taskId) is None

"""The Tasks extension in front of a child, on a fake child and a Clock: a
call that takes time becomes a task, a quick one is answered as it is;
tasks/get inlines the result or error; a child's question makes the task
input_required until tasks/update answers all of it; tasks/cancel cancels
the child's call; a task still running when its time to live runs out, or
whose call is cancelled from elsewhere, ends as failed, saying why; only
the task's own principal, server and route see it;
without the extension, tasks/* and required tools are -32021."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.tasks.manager import (
    CALL_CANCELLED,
    TTL_OVER,
    TaskManager,
    TaskTerms,
    withTasksExtension,
)
from mcpgateway.core.taskterms import EXTENSION
from mcpgateway.protocol import jsonrpc
from tests.support.core.tasks.manager import (
    FakeChild,
    answered,
    call,
    complete,
    manager,
    startTask,
    tasksRequest,
)


def get(made: TaskManager, child: FakeChild, taskId: str, **kw: Any) -> dict[str, Any]:
    answer = made.serve("weather", tasksRequest("tasks/get", taskId, **kw), child.run)
    return answer.get("result") or answer["error"]  # type: ignore[no-any-return]


def streamer() -> tuple[list[jsonrpc.Message], Callable[[jsonrpc.Message], bool]]:
    """A client stream that takes every message; what it took."""
    streamed: list[jsonrpc.Message] = []

    def stream(message: jsonrpc.Message) -> bool:
        streamed.append(message)
        return True

    return streamed, stream


def test_a_quick_call_is_answered_as_it_is() -> None:
    made, child, clock = manager()
    box = answered(made.call("weather", call(), lambda _: True, child.run, child.taskSupport))
    child.calls[0][1].callback(complete(1))
    assert box == [complete(1)]
    assert not clock.getDelayedCalls() and len(made.store) == 0


def test_a_call_that_takes_time_becomes_a_task_whose_result_is_inlined() -> None:
    made, child, clock = manager()
    taskId, running = startTask(made, child, clock)
    handle = made.store.get(taskId)
    assert handle is not None
    shown = get(made, child, taskId)
    assert shown["status"] == "working" and "result" not in shown
    assert shown["pollIntervalMs"] == 500 and shown["ttlMs"] == 3_600_000
    running.callback(complete(1))
    shown = get(made, child, taskId)
    assert shown["resultType"] == "complete" and shown["status"] == "completed"
    assert shown["result"] == {
        "resultType": "complete",
        "content": [{"type": "text", "text": "sunny"}],
        "_meta": {"kept": 1},
    }
    assert "pollIntervalMs" not in shown


def test_the_handle_is_flat_with_iso_times_and_no_result() -> None:
    made, child, clock = manager()
    box = answered(made.call("weather", call(), lambda _: True, child.run, child.taskSupport))
    clock.advance(0.5)
    result = box[0]["result"]
    assert set(result) == {
        "resultType",
        "taskId",
        "status",
        "createdAt",
        "lastUpdatedAt",
        "ttlMs",
        "pollIntervalMs",
    }
    assert result["createdAt"] == "2027-01-15T08:00:00.000Z"


def test_an_error_answer_fails_the_task_with_it() -> None:
    made, child, clock = manager()
    taskId, running = startTask(made, child, clock)
    running.callback(jsonrpc.errorResponse(1, -32603, "boom"))
    shown = get(made, child, taskId)
    assert shown["status"] == "failed"
    assert shown["error"] == {"code": -32603, "message": "boom"}
    assert "result" not in shown


def test_a_question_makes_it_input_required_until_every_answer_is_in() -> None:
    made, child, clock = manager()
    taskId, running = startTask(made, child, clock)
    asked = {"first": {"method": "elicitation/create"}, "second": {"method": "elicitation/create"}}
    running.callback(
        jsonrpc.resultResponse(
            1, {"resultType": "input_required", "inputRequests": asked, "requestState": "S1"}
        )
    )
    shown = get(made, child, taskId)
    assert shown["status"] == "input_required" and shown["inputRequests"] == asked
    assert "requestState" not in shown
    ack = made.serve(
        "weather",
        tasksRequest("tasks/update", taskId, inputResponses={"first": {"action": "accept"}}),
        child.run,
    )
    assert ack["result"] == {"resultType": "complete"}
    shown = get(made, child, taskId)
    assert shown["status"] == "input_required" and list(shown["inputRequests"]) == ["second"]
    assert len(child.calls) == 1
    made.serve(
        "weather",
        tasksRequest("tasks/update", taskId, inputResponses={"second": {"action": "decline"}}),
        child.run,
    )
    retry, resumed = child.calls[-1]
    assert retry.requestState == "S1"
    assert retry.inputResponses == {"first": {"action": "accept"}, "second": {"action": "decline"}}
    assert retry.params == {
        "name": "forecast",
        "arguments": {},
        "_meta": {"progressToken": "mcpgateway-task"},
    }
    assert get(made, child, taskId)["status"] == "working"
    resumed.callback(complete(retry.clientId, "done"))
    assert get(made, child, taskId)["result"]["content"][0]["text"] == "done"


def test_a_quick_question_is_the_calls_own_round_not_a_task() -> None:
    made, child, _clock = manager()
    box = answered(made.call("weather", call(), lambda _: True, child.run, child.taskSupport))
    round1 = jsonrpc.resultResponse(1, {"resultType": "input_required", "inputRequests": {}})
    child.calls[0][1].callback(round1)
    assert box == [round1] and len(made.store) == 0


def test_cancel_cancels_the_childs_call_and_is_an_empty_ack_even_when_over() -> None:
    made, child, clock = manager()
    taskId, _ = startTask(made, child, clock)
    for _ in range(2):
        ack = made.serve("weather", tasksRequest("tasks/cancel", taskId), child.run)
        assert ack["result"] == {"resultType": "complete"}
    assert [request.params["name"] for request in child.cancelled] == ["forecast"]
    assert get(made, child, taskId)["status"] == "cancelled"


def test_another_principal_or_route_or_server_gets_the_unknown_task_error() -> None:
    made, child, clock = manager()
    taskId, _ = startTask(made, child, clock)
    assert get(made, child, taskId, principal="p-bob")["code"] == jsonrpc.INVALID_PARAMS
    other = made.serve("news", tasksRequest("tasks/get", taskId), child.run)
    assert other["error"]["code"] == jsonrpc.INVALID_PARAMS
    assert get(made, child, "nope")["code"] == jsonrpc.INVALID_PARAMS


def test_without_the_extension_tasks_methods_and_required_tools_are_refused() -> None:
    made, child, clock = manager()
    taskId, _ = startTask(made, child, clock)
    bare = Era2026Request(clientId=3, method="tasks/get", params={"taskId": taskId})
    error = made.serve("weather", bare, child.run)["error"]
    assert error["code"] == jsonrpc.MISSING_CAPABILITY
    assert error["data"] == {"requiredCapabilities": {"extensions": {EXTENSION: {}}}}
    child.support["deploy"] = "required"
    box = answered(
        made.call("weather", call("deploy", {}), lambda _: True, child.run, child.taskSupport)
    )
    assert box[0]["error"]["code"] == jsonrpc.MISSING_CAPABILITY
    plain = answered(
        made.call("weather", call("forecast", {}), lambda _: True, child.run, child.taskSupport)
    )
    clock.advance(5)
    assert plain == []  # answered when it ends: no task without the extension
    child.calls[-1][1].callback(complete(1))
    assert plain == [complete(1)]


def test_a_forbidden_tool_and_a_full_store_are_answered_when_they_end() -> None:
    made, child, clock = manager(TaskTerms(maxTasks=1))
    child.support["greet"] = "forbidden"
    box = answered(
        made.call("weather", call("greet"), lambda _: True, child.run, child.taskSupport)
    )
    clock.advance(5)
    assert box == []
    startTask(made, child, clock)
    full = answered(made.call("weather", call(), lambda _: True, child.run, child.taskSupport))
    clock.advance(5)
    assert full == [] and len(made.store) == 1


def test_progress_before_the_handle_streams_and_after_it_is_the_status_message() -> None:
    made, child, clock = manager()
    streamed, stream = streamer()
    asked = call()
    asked.params["_meta"] = {"progressToken": "p-7"}
    made.call("weather", asked, stream, child.run, child.taskSupport)
    assert child.calls[0][0].params["_meta"] == {"progressToken": "p-7"}
    sink = child.sinks[0]
    note = {"method": "notifications/progress", "params": {"progress": 1, "message": "half"}}
    assert sink(note) is True and streamed == [note]
    clock.advance(0.5)
    assert sink(note) is False
    [task] = list(made.store)
    assert task.statusMessage == "half"


def test_without_a_token_of_its_own_the_client_gets_no_progress_but_the_task_does() -> None:
    made, child, clock = manager()
    streamed, stream = streamer()
    made.call("weather", call(), stream, child.run, child.taskSupport)
    assert child.calls[0][0].params["_meta"] == {"progressToken": "mcpgateway-task"}
    sink = child.sinks[0]
    assert sink({"method": "notifications/progress", "params": {"progress": 1}}) is False
    assert streamed == []
    clock.advance(0.5)
    sink({"method": "notifications/progress", "params": {"progress": 2, "total": 5}})
    [task] = list(made.store)
    assert task.statusMessage == "2 of 5"
    sink({"method": "notifications/progress", "params": {"progress": 3.5}})
    assert task.statusMessage == "3.5 done"


def test_a_client_gone_before_the_handle_cancels_the_call() -> None:
    made, child, clock = manager()
    pending = made.call("weather", call(), lambda _: True, child.run, child.taskSupport)
    answered(pending)
    pending.cancel()
    assert len(child.cancelled) == 1
    assert not clock.getDelayedCalls()  # no task is made for nobody


def test_discover_says_the_extension_is_served() -> None:
    response = jsonrpc.resultResponse(1, {"capabilities": {"tools": {}}})
    assert withTasksExtension(response)["result"]["capabilities"] == {
        "tools": {},
        "extensions": {EXTENSION: {}},
    }


def test_a_call_the_gateways_stop_cuts_fails_its_task_saying_so() -> None:
    made, child, clock = manager()
    cut, running = startTask(made, child, clock)
    finished, done = startTask(made, child, clock)
    done.callback(jsonrpc.resultResponse(1, {"content": []}))
    made.stopping = "the gateway stopped"
    running.callback(jsonrpc.errorResponse(1, -32000, "the gateway is shutting down"))
    shown = get(made, child, cut)
    assert shown["status"] == "failed"
    assert shown["error"] == {"code": jsonrpc.INTERNAL_ERROR, "message": "the gateway stopped"}
    assert get(made, child, finished)["status"] == "completed"


def test_a_task_is_untimed_and_its_time_to_live_cancels_its_call() -> None:
    made, child, clock = manager(TaskTerms(ttl=60))
    taskId, running = startTask(made, child, clock)
    assert child.calls[0][0].untimed
    made.store._now = lambda: 1_800_000_000.0 + 61
    assert made.expire() == 1
    assert child.cancelled == [child.calls[0][0]]
    assert made.store.get(taskId) is None
    assert running.called


def test_a_running_task_looked_up_past_its_time_to_live_is_ended_before_it_is_forgotten() -> None:
    made, child, clock = manager(TaskTerms(ttl=60, maxPerPrincipal=1))
    taskId, running = startTask(made, child, clock)
    seen: list[str] = []
    made.watchers.watch(taskId, lambda task: seen.append(f"{task.status}: {task.statusMessage}"))
    made.store._now = lambda: 1_800_000_000.0 + 61
    assert get(made, child, taskId)["code"] == jsonrpc.INVALID_PARAMS  # forgotten by the look
    assert seen == [f"failed: {TTL_OVER}"]
    assert child.cancelled == [child.calls[0][0]] and running.called
    assert len(made.watchers) == 0 and made.expire() == 0
    assert made.hasTaskCapacity("p-alice")  # it no longer counts as unfinished


def test_a_call_cancelled_by_another_than_the_manager_fails_its_task() -> None:
    made, child, clock = manager(TaskTerms(maxPerPrincipal=1))
    taskId, running = startTask(made, child, clock)
    seen: list[str] = []
    made.watchers.watch(taskId, lambda task: seen.append(task.status))
    running.cancel()  # the session that made it ended, or its server stopped
    shown = get(made, child, taskId)
    assert shown["status"] == "failed" and shown["statusMessage"] == CALL_CANCELLED
    assert shown["error"] == {"code": jsonrpc.INTERNAL_ERROR, "message": CALL_CANCELLED}
    assert seen == ["failed"]  # a watcher hears its end (a listen then stops)
    assert made.hasTaskCapacity("p-alice")


def test_a_principals_cap_counts_its_unfinished_tasks_only() -> None:
    made, child, clock = manager(TaskTerms(maxPerPrincipal=1))
    _, running = startTask(made, child, clock)
    capped = answered(made.call("weather", call(), lambda _: True, child.run, child.taskSupport))
    clock.advance(5)
    assert capped == []  # alice has one running: this call is answered when it ends
    other = call(principal="p-bob")
    assert answered(made.call("weather", other, lambda _: True, child.run, child.taskSupport)) == []
    clock.advance(0.5)
    assert len(made.store) == 2  # bob's became a task
    running.callback(complete(1))
    startTask(made, child, clock)  # alice's finished one leaves room
    assert len(made.store) == 3

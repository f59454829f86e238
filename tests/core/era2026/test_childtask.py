"""A 2026 call that runs as the child's own task: the task-augmented call,
the child's C{tasks/result} followed to the call's answer, the child's
tagged question as the call's input round, its status as the call's
progress, and a cancel that reaches the child's task."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from twisted.internet.defer import CancelledError, Deferred

from mcpgateway.core.era2026.childtask import keepsTasks
from mcpgateway.core.era2026.mrtr import COALESCE
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.router import Router
from mcpgateway.core.taskterms import EXTENSION, RELATED_TASK
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeSession, RecordingSink
from tests.support.core.era2026.mrtr import ACCEPT, ALL_CAPS, ELICIT, TIMEOUT, BridgeCase, ok

Message = dict[str, Any]
TASK_CAPS = {**ALL_CAPS, "extensions": {EXTENSION: {}}}
CHILD_TASKS: dict[str, Any] = {
    "capabilities": {"tools": {}, "tasks": {"requests": {"tools": {"call": {}}}}}
}
REASON = "client disconnected"
REPORT = {"content": [{"type": "text", "text": "report"}]}


def created(taskId: str = "t-1", status: str = "working") -> dict[str, Any]:
    return {"task": {"taskId": taskId, "status": status, "createdAt": "2026-11-25T00:00:00Z"}}


class ChildTaskCase(BridgeCase):
    def start(
        self, clientId: Any = 7, token: Any = 7, untimed: bool = False
    ) -> tuple[Deferred[Message], RecordingSink, Message]:
        """A call that runs as the child's task; the child's view of it."""
        sink = RecordingSink()
        request = replace(
            self.request(clientId, token=token, caps=TASK_CAPS), childTask=True, untimed=untimed
        )
        d = self.bridge.call(self.router, request, sink)
        [call] = self.take()
        return d, sink, call

    def made(self, call: Message, taskId: str = "t-1") -> Message:
        """The child makes its task; the gateway's C{tasks/result} for it."""
        self.router.childMessage(ok(call["id"], created(taskId)))
        [fetch] = self.take()
        return fetch


class FollowingTests(ChildTaskCase):
    def test_the_call_is_task_augmented_and_its_result_fetched(self) -> None:
        d, _, call = self.start()
        self.assertEqual(call["method"], "tools/call")
        self.assertEqual(call["params"]["task"], {})
        self.assertEqual(call["params"]["name"], "book")
        fetch = self.made(call)
        self.assertEqual(fetch["method"], "tasks/result")
        self.assertEqual(fetch["params"], {"taskId": "t-1"})
        self.assertNoResult(d)
        tagged = {**REPORT, "_meta": {RELATED_TASK: {"taskId": "t-1"}, "other": 1}}
        self.router.childMessage(ok(fetch["id"], tagged))
        answer = self.successResultOf(d)
        self.assertEqual(answer, ok(7, {**REPORT, "_meta": {"other": 1}}))
        fanout = self.router.fanout
        assert isinstance(fanout, SharedFanout)
        self.assertEqual(len(fanout.tasks), 0)  # forgotten with the call
        self.assertEqual(self.router.inFlight, 0)

    def test_a_child_that_answers_without_a_task_is_answered_as_is(self) -> None:
        d, _, call = self.start()
        self.router.childMessage(ok(call["id"], REPORT))
        self.assertEqual(self.successResultOf(d), ok(7, REPORT))
        self.assertEqual(self.take(), [])

    def test_an_error_of_the_tasks_result_is_the_calls(self) -> None:
        d, _, call = self.start()
        fetch = self.made(call)
        self.router.childMessage(jsonrpc.errorResponse(fetch["id"], -32603, "it broke"))
        self.assertEqual(self.successResultOf(d)["error"]["message"], "it broke")

    def test_the_tasks_result_of_an_untimed_call_has_no_timeout(self) -> None:
        d, _, call = self.start(untimed=True)
        fetch = self.made(call)
        self.clock.advance(TIMEOUT * 3)
        self.assertNoResult(d)
        self.router.childMessage(ok(fetch["id"], REPORT))
        self.assertEqual(self.successResultOf(d), ok(7, REPORT))

    def test_a_timed_call_times_out_on_its_tasks_result(self) -> None:
        d, _, call = self.start()
        self.made(call)
        self.clock.advance(TIMEOUT + 1)
        self.assertEqual(self.successResultOf(d)["error"]["code"], jsonrpc.REQUEST_TIMEOUT)


class QuestionTests(ChildTaskCase):
    def test_the_tasks_question_is_the_calls_round_even_with_a_session_attached(self) -> None:
        """A question tagged with the call's task is the call's, proven by
        the task id, however many clients use the child."""
        other = FakeSession("s-other")
        self.router.attach(other)
        d1, _, call = self.start()
        fetch = self.made(call)
        self.router.childMessage(
            jsonrpc.request(
                5, "elicitation/create", {**ELICIT, "_meta": {RELATED_TASK: {"taskId": "t-1"}}}
            )
        )
        self.clock.advance(COALESCE)
        response = self.successResultOf(d1)["result"]
        self.assertEqual(response["resultType"], "input_required")
        [key] = response["inputRequests"]
        self.assertEqual(other.delivered, [])
        self.assertEqual(self.take(), [])  # not refused to the child
        d2 = self.bridge.call(
            self.router,
            replace(
                self.request(8, caps=TASK_CAPS),
                requestState=response["requestState"],
                inputResponses={key: ACCEPT},
            ),
            RecordingSink(),
        )
        [answered] = self.take()
        self.assertEqual(answered, ok(5, {k: v for k, v in ACCEPT.items()}))
        self.router.childMessage(ok(fetch["id"], REPORT))
        self.assertEqual(self.successResultOf(d2), ok(8, REPORT))

    def test_the_childs_task_status_is_the_calls_progress(self) -> None:
        d, sink, call = self.start()
        self.made(call)
        for status, text in [("working", "Gathering sources"), ("working", "Analyzing")]:
            self.router.childMessage(
                jsonrpc.notification(
                    "notifications/tasks/status",
                    {"taskId": "t-1", "status": status, "statusMessage": text},
                )
            )
        self.router.childMessage(
            jsonrpc.notification(
                "notifications/tasks/status", {"taskId": "t-1", "status": "completed"}
            )
        )
        self.assertEqual(
            [(m["params"]["progress"], m["params"]["message"]) for m in sink.messages],
            [(1, "Gathering sources"), (2, "Analyzing")],
        )
        self.assertEqual({m["params"]["progressToken"] for m in sink.messages}, {7})
        self.assertNoResult(d)


class CancelTests(ChildTaskCase):
    def test_a_disconnect_cancels_the_request_and_the_childs_task(self) -> None:
        d, _, call = self.start()
        fetch = self.made(call)
        d.cancel()
        self.failureResultOf(d, CancelledError)
        sent = self.take()
        self.assertEqual(
            [(m["method"], m.get("params")) for m in sent],
            [
                ("notifications/cancelled", {"requestId": fetch["id"], "reason": REASON}),
                ("tasks/cancel", {"taskId": "t-1"}),
            ],
        )
        self.router.childMessage(ok(sent[1]["id"], {"taskId": "t-1", "status": "cancelled"}))
        fanout = self.router.fanout
        assert isinstance(fanout, SharedFanout)
        self.assertEqual(len(fanout.tasks), 0)

    def test_a_cancel_before_the_task_is_made_cancels_the_call(self) -> None:
        d, _, call = self.start()
        d.cancel()
        self.failureResultOf(d, CancelledError)
        [cancelled] = self.take()
        self.assertEqual(cancelled["method"], "notifications/cancelled")
        self.assertEqual(cancelled["params"]["requestId"], call["id"])

    def test_a_finished_task_is_not_cancelled(self) -> None:
        d, _, call = self.start()
        fetch = self.made(call)
        self.router.childMessage(ok(fetch["id"], REPORT))
        self.successResultOf(d)
        d.cancel()
        self.assertEqual(self.take(), [])


class KeepsTasksTests(BridgeCase):
    def router_(self, support: str | None) -> Router:
        if support is not None:
            self.router.toolTasks["book"] = support
        return self.router

    def test_when_every_condition_holds(self) -> None:
        request = self.request(1, caps=TASK_CAPS)
        self.assertTrue(keepsTasks(request, CHILD_TASKS, self.router_("required")))
        self.assertTrue(keepsTasks(request, CHILD_TASKS, self.router_("optional")))

    def test_not_otherwise(self) -> None:
        withTasks = self.request(1, caps=TASK_CAPS)
        self.assertFalse(keepsTasks(self.request(1), CHILD_TASKS, self.router_("required")))
        self.assertFalse(keepsTasks(withTasks, CHILD_TASKS, self.router_("forbidden")))
        self.router.toolTasks.clear()
        self.assertFalse(keepsTasks(withTasks, CHILD_TASKS, self.router_(None)))
        self.assertFalse(keepsTasks(withTasks, {"capabilities": {}}, self.router_("required")))
        prompt = self.request(1, caps=TASK_CAPS, method="prompts/get")
        self.assertFalse(keepsTasks(prompt, CHILD_TASKS, self.router_("required")))

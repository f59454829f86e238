"""MCP tasks on a child several sessions share: each session sees its own only.

A child's task ids are one space for all the sessions of a shared child: the
fanout remembers whose each task is (L{mcpgateway.core.fanout.TaskOwners})
and never lets another session reach it. A child of one session passes
everything unchanged.
"""

from __future__ import annotations

from typing import Any

from mcpgateway.core.fanout import TASK_NOT_FOUND, SharedFanout, TaskOwners
from mcpgateway.core.taskterms import RELATED_TASK
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeSession, RecordingSink
from tests.support.core.router import Message, RouterCase, note, ok, req

TASKED = {"name": "simulate-research-query", "arguments": {}, "task": {"ttl": 60000}}


def task(taskId: str, status: str = "working") -> dict[str, Any]:
    return {
        "taskId": taskId,
        "status": status,
        "createdAt": "2026-01-01T00:00:00Z",
        "lastUpdatedAt": "2026-01-01T00:00:00Z",
        "ttl": 60000,
    }


def notFound(requestId: Any) -> Message:
    return jsonrpc.errorResponse(requestId, jsonrpc.INVALID_PARAMS, TASK_NOT_FOUND)


def ofTask(message: Message, taskId: Any) -> Message:
    """C{message} naming the task C{taskId} (C{_meta} related-task)."""
    params = message.get("params") or {}
    meta = {**params.get("_meta", {}), RELATED_TASK: {"taskId": taskId}}
    return {**message, "params": {**params, "_meta": meta}}


class SharedTaskCase(RouterCase):
    """Two sessions, C{a} and C{b}, on one shared child."""

    def setUp(self) -> None:
        super().setUp()
        self.a, self.b = self.session("a"), self.session("b")

    @property
    def fanout(self) -> SharedFanout:
        fanout = self.router.fanout
        assert isinstance(fanout, SharedFanout)
        return fanout

    def create(self, session: FakeSession, taskId: str, clientId: Any = 1) -> None:
        """C{session} makes a task; the child names it C{taskId}."""
        d = self.router.request(session, req(clientId, "tools/call", TASKED), None)
        [out] = self.take()
        self.assertEqual(out["params"], TASKED)
        self.router.childMessage(ok(out["id"], {"task": task(taskId)}))
        self.assertEqual(self.successResultOf(d), ok(clientId, {"task": task(taskId)}))

    def ask(self, session: FakeSession, method: str, params: dict[str, Any]) -> Message:
        """C{session}'s request, answered by the gateway itself."""
        d = self.router.request(session, req(7, method, params), None)
        self.assertEqual(self.take(), [], f"{method} reached the child")
        return self.successResultOf(d)

    def relay(
        self, session: FakeSession, method: str, params: dict[str, Any], answer: Message
    ) -> Message:
        """C{session}'s request, passed to the child, which answers C{answer}
        (its C{id} replaced by the child-side one)."""
        d = self.router.request(session, req(8, method, params), None)
        [out] = self.take()
        self.assertEqual((out["method"], out.get("params")), (method, params))
        self.router.childMessage({**answer, "id": out["id"]})
        return self.successResultOf(d)


class ForeignTaskTests(SharedTaskCase):
    def test_another_sessions_task_is_not_found_and_never_reaches_the_child(self) -> None:
        self.create(self.a, "t-a")
        for method in ("tasks/get", "tasks/result", "tasks/cancel"):
            self.assertEqual(self.ask(self.b, method, {"taskId": "t-a"}), notFound(7))
        # The same answer for an id nobody has: nothing tells B that t-a exists.
        self.assertEqual(self.ask(self.b, "tasks/get", {"taskId": "t-zz"}), notFound(7))
        self.assertEqual(self.ask(self.b, "tasks/get", {"taskId": 3}), notFound(7))
        self.assertEqual(self.ask(self.b, "tasks/get", {}), notFound(7))
        # Its own session's goes to the child.
        answer = self.relay(self.a, "tasks/get", {"taskId": "t-a"}, ok(0, task("t-a")))
        self.assertEqual(answer, ok(8, task("t-a")))

    def test_a_task_of_a_session_not_attached_is_nobodys(self) -> None:
        """A CreateTaskResult for a session that is not attached (a 2026
        call, for one) is passed on, and the task is no one's."""
        era2026 = self.session("m", attach=False)
        self.create(era2026, "t-m")
        self.assertEqual(len(self.fanout.tasks), 0)
        self.assertEqual(self.ask(era2026, "tasks/get", {"taskId": "t-m"}), notFound(7))

    def test_a_plain_answer_to_a_task_augmented_call_makes_no_task(self) -> None:
        d = self.router.request(self.a, req(1, "tools/call", TASKED), None)
        [out] = self.take()
        self.router.childMessage(ok(out["id"], {"content": []}))
        self.assertEqual(self.successResultOf(d), ok(1, {"content": []}))
        self.assertEqual(len(self.fanout.tasks), 0)
        self.assertEqual(self.ask(self.a, "tasks/get", {"taskId": "t-1"}), notFound(7))

    def test_a_reused_id_belongs_to_its_newest_creator(self) -> None:
        self.create(self.a, "t-1")
        self.create(self.b, "t-1")
        self.assertEqual(self.ask(self.a, "tasks/get", {"taskId": "t-1"}), notFound(7))
        self.relay(self.b, "tasks/get", {"taskId": "t-1"}, ok(0, task("t-1")))


class ListTests(SharedTaskCase):
    def test_each_session_lists_its_own_tasks_page_by_page(self) -> None:
        self.create(self.a, "t-a1")
        self.create(self.b, "t-b1")
        self.create(self.a, "t-a2")
        page1 = {"tasks": [task("t-a1"), task("t-b1")], "nextCursor": "c1"}
        page2 = {"tasks": [task("t-a2", "completed")]}
        self.assertEqual(
            self.relay(self.a, "tasks/list", {}, ok(0, page1)),
            ok(8, {"tasks": [task("t-a1")], "nextCursor": "c1"}),
        )
        self.assertEqual(
            self.relay(self.a, "tasks/list", {"cursor": "c1"}, ok(0, page2)), ok(8, page2)
        )
        self.assertEqual(
            self.relay(self.b, "tasks/list", {}, ok(0, page1)),
            ok(8, {"tasks": [task("t-b1")], "nextCursor": "c1"}),
        )
        # A page with none of its tasks is empty; the child's cursor still pages on.
        self.assertEqual(
            self.relay(self.b, "tasks/list", {"cursor": "c1"}, ok(0, page2)),
            ok(8, {"tasks": []}),
        )
        error = jsonrpc.errorResponse(0, jsonrpc.INVALID_PARAMS, "bad cursor")
        self.assertEqual(
            self.relay(self.a, "tasks/list", {"cursor": "x"}, error),
            jsonrpc.errorResponse(8, jsonrpc.INVALID_PARAMS, "bad cursor"),
        )

    def test_tasks_nobody_made_here_are_never_listed(self) -> None:
        listed = {"tasks": [task("t-x"), "junk", {"taskId": 5}], "_meta": {"k": 1}}
        self.assertEqual(
            self.relay(self.a, "tasks/list", {}, ok(0, listed)),
            ok(8, {"tasks": [], "_meta": {"k": 1}}),
        )


class StatusTests(SharedTaskCase):
    def test_status_goes_to_the_tasks_session_only(self) -> None:
        self.create(self.a, "t-a")
        self.create(self.b, "t-b")
        status = note("notifications/tasks/status", task("t-a", "input_required"))
        self.router.childMessage(status)
        self.assertEqual((self.a.delivered, self.b.delivered), ([status], []))
        # Nobody's task (or no task id): nobody's.
        self.router.childMessage(note("notifications/tasks/status", task("t-x")))
        self.router.childMessage(note("notifications/tasks/status", {"status": "working"}))
        self.assertEqual((self.a.delivered, self.b.delivered), ([status], []))


class CleanupTests(SharedTaskCase):
    def test_a_session_that_ends_takes_its_tasks(self) -> None:
        self.create(self.a, "t-a")
        self.create(self.b, "t-b")
        self.router.detach(self.a)
        self.assertIsNone(self.fanout.tasks.owner("t-a"))
        self.assertIs(self.fanout.tasks.owner("t-b"), self.b)
        self.router.childMessage(note("notifications/tasks/status", task("t-a", "completed")))
        self.assertEqual(self.a.delivered, [])

    def test_a_fetched_result_can_be_fetched_again(self) -> None:
        """A retry of C{tasks/result} (the answer was lost with the
        connection) reaches the child again, which still has the result."""
        self.create(self.a, "t-a")
        result = ok(0, {"content": []})
        for _ in range(2):
            self.assertEqual(
                self.relay(self.a, "tasks/result", {"taskId": "t-a"}, result),
                ok(8, result["result"]),
            )
        self.relay(self.a, "tasks/get", {"taskId": "t-a"}, ok(0, task("t-a", "completed")))
        # Still never another session's.
        self.assertEqual(self.ask(self.b, "tasks/result", {"taskId": "t-a"}), notFound(7))

    def test_a_fetched_result_is_terminal_first_to_make_room(self) -> None:
        self.fanout.tasks.limit = 2
        self.create(self.a, "t-1")
        self.create(self.a, "t-2", 2)
        self.relay(self.a, "tasks/result", {"taskId": "t-2"}, ok(0, {"content": []}))
        self.create(self.a, "t-3", 3)
        self.assertEqual([self.fanout.tasks.owner(t) for t in ("t-1", "t-2")], [self.a, None])

    def test_a_failed_result_is_kept_too_and_a_gateway_error_changes_nothing(self) -> None:
        self.create(self.a, "t-a")
        self.create(self.a, "t-b", 2)
        failed = jsonrpc.errorResponse(0, jsonrpc.INTERNAL_ERROR, "the tool failed")
        self.relay(self.a, "tasks/result", {"taskId": "t-a"}, failed)
        self.assertEqual(
            self.relay(self.a, "tasks/result", {"taskId": "t-a"}, failed),
            jsonrpc.errorResponse(8, jsonrpc.INTERNAL_ERROR, "the tool failed"),
        )
        d = self.router.request(self.a, req(9, "tasks/result", {"taskId": "t-b"}), None)
        self.take()
        self.clock.advance(self.timeout)
        self.assertEqual(self.successResultOf(d)["error"]["code"], jsonrpc.REQUEST_TIMEOUT)
        self.assertIs(self.fanout.tasks.owner("t-b"), self.a)

    def test_a_task_the_child_does_not_know_is_forgotten(self) -> None:
        self.create(self.a, "t-a")
        expired = jsonrpc.errorResponse(0, jsonrpc.INVALID_PARAMS, "Task has expired")
        self.relay(self.a, "tasks/get", {"taskId": "t-a"}, expired)
        self.assertEqual(self.ask(self.a, "tasks/get", {"taskId": "t-a"}), notFound(7))

    def test_cancel_refused_keeps_the_task_as_terminal(self) -> None:
        self.create(self.a, "t-a")
        terminal = jsonrpc.errorResponse(0, jsonrpc.INVALID_PARAMS, "already terminal")
        self.relay(self.a, "tasks/cancel", {"taskId": "t-a"}, terminal)
        self.assertIs(self.fanout.tasks.owner("t-a"), self.a)
        self.relay(self.a, "tasks/result", {"taskId": "t-a"}, ok(0, {"content": []}))
        self.assertIs(self.fanout.tasks.owner("t-a"), self.a)

    def test_a_new_child_forgets_the_last_ones_tasks(self) -> None:
        self.create(self.a, "t-a")
        self.router.childExited("exited with status 1")
        self.router.resubscribe()
        self.assertEqual(len(self.fanout.tasks), 0)
        self.assertEqual(self.ask(self.a, "tasks/get", {"taskId": "t-a"}), notFound(7))


class TaskOwnersTests(RouterCase):
    def test_full_table_forgets_the_adding_sessions_oldest_terminal_task_first(self) -> None:
        a, b = FakeSession("a"), FakeSession("b")
        owners = TaskOwners(limit=3)
        self.assertEqual(owners.remember("1", a, "working"), [])
        self.assertEqual(owners.remember("2", b, "completed"), [])
        self.assertEqual(owners.remember("3", a, "completed"), [])
        self.assertEqual(owners.remember("4", a, "working"), ["3"])
        self.assertEqual(owners.remember("5", a, "working"), ["1"])
        self.assertEqual([owners.owner(key) for key in "12345"], [None, b, None, a, a])

    def test_one_sessions_tasks_never_crowd_out_anothers_finished_ones(self) -> None:
        """B makes many tasks: A's finished task (its result not fetched yet)
        stays; B makes room from its own."""
        a, b = FakeSession("a"), FakeSession("b")
        owners = TaskOwners(limit=3)
        owners.remember("a1", a, "completed")
        owners.remember("b1", b, "working")
        owners.remember("b2", b, "working")
        for n in range(3, 10):
            self.assertEqual(owners.remember(f"b{n}", b, "working"), [f"b{n - 2}"])
        self.assertIs(owners.owner("a1"), a)

    def test_a_session_with_no_other_task_takes_room_from_the_busiest(self) -> None:
        a, b, c = FakeSession("a"), FakeSession("b"), FakeSession("c")
        owners = TaskOwners(limit=3)
        owners.remember("b1", b, "working")
        owners.remember("a1", a, "working")
        owners.remember("b2", b, "completed")
        self.assertEqual(owners.remember("c1", c, "working"), ["b2"])
        self.assertEqual(owners.remember("c2", c, "working"), ["c1"])
        self.assertEqual([owners.owner(t) for t in ("b1", "a1", "c2")], [b, a, c])

    def test_a_status_that_is_not_a_string_is_unknown(self) -> None:
        a = FakeSession("a")
        owners = TaskOwners(limit=1)
        statuses: list[object] = [{}, [], None, 3]
        for status in statuses:
            self.assertEqual(owners.remember("1", a, status), [])
            owners.status("1", status)
        # Not terminal: a running task is crowded out only as the oldest.
        self.assertEqual(owners.remember("2", a, "working"), ["1"])

    def test_a_child_answering_a_status_that_is_not_a_string(self) -> None:
        a = self.session("a")
        self.session("b")
        odd = {**task("t-1"), "status": {}}
        d = self.router.request(a, req(1, "tools/call", TASKED), None)
        [out] = self.take()
        self.router.childMessage(ok(out["id"], {"task": odd}))
        self.assertEqual(self.successResultOf(d), ok(1, {"task": odd}))
        status = note("notifications/tasks/status", {**task("t-1"), "status": []})
        self.router.childMessage(status)
        self.assertEqual(a.delivered, [status])

    def test_full_table_of_running_tasks_crowds_out_the_busiest_session(self) -> None:
        a, b = FakeSession("a"), FakeSession("b")
        owners = TaskOwners(limit=3)
        owners.remember("b1", b, "working")
        owners.remember("a1", a, "working")
        owners.remember("a2", a, "working")
        self.assertEqual(owners.remember("a3", a, "working"), ["a1"])
        self.assertIs(owners.owner("b1"), b)
        owners.forgetSession(a)
        self.assertEqual(len(owners), 1)
        owners.forgetSession(a)
        self.assertEqual(len(owners), 1)

    def test_status_notifications_keep_the_terminal_mark(self) -> None:
        a = self.session("a")
        self.session("b")
        fanout = self.router.fanout
        assert isinstance(fanout, SharedFanout)
        fanout.tasks.limit = 1
        d = self.router.request(a, req(1, "tools/call", TASKED), None)
        [out] = self.take()
        self.router.childMessage(ok(out["id"], {"task": task("t-1")}))
        self.successResultOf(d)
        self.router.childMessage(note("notifications/tasks/status", task("t-1", "failed")))
        d = self.router.request(a, req(2, "tools/call", TASKED), None)
        [out] = self.take()
        self.router.childMessage(ok(out["id"], {"task": task("t-2")}))
        self.successResultOf(d)
        self.assertIsNone(fanout.tasks.owner("t-1"))
        self.assertIs(fanout.tasks.owner("t-2"), a)


class OwnedChildTests(RouterCase):
    """A child of one session: every task is its owner's, nothing is kept."""

    def makeOwner(self) -> FakeSession | None:
        return FakeSession("owner", capabilities={})

    def test_tasks_pass_unchanged(self) -> None:
        owner = self.owner
        assert owner is not None
        sink = RecordingSink()
        d = self.router.request(owner, req(1, "tools/call", TASKED), sink)
        [out] = self.take()
        self.router.childMessage(ok(out["id"], {"task": task("t-1")}))
        self.assertEqual(self.successResultOf(d), ok(1, {"task": task("t-1")}))
        # Ids the gateway never saw made go to the child as they are.
        for method, params in (
            ("tasks/get", {"taskId": "t-elsewhere"}),
            ("tasks/result", {"taskId": "t-1"}),
            ("tasks/cancel", {"taskId": "t-1"}),
            ("tasks/list", {}),
        ):
            d = self.router.request(owner, req(2, method, params), sink)
            [out] = self.take()
            self.assertEqual((out["method"], out["params"]), (method, params))
            listed = {"tasks": [task("t-1"), task("t-other")]}
            self.router.childMessage(ok(out["id"], listed))
            self.assertEqual(self.successResultOf(d), ok(2, listed))
        status = note("notifications/tasks/status", task("t-unknown", "completed"))
        self.router.childMessage(status)
        self.assertEqual(owner.delivered, [status])


class RelatedTaskTests(SharedTaskCase):
    """A message of the child that names a task (C{_meta} related-task) is
    the task's session's only."""

    def setUp(self) -> None:
        super().setUp()
        self.a.logLevel = self.b.logLevel = "debug"
        self.create(self.a, "t-a")

    def call(self, session: FakeSession, method: str = "tools/call") -> RecordingSink:
        """C{session}'s request in flight (never answered), and its stream."""
        sink = RecordingSink()
        params = {"taskId": "t-a"} if method == "tasks/result" else {"name": "x"}
        self.router.request(session, req(20, method, params), sink)
        self.take()
        return sink

    def test_a_task_log_line_goes_to_its_session_not_to_the_one_in_flight(self) -> None:
        stream = self.call(self.b)
        line = ofTask(note("notifications/message", {"level": "info", "data": "A's doc"}), "t-a")
        self.router.childMessage(line)
        self.assertEqual((stream.messages, self.b.delivered), ([], []))
        self.assertEqual(self.a.delivered, [line])

    def test_a_task_log_line_goes_on_its_sessions_tasks_result_stream(self) -> None:
        self.a.logLevel = None
        other = self.call(self.a)
        result = self.call(self.a, "tasks/result")
        line = ofTask(note("notifications/message", {"level": "debug", "data": "x"}), "t-a")
        self.router.childMessage(line)
        self.assertEqual((result.messages, other.messages, self.a.delivered), ([line], [], []))

    def test_its_sessions_log_level_applies(self) -> None:
        self.a.logLevel = "error"
        self.router.childMessage(
            ofTask(note("notifications/message", {"level": "info", "data": "x"}), "t-a")
        )
        self.assertEqual((self.a.delivered, self.b.delivered), ([], []))

    def test_a_message_of_a_task_that_is_no_sessions_is_dropped(self) -> None:
        stream = self.call(self.b)
        for taskId in ("t-x", 5, None):
            self.router.childMessage(
                ofTask(note("notifications/message", {"level": "error", "data": "x"}), taskId)
            )
        self.router.childMessage(
            ofTask(note("notifications/resources/updated", {"uri": "file:///a"}), "t-x")
        )
        self.assertEqual((stream.messages, self.a.delivered, self.b.delivered), ([], [], []))

    def test_a_resource_update_of_a_task_goes_to_its_session_if_it_subscribed(self) -> None:
        self.a.subscriptions.add("file:///a")
        self.b.subscriptions.add("file:///a")
        updated = ofTask(note("notifications/resources/updated", {"uri": "file:///a"}), "t-a")
        self.router.childMessage(updated)
        self.assertEqual((self.a.delivered, self.b.delivered), ([updated], []))
        self.a.subscriptions.clear()
        self.router.childMessage(updated)
        self.assertEqual(self.a.delivered, [updated])

    def test_any_other_notification_of_a_task_goes_to_its_session(self) -> None:
        done = ofTask(note("notifications/elicitation/complete", {"elicitationId": "e"}), "t-a")
        self.router.childMessage(done)
        self.assertEqual((self.a.delivered, self.b.delivered), ([done], []))

    def test_a_list_change_still_reaches_everyone_without_anothers_task_id(self) -> None:
        changed = note("notifications/tools/list_changed", {"_meta": {"k": 1}})
        self.router.childMessage(ofTask(changed, "t-a"))
        self.assertEqual(self.a.delivered, [ofTask(changed, "t-a")])
        self.assertEqual(self.b.delivered, [changed])

    def test_a_request_of_a_task_goes_to_its_session(self) -> None:
        """Two sessions attached (ambiguous otherwise): the task's id proves
        whose the elicitation is; it goes on its C{tasks/result} stream."""
        result = self.call(self.a, "tasks/result")
        self.call(self.b)
        ask = ofTask(req("s-1", "elicitation/create", {"message": "name?"}), "t-a")
        self.router.childMessage(ask)
        [out] = result.messages
        self.assertEqual((out["method"], out["params"]), ("elicitation/create", ask["params"]))
        self.assertEqual((self.take(), self.a.delivered, self.b.delivered), ([], [], []))
        self.assertEqual(self.router.ambiguousServerRequests, 0)

    def test_a_request_of_a_task_that_is_no_sessions_is_refused(self) -> None:
        self.router.detach(self.b)  # one session: it would be proven otherwise
        self.take()
        self.router.childMessage(ofTask(req("s-1", "sampling/createMessage", {}), "t-x"))
        [refusal] = self.take()
        self.assertEqual(refusal["error"]["code"], jsonrpc.INTERNAL_ERROR)
        self.assertIn("no client session's", refusal["error"]["message"])
        self.assertEqual((self.a.delivered, self.router.ambiguousServerRequests), ([], 0))

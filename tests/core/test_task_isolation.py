"""MCP tasks on a child several sessions share: each session sees its own only.

A child's task ids are one space for all the sessions of a shared child: the
fanout remembers whose each task is (L{mcpgateway.core.fanout.TaskOwners})
and never lets another session reach it. A child of one session passes
everything unchanged.
"""

from __future__ import annotations

from typing import Any

from mcpgateway import jsonrpc
from mcpgateway.core.fanout import TASK_NOT_FOUND, SharedFanout, TaskOwners
from tests.core.test_router import Message, RouterCase, note, ok, req
from tests.fakes import FakeSession, RecordingSink

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
        """A CreateTaskResult for a session that is not attached (a modern
        call, for one) is passed on, and the task is no one's."""
        modern = self.session("m", attach=False)
        self.create(modern, "t-m")
        self.assertEqual(len(self.fanout.tasks), 0)
        self.assertEqual(self.ask(modern, "tasks/get", {"taskId": "t-m"}), notFound(7))

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

    def test_a_fetched_result_forgets_the_task(self) -> None:
        self.create(self.a, "t-a")
        self.relay(self.a, "tasks/result", {"taskId": "t-a"}, ok(0, {"content": []}))
        self.assertEqual(self.ask(self.a, "tasks/get", {"taskId": "t-a"}), notFound(7))

    def test_a_failed_result_forgets_it_too_but_not_a_gateway_error(self) -> None:
        self.create(self.a, "t-a")
        self.create(self.a, "t-b", 2)
        failed = jsonrpc.errorResponse(0, jsonrpc.INTERNAL_ERROR, "the tool failed")
        self.relay(self.a, "tasks/result", {"taskId": "t-a"}, failed)
        self.assertIsNone(self.fanout.tasks.owner("t-a"))
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
        self.assertIsNone(self.fanout.tasks.owner("t-a"))

    def test_a_new_child_forgets_the_last_ones_tasks(self) -> None:
        self.create(self.a, "t-a")
        self.router.childExited("exited with status 1")
        self.router.resubscribe()
        self.assertEqual(len(self.fanout.tasks), 0)
        self.assertEqual(self.ask(self.a, "tasks/get", {"taskId": "t-a"}), notFound(7))


class TaskOwnersTests(RouterCase):
    def test_full_table_forgets_the_oldest_terminal_task_first(self) -> None:
        a, b = FakeSession("a"), FakeSession("b")
        owners = TaskOwners(limit=3)
        self.assertEqual(owners.remember("1", a, "working"), [])
        self.assertEqual(owners.remember("2", b, "working"), [])
        self.assertEqual(owners.remember("3", b, "completed"), [])
        self.assertEqual(owners.remember("4", a, "working"), ["3"])
        owners.status("2", "cancelled")
        self.assertEqual(owners.remember("5", a, "working"), ["2"])
        self.assertEqual([owners.owner(key) for key in "12345"], [a, None, None, a, a])

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

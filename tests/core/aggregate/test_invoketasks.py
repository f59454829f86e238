"""C{invoke} with C{"async": true} and C{get_result} with a C{taskId}, over
a fake L{ToolContext} and a L{TaskManager} on a memory store and a Clock:
the call becomes a stored task at once, its handle is the answer;
C{get_result} gives its status, then its result (whole when small, paged
as a shortened result is when large), or its error as the caller may read
it; a task of another principal or route is as unknown as a missing one.
Without a task manager, without room for a task, or without C{get_result}
(the shield off), the call is answered when it ends, as a plain C{invoke}."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.aggregate.shield import size
from mcpgateway.core.aggregate.tools import TASK_WAIT, GatewayTools
from mcpgateway.core.aggregate.types import ShieldSpec
from mcpgateway.core.tasks.keeping import TaskKeeping
from mcpgateway.core.tasks.manager import TaskManager, TaskTerms
from mcpgateway.core.tasks.model import COMPLETED, FAILED, WORKING, Task
from mcpgateway.core.tasks.store import TaskStore
from mcpgateway.protocol import jsonrpc
from tests.core.aggregate.toolcontext import (
    STDERR_MARK,
    FakeContext,
    Started,
    errorOf,
    makeTools,
    matchesOutputSchema,
    structuredOf,
)

TOOL = "fs__read_text_file"


def answer(call: Started, result: dict[str, Any]) -> None:
    """The member answers C{call} with C{result}."""
    call.response.callback(jsonrpc.resultResponse("mcpgateway-task-x", result))


def text(body: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": body}]}


class AsyncInvokeTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.store = TaskStore(None, now=self.clock.seconds)
        self.tasks = TaskManager(self.store, self.clock)
        self.tools = makeTools(tasks=self.tasks)
        self.context = FakeContext(scope="ws", principal="p-alice")

    def call(
        self, name: str, args: dict[str, Any], context: FakeContext | None = None
    ) -> dict[str, Any]:
        result = self.successResultOf(self.tools.call(name, args, context or self.context))
        if result.get("isError") is not True:
            self.assertTrue(matchesOutputSchema(self.tools, name, result), result)
        return result

    def start(self, arguments: dict[str, Any] | None = None) -> tuple[str, Started]:
        """Invoke L{TOOL} with C{async}: the task's id and its call."""
        handle = structuredOf(
            self.call("invoke", {"name": TOOL, "arguments": arguments or {}, "async": True})
        )
        (started,) = self.context.started
        return handle["taskId"], started

    def read(self, taskId: str, context: FakeContext | None = None, **paging: Any) -> Any:
        return self.call("get_result", {"taskId": taskId, **paging}, context)

    def test_the_schemas_take_async_and_task_ids(self) -> None:
        schemas = {d["name"]: d["inputSchema"] for d in self.tools.definitions(True)}
        invoke = Draft202012Validator(schemas["invoke"])
        self.assertTrue(invoke.is_valid({"name": TOOL, "async": True}))
        self.assertFalse(invoke.is_valid({"name": TOOL, "async": "yes"}))
        self.assertIn("async", self.tools.definitions(True)[2]["description"])
        getResult = Draft202012Validator(schemas["get_result"])
        self.assertTrue(getResult.is_valid({"taskId": "t", "offset": 0, "limit": 5}))
        self.assertIn("`async`", self.tools.instructions({"fs": 1}, "search"))

    def test_async_answers_at_once_with_a_stored_task(self) -> None:
        handle = structuredOf(
            self.call("invoke", {"name": TOOL, "arguments": {"path": "/a"}, "async": True})
        )
        self.assertEqual(handle["status"], WORKING)
        self.assertIn("get_result", handle["hint"])
        self.assertNotIn("resultType", handle)
        (started,) = self.context.started
        self.assertEqual((started.name, started.arguments), (TOOL, {"path": "/a"}))
        self.assertEqual(self.context.calls, [])  # not the ordinary invoke
        task = self.store.get(handle["taskId"])
        assert task is not None
        self.assertEqual(
            (task.server, task.scope, task.principal, task.tool, task.status),
            ("fs", "ws", "p-alice", TOOL, WORKING),
        )
        self.assertEqual(self.tasks.created, 1)

    def test_async_false_or_wrong_is_no_task(self) -> None:
        plain = self.call("invoke", {"name": TOOL, "async": False})
        self.assertEqual(plain["content"], text("done")["content"])
        self.assertIn(
            "async must be a boolean, not a string",
            errorOf(self.call("invoke", {"name": TOOL, "async": "true"})),
        )
        self.assertEqual((len(self.store), self.context.started), (0, []))

    def test_get_result_while_working_shows_the_progress(self) -> None:
        taskId, started = self.start()
        working = structuredOf(self.read(taskId))
        self.assertEqual((working["taskId"], working["status"]), (taskId, WORKING))
        self.assertIn("pollIntervalMs", working)
        self.assertNotIn("result", working)
        started.progress("halfway there")
        self.assertEqual(structuredOf(self.read(taskId))["statusMessage"], "halfway there")

    def test_a_small_result_comes_whole(self) -> None:
        taskId, started = self.start()
        result = {**text("the file"), "structuredContent": {"lines": 1}}
        answer(started, result)
        done = structuredOf(self.read(taskId))
        self.assertEqual((done["status"], done["result"]), (COMPLETED, result))
        self.assertNotIn("pollIntervalMs", done)
        self.assertEqual(len(self.context.store), 0)  # nothing kept for pages

    def test_a_large_result_is_paged_until_whole(self) -> None:
        taskId, started = self.start()
        body = "".join(f"{i:05d} line of the file\n" for i in range(3000))
        answer(started, text(body))
        pieces, offset = [], None
        while True:
            page = self.read(taskId) if offset is None else self.read(taskId, offset=offset)
            self.assertLessEqual(size(page), self.context.shieldSpec.budget)
            data = structuredOf(page)
            self.assertEqual((data["taskId"], data["status"]), (taskId, COMPLETED))
            self.assertEqual(data["path"], "content.0.text")
            pieces.append(data["text"])
            if data["next"] is None:
                break
            offset = data["next"]
        self.assertGreater(len(pieces), 2)
        self.assertEqual(
            hashlib.sha256("".join(pieces).encode()).hexdigest(),
            hashlib.sha256(body.encode()).hexdigest(),
        )
        self.assertEqual(len(self.context.store), 1)  # kept once, for every page
        ref = data["ref"]
        byRef = structuredOf(self.call("get_result", {"ref": ref, "limit": 5}))
        self.assertEqual(byRef["text"], body[:5])

    def test_content_items_are_paged_by_item(self) -> None:
        taskId, started = self.start()
        items = [{"type": "text", "text": f"item {i}"} for i in range(40)]
        answer(started, {"content": items, "isError": True})
        page = structuredOf(self.read(taskId, path="content", offset=10, limit=5))
        self.assertEqual(page["items"], items[10:15])
        self.assertEqual((page["total"], page["next"], page["isError"]), (40, 15, True))

    def test_a_failed_task_gives_its_error_as_the_caller_may_read_it(self) -> None:
        taskId, started = self.start()
        started.response.callback(
            jsonrpc.errorResponse(
                "mcpgateway-task-x", -32003, f"the child exited{STDERR_MARK}secret path"
            )
        )
        failed = structuredOf(self.read(taskId))
        self.assertEqual(failed["status"], FAILED)
        self.assertEqual(failed["error"], {"code": -32003, "message": "the child exited"})

    def test_an_unknown_task_or_anothers_is_unknown(self) -> None:
        taskId, _ = self.start()
        for context, asked in [
            (self.context, "nope"),
            (FakeContext(scope="ws", principal="p-bob"), taskId),
            (FakeContext(scope="other", principal="p-alice"), taskId),
        ]:
            self.assertIn(f"unknown task {asked!r}", errorOf(self.read(asked, context)))
        self.assertIn("give either ref", errorOf(self.call("get_result", {})))

    def test_a_task_past_its_time_to_live_is_unknown(self) -> None:
        taskId, started = self.start()
        answer(started, text("done"))
        self.clock.advance(self.tasks.limits.ttl)
        self.assertIn("unknown task", errorOf(self.read(taskId)))


class PlainInvokeTests(SynchronousTestCase):
    """When no task can be made, C{async} is answered when the call ends."""

    def invoke(self, tools: GatewayTools, context: FakeContext) -> Any:
        args = {"name": TOOL, "async": True}
        return tools.call("invoke", args, context)

    def test_without_a_task_manager(self) -> None:
        context = FakeContext()
        with capturedLogs() as events:
            result = self.successResultOf(self.invoke(makeTools(), context))
        self.assertEqual(result["content"], text("done")["content"])
        self.assertEqual((context.calls, context.started), ([(TOOL, {})], []))
        (event,) = [e for e in events if "with async" in e.get("log_format", "")]
        self.assertEqual(event["why"], "this gateway keeps no tasks")

    def test_without_get_result(self) -> None:
        clock = Clock()
        tasks = TaskManager(TaskStore(None, now=clock.seconds), clock)
        context = FakeContext(shieldSpec=ShieldSpec(enabled=False))
        self.successResultOf(self.invoke(makeTools(tasks=tasks), context))
        self.assertEqual((len(context.calls), len(tasks.store)), (1, 0))

    def test_without_room_for_a_task(self) -> None:
        clock = Clock()
        tasks = TaskManager(TaskStore(None, now=clock.seconds), clock, TaskTerms(maxTasks=0))
        context = FakeContext()
        with capturedLogs() as events:
            d = self.invoke(makeTools(tasks=tasks), context)
        self.assertTrue([e for e in events if "no room for another task" in e["log_format"]])
        self.assertNoResult(d)
        (started,) = context.started
        answer(started, text("late"))
        self.assertEqual(self.successResultOf(d)["content"], text("late")["content"])
        self.assertEqual(len(tasks.store), 0)

    def test_without_room_an_error_is_an_error_result(self) -> None:
        clock = Clock()
        tasks = TaskManager(TaskStore(None, now=clock.seconds), clock, TaskTerms(maxTasks=0))
        context = FakeContext()
        d = self.invoke(makeTools(tasks=tasks), context)
        (started,) = context.started
        started.response.callback(
            jsonrpc.errorResponse("x", -32602, f"Invalid params{STDERR_MARK}hidden")
        )
        self.assertEqual(
            errorOf(self.successResultOf(d)),
            f"{TOOL} failed: Invalid params (JSON-RPC error -32602)",
        )


class RestartedTests(SynchronousTestCase):
    """C{get_result} in a restart's successor, before it has read the task
    journal (its predecessor still runs, and may finish the task): the poll
    waits for the journal, and past the wait it is C{working}, never an
    unknown task a model would invoke again."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        journal = Path(directory.name) / "tasks.jsonl"
        self.predecessor = TaskStore(journal, now=self.clock.seconds)
        self.tasks = TaskManager(TaskStore(journal, now=self.clock.seconds), self.clock)
        self.gone: Deferred[None] = Deferred()
        self.keeping = TaskKeeping(self.tasks, self.clock, self.gone, wait=60.0)
        self.keeping.startService()
        self.addCleanup(self.keeping.stopService)
        self.tools = makeTools(tasks=self.tasks)
        self.context = FakeContext(scope="ws", principal="p-alice")
        self.task = Task(
            "old-task", "fs", "ws", "p-alice", TOOL, self.clock.seconds(), 3_600_000, 500
        )
        self.predecessor.create(self.task)

    def read(self, taskId: str) -> Deferred[dict[str, Any]]:
        return self.tools.call("get_result", {"taskId": taskId}, self.context)

    def test_a_poll_waits_for_the_journal_and_gets_the_predecessors_end(self) -> None:
        polled = self.read("old-task")
        self.assertNoResult(polled)  # not "unknown task": the journal is not read yet
        self.task.status, self.task.result = COMPLETED, text("done before it exited")
        self.predecessor.update(self.task)
        self.gone.callback(None)
        done = structuredOf(self.successResultOf(polled))
        self.assertEqual((done["status"], done["result"]), (COMPLETED, self.task.result))

    def test_a_poll_held_too_long_is_working(self) -> None:
        polled = self.read("old-task")
        self.clock.advance(TASK_WAIT)
        result = self.successResultOf(polled)
        self.assertTrue(matchesOutputSchema(self.tools, "get_result", result), result)
        working = structuredOf(result)
        self.assertEqual((working["taskId"], working["status"]), ("old-task", WORKING))
        self.assertIn("call get_result again", working["statusMessage"])
        self.assertNotIn("invoke", working["statusMessage"])

    def test_an_id_still_unknown_once_read_is_unknown(self) -> None:
        timers = len(self.clock.getDelayedCalls())
        polled = self.read("nope")
        self.assertEqual(len(self.clock.getDelayedCalls()), timers + 1)
        self.gone.callback(None)
        self.assertIn("unknown task 'nope'", errorOf(self.successResultOf(polled)))
        self.assertEqual(len(self.clock.getDelayedCalls()), timers)  # the wait's timer is gone

    def test_a_poll_whose_client_went_away_stops_waiting(self) -> None:
        polled = self.read("old-task")
        polled.cancel()
        self.failureResultOf(polled, CancelledError)
        self.clock.advance(TASK_WAIT)  # its timer is gone: nothing fires twice
        self.gone.callback(None)

"""C{invoke} with C{"async": true} on C{/mcp/search} end to end, over a
real Site, the gateway's L{TaskManager} (a memory store) and fake
children: the call reaches the member under an id of the gateway's own,
the invoke is answered with the task's handle while the child still
works, the child's progress becomes the task's C{statusMessage}, and
C{get_result} reads the result once the child answers; the session's
end fails a task still running."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.tasks.manager import TaskManager
from mcpgateway.core.tasks.store import TaskStore
from tests.core.aggregate.aggtools import FakeServer, tool
from tests.support.web.aggregate_web import VERSION, AggregateHarness

PATH = "/mcp/search"


class AsyncInvokeTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.servers = {"alpha": FakeServer(tools=[tool("slow", text="what to do")], hold=True)}
        self.agg = AggregateHarness(self.servers)
        gateway = self.agg.gateway
        clock = self.agg.harness.reactor
        self.tasks = TaskManager(TaskStore(None, now=clock.seconds), clock)
        # Before the first /mcp request: the aggregator is made with it.
        gateway.settings = replace(gateway.settings, tasks=self.tasks)
        self.session = self.agg.open(PATH)

    def tool(self, name: str, arguments: dict[str, Any], requestId: int) -> dict[str, Any]:
        answer = self.agg.call(
            self.session,
            "tools/call",
            {"name": name, "arguments": arguments},
            requestId,
            path=PATH,
        )
        result: dict[str, Any] = answer["result"]
        return result

    def invokeAsync(self) -> str:
        handle = self.tool(
            "invoke", {"name": "alpha__slow", "arguments": {"text": "go"}, "async": True}, 7
        )
        self.assertEqual(handle["structuredContent"]["status"], "working")
        taskId: str = handle["structuredContent"]["taskId"]
        return taskId

    def test_the_task_is_answered_at_once_and_read_when_done(self) -> None:
        taskId = self.invokeAsync()
        ((proc, held),) = self.agg.children.held
        self.assertEqual(held["params"]["name"], "slow")
        self.assertEqual(held["params"]["arguments"], {"text": "go"})
        token = held["params"]["_meta"]["progressToken"]
        proc.reply(
            {
                "jsonrpc": "2.0",
                "method": "notifications/progress",
                "params": {"progressToken": token, "progress": 1, "message": "half done"},
            }
        )
        working = self.tool("get_result", {"taskId": taskId}, 7)["structuredContent"]
        self.assertEqual((working["status"], working["statusMessage"]), ("working", "half done"))
        proc.reply(
            {
                "jsonrpc": "2.0",
                "id": held["id"],
                "result": {"content": [{"type": "text", "text": "finished"}]},
            }
        )
        done = self.tool("get_result", {"taskId": taskId}, 8)["structuredContent"]
        self.assertEqual(done["status"], "completed")
        self.assertEqual(done["result"]["content"], [{"type": "text", "text": "finished"}])
        task = self.tasks.store.get(taskId)
        assert task is not None
        self.assertEqual((task.server, task.tool), ("alpha", "alpha__slow"))

    def test_the_sessions_end_fails_a_task_still_running(self) -> None:
        taskId = self.invokeAsync()
        response = self.agg.harness.request(
            "DELETE", PATH, session=self.session, headers={"mcp-protocol-version": VERSION}
        )
        self.assertEqual(response.status, 200)
        task = self.tasks.store.get(taskId)
        assert task is not None
        self.assertEqual(task.status, "failed")
        assert task.error is not None
        self.assertIn("its session ended", task.error["message"])

"""Tasks (MCP 2025-11-25) through the aggregate endpoint C{/mcp}: a task a
member created is its session's, under the child's own id; C{tasks/get},
C{tasks/result} and C{tasks/cancel} reach that member and no other,
C{tasks/list} lists that session's tasks only, a child's
C{notifications/tasks/status} reaches that session only, and the ids kept
are bounded and forgotten with the session."""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core import aggregate
from mcpgateway.core.aggregatetypes import TaskTable
from tests.core.aggtools import Children, FakeServer, tool
from tests.fakes import FakeProcess
from tests.web.test_aggregate_web import AggregateHarness, messagesOf

RELATED = "io.modelcontextprotocol/related-task"


class TaskChildren(Children):
    """Fake children that run a C{tools/call} carrying C{task} as a task:
    it is answered with a C{CreateTaskResult} (id C{<server>-task-<n>}) and
    stays C{working} until the test sets L{status}."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.status: dict[str, str] = {}
        self.made: dict[str, FakeProcess] = {}

    def task(self, taskId: str) -> dict[str, Any]:
        return {
            "taskId": taskId,
            "status": self.status[taskId],
            "createdAt": "2025-11-25T10:30:00Z",
            "lastUpdatedAt": "2025-11-25T10:30:00Z",
            "ttl": 60000,
            "pollInterval": 500,
        }

    def _answer(self, proc: FakeProcess, message: dict[str, Any]) -> None:
        method = message.get("method")
        params = message.get("params") or {}
        server = self.serverOf(proc)
        if method == "tools/call" and "task" in params:
            self.seen.append((server, message))
            made = f"{server}-task-{len(self.status) + 1}"
            self.status[made] = "working"
            self.made[made] = proc
            self._reply(proc, message, {"task": self.task(made)})
            return
        if method in ("tasks/get", "tasks/result", "tasks/cancel"):
            self.seen.append((server, message))
            taskId = str(params.get("taskId"))
            if self.made.get(taskId) is not proc:
                proc.reply(
                    {
                        "jsonrpc": "2.0",
                        "id": message["id"],
                        "error": {"code": -32602, "message": "Failed to retrieve task"},
                    }
                )
                return
            if method == "tasks/cancel":
                self.status[taskId] = "cancelled"
            if method == "tasks/result":
                text = f"{server}:{taskId}:done"
                result = {
                    "content": [{"type": "text", "text": text}],
                    "_meta": {RELATED: {"taskId": taskId}},
                }
                self._reply(proc, message, result)
                return
            self._reply(proc, message, self.task(taskId))
            return
        super()._answer(proc, message)

    def _reply(self, proc: FakeProcess, message: dict[str, Any], result: Any) -> None:
        proc.reply({"jsonrpc": "2.0", "id": message["id"], "result": result})

    def sent(self, method: str) -> list[tuple[str, dict[str, Any]]]:
        return [(s, m) for s, m in self.seen if m.get("method") == method]


SLOW = {"execution": {"taskSupport": "required"}}


def servers() -> dict[str, FakeServer]:
    return {
        "alpha": FakeServer(tools=[tool("echo"), {**tool("research"), **SLOW}]),
        "beta": FakeServer(tools=[{**tool("research"), **SLOW}]),
    }


class TaskHarness(AggregateHarness):
    def __init__(self, modes: dict[str, str] | None = None) -> None:
        super().__init__(servers(), modes)
        self.children = TaskChildren(self.harness.reactor, self.children.servers)
        self.tasks: TaskChildren = self.children
        self._ids = 100

    def request(self, session: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._ids += 1
        return self.call(session, method, params, requestId=self._ids)

    def start(self, session: str, name: str) -> str:
        answer = self.request(
            session,
            "tools/call",
            {"name": name, "arguments": {"q": "x"}, "task": {"ttl": 60000}},
        )
        task = answer["result"]["task"]
        self.assertWorking(task)
        return str(task["taskId"])

    @staticmethod
    def assertWorking(task: dict[str, Any]) -> None:
        assert task["status"] == "working", task


class CapabilityTests(SynchronousTestCase):
    def test_initialize_offers_tasks_from_2025_11_25_only(self) -> None:
        agg = TaskHarness()
        response = agg.harness.request("POST", "/mcp", _initialize("2025-11-25"))
        agg.children.pump()
        self.assertEqual(
            response.json()["result"]["capabilities"]["tasks"],
            {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}},
        )
        response = agg.harness.request("POST", "/mcp", _initialize("2025-06-18"))
        agg.children.pump()
        self.assertNotIn("tasks", response.json()["result"]["capabilities"])


class RoutingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.agg = TaskHarness()
        self.session = self.agg.open()

    def test_get_and_result_reach_the_member_that_made_the_task(self) -> None:
        listed = self.agg.call(self.session, "tools/list", {})
        tools = {t["name"]: t for t in listed["result"]["tools"]}
        self.assertEqual(tools["beta__research"]["execution"], {"taskSupport": "required"})
        taskId = self.agg.start(self.session, "beta__research")
        self.assertEqual(taskId, "beta-task-1")  # the child's own id, unchanged
        [(server, call)] = self.agg.tasks.sent("tools/call")
        self.assertEqual((server, call["params"]["name"]), ("beta", "research"))
        self.assertEqual(call["params"]["task"], {"ttl": 60000})

        got = self.agg.request(self.session, "tasks/get", {"taskId": taskId})
        self.assertEqual(got["result"]["status"], "working")
        self.agg.tasks.status[taskId] = "completed"
        result = self.agg.request(self.session, "tasks/result", {"taskId": taskId})
        self.assertEqual(result["result"]["content"][0]["text"], "beta:beta-task-1:done")
        self.assertEqual(result["result"]["_meta"][RELATED], {"taskId": taskId})
        for method in ("tasks/get", "tasks/result"):
            self.assertEqual([s for s, _ in self.agg.tasks.sent(method)], ["beta"])

    def test_cancel(self) -> None:
        taskId = self.agg.start(self.session, "alpha__research")
        cancelled = self.agg.request(self.session, "tasks/cancel", {"taskId": taskId})
        self.assertEqual(cancelled["result"]["status"], "cancelled")
        self.assertEqual([s for s, _ in self.agg.tasks.sent("tasks/cancel")], ["alpha"])
        listed = self.agg.request(self.session, "tasks/list", {})
        self.assertEqual([t["status"] for t in listed["result"]["tasks"]], ["cancelled"])

    def test_an_unknown_task_is_invalid_params_and_reaches_no_child(self) -> None:
        self.agg.start(self.session, "beta__research")
        for method in ("tasks/get", "tasks/result", "tasks/cancel"):
            answer = self.agg.request(self.session, method, {"taskId": "nope"})
            self.assertEqual(answer["error"]["code"], -32602, method)
            self.assertIn("Task not found", answer["error"]["message"])
            self.assertEqual(self.agg.tasks.sent(method), [])
        answer = self.agg.request(self.session, "tasks/get", {})
        self.assertEqual(answer["error"]["code"], -32602)

    def test_another_sessions_task_is_unknown_to_it(self) -> None:
        taskId = self.agg.start(self.session, "beta__research")
        other = self.agg.open()
        for method in ("tasks/get", "tasks/result", "tasks/cancel"):
            answer = self.agg.request(other, method, {"taskId": taskId})
            self.assertEqual(answer["error"]["code"], -32602, method)
        self.assertEqual(self.agg.request(other, "tasks/list", {})["result"], {"tasks": []})
        self.assertEqual(self.agg.tasks.sent("tasks/get"), [])

    def test_a_task_its_child_forgot_is_forgotten(self) -> None:
        taskId = self.agg.start(self.session, "beta__research")
        del self.agg.tasks.made[taskId]  # expired in the child
        answer = self.agg.request(self.session, "tasks/get", {"taskId": taskId})
        self.assertEqual(answer["error"]["code"], -32602)
        self.assertEqual(self.agg.request(self.session, "tasks/list", {})["result"]["tasks"], [])

    def test_a_gateway_tool_refuses_a_task(self) -> None:
        session = self.agg.open(path="/mcp/search")
        answer = self.agg.call(
            session,
            "tools/call",
            {"name": "search", "arguments": {"query": "x"}, "task": {}},
            path="/mcp/search",
        )
        self.assertEqual(answer["error"]["code"], -32601)


class ListTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.agg = TaskHarness()
        self.session = self.agg.open()

    def test_list_gives_this_sessions_tasks_with_their_status_now(self) -> None:
        first = self.agg.start(self.session, "alpha__research")
        second = self.agg.start(self.session, "beta__research")
        self.agg.start(self.agg.open(), "beta__research")  # another session's
        self.agg.tasks.status[first] = "completed"
        listed = self.agg.request(self.session, "tasks/list", {})
        self.assertEqual(
            [(t["taskId"], t["status"]) for t in listed["result"]["tasks"]],
            [(first, "completed"), (second, "working")],
        )
        self.assertNotIn("nextCursor", listed["result"])
        # Asked of their own members, each once.
        self.assertEqual(
            sorted((s, m["params"]["taskId"]) for s, m in self.agg.tasks.sent("tasks/get")),
            [("alpha", first), ("beta", second)],
        )
        # A terminal task is not asked again.
        self.agg.request(self.session, "tasks/list", {})
        self.assertEqual(len(self.agg.tasks.sent("tasks/get")), 3)

    def test_list_pages(self) -> None:
        self.patch(aggregate, "TASKS_PAGE", 2)
        made = [self.agg.start(self.session, "alpha__research") for _ in range(5)]
        seen: list[str] = []
        cursor: str | None = None
        for _ in range(5):
            params = {"cursor": cursor} if cursor is not None else {}
            page = self.agg.request(self.session, "tasks/list", params)["result"]
            seen += [t["taskId"] for t in page["tasks"]]
            cursor = page.get("nextCursor")
            if cursor is None:
                break
        self.assertEqual(seen, made)

    def test_a_cursor_it_did_not_make_is_invalid_params(self) -> None:
        for cursor in ("abc", "", 5, "mcpgateway-tasks-x"):
            answer = self.agg.request(self.session, "tasks/list", {"cursor": cursor})
            self.assertEqual(answer["error"]["code"], -32602, cursor)


class StatusNotificationTests(SynchronousTestCase):
    """A per-session child's C{notifications/tasks/status} reaches its
    aggregate session for the tasks it created, unchanged."""

    def setUp(self) -> None:
        self.agg = TaskHarness(modes={"alpha": "stateful", "beta": "stateful"})
        self.session = self.agg.open()
        self.stream = self.agg.get(self.session)

    def status(self, proc: FakeProcess, taskId: str, status: str) -> None:
        proc.reply(
            {
                "jsonrpc": "2.0",
                "method": "notifications/tasks/status",
                "params": {
                    "taskId": taskId,
                    "status": status,
                    "createdAt": "2025-11-25T10:30:00Z",
                    "lastUpdatedAt": "2025-11-25T10:31:00Z",
                    "ttl": 60000,
                },
            }
        )

    def told(self) -> list[dict[str, Any]]:
        return [
            m["params"]
            for m in messagesOf(self.stream)
            if m.get("method") == "notifications/tasks/status"
        ]

    def test_status_reaches_the_owner_unchanged(self) -> None:
        taskId = self.agg.start(self.session, "beta__research")
        self.status(self.agg.tasks.made[taskId], taskId, "completed")
        self.assertEqual([(t["taskId"], t["status"]) for t in self.told()], [(taskId, "completed")])
        # The status is kept: tasks/list does not need to ask again.
        listed = self.agg.request(self.session, "tasks/list", {})
        self.assertEqual([t["status"] for t in listed["result"]["tasks"]], ["completed"])
        self.assertEqual(self.agg.tasks.sent("tasks/get"), [])

    def test_status_of_a_task_the_session_did_not_create_is_dropped(self) -> None:
        taskId = self.agg.start(self.session, "beta__research")
        proc = self.agg.tasks.made[taskId]
        self.status(proc, "beta-task-99", "completed")  # never created through /mcp
        alpha = self.agg.start(self.session, "alpha__research")
        self.status(proc, alpha, "completed")  # alpha's id, but from beta's child
        self.assertEqual(self.told(), [])


class BoundTests(SynchronousTestCase):
    def test_the_oldest_terminal_ones_are_forgotten_first(self) -> None:
        table = TaskTable(3)
        for n, status in enumerate(["working", "completed", "working"]):
            table.remember(f"t{n}", "s", "", {"taskId": f"t{n}", "status": status})
        self.assertEqual(table.remember("t3", "s", "", {"status": "working"}), ["t1"])
        table.ended("t2")
        self.assertEqual(table.remember("t4", "s", "", {"status": "working"}), ["t2"])
        self.assertEqual(table.remember("t5", "s", "", {"status": "working"}), ["t0"])
        self.assertEqual([key for key, _ in table.page(None, 10)[0]], ["t3", "t4", "t5"])

    def test_a_status_that_is_not_a_string_is_unknown(self) -> None:
        table = TaskTable(2)
        table.remember("t0", "s", "", {"taskId": "t0", "status": {}})
        table.remember("t1", "s", "", {"taskId": "t1", "status": "completed"})
        table.update("t0", {"status": []})
        entry = table.get("t0")
        assert entry is not None
        self.assertFalse(entry.terminal)
        # Not terminal: the completed one goes first.
        self.assertEqual(table.remember("t2", "s", "", {"status": ["working"]}), ["t1"])

    def test_a_session_keeps_at_most_its_cap(self) -> None:
        self.patch(aggregate, "TASKS_KEPT", 2)
        agg = TaskHarness()
        session = agg.open()
        made = [agg.start(session, "alpha__research") for _ in range(3)]
        answer = agg.request(session, "tasks/get", {"taskId": made[0]})
        self.assertEqual(answer["error"]["code"], -32602)
        listed = agg.request(session, "tasks/list", {})
        self.assertEqual([t["taskId"] for t in listed["result"]["tasks"]], made[1:])

    def test_the_tasks_are_forgotten_when_the_session_ends(self) -> None:
        agg = TaskHarness()
        session = agg.open()
        agg.start(session, "alpha__research")
        kept = agg.gateway.sessions.get(session)
        self.assertEqual(len(kept.tasks), 1)
        response = agg.harness.request(
            "DELETE", "/mcp", session=session, headers={"mcp-protocol-version": "2025-11-25"}
        )
        self.assertEqual(response.status, 200)
        self.assertEqual(len(kept.tasks), 0)


def _initialize(version: str) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "agg-test", "version": "1"},
        },
    }

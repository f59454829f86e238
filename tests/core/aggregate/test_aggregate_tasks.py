"""Tasks (MCP 2025-11-25) through the aggregate endpoint C{/mcp}: a task a
member created is its session's, under an id of the gateway's own (two
members that number their tasks alike never collide); C{tasks/get},
C{tasks/result} and C{tasks/cancel} reach that member and no other,
C{tasks/list} lists that session's tasks only, a child's
C{notifications/tasks/status} reaches that session only, the related-task
tag of what a child sends names the session's id, C{tasks/result} is
shielded as its tool's result, and the ids kept are bounded and forgotten
with the session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.aggregate import session as aggregatesession
from mcpgateway.core.aggregate import taskrequests as aggregatetasks
from mcpgateway.core.aggregate.types import EndpointSpec, NameSettings, ShieldSpec, TaskTable
from tests.core.aggregate.aggtools import Children, FakeServer, tool
from tests.fakes import FakeProcess
from tests.http import initializeMessage
from tests.support.web.aggregate_web import AggregateHarness, messagesOf

RELATED = "io.modelcontextprotocol/related-task"


Child = tuple[str, str]
"""A task as its child knows it: (server, the child's own task id)."""


class TaskChildren(Children):
    """Fake children that run a C{tools/call} carrying C{task} as a task:
    it is answered with a C{CreateTaskResult} (id C{<server>-task-<n>}, or
    C{<n>} counted per server when L{sameIds}) and stays C{working} until
    the test sets L{status}."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.status: dict[Child, str] = {}
        self.made: dict[Child, FakeProcess] = {}
        self.sameIds = False
        self.resultText: str | None = None
        """The text of every C{tasks/result} (default: C{<server>:<id>:done})."""

    def task(self, child: Child) -> dict[str, Any]:
        return {
            "taskId": child[1],
            "status": self.status[child],
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
            if self.sameIds:
                made = str(1 + sum(1 for s, _ in self.status if s == server))
            else:
                made = f"{server}-task-{len(self.status) + 1}"
            self.status[(server, made)] = "working"
            self.made[(server, made)] = proc
            self._reply(proc, message, {"task": self.task((server, made))})
            return
        if method in ("tasks/get", "tasks/result", "tasks/cancel"):
            self.seen.append((server, message))
            taskId = str(params.get("taskId"))
            child = (server, taskId)
            if self.made.get(child) is not proc:
                proc.reply(
                    {
                        "jsonrpc": "2.0",
                        "id": message["id"],
                        "error": {"code": -32602, "message": "Failed to retrieve task"},
                    }
                )
                return
            if method == "tasks/cancel":
                self.status[child] = "cancelled"
            if method == "tasks/result":
                text = self.resultText or f"{server}:{taskId}:done"
                result = {
                    "content": [{"type": "text", "text": text}],
                    "_meta": {RELATED: {"taskId": taskId}},
                }
                self._reply(proc, message, result)
                return
            self._reply(proc, message, self.task(child))
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

    def request(
        self, session: str, method: str, params: dict[str, Any], path: str = "/mcp"
    ) -> dict[str, Any]:
        self._ids += 1
        return self.call(session, method, params, requestId=self._ids, path=path)

    def start(self, session: str, name: str, path: str = "/mcp") -> str:
        answer = self.request(
            session,
            "tools/call",
            {"name": name, "arguments": {"q": "x"}, "task": {"ttl": 60000}},
            path,
        )
        task = answer["result"]["task"]
        self.assertWorking(task)
        return str(task["taskId"])

    def childOf(self, session: str, taskId: str) -> Child:
        """The task the session's C{taskId} stands for, as its child knows it."""
        entry = self.gateway.sessions.get(session).tasks.get(taskId)
        assert entry is not None, taskId
        return (entry.server, entry.childId)

    def asked(self, method: str) -> list[Child]:
        """The tasks the children were asked C{method} of."""
        return [(s, m["params"]["taskId"]) for s, m in self.tasks.sent(method)]

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
        child = self.agg.childOf(self.session, taskId)
        self.assertEqual(child, ("beta", "beta-task-1"))
        self.assertNotIn("beta-task-1", taskId)  # the gateway's own id
        [(server, call)] = self.agg.tasks.sent("tools/call")
        self.assertEqual((server, call["params"]["name"]), ("beta", "research"))
        self.assertEqual(call["params"]["task"], {"ttl": 60000})

        got = self.agg.request(self.session, "tasks/get", {"taskId": taskId})
        self.assertEqual((got["result"]["taskId"], got["result"]["status"]), (taskId, "working"))
        self.agg.tasks.status[child] = "completed"
        result = self.agg.request(self.session, "tasks/result", {"taskId": taskId})
        self.assertEqual(result["result"]["content"][0]["text"], "beta:beta-task-1:done")
        self.assertEqual(result["result"]["_meta"][RELATED], {"taskId": taskId})
        for method in ("tasks/get", "tasks/result"):
            self.assertEqual(self.agg.asked(method), [child])

    def test_cancel(self) -> None:
        taskId = self.agg.start(self.session, "alpha__research")
        cancelled = self.agg.request(self.session, "tasks/cancel", {"taskId": taskId})
        self.assertEqual(cancelled["result"], {**cancelled["result"], "taskId": taskId})
        self.assertEqual(cancelled["result"]["status"], "cancelled")
        self.assertEqual(self.agg.asked("tasks/cancel"), [("alpha", "alpha-task-1")])
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
        del self.agg.tasks.made[self.agg.childOf(self.session, taskId)]  # expired in the child
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
        children = [self.agg.childOf(self.session, t) for t in (first, second)]
        self.agg.tasks.status[children[0]] = "completed"
        listed = self.agg.request(self.session, "tasks/list", {})
        self.assertEqual(
            [(t["taskId"], t["status"]) for t in listed["result"]["tasks"]],
            [(first, "completed"), (second, "working")],
        )
        self.assertNotIn("nextCursor", listed["result"])
        # Asked of their own members, each once.
        self.assertEqual(sorted(self.agg.asked("tasks/get")), children)
        # A terminal task is not asked again.
        self.agg.request(self.session, "tasks/list", {})
        self.assertEqual(len(self.agg.tasks.sent("tasks/get")), 3)

    def test_list_pages(self) -> None:
        self.patch(aggregatetasks, "TASKS_PAGE", 2)
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
    aggregate session for the tasks it created, with the session's id."""

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

    def test_status_reaches_the_owner_with_its_id(self) -> None:
        taskId = self.agg.start(self.session, "beta__research")
        child = self.agg.childOf(self.session, taskId)
        self.status(self.agg.tasks.made[child], child[1], "completed")
        self.assertEqual([(t["taskId"], t["status"]) for t in self.told()], [(taskId, "completed")])
        # The status is kept: tasks/list does not need to ask again.
        listed = self.agg.request(self.session, "tasks/list", {})
        self.assertEqual([t["status"] for t in listed["result"]["tasks"]], ["completed"])
        self.assertEqual(self.agg.tasks.sent("tasks/get"), [])

    def test_status_of_a_task_the_session_did_not_create_is_dropped(self) -> None:
        taskId = self.agg.start(self.session, "beta__research")
        proc = self.agg.tasks.made[self.agg.childOf(self.session, taskId)]
        self.status(proc, "beta-task-99", "completed")  # never created through /mcp
        alpha = self.agg.start(self.session, "alpha__research")
        _, alphaChild = self.agg.childOf(self.session, alpha)
        self.status(proc, alphaChild, "completed")  # alpha's id, but from beta's child
        self.status(proc, alpha, "completed")  # the session's id is no child's
        self.assertEqual(self.told(), [])


class SameIdsTests(SynchronousTestCase):
    """Two members that both number their tasks C{"1"}: the session has two
    tasks, each under its own id, and every id that crosses says the
    session's id to the client and the child's to the child."""

    def setUp(self) -> None:
        self.agg = TaskHarness(modes={"alpha": "stateful", "beta": "stateful"})
        self.agg.tasks.sameIds = True
        self.session = self.agg.open(capabilities={"roots": {}})
        self.stream = self.agg.get(self.session)
        self.alpha = self.agg.start(self.session, "alpha__research")
        self.beta = self.agg.start(self.session, "beta__research")

    def test_both_tasks_are_reachable_and_distinct(self) -> None:
        self.assertNotEqual(self.alpha, self.beta)
        self.assertNotIn("1", (self.alpha, self.beta))
        self.assertEqual(
            [self.agg.childOf(self.session, t) for t in (self.alpha, self.beta)],
            [("alpha", "1"), ("beta", "1")],
        )
        self.agg.tasks.status[("beta", "1")] = "completed"
        for taskId, status in ((self.alpha, "working"), (self.beta, "completed")):
            got = self.agg.request(self.session, "tasks/get", {"taskId": taskId})["result"]
            self.assertEqual((got["taskId"], got["status"]), (taskId, status))
        self.assertEqual(self.agg.asked("tasks/get"), [("alpha", "1"), ("beta", "1")])
        for taskId, text in ((self.alpha, "alpha:1:done"), (self.beta, "beta:1:done")):
            result = self.agg.request(self.session, "tasks/result", {"taskId": taskId})["result"]
            self.assertEqual(result["content"][0]["text"], text)
            self.assertEqual(result["_meta"][RELATED], {"taskId": taskId})
        self.assertEqual(self.agg.asked("tasks/result"), [("alpha", "1"), ("beta", "1")])

    def test_cancel_and_list_say_the_sessions_ids(self) -> None:
        cancelled = self.agg.request(self.session, "tasks/cancel", {"taskId": self.alpha})
        self.assertEqual(
            (cancelled["result"]["taskId"], cancelled["result"]["status"]),
            (self.alpha, "cancelled"),
        )
        self.assertEqual(self.agg.asked("tasks/cancel"), [("alpha", "1")])
        listed = self.agg.request(self.session, "tasks/list", {})["result"]["tasks"]
        self.assertEqual(
            [(t["taskId"], t["status"]) for t in listed],
            [(self.alpha, "cancelled"), (self.beta, "working")],
        )
        self.assertEqual(self.agg.asked("tasks/get"), [("beta", "1")])

    def test_the_childs_id_is_not_the_sessions(self) -> None:
        for method in ("tasks/get", "tasks/result", "tasks/cancel"):
            answer = self.agg.request(self.session, method, {"taskId": "1"})
            self.assertEqual(answer["error"]["code"], -32602, method)
            self.assertIn("Failed to retrieve task: Task not found", answer["error"]["message"])
            self.assertEqual(self.agg.tasks.sent(method), [])

    def test_status_notifications_say_the_sessions_ids(self) -> None:
        for server in ("beta", "alpha"):
            self.agg.tasks.made[(server, "1")].reply(
                _notification(
                    "notifications/tasks/status",
                    {"taskId": "1", "status": "completed", "ttl": 60000},
                )
            )
        told = [
            (m["params"]["taskId"], m["params"]["status"])
            for m in messagesOf(self.stream)
            if m.get("method") == "notifications/tasks/status"
        ]
        self.assertEqual(told, [(self.beta, "completed"), (self.alpha, "completed")])

    def test_the_related_task_tag_says_the_sessions_id(self) -> None:
        beta = self.agg.tasks.made[("beta", "1")]
        for taskId in ("1", "beta-task-9"):
            beta.reply(
                _notification(
                    "notifications/message",
                    {
                        "level": "info",
                        "data": f"about {taskId}",
                        "_meta": {RELATED: {"taskId": taskId}, "other": 1},
                    },
                )
            )
        beta.reply(
            {
                "jsonrpc": "2.0",
                "id": 77,
                "method": "roots/list",
                "params": {"_meta": {RELATED: {"taskId": "1"}}},
            }
        )
        sent = messagesOf(self.stream)
        logged = [m["params"] for m in sent if m.get("method") == "notifications/message"]
        self.assertEqual(
            [p["_meta"] for p in logged],
            # A task the session does not keep: the tag is dropped.
            [{RELATED: {"taskId": self.beta}, "other": 1}, {"other": 1}],
        )
        [asked] = [m for m in sent if m.get("method") == "roots/list"]
        self.assertEqual(asked["params"]["_meta"], {RELATED: {"taskId": self.beta}})


class ShieldTests(SynchronousTestCase):
    def test_a_large_task_result_is_shielded_as_its_tools_result(self) -> None:
        agg = TaskHarness()
        agg.gateway.aggregateSide.aggregator.useEndpoints(
            {"small": EndpointSpec(name="small", shield=ShieldSpec(enabled=True, budget=2000))},
            NameSettings(),
        )
        session = agg.open("/mcp/small")
        taskId = agg.start(session, "beta__research", path="/mcp/small")
        agg.tasks.resultText = "x" * 50_000
        answer = agg.request(session, "tasks/result", {"taskId": taskId}, "/mcp/small")
        result = answer["result"]
        self.assertLessEqual(len(json.dumps(result)), 2000)
        self.assertIn("ref", result["_meta"]["mcpgateway/shielded"])
        self.assertEqual(result["_meta"][RELATED], {"taskId": taskId})


class BoundTests(SynchronousTestCase):
    def test_the_oldest_terminal_ones_are_forgotten_first(self) -> None:
        table = TaskTable(3, _counted().__next__)
        for n, status in enumerate(["working", "completed", "working"]):
            table.remember("s", f"c{n}", "", "t", {"taskId": f"c{n}", "status": status})
        self.assertEqual(table.remember("s", "c3", "", "t", {"status": "working"}), ("t3", ["t1"]))
        table.ended("t2")
        self.assertEqual(table.remember("s", "c4", "", "t", {"status": "working"}), ("t4", ["t2"]))
        self.assertEqual(table.remember("s", "c5", "", "t", {"status": "working"}), ("t5", ["t0"]))
        self.assertEqual([key for key, _ in table.page(None, 10)[0]], ["t3", "t4", "t5"])
        self.assertEqual([table.idOf("s", f"c{n}") for n in (0, 1, 5)], [None, None, "t5"])

    def test_a_status_that_is_not_a_string_is_unknown(self) -> None:
        table = TaskTable(2, _counted().__next__)
        table.remember("s", "c0", "", "t", {"taskId": "c0", "status": {}})
        table.remember("s", "c1", "", "t", {"taskId": "c1", "status": "completed"})
        table.update("t0", {"status": []})
        entry = table.get("t0")
        assert entry is not None
        self.assertFalse(entry.terminal)
        # Not terminal: the completed one goes first.
        self.assertEqual(
            table.remember("s", "c2", "", "t", {"status": ["working"]}), ("t2", ["t1"])
        )

    def test_ids_are_the_tables_own_per_server_and_child(self) -> None:
        table = TaskTable(8, _counted().__next__)
        self.assertEqual(table.remember("a", "1", "", "a__t", {})[0], "t0")
        self.assertEqual(table.remember("b", "1", "", "b__t", {})[0], "t1")
        self.assertEqual(
            (table.idOf("a", "1"), table.idOf("b", "1"), table.idOf("a", "t0")), ("t0", "t1", None)
        )
        # A child that makes an id again (it started again): the older task
        # is forgotten, never pointed at the newer one.
        self.assertEqual(table.remember("a", "1", "", "a__t", {}), ("t2", ["t0"]))
        self.assertIsNone(table.get("t0"))
        self.assertEqual(table.idOf("a", "1"), "t2")
        table.forget("t2")
        self.assertIsNone(table.idOf("a", "1"))

    def test_random_ids_are_opaque_and_distinct(self) -> None:
        table = TaskTable(8)
        made = {table.remember(s, "1", "", "t", {})[0] for s in ("a", "b", "c")}
        self.assertEqual(len(made), 3)
        for taskId in made:
            self.assertTrue(taskId.startswith("mcpgateway-task-"), taskId)
            self.assertGreaterEqual(len(taskId), len("mcpgateway-task-") + 20)

    def test_a_session_keeps_at_most_its_cap(self) -> None:
        self.patch(aggregatesession, "TASKS_KEPT", 2)
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


def _counted() -> Iterator[str]:
    """Task ids C{t0}, C{t1}, ... (for L{TaskTable}'s C{newId})."""
    return (f"t{n}" for n in range(1000))


def _notification(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def _initialize(version: str) -> dict[str, Any]:
    return initializeMessage(version, clientInfo={"name": "agg-test", "version": "1"})

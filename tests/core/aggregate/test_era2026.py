"""The aggregate endpoint's L{AggregateEra2026} (MCP 2026-07-28) as the web
calls it, on a gateway with fake children: what a principal's servers
leave out, tasks a member made found through the aggregate (and by no
other principal or route), and listen streams that carry the aggregate's
own list changes and their members' resource updates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.aggregate.era2026 import AggregateEra2026, branded
from mcpgateway.core.aggregate.era2026listen import AggregateListen, detached, openListen
from mcpgateway.core.aggregate.session import AggregateSession
from mcpgateway.core.aggregate.view import Member, View
from mcpgateway.core.era2026.types import Era2026Request, ListenFilter, ListenHandle, Sink
from mcpgateway.core.pools.pool import PoolLike, ServerUnavailable
from mcpgateway.protocol import era2026form, jsonrpc
from tests.fakes import RecordingSink
from tests.support.core.aggregate.era2026 import era2026
from tests.support.core.aggregate.era2026_case import AggregateEra2026Case
from tests.support.web.aggregate_era2026 import TASKS, AggregateEra2026Harness
from tests.support.web.aggregate_web import fresh, serverSpec

WITH_TASKS: dict[str, Any] = {"extensions": {TASKS: {}}}


class Case(AggregateEra2026Case):
    def call(self, request: Era2026Request) -> Deferred[jsonrpc.Message]:
        answered = self.service.era2026Call("/mcp", request, RecordingSink())
        self.agg.children.pump()
        return answered


class PrincipalTests(Case):
    def test_a_principal_sees_and_calls_only_its_servers(self) -> None:
        mine = frozenset({"alpha"})
        listed = self.successResultOf(
            self.call(era2026(1, "tools/list", principal="p1", servers=mine))
        )
        self.assertEqual(
            [t["name"] for t in listed["result"]["tools"]], ["alpha__echo", "alpha__read_file"]
        )
        # What a principal sees depends on it: not for a shared cache.
        self.assertEqual(listed["result"]["cacheScope"], "private")
        refused = self.successResultOf(
            self.call(
                era2026(2, "tools/call", {"name": "beta__echo"}, principal="p1", servers=mine)
            )
        )
        self.assertEqual(refused["error"], {"code": -32602, "message": "Unknown tool: beta__echo"})
        self.assertEqual(self.agg.sent("tools/call"), [])

    def test_no_session_is_registered_for_any_request(self) -> None:
        for method in ("server/discover", "tools/list", "prompts/list"):
            self.successResultOf(self.call(era2026(3, method)))
        self.successResultOf(self.call(era2026(4, "tools/call", {"name": "alpha__echo"})))
        self.assertEqual(len(self.agg.gateway.sessions), 0)
        self.assertEqual(self.agg.gateway.aggregateSide.aggregator.sessions, set())
        self.assertEqual(self.service.era2026Stats("/mcp").requests, 4)

    def test_param_headers_come_from_the_views_definition(self) -> None:
        self.successResultOf(self.call(era2026(5, "tools/list")))
        self.assertEqual(self.service.paramHeaders("/mcp", "", "alpha__echo"), {})
        self.assertIsNone(self.service.paramHeaders("/mcp", "", "nope__echo"))

    def test_a_members_server_info_becomes_the_aggregates(self) -> None:
        answer = jsonrpc.resultResponse(
            1,
            {"content": [], "_meta": {era2026form.SERVER_INFO_KEY: {"name": "alpha"}, "k": 1}},
        )
        meta = branded(answer)["result"]["_meta"]
        self.assertEqual((meta[era2026form.SERVER_INFO_KEY]["name"], meta["k"]), ("mcpgateway", 1))
        plain = jsonrpc.resultResponse(1, {"taskId": "t"})
        self.assertIs(branded(plain), plain)


class TaskTests(Case):
    holdAlpha = True
    withTasks = True

    def started(self, principal: str = "") -> str:
        """A call of alpha__echo that became a task; its id."""
        request = era2026(
            10,
            "tools/call",
            {"name": "alpha__echo", "arguments": {}},
            capabilities=WITH_TASKS,
            principal=principal,
        )
        answered = self.call(request)
        self.assertNoResult(answered)
        self.agg.harness.reactor.advance(0.5)
        handle = self.successResultOf(answered)["result"]
        self.assertEqual((handle["resultType"], handle["status"]), ("task", "working"))
        return str(handle["taskId"])

    def poll(self, method: str, taskId: str, **fields: Any) -> jsonrpc.Message:
        fields.setdefault("capabilities", WITH_TASKS)
        return self.successResultOf(self.call(era2026(11, method, {"taskId": taskId}, **fields)))

    def test_a_members_task_is_found_through_the_aggregate(self) -> None:
        taskId = self.started()
        assert self.agg.tasks is not None
        task = self.agg.tasks.store.get(taskId)
        assert task is not None
        self.assertEqual((task.server, task.scope), ("alpha", ""))
        self.assertEqual(self.poll("tasks/get", taskId)["result"]["status"], "working")
        [(proc, call)] = self.agg.children.held
        proc.reply(jsonrpc.resultResponse(call["id"], {"content": [{"type": "text", "text": "x"}]}))
        got = self.poll("tasks/get", taskId)["result"]
        self.assertEqual(got["status"], "completed")
        self.assertEqual(got["result"]["content"][0]["text"], "x")

    def test_another_principal_or_a_principal_without_the_server_gets_unknown(self) -> None:
        taskId = self.started(principal="p1")
        for fields in ({"principal": "p2"}, {"principal": "p1", "servers": frozenset({"beta"})}):
            error = self.poll("tasks/get", taskId, **fields)["error"]
            self.assertEqual(error["code"], -32602)
            self.assertEqual(error["message"], f"Invalid params: unknown task {taskId!r}")
        self.assertEqual(
            self.poll("tasks/get", taskId, principal="p1")["result"]["status"], "working"
        )

    def test_a_task_is_cancelled_at_its_member(self) -> None:
        taskId = self.started()
        self.assertEqual(self.poll("tasks/cancel", taskId)["result"], {"resultType": "complete"})
        self.assertEqual(self.poll("tasks/get", taskId)["result"]["status"], "cancelled")
        [(proc, call)] = self.agg.children.held
        cancelled = [m for m in proc.sentMessages() if m.get("method") == "notifications/cancelled"]
        self.assertEqual(cancelled[0]["params"]["requestId"], call["id"])

    def test_a_listen_naming_a_members_task_is_told_its_status(self) -> None:
        taskId = self.started(principal="p1")
        sink, others = RecordingSink(), RecordingSink()
        listen = era2026("l-1", "subscriptions/listen", capabilities=WITH_TASKS, principal="p1")
        handle = self.successResultOf(
            self.service.listen("/mcp", listen, ListenFilter(taskIds=(taskId,)), sink)
        )
        self.assertEqual(handle.honoured, ListenFilter(taskIds=(taskId,)))
        stranger = era2026("l-2", "subscriptions/listen", capabilities=WITH_TASKS, principal="p2")
        elsewhere = self.successResultOf(
            self.service.listen("/mcp", stranger, ListenFilter(taskIds=(taskId,)), others)
        )
        self.assertEqual(elsewhere.honoured, ListenFilter())
        self.agg.harness.reactor.advance(0)
        [(proc, call)] = self.agg.children.held
        proc.reply(jsonrpc.resultResponse(call["id"], {"content": [{"type": "text", "text": "x"}]}))
        self.assertEqual([m["params"]["status"] for m in sink.messages], ["working", "completed"])
        self.assertEqual(sink.messages[-1]["params"]["result"]["content"][0]["text"], "x")
        self.assertEqual(others.messages, [])

    def test_without_the_extension_it_is_missing_capability(self) -> None:
        error = self.poll("tasks/get", "t-1", capabilities={})["error"]
        self.assertEqual(error["code"], jsonrpc.MISSING_CAPABILITY)

    def test_a_gateway_without_tasks_does_not_know_the_method(self) -> None:
        agg = AggregateEra2026Harness(fresh())
        service = AggregateEra2026(agg.gateway)
        answer = self.successResultOf(
            service.era2026Call(
                "/mcp",
                era2026(1, "tasks/get", {"taskId": "t"}, capabilities=WITH_TASKS),
                RecordingSink(),
            )
        )
        self.assertEqual(answer["error"]["code"], jsonrpc.METHOD_NOT_FOUND)


class ListenTests(Case):
    def listen(self, wanted: ListenFilter) -> tuple[AggregateListen, RecordingSink]:
        sink = RecordingSink()
        opening = self.service.listen("/mcp", era2026("l-1", "subscriptions/listen"), wanted, sink)
        self.agg.children.pump()
        handle = self.successResultOf(opening)
        assert isinstance(handle, AggregateListen)
        return handle, sink

    def test_list_flags_and_the_members_uris_are_honoured(self) -> None:
        wanted = ListenFilter(
            tools=True, resources=True, uris=("file:///b.txt", "file:///c.txt", "file:///a.txt")
        )
        handle, _ = self.listen(wanted)
        self.assertEqual(
            handle.honoured,
            ListenFilter(tools=True, resources=True, uris=("file:///b.txt", "file:///a.txt")),
        )
        subscribed = sorted(
            (s, m["params"]["uri"]) for s, m in self.agg.sent("resources/subscribe")
        )
        self.assertEqual(subscribed, [("alpha", "file:///a.txt"), ("beta", "file:///b.txt")])
        self.assertEqual(self.service.era2026Stats("/mcp").listenStreams, 1)

    def test_a_members_resource_update_reaches_the_stream(self) -> None:
        _, sink = self.listen(ListenFilter(uris=("file:///a.txt",)))
        proc = next(p for p in self.agg.harness.reactor.processes if "--name=alpha" in p.args)
        for uri in ("file:///a.txt", "file:///z.txt"):
            proc.reply(jsonrpc.notification("notifications/resources/updated", {"uri": uri}))
        self.assertEqual([m["params"]["uri"] for m in sink.messages], ["file:///a.txt"])

    def test_an_apps_and_a_skills_uri_go_to_their_member_under_its_own_uris(self) -> None:
        shown = ("ui://alpha/clock/app.html", "skill://alpha/refunds/SKILL.md", "file:///a.txt")
        handle, sink = self.listen(ListenFilter(uris=shown))
        self.assertEqual(handle.honoured.uris, shown)
        subscribed = sorted(m["params"]["uri"] for _, m in self.agg.sent("resources/subscribe"))
        self.assertEqual(
            subscribed, ["file:///a.txt", "skill://refunds/SKILL.md", "ui://clock/app.html"]
        )
        proc = next(p for p in self.agg.harness.reactor.processes if "--name=alpha" in p.args)
        for uri in ("ui://clock/app.html", "skill://refunds/SKILL.md", "ui://other.html"):
            proc.reply(jsonrpc.notification("notifications/resources/updated", {"uri": uri}))
        self.assertEqual(
            [m["params"]["uri"] for m in sink.messages],
            ["ui://alpha/clock/app.html", "skill://alpha/refunds/SKILL.md"],
        )

    def test_a_removed_server_is_the_aggregates_list_change(self) -> None:
        _, sink = self.listen(ListenFilter(tools=True, prompts=True, resources=True))
        self.agg.gateway.reconfigurer.reconfigure({"alpha": serverSpec("alpha")})
        self.agg.children.pump()
        self.assertEqual(sink.messages, [])  # coalesced first
        self.agg.harness.reactor.advance(0.25)
        self.assertEqual(
            [m["method"] for m in sink.messages],
            ["notifications/tools/list_changed", "notifications/resources/list_changed"],
        )

    def test_closing_gives_back_the_subscriptions_and_the_watch(self) -> None:
        handle, sink = self.listen(ListenFilter(tools=True, uris=("file:///a.txt",)))
        handle.close()
        self.agg.children.pump()
        unsubscribed = [m["params"]["uri"] for _, m in self.agg.sent("resources/unsubscribe")]
        self.assertEqual(unsubscribed, ["file:///a.txt"])
        self.assertEqual(self.agg.gateway.aggregateSide.aggregator.watchers, set())
        self.agg.gateway.aggregateSide.aggregator.membersChanged()
        self.agg.harness.reactor.advance(1)
        self.assertEqual(sink.messages, [])

    def test_a_members_stream_ending_ends_the_aggregates(self) -> None:
        handle, _ = self.listen(ListenFilter(tools=True, uris=("file:///a.txt",)))
        self.agg.gateway.pools["alpha"].endEra2026("the gateway is shutting down")
        self.assertEqual(self.successResultOf(handle.ended), "the gateway is shutting down")
        self.assertFalse(handle.open)
        self.assertEqual(self.agg.gateway.aggregateSide.aggregator.watchers, set())
        self.assertEqual(self.service.era2026Stats("/mcp").listenStreams, 0)

    def test_a_listen_cancelled_while_opening_leaves_nothing(self) -> None:
        sink = RecordingSink()
        wanted = ListenFilter(tools=True, uris=("file:///a.txt",))
        opening = self.service.listen("/mcp", era2026("l-2", "subscriptions/listen"), wanted, sink)
        opening.cancel()  # before the children answered their handshake
        self.failureResultOf(opening, CancelledError)
        self.agg.children.pump()
        self.assertEqual(self.agg.gateway.aggregateSide.aggregator.watchers, set())
        self.assertEqual(self.agg.sent("resources/subscribe"), [])


def succeedWith(value: Any) -> Deferred[Any]:
    d: Deferred[Any] = Deferred()
    d.callback(value)
    return d


class FakeWatched:
    """An aggregator that shows one view and keeps its watchers."""

    def __init__(self, view: View) -> None:
        self.view = view
        self.watchers: set[Callable[[], object]] = set()

    def viewNow(self, session: AggregateSession) -> View:
        return self.view


class FakePool:
    """A member pool whose listen streams open when the test says: its
    2026 side is itself."""

    def __init__(self) -> None:
        self.opening: list[Deferred[ListenHandle]] = []
        self.era2026 = self

    def listen(
        self, request: Era2026Request, wanted: ListenFilter, sink: Sink
    ) -> Deferred[ListenHandle]:
        d: Deferred[ListenHandle] = Deferred()
        self.opening.append(d)
        return d


class OpenListenTests(SynchronousTestCase):
    def setUp(self) -> None:
        lists = {"resources": [{"uri": "u:1", "name": "one"}]}
        self.view = View(
            mode="full", members={"alpha": Member("alpha", "", lists)}, uris={"u:1": ("alpha",)}
        )
        self.aggregator = FakeWatched(self.view)
        self.pool = FakePool()
        self.session = AggregateSession("s", "/mcp", "2026-07-28", {}, {}, 0.0)

    def open(self) -> Deferred[AggregateListen]:
        pool = cast(PoolLike, self.pool)
        request = era2026("l", "subscriptions/listen")
        return openListen(
            self.aggregator,
            Clock(),
            self.session,
            self.view,
            lambda server: (pool, request),
            ListenFilter(tools=True, uris=("u:1",)),
            RecordingSink(),
        )

    def test_cancelled_while_a_member_opens_it_closes_what_it_opened(self) -> None:
        opening = self.open()
        self.assertEqual(len(self.aggregator.watchers), 1)
        opening.cancel()
        self.failureResultOf(opening, CancelledError)
        self.assertEqual(self.aggregator.watchers, set())
        self.assertTrue(self.pool.opening[0].called)  # the member's opening was cancelled

    def test_a_member_stream_adopted_after_the_close_is_closed(self) -> None:
        class Handle:
            honoured = ListenFilter(uris=("u:1",))
            ended: Deferred[str] = Deferred()
            closed = False

            def close(self) -> None:
                self.closed = True

        late = Handle()
        self.pool.listen = lambda *args: succeedWith(late)  # type: ignore[method-assign]
        opening = self.open()
        handle = self.successResultOf(opening)
        self.assertEqual(handle.honoured.uris, ("u:1",))
        handle.close()
        self.assertTrue(late.closed)
        again = Handle()
        handle.adopt(cast(ListenHandle, again), [("u:1", "u:1")])  # after the close: closed
        self.assertTrue(again.closed)

    def test_a_member_that_cannot_listen_leaves_its_uris_unhonoured(self) -> None:
        opening = self.open()
        self.pool.opening[0].errback(ServerUnavailable("alpha is not running"))
        handle = self.successResultOf(opening)
        self.assertEqual(handle.honoured, ListenFilter(tools=True))
        handle.close()
        self.assertEqual(self.aggregator.watchers, set())


class DetachedTests(SynchronousTestCase):
    def test_cancelling_the_copy_does_not_cancel_what_it_waits_for(self) -> None:
        waited: Deferred[int] = Deferred()
        copy = detached(waited)
        copy.cancel()
        self.failureResultOf(copy, CancelledError)
        self.assertNoResult(waited)
        waited.callback(1)
        self.assertEqual(self.successResultOf(waited), None)

    def test_the_copy_fires_as_the_original(self) -> None:
        waited: Deferred[int] = Deferred()
        copy = detached(waited)
        waited.callback(7)
        self.assertEqual(self.successResultOf(copy), 7)

"""The gateway as the web's Era2026Gateway: which servers serve MCP 2026-07-28
clients, discover from the child's initialize, finished results, the tool
header maps, a call with input rounds through a real pool, credentials,
counters, promotion, and a stop that ends suspended calls and listens."""

from __future__ import annotations

import dataclasses
from typing import Any

from twisted.internet.defer import CancelledError
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.era2026.callers import RECENT_WINDOW
from mcpgateway.core.era2026.mrtr import COALESCE
from mcpgateway.core.era2026.types import Era2026Gateway, Era2026Request, ListenFilter
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.pools.shared import SharedPlacement
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.status import Era2026Stats
from mcpgateway.core.tasks.manager import TaskManager
from mcpgateway.core.tasks.store import TaskStore
from mcpgateway.core.taskterms import EXTENSION
from mcpgateway.protocol import childhints, era2026form, jsonrpc
from tests.core.tasks.support import serveTasks
from tests.fakes import FakeProcessReactor, RecordingSink, fakeSpawner

Message = dict[str, Any]

EXE = "/opt/srv/bin/srv"
SPEC = ServerSpec(name="srv", command="srv", executable=EXE, requestTimeout=10.0)
INFO = {"name": "child", "version": "9", "title": "Child"}
CAPS = {"tools": {"listChanged": True}, "tasks": {"list": {}}, "logging": {}}
INIT_RESULT = {
    "protocolVersion": "2025-11-25",
    "capabilities": CAPS,
    "serverInfo": INFO,
    "instructions": "be nice",
}
ALL_CAPS: dict[str, Any] = {"sampling": {}, "elicitation": {"form": {}, "url": {}}, "roots": {}}
TOOL = {
    "name": "search",
    "inputSchema": {
        "type": "object",
        "properties": {"region": {"type": "string", "x-mcp-header": "Region"}},
    },
    "execution": {"taskSupport": "optional"},
}


def era2026(
    clientId: Any, method: str, params: dict[str, Any] | None = None, **fields: Any
) -> Era2026Request:
    return Era2026Request(
        clientId=clientId,
        method=method,
        params=params or {},
        capabilities=fields.pop("capabilities", ALL_CAPS),
        **fields,
    )


class Era2026Case(SynchronousTestCase):
    specs = {"srv": SPEC}

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.gateway = Gateway(
            self.specs,
            fakeSpawner(self.reactor),
            era2026InputTimeout=30.0,
            maxSuspendedCalls=8,
            lazyStart=False,
        )

    def started(self) -> list[Message]:
        """Answer the initialize of the child just spawned; what it got next."""
        proc = self.reactor.lastProcess
        [init] = proc.takeMessages()
        self.assertEqual(init["method"], "initialize")
        proc.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
        sent = proc.takeMessages()
        self.assertEqual(sent[0], jsonrpc.notification("notifications/initialized"))
        return sent[1:]

    def call(
        self, request: Era2026Request, server: str = "srv"
    ) -> tuple[Any, RecordingSink, list[Message]]:
        """One 2026 request; what the child got for it (the child is
        started and initialized on the way when needed)."""
        sink = RecordingSink()
        spawned = len(self.reactor.processes)
        d = self.gateway.era2026Call(server, request, sink)
        sent = self.started() if len(self.reactor.processes) > spawned else []
        if self.reactor.processes:
            sent += self.reactor.lastProcess.takeMessages()
        return d, sink, sent


class ServiceTests(Era2026Case):
    def test_the_gateway_is_a_era2026_service(self) -> None:
        service: Era2026Gateway = self.gateway
        self.assertIsNone(service.era2026Refusal("srv"))
        self.assertIn("no server", service.era2026Refusal("nope") or "")

    def test_discover_starts_the_child_and_answers_from_its_initialize(self) -> None:
        d, _, sent = self.call(era2026("d-1", "server/discover"))
        self.assertEqual(sent, [])  # never sent to a handshake child
        response = self.successResultOf(d)
        self.assertEqual(response["id"], "d-1")
        result = response["result"]
        self.assertEqual(result["resultType"], "complete")
        self.assertEqual(result["supportedVersions"], ["2026-07-28"])
        self.assertEqual(result["capabilities"], {"tools": {"listChanged": True}, "logging": {}})
        self.assertEqual(result["instructions"], "be nice")
        self.assertEqual(result["_meta"], {era2026form.SERVER_INFO_KEY: INFO})
        self.assertEqual((result["ttlMs"], result["cacheScope"]), (0, "public"))
        self.assertEqual(self.gateway.era2026Stats("srv").requests, 1)
        self.assertEqual(len(self.gateway.sessions), 0)

    def test_a_list_is_finished_and_its_header_maps_kept(self) -> None:
        self.assertIsNone(self.gateway.paramHeaders("srv", "", "search"))
        d, _, sent = self.call(era2026(3, "tools/list"))
        [forwarded] = sent
        self.assertEqual((forwarded["method"], forwarded.get("params")), ("tools/list", {}))
        proc = self.reactor.lastProcess
        proc.reply(jsonrpc.resultResponse(forwarded["id"], {"tools": [TOOL]}))
        result = self.successResultOf(d)["result"]
        self.assertEqual(result["resultType"], "complete")
        self.assertEqual((result["ttlMs"], result["cacheScope"]), (0, "public"))
        self.assertEqual(result["_meta"], {era2026form.SERVER_INFO_KEY: INFO})
        self.assertNotIn("execution", result["tools"][0])
        self.assertEqual(self.gateway.paramHeaders("srv", "", "search"), {"Region": "region"})
        self.assertIsNone(self.gateway.paramHeaders("srv", "", "other"))
        self.assertIsNone(self.gateway.paramHeaders("srv", "ws", "search"))
        proc.reply(jsonrpc.notification("notifications/tools/list_changed"))
        self.assertIsNone(self.gateway.paramHeaders("srv", "", "search"))

    def test_a_question_during_a_list_is_refused_and_counted(self) -> None:
        """The child asks C{roots/list} during a 2026 client's C{tools/list}:
        it is refused, the list goes on, and the server's stats count it
        (what C{/health} and C{mcpgateway doctor} show)."""
        d, _, sent = self.call(era2026(3, "tools/list"))
        [forwarded] = sent
        proc = self.reactor.lastProcess
        proc.reply(jsonrpc.request(50, "roots/list", {}))
        [refusal] = proc.takeMessages()
        self.assertEqual(refusal["id"], 50)
        self.assertEqual(
            refusal["error"]["message"],
            "roots/list: a 2026 client cannot be asked anything during tools/list",
        )
        proc.reply(jsonrpc.resultResponse(forwarded["id"], {"tools": []}))
        self.assertEqual(self.successResultOf(d)["result"]["tools"], [])
        self.assertEqual(self.gateway.era2026Stats("srv").refusedServerRequests, 1)
        status = self.gateway.readModel.server("srv")
        self.assertEqual(status.era2026Stats.refusedServerRequests, 1)

    def test_a_method_whose_capability_the_child_lacks_is_not_found(self) -> None:
        d, _, sent = self.call(era2026(4, "prompts/list"))
        self.assertEqual(sent, [])
        error = self.successResultOf(d)["error"]
        self.assertEqual(error["code"], jsonrpc.METHOD_NOT_FOUND)
        self.assertIn("prompts", error["message"])

    def test_era2026_traffic_keeps_the_shared_child_from_looking_unused(self) -> None:
        """No session is ever attached: the child's last 2026 request is
        its last use (a reaper's child-idle-timeout must not stop a child in
        steady 2026 use)."""
        _d, _, [forwarded] = self.call(era2026(1, "tools/list"))
        self.reactor.lastProcess.reply(jsonrpc.resultResponse(forwarded["id"], {"tools": []}))
        self.reactor.advance(500)
        self.call(era2026(2, "tools/list"))
        self.reactor.lastProcess.reply(jsonrpc.resultResponse(forwarded["id"] + 1, {"tools": []}))
        self.reactor.advance(5)
        idle = self.gateway.pools["srv"].idle(self.reactor.seconds())
        assert idle is not None
        self.assertEqual((idle.quiet, idle.unused), (5, 5))

    def test_the_status_counts_the_clients_without_a_session(self) -> None:
        """Each 2026 caller (principal, clientInfo name, pid) counts as a
        client of the server in its status, on the pool's clock, while
        the gateway lists no session for any of them."""
        callers: list[dict[str, Any]] = [
            {"clientInfo": {"name": "claude"}, "clientPid": 11},
            {"clientInfo": {"name": "claude"}, "clientPid": 12},
            {"clientInfo": {"name": "claude"}, "clientPid": 12},
            {"clientInfo": {"name": "cursor"}},
            {"clientInfo": {"name": "cursor"}, "principal": "p-1"},
        ]
        for clientId, fields in enumerate(callers):
            self.call(era2026(clientId, "server/discover", **fields))
        status = self.gateway.readModel.server("srv")
        self.assertEqual((status.era2026Stats.clients, status.sessions), (4, 0))
        self.reactor.advance(RECENT_WINDOW)
        self.assertEqual(self.gateway.era2026Stats("srv").clients, 0)

    def test_a_listen_makes_its_client_count(self) -> None:
        opening = self.gateway.listen(
            "srv",
            era2026("l-1", "subscriptions/listen", clientInfo={"name": "watcher"}),
            ListenFilter(tools=True),
            RecordingSink(),
        )
        self.started()
        self.successResultOf(opening)
        self.assertEqual(self.gateway.era2026Stats("srv").clients, 1)

    def test_methods_outside_the_era2026_set_never_reach_the_child(self) -> None:
        for method in ("initialize", "ping", "subscriptions/listen", "tasks/get"):
            d, _, sent = self.call(era2026(4, method))
            self.assertEqual(sent, [], method)
            self.assertEqual(self.successResultOf(d)["error"]["code"], jsonrpc.METHOD_NOT_FOUND)

    def test_child_errors_are_translated(self) -> None:
        d, _, [forwarded] = self.call(era2026(5, "tools/call", {"name": "t", "arguments": {}}))
        self.reactor.lastProcess.reply(jsonrpc.errorResponse(forwarded["id"], -32050, "odd"))
        error = self.successResultOf(d)["error"]
        self.assertEqual(error["code"], jsonrpc.INTERNAL_ERROR)
        self.assertEqual(error["data"]["original"]["code"], -32050)

    def test_a_server_that_cannot_start_answers_in_band(self) -> None:
        self.gateway = Gateway(
            {"srv": dataclasses.replace(SPEC, executable=None)},
            fakeSpawner(self.reactor),
            lazyStart=False,
        )
        response = self.successResultOf(
            self.gateway.era2026Call("srv", era2026(6, "tools/list"), RecordingSink())
        )
        self.assertEqual(
            (response["id"], response["error"]["code"]), (6, jsonrpc.SERVER_UNAVAILABLE)
        )

    def test_cancelling_a_call_cancels_it_on_the_child(self) -> None:
        d, _, [forwarded] = self.call(era2026(7, "tools/call", {"name": "t", "arguments": {}}))
        d.cancel()
        self.failureResultOf(d, CancelledError)
        [cancelled] = self.reactor.lastProcess.takeMessages()
        self.assertEqual(
            cancelled["params"], {"requestId": forwarded["id"], "reason": "client disconnected"}
        )

    def test_a_call_with_an_input_round_through_the_pool(self) -> None:
        params = {"name": "book", "arguments": {"x": 1}, "_meta": {"progressToken": 7}}
        d1, _, [forwarded] = self.call(era2026(7, "tools/call", params))
        proc = self.reactor.lastProcess
        proc.reply(
            jsonrpc.request(
                "c-1",
                "elicitation/create",
                {
                    "message": "name?",
                    "requestedSchema": {"type": "object"},
                    "_meta": {
                        childhints.HINT_RELATED: forwarded["id"],
                        childhints.HINT_KEY: "user_name",
                    },
                },
            )
        )
        self.reactor.advance(COALESCE)
        result = self.successResultOf(d1)["result"]
        self.assertEqual(result["resultType"], "input_required")
        self.assertEqual(list(result["inputRequests"]), ["user_name"])
        self.assertEqual(result["_meta"], {era2026form.SERVER_INFO_KEY: INFO})
        self.assertNotIn("ttlMs", result)
        self.assertEqual(self.gateway.era2026Stats("srv").suspendedCalls, 1)
        self.assertEqual(self.gateway.readModel.server("srv").era2026Stats.suspendedCalls, 1)
        retry = era2026(
            8,
            "tools/call",
            {**params, "_meta": {"progressToken": 8}},
            inputResponses={"user_name": {"action": "accept", "content": {"name": "octocat"}}},
            requestState=result["requestState"],
        )
        d2, _, sent = self.call(retry)
        self.assertEqual(
            sent,
            [jsonrpc.resultResponse("c-1", {"action": "accept", "content": {"name": "octocat"}})],
        )
        proc.reply(jsonrpc.resultResponse(forwarded["id"], {"content": [], "isError": False}))
        done = self.successResultOf(d2)
        self.assertEqual(done["id"], 8)
        self.assertEqual(done["result"]["resultType"], "complete")
        self.assertNotIn("ttlMs", done["result"])
        stats = self.gateway.era2026Stats("srv")
        self.assertEqual((stats.requests, stats.inputRounds, stats.suspendedCalls), (2, 1, 0))


class RefusalTests(Era2026Case):
    specs = {
        "srv": SPEC,
        "own": dataclasses.replace(SPEC, name="own", mode="session"),
        "off": dataclasses.replace(SPEC, name="off", era2026=False),
        "dis": dataclasses.replace(SPEC, name="dis", disabled=True),
    }

    def test_servers_that_do_not_serve_era2026_clients_say_why(self) -> None:
        for name, why in (("own", "per session"), ("off", '"era2026": false'), ("dis", "disabled")):
            reason = self.gateway.era2026Refusal(name)
            assert reason is not None, name
            self.assertIn(why, reason)
            self.assertEqual(self.gateway.readModel.server(name).era2026, reason)
            for method in ("server/discover", "tools/list"):
                response = self.successResultOf(
                    self.gateway.era2026Call(name, era2026(1, method), RecordingSink())
                )
                self.assertEqual(response["error"]["code"], jsonrpc.METHOD_NOT_FOUND, name)
                self.assertEqual(response["error"]["message"], reason)
            self.failureResultOf(
                self.gateway.listen(
                    name, era2026(2, "subscriptions/listen"), ListenFilter(), RecordingSink()
                )
            )
        self.assertEqual(self.reactor.processes, [])
        self.assertIsNone(self.gateway.readModel.server("srv").era2026)

    def test_an_unknown_server(self) -> None:
        response = self.successResultOf(
            self.gateway.era2026Call("nope", era2026(1, "tools/list"), RecordingSink())
        )
        self.assertEqual(response["error"]["code"], jsonrpc.METHOD_NOT_FOUND)
        self.assertEqual(self.gateway.era2026Stats("nope"), Era2026Stats())
        self.assertIsNone(self.gateway.paramHeaders("nope", "", "t"))

    def test_a_promoted_server_keeps_serving_era2026_clients(self) -> None:
        pool = self.gateway.pools["srv"]
        pool._ownEach = True  # type: ignore[attr-defined]
        _d, _, sent = self.call(era2026(1, "tools/list"))
        self.assertEqual([m["method"] for m in sent], ["tools/list"])


class CredentialTests(Era2026Case):
    specs = {"cred": dataclasses.replace(SPEC, name="cred", credentialEnv=("TOKEN",))}

    def test_credentials_pick_the_child_and_results_are_private(self) -> None:
        request = era2026(
            1, "server/discover", credentialKey="k1", credentials=(("TOKEN", "secret"),)
        )
        d, _, _ = self.call(request, "cred")
        self.assertEqual(self.successResultOf(d)["result"]["cacheScope"], "private")
        [(_, _, env, _)] = self.reactor.spawned
        assert env is not None
        self.assertEqual(env["TOKEN"], "secret")

    def test_a_token_is_bound_to_its_credentials(self) -> None:
        params = {"name": "t", "arguments": {}}
        d1, _, [_forwarded] = self.call(
            era2026(1, "tools/call", params, credentialKey="k1", credentials=(("TOKEN", "a"),)),
            "cred",
        )
        self.reactor.lastProcess.reply(jsonrpc.request("c-1", "roots/list"))
        self.reactor.advance(COALESCE)
        state = self.successResultOf(d1)["result"]["requestState"]
        other = era2026(
            2,
            "tools/call",
            params,
            credentialKey="k2",
            credentials=(("TOKEN", "b"),),
            inputResponses={"roots-1": {"roots": []}},
            requestState=state,
        )
        d2, _, _ = self.call(other, "cred")
        self.assertEqual(self.successResultOf(d2)["error"]["code"], jsonrpc.INVALID_PARAMS)
        self.assertEqual(self.gateway.era2026Stats("cred").badRequestStates, 1)


class PromotionTests(Era2026Case):
    def test_a_era2026_call_never_gets_a_server_promoted(self) -> None:
        session, opened = self.gateway.opener.openSession(
            "srv", jsonrpc.request(0, "initialize", {"capabilities": ALL_CAPS}), "2025-11-25"
        )
        self.started()
        proc = self.reactor.lastProcess
        self.successResultOf(opened)
        self.gateway.pools["srv"].forward(
            session, jsonrpc.request(1, "tools/call", {"name": "x"}), RecordingSink()
        )
        self.call(era2026(2, "tools/call", {"name": "y", "arguments": {}}))
        proc.takeMessages()
        proc.reply(jsonrpc.request("c-1", "sampling/createMessage", {"messages": []}))
        [refusal] = proc.takeMessages()
        self.assertEqual(refusal["error"]["code"], jsonrpc.INTERNAL_ERROR)
        self.assertIsNone(self.gateway.pools["srv"].promoted)


class PromotedAtStartTests(Era2026Case):
    """A restart after a promotion: the spec comes from C{promotions.json}
    (C{share: session} with why). 2026 requests stay where they were
    before the restart, on the shared child; every 2025 session, restored
    or new, gets a child of its own."""

    specs = {"srv": dataclasses.replace(SPEC, mode="session", promoted="sampled")}

    def test_era2026_clients_are_still_served_after_the_restart(self) -> None:
        self.assertIsNone(self.gateway.era2026Refusal("srv"))
        status = self.gateway.readModel.server("srv")
        self.assertEqual(
            (status.sharing.value, status.promoted, status.era2026), ("session", "sampled", None)
        )
        d, _, sent = self.call(era2026(1, "tools/list"))
        [forwarded] = sent
        self.assertEqual(forwarded["method"], "tools/list")
        self.reactor.lastProcess.reply(jsonrpc.resultResponse(forwarded["id"], {"tools": []}))
        self.assertEqual(self.successResultOf(d)["result"]["tools"], [])

    def test_every_2025_session_still_gets_a_child_of_its_own(self) -> None:
        self.successResultOf(self.call(era2026(1, "server/discover"))[0])
        shared = self.reactor.lastProcess
        session, opened = self.gateway.opener.openSession(
            "srv", jsonrpc.request(0, "initialize", {"capabilities": ALL_CAPS}), "2025-11-25"
        )
        self.assertEqual(len(self.reactor.processes), 2)
        [init] = self.reactor.lastProcess.takeMessages()  # the client's own initialize
        self.reactor.lastProcess.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
        self.successResultOf(opened)
        self.assertIsNot(self.reactor.lastProcess, shared)
        pool = self.gateway.pools["srv"]
        self.assertTrue(pool.ownsChildren())
        self.assertEqual(pool.ownChildPids(session), [self.reactor.lastProcess.pid])

    def test_a_restored_session_gets_a_child_of_its_own(self) -> None:
        pool = self.gateway.pools["srv"]
        assert isinstance(pool, ServerPool) and isinstance(pool.placement, SharedPlacement)
        session = Session("s-1", "srv", "2025-11-25", ALL_CAPS, {}, 0.0)
        pool.restore(session)
        self.successResultOf(pool.prewarm())
        self.assertEqual(self.reactor.processes, [])  # no shared child for nobody
        upstream = pool.upstreamFor(session)
        assert upstream is not None
        self.assertIn(session, upstream.router.sessions)
        self.assertIsNone(pool.placement.era2026Router(""))  # its own child: no shared one was made


class StopTests(Era2026Case):
    def test_stop_ends_suspended_calls_and_listens_without_waiting(self) -> None:
        d1, _, [forwarded] = self.call(era2026(1, "tools/call", {"name": "t", "arguments": {}}))
        proc = self.reactor.lastProcess
        proc.reply(
            jsonrpc.request("c-1", "elicitation/create", {"message": "m", "requestedSchema": {}})
        )
        self.reactor.advance(COALESCE)
        self.assertEqual(self.successResultOf(d1)["result"]["resultType"], "input_required")
        handle = self.successResultOf(
            self.gateway.listen(
                "srv",
                era2026("l-1", "subscriptions/listen"),
                ListenFilter(tools=True),
                RecordingSink(),
            )
        )
        ended: list[str] = []
        handle.ended.addCallback(ended.append)
        stopping = self.gateway.stop()
        sent = proc.takeMessages()
        self.assertEqual(sent[0], jsonrpc.resultResponse("c-1", {"action": "cancel"}))
        self.assertEqual(sent[1]["params"]["requestId"], forwarded["id"])
        self.assertEqual(ended, ["the gateway is shutting down"])
        self.assertEqual(
            self.gateway.era2026Stats("srv"), Era2026Stats(requests=1, inputRounds=1, clients=1)
        )
        self.assertTrue(proc.stdinClosed)
        proc.exit(0)
        self.successResultOf(stopping)

    def test_turning_era2026_off_ends_the_listens(self) -> None:
        opening = self.gateway.listen(
            "srv", era2026("l-1", "subscriptions/listen"), ListenFilter(), RecordingSink()
        )
        self.started()
        handle = self.successResultOf(opening)
        ended: list[str] = []
        handle.ended.addCallback(ended.append)
        self.gateway.reconfigurer.reconfigure({"srv": dataclasses.replace(SPEC, era2026=False)})
        self.assertEqual(len(ended), 1)
        self.assertIn('"era2026": false', ended[0])
        self.assertEqual(
            self.reactor.lastProcess.signals, []
        )  # the child goes on for 2025 sessions


class TaskStatusTests(Era2026Case):
    """A listen naming a task of the gateway's tasks: its status, told as
    it changes, without the child hearing of the listen."""

    def setUp(self) -> None:
        super().setUp()
        self.tasks = TaskManager(TaskStore(None, now=lambda: 1_800_000_000.0), self.reactor)
        serveTasks(self.gateway, self.tasks)

    def test_a_listen_naming_a_task_is_told_working_then_completed(self) -> None:
        declared = {**ALL_CAPS, "extensions": {EXTENSION: {}}}
        call = era2026(1, "tools/call", {"name": "t", "arguments": {}}, capabilities=declared)
        d, _, [listing] = self.call(call)
        proc = self.reactor.lastProcess
        proc.reply(jsonrpc.resultResponse(listing["id"], {"tools": [{"name": "t"}]}))
        [forwarded] = proc.takeMessages()
        self.reactor.advance(0.5)
        taskId = self.successResultOf(d)["result"]["taskId"]
        sink = RecordingSink()
        handle = self.successResultOf(
            self.gateway.listen(
                "srv",
                era2026("l-1", "subscriptions/listen", capabilities=declared),
                ListenFilter(taskIds=(taskId, "someone-elses")),
                sink,
            )
        )
        self.assertEqual(handle.honoured, ListenFilter(taskIds=(taskId,)))
        self.reactor.advance(0)
        proc.reply(jsonrpc.resultResponse(forwarded["id"], {"content": []}))
        self.assertEqual([m["params"]["status"] for m in sink.messages], ["working", "completed"])
        self.assertEqual(sink.messages[-1]["method"], "notifications/tasks")
        self.assertEqual(proc.takeMessages(), [])  # the child heard of no listen

    def test_lists_and_tasks_in_one_listen(self) -> None:
        declared = {**ALL_CAPS, "extensions": {EXTENSION: {}}}
        opening = self.gateway.listen(
            "srv",
            era2026("l-1", "subscriptions/listen", capabilities=declared),
            ListenFilter(tools=True, taskIds=("unknown",)),
            RecordingSink(),
        )
        self.started()
        handle = self.successResultOf(opening)
        self.assertEqual(handle.honoured, ListenFilter(tools=True))

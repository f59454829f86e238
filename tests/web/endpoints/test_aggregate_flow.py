"""The flow rule on the calls of the aggregate endpoint (C{/mcp}, and
C{/mcp/search}'s C{invoke}): each is decided as the member's call it
reaches, by the same step and for the same client as a call of
C{/<server>/mcp} (L{mcpgateway.core.aggregate.flowcalls}), in both
protocol eras, over a real Site with fake children."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings

from mcpgateway.core.tasks.manager import TaskManager
from mcpgateway.core.tasks.store import TaskStore
from mcpgateway.core.taskterms import EXTENSION
from mcpgateway.flow.held import HeldCalls, HeldState
from mcpgateway.flow.labels import GATHERED, Label, parseEntryLabels
from mcpgateway.flow.ledger import narrowed
from mcpgateway.flow.rule import FlowSettings
from mcpgateway.flow.step import DENIAL_KEY, WAIT_SECONDS, FlowStep
from mcpgateway.protocol import jsonrpc
from tests.core.aggregate.aggtools import Children, FakeServer, tool
from tests.http import Harness, Response
from tests.support.filesrun import filesRun
from tests.support.jsonvalues import jsonValues
from tests.support.web.aggregate_web import VERSION, initialize, messagesOf, serverSpec
from tests.support.web.api import initializeBody
from tests.support.web.fakeera2026 import body, headersFor

SERVERS = {"web": ["untrusted"], "files": ["private"], "post": ["egress"]}
"""Each server's entry labels: a web reader, a file reader, a poster."""
TOOLS = {"web": "read", "files": "read", "post": "send"}
PID = 4242
SEARCH = "/mcp/search"


class World:
    """A gateway serving a web reader, a file reader and a poster behind
    C{/mcp}, C{/mcp/search} and their own routes, with the flow step on."""

    def __init__(self, flow: FlowSettings | None = None, tasks: bool = False) -> None:
        specs = {
            name: replace(serverSpec(name), labels=parseEntryLabels(labels))
            for name, labels in SERVERS.items()
        }
        self.h = Harness(specs)
        gateway = self.h.gateway
        gateway.start()
        self.tasks: TaskManager | None = None
        if tasks:
            self.tasks = TaskManager(TaskStore(None, now=self.h.reactor.seconds), self.h.reactor)
            gateway.settings = replace(gateway.settings, tasks=self.tasks)
        self.children = Children(
            self.h.reactor, {name: FakeServer(tools=[tool(TOOLS[name], to="to")]) for name in specs}
        )
        self.store = HeldCalls(self.h.reactor)
        self.step = FlowStep(self.h.reactor, lambda: self.store)
        self.step.use(specs, flow or FlowSettings(), gateway.catalogs)
        gateway.flow = self.step
        self.ids = iter(range(100, 100_000))

    def open(self, path: str = "/mcp", pid: int = PID) -> str:
        """A session of client process C{pid} on C{path}."""
        response = self.h.request("POST", path, initialize(), headers={"x-client-pid": str(pid)})
        self.children.pump()
        assert response.status == 200, response.body
        return response.headers["mcp-session-id"]

    def post(
        self, session: str, params: dict[str, Any], path: str = "/mcp", requestId: Any = None
    ) -> Response:
        """A C{tools/call} of C{params}, the children answering what they get."""
        message = {
            "jsonrpc": "2.0",
            "id": next(self.ids) if requestId is None else requestId,
            "method": "tools/call",
            "params": params,
        }
        response = self.h.request(
            "POST", path, message, session=session, headers={"mcp-protocol-version": VERSION}
        )
        self.children.pump()
        return response

    def call(
        self, session: str, name: str, arguments: Any = None, path: str = "/mcp", meta: Any = None
    ) -> Response:
        params: dict[str, Any] = {"name": name, "arguments": arguments or {}}
        if meta is not None:
            params["_meta"] = meta
        return self.post(session, params, path)

    def invoke(self, session: str, name: str, arguments: Any = None, **more: Any) -> Response:
        """Search mode's C{invoke} of C{name}."""
        return self.call(
            session, "invoke", {"name": name, "arguments": arguments or {}, **more}, SEARCH
        )

    def forwarded(self, server: str) -> list[dict[str, Any]]:
        """The calls C{server}'s children were sent."""
        return [m for s, m in self.children.seen if s == server and m.get("method") == "tools/call"]

    def gathered(self, pid: int = PID) -> frozenset[Label]:
        key = ("", "pid", str(pid))
        return self.step.ledger.gathered(key, "probe")

    def trifecta(self, path: str = "/mcp") -> str:
        """Client L{PID} reads the web and a file through C{path} (search
        mode: through C{invoke}): its session."""
        session = self.open(path)
        for name in ("web__read", "files__read"):
            call = self.invoke if path == SEARCH else self.call
            response = call(session, name)
            assert answerOf(response)["result"].get("isError") is not True
        return session


def answerOf(response: Response) -> Any:
    """The call's answer: the one JSON body, or the stream's last message."""
    assert response.complete
    return messagesOf(response)[-1]


def denialOf(response: Response) -> dict[str, Any]:
    result = answerOf(response)["result"]
    assert result["isError"] is True
    envelope: dict[str, Any] = result["_meta"][DENIAL_KEY]
    return envelope


def textOf(response: Response) -> str:
    text: str = answerOf(response)["result"]["content"][0]["text"]
    return text


def test_a_call_through_mcp_is_held_as_the_members_call() -> None:
    w = World()
    session = w.trifecta()
    response = w.call(session, "post__send", {"to": "x"})
    assert not response.complete
    assert w.forwarded("post") == []
    [held] = w.store.pending()
    assert (held.server, held.tool, dict(held.arguments)) == ("post", "send", {"to": "x"})
    assert held.client == ("", "pid", str(PID))
    assert {label.value for label in held.labels} == {"untrusted", "private", "egress"}


def test_a_call_nobody_decides_is_denied_with_the_envelope_after_the_wait() -> None:
    w = World()
    response = w.call(w.trifecta(), "post__send", {"to": "x"})
    w.h.reactor.advance(WAIT_SECONDS - 1)
    assert not response.complete
    w.h.reactor.advance(1)
    [held] = w.store.pending()
    denial = denialOf(response)
    assert (denial["heldCall"], denial["outcome"]) == (held.id, "held")
    assert denial["labels"] == ["untrusted", "private", "egress"]
    assert f"mcpgateway approvals allow {held.id}" in denial["remedy"]
    assert w.forwarded("post") == []


def test_an_allow_during_the_wait_forwards_the_exact_call() -> None:
    w = World()
    response = w.call(w.trifecta(), "post__send", {"to": "x"})
    [held] = w.store.pending()
    w.h.reactor.advance(5)
    w.store.allow(held.id, "owner")
    w.children.pump()
    [sent] = w.forwarded("post")
    assert (sent["params"]["name"], sent["params"]["arguments"]) == ("send", {"to": "x"})
    assert textOf(response) == "post:send:{'to': 'x'}"
    assert w.store.get(held.id).state is HeldState.USED


def test_a_denial_during_the_wait_answers_at_once() -> None:
    w = World()
    response = w.call(w.trifecta(), "post__send", {"to": "x"})
    [held] = w.store.pending()
    w.store.deny(held.id, "owner", "not there")
    denial = denialOf(response)
    assert denial["outcome"] == "denied" and "not there" in str(answerOf(response))
    assert w.forwarded("post") == []


def test_labels_gathered_through_a_servers_route_decide_a_call_through_mcp() -> None:
    w = World()
    web = w.open("/web/mcp")
    assert answerOf(w.call(web, "read", path="/web/mcp"))["result"]
    aggregate = w.open()
    assert answerOf(w.call(aggregate, "files__read"))["result"]
    assert not w.call(aggregate, "post__send", {"to": "x"}).complete
    assert len(w.store.pending()) == 1 and w.forwarded("post") == []


def test_labels_gathered_through_mcp_decide_a_call_of_a_servers_route() -> None:
    w = World()
    w.trifecta()
    post = w.open("/post/mcp")
    assert not w.call(post, "send", {"to": "x"}, path="/post/mcp").complete
    [held] = w.store.pending()
    assert (held.server, held.tool) == ("post", "send")


def test_another_clients_labels_do_not_meet_and_a_shared_child_gathers_none() -> None:
    """Another process's session calls the poster through the same child
    the first client read through: its call goes on."""
    w = World()
    mine = w.trifecta()
    other = w.open(pid=5151)
    assert textOf(w.call(other, "post__send", {"to": "x"})) == "post:send:{'to': 'x'}"
    assert w.store.pending() == []
    assert w.gathered(5151) == frozenset()
    assert not w.call(mine, "post__send", {"to": "x"}).complete
    assert len(w.store.pending()) == 1


def test_a_yes_for_a_call_held_through_mcp_is_good_once_on_the_servers_route() -> None:
    w = World()
    first = w.call(w.trifecta(), "post__send", {"to": "x"})
    w.h.reactor.advance(WAIT_SECONDS)
    assert first.complete
    [held] = w.store.pending()
    w.store.allow(held.id, "owner")
    post = w.open("/post/mcp")
    assert textOf(w.call(post, "send", {"to": "x"}, path="/post/mcp")) == "post:send:{'to': 'x'}"
    assert not w.call(post, "send", {"to": "x"}, path="/post/mcp").complete
    assert len(w.forwarded("post")) == 1


def test_flow_origin_narrows_a_call_through_mcp() -> None:
    w = World()
    session = w.trifecta()
    response = w.call(session, "post__send", {"to": "x"}, meta={"flowOrigin": ["private"]})
    assert textOf(response) == "post:send:{'to': 'x'}"
    assert w.store.pending() == []
    both = {"flowOrigin": ["private", "untrusted"]}
    assert not w.call(session, "post__send", {"to": "x"}, meta=both).complete
    assert len(w.store.pending()) == 1


def test_an_error_answer_gathers_nothing() -> None:
    """A member's JSON-RPC error is no result: its tool's labels are not
    gathered."""
    w = World()
    w.children.servers["web"].hold = True
    session = w.open()
    response = w.call(session, "web__read")
    [(proc, sent)] = w.children.held
    proc.reply({"jsonrpc": "2.0", "id": sent["id"], "error": {"code": -1, "message": "no"}})
    assert "error" in answerOf(response)
    assert w.gathered() == frozenset()
    w.children.servers["web"].hold = False
    assert answerOf(w.call(session, "web__read"))["result"]
    assert w.gathered() == {Label.UNTRUSTED}


def test_invoke_is_decided_as_the_member_tool_it_calls() -> None:
    w = World()
    session = w.trifecta(SEARCH)
    assert w.gathered() == {Label.UNTRUSTED, Label.PRIVATE}
    response = w.invoke(session, "post__send", {"to": "x"})
    assert not response.complete
    [held] = w.store.pending()
    assert (held.server, held.tool, dict(held.arguments)) == ("post", "send", {"to": "x"})
    w.h.reactor.advance(WAIT_SECONDS)
    assert denialOf(response)["heldCall"] == held.id
    assert w.forwarded("post") == []
    w.store.allow(held.id, "owner")
    assert textOf(w.invoke(session, "post__send", {"to": "x"})) == "post:send:{'to': 'x'}"


def test_a_result_through_invoke_gathers_for_the_client() -> None:
    w = World()
    session = w.open(SEARCH)
    assert textOf(w.invoke(session, "web__read")) == "web:read:{}"
    assert w.gathered() == {Label.UNTRUSTED}


def test_the_aggregates_own_tools_gather_nothing_and_are_never_held() -> None:
    w = World()
    session = w.trifecta(SEARCH)
    fresh = w.open(SEARCH, pid=6161)
    for who in (session, fresh):
        found = answerOf(w.call(who, "search", {"query": "send"}, path=SEARCH))
        assert found["result"].get("isError") is not True
        described = answerOf(w.call(who, "describe", {"name": "post__send"}, path=SEARCH))
        assert described["result"]["structuredContent"]["server"] == "post"
    assert w.gathered(6161) == frozenset()
    assert w.store.pending() == []


def test_an_async_invoke_waits_held_in_its_task() -> None:
    w = World(tasks=True)
    session = w.trifecta(SEARCH)
    handle = answerOf(w.invoke(session, "post__send", {"to": "x"}, **{"async": True}))
    taskId = handle["result"]["structuredContent"]["taskId"]
    [held] = w.store.pending()
    assert (held.server, held.tool) == ("post", "send")
    w.h.reactor.advance(WAIT_SECONDS * 3)  # a task's call waits longer than a request may
    assert w.forwarded("post") == []
    w.store.allow(held.id, "owner")
    w.children.pump()
    assert len(w.forwarded("post")) == 1
    read = answerOf(w.call(session, "get_result", {"taskId": taskId}, path=SEARCH))
    done = read["result"]["structuredContent"]
    assert done["status"] == "completed"
    assert done["result"]["content"][0]["text"] == "post:send:{'to': 'x'}"


def test_a_task_augmented_call_through_mcp_is_held() -> None:
    w = World()
    session = w.trifecta()
    params = {"name": "post__send", "arguments": {"to": "x"}, "task": {"ttl": 60_000}}
    response = w.post(session, params)
    assert not response.complete
    w.h.reactor.advance(WAIT_SECONDS)
    assert denialOf(response)["outcome"] == "held"
    assert w.forwarded("post") == []


def test_a_call_in_a_batch_through_mcp_is_held() -> None:
    """A 2025-03-26 session's JSON-RPC batch reaches the aggregate call by
    call: each is decided as the member's."""
    w = World()
    old = {"mcp-protocol-version": "2025-03-26"}
    opened = w.h.request(
        "POST",
        "/mcp",
        initializeBody({"name": "agent", "version": "1"}, None, "2025-03-26"),
        headers={"x-client-pid": str(PID)},
    )
    w.children.pump()
    session = opened.headers["mcp-session-id"]

    def batch(*names: str) -> Response:
        calls = [
            jsonrpc.request(n, "tools/call", {"name": name, "arguments": {}})
            for n, name in enumerate(names)
        ]
        response = w.h.request("POST", "/mcp", calls, session=session, headers=old)
        w.children.pump()
        return response

    assert batch("web__read", "files__read").complete
    assert w.gathered() == GATHERED
    response = batch("post__send")
    assert not response.complete
    [held] = w.store.pending()
    assert (held.server, held.tool) == ("post", "send")
    w.h.reactor.advance(WAIT_SECONDS)
    assert answerOf(response)["result"]["_meta"][DENIAL_KEY]["heldCall"] == held.id
    assert w.forwarded("post") == []


def test_a_call_whose_session_ends_while_it_waits_is_never_forwarded() -> None:
    w = World()
    session = w.trifecta()
    response = w.call(session, "post__send", {"to": "x"})
    [held] = w.store.pending()
    w.h.request("DELETE", "/mcp", session=session, headers={"mcp-protocol-version": VERSION})
    w.store.allow(held.id, "owner")
    w.h.reactor.advance(WAIT_SECONDS)
    w.children.pump()
    assert w.forwarded("post") == []
    assert w.step._waiting == {}
    assert not any("result" in m for m in messagesOf(response) if response.body)


def test_an_idle_step_runs_nothing_of_the_flow_package() -> None:
    w = World()
    session = w.open()
    w.call(session, "web__read")
    w.step.active = False

    def call() -> None:
        assert textOf(w.call(session, "web__read")) == "web:read:{}"

    ran = filesRun(call)
    assert "core/aggregate/flowcalls.py" in ran
    assert not any(path.startswith("flow/") for path in ran)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arguments=jsonValues(text=8, keys=4, items=3, leaves=6, infinity=False),
    meta=jsonValues(text=10, keys=10, items=3, leaves=4, infinity=False),
    invoked=jsonValues(text=8, keys=4, items=3, leaves=4, infinity=False),
)
def test_whatever_a_held_client_sends_through_mcp_never_reaches_the_egress_server(
    arguments: Any, meta: Any, invoked: Any
) -> None:
    """A call of the egress tool by a client holding C{untrusted} and
    C{private}, direct or through C{invoke}, is held or answered without
    reaching the poster, whatever its arguments and C{_meta} (a
    C{flowOrigin} that narrows excepted), and never fails the gateway."""
    w = World()
    session = w.trifecta()
    search = w.open(SEARCH)
    if narrowed(GATHERED, meta) != GATHERED:
        return
    direct = w.post(session, {"name": "post__send", "arguments": arguments, "_meta": meta})
    invoke = {"name": "post__send", "arguments": invoked}
    through = w.post(search, {"name": "invoke", "arguments": invoke, "_meta": meta}, SEARCH)
    w.h.reactor.advance(WAIT_SECONDS)
    assert w.forwarded("post") == []
    for response in (direct, through):
        answer = answerOf(response)
        assert "error" in answer or answer["result"]["isError"] is True, answer


def test_a_held_answer_is_a_json_rpc_result_of_the_callers_id() -> None:
    w = World()
    response = w.post(w.trifecta(), {"name": "post__send", "arguments": {}}, requestId="abc")
    w.h.reactor.advance(WAIT_SECONDS)
    answer = answerOf(response)
    assert answer["id"] == "abc" and answer["jsonrpc"] == "2.0"
    assert jsonrpc.classify(answer) is jsonrpc.Kind.RESPONSE
    assert denialOf(response)["outcome"] == "held"


# -- the 2026-07-28 revision ---------------------------------------------------------------


def post2026(
    w: World, name: str, arguments: Any = None, path: str = "/mcp", tasks: bool = False
) -> Response:
    """A 2026-07-28 C{tools/call} of client L{PID} (it says its pid)."""
    capabilities: dict[str, Any] = {"extensions": {EXTENSION: {}}} if tasks else {}
    params = {"name": name, "arguments": arguments or {}}
    message = body("tools/call", next(w.ids), params, capabilities=capabilities)
    headers = {**headersFor(message), "x-client-pid": str(PID)}
    response = w.h.request("POST", path, message, headers=headers)
    w.children.pump()
    return response


def test_a_2026_call_through_mcp_is_held_as_the_members_call() -> None:
    w = World()
    w.trifecta()  # the client's 2025 session gathered: its 2026 request says the same pid
    response = post2026(w, "post__send", {"to": "x"})
    assert not response.complete and w.forwarded("post") == []
    [held] = w.store.pending()
    assert (held.server, held.tool, dict(held.arguments)) == ("post", "send", {"to": "x"})
    assert held.client == ("", "pid", str(PID))
    w.store.allow(held.id, "owner")
    w.children.pump()
    assert len(w.forwarded("post")) == 1
    result = answerOf(response)["result"]
    assert result["resultType"] == "complete" and "isError" not in result


def test_a_2026_call_nobody_decides_through_mcp_gets_the_denial() -> None:
    w = World()
    w.trifecta()
    response = post2026(w, "post__send", {"to": "x"})
    w.h.reactor.advance(WAIT_SECONDS)
    result = answerOf(response)["result"]
    assert result["resultType"] == "complete" and result["isError"] is True
    assert result["_meta"][DENIAL_KEY]["outcome"] == "held"
    assert w.forwarded("post") == []


def test_a_2026_invoke_through_search_is_held_as_the_members_call() -> None:
    for path in (SEARCH, "/mcp?mode=search"):
        w = World()
        w.trifecta()
        invoked = {"name": "post__send", "arguments": {"to": "x"}}
        response = post2026(w, "invoke", invoked, path=path)
        assert w.forwarded("post") == [], path
        [held] = w.store.pending()
        assert (held.server, held.tool) == ("post", "send")
        w.store.deny(held.id, "owner")
        w.children.pump()
        result = answerOf(response)["result"]
        assert result["isError"] is True, result
        assert w.forwarded("post") == []


def test_a_2026_call_of_a_tasks_client_through_mcp_becomes_a_task_while_held() -> None:
    w = World(tasks=True)
    w.trifecta()
    response = post2026(w, "post__send", {"to": "x"}, tasks=True)
    w.h.reactor.advance(1)
    handle = answerOf(response)["result"]
    assert handle["resultType"] == "task" and handle["status"] == "working"
    w.h.reactor.advance(WAIT_SECONDS * 3)
    assert w.forwarded("post") == []
    [held] = w.store.pending()
    w.store.allow(held.id, "owner")
    w.children.pump()
    assert len(w.forwarded("post")) == 1


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arguments=jsonValues(text=8, keys=4, items=3, leaves=6, infinity=False))
def test_whatever_a_held_client_sends_in_2026_through_mcp_never_reaches_the_egress_server(
    arguments: Any,
) -> None:
    w = World()
    w.trifecta()
    direct = post2026(w, "post__send", arguments)
    through = post2026(w, "invoke", {"name": "post__send", "arguments": arguments}, SEARCH)
    w.h.reactor.advance(WAIT_SECONDS)
    assert w.forwarded("post") == []
    for response in (direct, through):
        answer = answerOf(response)
        assert "error" in answer or answer["result"]["isError"] is True, answer

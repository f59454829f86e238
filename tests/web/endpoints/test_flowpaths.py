"""The flow rule on the other paths of a C{tools/call} to C{/<server>/mcp}:
a request of the 2026-07-28 revision (no session; its client known by what
the request carries) and the calls of a JSON-RPC batch (2025-03-26). Each
is decided by the same L{mcpgateway.flow.step.FlowStep} as a session's
single call: held, it waits for a person, is forwarded exactly once
allowed, and is answered with the same denial otherwise; its result
gathers the tool's labels for the client. Switching era or batching skips
nothing."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure

from mcpgateway.flow import step
from mcpgateway.flow.held import HeldState
from mcpgateway.flow.ledger import IDLE
from mcpgateway.flow.step import DENIAL_KEY, SWEEP_EVERY, WAIT_SECONDS, RequestClient
from tests.http import Response, initializeMessage
from tests.support.jsonvalues import jsonValues
from tests.support.web.fakeera2026 import body, headersFor
from tests.support.web.flowworld import World, answerOf, denialOf

_ids = itertools.count(1000)


def call(tool: str, arguments: Any = None) -> dict[str, Any]:
    """A 2025 C{tools/call} message."""
    params = {"name": tool, "arguments": arguments or {}}
    return {"jsonrpc": "2.0", "id": next(_ids), "method": "tools/call", "params": params}


def open2025(w: World, server: str, pid: int = 4242) -> str:
    """A session of protocol 2025-03-26 (which may batch) of client C{pid}."""
    response = w.h.request(
        "POST",
        f"/{server}/mcp",
        initializeMessage("2025-03-26", clientInfo={"name": "agent", "version": "1"}),
        headers={"x-client-pid": str(pid)},
    )
    if server not in w.procs:
        w.procs[server] = w.h.process()
    if not response.complete:
        w.h.answerHandshake()
    assert response.status == 200, response.body
    return response.headers["mcp-session-id"]


def batch(w: World, server: str, session: str, messages: list[dict[str, Any]]) -> Response:
    return w.h.request("POST", f"/{server}/mcp", messages, session=session)


def answerAll(w: World, server: str, done: int = 0) -> None:
    """The child answers each of its calls after the first C{done}."""
    for sent in w.forwarded(server)[done:]:
        w.procs[server].reply(
            {"jsonrpc": "2.0", "id": sent["id"], "result": {"content": [{"type": "text"}]}}
        )


def post2026(
    w: World, server: str, tool: str, arguments: Any = None, pid: int | None = 4242
) -> Response:
    """A 2026-07-28 C{tools/call} of client C{pid} (C{None}: it sends none)."""
    message = body("tools/call", next(_ids), {"name": tool, "arguments": arguments or {}})
    headers = headersFor(message)
    if pid is not None:
        headers["x-client-pid"] = str(pid)
    return w.h.request("POST", f"/{server}/mcp", message, headers=headers)


def byId(response: Response) -> dict[Any, dict[str, Any]]:
    return {event["id"]: event for event in response.events()}


# -- a batch ----------------------------------------------------------------------------


def test_a_held_batch_member_waits_while_the_others_are_answered() -> None:
    w = World()
    w.trifecta()
    post = open2025(w, "post")
    send, listing = call("send", {"to": "x"}), {"jsonrpc": "2.0", "id": "l", "method": "tools/list"}
    response = batch(w, "post", post, [send, listing])
    assert w.forwarded("post") == []  # the held call is not sent
    [held] = w.store.pending()
    assert (held.tool, dict(held.arguments)) == ("send", {"to": "x"})
    assert held.client == ("", "pid", "4242")
    tools = {"tools": [{"name": "send", "inputSchema": {"type": "object"}}]}
    for sentList in [m for m in w.procs["post"].sentMessages() if m.get("method") == "tools/list"]:
        w.procs["post"].reply({"jsonrpc": "2.0", "id": sentList["id"], "result": tools})
    assert list(byId(response)) == ["l"] and not response.complete
    w.store.allow(held.id, "owner")
    [sent] = w.forwarded("post")
    assert sent["params"]["arguments"] == {"to": "x"}
    answerAll(w, "post")
    assert response.complete
    assert byId(response)[send["id"]]["result"]["content"] == [{"type": "text"}]
    assert w.store.get(held.id).state is HeldState.USED


def test_a_batch_member_nobody_decides_gets_the_same_denial() -> None:
    w = World()
    w.trifecta()
    post = open2025(w, "post")
    first, second = call("send", {"to": "x"}), call("send", {"to": "y"})
    response = batch(w, "post", post, [first, second])
    assert len(w.store.pending()) == 2
    w.h.reactor.advance(WAIT_SECONDS - 1)
    assert not response.complete
    w.h.reactor.advance(1)
    assert response.complete
    assert w.forwarded("post") == []
    for message in (first, second):
        result = byId(response)[message["id"]]["result"]
        assert result["isError"] is True
        envelope = result["_meta"][DENIAL_KEY]
        assert envelope["outcome"] == "held"
        assert envelope["labels"] == ["untrusted", "private", "egress"]


def test_a_denied_batch_member_is_answered_at_once_and_the_other_goes_on() -> None:
    w = World()
    w.trifecta()
    post = open2025(w, "post")
    first, second = call("send", {"to": "x"}), call("send", {"to": "y"})
    response = batch(w, "post", post, [first, second])
    held = {dict(c.arguments)["to"]: c for c in w.store.pending()}
    w.store.deny(held["x"].id, "owner", "no")
    assert byId(response)[first["id"]]["result"]["_meta"][DENIAL_KEY]["outcome"] == "denied"
    assert not response.complete
    w.store.allow(held["y"].id, "owner")
    answerAll(w, "post")
    assert response.complete
    assert [m["params"]["arguments"] for m in w.forwarded("post")] == [{"to": "y"}]


def test_a_batch_of_one_call_is_held_as_a_single_call() -> None:
    w = World()
    w.trifecta()
    post = open2025(w, "post")
    response = batch(w, "post", post, [call("send", {"to": "x"})])
    assert not response.complete and w.forwarded("post") == []
    [held] = w.store.pending()
    w.store.deny(held.id, "owner")
    assert denialOf(response)["outcome"] == "denied"


def test_results_of_batch_members_gather_the_clients_labels() -> None:
    w = World()
    for server in ("web", "files"):
        session = open2025(w, server, pid=5151)
        response = batch(w, server, session, [call("read"), call("read", {"n": 2})])
        answerAll(w, server)
        assert response.complete
    post = w.post("post", w.open("post", pid=5151), "send")
    assert not post.complete and w.forwarded("post") == []
    assert [c.client for c in w.store.pending()] == [("", "pid", "5151")]


# -- the 2026-07-28 revision ------------------------------------------------------------


def test_a_2026_call_of_a_client_that_gathered_in_2025_sessions_is_held() -> None:
    w = World()
    w.trifecta()
    response = post2026(w, "post", "send", {"to": "x"})
    assert not response.complete and w.forwarded("post") == []
    [held] = w.store.pending()
    assert (held.tool, dict(held.arguments)) == ("send", {"to": "x"})
    assert held.client == ("", "pid", "4242")
    w.h.reactor.advance(5)
    w.store.allow(held.id, "owner")
    [sent] = w.forwarded("post")
    assert sent["params"]["arguments"] == {"to": "x"}
    answerAll(w, "post")
    answer = answerOf(response)
    assert answer["result"]["resultType"] == "complete" and "isError" not in answer["result"]
    assert w.store.get(held.id).state is HeldState.USED


def test_a_2026_call_nobody_decides_gets_the_denial_as_a_complete_result() -> None:
    w = World()
    w.trifecta()
    response = post2026(w, "post", "send", {"to": "x"})
    w.h.reactor.advance(WAIT_SECONDS)
    assert response.complete and response.status == 200
    [held] = w.store.pending()
    result = answerOf(response)["result"]
    assert result["resultType"] == "complete" and result["isError"] is True
    assert result["_meta"][DENIAL_KEY]["heldCall"] == held.id
    assert result["_meta"][DENIAL_KEY]["outcome"] == "held"
    assert w.forwarded("post") == []
    w.store.allow(held.id, "owner")
    retry = post2026(w, "post", "send", {"to": "x"})  # the retry after a yes goes on, once
    answerAll(w, "post")
    assert answerOf(retry)["result"]["resultType"] == "complete"
    assert len(w.forwarded("post")) == 1


def test_2026_results_gather_labels_by_client_name_where_no_pid_is_sent() -> None:
    w = World()
    for server in ("web", "files"):
        w.open(server, pid=7)  # the child started (its session is another client's)
        response = post2026(w, server, "read", pid=None)
        answerAll(w, server)
        assert "result" in answerOf(response)
    w.open("post", pid=7)
    held = post2026(w, "post", "send", pid=None)
    assert not held.complete and w.forwarded("post") == []
    [call] = w.store.pending()
    assert call.client == ("", "client", "test")
    w.store.deny(call.id, "owner")
    assert answerOf(held)["result"]["_meta"][DENIAL_KEY]["outcome"] == "denied"
    other = post2026(w, "post", "send", pid=99)  # another client gathered nothing
    answerAll(w, "post")
    assert "isError" not in answerOf(other)["result"]


def test_a_2026_client_gathers_for_its_2025_sessions_too() -> None:
    w = World()
    for server in ("web", "files"):
        w.open(server, pid=11)
        post2026(w, server, "read", pid=4242)
        answerAll(w, server)
    post = w.post("post", w.open("post", pid=4242), "send")
    assert not post.complete and w.forwarded("post") == []


def test_a_callers_key_is_a_sessions_key() -> None:
    w = World()
    assert w.step.keyOf(RequestClient.of("", 12, {"name": "a"})) == ("", "pid", "12")
    assert w.step.keyOf(RequestClient.of("team:p", None, {"name": "a"})) == (
        "team:p",
        "client",
        "a",
    )
    anonymous = w.step.keyOf(RequestClient.of("team:p", None, None))
    assert anonymous[:2] == ("team:p", "session")  # one for every nameless caller of p
    assert anonymous == w.step.keyOf(RequestClient.of("team:p", None, {"version": "2"}))
    assert anonymous != w.step.keyOf(RequestClient.of("team:q", None, None))


def test_a_held_2026_call_whose_client_goes_away_is_never_forwarded() -> None:
    w = World()
    w.trifecta()
    response = post2026(w, "post", "send", {"to": "x"})
    [held] = w.store.pending()
    response.protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]
    w.store.allow(held.id, "owner")  # the yes is for a retry
    w.h.reactor.advance(WAIT_SECONDS)
    assert w.forwarded("post") == []
    assert w.store.get(held.id).state is HeldState.ALLOWED
    assert w.step._waiting.get(w.step.caller("", 4242, {}).id, set()) == set()


def test_callers_kept_apart_are_bounded_and_then_share_their_principals_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(step, "CALLERS", 3)
    w = World()

    def key(info: Any) -> tuple[str, str, str]:
        """The key of a call's caller, counted by the ledger as a call's is."""
        caller = w.step.caller("p", None, info)
        found = w.step.keyOf(caller)
        w.step.ledger.gathered(found, caller.id)
        return found

    keys = [key({"name": f"n{i}"}) for i in range(5)]
    assert keys[:3] == [("p", "client", f"n{i}") for i in range(3)]
    assert keys[3] == keys[4] == w.step.keyOf(RequestClient.of("p", None, None))
    assert key({"name": "n1"}) == keys[1]  # those kept stay apart
    w.h.reactor.advance(IDLE + SWEEP_EVERY)
    assert key({"name": "n9"}) == ("p", "client", "n9")  # the idle ones swept


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            jsonValues(text=8, keys=4, items=3, leaves=4, infinity=False),
            jsonValues(text=8, keys=4, items=3, leaves=6, infinity=False),
            st.sampled_from(["2026", "batch"]),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_whatever_a_held_client_sends_by_2026_or_batch_never_reaches_the_egress_server(
    calls: list[tuple[Any, Any, str]],
) -> None:
    """A held client's calls to a server all of whose tools are
    C{egress}, whatever their names and arguments, sent in the 2026-07-28
    revision or batched, are held or answered without the server."""
    w = World()
    w.trifecta()
    batched: list[dict[str, Any]] = []
    for name, arguments, how in calls:
        params = {"name": name, "arguments": arguments}
        if how == "batch":
            message = {"jsonrpc": "2.0", "id": next(_ids), "method": "tools/call"}
            batched.append({**message, "params": params})
        else:
            message = body("tools/call", next(_ids), params)
            headers = {**headersFor(message), "x-client-pid": "4242"}
            w.h.request("POST", "/post/mcp", message, headers=headers)
    if batched:
        w.h.request("POST", "/post/mcp", batched, session=open2025(w, "post"))
    w.h.reactor.advance(WAIT_SECONDS)
    assert w.forwarded("post") == []

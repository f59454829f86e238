"""A call the flow rule holds, answered with a task: a 2025-11-25
task-augmented C{tools/call} (C{params.task}) and a 2026-07-28 call of a
client that declares the Tasks extension get their task at once (the
2026 one after the gateway's half second, as any call that takes time),
C{working} while the call waits for a person, for as long as the held call
may wait (not the step's bound on a request); a yes sends the exact call
once and the task keeps its result, a no or an expiry completes the task
with the denial, and nothing reaches the child meanwhile. Through the real
site, with fake children and a fake clock."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpgateway.core.taskterms import EXTENSION
from mcpgateway.flow.held import HOLD_SECONDS, HeldState
from mcpgateway.flow.step import DENIAL_KEY, WAIT_SECONDS
from tests.http import Response
from tests.support.jsonvalues import jsonValues
from tests.support.web.fakeera2026 import body, headersFor
from tests.support.web.flowworld import World, answerOf

_ids = itertools.count(5000)


@dataclass(frozen=True)
class FakeCatalog:
    lists: dict[str, Any]


def taskCall(w: World, session: str, tool: str, arguments: Any = None) -> Response:
    """A 2025-11-25 task-augmented C{tools/call} on the poster."""
    params = {"name": tool, "arguments": arguments or {}, "task": {"ttl": 3_600_000}}
    message = {"jsonrpc": "2.0", "id": next(_ids), "method": "tools/call", "params": params}
    return w.h.request("POST", "/post/mcp", message, session=session)


def taskRequest(w: World, session: str, method: str, taskId: str) -> Response:
    message = {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": {"taskId": taskId}}
    return w.h.request("POST", "/post/mcp", message, session=session)


def createdTask(response: Response) -> dict[str, Any]:
    assert response.complete and response.status == 200, response.body
    task: dict[str, Any] = answerOf(response)["result"]["task"]
    return task


def answerChild(w: World, text: str = "sent") -> None:
    sent = w.forwarded("post")[-1]
    result = {"content": [{"type": "text", "text": text}]}
    w.procs["post"].reply({"jsonrpc": "2.0", "id": sent["id"], "result": result})


# -- 2025-11-25: a task-augmented call ---------------------------------------------------


def test_a_held_task_augmented_call_gets_its_task_at_once_and_runs_after_a_yes() -> None:
    w = World(tasks=True)
    post = w.trifecta()
    task = createdTask(taskCall(w, post, "send", {"to": "x"}))
    assert task["status"] == "working"
    assert w.forwarded("post") == []
    [held] = w.store.pending()
    assert (held.tool, dict(held.arguments)) == ("send", {"to": "x"})
    waiting = taskRequest(w, post, "tasks/result", task["taskId"])
    w.h.reactor.advance(WAIT_SECONDS * 3)  # a task's call waits longer than a request may
    assert not waiting.complete and w.forwarded("post") == []
    assert w.store.get(held.id).state is HeldState.PENDING
    w.store.allow(held.id, "owner")
    [sent] = w.forwarded("post")
    assert sent["params"]["arguments"] == {"to": "x"} and "task" not in sent["params"]
    answerChild(w)
    result = answerOf(waiting)["result"]
    assert result["content"] == [{"type": "text", "text": "sent"}] and "isError" not in result
    assert w.store.get(held.id).state is HeldState.USED
    got = answerOf(taskRequest(w, post, "tasks/get", task["taskId"]))["result"]
    assert got["status"] == "completed"


def test_a_denied_held_task_completes_with_the_denial_and_nothing_is_sent() -> None:
    w = World(tasks=True)
    post = w.trifecta()
    task = createdTask(taskCall(w, post, "send", {"to": "x"}))
    [held] = w.store.pending()
    w.store.deny(held.id, "owner", "not to x")
    result = answerOf(taskRequest(w, post, "tasks/result", task["taskId"]))["result"]
    assert result["isError"] is True
    envelope = result["_meta"][DENIAL_KEY]
    assert (envelope["outcome"], envelope["heldCall"]) == ("denied", held.id)
    assert "not to x" in result["content"][0]["text"]
    assert w.forwarded("post") == []


def test_a_held_task_nobody_decides_completes_with_the_denial_when_the_hold_expires() -> None:
    w = World(tasks=True)
    post = w.trifecta()
    task = createdTask(taskCall(w, post, "send", {"to": "x"}))
    waiting = taskRequest(w, post, "tasks/result", task["taskId"])
    w.h.reactor.advance(HOLD_SECONDS)
    w.store.sweep()
    envelope = answerOf(waiting)["result"]["_meta"][DENIAL_KEY]
    assert envelope["outcome"] == "expired"
    assert w.forwarded("post") == []


def test_a_task_augmented_call_the_rule_lets_through_gathers_its_labels() -> None:
    w = World(tasks=True)
    w.call("web", w.open("web"), "read")
    files = w.open("files")
    params = {"name": "read", "arguments": {}, "task": {}}
    message = {"jsonrpc": "2.0", "id": next(_ids), "method": "tools/call", "params": params}
    created = w.h.request("POST", "/files/mcp", message, session=files)
    assert createdTask(created)["status"] == "working"
    w.answer("files")  # the child's answer goes to the task
    post = w.open("post")
    createdTask(taskCall(w, post, "send"))
    assert len(w.store.pending()) == 1 and w.forwarded("post") == []


CHILD_TASKS: dict[str, Any] = {"tools": {}, "tasks": {"requests": {"tools": {"call": {}}}}}
"""A child that makes its own tasks of its tools' calls."""


def test_a_held_call_to_a_child_that_makes_its_own_tasks_is_the_gateways_task() -> None:
    """The child would make the task only once the call reaches it: a
    held call is the gateway's task at once, answered for by the gateway,
    and goes to the child as a plain call after a yes; the session's other
    task requests, and its lists, go to the child as sent."""
    w = World(tasks=True)
    post = w.trifecta(capabilities=CHILD_TASKS)
    for method in ("tools/list", "tasks/list"):  # only a tool's call is put to the rule
        message = {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": {}}
        w.h.request("POST", "/post/mcp", message, session=post)
        assert any(m.get("method") == method for m in w.procs["post"].sentMessages()), method
    assert w.store.pending() == []
    task = createdTask(taskCall(w, post, "send", {"to": "x"}))
    assert task["status"] == "working" and w.forwarded("post") == []
    got = answerOf(taskRequest(w, post, "tasks/get", task["taskId"]))["result"]
    assert got["status"] == "working"
    listing = {"jsonrpc": "2.0", "id": next(_ids), "method": "tasks/list", "params": {}}
    listed = w.h.request("POST", "/post/mcp", listing, session=post)
    [asked] = [m for m in w.procs["post"].sentMessages() if m.get("method") == "tasks/list"][1:]
    w.procs["post"].reply({"jsonrpc": "2.0", "id": asked["id"], "result": {"tasks": []}})
    shown = answerOf(listed)["result"]["tasks"]  # the child's list, the held call's task first
    assert [(t["taskId"], t["status"]) for t in shown] == [(task["taskId"], "working")]
    [held] = w.store.pending()
    waiting = taskRequest(w, post, "tasks/result", task["taskId"])
    w.store.allow(held.id, "owner")
    [sent] = w.forwarded("post")
    assert sent["params"]["arguments"] == {"to": "x"} and "task" not in sent["params"]
    answerChild(w)
    assert answerOf(waiting)["result"]["content"] == [{"type": "text", "text": "sent"}]


def test_a_held_call_of_a_tool_that_must_be_the_childs_task_waits_on_its_request() -> None:
    w = World(tasks=True)
    post = w.trifecta(capabilities=CHILD_TASKS)
    required = {"name": "send", "inputSchema": {}, "execution": {"taskSupport": "required"}}

    def listed(server: str, route: str = "") -> Any:
        return FakeCatalog({"tools": [required]})

    w.h.gateway.catalogs.get = listed  # type: ignore[method-assign,assignment]
    response = taskCall(w, post, "send", {"to": "x"})
    assert not response.complete and w.forwarded("post") == []
    w.h.reactor.advance(WAIT_SECONDS)
    assert answerOf(response)["result"]["_meta"][DENIAL_KEY]["outcome"] == "held"
    [held] = w.store.pending()
    w.store.allow(held.id, "owner")
    again = taskCall(w, post, "send", {"to": "x"})  # the retry after a yes goes on, once
    [sent] = w.forwarded("post")
    assert sent["params"]["task"] == {"ttl": 3_600_000}
    assert not again.complete  # the child's CreateTaskResult is its answer
    made = {"taskId": "child-1", "status": "working", "createdAt": "2026-11-28T00:00:00Z"}
    w.procs["post"].reply({"jsonrpc": "2.0", "id": sent["id"], "result": {"task": made}})
    taskId = createdTask(again)["taskId"]
    taskRequest(w, post, "tasks/get", taskId)  # the child's task: its own to answer
    asked = [m for m in w.procs["post"].sentMessages() if m.get("method") == "tasks/get"]
    assert [m["params"]["taskId"] for m in asked] == ["child-1"]


_values = jsonValues(text=8, keys=4, items=3, leaves=4, infinity=False)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(
    arguments=st.dictionaries(st.text(max_size=5), _values, max_size=3),
    task=st.one_of(st.none(), _values, st.dictionaries(st.text(max_size=4), _values)),
)
def test_whatever_a_held_client_asks_as_a_task_never_reaches_the_poster_unallowed(
    arguments: dict[str, Any], task: Any
) -> None:
    w = World(tasks=True)
    post = w.trifecta()
    params = {"name": "send", "arguments": arguments, "task": task}
    message = {"jsonrpc": "2.0", "id": next(_ids), "method": "tools/call", "params": params}
    w.h.request("POST", "/post/mcp", message, session=post)
    w.h.reactor.advance(HOLD_SECONDS)
    w.store.sweep()
    assert w.forwarded("post") == []


# -- 2026-07-28: a client that declares the Tasks extension ------------------------------


def post2026(w: World, tool: str, arguments: Any = None, tasks: bool = True) -> Response:
    capabilities: dict[str, Any] = {"extensions": {EXTENSION: {}}} if tasks else {}
    message = body(
        "tools/call",
        next(_ids),
        {"name": tool, "arguments": arguments or {}},
        capabilities=capabilities,
    )
    headers = {**headersFor(message), "x-client-pid": "4242"}
    response = w.h.request("POST", "/post/mcp", message, headers=headers)
    w.listTools("post")
    return response


def get2026(w: World, taskId: str) -> dict[str, Any]:
    capabilities: dict[str, Any] = {"extensions": {EXTENSION: {}}}
    message = body("tasks/get", next(_ids), {"taskId": taskId}, capabilities=capabilities)
    response = w.h.request("POST", "/post/mcp", message, headers=headersFor(message))
    result: dict[str, Any] = answerOf(response)["result"]
    return result


def test_a_held_2026_call_of_a_tasks_client_becomes_a_task_and_runs_after_a_yes() -> None:
    w = World(tasks=True)
    w.trifecta()
    response = post2026(w, "send", {"to": "x"})
    assert not response.complete
    w.h.reactor.advance(0.5)
    handle = answerOf(response)["result"]
    assert handle["resultType"] == "task" and handle["status"] == "working"
    w.h.reactor.advance(WAIT_SECONDS * 3)
    assert get2026(w, handle["taskId"])["status"] == "working"
    assert w.forwarded("post") == []
    [held] = w.store.pending()
    w.store.allow(held.id, "owner")
    [sent] = w.forwarded("post")
    assert sent["params"]["arguments"] == {"to": "x"}
    answerChild(w)
    done = get2026(w, handle["taskId"])
    assert done["status"] == "completed"
    assert done["result"]["content"] == [{"type": "text", "text": "sent"}]


def test_a_denied_2026_task_completes_with_the_denial() -> None:
    w = World(tasks=True)
    w.trifecta()
    response = post2026(w, "send", {"to": "x"})
    w.h.reactor.advance(0.5)
    handle = answerOf(response)["result"]
    [held] = w.store.pending()
    w.store.deny(held.id, "owner")
    done = get2026(w, handle["taskId"])
    assert done["status"] == "completed"
    assert done["result"]["_meta"][DENIAL_KEY]["outcome"] == "denied"
    assert w.forwarded("post") == []


def test_a_held_2026_call_without_the_extension_still_waits_on_its_request() -> None:
    w = World(tasks=True)
    w.trifecta()
    response = post2026(w, "send", {"to": "x"}, tasks=False)
    w.h.reactor.advance(WAIT_SECONDS - 1)
    assert not response.complete
    w.h.reactor.advance(1)
    result = answerOf(response)["result"]
    assert result["resultType"] == "complete" and result["_meta"][DENIAL_KEY]["outcome"] == "held"
    assert w.forwarded("post") == []

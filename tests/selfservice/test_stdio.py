"""The C{gateway} server's JSON-RPC side, over a fake stdout: the MCP
handshake and listing, the question a change sends (form mode, with the
gateway's hints naming the call it serves), answers and refusals of it,
cancellation, and input that is not JSON-RPC."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.childhints import HINT_KEY, HINT_OPTIONAL, HINT_RELATED
from mcpgateway.selfservice.stdio import StdioServer, answerOf
from mcpgateway.selfservice.tools import TOOL_NAMES
from tests.selfservice.support import FakeGateway, toolsOver

ADD = {"name": "notes", "command": "python3", "args": ["-m", "notes"], "env": {"K": "secret-v"}}


class Stdout:
    """stdout as the gateway reads it: the lines written, and an optional
    client that answers the server's requests as they are written."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self.client: Callable[[dict[str, Any]], None] | None = None

    def write(self, data: bytes) -> int:
        message = json.loads(data)
        assert data.endswith(b"\n") and data.count(b"\n") == 1
        self.lines.append(message)
        if self.client is not None and "method" in message and "id" in message:
            self.client(message)
        return len(data)

    def flush(self) -> None:
        pass


def harness(gateway: FakeGateway | None = None) -> tuple[StdioServer, Stdout, FakeGateway]:
    """A server whose calls run at once, in the test's thread."""
    out = Stdout()
    gateway = gateway if gateway is not None else FakeGateway()
    server = StdioServer(out, toolsOver(gateway), spawn=lambda work: work())  # type: ignore[arg-type]
    return server, out, gateway


def line(message: dict[str, Any]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n"


def call(rid: Any, tool: str, arguments: dict[str, Any]) -> bytes:
    return line(
        {"id": rid, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    )


def answering(server: StdioServer, reply: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """A client that answers every request of the server with C{reply}."""

    def client(request: dict[str, Any]) -> None:
        server.handleLine(line({"id": request["id"], **reply}))

    return client


def test_initialize_and_tools_list() -> None:
    server, out, _ = harness()
    server.handleLine(
        line({"id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}})
    )
    server.handleLine(line({"method": "notifications/initialized"}))
    server.handleLine(line({"id": "2", "method": "tools/list"}))
    server.handleLine(line({"id": 3, "method": "ping"}))
    initialized, listed, pong = out.lines
    assert initialized["id"] == 1
    assert initialized["result"]["protocolVersion"] == "2025-06-18"
    assert initialized["result"]["capabilities"] == {"tools": {"listChanged": False}}
    assert listed["id"] == "2"
    assert (
        {t["name"] for t in listed["result"]["tools"]}
        == TOOL_NAMES
        == {
            "find_server",
            "add_server",
            "remove_server",
            "enable_server",
            "disable_server",
            "list_servers",
        }
    )
    assert pong == {"jsonrpc": "2.0", "id": 3, "result": {}}


def test_an_unknown_version_is_answered_with_the_latest() -> None:
    server, out, _ = harness()
    server.handleLine(line({"id": 1, "method": "initialize", "params": {"protocolVersion": "x"}}))
    assert out.lines[0]["result"]["protocolVersion"] == "2025-11-25"


def test_a_change_asks_the_session_of_its_own_call() -> None:
    server, out, gateway = harness()
    changedWhenAsked: list[Any] = []

    def client(request: dict[str, Any]) -> None:
        changedWhenAsked.extend(gateway.changes)
        server.handleLine(line({"id": request["id"], "result": {"action": "cancel"}}))

    out.client = client
    server.handleLine(call("call-7", "add_server", ADD))
    question = out.lines[0]
    assert question["method"] == "elicitation/create"
    params = question["params"]
    assert params["mode"] == "form"
    assert params["_meta"] == {HINT_RELATED: "call-7", HINT_KEY: "confirm", HINT_OPTIONAL: True}
    assert "python3 -m notes" in params["message"] and "K" in params["message"]
    assert "secret-v" not in json.dumps(question)
    assert params["requestedSchema"]["properties"]["confirm"]["type"] == "boolean"
    assert changedWhenAsked == [] and gateway.changes == []


def test_the_answer_yes_adds_and_answers_the_call() -> None:
    server, out, gateway = harness()
    out.client = answering(server, {"result": {"action": "accept", "content": {"confirm": True}}})
    server.handleLine(call(5, "add_server", ADD))
    question, answer = out.lines
    assert answer["id"] == 5 and not answer["result"]["isError"]
    assert [(m, p) for m, p, _ in gateway.changes] == [("POST", "/api/v1/servers")]
    assert question["params"]["_meta"][HINT_RELATED] == 5


def test_the_answer_no_changes_nothing() -> None:
    server, out, gateway = harness()
    out.client = answering(server, {"result": {"action": "decline"}})
    server.handleLine(call(5, "add_server", ADD))
    assert (
        out.lines[-1]["result"]["content"][0]["text"] == "The person declined: nothing was added."
    )
    assert gateway.changes == []


def test_a_client_without_elicitation_gets_the_cli_command() -> None:
    server, out, gateway = harness()
    refusal = {"code": -32602, "message": "the client does not support elicitation mode 'form'"}
    out.client = answering(server, {"error": refusal})
    server.handleLine(call(5, "add_server", ADD))
    result = out.lines[-1]["result"]
    assert result["isError"]
    text = result["content"][0]["text"]
    assert "does not support elicitation mode 'form'" in text
    assert text.endswith("mcpgateway servers add --env K notes -- python3 -m notes")
    assert gateway.changes == []


def test_a_cancelled_call_withdraws_its_question_and_is_not_answered() -> None:
    server, out, gateway = harness()

    def cancels(request: dict[str, Any]) -> None:
        params = {"requestId": 9, "reason": "the person closed the window"}
        server.handleLine(line({"method": "notifications/cancelled", "params": params}))

    out.client = cancels
    server.handleLine(call(9, "add_server", ADD))
    question, withdrawn = out.lines
    assert withdrawn == {
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": {"requestId": question["id"], "reason": "the tool call was cancelled"},
    }
    assert gateway.changes == []
    server.handleLine(line({"id": question["id"], "result": {"action": "accept"}}))  # too late
    assert len(out.lines) == 2


def test_calls_that_change_nothing_are_answered_at_once() -> None:
    server, out, _ = harness()
    server.handleLine(call(1, "list_servers", {}))
    assert out.lines[0]["result"]["content"][0]["text"] == "The gateway's servers (0):"


def test_bad_input_is_answered_with_json_rpc_errors() -> None:
    server, out, _ = harness()
    for raw in [
        b"not json\n",
        b"[1, 2]\n",
        line({"id": True, "method": "ping"}),
        line({"id": 1}),
        line({"id": 2, "method": "tools/list", "params": [1]}),
        line({"id": 3, "method": "resources/list"}),
        call(4, "nope", {}),
        line({"id": 5, "method": "tools/call", "params": {"name": "list_servers", "arguments": 3}}),
        b"\n",
        line({"method": "notifications/cancelled", "params": {"requestId": 99}}),
        line({"id": 77, "result": {}}),
    ]:
        server.handleLine(raw)
    codes = [(m.get("id"), m["error"]["code"]) for m in out.lines]
    assert codes == [
        (None, jsonrpc.PARSE_ERROR),
        (None, jsonrpc.INVALID_REQUEST),
        (None, jsonrpc.INVALID_REQUEST),
        (1, jsonrpc.INVALID_REQUEST),
        (2, jsonrpc.INVALID_PARAMS),
        (3, jsonrpc.METHOD_NOT_FOUND),
        (4, jsonrpc.INVALID_PARAMS),
        (5, jsonrpc.INVALID_PARAMS),
    ]


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=20,
    )
)
def test_any_answer_is_a_yes_only_when_it_says_accept_and_confirm_true(reply: Any) -> None:
    for message in ({"result": reply}, {"error": reply}, reply if isinstance(reply, dict) else {}):
        answer = answerOf(message)
        result = message.get("result")
        explicit = (
            "error" not in message
            and isinstance(result, dict)
            and result.get("action") == "accept"
            and isinstance(result.get("content"), dict)
            and result["content"].get("confirm") is True
        )
        assert answer.confirmed == explicit


@given(st.binary(max_size=200))
def test_any_line_is_answered_or_ignored_never_raised(raw: bytes) -> None:
    server, out, gateway = harness()
    out.client = answering(server, {"result": {"action": "decline"}})
    server.handleLine(raw)
    assert all(m.get("jsonrpc") == "2.0" for m in out.lines)
    assert gateway.changes == []


def test_scope_workspace_asks_the_session_of_its_call_for_its_roots() -> None:
    """C{roots/list} goes to the caller with the same hints, then the
    question names the workspace its first root is."""
    server, out, gateway = harness()

    def client(request: dict[str, Any]) -> None:
        if request["method"] == "roots/list":
            roots = [{"uri": "file:///work/app", "name": "app"}]
            server.handleLine(line({"id": request["id"], "result": {"roots": roots}}))
        else:
            yes = {"action": "accept", "content": {"confirm": True}}
            server.handleLine(line({"id": request["id"], "result": yes}))

    out.client = client
    server.handleLine(call("c-1", "add_server", {**ADD, "scope": "workspace"}))
    asked, question, answer = out.lines
    assert asked["method"] == "roots/list"
    assert asked["params"]["_meta"] == {
        HINT_RELATED: "c-1",
        HINT_KEY: "workspace",
        HINT_OPTIONAL: True,
    }
    assert "workspace /work/app only" in question["params"]["message"]
    [(_, _, body)] = gateway.changes
    assert body["workspace"] == "/work/app" and not answer["result"]["isError"]


def test_scope_workspace_without_roots_changes_nothing() -> None:
    server, out, gateway = harness()
    out.client = answering(server, {"error": {"code": -32601, "message": "no roots"}})
    server.handleLine(call(3, "add_server", {**ADD, "scope": "workspace"}))
    assert out.lines[0]["method"] == "roots/list"
    answer = out.lines[-1]
    assert answer["result"]["isError"] and "MCP roots" in answer["result"]["content"][0]["text"]
    assert gateway.changes == []

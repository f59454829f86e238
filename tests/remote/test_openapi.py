"""REST APIs as tools without a network: an OpenAPI document's operations
as tools (schemas, $refs, names), the requests a call makes, and the
L{RestChild} answering MCP on a fake agent."""

from __future__ import annotations

import json
import posixpath
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.logger import formatEvent
from twisted.python.failure import Failure

from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.spec import RemoteEndpoint, ServerSpec
from mcpgateway.core.status import Lifecycle
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol.jsonrpc import request
from mcpgateway.remote.openapi import InvalidArgument, SpecError, parseApi, resolve
from mcpgateway.remote.restchild import RestChild
from tests.fakes import FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.remote.fakehttp import FakeAgent, FakeResponse, jsonResponse
from tests.support.remote.openapi import DOCUMENT, child


def test_each_operation_is_a_tool_with_its_parameters_body_and_output() -> None:
    api = parseApi(DOCUMENT)
    assert (api.title, api.version, api.servers) == ("Pets", "2.0", ("/api",))
    assert sorted(api.operations) == ["create_pet", "delete__pets_petId", "getPet", "listPets"]
    get = api.operations["getPet"].tool()
    assert get["description"] == "One pet"
    assert get["inputSchema"]["required"] == ["petId"]
    assert set(get["inputSchema"]["properties"]) == {"petId", "X-Trace"}
    assert get["outputSchema"]["required"] == ["name"]
    assert get["annotations"] == {"readOnlyHint": True}
    create = api.operations["create_pet"].tool()
    assert create["inputSchema"]["required"] == ["body"]
    assert create["inputSchema"]["properties"]["body"]["properties"]["name"] == {"type": "string"}
    assert "outputSchema" not in create
    assert api.operations["delete__pets_petId"].tool()["annotations"]["destructiveHint"] is True
    json.dumps([op.tool() for op in api.operations.values()])  # plain JSON, the cycle cut


def test_a_recursive_reference_is_cut_and_a_dangling_one_refused() -> None:
    pet = resolve({"$ref": "#/components/schemas/Pet"}, DOCUMENT)
    assert pet["properties"]["friends"]["items"] == {}  # a Pet inside a Pet: any value
    with pytest.raises(SpecError, match="points at nothing"):
        resolve({"$ref": "#/components/schemas/Nope"}, DOCUMENT)


def test_an_invalid_document_is_refused_with_the_validators_words() -> None:
    with pytest.raises(SpecError, match="not valid: 'version' is a required property"):
        parseApi({"openapi": "3.1.0", "info": {"title": "x"}, "paths": {}})
    with pytest.raises(SpecError, match="not a JSON object"):
        parseApi([])


def test_a_call_fills_the_path_query_and_headers_and_needs_what_is_required() -> None:
    api = parseApi(DOCUMENT)
    path, headers, body = api.operations["getPet"].request({"petId": "a/b", "X-Trace": "t1"})
    assert (path, headers, body) == ("/pets/a%2Fb", {"X-Trace": "t1"}, None)
    path, _, _ = api.operations["listPets"].request({"limit": 3, "tag": ["a", "b c"]})
    assert path == "/pets?tag=a&tag=b+c&limit=3"
    with pytest.raises(ValueError, match="'limit' is required"):
        api.operations["listPets"].request({})
    _, _, body = api.operations["create_pet"].request({"body": {"name": "rex"}})
    assert body == {"name": "rex"}


FILES: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Files", "version": "1"},
    "paths": {
        "/v1/files/{name}/raw/{rev}.json": {
            "get": {
                "operationId": "raw",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {}},
                    {"name": "rev", "in": "path", "required": True, "schema": {}},
                ],
                "responses": {"200": {"description": "the file"}},
            }
        }
    },
}
TRICKS = st.sampled_from(
    [".", "..", "", "/", "../..", "%2e%2e", ".%2E", "a/../b", "?x=1", "#top", "{rev}", "~._-"]
)
PATH_VALUES = st.one_of(
    TRICKS,
    st.text(),
    st.integers(),
    st.booleans(),
    st.lists(st.one_of(TRICKS, st.text(max_size=4)), max_size=3),
)


RAW = parseApi(FILES).operations["raw"]


def _texts(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [("true" if v else "false") if isinstance(v, bool) else str(v) for v in values]


@settings(max_examples=400, deadline=None)
@given(name=PATH_VALUES, rev=PATH_VALUES)
def test_no_path_parameter_changes_the_paths_segments_or_leaves_its_prefix(
    name: Any, rev: Any
) -> None:
    raw = RAW
    try:
        path, _, _ = raw.request({"name": name, "rev": rev})
    except InvalidArgument:
        assert ",".join(_texts(name)) in ("", ".", "..")  # the whole segment {name}
        return
    segments = path.split("/")
    assert len(segments) == 6, path
    assert segments[:3] == ["", "v1", "files"] and segments[4] == "raw", path
    assert segments[5].endswith(".json"), path
    assert "?" not in path and "#" not in path and "{" not in path, path
    assert posixpath.normpath(path) == path  # no dot segment, nothing to resolve
    # Each item is its own text again; the commas between them are the expansion's.
    assert [unquote(item) for item in segments[3].split(",")] == (_texts(name) or [""])
    assert [unquote(item) for item in segments[5][: -len(".json")].split(",")] == (
        _texts(rev) or [""]
    )


def test_dot_segments_and_empty_path_values_are_refused() -> None:
    raw = RAW
    refused: list[Any] = [".", "..", "", []]
    for value in refused:
        with pytest.raises(InvalidArgument, match="path parameter 'name' cannot be"):
            raw.request({"name": value, "rev": "1"})
    assert raw.request({"name": "..x", "rev": ".."})[0] == "/v1/files/..x/raw/...json"
    assert raw.request({"name": "a b/ü", "rev": "1"})[0] == "/v1/files/a%20b%2F%C3%BC/raw/1.json"


def test_the_child_answers_initialize_and_lists_tools_on_a_later_turn(tmp_path: Path) -> None:
    rest, _, clock, got = child(tmp_path)
    rest.send(request(1, "initialize", {"protocolVersion": "2025-06-18"}))
    rest.send(request(2, "tools/list"))
    assert got == []
    clock.advance(0)
    assert got[0]["result"]["protocolVersion"] == "2025-06-18"
    assert got[0]["result"]["serverInfo"] == {"name": "Pets", "version": "2.0"}
    assert sorted(t["name"] for t in got[1]["result"]["tools"]) == [
        "create_pet",
        "delete__pets_petId",
        "getPet",
        "listPets",
    ]


def test_a_tool_call_is_one_request_with_the_entrys_headers(tmp_path: Path) -> None:
    rest, agent, clock, got = child(tmp_path)
    rest.send(request(3, "tools/call", {"name": "getPet", "arguments": {"petId": 7}}))
    sent = agent.one(b"GET")
    assert sent.uri == b"https://api.example.com/pets/7"
    assert sent.header("x-api-key") == "k"
    sent.answer(jsonResponse({"name": "rex"}))
    clock.advance(0)
    result = got[0]["result"]
    assert result["structuredContent"] == {"name": "rex"}
    assert json.loads(result["content"][0]["text"]) == {"name": "rex"}


def test_an_http_error_is_a_tool_error_and_a_missing_argument_too(tmp_path: Path) -> None:
    rest, agent, clock, got = child(tmp_path)
    rest.send(request(4, "tools/call", {"name": "getPet", "arguments": {"petId": 9}}))
    agent.one(b"GET").answer(FakeResponse(404, b'{"error": "not found"}'))
    rest.send(request(5, "tools/call", {"name": "listPets", "arguments": {}}))
    clock.advance(0)
    assert got[0]["result"] == {
        "content": [{"type": "text", "text": 'HTTP 404: {"error": "not found"}'}],
        "isError": True,
    }
    assert got[1]["result"]["isError"] is True
    assert "'limit' is required" in got[1]["result"]["content"][0]["text"]


def test_an_unreadable_document_is_an_error_naming_it_and_is_read_again_later(
    tmp_path: Path,
) -> None:
    rest, _, clock, got = child(tmp_path)
    spec = tmp_path / "openapi.json"
    spec.write_text("{")
    rest.send(request(1, "tools/list"))
    clock.advance(0)
    assert "is not JSON" in got[0]["error"]["message"]
    spec.write_text(json.dumps(DOCUMENT))
    rest.send(request(2, "tools/list"))
    clock.advance(0)
    assert len(got[1]["result"]["tools"]) == 4


def test_a_dot_segment_path_value_is_an_invalid_params_error_and_sends_nothing(
    tmp_path: Path,
) -> None:
    rest, agent, clock, got = child(tmp_path)
    for n, value in enumerate(["..", "."]):
        rest.send(request(n, "tools/call", {"name": "getPet", "arguments": {"petId": value}}))
    clock.advance(0)
    assert agent.take() == []
    for answer, value in zip(got, ["..", "."], strict=True):
        assert answer["error"]["code"] == -32602, answer
        assert f"path parameter 'petId' cannot be {value!r}" in answer["error"]["message"]


class _Connector:
    """The gateway's remote connector for one REST API: each child a
    L{RestChild} on the test's agent and clock."""

    def __init__(self, agent: FakeAgent, clock: Clock) -> None:
        self.agent, self.clock = agent, clock

    def connect(
        self, spec: ServerSpec, onMessage: Callable[[Any], None], onStderr: Callable[[str], None]
    ) -> RestChild:
        assert spec.remote is not None
        return RestChild(spec.name, spec.remote, self.agent, self.clock, onMessage, onStderr)


def test_a_start_refused_for_want_of_the_validator_is_forgotten_once_one_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The OpenAPI extra missing: the start is refused, and the log says a
    remote session was closed (no pid, no signal). The extra installed:
    the next start works, and the server is running again, not degraded
    by the refused start, with no last exit left to show as its failure."""
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(DOCUMENT))
    clock = Clock()
    endpoint = RemoteEndpoint("https://api.example.com", "openapi", (), str(spec))
    spawner = fakeSpawner(FakeProcessReactor(), clock, remotes=_Connector(FakeAgent(), clock))
    upstream = Upstream(
        ServerSpec(name="pets", command="", remote=endpoint), spawner, SharedFanout()
    )
    monkeypatch.setitem(sys.modules, "openapi_spec_validator", None)  # not installed
    failures: list[Failure] = []
    with capturedGatewayLogs() as events:
        upstream.ensure().addErrback(failures.append)
        clock.advance(0)
    [refused] = failures
    assert "openapi-spec-validator" in refused.getErrorMessage()
    [ended] = [e for e in events if "having written" in e.get("log_format", "")]
    said = formatEvent(ended)
    assert "server pets: remote session closed by the gateway: it refused initialize after" in (
        said
    ), said
    assert "pid" not in said and "SIG" not in said, said
    assert upstream.breaker.recentFailures() == 1
    assert upstream.lastExit is not None and "openapi-spec-validator" in upstream.lastExit

    monkeypatch.delitem(sys.modules, "openapi_spec_validator")  # installed meanwhile
    clock.advance(upstream.breaker.delay())
    started = upstream.ensure()
    clock.advance(0)
    assert started.called and started.result is None
    assert upstream.state is Lifecycle.RUNNING
    assert upstream.breaker.recentFailures() == 0  # running, not degraded
    assert upstream.lastExit is None
    assert upstream.breaker.totalFailures == 1  # counted all the same

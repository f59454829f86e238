"""The MCP 2026-07-28 wire vocabulary (mcpgateway.protocol.era2026form): envelope,
header and version checks, the result and error shapes a 2026 client
gets, and the pieces of an InputRequiredResult."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.protocol import childhints, era2026form, jsonrpc, paramheaders, versions
from mcpgateway.protocol.era2026form import (
    CAPABILITIES_KEY,
    CLIENT_INFO_KEY,
    LOG_LEVEL_KEY,
    PROTOCOL_VERSION_KEY,
    SERVER_INFO_KEY,
    SUBSCRIPTION_ID_KEY,
)
from tests.support.json_values import jsonScalars, jsonValues

JSON_SCALARS = jsonScalars()
JSON = jsonValues(JSON_SCALARS, entries=4, leaves=10)
ENVELOPE = {PROTOCOL_VERSION_KEY: "2026-07-28", CAPABILITIES_KEY: {}}


def era2026(method: str, meta: dict[str, Any] | None = None, /, **params: Any) -> dict[str, Any]:
    params["_meta"] = {**ENVELOPE, **(meta or {})}
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}


def headersFor(message: dict[str, Any], **extra: str) -> dict[str, list[str]]:
    """The routing headers a conforming client sends for C{message}."""
    headers = {
        "mcp-protocol-version": [message["params"]["_meta"][PROTOCOL_VERSION_KEY]],
        "mcp-method": [message["method"]],
    }
    key = era2026form.NAMED_METHODS.get(message["method"])
    if key is not None:
        headers["mcp-name"] = [era2026form.encodeNameHeader(message["params"][key])]
    for name, value in extra.items():
        headers[name.lower().replace("_", "-")] = [value]
    return headers


# -- checkEnvelope -------------------------------------------------------------


@pytest.mark.parametrize(
    "meta",
    [
        ENVELOPE,
        {**ENVELOPE, CLIENT_INFO_KEY: {"name": "c", "version": "1"}},
        {**ENVELOPE, LOG_LEVEL_KEY: "warning", "progressToken": 3, "traceparent": "00-x"},
        {**ENVELOPE, PROTOCOL_VERSION_KEY: "1900-01-01"},  # the version check's job
    ],
)
def test_envelope_accepted(meta: dict[str, Any]) -> None:
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}}
    assert era2026form.checkEnvelope(message) is None


@pytest.mark.parametrize(
    "params",
    [
        None,
        [],
        {},
        {"_meta": None},
        {"_meta": []},
        {"_meta": {CAPABILITIES_KEY: {}}},
        {"_meta": {PROTOCOL_VERSION_KEY: "2026-07-28"}},
        {"_meta": {**ENVELOPE, PROTOCOL_VERSION_KEY: 20260728}},
        {"_meta": {**ENVELOPE, CAPABILITIES_KEY: []}},
        {"_meta": {**ENVELOPE, CAPABILITIES_KEY: None}},
        {"_meta": {**ENVELOPE, CLIENT_INFO_KEY: "me"}},
        {"_meta": {**ENVELOPE, CLIENT_INFO_KEY: None}},
        {"_meta": {**ENVELOPE, LOG_LEVEL_KEY: "verbose"}},
        {"_meta": {**ENVELOPE, LOG_LEVEL_KEY: 3}},
    ],
)
def test_envelope_refused(params: Any) -> None:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    if params is not None:
        message["params"] = params
    problem = era2026form.checkEnvelope(message)
    assert problem is not None
    assert problem[0] == jsonrpc.INVALID_PARAMS
    assert era2026form.httpStatus(problem[0]) == 400


# -- checkHeaders ---------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        era2026("tools/list"),
        era2026("server/discover"),
        era2026("tools/call", name="echo", arguments={}),
        era2026("tools/call", name="écho ", arguments={}),
        era2026("prompts/get", name="=?base64?abc?="),
        era2026("resources/read", uri="file:///a b/ü.txt"),
    ],
)
def test_headers_of_a_conforming_client_pass(message: dict[str, Any]) -> None:
    assert era2026form.checkHeaders(message, headersFor(message)) is None


def test_headers_optional_white_space_is_not_part_of_the_value() -> None:
    message = era2026("tools/call", name="echo")
    headers = headersFor(message)
    headers["mcp-name"] = ["  echo\t"]
    headers["mcp-method"] = [" tools/call "]
    assert era2026form.checkHeaders(message, headers) is None


def test_header_name_without_a_body_name_is_left_to_the_params_check() -> None:
    message = era2026("tools/call", arguments={})
    headers = headersFor(message | {"method": "tools/list"})
    headers["mcp-method"] = ["tools/call"]
    assert era2026form.checkHeaders(message, headers) is None


def _without(headers: dict[str, list[str]], name: str) -> dict[str, list[str]]:
    return {key: value for key, value in headers.items() if key != name}


CALL = era2026("tools/call", name="echo", arguments={})


@pytest.mark.parametrize(
    "headers",
    [
        _without(headersFor(CALL), "mcp-protocol-version"),
        headersFor(CALL, mcp_protocol_version="2025-11-25"),
        headersFor(CALL, mcp_protocol_version="2026-07-29"),
        _without(headersFor(CALL), "mcp-method"),
        headersFor(CALL, mcp_method="tools/list"),
        headersFor(CALL, mcp_method="TOOLS/CALL"),
        _without(headersFor(CALL), "mcp-name"),
        headersFor(CALL, mcp_name="wrong_tool_name"),
        headersFor(CALL, mcp_name="ECHO"),
        headersFor(CALL, mcp_name="=?base64?ZWNobw?="),  # bad padding
        headersFor(CALL, mcp_name="=?base64?ZW!ob w==?="),  # not base64
        headersFor(CALL, mcp_name="=?base64?ZWNobx==?="),  # non-canonical bits
        headersFor(CALL, mcp_name="=?base64?/w==?="),  # not UTF-8
        {**headersFor(CALL), "mcp-method": ["tools/call", "tools/call"]},
        {**headersFor(CALL), "mcp-name": ["echo", "echo"]},
        {**headersFor(CALL), "mcp-protocol-version": ["2026-07-28", "2026-07-28"]},
        {**headersFor(CALL), "mcp-name": ["ech\x00o"]},
        {**headersFor(CALL), "mcp-name": ["écho"]},
        {**headersFor(CALL), "mcp-method": ["tools/\x7fcall"]},
    ],
)
def test_headers_refused(headers: dict[str, list[str]]) -> None:
    problem = era2026form.checkHeaders(CALL, headers)
    assert problem is not None
    assert problem[0] == jsonrpc.HEADER_MISMATCH
    assert era2026form.httpStatus(problem[0]) == 400


@settings(max_examples=60)
@given(
    message=JSON,
    headers=st.dictionaries(
        st.sampled_from(["mcp-protocol-version", "mcp-method", "mcp-name", "mcp-param-x"]),
        st.lists(st.text(max_size=12), max_size=3),
    ),
)
def test_checks_never_raise(message: Any, headers: dict[str, list[str]]) -> None:
    """Any JSON object (as the web hands over) and any header set: a
    Problem of the right code, or None."""
    if not isinstance(message, dict):
        message = {"method": "tools/call", "params": message}
    checks: list[tuple[Callable[[], era2026form.Problem | None], int]] = [
        (lambda: era2026form.checkEnvelope(message), jsonrpc.INVALID_PARAMS),
        (lambda: era2026form.checkHeaders(message, headers), jsonrpc.HEADER_MISMATCH),
        (lambda: era2026form.checkVersion(message), jsonrpc.UNSUPPORTED_VERSION),
        (
            lambda: era2026form.checkParamHeaders(message.get("params"), {"X": "x"}, headers),
            jsonrpc.HEADER_MISMATCH,
        ),
    ]
    for check, code in checks:
        problem = check()
        assert problem is None or (problem[0] == code and isinstance(problem[1], str))


@settings(max_examples=60)
@given(method=st.sampled_from(sorted(era2026form.NAMED_METHODS)), name=st.text(max_size=20))
def test_any_name_a_client_encodes_passes(method: str, name: str) -> None:
    message = era2026(method, **{era2026form.NAMED_METHODS[method]: name})
    assert era2026form.checkHeaders(message, headersFor(message)) is None


# -- the sentinel ---------------------------------------------------------------


@settings(max_examples=100)
@given(st.text())
def test_sentinel_round_trips_any_string(value: str) -> None:
    encoded = era2026form.encodeNameHeader(value)
    assert all(" " <= c <= "~" for c in encoded)
    assert encoded == encoded.strip(" \t")
    assert era2026form.decodeNameHeader(encoded) == value


@settings(max_examples=60)
@given(st.text(max_size=30))
def test_decode_never_raises(value: str) -> None:
    decoded = era2026form.decodeNameHeader(value)
    assert decoded is None or isinstance(decoded, str)


@pytest.mark.parametrize(
    ("value", "decoded"),
    [
        ("plain", "plain"),
        ("=?base64?SGVsbG8=?=", "Hello"),
        ("=?base64?w6k=?=", "é"),
        ("=?base64??=", ""),
        ("SGVsbG8=", "SGVsbG8="),  # no sentinel: literal
        ("=?base64?SGVsbG8=", "=?base64?SGVsbG8="),  # no closing ?=: literal
        ("=?base64?SGVsbG8?=", None),  # bad padding
        ("=?base64?SGVs!!!bG8=?=", None),  # not the alphabet
    ],
)
def test_decodeNameHeader(value: str, decoded: str | None) -> None:
    assert era2026form.decodeNameHeader(value) == decoded


def test_values_that_look_like_the_sentinel_are_encoded() -> None:
    assert era2026form.encodeNameHeader("=?base64?x?=").startswith("=?base64?")
    assert (
        era2026form.encodeNameHeader(" x") == "=?base64?" + base64.b64encode(b" x").decode() + "?="
    )
    assert era2026form.encodeNameHeader("a b") == "a b"


# -- checkVersion ---------------------------------------------------------------


def test_version_served() -> None:
    assert era2026form.checkVersion(era2026("tools/list")) is None


@pytest.mark.parametrize("requested", ["1900-01-01", "2025-11-25", "2026-07-29", 5, None])
def test_version_refused_names_the_revisions_discover_names(requested: Any) -> None:
    message = era2026("tools/list", {PROTOCOL_VERSION_KEY: requested})
    problem = era2026form.checkVersion(message)
    assert problem is not None
    code, _, data = problem
    assert code == jsonrpc.UNSUPPORTED_VERSION == -32022
    assert data == {"supported": list(versions.ERA2026_VERSIONS), "requested": requested}
    # The conformance suite checks that -32022 lists nothing discover does not.
    assert set(data["supported"]) <= set(
        era2026form.discoverResult({}, "public")["supportedVersions"]
    )
    assert era2026form.httpStatus(code) == 400


# -- Mcp-Param-* ----------------------------------------------------------------

TOOL = {
    "name": "test_custom_headers",
    "inputSchema": {
        "type": "object",
        "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "priority": {"type": "integer", "x-mcp-header": "Priority"},
            "verbose": {"type": "boolean", "x-mcp-header": "Verbose"},
            "query": {"type": "string"},
            "nested": {
                "type": "object",
                "properties": {"deep": {"type": "string", "x-mcp-header": "Deep"}},
            },
        },
    },
}
XMAP = {"Region": "region", "Priority": "priority", "Verbose": "verbose"}


def test_xHeaderMap() -> None:
    assert paramheaders.xHeaderMap(TOOL) == XMAP
    assert paramheaders.xHeaderMap({"name": "t"}) == {}
    assert paramheaders.xHeaderMap({"name": "t", "inputSchema": {"type": "object"}}) == {}


@pytest.mark.parametrize(
    "prop",
    [
        {"type": "string", "x-mcp-header": ""},
        {"type": "string", "x-mcp-header": "My Region"},
        {"type": "string", "x-mcp-header": "Region:Primary"},
        {"type": "string", "x-mcp-header": "Région"},
        {"type": "string", "x-mcp-header": "Region\t1"},
        {"type": "string", "x-mcp-header": 7},
        {"type": "number", "x-mcp-header": "Score"},
        {"type": "object", "x-mcp-header": "Data"},
        {"type": "array", "x-mcp-header": "Items"},
        {"type": "null", "x-mcp-header": "Nil"},
        {"x-mcp-header": "Untyped"},
        {"type": "string", "x-mcp-header": "region"},  # duplicates Region case-insensitively
    ],
)
def test_invalid_annotation_validates_nothing(prop: dict[str, Any]) -> None:
    tool = {
        "name": "t",
        "inputSchema": {
            "type": "object",
            "properties": {"region": {"type": "string", "x-mcp-header": "Region"}, "bad": prop},
        },
    }
    assert paramheaders.xHeaderMap(tool) == {}


@pytest.mark.parametrize(
    ("arguments", "headers"),
    [
        (
            {"region": "us-west1", "priority": 3, "query": "q"},
            {"Region": "us-west1", "Priority": "3"},
        ),
        ({"region": "Hello", "priority": 3}, {"Region": "=?base64?SGVsbG8=?=", "Priority": "3"}),
        ({"region": "SGVsbG8=", "priority": 3}, {"Region": "SGVsbG8=", "Priority": "3"}),
        (
            {"region": "=?base64?SGVsbG8=", "priority": 3},
            {"Region": "=?base64?SGVsbG8=", "Priority": "3"},
        ),
        ({"region": "x", "priority": 42}, {"Region": "x", "Priority": "42.0"}),
        ({"region": "x", "priority": 42.0}, {"Region": "x", "Priority": "42"}),
        ({"region": "x", "priority": -7}, {"Region": "x", "Priority": "-007"}),
        (
            {"region": "x", "priority": 1, "verbose": False},
            {"Region": "x", "Priority": "1", "Verbose": "false"},
        ),
        ({"region": "x", "priority": 1, "verbose": None}, {"Region": "x", "Priority": "1"}),
        (
            {"region": " padded ", "priority": 1},
            {"Region": "=?base64?IHBhZGRlZCA=?=", "Priority": "1"},
        ),
        ({"region": "x", "priority": 1}, {"Region": "x", "Priority": "1", "Unknown": "ignored"}),
        ({}, {}),
    ],
)
def test_param_headers_accepted(arguments: dict[str, Any], headers: dict[str, str]) -> None:
    sent = {f"mcp-param-{name.lower()}": [value] for name, value in headers.items()}
    assert era2026form.checkParamHeaders(arguments, XMAP, sent) is None


@pytest.mark.parametrize(
    ("arguments", "headers"),
    [
        ({"region": "us-west1"}, {}),  # missing
        ({"region": "test-value", "priority": 0}, {"Priority": "0"}),  # missing
        ({"priority": 1}, {"Region": "x", "Priority": "1"}),  # extra: no argument
        ({"region": None}, {"Region": "null"}),  # extra: null argument
        ({"region": "a"}, {"Region": "b"}),
        ({"region": "Hello"}, {"Region": "=?base64?SGVsbG8?="}),  # bad padding
        ({"region": "Hello"}, {"Region": "=?base64?SGVs!!!bG8=?="}),
        ({"priority": 42}, {"Priority": "42.5"}),
        ({"priority": 42}, {"Priority": "4.2e1"}),
        ({"verbose": True}, {"Verbose": "True"}),
        ({"region": "é"}, {"Region": "é"}),  # not visible ASCII
        ({"region": {"a": 1}}, {"Region": "x"}),  # unrenderable argument
    ],
)
def test_param_headers_refused(arguments: dict[str, Any], headers: dict[str, str]) -> None:
    sent = {f"mcp-param-{name.lower()}": [value] for name, value in headers.items()}
    problem = era2026form.checkParamHeaders(arguments, XMAP, sent)
    assert problem is not None
    assert problem[0] == jsonrpc.HEADER_MISMATCH


def test_repeated_param_header_refused() -> None:
    sent = {"mcp-param-region": ["x", "x"]}
    problem = era2026form.checkParamHeaders({"region": "x"}, XMAP, sent)
    assert problem is not None and problem[0] == jsonrpc.HEADER_MISMATCH


@settings(max_examples=80)
@given(value=st.integers() | st.text(max_size=12) | st.booleans())
def test_a_mirrored_argument_always_matches(value: Any) -> None:
    """What a client mirrors (its rendering, through the sentinel) matches,
    integers as any canonical decimal of the same number."""
    rendered = ("true" if value else "false") if isinstance(value, bool) else str(value)
    sent = {"mcp-param-region": [era2026form.encodeNameHeader(rendered)]}
    assert era2026form.checkParamHeaders({"region": value}, XMAP, sent) is None
    if isinstance(value, int) and not isinstance(value, bool):
        sent = {"mcp-param-region": [f"{value}.000"]}
        assert era2026form.checkParamHeaders({"region": value}, XMAP, sent) is None
        sent = {"mcp-param-region": [str(value + 1)]}
        assert era2026form.checkParamHeaders({"region": value}, XMAP, sent) is not None


# -- httpStatus, stripEnvelope ---------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (-32700, 400),
        (-32600, 400),
        (-32602, 400),
        (-32020, 400),
        (-32021, 400),
        (-32022, 400),
        (-32601, 404),
        (-32603, 200),
        (-32000, 200),
        (-32003, 200),
        (-32004, 200),
        (1, 200),
    ],
)
def test_httpStatus(code: int, status: int) -> None:
    assert era2026form.httpStatus(code) == status


def test_stripEnvelope() -> None:
    params = {
        "name": "t",
        "arguments": {"a": 1},
        "inputResponses": {"k": {}},
        "requestState": "v1.x",
        "_meta": {**ENVELOPE, CLIENT_INFO_KEY: {}, LOG_LEVEL_KEY: "info", "progressToken": 5},
    }
    stripped = era2026form.stripEnvelope(params)
    assert stripped == {"name": "t", "arguments": {"a": 1}, "_meta": {"progressToken": 5}}
    assert "requestState" in params and CLIENT_INFO_KEY in params["_meta"]  # a copy
    assert era2026form.stripEnvelope({"_meta": dict(ENVELOPE)}) == {}


# -- results and errors ----------------------------------------------------------

INFO = {"name": "child", "version": "1.0", "title": "Child"}


@pytest.mark.parametrize("method", sorted(era2026form.CACHEABLE - {"server/discover"}))
def test_cacheable_results_get_cache_hints(method: str) -> None:
    done = era2026form.completeResult(method, {"items": []}, INFO, "public")
    assert done["resultType"] == "complete"
    assert done["ttlMs"] == 0
    assert done["cacheScope"] == "public"
    assert done["_meta"] == {SERVER_INFO_KEY: INFO}


@pytest.mark.parametrize("method", ["tools/call", "prompts/get", "completion/complete"])
def test_other_results_get_no_cache_hints(method: str) -> None:
    done = era2026form.completeResult(method, {"content": []}, INFO, "private")
    assert done == {"content": [], "resultType": "complete", "_meta": {SERVER_INFO_KEY: INFO}}


def test_tool_execution_is_stripped_and_child_meta_kept() -> None:
    result: dict[str, Any] = {
        "tools": [{"name": "a", "execution": {"taskSupport": "optional"}}, {"name": "b"}],
        "_meta": {"x/y": 1, SERVER_INFO_KEY: {"name": "own"}},
    }
    done = era2026form.completeResult("tools/list", result, INFO, "private")
    assert done["tools"] == [{"name": "a"}, {"name": "b"}]
    assert done["_meta"] == {"x/y": 1, SERVER_INFO_KEY: {"name": "own"}}
    assert result["tools"][0]["execution"] == {"taskSupport": "optional"}  # a copy


@settings(max_examples=80)
@given(
    method=st.sampled_from(sorted(era2026form.ERA2026_METHODS)),
    result=st.dictionaries(st.text(max_size=8), JSON, max_size=4),
    childMeta=st.dictionaries(st.text(max_size=8), JSON, max_size=3),
    serverInfo=st.none() | st.just(INFO),
)
def test_complete_results(
    method: str, result: dict[str, Any], childMeta: dict[str, Any], serverInfo: Any
) -> None:
    result["_meta"] = childMeta
    done = era2026form.completeResult(method, result, serverInfo, "private")
    assert done["resultType"] == "complete"
    assert ("ttlMs" in done) == ("cacheScope" in done) == (method in era2026form.CACHEABLE)
    for key, value in childMeta.items():
        assert done["_meta"][key] == value
    if serverInfo is not None:
        assert SERVER_INFO_KEY in done["_meta"]


@pytest.mark.parametrize(
    ("error", "translated"),
    [
        (
            {"code": -32002, "message": "Resource not found", "data": {"uri": "file:///x"}},
            {"code": -32602, "message": "Resource not found", "data": {"uri": "file:///x"}},
        ),
        (
            {"code": -32042, "message": "URL elicitation required", "data": {"elicitations": []}},
            {
                "code": -32603,
                "message": "URL elicitation required",
                "data": {
                    "original": {
                        "code": -32042,
                        "message": "URL elicitation required",
                        "data": {"elicitations": []},
                    }
                },
            },
        ),
        (
            {"code": -32099, "message": "m"},
            {
                "code": -32603,
                "message": "m",
                "data": {"original": {"code": -32099, "message": "m"}},
            },
        ),
        ({"code": -32021, "message": "m"}, {"code": -32021, "message": "m"}),
        ({"code": -32019, "message": "m"}, {"code": -32019, "message": "m"}),
        ({"code": -32100, "message": "m"}, {"code": -32100, "message": "m"}),
        ({"code": -32000, "message": "m"}, {"code": -32000, "message": "m"}),
        ({"code": -32001, "message": "m"}, {"code": -32001, "message": "m"}),
        ({"code": -32003, "message": "m"}, {"code": -32003, "message": "m"}),
        ({"code": -32004, "message": "m"}, {"code": -32004, "message": "m"}),
        ({"code": -32601, "message": "m"}, {"code": -32601, "message": "m"}),
        ({"code": 12, "message": "m", "data": [1]}, {"code": 12, "message": "m", "data": [1]}),
    ],
)
def test_translateError(error: dict[str, Any], translated: dict[str, Any]) -> None:
    assert era2026form.translateError(error) == translated


@settings(max_examples=80)
@given(code=st.integers(min_value=-33000, max_value=-31000), data=JSON)
def test_translated_errors_never_carry_an_undefined_2026_code(code: int, data: Any) -> None:
    out = era2026form.translateError({"code": code, "message": "m", "data": data})
    assert out["code"] != -32002
    assert not (-32099 <= out["code"] <= -32023)
    assert out["code"] not in (-32042,)


DISCOVERED = {
    "tools": {"listChanged": True},
    "prompts": {},
    "resources": {"subscribe": True, "listChanged": True},
    "completions": {},
    "logging": {},
    "experimental": {"x": {}},
}
"""The capabilities of a child that server/discover passes on."""


def test_discoverResult() -> None:
    initialize = {
        "protocolVersion": "2025-11-25",
        "capabilities": {**DISCOVERED, "tasks": {"requests": {}}, "odd": {}},
        "serverInfo": INFO,
        "instructions": "Use it well.",
    }
    assert era2026form.discoverResult(initialize, "public") == {
        "resultType": "complete",
        "supportedVersions": ["2026-07-28"],
        "capabilities": DISCOVERED,
        "instructions": "Use it well.",
        "_meta": {SERVER_INFO_KEY: INFO},
        "ttlMs": 0,
        "cacheScope": "public",
    }


def test_discoverResult_keeps_the_extensions_whose_requests_pass() -> None:
    apps = {"mimeTypes": ["text/html;profile=mcp-app"]}
    initialize = {
        "capabilities": {
            "tools": {},
            "extensions": {
                "io.modelcontextprotocol/ui": apps,
                "io.modelcontextprotocol/skills": {},
                "io.modelcontextprotocol/tasks": {},
                "vendor/other": {},
            },
        }
    }
    capabilities = era2026form.discoverResult(initialize, "public")["capabilities"]
    assert capabilities["extensions"] == {
        "io.modelcontextprotocol/ui": apps,
        "io.modelcontextprotocol/skills": {},
    }


def test_discoverResult_of_a_bare_child() -> None:
    assert era2026form.discoverResult({}, "private") == {
        "resultType": "complete",
        "supportedVersions": ["2026-07-28"],
        "capabilities": {},
        "ttlMs": 0,
        "cacheScope": "private",
    }


# -- input requests ----------------------------------------------------------------


def childRequest(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": 9, "method": method}
    if params is not None:
        message["params"] = params
    return message


def test_inputRequest_elicitation() -> None:
    request = childRequest(
        "elicitation/create",
        {
            "message": "Name?",
            "requestedSchema": {"type": "object"},
            "task": {"ttl": 5},
            "_meta": {childhints.HINT_KEY: "user_name", childhints.HINT_RELATED: 4},
        },
    )
    key, entry = era2026form.inputRequest(request)
    assert key == "user_name"
    assert entry == {
        "method": "elicitation/create",
        "params": {"message": "Name?", "requestedSchema": {"type": "object"}, "mode": "form"},
    }


def test_inputRequest_url_elicitation_loses_its_id() -> None:
    request = childRequest(
        "elicitation/create",
        {"mode": "url", "message": "Connect", "url": "https://x/", "elicitationId": "e-1"},
    )
    assert era2026form.inputRequest(request) == (
        None,
        {
            "method": "elicitation/create",
            "params": {"mode": "url", "message": "Connect", "url": "https://x/"},
        },
    )


def test_inputRequest_sampling_and_roots() -> None:
    sampling = childRequest(
        "sampling/createMessage",
        {"messages": [], "maxTokens": 5, "tools": [], "_meta": {"progressToken": 1}},
    )
    assert era2026form.inputRequest(sampling) == (
        None,
        {
            "method": "sampling/createMessage",
            "params": {"messages": [], "maxTokens": 5, "tools": []},
        },
    )
    assert era2026form.inputRequest(childRequest("roots/list")) == (
        None,
        {"method": "roots/list"},
    )
    roots = childRequest("roots/list", {"_meta": {childhints.HINT_KEY: "client_roots"}})
    assert era2026form.inputRequest(roots) == ("client_roots", {"method": "roots/list"})


@pytest.mark.parametrize("hint", ["", "a" * 65, "with space", "ü", 5, None, ["k"]])
def test_unusable_key_hints_are_ignored(hint: Any) -> None:
    request = childRequest("roots/list", {"_meta": {childhints.HINT_KEY: hint}})
    assert era2026form.inputRequest(request)[0] is None


@settings(max_examples=60)
@given(
    method=st.sampled_from(["elicitation/create", "sampling/createMessage", "roots/list"]),
    params=JSON,
)
def test_inputRequest_never_leaks_hints(method: str, params: Any) -> None:
    request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    key, entry = era2026form.inputRequest(request)
    assert key is None or era2026form.INPUT_KEY.fullmatch(key)
    assert entry["method"] == method
    assert "_meta" not in entry.get("params", {})
    assert "elicitationId" not in entry.get("params", {})
    assert "task" not in entry.get("params", {})


@pytest.mark.parametrize(
    ("method", "params", "caps", "missing"),
    [
        ("sampling/createMessage", {}, {}, {"sampling": {}}),
        ("sampling/createMessage", {}, {"sampling": {}}, None),
        ("sampling/createMessage", {}, {"sampling": True}, {"sampling": {}}),
        ("sampling/createMessage", {"tools": []}, {"sampling": {}}, {"sampling": {"tools": {}}}),
        ("sampling/createMessage", {"toolChoice": {}}, {}, {"sampling": {"tools": {}}}),
        ("sampling/createMessage", {"tools": []}, {"sampling": {"tools": {}}}, None),
        ("elicitation/create", {}, {}, {"elicitation": {}}),
        ("elicitation/create", {}, {"elicitation": {}}, None),
        ("elicitation/create", {"mode": "form"}, {"elicitation": {"form": {}}}, None),
        ("elicitation/create", {}, {"elicitation": {"url": {}}}, {"elicitation": {"form": {}}}),
        ("elicitation/create", {"mode": "url"}, {"elicitation": {}}, {"elicitation": {"url": {}}}),
        (
            "elicitation/create",
            {"mode": "url"},
            {"elicitation": {"form": {}}},
            {"elicitation": {"url": {}}},
        ),
        ("elicitation/create", {"mode": "url"}, {"elicitation": {"url": {}}}, None),
        ("roots/list", {}, {}, {"roots": {}}),
        ("roots/list", {}, {"roots": {}}, None),
        ("roots/list", {}, {"roots": {"listChanged": True}}, None),
        ("ping", {}, {}, None),
    ],
)
def test_missingCapability(
    method: str, params: dict[str, Any], caps: dict[str, Any], missing: dict[str, Any] | None
) -> None:
    assert era2026form.missingCapability(childRequest(method, params), caps) == missing


@pytest.mark.parametrize(
    ("method", "value", "ok"),
    [
        ("elicitation/create", {"action": "accept", "content": {"name": "x"}}, True),
        ("elicitation/create", {"action": "accept"}, True),
        ("elicitation/create", {"action": "decline"}, True),
        ("elicitation/create", {"action": "cancel", "resultType": "complete"}, True),
        ("elicitation/create", {"action": "decline", "content": {}}, False),
        ("elicitation/create", {"action": "accept", "content": "x"}, False),
        ("elicitation/create", {"action": "maybe"}, False),
        ("elicitation/create", {}, False),
        ("elicitation/create", "accept", False),
        (
            "sampling/createMessage",
            {"role": "assistant", "content": {"type": "text", "text": "Paris"}, "model": "m"},
            True,
        ),
        ("sampling/createMessage", {"role": "assistant", "content": [], "model": "m"}, True),
        ("sampling/createMessage", {"role": "assistant", "content": {}}, False),
        ("sampling/createMessage", {"role": "robot", "content": {}, "model": "m"}, False),
        ("sampling/createMessage", {"role": "user", "content": "Paris", "model": "m"}, False),
        ("roots/list", {"roots": []}, True),
        ("roots/list", {"roots": [{"uri": "file:///p", "name": "p"}]}, True),
        ("roots/list", {"roots": [{"name": "p"}]}, False),
        ("roots/list", {"roots": {}}, False),
        ("roots/list", [], False),
    ],
)
def test_inputResponseProblem(method: str, value: Any, ok: bool) -> None:
    problem = era2026form.inputResponseProblem(method, value)
    assert (problem is None) == ok
    assert problem is None or isinstance(problem, str)


@settings(max_examples=60)
@given(
    method=st.sampled_from(["elicitation/create", "sampling/createMessage", "roots/list"]),
    value=JSON,
)
def test_inputResponseProblem_never_raises(method: str, value: Any) -> None:
    problem = era2026form.inputResponseProblem(method, value)
    assert problem is None or isinstance(problem, str)


# -- listen ----------------------------------------------------------------------


def test_tagged_is_a_copy() -> None:
    notification: dict[str, Any] = {
        "jsonrpc": "2.0",
        "method": "notifications/resources/updated",
        "params": {"uri": "file:///a", "_meta": {"k": 1}},
    }
    one = era2026form.tagged(notification, "listen-1")
    two = era2026form.tagged(notification, 7)
    assert one["params"] == {"uri": "file:///a", "_meta": {"k": 1, SUBSCRIPTION_ID_KEY: "listen-1"}}
    assert two["params"]["_meta"][SUBSCRIPTION_ID_KEY] == 7
    assert notification["params"]["_meta"] == {"k": 1}
    bare = era2026form.tagged({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}, "1")
    assert bare["params"] == {"_meta": {SUBSCRIPTION_ID_KEY: "1"}}


def test_acknowledged() -> None:
    assert era2026form.acknowledged("listen-1", {"toolsListChanged": True}) == {
        "jsonrpc": "2.0",
        "method": "notifications/subscriptions/acknowledged",
        "params": {
            "_meta": {SUBSCRIPTION_ID_KEY: "listen-1"},
            "notifications": {"toolsListChanged": True},
        },
    }

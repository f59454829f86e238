"""The JSON-RPC and MCP envelope checks (mcpgateway.protocol.envelope): what the gateway
refuses before a message reaches a router or a child, and with which code."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.protocol import envelope, jsonrpc
from mcpgateway.protocol.envelope import LOG_LEVELS
from mcpgateway.protocol.jsonrpc import Kind, classify
from tests.support.json_values import jsonScalars, jsonValues
from tests.support.protocol.envelope import (
    ABSENT,
    expectedNotificationProblem,
    expectedRequestProblem,
    isId,
)

INVALID_PARAMS, INVALID_REQUEST = jsonrpc.INVALID_PARAMS, jsonrpc.INVALID_REQUEST

JSON_SCALARS = jsonScalars()
JSON_VALUES = jsonValues(JSON_SCALARS, keys=6, leaves=6)
PARAMS_VALUES = JSON_VALUES | st.fixed_dictionaries(
    {},
    optional={
        "level": JSON_VALUES | st.sampled_from(LOG_LEVELS),
        "uri": JSON_VALUES,
        "requestId": JSON_VALUES,
        "reason": JSON_VALUES,
        "protocolVersion": JSON_VALUES,
        "capabilities": JSON_VALUES,
        "clientInfo": JSON_VALUES,
        "_meta": JSON_VALUES,
    },
)
"""Any JSON value, and objects carrying the keys the gateway reads, of any type."""

REQUEST_METHODS = (
    "initialize",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
    "ping",
    "tools/list",
    "tools/call",
)
NOTIFICATION_METHODS = (
    "notifications/cancelled",
    "notifications/initialized",
    "notifications/roots/list_changed",
)


def request(method: str, params: Any = ABSENT, requestId: Any = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": requestId, "method": method}
    if params is not ABSENT:
        message["params"] = params
    return message


def notification(method: str, params: Any = ABSENT) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not ABSENT:
        message["params"] = params
    return message


# -- the property: every method the gateway reads, params of every JSON type -------------


def checked(message: dict[str, Any], kind: Kind, refused: bool) -> envelope.Problem | None:
    """What the envelope check says of C{message}, which is classified as
    C{kind}: an invalid-params problem if C{refused}, else none."""
    assert classify(message) is kind
    problem = envelope.check(message, kind)
    if refused:
        assert problem is not None and problem[0] == INVALID_PARAMS
    else:
        assert problem is None
    return problem


@settings(max_examples=150, deadline=None)
@given(method=st.sampled_from(REQUEST_METHODS), params=PARAMS_VALUES | st.just(ABSENT))
def test_request_params_of_every_json_type(method: str, params: Any) -> None:
    problem = checked(request(method, params), Kind.REQUEST, expectedRequestProblem(method, params))
    if problem is not None:
        assert isinstance(problem[1], str) and len(problem[1]) < 400
        jsonrpc.dumps(jsonrpc.errorResponse(1, *problem))  # always encodable


@settings(max_examples=100, deadline=None)
@given(method=st.sampled_from(NOTIFICATION_METHODS), params=PARAMS_VALUES | st.just(ABSENT))
def test_notification_params_of_every_json_type(method: str, params: Any) -> None:
    checked(
        notification(method, params),
        Kind.NOTIFICATION,
        expectedNotificationProblem(method, params),
    )


@settings(max_examples=100, deadline=None)
@given(
    requestId=JSON_VALUES,
    result=JSON_VALUES,
    error=JSON_VALUES,
    which=st.sampled_from(["result", "error", "both"]),
)
def test_responses_of_every_shape(requestId: Any, result: Any, error: Any, which: str) -> None:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": requestId}
    if which in ("result", "both"):
        message["result"] = result
    if which in ("error", "both"):
        message["error"] = error
    assert classify(message) is Kind.RESPONSE
    problem = envelope.check(message, Kind.RESPONSE)
    if which == "both":
        ok = False
    elif which == "result":
        ok = isId(requestId) and isinstance(result, dict)
    else:
        ok = (
            (requestId is None or isId(requestId))
            and isinstance(error, dict)
            and type(error.get("code")) is int
            and isinstance(error.get("message"), str)
        )
    assert (problem is None) == ok
    if problem is not None:
        assert problem[0] == INVALID_REQUEST


# -- examples ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "kind", "code", "words"),
    [
        (request("logging/setLevel", "debug"), Kind.REQUEST, INVALID_PARAMS, "not a string"),
        (
            request("logging/setLevel", {"level": {}}),
            Kind.REQUEST,
            INVALID_PARAMS,
            "params.level must be one of debug",
        ),
        (
            request("logging/setLevel", {"level": "verbose"}),
            Kind.REQUEST,
            INVALID_PARAMS,
            "'verbose'",
        ),
        (request("logging/setLevel"), Kind.REQUEST, INVALID_PARAMS, "None"),
        (request("resources/subscribe", [1]), Kind.REQUEST, INVALID_PARAMS, "not an array"),
        (
            request("resources/unsubscribe", {"uri": 5}),
            Kind.REQUEST,
            INVALID_PARAMS,
            "params.uri must be a string, not a number",
        ),
        (request("tools/list", 123), Kind.REQUEST, INVALID_PARAMS, "not a number"),
        (request("tools/call", None), Kind.REQUEST, INVALID_PARAMS, "not null"),
        (
            request("tools/call", {"name": "x", "_meta": {"progressToken": True}}),
            Kind.REQUEST,
            INVALID_PARAMS,
            "progressToken must be a string or a number, not a boolean",
        ),
        (
            request("initialize", {"protocolVersion": 2025}),
            Kind.REQUEST,
            INVALID_PARAMS,
            "protocolVersion",
        ),
        (
            request("initialize", {"protocolVersion": "2025-11-25", "capabilities": "all"}),
            Kind.REQUEST,
            INVALID_PARAMS,
            "params.capabilities must be an object",
        ),
        (
            notification("notifications/cancelled", "x"),
            Kind.NOTIFICATION,
            INVALID_PARAMS,
            "not a string",
        ),
        (notification("notifications/cancelled"), Kind.NOTIFICATION, INVALID_PARAMS, "required"),
        (
            notification("notifications/cancelled", {"requestId": [1]}),
            Kind.NOTIFICATION,
            INVALID_PARAMS,
            "requestId must be a string or a number, not an array",
        ),
        (
            notification("notifications/cancelled", {"requestId": 1, "reason": 2}),
            Kind.NOTIFICATION,
            INVALID_PARAMS,
            "reason must be a string",
        ),
        (
            {"jsonrpc": "2.0", "id": 1, "result": {}, "error": {"code": 1, "message": "m"}},
            Kind.RESPONSE,
            INVALID_REQUEST,
            "exactly one",
        ),
        (
            {"jsonrpc": "2.0", "id": True, "result": {}},
            Kind.RESPONSE,
            INVALID_REQUEST,
            "not a boolean",
        ),
        (
            {"jsonrpc": "2.0", "id": 1, "error": "bad"},
            Kind.RESPONSE,
            INVALID_REQUEST,
            "error must be an object",
        ),
        (
            {"jsonrpc": "2.0", "id": 1, "error": {"code": "1", "message": "m"}},
            Kind.RESPONSE,
            INVALID_REQUEST,
            "error.code",
        ),
    ],
)
def test_refusals_name_the_field(
    message: dict[str, Any], kind: Kind, code: int, words: str
) -> None:
    assert classify(message) is kind
    problem = envelope.check(message, kind)
    assert problem is not None
    assert problem[0] == code and words in problem[1], problem


@pytest.mark.parametrize(
    "message",
    [
        request("logging/setLevel", {"level": "warning"}),
        request("resources/subscribe", {"uri": "file:///x", "_meta": {}}),
        request("tools/call", {"name": "x", "_meta": {"progressToken": "t"}}),
        request("tools/call", {"name": "x", "_meta": {"progressToken": 7}}),
        request("tools/list"),
        request("ping", {}),
        request(
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c"}},
        ),
        notification("notifications/cancelled", {"requestId": "a", "reason": "user"}),
        notification("notifications/cancelled", {}),  # 2025-11-25: requestId is optional
        notification("notifications/initialized"),
        {"jsonrpc": "2.0", "id": 3, "result": {"role": "assistant"}},
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}},
    ],
)
def test_well_formed_messages_pass(message: dict[str, Any]) -> None:
    assert envelope.check(message, classify(message)) is None


def test_a_huge_value_is_quoted_short() -> None:
    problem = envelope.check(request("logging/setLevel", {"level": "x" * 100_000}), Kind.REQUEST)
    assert problem is not None and len(problem[1]) < 200


def test_invalid_messages_are_invalid_requests() -> None:
    assert envelope.check({"hello": 1}, Kind.INVALID) == (
        INVALID_REQUEST,
        "Invalid Request: not a JSON-RPC 2.0 message",
    )


def test_gateway_methods() -> None:
    assert {
        "initialize",
        "ping",
        "logging/setLevel",
        "resources/subscribe",
        "resources/unsubscribe",
        "notifications/cancelled",
        "notifications/initialized",
    } == envelope.GATEWAY_METHODS


# -- the members of a request --------------------------------------

MEMBER_NAMES = st.sampled_from(["result", "error", "extra", "ID", "Method", "jsonrpc2", ""]) | (
    st.text(max_size=8)
)


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(REQUEST_METHODS),
    params=PARAMS_VALUES | st.just(ABSENT),
    extra=st.dictionaries(MEMBER_NAMES, JSON_VALUES, max_size=4),
)
def test_a_request_has_no_members_but_jsonrpc_id_method_params(
    method: str, params: Any, extra: dict[str, Any]
) -> None:
    """Whatever its params, a request with any other member is -32600 and the
    message names one of them; without, the params decide (the oracle above)."""
    message = {**extra, **request(method, params)}
    unknown = set(message) - {"jsonrpc", "id", "method", "params"}
    assert classify(message) is Kind.REQUEST
    problem = envelope.check(message, Kind.REQUEST)
    if unknown:
        assert problem is not None and problem[0] == INVALID_REQUEST
        clash = unknown & {"result", "error"}
        named = f"carry {max(clash)}" if clash else envelope.shown(min(unknown))
        assert named in problem[1], problem
        assert len(problem[1]) < 400
    elif expectedRequestProblem(method, params):
        assert problem is not None and problem[0] == INVALID_PARAMS
    else:
        assert problem is None


@pytest.mark.parametrize(
    ("member", "words"),
    [
        ("result", "a request (it has a method) must not carry result"),
        ("error", "a request (it has a method) must not carry error"),
        ("extra", "unknown member 'extra': a request has only jsonrpc, id, method and params"),
    ],
)
def test_the_members_the_smoke_test_sent_are_named(member: str, words: str) -> None:
    message = {**request("tools/list"), member: {}}
    assert envelope.checkRequest(message) == (INVALID_REQUEST, f"Invalid Request: {words}")


def test_many_unknown_members_are_named_three_and_counted() -> None:
    message = {**request("tools/list"), **{f"x{i}": 1 for i in range(10)}}
    problem = envelope.checkRequest(message)
    assert problem is not None and "'x0', 'x1', 'x2' and 7 more" in problem[1]


@settings(max_examples=100, deadline=None)
@given(capabilities=JSON_VALUES, clientInfo=JSON_VALUES, limit=st.integers(2, 200))
def test_session_info_is_measured_as_compact_json(
    capabilities: Any, clientInfo: Any, limit: int
) -> None:
    params = {"capabilities": capabilities, "clientInfo": clientInfo}
    size = len(jsonrpc.dumps(capabilities)) + len(jsonrpc.dumps(clientInfo))
    problem = envelope.sessionInfoProblem(params, limit)
    if size <= limit:
        assert problem is None
    else:
        assert problem is not None and problem[0] == INVALID_REQUEST
        assert f"over the limit of {limit} bytes" in problem[1]


def test_the_fat_capabilities_of_the_smoke_test_are_over_the_limit() -> None:
    from mcpgateway.protocol.bounds import MAX_SESSION_INFO

    real = {"capabilities": {"roots": {"listChanged": True}, "sampling": {}, "elicitation": {}}}
    assert (
        envelope.sessionInfoProblem({**real, "clientInfo": {"name": "c"}}, MAX_SESSION_INFO) is None
    )
    fat = {"capabilities": {"experimental": {"pad": "x" * 3_500_000}}, "clientInfo": {}}
    problem = envelope.sessionInfoProblem(fat, MAX_SESSION_INFO)
    assert problem is not None and f"limit of {MAX_SESSION_INFO} bytes" in problem[1]

"""The JSON-RPC message model: classify, loads/dumps, builders, progress tokens."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mcpgateway import jsonrpc
from mcpgateway.jsonrpc import Kind, classify

# -- classify -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, Kind.REQUEST),
        ({"jsonrpc": "2.0", "id": 0, "method": "roots/list"}, Kind.REQUEST),
        ({"jsonrpc": "2.0", "id": "abc", "method": "x", "params": {}}, Kind.REQUEST),
        ({"jsonrpc": "2.0", "id": 1.5, "method": "x"}, Kind.REQUEST),
        ({"jsonrpc": "2.0", "method": "notifications/initialized"}, Kind.NOTIFICATION),
        ({"jsonrpc": "2.0", "method": "n", "params": {"a": 1}}, Kind.NOTIFICATION),
        ({"jsonrpc": "2.0", "id": 1, "result": {}}, Kind.RESPONSE),
        ({"jsonrpc": "2.0", "id": 1, "result": None}, Kind.RESPONSE),
        ({"jsonrpc": "2.0", "id": "x", "error": {"code": -1, "message": "m"}}, Kind.RESPONSE),
        # A parse-error response has a null id and is still a response.
        ({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "m"}}, Kind.RESPONSE),
    ],
)
def test_classifyValid(message: dict[str, Any], kind: Kind) -> None:
    assert classify(message) is kind


@pytest.mark.parametrize(
    "message",
    [
        pytest.param({"jsonrpc": "2.0", "id": True, "method": "x"}, id="bool-id-true"),
        pytest.param({"jsonrpc": "2.0", "id": False, "method": "x"}, id="bool-id-false"),
        pytest.param({"jsonrpc": "2.0", "id": None, "method": "x"}, id="null-id-request"),
        pytest.param({"jsonrpc": "2.0", "id": [1], "method": "x"}, id="list-id"),
        pytest.param({"jsonrpc": "2.0", "id": {"a": 1}, "method": "x"}, id="object-id"),
        pytest.param({"id": 1, "method": "x"}, id="missing-jsonrpc"),
        pytest.param({"jsonrpc": "1.0", "id": 1, "method": "x"}, id="jsonrpc-1.0"),
        pytest.param({"jsonrpc": 2.0, "id": 1, "method": "x"}, id="jsonrpc-number"),
        pytest.param({"jsonrpc": "2.0", "id": 1, "method": 5}, id="method-not-string"),
        pytest.param({"jsonrpc": "2.0", "id": 1}, id="response-without-result-or-error"),
        pytest.param({"jsonrpc": "2.0", "result": {}}, id="response-without-id"),
        pytest.param({"jsonrpc": "2.0"}, id="empty"),
        pytest.param([{"jsonrpc": "2.0", "id": 1, "method": "x"}], id="batch-list"),
        pytest.param("a string", id="string"),
        pytest.param(None, id="null"),
        pytest.param(3, id="number"),
    ],
)
def test_classifyInvalid(message: Any) -> None:
    assert classify(message) is Kind.INVALID


def test_methodWinsOverResult() -> None:
    """A message with a method is a request even if it also has result."""
    assert classify({"jsonrpc": "2.0", "id": 0, "method": "roots/list", "result": {}}) \
        is Kind.REQUEST


# -- loads ----------------------------------------------------------------------


def test_loadsBytesAndStr() -> None:
    assert jsonrpc.loads(b'{"a":[1,"\xc3\xa9"]}') == {"a": [1, "\u00e9"]}
    assert jsonrpc.loads('{"a": null}') == {"a": None}
    assert jsonrpc.loads(b"[1,2]") == [1, 2]


@pytest.mark.parametrize(
    ("data", "position", "where"),
    [
        (b'{"a":1,}', 7, "line 1 column 8"),
        (b'{"a":1}\n{"b":2}', 8, "line 2 column 1"),
        (b"", 0, "line 1 column 1"),
        ('{"a": tru}', 6, "line 1 column 7"),
        (b"[1,2", 4, "line 1 column 5"),
    ],
)
def test_loadsParseErrorPosition(data: bytes | str, position: int, where: str) -> None:
    with pytest.raises(jsonrpc.ParseError) as info:
        jsonrpc.loads(data)
    assert info.value.position == position
    assert where in str(info.value)
    assert isinstance(info.value, ValueError)


def test_loadsInvalidUtf8() -> None:
    with pytest.raises(jsonrpc.ParseError) as info:
        jsonrpc.loads(b'{"a":"\xff"}')
    assert info.value.position == 6
    assert str(info.value).startswith("invalid UTF-8")


# -- dumps ----------------------------------------------------------------------


def test_dumpsCompactUtf8() -> None:
    data = jsonrpc.dumps({"jsonrpc": "2.0", "id": 1, "params": {"a": [1, 2], "e": "\u00e9"}})
    assert data == b'{"jsonrpc":"2.0","id":1,"params":{"a":[1,2],"e":"\xc3\xa9"}}'


def test_dumpsNeverWritesANewline() -> None:
    """Newlines inside strings are escaped: one message is always one line."""
    message = {"text": "line1\nline2\r\n", "k\nkey": "\u2028"}
    data = jsonrpc.dumps(message)
    assert b"\n" not in data
    assert b"\r" not in data
    assert not data.endswith(b"\n")
    assert json.loads(data) == message


# -- builders -------------------------------------------------------------------


def test_errorResponse() -> None:
    assert jsonrpc.errorResponse(3, jsonrpc.METHOD_NOT_FOUND, "nope") == {
        "jsonrpc": "2.0", "id": 3, "error": {"code": -32601, "message": "nope"}}
    assert jsonrpc.errorResponse("a", -32000, "down", {"why": "x"}) == {
        "jsonrpc": "2.0", "id": "a", "error": {"code": -32000, "message": "down",
                                               "data": {"why": "x"}}}
    assert classify(jsonrpc.errorResponse(None, jsonrpc.PARSE_ERROR, "bad")) is Kind.RESPONSE


def test_resultRequestNotification() -> None:
    assert jsonrpc.resultResponse(0, {}) == {"jsonrpc": "2.0", "id": 0, "result": {}}
    assert jsonrpc.request(7, "ping") == {"jsonrpc": "2.0", "id": 7, "method": "ping"}
    assert jsonrpc.request(7, "x", {"a": 1}) == {
        "jsonrpc": "2.0", "id": 7, "method": "x", "params": {"a": 1}}
    assert jsonrpc.notification("n") == {"jsonrpc": "2.0", "method": "n"}
    assert jsonrpc.notification("n", {}) == {"jsonrpc": "2.0", "method": "n", "params": {}}


def test_errorCodes() -> None:
    assert (jsonrpc.PARSE_ERROR, jsonrpc.INVALID_REQUEST, jsonrpc.METHOD_NOT_FOUND,
            jsonrpc.INVALID_PARAMS, jsonrpc.INTERNAL_ERROR) == (
        -32700, -32600, -32601, -32602, -32603)
    # Gateway codes are in the implementation-defined server error range.
    for code in (jsonrpc.SERVER_UNAVAILABLE, jsonrpc.REQUEST_TIMEOUT, jsonrpc.CHILD_EXITED):
        assert -32099 <= code <= -32000
    assert len({jsonrpc.SERVER_UNAVAILABLE, jsonrpc.REQUEST_TIMEOUT, jsonrpc.CHILD_EXITED}) == 3


# -- progress tokens --------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "token"),
    [
        ({"method": "x", "params": {"_meta": {"progressToken": "t1"}}}, "t1"),
        ({"method": "x", "params": {"_meta": {"progressToken": 0}}}, 0),
        ({"method": "x"}, None),
        ({"method": "x", "params": None}, None),
        ({"method": "x", "params": [1, 2]}, None),
        ({"method": "x", "params": {}}, None),
        ({"method": "x", "params": {"_meta": "nope"}}, None),
        ({"method": "x", "params": {"_meta": {}}}, None),
    ],
)
def test_progressToken(message: dict[str, Any], token: Any) -> None:
    assert jsonrpc.progressToken(message) == token
    assert type(jsonrpc.progressToken(message)) is type(token)


def test_withProgressTokenCopies() -> None:
    original = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "t", "_meta": {"progressToken": "c", "other": 1}}}
    snapshot = json.loads(json.dumps(original))
    out = jsonrpc.withProgressToken(original, 42)
    assert out == {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "t", "_meta": {"progressToken": 42, "other": 1}}}
    assert original == snapshot, "withProgressToken mutated its argument"
    assert jsonrpc.progressToken(out) == 42

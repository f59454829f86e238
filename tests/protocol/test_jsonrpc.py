"""The JSON-RPC message model: classify, loads/dumps, builders, progress tokens."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.bounds import MAX_DEPTH, MAX_NUMBER_DIGITS
from mcpgateway.protocol.jsonrpc import Kind, classify

# -- classify -----------------------------------------------------------------
from tests.support.protocol.fragments import PUNCTUATION


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
def test_classify_valid(message: dict[str, Any], kind: Kind) -> None:
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
def test_classify_invalid(message: Any) -> None:
    assert classify(message) is Kind.INVALID


def test_method_wins_over_result() -> None:
    """A message with a method is a request even if it also has result."""
    assert (
        classify({"jsonrpc": "2.0", "id": 0, "method": "roots/list", "result": {}}) is Kind.REQUEST
    )


# -- loads ----------------------------------------------------------------------


def test_loads_bytes_and_str() -> None:
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
def test_loads_parse_error_position(data: bytes | str, position: int, where: str) -> None:
    with pytest.raises(jsonrpc.ParseError) as info:
        jsonrpc.loads(data)
    assert info.value.position == position
    assert where in str(info.value)
    assert isinstance(info.value, ValueError)


def test_loads_invalid_utf8() -> None:
    with pytest.raises(jsonrpc.ParseError) as info:
        jsonrpc.loads(b'{"a":"\xff"}')
    assert info.value.position == 6
    assert str(info.value).startswith("invalid UTF-8")


# -- dumps ----------------------------------------------------------------------


def test_dumps_compact_utf8() -> None:
    data = jsonrpc.dumps({"jsonrpc": "2.0", "id": 1, "params": {"a": [1, 2], "e": "\u00e9"}})
    assert data == b'{"jsonrpc":"2.0","id":1,"params":{"a":[1,2],"e":"\xc3\xa9"}}'


def test_dumps_never_writes_a_newline() -> None:
    """Newlines inside strings are escaped: one message is always one line."""
    message = {"text": "line1\nline2\r\n", "k\nkey": "\u2028"}
    data = jsonrpc.dumps(message)
    assert b"\n" not in data
    assert b"\r" not in data
    assert not data.endswith(b"\n")
    assert json.loads(data) == message


# -- builders -------------------------------------------------------------------


def test_error_response() -> None:
    assert jsonrpc.errorResponse(3, jsonrpc.METHOD_NOT_FOUND, "nope") == {
        "jsonrpc": "2.0",
        "id": 3,
        "error": {"code": -32601, "message": "nope"},
    }
    assert jsonrpc.errorResponse("a", -32000, "down", {"why": "x"}) == {
        "jsonrpc": "2.0",
        "id": "a",
        "error": {"code": -32000, "message": "down", "data": {"why": "x"}},
    }
    assert classify(jsonrpc.errorResponse(None, jsonrpc.PARSE_ERROR, "bad")) is Kind.RESPONSE


def test_result_request_notification() -> None:
    assert jsonrpc.resultResponse(0, {}) == {"jsonrpc": "2.0", "id": 0, "result": {}}
    assert jsonrpc.request(7, "ping") == {"jsonrpc": "2.0", "id": 7, "method": "ping"}
    assert jsonrpc.request(7, "x", {"a": 1}) == {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "x",
        "params": {"a": 1},
    }
    assert jsonrpc.notification("n") == {"jsonrpc": "2.0", "method": "n"}
    assert jsonrpc.notification("n", {}) == {"jsonrpc": "2.0", "method": "n", "params": {}}


def test_error_codes() -> None:
    assert (
        jsonrpc.PARSE_ERROR,
        jsonrpc.INVALID_REQUEST,
        jsonrpc.METHOD_NOT_FOUND,
        jsonrpc.INVALID_PARAMS,
        jsonrpc.INTERNAL_ERROR,
    ) == (-32700, -32600, -32601, -32602, -32603)
    # Gateway codes are in the handshake implementation-defined range: MCP reserves
    # -32020..-32099 for the specification.
    ours = (
        jsonrpc.SERVER_UNAVAILABLE,
        jsonrpc.REQUEST_TIMEOUT,
        jsonrpc.CHILD_EXITED,
        jsonrpc.TOO_MANY_REQUESTS,
    )
    for code in ours:
        assert -32019 <= code <= -32000
    assert len(set(ours)) == len(ours)


def test_child_exited_is_not_resource_not_found() -> None:
    """-32002 means "resource not found" in MCP 2025-11-25 (and 2026-07-28
    forbids emitting it): a crashed child must not read as a missing resource."""
    assert jsonrpc.CHILD_EXITED != -32002


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
def test_progress_token(message: dict[str, Any], token: Any) -> None:
    assert jsonrpc.progressToken(message) == token
    assert type(jsonrpc.progressToken(message)) is type(token)


def test_with_progress_token_copies() -> None:
    original = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "t", "_meta": {"progressToken": "c", "other": 1}},
    }
    snapshot = json.loads(json.dumps(original))
    out = jsonrpc.withProgressToken(original, 42)
    assert out == {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "t", "_meta": {"progressToken": 42, "other": 1}},
    }
    assert original == snapshot, "withProgressToken mutated its argument"
    assert jsonrpc.progressToken(out) == 42


# -- hostile input: bounded, strict parsing ------------------------------------------


def _refused(data: bytes | str, *words: str) -> jsonrpc.ParseError:
    with pytest.raises(jsonrpc.ParseError) as info:
        jsonrpc.loads(data)
    for word in words:
        assert word in str(info.value)
    return info.value


def test_nesting_limit() -> None:
    assert jsonrpc.loads(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    _refused(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nesting deeper than 100")
    deepObject = b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1)
    _refused(deepObject, "nesting deeper")
    assert jsonrpc.loads(b'{"a":' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH) is not None


@pytest.mark.parametrize(
    "data",
    [
        b"[" * 100_000 + b"]" * 100_000,  # RecursionError in the C decoder, unbounded
        b"[" * 100_000,  # unbalanced
        b'{"a":' * 50_000,
        b"]" + b"[" * 5000 + b"]" * 5000,
    ],
)
def test_deep_nesting_is_a_parse_error_not_a_recursion_error(data: bytes) -> None:
    _refused(data)


def test_brackets_in_strings_do_not_count() -> None:
    strings = ["[" * 500, "\\", '\\"' + "{" * 300, '"[[[[', "]" * 300 + "[" * 300]
    assert jsonrpc.loads(json.dumps(strings)) == strings
    wide = "[" + ",".join(["[[[]]]"] * 5000) + "]"  # many brackets, shallow
    assert len(jsonrpc.loads(wide)) == 5000
    # Closing brackets in a string must not hide the real depth.
    deep = "[" + json.dumps("]" * 500) + "," + "[" * 100 + "]" * 100 + "]"
    with pytest.raises(jsonrpc.ParseError):
        jsonrpc.loads(deep)


def test_depth_limit_is_a_parameter() -> None:
    assert jsonrpc.loads("[[[[]]]]", maxDepth=4) == [[[[]]]]
    with pytest.raises(jsonrpc.ParseError):
        jsonrpc.loads("[[[[[]]]]]", maxDepth=4)


def test_number_size_limit() -> None:
    assert jsonrpc.loads(b"9" * MAX_NUMBER_DIGITS) == int("9" * MAX_NUMBER_DIGITS)
    _refused(b"9" * (MAX_NUMBER_DIGITS + 1), "1001 characters", "1000-character limit")
    # Past Python's 4,300-digit integer limit (a ValueError, not a JSONDecodeError).
    _refused(b'{"jsonrpc":"2.0","id":' + b"1" * 5000 + b',"method":"ping"}', "limit")
    _refused(b"-" + b"1" * 5000)
    _refused(b"0." + b"1" * 5000)
    assert jsonrpc.loads('"' + "1" * 5000 + '"') == "1" * 5000  # digits in a string: fine
    assert jsonrpc.loads(b"123", maxDigits=3) == 123
    with pytest.raises(jsonrpc.ParseError):
        jsonrpc.loads(b"1234", maxDigits=3)


@pytest.mark.parametrize(
    "data",
    [
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b"[1,NaN]",
        b'{"id":Infinity}',
        b"1e999",
        b"-1e999",
        b"1.8e308",
        b"1E+400",
        b"1e0000309",
        b"9" * 400 + b".0",
        b"9" * 199 + b"e200",
        b'{"jsonrpc":"2.0","id":1e999,"method":"ping"}',
    ],
)
def test_non_finite_numbers_are_refused(data: bytes) -> None:
    _refused(data, "finite")


def test_big_finite_numbers_pass() -> None:
    assert jsonrpc.loads(b"1.5e308") == 1.5e308
    assert jsonrpc.loads(b"9" * 199 + b"e99") > 1e297
    assert jsonrpc.loads(b"1e-999") == 0.0  # underflow is a finite zero


@pytest.mark.parametrize(
    "data",
    [
        b'"\\ud800"',
        b'"\\uDC00"',
        b'"\\udc00\\ud800"',
        b'"a\\ud83d"',
        b'{"\\ud800":1}',
        b'[["x", {"k": "\\udfff"}]]',
        '"\ud800"',  # a str argument may hold a raw surrogate
    ],
)
def test_lone_surrogates_are_refused(data: bytes | str) -> None:
    _refused(data, "lone surrogate")


def test_surrogate_pairs_and_escaped_backslashes_pass() -> None:
    assert jsonrpc.loads(b'"\\ud83d\\ude00"') == "\U0001f600"
    assert jsonrpc.loads(b'"\\\\ud800"') == "\\ud800"  # an escaped backslash, then text


def test_loads_never_raises_anything_else() -> None:
    for data in (
        b"\xff",
        b"\xed\xa0\x80",
        "\x00",
        b"",
        b" ",
        b"[",
        b"{",
        b'"',
        b"1e",
        b"-",
        b"[1,]",
        b"nul",
        b"\xef\xbb\xbf{}",
    ):
        with pytest.raises(jsonrpc.ParseError):
            jsonrpc.loads(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64) | st.text(max_size=64))
def test_loads_arbitrary_input(data: bytes | str) -> None:
    try:
        value = jsonrpc.loads(data)
    except jsonrpc.ParseError as e:
        assert isinstance(e.position, int)
        return
    _strict(jsonrpc.dumps(value), value)


_fragments = st.sampled_from(
    [
        *PUNCTUATION,
        "\\",
        "\\u",
        "d800",
        "\\ud800",
        "\\udc00",
        "NaN",
        "Infinity",
        "-Infinity",
        "1e999",
        "1e308",
        "-",
        "0",
        "9" * 1001,
        "9" * 300,
        "1.5",
        "e",
        "true",
        "null",
        '"a"',
        '{"a":',
        "[" * 120,
        "]" * 120,
        " ",
        "\x00",
        "\u00e9",
        "\U0001f600",
        "\ud800",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_fragments, max_size=12).map("".join), st.sampled_from(["str", "bytes"]))
def test_loads_hostile_fragments(text: str, form: str) -> None:
    """Glued-together pieces of everything hostile: ParseError or a value,
    and a value always re-encodes as strict JSON."""
    data: bytes | str = text
    if form == "bytes":
        data = text.encode("utf-8", "surrogatepass")
    try:
        value = jsonrpc.loads(data)
    except jsonrpc.ParseError:
        return
    _strict(jsonrpc.dumps(value), value)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_round_trip(value: Any) -> None:
    data = jsonrpc.dumps(value)
    _strict(data, value)
    assert jsonrpc.loads(data) == value


def _strict(data: bytes, value: Any) -> None:
    """C{data} is strict JSON (UTF-8, no NaN/Infinity, one line)."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"non-strict token {name} in {data[:80]!r}")

    text = data.decode("utf-8")  # strict UTF-8: no lone surrogate got out
    json.loads(text, parse_constant=refuse)
    assert b"\n" not in data


# -- dumps: only strict JSON goes out --------------------------------------------------


def test_dumps_never_writes_non_finite_numbers() -> None:
    data = jsonrpc.dumps({"id": 1, "a": float("nan"), "b": [float("inf"), -float("inf"), 1.5]})
    assert data == b'{"id":1,"a":null,"b":[null,null,1.5]}'


def test_dumps_replaces_lone_surrogates() -> None:
    data = jsonrpc.dumps({"id": "\ud800", "pair": "\ud83d\ude00", "ok": "\U0001f600"})
    assert json.loads(data) == {"id": "\ufffd", "pair": "\U0001f600", "ok": "\U0001f600"}


def test_dumps_of_a_circular_structure_fails_once() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError):
        jsonrpc.dumps(loop)


def test_classify_refuses_non_finite_ids() -> None:
    for value in (float("nan"), float("inf"), -float("inf")):
        assert classify({"jsonrpc": "2.0", "id": value, "method": "x"}) is Kind.INVALID
    assert classify({"jsonrpc": "2.0", "id": 1.5, "method": "x"}) is Kind.REQUEST


_IDS = st.one_of(st.integers(-5, 5), st.sampled_from(["a", "b"]), st.none(), st.booleans())


@given(st.lists(st.one_of(_IDS.map(lambda i: {"id": i, "method": "m"}), st.integers()), max_size=8))
def test_a_batch_refused_whole_answers_each_request_with_an_id(payload: list[Any]) -> None:
    """Every request of the batch with an id gets an answer, in order: the
    refused one its own error, every other one the error saying it did not run."""
    ids = [
        m["id"]
        for m in payload
        if isinstance(m, dict) and isinstance(m["id"], int | str) and not isinstance(m["id"], bool)
    ]
    refusedId = ids[-1] if ids else None
    answer = jsonrpc.errorResponse(refusedId, -32602, "refused")
    out = jsonrpc.batchAnswer(payload, answer, "not run")
    if not ids:
        assert out == answer
        return
    assert [a["id"] for a in out] == ids
    assert [a["error"]["message"] for a in out].count("refused") == 1
    assert all(a["error"]["code"] == -32602 for a in out)


def test_a_single_request_refused_is_its_own_answer() -> None:
    answer = jsonrpc.errorResponse(3, -32602, "refused")
    assert jsonrpc.batchAnswer({"id": 3, "method": "m"}, answer, "not run") is answer

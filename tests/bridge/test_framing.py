"""The bridge's framing: stdin lines (L{LineBuffer}, L{parseLine}) and SSE
events (L{SSEParser}), with hypothesis for what comes from outside."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.bridge.framing import LineBuffer, parseLine
from mcpgateway.protocol.jsonrpc import Kind
from mcpgateway.remote.sse import SSEParser

ids = st.one_of(st.integers(-(2**53), 2**53), st.text(max_size=20))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
requests = st.builds(
    lambda i, m, p: {"jsonrpc": "2.0", "id": i, "method": m, "params": p},
    ids,
    st.text(min_size=1, max_size=20),
    st.dictionaries(st.text(max_size=5), json_values, max_size=3),
)
notifications = st.builds(
    lambda m: {"jsonrpc": "2.0", "method": m}, st.text(min_size=1, max_size=20)
)
responses = st.builds(lambda i, r: {"jsonrpc": "2.0", "id": i, "result": r}, ids, json_values)
messages = st.one_of(requests, notifications, responses)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[last:point])
        last = point
    return pieces


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_any_line_parses_to_messages_or_answers_and_never_raises(line: bytes) -> None:
    parsed = parseLine(line.replace(b"\n", b" "))
    for answer in parsed.answers:
        error = json.loads(answer)
        assert error["jsonrpc"] == "2.0" and error["error"]["code"] in (-32700, -32600)
        assert b"\n" not in answer


@settings(max_examples=150, deadline=None)
@given(messages)
def test_a_message_is_forwarded_as_it_came(message: dict[str, Any]) -> None:
    line = json.dumps(message, ensure_ascii=False).encode()
    parsed = parseLine(line)
    assert parsed.answers == []
    [out] = parsed.messages
    assert out.body == line  # byte for byte: ids and all untouched
    assert out.id == message.get("id")
    expected = (
        Kind.RESPONSE
        if "result" in message
        else Kind.REQUEST
        if "id" in message
        else Kind.NOTIFICATION
    )
    assert out.kind is expected


@settings(max_examples=100, deadline=None)
@given(st.lists(messages, min_size=1, max_size=4))
def test_a_batch_is_split_into_its_messages(batch: list[dict[str, Any]]) -> None:
    parsed = parseLine(json.dumps(batch).encode())
    assert [json.loads(m.body) for m in parsed.messages] == batch


def test_initialize_keeps_its_params() -> None:
    [message] = parseLine(
        b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"a":1}}'
    ).messages
    assert message.params == {"a": 1}
    [other] = parseLine(b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"a":1}}').messages
    assert other.params is None


def test_invalid_input_is_answered_not_forwarded() -> None:
    assert parseLine(b"   ").messages == [] and parseLine(b"").answers == []
    [error] = parseLine(b"{nope").answers
    assert json.loads(error)["error"]["code"] == -32700 and json.loads(error)["id"] is None
    [error] = parseLine(b'{"jsonrpc":"1.0","id":4,"method":"x"}').answers
    assert json.loads(error) == {
        "jsonrpc": "2.0",
        "id": 4,
        "error": {"code": -32600, "message": "Invalid Request: not a JSON-RPC 2.0 message"},
    }
    assert parseLine(b"[]").answers and not parseLine(b"[]").messages


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=6),
    st.lists(st.integers(0, 1000), max_size=8),
    st.booleans(),
)
def test_lines_come_out_whole_whatever_the_chunking(
    lines: list[bytes], cuts: list[int], crlf: bool
) -> None:
    lines = [line.rstrip(b"\r") for line in lines]
    data = b"".join(line + (b"\r\n" if crlf else b"\n") for line in lines)
    buffer = LineBuffer()
    out: list[bytes | None] = []
    for piece in chunked(data, cuts):
        out += buffer.feed(piece)
    assert out == lines
    assert buffer.pending == b""


def test_an_overlong_line_is_skipped_and_the_next_one_is_read() -> None:
    buffer = LineBuffer(maxLine=10)
    assert buffer.feed(b"x" * 8) == []
    assert buffer.feed(b"x" * 8) == []
    assert buffer.feed(b"yy\nshort\n") == [None, b"short"]
    assert buffer.feed(b"z" * 11 + b"\nok\n") == [None, b"ok"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(messages, max_size=4),
    st.lists(st.integers(0, 2000), max_size=10),
    st.sampled_from([b"\n", b"\r\n"]),
)
def test_sse_events_come_out_whole_whatever_the_chunking(
    items: list[dict[str, Any]], cuts: list[int], eol: bytes
) -> None:
    body = (
        b": keep-alive" + eol + eol + b"id: p0" + eol + b"retry: 500" + eol + b"data:" + eol + eol
    )
    for n, item in enumerate(items):
        body += b"id: e" + str(n).encode() + eol + b"event: message" + eol
        body += b"data: " + json.dumps(item).encode() + eol + eol
    parser = SSEParser()
    events = []
    for piece in chunked(body, cuts):
        events += parser.feed(piece)
    assert [json.loads(e.data) for e in events] == items
    assert [e.id for e in events] == [b"e%d" % n for n in range(len(items))]
    assert parser.retry == 500
    assert parser.lastEventId == (b"e%d" % (len(items) - 1) if items else b"p0")


def test_sse_multi_line_data_is_joined() -> None:
    [event] = SSEParser().feed(b'data: {"a":\ndata: 1}\n\n')
    assert event.data == b'{"a":\n1}'

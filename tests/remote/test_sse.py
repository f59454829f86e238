"""L{mcpgateway.remote.sse}: the SSE parser (fields, event types, line
endings, any chunking), the stream and body readers, the header and failure
helpers."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.error import ConnectionLost, ConnectionRefusedError
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone, ResponseFailed, ResponseNeverReceived
from twisted.web.http import PotentialDataLoss

from mcpgateway.remote.sse import (
    Event,
    SSEParser,
    SSEReader,
    endedCleanly,
    headerOf,
    isSSE,
    readBody,
    reasonOf,
)
from tests.remote.fakehttp import FakeResponse


def parse(*chunks: bytes) -> list[Event]:
    parser = SSEParser()
    events: list[Event] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events


# -- fields ---------------------------------------------------------------------------


def test_the_event_field_gives_the_event_its_type() -> None:
    assert parse(b"event: endpoint\ndata: /messages?s=1\n\n") == [
        Event(b"/messages?s=1", None, b"endpoint")
    ]


def test_an_event_without_a_type_is_a_message_of_type_none() -> None:
    assert parse(b"data: x\n\n") == [Event(b"x")]
    assert parse(b"data: x\n\n")[0].type is None


def test_the_type_is_forgotten_after_each_event() -> None:
    stream = b"event: endpoint\ndata: a\n\ndata: b\n\nevent: message\ndata: c\n\n"
    assert [(e.data, e.type) for e in parse(stream)] == [
        (b"a", b"endpoint"),
        (b"b", None),
        (b"c", b"message"),
    ]


def test_the_type_of_an_event_without_data_does_not_carry_over() -> None:
    assert parse(b"event: endpoint\n\ndata: b\n\n") == [Event(b"b")]


def test_an_empty_event_field_means_no_type_and_the_last_one_wins() -> None:
    assert parse(b"event:\ndata: a\n\n")[0].type is None
    assert parse(b"event: one\nevent: two\ndata: a\n\n")[0].type == b"two"


def test_data_lines_are_joined_and_one_leading_space_is_dropped() -> None:
    assert parse(b"data: a\ndata:  b\ndata:c\n\n") == [Event(b"a\n b\nc")]
    assert parse(b'data: {"k": "a:b"}\n\n') == [Event(b'{"k": "a:b"}')]


def test_a_field_without_a_colon_has_an_empty_value() -> None:
    assert parse(b"data\ndata: x\n\n") == [Event(b"\nx")]


def test_ids_persist_across_events_until_changed() -> None:
    events = parse(b"data: a\n\nid: 7\ndata: b\n\ndata: c\n\nid: 8\ndata: d\n\n")
    assert [e.id for e in events] == [None, b"7", b"7", b"8"]


def test_an_id_holding_nul_is_ignored() -> None:
    parser = SSEParser()
    assert parser.feed(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n") == [
        Event(b"a", b"1"),
        Event(b"b", b"1"),
    ]
    assert parser.lastEventId == b"1"


def test_an_event_with_empty_data_is_not_dispatched_but_its_id_is_kept() -> None:
    parser = SSEParser()
    assert parser.feed(b"id: prime-1\ndata:\n\n") == []
    assert parser.lastEventId == b"prime-1"


def test_comments_and_unknown_fields_are_ignored() -> None:
    assert parse(b": keep-alive\nfoo: bar\ndata: a\n: more\n\n") == [Event(b"a")]


def test_retry_is_kept_when_it_is_digits() -> None:
    parser = SSEParser()
    parser.feed(b"retry: 2500\n\n")
    assert parser.retry == 2500
    parser.feed(b"retry: soon\nretry: -1\n\n")
    assert parser.retry == 2500


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending_is_read(eol: bytes) -> None:
    stream = eol.join([b"id: 1", b"event: t", b"data: a", b"", b"data: b", b"", b": end", b""])
    assert parse(stream + b"\n") == [Event(b"a", b"1", b"t"), Event(b"b", b"1")]


def test_a_stream_with_cr_line_endings_gives_each_event_as_it_completes() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r\r") == [Event(b"a")]
    assert parser.feed(b"\ndata: b\r\r") == [Event(b"b")]


def test_a_crlf_split_between_chunks_is_one_line_ending() -> None:
    assert parse(b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n") == [Event(b"a"), Event(b"b")]


def test_an_event_not_ended_by_a_blank_line_is_not_dispatched() -> None:
    assert parse(b"data: a\n") == []
    assert parse(b"data: a") == []


# -- any chunking, any event types ------------------------------------------------------

_VALUE = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00"), max_size=12
).map(lambda text: text.encode("utf-8"))


@dataclass(frozen=True)
class _Spec:
    """One event as written: its fields, in order, then a blank line."""

    fields: tuple[tuple[bytes, bytes], ...]


_FIELD = st.one_of(
    st.tuples(st.just(b"data"), _VALUE),
    st.tuples(st.just(b"id"), _VALUE),
    st.tuples(st.just(b"event"), _VALUE),
    st.tuples(st.just(b"retry"), st.integers(0, 10**6).map(lambda n: str(n).encode())),
    st.tuples(st.just(b""), _VALUE),  # a comment
)
_SPECS = st.lists(
    st.builds(
        _Spec,
        st.lists(_FIELD, max_size=5).map(tuple),
    ),
    max_size=8,
)


def _write(specs: list[_Spec], eol: bytes) -> bytes:
    lines: list[bytes] = []
    for spec in specs:
        for name, value in spec.fields:
            lines.append(name + b": " + value)
        lines.append(b"")
    lines.append(b": end")  # ends the last blank line, whatever the line ending
    return b"".join(line + eol for line in lines)


def _expected(specs: list[_Spec]) -> list[Event]:
    """The events the WHATWG rules give (an event with empty data is not
    dispatched: the MCP transport's priming event)."""
    events: list[Event] = []
    lastId: bytes | None = None
    for spec in specs:
        data: list[bytes] = []
        kind: bytes | None = None
        for name, value in spec.fields:
            if name == b"data":
                data.append(value)
            elif name == b"id":
                lastId = value
            elif name == b"event":
                kind = value or None
        joined = b"\n".join(data)
        if joined:
            events.append(Event(joined, lastId, kind))
    return events


def _chunked(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted(set(cuts)), len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=300, deadline=None)
@given(specs=_SPECS, eol=st.sampled_from([b"\n", b"\r\n"]), data=st.data())
def test_any_chunking_gives_the_events_written_with_their_types(
    specs: list[_Spec], eol: bytes, data: st.DataObject
) -> None:
    stream = _write(specs, eol)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=len(stream) + 1))
    assert parse(*_chunked(stream, cuts)) == _expected(specs)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(
        st.tuples(
            st.sampled_from([b"data: ", b"data:", b"event: ", b"event:", b"id: ", b": ", b""]),
            _VALUE,
            st.sampled_from([b"\n", b"\r\n", b"\r"]),
        ),
        max_size=30,
    ),
    data=st.data(),
)
def test_a_stream_parses_the_same_whole_or_byte_by_byte_or_in_any_chunks(
    lines: list[tuple[bytes, bytes, bytes]], data: st.DataObject
) -> None:
    stream = b"".join(field + value + eol for field, value, eol in lines) + b"\n: end\n"
    whole = parse(stream)
    assert parse(*[stream[i : i + 1] for i in range(len(stream))]) == whole
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=len(stream) + 1))
    assert parse(*_chunked(stream, cuts)) == whole
    # Types are only ever what an event: field said.
    said: set[bytes | None] = {None}
    for field, value, _ in lines:
        name, _, given = (field + value).partition(b":")
        if name == b"event":
            said.add(given[1:] if given[:1] == b" " else given)
    assert {e.type for e in whole} <= said


# -- the readers ----------------------------------------------------------------------------


def test_the_sse_reader_hands_over_each_event_as_it_completes_and_says_how_it_ended() -> None:
    seen: list[Event] = []
    reader = SSEReader(seen.append)
    response = FakeResponse(contentType=b"text/event-stream", stream=True)
    response.deliverBody(reader)
    response.push(b"event: endpoint\ndata: /m\n\nid: 4\ndata: {")
    assert seen == [Event(b"/m", None, b"endpoint")]
    response.push(b"}\n\n")
    assert seen[1:] == [Event(b"{}", b"4")]
    assert reader.lastData == b"{}"
    ended: list[tuple[Failure]] = []
    reader.finished.addCallback(ended.append)
    response.end()
    [(reason,)] = ended
    assert reason.check(ResponseDone)
    assert reader.parser.lastEventId == b"4"


def test_the_sse_reader_aborts_its_body() -> None:
    reader = SSEReader(lambda event: None)
    response = FakeResponse(contentType=b"text/event-stream", stream=True)
    response.deliverBody(reader)
    ended: list[tuple[Failure]] = []
    reader.finished.addCallback(ended.append)
    reader.abort()
    assert response.aborted
    [(reason,)] = ended
    assert not endedCleanly(reason)


def test_an_sse_reader_never_connected_aborts_nothing() -> None:
    events: list[bytes] = []
    reader = SSEReader(lambda event: events.append(event.data))
    reader.abort()
    assert not reader.finished.called  # no body ended: there was none
    reader.dataReceived(b"data: later\n\n")
    assert events == [b"later"]


def test_read_body_gives_the_whole_body_and_why_it_ended() -> None:
    got: list[tuple[bytes, Failure]] = []
    readBody(FakeResponse(200, b"hello")).addCallback(got.append)
    [(body, reason)] = got
    assert body == b"hello" and endedCleanly(reason)
    dropped = FakeResponse(200, b"hal", stream=True)
    readBody(dropped).addCallback(got.append)
    dropped.push(b"f")
    dropped.drop()
    body, reason = got[1]
    assert body == b"half" and not endedCleanly(reason)


def test_header_helpers() -> None:
    response = FakeResponse(headers={b"Mcp-Session-Id": b"abc"})
    assert headerOf(response, b"mcp-session-id") == "abc"
    assert headerOf(response, b"x-missing") is None
    assert isSSE(FakeResponse(contentType=b"Text/Event-Stream; charset=utf-8"))
    assert not isSSE(FakeResponse(contentType=b"application/json"))


def test_ended_cleanly_and_reasons() -> None:
    assert endedCleanly(Failure(ResponseDone()))
    assert endedCleanly(Failure(PotentialDataLoss()))
    assert not endedCleanly(Failure(ResponseFailed([Failure(ConnectionLost())])))
    refused = ResponseNeverReceived([Failure(ConnectionRefusedError()), "not a failure"])
    assert reasonOf(Failure(refused)) == "Connection was refused by other side."
    assert reasonOf(Failure(ValueError())) == "ValueError"
    assert reasonOf(Failure(ValueError("bad"))) == "bad"

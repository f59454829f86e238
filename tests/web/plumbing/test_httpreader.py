"""L{RequestReader}: HTTP/1.1 requests read off a connection with httptools."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.web.plumbing.httpreader import RequestReader


@dataclass
class Read:
    """What the reader made of one message, its body taken as it came."""

    method: bytes
    uri: bytes
    version: bytes
    headers: list[tuple[bytes, bytes]]
    length: int | None
    complete: bool
    bad: str | None
    body: list[bytes] = field(default_factory=list)


def read(
    *chunks: bytes, maxHeadBytes: int = 16384, maxHeaders: int = 500
) -> tuple[list[Read], RequestReader]:
    """Feed C{chunks}, taking each message as soon as its head is in (as the
    channel does when no response is in progress)."""
    reader = RequestReader(maxHeadBytes, maxHeaders)
    out: list[Read] = []
    taken: set[int] = set()
    for chunk in chunks:
        reader.feed(chunk)
        for message in reader.messages:
            if id(message) not in taken:
                taken.add(id(message))
                seen = Read(
                    message.method,
                    message.uri,
                    message.version,
                    message.headers,
                    message.length,
                    False,
                    None,
                )
                out.append(seen)
                message.take(seen.body.append)
    for seen, message in zip(out, reader.messages, strict=True):
        seen.complete, seen.bad = message.complete, message.bad
    return out, reader


def body(seen: Read) -> bytes:
    return b"".join(seen.body)


def test_a_request_in_one_piece() -> None:
    [seen], reader = read(
        b"POST /srv/mcp HTTP/1.1\r\nHost: a\r\nX-Pad:  v \t\r\nContent-Length: 2\r\n\r\n{}"
    )
    assert (seen.method, seen.uri, seen.version) == (b"POST", b"/srv/mcp", b"HTTP/1.1")
    assert seen.headers == [(b"Host", b"a"), (b"X-Pad", b"v"), (b"Content-Length", b"2")]
    assert seen.length == 2 and body(seen) == b"{}" and seen.complete and seen.bad is None
    assert not reader.inHead and not reader.closed


def test_a_head_in_progress_is_noted() -> None:
    seen, reader = read(b"GET /health HTTP/1.1\r\nHo")
    assert seen == [] and reader.inHead
    reader.feed(b"st: a\r\n\r\n")
    assert not reader.inHead and reader.messages[0].complete


def test_a_chunked_body() -> None:
    [seen], _ = read(
        b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
        b"2\r\nde\r\n0\r\n\r\n",
    )
    assert seen.length is None and body(seen) == b"abcde" and seen.complete


def test_http_1_0() -> None:
    [seen], reader = read(b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n")
    assert seen.version == b"HTTP/1.0" and seen.complete
    assert reader.closed  # no keep-alive asked: nothing after it is read


def test_nothing_after_a_request_that_closes_is_read() -> None:
    seen, reader = read(b"GET /a HTTP/1.1\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
    assert [s.uri for s in seen] == [b"/a"] and seen[0].bad is None and reader.closed
    reader.feed(b"garbage")
    assert len(reader.messages) == 1


def test_a_body_read_before_the_message_is_taken_waits_in_it() -> None:
    reader = RequestReader(16384, 500)
    reader.feed(b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nab")
    reader.feed(b"c")
    [message] = reader.messages
    assert message.body == [b"ab", b"c"] and message.bodyBytes == 3
    got: list[bytes] = []
    message.take(got.append)
    assert got == [b"ab", b"c"] and message.body == [] and message.bodyBytes == 0


def test_an_upgrade_is_served_as_http_1_1_and_reading_goes_on() -> None:
    """curl --http2 on http:// asks to upgrade to h2c: Twisted answers in
    HTTP/1.1, and so does the gateway; what comes after is read."""
    seen, reader = read(
        b"GET /health HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\nGET /b HTTP/1.1\r\n\r\n"
    )
    assert [(s.uri, s.complete, s.bad) for s in seen] == [
        (b"/health", True, None),
        (b"/b", True, None),
    ]
    assert not reader.closed


def test_the_body_of_a_request_asking_to_upgrade_is_read_as_its_body() -> None:
    """llhttp leaves it unread: the reader reads it, in any pieces."""
    seen, _ = read(
        b"POST /x HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 5\r\n\r\nab",
        b"c",
        b"deGET /y HTTP/1.1\r\n\r\n",
    )
    assert [(s.uri, body(s), s.complete) for s in seen] == [
        (b"/x", b"abcde", True),
        (b"/y", b"", True),
    ]


def test_a_chunked_body_on_a_request_asking_to_upgrade_is_refused() -> None:
    seen, reader = read(
        b"POST /x HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    assert seen[-1].bad is not None and reader.closed


def test_other_http_versions_are_refused() -> None:
    for version in (b"HTTP/0.9", b"HTTP/2.0"):
        [seen], reader = read(b"GET / " + version + b"\r\n\r\n")
        assert seen.bad is not None and "not served" in seen.bad and reader.closed


def test_a_malformed_head_is_a_bad_message_and_ends_reading() -> None:
    for head in (
        b"GET /x HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
        b"GET /x?a=b c HTTP/1.1\r\n\r\n",
        b"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na",
        b"POST /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET /x HTTP/1.1\r\nX: a\x00b\r\n\r\n",
        b"POST /x HTTP/1.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n",
        b"BREW /pot HTTP/1.1\r\n\r\n",
    ):
        seen, reader = read(head + b"GET /after HTTP/1.1\r\n\r\n")
        assert seen[-1].bad, head
        assert all(s.uri != b"/after" for s in seen) and reader.closed


def test_a_malformed_body_marks_its_own_message_bad() -> None:
    """The channel may already hold the request for it: that one is bad."""
    [seen], reader = read(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    assert seen.uri == b"/x" and seen.bad and len(reader.messages) == 1


def test_a_head_past_the_size_limit_is_refused_in_one_piece_or_many() -> None:
    big = b"GET /x HTTP/1.1\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n"
    [seen], _ = read(big, maxHeadBytes=1000)
    assert seen.bad == "request head too large"
    pieces, _ = read(*[big[i : i + 7] for i in range(0, len(big), 7)], maxHeadBytes=1000)
    assert pieces[-1].bad == "request head too large"
    [fits], _ = read(big, maxHeadBytes=3000)
    assert fits.bad is None


def test_one_header_that_never_ends_is_refused_before_it_ends() -> None:
    """httptools holds a header's value until the next one begins: the
    reader counts the bytes a head in progress swallows."""
    reader = RequestReader(1000, 500)
    reader.feed(b"GET /x HTTP/1.1\r\nX-Endless: ")
    for _ in range(3):
        reader.feed(b"a" * 400)
    assert not reader.closed  # raw bytes hold more than the count: a slice of slack
    for _ in range(11):
        reader.feed(b"a" * 400)
    assert reader.closed and reader.messages[-1].bad == "request head too large"


def test_a_body_in_the_same_piece_as_the_end_of_its_head_is_not_head() -> None:
    head = b"POST /x HTTP/1.1\r\nContent-Length: 5000\r\n\r\n"
    seen, _ = read(head[:10], head[10:] + b"a" * 5000, maxHeadBytes=1000)
    assert seen[0].bad is None and len(body(seen[0])) == 5000


def test_too_many_headers() -> None:
    [seen], _ = read(b"GET /x HTTP/1.1\r\n" + b"X: a\r\n" * 4 + b"\r\n", maxHeaders=3)
    assert seen.bad == "more than 3 headers"


TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789-", min_size=1, max_size=12)
VALUE = st.binary(min_size=0, max_size=30).map(
    lambda b: bytes(c for c in b if 0x21 <= c <= 0x7E or c >= 0x80)
)


@st.composite
def requests(
    draw: st.DrawFn,
) -> tuple[bytes, tuple[bytes, bytes, list[tuple[bytes, bytes]], bytes]]:
    """One well-formed request: its bytes and what reading it must give."""
    method = draw(st.sampled_from([b"GET", b"POST", b"DELETE", b"PUT", b"OPTIONS"]))
    path = b"/" + draw(TOKEN).encode()
    names = draw(st.lists(TOKEN, max_size=5, unique_by=str.lower))
    headers = [
        (name.encode(), draw(VALUE))
        for name in names
        if name.lower() not in ("content-length", "transfer-encoding", "connection", "upgrade")
    ]
    content = draw(st.binary(max_size=200))
    chunked = draw(st.booleans())
    wire = [method + b" " + path + b" HTTP/1.1\r\n"]
    wire += [name + b": " + value + b"\r\n" for name, value in headers]
    if chunked:
        sizes = draw(st.lists(st.integers(1, 50), max_size=5))
        wire.append(b"Transfer-Encoding: chunked\r\n\r\n")
        rest, pieces = content, []
        for size in sizes:
            piece, rest = rest[:size], rest[size:]
            if piece:
                pieces.append(piece)
        if rest:
            pieces.append(rest)
        wire += [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]
        expected = (method, path, [*headers, (b"Transfer-Encoding", b"chunked")], content)
    else:
        wire.append(b"Content-Length: %d\r\n\r\n" % len(content) + content)
        expected = (method, path, [*headers, (b"Content-Length", b"%d" % len(content))], content)
    return b"".join(wire), expected


@settings(max_examples=300, deadline=None)
@given(st.lists(requests(), min_size=1, max_size=4), st.data())
def test_pipelined_requests_read_the_same_in_any_pieces(
    batch: list[tuple[bytes, tuple[bytes, bytes, list[tuple[bytes, bytes]], bytes]]],
    data: st.DataObject,
) -> None:
    wire = b"".join(w for w, _ in batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    pieces = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    seen, reader = read(*pieces)
    assert [(s.method, s.uri, s.headers, body(s)) for s in seen] == [e for _, e in batch]
    assert all(s.complete and s.bad is None for s in seen)
    assert not reader.inHead and not reader.closed


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=6))
def test_any_bytes_end_in_messages_or_a_bad_one_never_an_exception(chunks: list[bytes]) -> None:
    reader = RequestReader(1024, 20)
    for chunk in chunks:
        reader.feed(chunk)
    bad = [m for m in reader.messages if m.bad is not None]
    assert len(bad) <= 1 and (not bad or (reader.closed and reader.messages[-1] is bad[0]))


def test_a_head_in_pieces_is_counted_once() -> None:
    """Whole reads inside a head and the head's own count are not added up:
    a 9 KB head in 3 reads is read, not refused at 16 KiB."""
    head = b"GET /x HTTP/1.1\r\nAuthorization: Bearer " + b"t" * 9000 + b"\r\nHost: a\r\n\r\n"
    pieces = [head[:3000], head[3000:6000], head[6000:]]
    [seen], _ = read(*pieces)
    assert seen.bad is None and seen.complete


def test_a_pipelined_body_is_not_counted_as_the_next_head() -> None:
    first = b"POST /a HTTP/1.1\r\nContent-Length: 20000\r\n\r\n"
    seen, _ = read(first + b"x" * 100, b"x" * 19900 + b"GET /b HTTP/1.1\r\nHo", b"st: a\r\n\r\n")
    assert [(s.uri, s.bad) for s in seen] == [(b"/a", None), (b"/b", None)]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 40), st.integers(1, 300), st.data())
def test_a_head_within_the_limit_is_read_in_any_pieces(
    headers: int, valueSize: int, data: st.DataObject
) -> None:
    head = (
        b"GET /x HTTP/1.1\r\n"
        + b"".join(b"X-%d: %s\r\n" % (i, b"v" * valueSize) for i in range(headers))
        + b"\r\n"
    )
    # Exactly what is counted (target, names, values, 4 per header): the
    # raw-byte backstop does not refuse it, in any pieces.
    limit = len(b"/x") + sum(len(b"X-%d" % i) + valueSize + 4 for i in range(headers))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(head)), max_size=10)))
    pieces = [head[a:b] for a, b in zip([0, *cuts], [*cuts, len(head)], strict=True)]
    seen, _ = read(*pieces, maxHeadBytes=max(limit, 1), maxHeaders=40)
    assert [s.bad for s in seen] == [None]


def test_too_many_headers_are_refused_as_they_come() -> None:
    """Refused as soon as the count passes the limit, not held until the
    head ends (a head of thousands of headers would be)."""
    reader = RequestReader(1 << 20, 10)
    reader.feed(b"GET /x HTTP/1.1\r\n" + b"X: a\r\n" * 12)
    assert reader.closed and reader.messages[-1].bad == "more than 10 headers"


def test_chunked_trailers_are_counted_not_kept() -> None:
    ok, _ = read(
        b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: 1\r\n\r\n"
    )
    assert (
        ok[0].bad is None
        and ok[0].complete
        and ok[0].headers == [(b"Transfer-Encoding", b"chunked")]
    )
    many = b"X-Trailer: " + b"v" * 50 + b"\r\n"
    bad, _ = read(
        b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + many * 40,
        maxHeadBytes=1000,
    )
    assert bad[0].bad == "chunked trailers too large"


def test_one_trailer_that_never_ends_is_refused() -> None:
    reader = RequestReader(1000, 500)
    reader.feed(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Endless: ")
    for _ in range(14):
        reader.feed(b"a" * 400)
    assert reader.closed and reader.messages[-1].bad == "chunked framing or trailers too large"


def test_a_failure_of_the_body_sink_is_raised_not_taken_for_a_bad_request() -> None:
    reader = RequestReader(16384, 500)
    reader.feed(b"POST /x HTTP/1.1\r\nContent-Length: 4\r\n\r\n")

    def broken(chunk: bytes) -> None:
        raise OSError("disk full")

    reader.messages[0].take(broken)
    try:
        reader.feed(b"abcd")
    except OSError as e:
        assert str(e) == "disk full"
    else:
        raise AssertionError("the sink's failure was swallowed")
    assert reader.closed and reader.messages[0].bad is None


def test_a_missing_httptools_is_said_when_the_site_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from mcpgateway.web.plumbing import httpreader

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "httptools" else real(name, *a),
    )
    with pytest.raises(ImportError, match="pip install 'httptools"):
        httpreader.checkInstalled()


def test_trailing_whitespace_is_gone_before_expect_is_read() -> None:
    """(llhttp itself refuses a transfer coding with trailing whitespace.)"""
    reader = RequestReader(16384, 500)
    reader.feed(b"POST /x HTTP/1.1\r\nExpect: 100-continue \t\r\nContent-Length: 1\r\n\r\n")
    assert reader.messages[0].expectContinue
    assert reader.messages[0].headers[0] == (b"Expect", b"100-continue")


@given(
    st.lists(
        st.sampled_from([b"Host", b"host", b"HOST", b"Hosts", b"X-Host", b"Date", b"Accept"]),
        max_size=6,
    ),
    st.integers(min_value=1, max_value=20),
)
@settings(max_examples=50)
def test_host_headers_are_counted_in_any_case_and_in_any_pieces(
    names: list[bytes], piece: int
) -> None:
    head = b"GET / HTTP/1.1\r\n" + b"".join(b"%s: v\r\n" % name for name in names) + b"\r\n"
    reader = RequestReader(16384, 500)
    for start in range(0, len(head), piece):
        reader.feed(head[start : start + piece])
    (message,) = reader.messages
    assert message.hosts == sum(name.lower() == b"host" for name in names)

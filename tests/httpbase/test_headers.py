"""GatewayHeaders is Twisted's Headers with a shorter path for bytes: every
sequence of operations, on any names and values, gives what Twisted's gives."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.web.http_headers import Headers

from mcpgateway.httpbase import headers as module
from mcpgateway.httpbase.headers import GatewayHeaders

_KNOWN = st.sampled_from(
    [
        b"content-type",
        b"Content-Type",
        b"MCP-Session-Id",
        b"mcp-session-id",
        b"etag",
        b"www-authenticate",
        b"te",
        b"x-xss-protection",
        b"content-md5",
        b"dnt",
        b"Host",
    ]
)
_NAMES = st.one_of(_KNOWN, st.binary(min_size=1, max_size=12))
_TEXT_NAMES = st.sampled_from(["Content-Type", "accept", "X-Custom", "etag"])
_VALUES = st.one_of(
    st.sampled_from([b"", b"a", b"two\r\nlines", b"cr\ronly", b"lf\nonly", b"text/event-stream"]),
    st.binary(max_size=20),
)
_TEXT_VALUES = st.sampled_from(["", "plain", "caf\u00e9", "two\r\nlines"])

_OPS = st.one_of(
    st.tuples(st.just("add"), _NAMES, _VALUES),
    st.tuples(st.just("add"), _TEXT_NAMES, _TEXT_VALUES),
    st.tuples(st.just("set"), _NAMES, st.lists(_VALUES, max_size=3)),
    st.tuples(st.just("set"), _TEXT_NAMES, st.lists(_TEXT_VALUES, max_size=3)),
    st.tuples(st.just("set"), _NAMES, st.lists(st.one_of(_VALUES, _TEXT_VALUES), max_size=3)),
    st.tuples(st.just("lines"), st.lists(st.tuples(_NAMES, _VALUES), max_size=4)),
    st.tuples(st.just("remove"), st.one_of(_NAMES, _TEXT_NAMES)),
    st.tuples(
        st.just("canonical"),
        _NAMES,
        _VALUES.filter(lambda v: 10 not in v and 13 not in v),  # setCanonical's contract
    ),
)


def apply(headers: Headers, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "add":
        headers.addRawHeader(op[1], op[2])
    elif kind == "set":
        headers.setRawHeaders(op[1], op[2])
    elif kind == "remove":
        headers.removeHeader(op[1])
    elif kind == "canonical":
        if isinstance(headers, GatewayHeaders):
            headers.setCanonical(module.canonical(op[1]), op[2])
        else:
            headers.setRawHeaders(op[1], [op[2]])
    elif isinstance(headers, GatewayHeaders):
        headers.addLines(op[1])
    else:
        for name, value in op[1]:
            headers.addRawHeader(name, value)


@settings(max_examples=400, deadline=None)
@given(ops=st.lists(_OPS, max_size=12), probes=st.lists(st.one_of(_NAMES, _TEXT_NAMES), max_size=6))
def test_it_stores_and_answers_as_twisteds_headers(
    ops: list[tuple[Any, ...]], probes: list[Any]
) -> None:
    with patch.dict(module._canonical, clear=True):  # generated names stay in this test
        check(ops, probes)


def check(ops: list[tuple[Any, ...]], probes: list[Any]) -> None:
    theirs, ours = Headers(), GatewayHeaders()
    for op in ops:
        assert outcome(apply, ours, op) == outcome(apply, theirs, op), op
        assert list(ours.getAllRawHeaders()) == list(theirs.getAllRawHeaders())
    for name in probes:
        assert outcome(ours.hasHeader, name) == outcome(theirs.hasHeader, name)
        assert outcome(ours.getRawHeaders, name) == outcome(theirs.getRawHeaders, name)
        assert outcome(ours.getRawHeaders, name, "default") == outcome(
            theirs.getRawHeaders, name, "default"
        )


def outcome(f: Any, *args: Any) -> tuple[str, Any]:
    """What C{f(*args)} returns, or the type of what it raises."""
    try:
        return ("returned", f(*args))
    except Exception as e:
        return ("raised", type(e))


def test_a_value_with_a_line_break_is_one_line_as_twisted_makes_it() -> None:
    headers = GatewayHeaders()
    headers.setRawHeaders(b"x-injected", [b"a\r\nSet-Cookie: b"])
    headers.addLines([(b"x-other", b"c\nd")])
    assert headers.getRawHeaders(b"x-injected") == [b"a Set-Cookie: b"]
    assert headers.getRawHeaders(b"X-Other") == [b"c d"]


def test_names_invented_past_the_cache_are_still_canonical(monkeypatch: Any) -> None:
    monkeypatch.setattr(module, "_canonical", {})
    monkeypatch.setattr(module, "_MAX_NAMES", 2)
    headers = GatewayHeaders()
    for n in range(5):
        headers.addRawHeader(b"x-name-%d" % n, b"v")
    assert len(module._canonical) == 2
    assert [name for name, _ in headers.getAllRawHeaders()] == [b"X-Name-%d" % n for n in range(5)]
    assert headers.getRawHeaders(b"x-name-4") == [b"v"]


def test_the_gateways_requests_use_them() -> None:
    from twisted.web.test.requesthelper import DummyChannel

    from mcpgateway.tuned.request import GatewayRequest

    request = GatewayRequest(DummyChannel())
    assert type(request.requestHeaders) is GatewayHeaders
    assert type(request.responseHeaders) is GatewayHeaders

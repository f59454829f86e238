"""The integration tests' MCP client (L{tests.support.mcpclient}) reads SSE
and JSON answers as a server writes them, and sends each era's headers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import mcpclient
from tests.support.mcpclient import Client2026, Reply, Session, SseEvent, SseParser, parseSse

# -- SSE ------------------------------------------------------------------------------------

FIELD_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12)
events = st.builds(
    SseEvent,
    data=st.one_of(st.none(), st.lists(FIELD_TEXT, min_size=1, max_size=3).map("\n".join)),
    event=st.one_of(st.none(), FIELD_TEXT),
    id=st.one_of(st.none(), FIELD_TEXT),
    retry=st.one_of(st.none(), st.integers(0, 9999).map(str)),
).filter(lambda e: any(v is not None for v in (e.data, e.event, e.id, e.retry)))


def encode(event: SseEvent, newline: str, comment: str | None) -> bytes:
    """C{event} as a server writes it, with C{newline} ending each line."""
    lines = [] if comment is None else [":" + comment]
    for name in ("event", "id", "retry"):
        value = getattr(event, name)
        if value is not None:
            lines.append(f"{name}: {value}")
    if event.data is not None:
        lines.extend(f"data: {part}" for part in event.data.split("\n"))
    return "".join(line + newline for line in [*lines, ""]).encode()


@given(
    st.lists(st.tuples(events, st.one_of(st.none(), FIELD_TEXT)), max_size=5),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.lists(st.integers(0, 400), max_size=8),
)
def test_sse_events_are_read_whole_from_pieces_of_any_size(
    written: list[tuple[SseEvent, str | None]], newline: str, cuts: list[int]
) -> None:
    stream = b"".join(encode(event, newline, comment) for event, comment in written)
    parser, seen, start = SseParser(), [], 0
    for cut in sorted(min(c, len(stream)) for c in cuts):
        seen.extend(parser.feed(stream[start:cut]))
        start = cut
    seen.extend(parser.feed(stream[start:]))
    assert seen == [event for event, _ in written]
    assert parseSse(stream) == seen
    bytewise = SseParser()
    assert [e for i in range(len(stream)) for e in bytewise.feed(stream[i : i + 1])] == seen


def test_an_event_without_its_blank_line_is_not_dispatched() -> None:
    assert parseSse(b"data: 1\n\ndata: 2\n") == [SseEvent(data="1")]


def test_a_field_without_a_space_and_an_unknown_field() -> None:
    assert parseSse(b"data:{}\nfoo: bar\n\n") == [SseEvent(data="{}")]


def test_a_priming_event_with_an_id_and_empty_data_is_seen() -> None:
    assert parseSse(b"id: 7\ndata: \n\n: keep-alive\n\n") == [SseEvent(data="", id="7")]


# -- answers --------------------------------------------------------------------------------


def reply(contentType: str, body: bytes, status: int = 200) -> Reply:
    return Reply(status, [("Content-Type", contentType)], body)


def test_a_json_answer_is_one_message() -> None:
    answer = reply("application/json", b'{"jsonrpc": "2.0", "id": 1, "result": {}}')
    assert answer.messages == [{"jsonrpc": "2.0", "id": 1, "result": {}}]
    assert answer.answer == {"jsonrpc": "2.0", "id": 1, "result": {}}


def test_an_sse_answer_is_its_data_and_its_response_is_the_answer() -> None:
    body = (
        b'id: a\ndata: \n\nevent: message\ndata: {"id": 1, "result": 2}\n\n'
        b'data: {"method": "notifications/message"}\n\n'
    )
    answer = reply("text/event-stream; charset=utf-8", body)
    assert answer.messages == [{"id": 1, "result": 2}, {"method": "notifications/message"}]
    assert answer.answer == {"id": 1, "result": 2}


def test_an_empty_answer_has_no_message() -> None:
    assert reply("application/json", b"", 202).messages == []
    assert reply("", b"", 202).answer is None


def test_repeated_headers_are_joined_and_kept() -> None:
    answer = Reply(200, [("Vary", "a"), ("vary", "b"), ("Mcp-Session-Id", "s")], b"")
    assert answer.headers["vary"] == "a, b" == answer.headers["Vary"]
    assert "MCP-SESSION-ID" in answer.headers and answer.headers.get("VARY") == "a, b"
    assert answer.headerList[:2] == [("Vary", "a"), ("vary", "b")]
    assert answer.session == "s"


@pytest.mark.parametrize(
    ("value", "sent"),
    [("echo", "echo"), ("a b", "a b"), ("é", "=?base64?w6k=?="), (" x", "=?base64?IHg=?=")],
)
def test_a_name_header_is_base64_unless_visible_ascii(value: str, sent: str) -> None:
    assert mcpclient.headerValue(value) == sent


# -- on the wire ----------------------------------------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    """Answers C{initialize} with a session id, a request over SSE, a
    notification 202, a DELETE 204; records what it was sent."""

    seen: list[tuple[str, dict[str, str], Any]] = []
    ports: list[int] = []
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_DELETE(self) -> None:
        self.seen.append(("DELETE", {k.lower(): v for k, v in self.headers.items()}, None))
        self.send_response(204)
        self.end_headers()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.seen.append(("POST", {k.lower(): v for k, v in self.headers.items()}, body))
        self.ports.append(self.client_address[1])
        if body.get("method") == "refuse":
            self.send_response(403)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            return
        if "id" not in body:
            self.send_response(202)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        if body["method"] == "initialize":
            data = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": {"ok": 1}}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("mcp-session-id", "sess-1")
        else:
            answer = {"jsonrpc": "2.0", "id": body["id"], "result": {"echo": body.get("params")}}
            data = b'data: {"method": "notifications/progress"}\n\ndata: '
            data += json.dumps(answer).encode() + b"\n\n"
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.seen, Recorder.ports = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/srv/mcp"
    httpd.shutdown()
    httpd.server_close()


def test_a_session_sends_its_id_and_version_after_initialize(server: str) -> None:
    session = Session(server, headers={"Authorization": "Bearer t"})
    assert session.open() == {"ok": 1}
    assert session.call("echo", {"m": 1}) == {"echo": {"name": "echo", "arguments": {"m": 1}}}
    assert session.delete().status == 204
    (_, first, init), (_, second, note), (_, third, call), (_, fourth, _) = Recorder.seen
    assert call["params"] == {"name": "echo", "arguments": {"m": 1}} and "id" in call
    assert init["method"] == "initialize" and "mcp-session-id" not in first
    assert note == {"jsonrpc": "2.0", "method": "notifications/initialized"}
    for headers in (second, third, fourth):
        assert headers["mcp-session-id"] == "sess-1"
        assert headers["mcp-protocol-version"] == mcpclient.VERSION_2025
        assert headers["authorization"] == "Bearer t"
    assert first["accept"] == mcpclient.ACCEPT and first["content-type"] == "application/json"


def test_a_2026_request_carries_the_envelope_and_its_routing_headers(server: str) -> None:
    client = Client2026(server, capabilities={"sampling": {}})
    client.call("tools é", {"x": 1})
    [(_, headers, body)] = Recorder.seen
    assert body["params"]["_meta"] == {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"sampling": {}},
        "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "1"},
    }
    assert headers["mcp-protocol-version"] == "2026-07-28"
    assert headers["mcp-method"] == "tools/call"
    assert headers["mcp-name"] == mcpclient.headerValue("tools é")
    assert "mcp-session-id" not in headers


def test_a_stream_gives_its_events_one_by_one(server: str) -> None:
    answer = mcpclient.stream(server, body={"jsonrpc": "2.0", "id": 3, "method": "x"})
    try:
        assert answer.status == 200
        assert answer.next() == SseEvent(data='{"method": "notifications/progress"}')
        [last] = answer.events()
        assert last.json()["id"] == 3
        assert answer.next() is None
    finally:
        answer.close()


def test_a_kept_alive_session_sends_every_request_on_one_connection(server: str) -> None:
    session = Session(server, keepAlive=True)
    session.open()
    session.call("echo")
    session.close()
    assert len(Recorder.ports) == 3 and len(set(Recorder.ports)) == 1, Recorder.ports
    Session(server).open()
    assert len(set(Recorder.ports)) == 3  # one connection per request otherwise


def test_a_resumed_session_names_its_id_without_initializing(server: str) -> None:
    Session(server, id="kept").call("echo")
    [(_, headers, body)] = Recorder.seen
    assert body["method"] == "tools/call" and headers["mcp-session-id"] == "kept"


def test_a_refusal_keeps_its_reply(server: str) -> None:
    with pytest.raises(mcpclient.RpcError) as refused:
        Session(server).result("refuse")
    assert refused.value.status == 403 and refused.value.body == b"{}"

"""A revoked token cuts its holder off, open streams included: a real twist
gateway with a tokens file; alice and bob each hold their session's GET
stream; alice's entry is removed from the file (as an admin edits it), and
her stream ends within the poll, with one log line naming her key, while
bob's stays open and his requests are served. Her token then opens
nothing again, and appears nowhere in the gateway's output."""

from __future__ import annotations

import json
import socket
import sys
import threading
from pathlib import Path

import pytest

from tests.integration.gateway import RunningGateway, waitFor, writeConfig
from tests.support.auth.tokens import addToken
from tests.support.mcpclient import Stream, bearer, initializeMessage, request, stream

pytestmark = pytest.mark.integration

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
ENDED = "of its tokens was removed from the tokens file; closed the 1 request(s)"


class Watched:
    """A GET stream read on a thread until it ends (the gateway closed it,
    cleanly or not): C{ended} is set then."""

    def __init__(self, opened: Stream) -> None:
        self.stream = opened
        self.ended = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while self.stream.next() is not None:
                pass
        except Exception:
            pass  # an aborted connection: ended too
        self.ended.set()

    def close(self) -> None:
        """Go away: the socket is shut down under the reader (closing the
        response would wait for the reader's next line)."""
        sock = self.stream.connection.sock
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        self.ended.wait(10)
        self.stream.close()


def openSession(url: str, token: str) -> str:
    reply = request(url, "POST", initializeMessage(1, name="revoked"), bearer(token), timeout=15)
    assert reply.status == 200, reply.text
    sessionId = reply.session
    assert sessionId is not None
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    headers = bearer(token) | {"mcp-session-id": sessionId}
    assert request(url, "POST", initialized, headers, timeout=15).status == 202
    return sessionId


def listen(url: str, token: str, sessionId: str) -> Stream:
    headers = bearer(token) | {"accept": "text/event-stream", "mcp-session-id": sessionId}
    return stream(url, "GET", None, headers, timeout=60)


def test_a_removed_tokens_open_get_stream_ends_within_seconds(home: Path) -> None:
    tokens = home / "tokens.json"
    alice = addToken(tokens, "alice", ["demo"])
    bob = addToken(tokens, "bob", ["demo"])
    config = writeConfig(home / "servers.json", {"demo": DEMO})
    gateway = RunningGateway(["--config", str(config), "--auth-tokens", str(tokens)], home)
    try:
        url = gateway.url("demo")
        alices, bobs = openSession(url, alice), openSession(url, bob)
        hers, his = listen(url, alice, alices), listen(url, bob, bobs)
        assert (hers.status, his.status) == (200, 200)
        herStream, hisStream = Watched(hers), Watched(his)
        assert not herStream.ended.wait(0.5)  # open, as long as her token stands

        # An admin removes her entry, the way an editor saves: a new file renamed over it.
        document = json.loads(tokens.read_text())
        document["tokens"] = [t for t in document["tokens"] if t["principal"] != "alice"]
        (home / "next.json").write_text(json.dumps(document))
        (home / "next.json").replace(tokens)

        assert herStream.ended.wait(30), "her GET stream outlived her token"
        assert not hisStream.ended.is_set()  # his own stays open
        assert waitFor(lambda: ENDED in gateway.text(), timeout=10), gateway.text()[-2000:]
        [line] = [ln for ln in gateway.text().splitlines() if ENDED in ln]
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        assert request(url, "POST", ping, bearer(bob) | {"mcp-session-id": bobs}).status == 200
        again = listen(url, alice, alices)
        assert again.status == 401  # nothing reopens it with her token
        again.close()
        hisStream.close()
        for token in (alice, bob):
            assert token not in gateway.text()
        assert "alice" not in line
    finally:
        gateway.stop()

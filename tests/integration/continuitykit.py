"""Test-side tools for the SDK continuity tests: a TCP proxy that
cuts one SSE stream, a driver for a long-lived TypeScript SDK session, and the
paths of the TypeScript SDK clients.

L{CutProxy} sits between an SDK client and the gateway on loopback, relays
bytes both ways, notes every HTTP request that passes (method, headers, the
JSON-RPC method of a POST body), and, when armed with a marker, drops the
first connection whose response carries that marker right after the SSE event
that holds it: the client has the whole event, then its connection ends
mid-stream (a FIN, mid chunked body), and the gateway sees the connection go.
Every later connection passes through untouched. Threads, not Twisted: this is
test-side plumbing between real processes.

L{TsSession} runs C{clients/ts_session.mjs} (TypeScript SDK 1.x or 2.x) and
talks to it one JSON line at a time, so one client session stays alive while
the test restarts the gateway under it.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import CACHE
from tests.integration.gateway import startReader
from tests.support.integration.npm_backends import backendPaths, installBackends
from tests.support.web.httphead import parseHead

TS_SESSION = Path(__file__).with_name("clients") / "ts_session.mjs"
TS_FLAVOURS = {"ts1": "v1", "ts2": "v2"}
"""Test ids of the TypeScript SDK clients: 1.x (C{@modelcontextprotocol/sdk})
and 2.x (C{@modelcontextprotocol/client})."""


def tsEnvironment() -> dict[str, str]:
    """The environment C{ts_session.mjs} needs (both SDKs' directories);
    installs the npm test backends when the 2.x client is missing, skips the
    test when Node.js is."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js/npm not found: the TypeScript SDK client tests need them")
    dirs = backendPaths(CACHE)
    client2 = dirs.get("TS_CLIENT2_DIR", "")
    if not client2 or not (Path(client2) / "dist" / "index.mjs").is_file():
        installBackends(CACHE)
        dirs = backendPaths(CACHE)
    for key in ("TS_SDK_DIR", "TS_CLIENT2_DIR"):
        assert dirs.get(key) and Path(dirs[key]).is_dir(), f"{key} missing in {CACHE / 'paths.env'}"
    return {
        **os.environ,
        "TS_SDK_DIR": dirs["TS_SDK_DIR"],
        "TS_CLIENT2_DIR": dirs["TS_CLIENT2_DIR"],
    }


class TsSession:
    """One C{ts_session.mjs} process: one TypeScript SDK client session."""

    def __init__(self, flavour: str, url: str, env: dict[str, str], timeout: float = 20.0) -> None:
        self.process = subprocess.Popen(
            ["node", str(TS_SESSION), TS_FLAVOURS[flavour], url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.events: list[dict[str, Any]] = []
        """Unprompted lines: C{connected}, C{error}, C{notification}."""
        self._answers: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._nextId = 0
        self.stderr: list[str] = []
        startReader(self._readOut)
        startReader(self._readErr)
        if not self.waitEvent("connected", timeout):
            self.kill()
            raise RuntimeError(f"the TypeScript client did not connect:\n{self.diagnostics()}")
        self.sessionId: str = self.eventsOf("connected")[0]["sessionId"]

    def _readOut(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                self.stderr.append(f"(stdout) {line}")
                continue
            with self._lock:
                if "id" in message:
                    self._slot(message["id"]).put(message)
                else:
                    self.events.append(message)

    def _readErr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)

    def _slot(self, requestId: int) -> queue.Queue[dict[str, Any]]:
        slot = self._answers.get(requestId)
        if slot is None:
            slot = self._answers[requestId] = queue.Queue()
        return slot

    def eventsOf(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e.get("event") == kind]

    def waitEvent(self, kind: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if self.eventsOf(kind):
                return True
            time.sleep(0.02)
        return bool(self.eventsOf(kind))

    def send(self, op: str, **fields: Any) -> int:
        """Send one command; its id (see L{answer})."""
        with self._lock:
            self._nextId += 1
            requestId = self._nextId
            self._slot(requestId)
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"id": requestId, "op": op, **fields}) + "\n")
        self.process.stdin.flush()
        return requestId

    def answer(self, requestId: int, timeout: float = 30.0) -> dict[str, Any]:
        with self._lock:
            slot = self._slot(requestId)
        try:
            return slot.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"no answer to command {requestId} in {timeout:g} s\n{self.diagnostics()}"
            ) from None

    def call(self, name: str, arguments: dict[str, Any], **options: Any) -> dict[str, Any]:
        """Call a tool; the script's answer (C{ok}, C{result} or C{error},
        C{progress}, C{sessionId})."""
        return self.answer(self.send("call", name=name, arguments=arguments, **options))

    def errors(self) -> list[str]:
        return [str(e["message"]) for e in self.eventsOf("error")]

    def diagnostics(self) -> str:
        return f"events: {self.events}\nstderr: {''.join(self.stderr)[-4000:]}"

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(AssertionError, OSError):
                self.answer(self.send("close"), timeout=10)
            self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


@dataclass
class Seen:
    """One HTTP request that went through the proxy."""

    method: str
    headers: dict[str, str]
    rpc: list[str] = field(default_factory=list)
    """The JSON-RPC methods in a POST body (C{"response"} for an answer)."""


_EVENT_ID = re.compile(rb"(?m)^id: ?(\S+)\r?$")
_EVENT_END = re.compile(rb"\n\n|\r\n\r\n")
"""The blank line that ends an SSE event (servers frame lines with LF or CRLF)."""


class CutProxy:
    """A loopback TCP proxy to the gateway on C{upstreamPort} that, once
    L{arm}ed, cuts the first response carrying the marker after its event.

    @param keepUpstream: cut the client's side only; the upstream side of the
        cut connection stays open and unread until L{close} (a connection
        that went away without the server noticing).
    """

    def __init__(self, upstreamPort: int, keepUpstream: bool = False) -> None:
        self.upstreamPort = upstreamPort
        self.keepUpstream = keepUpstream
        self._held: set[socket.socket] = set()
        self.seen: list[Seen] = []
        self.cutEventId: str | None = None
        """The id of the last event the client got before the cut."""
        self.cuts = 0
        self._marker: bytes | None = None
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, server: str) -> str:
        return f"http://127.0.0.1:{self.port}/{server}/mcp"

    def arm(self, marker: bytes) -> None:
        """Cut the next response that carries C{marker}, once."""
        with self._lock:
            self._marker = marker

    def requests(self, method: str | None = None) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if method is None or s.method == method]

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _drop(sock)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstreamPort), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _drop(client)  # the gateway is down: the client sees its connection end
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._responses, args=(upstream, client), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        """Client to gateway: relay, and note each request (head and
        Content-Length body; a chunked request body ends the noting)."""
        pending = b""
        parsing = True
        while data := _received(client):
            if parsing:
                pending += data
                pending, parsing = self._note(pending)
            if not _send(upstream, data):
                break
        with self._lock:
            held = upstream in self._held
        if not held:
            _halfClose(upstream)

    def _note(self, pending: bytes) -> tuple[bytes, bool]:
        while b"\r\n\r\n" in pending:
            head, _, rest = pending.partition(b"\r\n\r\n")
            start, headers = parseHead(head)
            if "chunked" in headers.get("transfer-encoding", "").lower():
                return b"", False
            length = int(headers.get("content-length", "0") or 0)
            if len(rest) < length:
                return pending, True
            body, pending = rest[:length], rest[length:]
            seen = Seen(start.split(" ")[0], headers, _rpcMethods(body))
            with self._lock:
                self.seen.append(seen)
        return pending, True

    def _responses(self, upstream: socket.socket, client: socket.socket) -> None:
        """Gateway to client: relay; while armed, cut after the event that
        carries the marker (everything before it is relayed as it comes)."""
        window = b""  # this response's bytes while the proxy is armed
        while data := _received(upstream):
            with self._lock:
                marker = self._marker
            if marker is not None:
                relayed, window = len(window), window + data
                at = window.find(marker)
                found = _EVENT_END.search(window, at) if at >= 0 else None
                if found is not None and self._cut(window, at):
                    if self.keepUpstream:
                        with self._lock:
                            self._held.add(upstream)
                    _send(client, window[relayed : found.end()])
                    _drop(client)
                    if not self.keepUpstream:
                        _drop(upstream)
                    return
            if not _send(client, data):
                break
        _halfClose(client)

    def _cut(self, window: bytes, at: int) -> bool:
        """Claim the one cut (C{False} if another connection had it); note
        the id of the event at C{at}."""
        with self._lock:
            if self._marker is None:
                return False
            self._marker = None
            self.cuts += 1
            ends = [m.end() for m in _EVENT_END.finditer(window, 0, at)]
            ids = _EVENT_ID.findall(window[ends[-1] if ends else 0 : at])
            self.cutEventId = ids[-1].decode() if ids else None
            return True


def _rpcMethods(body: bytes) -> list[str]:
    try:
        decoded = json.loads(body)
    except ValueError:
        return []
    messages = decoded if isinstance(decoded, list) else [decoded]
    return [str(m.get("method", "response")) if isinstance(m, dict) else "?" for m in messages]


def _received(sock: socket.socket) -> bytes:
    """The next bytes from C{sock}; empty at its end, and when it fails (the
    other side reset it, or the proxy dropped it): either way the relay
    stops."""
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


def _halfClose(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


def _drop(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()

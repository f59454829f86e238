# -*- test-case-name: tests.selfservice.test_stdio -*-
"""The C{gateway} server's JSON-RPC side: MCP over stdio.

Newline-delimited JSON-RPC 2.0 on stdin and stdout, diagnostics on stderr,
as L{mcpgateway.demo} speaks it: every C{tools/call} runs on a daemon
thread of its own, one lock keeps each line written whole. A tool that
asks the person (L{StdioServer.ask}) sends C{elicitation/create} in form
mode with the gateway's hints in C{_meta}: C{mcpgateway/relatedRequestId},
the id of the call it serves (the gateway then routes the question to
exactly the session and request that made the call, on a shared child too,
and turns it into an C{input_required} round for a 2026-07-28 client),
C{mcpgateway/inputKey} (the question's key in that round) and
C{mcpgateway/optional} (a client without elicitation refuses the question
only: the tool then answers with the C{mcpgateway} command to run instead).
A cancelled call withdraws its question and is answered nothing.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from types import FrameType
from typing import IO, Any, TypeGuard

from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.childhints import HINT_KEY, HINT_OPTIONAL, HINT_RELATED
from mcpgateway.protocol.versions import HANDSHAKE_VERSIONS, LATEST
from mcpgateway.registry.client import (
    DEFAULT_REGISTRY,
    RegistryApi,
    RegistryClient,
    urllibFetch,
)
from mcpgateway.selfservice import REGISTRY_ENV
from mcpgateway.selfservice.gatewayapi import GatewayApi
from mcpgateway.selfservice.tools import TOOL_NAMES, TOOLS, ElicitationAnswer, SelfServiceTools

JSON = dict[str, Any]
INPUT_KEY = "confirm"
"""The key of a question in a 2026-07-28 client's C{input_required} round."""
ROOTS_KEY = "workspace"
"""The key of the request for the caller's roots in such a round."""
INSTRUCTIONS = (
    "The gateway's own tools: find MCP servers in the registry (find_server), add one"
    " (add_server), list, remove, enable and disable the gateway's servers. Every change asks"
    " the person to confirm first and shows what runs; nothing changes without their yes."
)

log = logging.getLogger("mcpgateway.selfservice")


def _isId(value: object) -> TypeGuard[str | int]:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


class SelfServiceToolCall:
    """One C{tools/call} in flight: how its thread learns of its
    cancellation, or of the answer to its question."""

    def __init__(self, requestId: str | int) -> None:
        self.requestId = requestId
        self.wake = threading.Event()
        self.cancelled = False
        self.reply: JSON | None = None


class Cancelled(Exception):
    """The call was cancelled while its question waited: it is answered nothing."""


def daemonThread(work: Callable[[], None]) -> None:
    """Run C{work} on a daemon thread of its own."""
    threading.Thread(target=work, daemon=True).start()


class StdioServer:
    """Reads messages through L{handleLine}; writes to C{out}, one JSON
    object a line; runs each tool call through C{spawn} (a thread)."""

    def __init__(
        self,
        out: IO[bytes],
        tools: SelfServiceTools,
        spawn: Callable[[Callable[[], None]], None] = daemonThread,
    ) -> None:
        self._out = out
        self._tools = tools
        self._spawn = spawn
        self._writeLock = threading.Lock()
        self._closed = False
        self._lock = threading.Lock()  # the two tables and the id counter below
        self._calls: dict[str | int, SelfServiceToolCall] = {}
        self._asking: dict[int, SelfServiceToolCall] = {}
        self._nextId = 0

    def send(self, message: JSON) -> None:
        line = jsonrpc.dumps({"jsonrpc": "2.0", **message})
        with self._writeLock:
            if self._closed:
                return
            try:
                self._out.write(line + b"\n")
                self._out.flush()
            except (OSError, ValueError) as e:  # the gateway went away
                self._closed = True
                log.warning("cannot write to stdout: %s", e)

    def close(self) -> None:
        """Stop writing: a call still running may not touch stdout after this."""
        with self._writeLock:
            self._closed = True

    def _error(self, rid: object, code: int, message: str) -> None:
        self.send({"id": rid, "error": {"code": code, "message": message}})

    def handleLine(self, raw: bytes) -> None:
        if not raw.strip():
            return
        try:
            message = jsonrpc.loads(raw)
        except jsonrpc.ParseError as e:
            self._error(None, jsonrpc.PARSE_ERROR, f"Parse error: {e}")
            return
        if not isinstance(message, dict):
            self._error(None, jsonrpc.INVALID_REQUEST, "Invalid Request: expected an object")
            return
        rid, method, params = message.get("id"), message.get("method"), message.get("params")
        if method is None and ("result" in message or "error" in message):
            self._onResponse(rid, message)
        elif "id" in message and not _isId(rid):
            self._error(None, jsonrpc.INVALID_REQUEST, "Invalid Request: bad id")
        elif not isinstance(method, str):
            self._error(rid, jsonrpc.INVALID_REQUEST, "Invalid Request: no method")
        elif params is not None and not isinstance(params, dict):
            if "id" in message:
                self._error(rid, jsonrpc.INVALID_PARAMS, "Invalid params: expected an object")
        elif _isId(rid):
            self._onRequest(rid, method, params or {})
        elif method == "notifications/cancelled":
            self._onCancelled((params or {}).get("requestId"))

    def _onRequest(self, rid: str | int, method: str, params: JSON) -> None:
        if method == "tools/call":
            call = SelfServiceToolCall(rid)
            with self._lock:
                self._calls[rid] = call
            self._spawn(lambda: self._run(call, params))
            return
        if method == "initialize":
            requested = params.get("protocolVersion")
            answer: JSON = {
                "protocolVersion": requested if requested in HANDSHAKE_VERSIONS else LATEST,
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": "mcpgateway-self-service", "version": _version()},
                "instructions": INSTRUCTIONS,
            }
        elif method == "ping":
            answer = {}
        elif method == "tools/list":
            answer = {"tools": TOOLS}
        else:
            self._error(rid, jsonrpc.METHOD_NOT_FOUND, f"Method not found: {method}")
            return
        self.send({"id": rid, "result": answer})

    def _onCancelled(self, rid: object) -> None:
        with self._lock:
            call = self._calls.get(rid) if _isId(rid) else None
            if call is not None:
                call.cancelled = True
                call.wake.set()

    def _onResponse(self, rid: object, message: JSON) -> None:
        with self._lock:
            call = self._asking.pop(rid, None) if isinstance(rid, int) else None
        if call is None:
            log.warning("ignoring a response to unknown request %r", rid)
            return
        call.reply = message
        call.wake.set()

    def _run(self, call: SelfServiceToolCall, params: JSON) -> None:
        try:
            reply: JSON = {"result": self._callTool(call, params)}
        except Cancelled:
            reply = {}
        except ValueError as e:
            reply = {"error": {"code": jsonrpc.INVALID_PARAMS, "message": str(e)}}
        except Exception:
            log.exception("tools/call %r failed", call.requestId)
            reply = {"error": {"code": jsonrpc.INTERNAL_ERROR, "message": "Internal error"}}
        with self._lock:
            if self._calls.get(call.requestId) is call:
                del self._calls[call.requestId]
        if reply and not call.cancelled:  # a cancelled request gets no response at all
            self.send({"id": call.requestId, **reply})

    def _callTool(self, call: SelfServiceToolCall, params: JSON) -> JSON:
        name, args = params.get("name"), params.get("arguments")
        if not isinstance(name, str) or name not in TOOL_NAMES:
            raise ValueError(f"Unknown tool: {name}")
        if args is not None and not isinstance(args, dict):
            raise ValueError("arguments must be an object")
        return self._tools.call(
            name, args or {}, lambda m, s: self.ask(call, m, s), lambda: self.roots(call)
        )

    def ask(self, call: SelfServiceToolCall, message: str, schema: JSON) -> ElicitationAnswer:
        """Ask the person who made C{call}; block until the answer.

        @raise Cancelled: the call was cancelled meanwhile (the question is withdrawn).
        """
        request = {"mode": "form", "message": message, "requestedSchema": schema}
        return answerOf(self._request(call, "elicitation/create", request, INPUT_KEY))

    def roots(self, call: SelfServiceToolCall) -> list[str]:
        """The root URIs of the session that made C{call} (its
        C{roots/list}, routed by the same hint); none when it gives none.

        @raise Cancelled: the call was cancelled meanwhile.
        """
        reply = self._request(call, "roots/list", {}, ROOTS_KEY)
        result = reply.get("result")
        roots = result.get("roots") if isinstance(result, dict) else None
        listed = roots if isinstance(roots, list) else []
        return [
            root["uri"]
            for root in listed
            if isinstance(root, dict) and isinstance(root.get("uri"), str)
        ]

    def _request(self, call: SelfServiceToolCall, method: str, params: JSON, key: str) -> JSON:
        """Send the client of C{call} request C{method} (with the gateway's
        hints: the call it serves, its key in a 2026 round, optional);
        block until its reply.

        @raise Cancelled: the call was cancelled meanwhile (the request is withdrawn).
        """
        with self._lock:
            if call.cancelled:
                raise Cancelled()
            sid, self._nextId = self._nextId, self._nextId + 1
            self._asking[sid] = call
            call.wake.clear()
            call.reply = None
        hints = {HINT_RELATED: call.requestId, HINT_KEY: key, HINT_OPTIONAL: True}
        self.send({"id": sid, "method": method, "params": {**params, "_meta": hints}})
        call.wake.wait()
        if call.cancelled:
            with self._lock:
                self._asking.pop(sid, None)
            withdrawn = {"requestId": sid, "reason": "the tool call was cancelled"}
            self.send({"method": "notifications/cancelled", "params": withdrawn})
            raise Cancelled()
        return call.reply or {}


def answerOf(reply: JSON) -> ElicitationAnswer:
    """The person's answer in a response to C{elicitation/create}."""
    error = reply.get("error")
    if error is not None:
        text = error.get("message") if isinstance(error, dict) else None
        return ElicitationAnswer(None, error=str(text or error)[:500])
    outcome = reply.get("result")
    action = outcome.get("action") if isinstance(outcome, dict) else None
    if action not in ("accept", "decline", "cancel"):
        return ElicitationAnswer("cancel")  # not an answer: nothing is changed on it
    assert isinstance(outcome, dict)
    content = outcome.get("content")
    return ElicitationAnswer(str(action), content if isinstance(content, dict) else {})


def _version() -> str:
    from mcpgateway import __version__

    return str(__version__)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def registryOpener(environ: Mapping[str, str]) -> Callable[[], RegistryClient]:
    """Makes the registry client on first use: the gateway's registry, else the official one."""

    def opener() -> RegistryClient:
        return RegistryClient(
            RegistryApi.at(environ.get(REGISTRY_ENV) or DEFAULT_REGISTRY), urllibFetch()
        )

    return opener


def main() -> int:
    """Serve stdin/stdout until stdin closes or a SIGTERM/SIGINT arrives."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    environ = dict(os.environ)
    tools = SelfServiceTools(GatewayApi.fromEnviron(environ), registryOpener(environ))
    server = StdioServer(sys.stdout.buffer, tools)
    try:
        for raw in sys.stdin.buffer:
            server.handleLine(raw)
    finally:
        server.close()
    return 0

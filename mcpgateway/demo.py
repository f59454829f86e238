# -*- test-case-name: tests.integration.cli.test_demo_stdio -*-
"""A small stdio MCP server: mcpgateway's demo backend.

Run it as ``python -m mcpgateway.demo``. It speaks the MCP stdio transport (newline-delimited
JSON-RPC 2.0 on stdin/stdout, diagnostics on stderr) and offers four tools that exercise the
paths a gateway has to get right:

* ``echo`` and ``add``: plain calls (``add`` also returns structured content);
* ``slow``: a long call that reports progress and can be cancelled;
* ``sample``: a call that sends a ``sampling/createMessage`` request back to the client.

Standard library only, so it runs wherever the package is installed. Every ``tools/call``
runs on its own daemon thread, so a slow call never holds up other requests; one lock keeps
each line written to stdout whole.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import sys
import threading
from types import FrameType
from typing import IO, Any, TypeGuard

JSON = dict[str, Any]

SUPPORTED_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST_VERSION = SUPPORTED_VERSIONS[-1]
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND = -32700, -32600, -32601
INVALID_PARAMS, INTERNAL_ERROR = -32602, -32603

log = logging.getLogger("mcpgateway.demo")


def _schema(properties: JSON, *required: str) -> JSON:
    return {"type": "object", "properties": properties, "required": list(required)}


TOOLS: list[JSON] = [
    {
        "name": "echo",
        "description": "Return the message unchanged.",
        "inputSchema": _schema({"message": {"type": "string"}}, "message"),
    },
    {
        "name": "add",
        "description": "Add two numbers.",
        "inputSchema": _schema({"a": {"type": "number"}, "b": {"type": "number"}}, "a", "b"),
        "outputSchema": _schema({"sum": {"type": "number"}}, "sum"),
    },
    {
        "name": "slow",
        "description": "Wait, reporting progress after each of `steps` steps; cancellable.",
        "inputSchema": _schema(
            {
                "seconds": {"type": "number", "minimum": 0, "maximum": 30, "default": 1},
                "steps": {"type": "integer", "minimum": 1, "maximum": 100, "default": 5},
            }
        ),
    },
    {
        "name": "sample",
        "description": "Ask the client's model to answer a prompt (needs client sampling support).",
        "inputSchema": _schema(
            {
                "prompt": {"type": "string"},
                "maxTokens": {"type": "integer", "minimum": 1, "default": 100},
            },
            "prompt",
        ),
    },
]
TOOL_NAMES = frozenset(tool["name"] for tool in TOOLS)


class RpcError(Exception):
    """Answer the request with a JSON-RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class ToolError(Exception):
    """Answer the tool call with a result marked ``isError`` (bad input, failed tool)."""


class DemoToolCall:
    """One in-flight ``tools/call``: how its worker thread learns of cancellation or replies."""

    def __init__(self, rid: str | int = 0) -> None:
        self.rid = rid  # the id of the client's tools/call, as this server got it
        self.wake = threading.Event()  # set on cancellation, or when `reply` arrives
        self.cancelled = False
        self.reply: JSON | None = None  # the client's answer to our sampling request


def _text(text: str, *, is_error: bool = False) -> JSON:
    return {"content": [{"type": "text", "text": text}], "isError": is_error}


def _is_id(value: object) -> TypeGuard[str | int]:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def _json_type(value: object) -> str:
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}
    return "null" if value is None else names.get(type(value), "object")


def _string(args: JSON, key: str) -> str:
    value = args.get(key)
    if value is None:
        raise ToolError(f"argument {key!r} is missing")
    if not isinstance(value, str):
        raise ToolError(f"argument {key!r} must be a string, not {_json_type(value)}")
    return value


def _number(args: JSON, key: str, default: float | None = None) -> int | float:
    value = args.get(key, default)
    if value is None:
        raise ToolError(f"argument {key!r} is missing")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ToolError(f"argument {key!r} must be a number, not {_json_type(value)}")
    return value


def _integer(args: JSON, key: str, default: int) -> int:
    value = _number(args, key, default)
    if isinstance(value, float) and not value.is_integer():
        raise ToolError(f"argument {key!r} must be an integer, not {value!r}")
    return int(value)


def _sampled_text(result: object) -> str:
    content = result.get("content") if isinstance(result, dict) else None
    blocks = content if isinstance(content, list) else [content]
    texts = [b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str)]
    if not texts:
        raise ToolError("the client's sampling result contained no text content")
    return "".join(texts)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


class DemoServer:
    """Reads messages via `handle_line` and writes replies, one JSON object per line, to `out`."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._write_lock = threading.Lock()
        self._closed = False
        self._lock = threading.Lock()  # guards the two tables and the id counter below
        self._calls: dict[str | int, DemoToolCall] = {}  # in-flight tools/call, by the client's id
        self._awaiting: dict[int, DemoToolCall] = {}  # our sampling requests, by our own id
        self._next_id = 0
        self._client_capabilities: JSON = {}

    def send(self, message: JSON) -> None:
        line = json.dumps({"jsonrpc": "2.0", **message}, separators=(",", ":"), allow_nan=False)
        with self._write_lock:
            if self._closed:
                return
            try:
                self._out.write(line.encode("ascii") + b"\n")
                self._out.flush()
            except (OSError, ValueError) as exc:  # the client went away
                self._closed = True
                log.warning("cannot write to stdout: %s", exc)

    def close(self) -> None:
        """Stop writing: daemon threads still running may not touch stdout after this."""
        with self._write_lock:
            self._closed = True

    def _error(self, rid: object, code: int, message: str) -> None:
        self.send({"id": rid, "error": {"code": code, "message": message}})

    def handle_line(self, raw: bytes) -> None:
        try:
            text = raw.decode("utf-8").strip()
            if not text:
                return
            message = json.loads(text, parse_constant=_reject_constant)
        except ValueError as exc:
            self._error(None, PARSE_ERROR, f"Parse error: {exc}")
            return
        if not isinstance(message, dict):
            self._error(None, INVALID_REQUEST, "Invalid Request: expected a JSON object")
            return
        rid, method, params = message.get("id"), message.get("method"), message.get("params")
        if method is None and ("result" in message or "error" in message):
            self._on_response(rid, message)  # the client answering our sampling request
        elif "id" in message and not _is_id(rid):
            self._error(None, INVALID_REQUEST, "Invalid Request: id must be a string or integer")
        elif not isinstance(method, str):
            self._error(rid, INVALID_REQUEST, "Invalid Request: no method")
        elif params is not None and not isinstance(params, dict):
            if "id" in message:
                self._error(rid, INVALID_PARAMS, "Invalid params: expected an object")
        elif _is_id(rid):
            self._on_request(rid, method, params or {})
        else:
            self._on_notification(method, params or {})

    def _on_request(self, rid: str | int, method: str, params: JSON) -> None:
        if method == "tools/call":
            call = DemoToolCall(rid)
            with self._lock:
                self._calls[rid] = call
            args = (rid, params, call)
            threading.Thread(target=self._run_call, args=args, daemon=True).start()
            return
        if method == "initialize":
            requested = params.get("protocolVersion")
            capabilities = params.get("capabilities")
            self._client_capabilities = capabilities if isinstance(capabilities, dict) else {}
            result: JSON = {
                "protocolVersion": requested if requested in SUPPORTED_VERSIONS else LATEST_VERSION,
                "capabilities": {"tools": {"listChanged": False}, "logging": {}},
                "serverInfo": {"name": "mcpgateway-demo", "version": _version()},
                "instructions": "Demo server for mcpgateway: try the echo, add, slow and "
                "sample tools.",
            }
        elif method in ("ping", "logging/setLevel"):
            result = {}
        elif method == "tools/list":
            result = {"tools": TOOLS}
        else:
            self._error(rid, METHOD_NOT_FOUND, f"Method not found: {method}")
            return
        self.send({"id": rid, "result": result})

    def _on_notification(self, method: str, params: JSON) -> None:
        if method != "notifications/cancelled":
            return  # initialized, roots/list_changed, ...: nothing to do
        rid = params.get("requestId")
        with self._lock:
            call = self._calls.get(rid) if _is_id(rid) else None
            if call is not None:
                call.cancelled = True
                call.wake.set()
        if call is not None:
            log.info("request %r cancelled: %s", rid, params.get("reason", "no reason given"))

    def _on_response(self, rid: object, message: JSON) -> None:
        with self._lock:
            call = self._awaiting.pop(rid, None) if isinstance(rid, int) else None
        if call is None:
            log.warning("ignoring a response to unknown request %r", rid)
            return
        call.reply = message
        call.wake.set()

    def _run_call(self, rid: str | int, params: JSON, call: DemoToolCall) -> None:
        try:
            reply: JSON = {"result": self._call_tool(params, call)}
        except ToolError as exc:
            reply = {"result": _text(str(exc), is_error=True)}
        except RpcError as exc:
            reply = {"error": {"code": exc.code, "message": str(exc)}}
        except Exception:
            log.exception("tools/call %r failed", rid)
            reply = {"error": {"code": INTERNAL_ERROR, "message": "Internal error"}}
        with self._lock:
            if self._calls.get(rid) is call:
                del self._calls[rid]
        if not call.cancelled:  # a cancelled request gets no response at all
            self.send({"id": rid, **reply})

    def _call_tool(self, params: JSON, call: DemoToolCall) -> JSON:
        name, args = params.get("name"), params.get("arguments") or {}
        if not isinstance(name, str):
            raise RpcError(INVALID_PARAMS, "tools/call needs a string 'name'")
        if name not in TOOL_NAMES:
            raise RpcError(INVALID_PARAMS, f"Unknown tool: {name}")
        if not isinstance(args, dict):
            raise ToolError(f"arguments must be an object, not {_json_type(args)}")
        if name == "echo":
            return _text(_string(args, "message"))
        if name == "add":
            total = _number(args, "a") + _number(args, "b")
            if not math.isfinite(total):
                raise ToolError("the sum is too large to represent")
            return {**_text(str(total)), "structuredContent": {"sum": total}}
        if name == "slow":
            meta = params.get("_meta")
            token = meta.get("progressToken") if isinstance(meta, dict) else None
            return self._slow(args, token if _is_id(token) else None, call)
        return self._sample(args, call)

    def _slow(self, args: JSON, token: str | int | None, call: DemoToolCall) -> JSON:
        seconds, steps = _number(args, "seconds", 1), _integer(args, "steps", 5)
        if not 0 <= seconds <= 30:
            raise ToolError(f"'seconds' must be between 0 and 30, not {seconds}")
        if not 1 <= steps <= 100:
            raise ToolError(f"'steps' must be between 1 and 100, not {steps}")
        for step in range(1, steps + 1):
            if call.wake.wait(seconds / steps):  # only cancellation wakes a slow call
                return _text("cancelled", is_error=True)  # never sent
            if token is not None:
                progress = {"progressToken": token, "progress": step, "total": steps}
                progress["message"] = f"step {step} of {steps}"
                self.send({"method": "notifications/progress", "params": progress})
        return _text(f"done after {steps} steps")

    def _sample(self, args: JSON, call: DemoToolCall) -> JSON:
        prompt, max_tokens = _string(args, "prompt"), _integer(args, "maxTokens", 100)
        if max_tokens < 1:
            raise ToolError(f"'maxTokens' must be at least 1, not {max_tokens}")
        if "sampling" not in self._client_capabilities:
            raise ToolError(
                "This client did not declare the 'sampling' capability, "
                "so the server cannot ask it to sample a model."
            )
        with self._lock:
            sid, self._next_id = self._next_id, self._next_id + 1
            self._awaiting[sid] = call
        messages = [{"role": "user", "content": {"type": "text", "text": prompt}}]
        # The call this request serves: a gateway sharing this server among
        # several sessions gives it to that call's client, whoever else is
        # attached (docs/design/era.md); any other client ignores the key.
        hint = {"mcpgateway/relatedRequestId": call.rid}
        request = {"messages": messages, "maxTokens": max_tokens, "_meta": hint}
        self.send({"id": sid, "method": "sampling/createMessage", "params": request})
        call.wake.wait()
        if call.cancelled:  # withdraw our request too; the tool call gets no response
            with self._lock:
                self._awaiting.pop(sid, None)
            cancel = {"requestId": sid, "reason": "the tool call was cancelled"}
            self.send({"method": "notifications/cancelled", "params": cancel})
            return _text("cancelled", is_error=True)  # never sent
        reply = call.reply or {}
        if "error" in reply:
            error = reply["error"]
            detail = error.get("message") if isinstance(error, dict) else None
            raise ToolError(f"sampling failed: {detail or error}")
        return _text(f"sampled: {_sampled_text(reply.get('result'))}")


def _version() -> str:
    try:
        from mcpgateway import __version__
    except ImportError:
        return "0"
    return str(__version__)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> int:
    """Serve stdin/stdout until stdin closes or a SIGTERM/SIGINT arrives."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server = DemoServer(sys.stdout.buffer)
    try:
        for raw in sys.stdin.buffer:
            server.handle_line(raw)
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

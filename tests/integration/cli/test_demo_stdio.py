"""Drive ``python -m mcpgateway.demo`` over real pipes, as an MCP client would.

Every read has a timeout (a reader thread feeds a queue), so a hang fails the test instead of
hanging the run. The last test proves interop with the official MCP SDK client.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

REPO = Path(__file__).resolve().parents[3]
TIMEOUT = 10.0  # generous: only reached when something is broken
LATEST = "2025-11-25"

JSON = dict[str, Any]


class Demo:
    """A running demo server with line-oriented, timeout-guarded I/O."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mcpgateway.demo"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.stderr: list[bytes] = []
        self._pump(self.proc.stdout, self.lines.put)
        self._pump(self.proc.stderr, self.stderr.append)
        self._next_id = 100

    @staticmethod
    def _pump(stream: IO[bytes] | None, sink: Callable[[Any], None]) -> None:
        def run() -> None:
            assert stream is not None
            for line in stream:
                sink(line)
            sink(None)

        threading.Thread(target=run, daemon=True).start()

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: JSON) -> None:
        self.send_raw(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")

    def request(self, method: str, params: JSON | None = None, rid: int | None = None) -> int:
        if rid is None:
            rid = self._next_id = self._next_id + 1
        self.send({"id": rid, "method": method, **({} if params is None else {"params": params})})
        return rid

    def call(self, tool: str, arguments: JSON, rid: int | None = None, **extra: Any) -> int:
        return self.request("tools/call", {"name": tool, "arguments": arguments, **extra}, rid)

    def recv(self, timeout: float = TIMEOUT) -> JSON:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no message from the demo within {timeout}s")
        if line is None:
            pytest.fail(f"demo closed stdout; stderr: {b''.join(self.stderr)!r}")
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        message: JSON = json.loads(line)
        assert message["jsonrpc"] == "2.0"
        return message

    def recv_quiet(self, timeout: float) -> JSON | None:
        """The next message, or None if nothing arrives within `timeout`."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        assert line is not None, "demo closed stdout"
        return dict(json.loads(line))

    def response(self, rid: int) -> JSON:
        """The response for `rid`; anything else arriving first is a test failure."""
        message = self.recv()
        assert message.get("id") == rid and "method" not in message, message
        return message

    def result(self, rid: int) -> JSON:
        message = self.response(rid)
        assert "result" in message, message
        result: JSON = message["result"]
        return result

    def initialize(self, version: str = LATEST, capabilities: JSON | None = None) -> JSON:
        params = {
            "protocolVersion": version,
            "capabilities": capabilities or {},
            "clientInfo": {"name": "pytest", "version": "0"},
        }
        result = self.result(self.request("initialize", params))
        self.send({"method": "notifications/initialized"})
        return result

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def demo() -> Iterator[Demo]:
    server = Demo()
    try:
        yield server
    finally:
        server.close()


def text_of(result: JSON) -> str:
    [block] = result["content"]
    assert block["type"] == "text"
    text: str = block["text"]
    return text


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"])
def test_initialize_echoes_a_supported_version(demo: Demo, version: str) -> None:
    result = demo.initialize(version)
    assert result["protocolVersion"] == version
    assert result["capabilities"] == {"tools": {"listChanged": False}, "logging": {}}
    assert result["serverInfo"]["name"] == "mcpgateway-demo"
    assert isinstance(result["serverInfo"]["version"], str) and result["serverInfo"]["version"]
    assert isinstance(result["instructions"], str) and result["instructions"]


@pytest.mark.parametrize("version", ["1999-01-01", None])
def test_initialize_falls_back_to_the_latest_version(demo: Demo, version: str | None) -> None:
    params: JSON = {"capabilities": {}, "clientInfo": {"name": "pytest", "version": "0"}}
    if version is not None:
        params["protocolVersion"] = version
    assert demo.result(demo.request("initialize", params))["protocolVersion"] == LATEST


def test_ping_and_set_level_return_empty_results(demo: Demo) -> None:
    demo.initialize()
    assert demo.result(demo.request("ping")) == {}
    assert demo.result(demo.request("logging/setLevel", {"level": "debug"})) == {}


def test_tools_list(demo: Demo) -> None:
    demo.initialize()
    tools = {tool["name"]: tool for tool in demo.result(demo.request("tools/list"))["tools"]}
    assert set(tools) == {"echo", "add", "slow", "sample"}
    for tool in tools.values():
        schema = tool["inputSchema"]
        assert schema["type"] == "object" and isinstance(schema["properties"], dict)
        assert set(schema["required"]) <= set(schema["properties"])
    assert tools["echo"]["inputSchema"]["required"] == ["message"]
    assert sorted(tools["add"]["inputSchema"]["required"]) == ["a", "b"]
    assert tools["add"]["outputSchema"]["properties"]["sum"] == {"type": "number"}


def test_echo_keeps_each_message_on_one_line(demo: Demo) -> None:
    demo.initialize()
    message = "hello\nworld \u2028 caf\u00e9 \U0001f600"
    result = demo.result(demo.call("echo", {"message": message}))
    assert result["isError"] is False
    assert text_of(result) == message


@pytest.mark.parametrize(
    ("a", "b", "text", "total"),
    [(2, 3, "5", 5), (0.1, 0.2, "0.30000000000000004", 0.1 + 0.2), (1.5, 2, "3.5", 3.5)],
)
def test_add(demo: Demo, a: float, b: float, text: str, total: float) -> None:
    demo.initialize()
    result = demo.result(demo.call("add", {"a": a, "b": b}))
    assert text_of(result) == text
    assert result["structuredContent"] == {"sum": total}
    assert type(result["structuredContent"]["sum"]) is type(total)


@pytest.mark.parametrize(
    ("tool", "arguments", "complaint"),
    [
        ("add", {"a": "2", "b": 3}, "'a'"),
        ("add", {"a": 2}, "'b'"),
        ("echo", {}, "'message'"),
        ("slow", {"seconds": 99}, "'seconds'"),
        ("slow", {"steps": 0.5}, "'steps'"),
    ],
)
def test_bad_arguments_are_tool_errors(
    demo: Demo, tool: str, arguments: JSON, complaint: str
) -> None:
    demo.initialize()
    result = demo.result(demo.call(tool, arguments))
    assert result["isError"] is True
    assert complaint in text_of(result)
    assert demo.result(demo.request("ping")) == {}  # and the server is still alive


def test_unknown_tool_is_invalid_params(demo: Demo) -> None:
    demo.initialize()
    error = demo.response(demo.call("nope", {}))["error"]
    assert error["code"] == -32602
    assert "nope" in error["message"]


def test_slow_reports_progress_in_order_without_blocking_other_calls(demo: Demo) -> None:
    demo.initialize()
    slow = demo.call("slow", {"seconds": 2, "steps": 4}, _meta={"progressToken": "tok"})
    echo = demo.call("echo", {"message": "meanwhile"})
    seen: list[JSON] = []
    while not seen or seen[-1].get("id") != slow:
        seen.append(demo.recv())
    responses = [m.get("id") for m in seen if "method" not in m]
    assert responses == [echo, slow], "the echo must be answered before the slow call"
    progress = [m["params"] for m in seen if m.get("method") == "notifications/progress"]
    assert progress == [
        {"progressToken": "tok", "progress": i, "total": 4, "message": f"step {i} of 4"}
        for i in range(1, 5)
    ]
    assert text_of(seen[-1]["result"]) == "done after 4 steps"


def test_slow_without_progress_token_sends_no_progress(demo: Demo) -> None:
    demo.initialize()
    rid = demo.call("slow", {"seconds": 0.1, "steps": 3})
    assert text_of(demo.result(rid)) == "done after 3 steps"  # result() rejects notifications


def test_cancelled_slow_call_gets_no_response(demo: Demo) -> None:
    demo.initialize()
    slow = demo.call("slow", {"seconds": 2, "steps": 4}, _meta={"progressToken": 7})
    first = demo.recv()
    assert first["method"] == "notifications/progress", "the call must be running"
    demo.send({"method": "notifications/cancelled", "params": {"requestId": slow}})
    ping = demo.request("ping")
    message = demo.recv()
    while message.get("method") == "notifications/progress":  # sent before the cancel landed
        message = demo.recv()
    assert message["id"] == ping
    # The call would have finished within 2s; nothing more may arrive for it.
    assert demo.recv_quiet(timeout=3) is None
    assert text_of(demo.result(demo.call("echo", {"message": "alive"}))) == "alive"


@pytest.mark.parametrize(
    "content",
    [
        {"type": "text", "text": "HELLO"},
        [{"type": "text", "text": "HEL"}, {"type": "text", "text": "LO"}],
    ],
)
def test_sample_round_trip(demo: Demo, content: Any) -> None:
    demo.initialize(capabilities={"sampling": {}})
    # Id 0 on purpose: the server numbers its own requests from 0 as well.
    call = demo.call("sample", {"prompt": "say hello", "maxTokens": 7}, rid=0)
    request = demo.recv()
    assert request["method"] == "sampling/createMessage"
    assert request["id"] == 0
    assert request["params"] == {
        "messages": [{"role": "user", "content": {"type": "text", "text": "say hello"}}],
        "maxTokens": 7,
        "_meta": {"mcpgateway/relatedRequestId": 0},  # the call it serves
    }
    reply = {"role": "assistant", "content": content, "model": "fake", "stopReason": "endTurn"}
    demo.send({"id": request["id"], "result": reply})
    result = demo.result(call)
    assert result["isError"] is False
    assert text_of(result) == "sampled: HELLO"

    # A second sampling request gets the server's next id, and maxTokens defaults to 100.
    call = demo.call("sample", {"prompt": "again"})
    request = demo.recv()
    assert (request["id"], request["params"]["maxTokens"]) == (1, 100)
    demo.send({"id": 1, "error": {"code": -1, "message": "user rejected sampling"}})
    result = demo.result(call)
    assert result["isError"] is True
    assert "user rejected sampling" in text_of(result)


def test_sample_without_sampling_capability_is_a_tool_error(demo: Demo) -> None:
    demo.initialize(capabilities={})
    result = demo.result(demo.call("sample", {"prompt": "hi"}))
    assert result["isError"] is True
    assert "sampling" in text_of(result)


def test_unknown_method(demo: Demo) -> None:
    demo.initialize()
    error = demo.response(demo.request("foo/bar"))["error"]
    assert error == {"code": -32601, "message": "Method not found: foo/bar"}


def test_unknown_notification_is_ignored(demo: Demo) -> None:
    demo.initialize()
    demo.send({"method": "notifications/whatever", "params": {}})
    assert demo.result(demo.request("ping")) == {}  # the ping's answer comes first


def test_invalid_json_then_still_alive(demo: Demo) -> None:
    demo.initialize()
    demo.send_raw(b"{not json\n")
    error = demo.recv()
    assert error["id"] is None and error["error"]["code"] == -32700
    demo.send_raw(b"\n   \r\n")  # blank lines are ignored
    demo.send_raw(json.dumps({"jsonrpc": "2.0", "id": 5, "method": "ping"}).encode() + b"\r\n")
    assert demo.result(5) == {}


def test_eof_exits_zero_even_with_a_call_in_flight(demo: Demo) -> None:
    demo.initialize()
    demo.call("slow", {"seconds": 30, "steps": 1})
    assert demo.proc.stdin is not None
    demo.proc.stdin.close()
    assert demo.proc.wait(timeout=5) == 0
    assert demo.lines.get(timeout=TIMEOUT) is None  # stdout closed with nothing more written
    assert b"Traceback" not in b"".join(line for line in demo.stderr if line)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_exits_quietly(demo: Demo) -> None:
    demo.initialize()
    demo.call("slow", {"seconds": 30, "steps": 1})
    demo.proc.send_signal(signal.SIGTERM)
    assert demo.proc.wait(timeout=5) == 0
    assert demo.lines.get(timeout=TIMEOUT) is None
    assert b"Traceback" not in b"".join(line for line in demo.stderr if line)


def test_official_sdk_client_interop() -> None:
    anyio = pytest.importorskip("anyio")
    mcp = pytest.importorskip("mcp")
    from tests.support.sdkcallers import Recording

    recording = Recording()
    progress, prompts = recording.progress, recording.prompts
    on_progress, on_sampling = recording.onProgress, recording.onSampling

    params = mcp.StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcpgateway.demo"],
        cwd=str(REPO),
        env={"PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])},
    )

    async def main() -> None:
        with anyio.fail_after(30):
            async with mcp.Client(params, mode="legacy", sampling_callback=on_sampling) as client:
                assert client.protocol_version == LATEST
                assert client.server_info is not None
                assert client.server_info.name == "mcpgateway-demo"
                tools = await client.list_tools()
                assert {tool.name for tool in tools.tools} == {"echo", "add", "slow", "sample"}

                echo = await client.call_tool("echo", {"message": "hi"})
                assert not echo.is_error
                assert [(c.type, c.text) for c in echo.content] == [("text", "hi")]

                add = await client.call_tool("add", {"a": 2, "b": 3})
                assert add.structured_content == {"sum": 5}

                slow = await client.call_tool(
                    "slow", {"seconds": 0.2, "steps": 2}, progress_callback=on_progress
                )
                assert slow.content[0].text == "done after 2 steps"

                sample = await client.call_tool("sample", {"prompt": "ping?"})
                assert not sample.is_error, sample
                assert sample.content[0].text == "sampled: from the SDK"

    anyio.run(main)
    assert progress == [(1, 2, "step 1 of 2"), (2, 2, "step 2 of 2")]
    assert [(p.type, p.text) for p in prompts] == [("text", "ping?")]

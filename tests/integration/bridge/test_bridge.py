"""The stdio bridge end to end: real gateways (twist), real stdio
clients (the Python SDK's stdio client, and raw pipes), the bridge run as
C{python -m mcpgateway.bridge} (what C{mcpgateway bridge} runs).

Tools, progress and a sampling round trip through the bridge; SIGINT sent
to the bridge mid-call changes nothing; a gateway stopped and started again
on the same state directory and port mid-session is ridden out with the
same session; a bridge with no gateway running starts one."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp
import pytest

from tests.integration.gateway import REPO, RunningGateway, waitFor, writeConfig
from tests.support import mcpclient
from tests.support.integration.bridge import DEMO, freePort
from tests.support.sdkcallers import Recording

pytestmark = [pytest.mark.integration, pytest.mark.front]

VERSION = "2025-11-25"


def bridgeEnv(home: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "MCPGATEWAY_HOME": str(home / "state"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }


def sessions(port: int) -> list[dict[str, Any]]:
    return mcpclient.listSessions(port)


class RawBridge:
    """The bridge as a subprocess on raw pipes: send dicts, read dicts."""

    def __init__(self, home: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mcpgateway.bridge", "--state-dir", str(home / "state"), *args],
            cwd=home,
            env={**os.environ, **bridgeEnv(home)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.errors = bytearray()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._readErrors, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in iter(self.process.stdout.readline, b""):
            self.lines.put(json.loads(line))

    def _readErrors(self) -> None:
        assert self.process.stderr is not None
        for line in iter(self.process.stderr.readline, b""):
            self.errors += line

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def recv(self, timeout: float = 20) -> dict[str, Any]:
        return self.lines.get(timeout=timeout)

    def answer(self, requestId: Any, timeout: float = 20) -> dict[str, Any]:
        """The response to C{requestId}, skipping notifications."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.recv(max(0.1, deadline - time.monotonic()))
            if message.get("id") == requestId and "method" not in message:
                return message

    def initialize(self) -> dict[str, Any]:
        self.send(mcpclient.initializeMessage(0, VERSION, name="raw"))
        answer = self.answer(0, timeout=40)
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return answer

    def call(self, requestId: int, name: str, arguments: dict[str, Any]) -> None:
        self.send(
            {
                "jsonrpc": "2.0",
                "id": requestId,
                "method": "tools/call",
                "params": {"name": name, "arguments": arguments},
            }
        )

    def close(self, timeout: float = 10) -> int:
        assert self.process.stdin is not None
        if not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def stderr(self) -> str:
        return self.errors.decode("utf-8", "replace")


def gatewayOn(home: Path, port: int) -> RunningGateway:
    config = writeConfig(home / "servers.json", {"demo": DEMO})
    return RunningGateway(
        ["--config", str(config), "--port", f"tcp:{port}:interface=127.0.0.1"], home
    )


@contextmanager
def bridgedGateway(home: Path) -> Iterator[tuple[RunningGateway, RawBridge]]:
    """A gateway serving the demo server and a bridge to it, for the block;
    then the bridge is killed if it still runs, and the gateway stops."""
    gateway = gatewayOn(home, freePort())
    bridge = RawBridge(home, "demo")
    try:
        yield gateway, bridge
    finally:
        if bridge.process.poll() is None:
            bridge.process.kill()
        gateway.stop()


def test_the_sdk_stdio_client_gets_tools_progress_and_sampling_through_the_bridge(
    home: Path,
) -> None:
    gateway = gatewayOn(home, freePort())
    recording = Recording()
    seen, prompts = recording.progress, recording.prompts
    onProgress, onSampling = recording.onProgress, recording.onSampling

    params = mcp.StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcpgateway.bridge", "--state-dir", str(home / "state"), "demo"],
        cwd=str(home),
        env=bridgeEnv(home),
    )

    async def main() -> None:
        with anyio.fail_after(60):
            async with mcp.Client(params, mode="legacy", sampling_callback=onSampling) as client:
                assert client.protocol_version == VERSION
                tools = await client.list_tools()
                assert {tool.name for tool in tools.tools} >= {"echo", "slow", "sample"}
                echo = await client.call_tool("echo", {"message": "through the bridge"})
                assert echo.content[0].text == "through the bridge"  # type: ignore[union-attr]
                slow = await client.call_tool(
                    "slow", {"seconds": 0.3, "steps": 3}, progress_callback=onProgress
                )
                assert slow.content[0].text == "done after 3 steps"  # type: ignore[union-attr]
                sample = await client.call_tool("sample", {"prompt": "ping?"})
                assert not sample.is_error, sample
                assert sample.content[0].text == "sampled: from the SDK"  # type: ignore[union-attr]

    try:
        anyio.run(main)
        assert seen == [(1, 3, "step 1 of 3"), (2, 3, "step 2 of 3"), (3, 3, "step 3 of 3")]
        assert [(p.type, p.text) for p in prompts] == [("text", "ping?")]
        # The bridge DELETEd its session when the client closed its stdin.
        assert waitFor(lambda: sessions(gateway.port) == [], timeout=10)
    finally:
        gateway.stop()


def test_sigint_to_the_bridge_mid_call_interrupts_nothing(home: Path) -> None:
    with bridgedGateway(home) as (gateway, bridge):
        assert bridge.initialize()["result"]["protocolVersion"] == VERSION
        bridge.call(1, "slow", {"seconds": 2, "steps": 4})
        assert waitFor(lambda: gateway.health()["servers"]["demo"]["inFlight"] == 1)
        bridge.process.send_signal(signal.SIGINT)
        time.sleep(0.1)
        bridge.process.send_signal(signal.SIGINT)
        answer = bridge.answer(1)
        assert answer["result"]["content"][0]["text"] == "done after 4 steps", answer
        assert bridge.process.poll() is None
        bridge.call(2, "echo", {"message": "still here"})
        assert bridge.answer(2)["result"]["content"][0]["text"] == "still here"
        assert gateway.process.poll() is None
        assert gateway.health()["servers"]["demo"]["state"] != "stopped"
        assert bridge.close() == 0
        assert waitFor(lambda: sessions(gateway.port) == [], timeout=10)


def test_sigterm_ends_the_bridge(home: Path) -> None:
    with bridgedGateway(home) as (gateway, bridge):
        bridge.initialize()
        assert waitFor(lambda: len(sessions(gateway.port)) == 1, timeout=10)
        bridge.process.send_signal(signal.SIGTERM)
        bridge.process.wait(10)
        assert waitFor(lambda: sessions(gateway.port) == [], timeout=10)


def test_a_gateway_restart_mid_session_is_ridden_out_with_the_same_session(home: Path) -> None:
    port = freePort()
    gateways = [gatewayOn(home, port)]
    bridge = RawBridge(home, "demo", "--timeout", "60")
    try:
        bridge.initialize()
        bridge.call(1, "echo", {"message": "before"})
        assert bridge.answer(1)["result"]["content"][0]["text"] == "before"
        [before] = sessions(port)
        saved = home / "state" / "sessions.json"  # (batched: at most a second later)
        assert waitFor(lambda: saved.exists() and before["id"] in saved.read_text(), timeout=5)
        gateways[0].stop()
        # A call made while no gateway runs waits for the next one.
        bridge.call(2, "echo", {"message": "during"})
        time.sleep(1.0)
        assert bridge.lines.empty()
        gateways.append(gatewayOn(home, port))
        answer = bridge.answer(2, timeout=30)
        assert answer["result"]["content"][0]["text"] == "during", answer
        bridge.call(3, "echo", {"message": "after"})
        assert bridge.answer(3)["result"]["content"][0]["text"] == "after"
        [after] = sessions(port)
        assert after["id"] == before["id"]  # resumed, not re-initialized
        assert "initialized a new session" not in bridge.stderr()
        assert "reconnected" in bridge.stderr()
    finally:
        if bridge.process.poll() is None:
            bridge.close()
        for gateway in gateways:
            gateway.stop()


def test_a_session_gone_is_initialized_again(home: Path) -> None:
    gateway = gatewayOn(home, freePort())
    bridge = RawBridge(home, "demo")
    try:
        bridge.initialize()
        [session] = sessions(gateway.port)
        request = urllib.request.Request(
            f"http://127.0.0.1:{gateway.port}/sessions/{session['id']}", method="DELETE"
        )
        urllib.request.urlopen(request, timeout=5).read()
        bridge.call(1, "echo", {"message": "again"})
        assert bridge.answer(1)["result"]["content"][0]["text"] == "again"
        # Its stderr line is read by a thread of its own, which may lag the answer.
        assert waitFor(lambda: "initialized a new session" in bridge.stderr()), bridge.stderr()
        [new] = sessions(gateway.port)
        assert new["id"] != session["id"]
    finally:
        if bridge.process.poll() is None:
            bridge.close()
        gateway.stop()


def test_with_no_gateway_running_the_bridge_starts_one(home: Path) -> None:
    port = freePort()
    bridge = RawBridge(home, "demo", "--port", str(port))
    try:
        answer = bridge.initialize()
        assert answer["result"]["serverInfo"]["name"] == "mcpgateway-demo", answer
        bridge.call(1, "echo", {"message": "started"})
        assert bridge.answer(1)["result"]["content"][0]["text"] == "started"
        state = json.loads((home / "state" / "state.json").read_text())
        assert state["port"] == port
        assert bridge.close() == 0
        # The gateway outlives the bridge (it is shared), and runs apart from it.
        assert json.loads((home / "state" / "state.json").read_text())["pid"] == state["pid"]
        os.kill(state["pid"], 0)
        assert os.getsid(state["pid"]) != os.getsid(0)
    finally:
        if bridge.process.poll() is None:
            bridge.process.kill()
        subprocess.run(
            [sys.executable, "-m", "mcpgateway.cli", "--state-dir", str(home / "state"), "stop"],
            env={**os.environ, **bridgeEnv(home)},
            capture_output=True,
            timeout=60,
        )


@pytest.mark.parametrize("target", ["demo", "url"])
def test_a_one_shot_pipe_with_no_gateway_gets_its_errors_and_a_failing_status(
    home: Path, target: str
) -> None:
    # printf '<initialize>\n<initialized>\n<call>\n' | mcpgateway bridge --no-start ...
    port = freePort()  # nothing listens on it
    where = "demo" if target == "demo" else f"http://127.0.0.1:{port}/demo/mcp"
    init = mcpclient.initializeMessage(1, VERSION, name="pipe")
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo"}}
    pipe = b"".join(json.dumps(m).encode() + b"\n" for m in (init, initialized, call))
    command = ["-m", "mcpgateway.cli", "--state-dir", str(home / "state"), "bridge"]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, *command, "--no-start", "--timeout", "2", where],
        input=pipe,  # then stdin is closed
        capture_output=True,
        cwd=home,
        env={**os.environ, **bridgeEnv(home)},
        timeout=60,
    )
    assert time.monotonic() - started < 30
    stderr = done.stderr.decode("utf-8", "replace")
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["id"] for a in answers] == [1, 2], stderr
    for answer in answers:
        assert answer["error"]["code"] == -32000
        assert "gave up after 2 s" in answer["error"]["message"]
    assert done.returncode == 1, stderr
    assert "stdin ended: waiting up to 2 s" in stderr and "still trying" in stderr
    assert "2 request(s) got an error" in stderr

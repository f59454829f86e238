"""Start the real gateway (twist or twistd) as a subprocess, for end-to-end tests.

The gateway listens on an OS-chosen loopback port (C{tcp:0}); the port is read
from its log, so tests never race for fixed ports.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcpgateway.runtime import interpreter
from tests.support.integration.npm_backends import backendPaths, installBackends

REPO = Path(__file__).resolve().parents[2]
_PORT_LINE = re.compile(rb"listening on \S*:(\d+)\s*$")


def twistCommand() -> list[str]:
    """C{twist mcpgateway} from this interpreter."""
    return [sys.executable, "-m", "twisted", "--log-format=text", "mcpgateway"]


def twistdCommand() -> list[str]:
    """C{twistd -n mcpgateway} from this interpreter (no pidfile)."""
    return [
        sys.executable,
        "-c",
        "from twisted.scripts.twistd import run; run()",
        "-n",
        "--pidfile=",
        "mcpgateway",
    ]


def launchCommand() -> list[str]:
    """The gateway as C{mcpgateway start} runs it (L{mcpgateway.launch}:
    twistd with the gateway as its only plugin,
    L{mcpgateway.runtime.interpreter}'s flags), in the foreground, its log on
    stdout, no pidfile: what every test runs unless it names a runner."""
    return [
        *interpreter.command("-m", "mcpgateway.launch"),
        "-n",
        "--pidfile=",
        "--logfile=-",
        "mcpgateway",
    ]


def gatewayEnv(home: Path) -> dict[str, str]:
    """The environment of a gateway, or of the CLI, run on C{home}: this
    process's, with C{home} as HOME, C{home}/state as the state directory,
    and this checkout importable."""
    return {
        **os.environ,
        "HOME": str(home),
        "MCPGATEWAY_HOME": str(home / "state"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }


INTERRUPTS = frozenset({signal.SIGTERM, signal.SIGINT})
"""The signals that end a test run, which the main thread must take."""


def startReader(read: Callable[[], None]) -> threading.Thread:
    """Run C{read} (a loop that reads a subprocess's output, and starts
    nothing) on a daemon thread that blocks L{INTERRUPTS}.

    The kernel gives a signal sent to the process to any of its threads that
    does not block it, and Python runs the handler only in the main thread,
    once that thread next runs Python code: a SIGTERM for the test run that
    a reader took while the test under way sleeps would wait for the sleep
    to end. A thread that starts processes must not block them: its children
    would inherit the mask and never take a SIGTERM. The thread is
    returned: a caller that reads what was said once the process is gone
    joins it first."""

    def blocked() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)
        read()

    thread = threading.Thread(target=blocked, daemon=True)
    thread.start()
    return thread


READ_AFTER_EXIT = 10.0
"""Seconds a stopped gateway's output is read for after it exits (until
the pipe's end, which a child still holding it would delay)."""


class RunningGateway:
    """A gateway subprocess; C{url(server)} gives an MCP endpoint."""

    def __init__(
        self,
        args: list[str],
        home: Path,
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 20.0,
    ) -> None:
        self.home = home
        environ = gatewayEnv(home)
        environ.update(env or {})
        argv = (command or launchCommand()) + ["--port", "tcp:0:interface=127.0.0.1", *args]
        self.process = subprocess.Popen(
            argv, cwd=home, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.output = bytearray()
        self._portFound = threading.Event()
        self.port = 0
        self._reader = startReader(self._read)
        if not self._portFound.wait(timeout):
            self.stop()
            raise RuntimeError("gateway did not start:\n" + self.text())

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in iter(self.process.stdout.readline, b""):
            self.output += line
            match = _PORT_LINE.search(line)
            if match and not self._portFound.is_set():
                self.port = int(match.group(1))
                self._portFound.set()

    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def url(self, server: str) -> str:
        return f"http://127.0.0.1:{self.port}/{server}/mcp"

    def health(self, token: str | None = None) -> dict[str, Any]:
        """C{GET /health}, with C{token} as the bearer token if given (a
        gateway that requires tokens shows its servers to an admin's only)."""
        headers = {} if token is None else {"authorization": f"Bearer {token}"}
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/health", headers=headers)
        with urllib.request.urlopen(request, timeout=5) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One request to the management API (C{/api/v1}C{path}, from this
        account on loopback: no token); its status and JSON body."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v1{path}",
            data,
            {"Content-Type": "application/json"} if data is not None else {},
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, as twistd/twist users stop it; returns the exit code,
        once what the process wrote last has been read (L{text} holds its
        last lines: the reader may still be behind when the process exits)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(READ_AFTER_EXIT)
        return self.process.returncode


def oauthGateway(
    home: Path, config: Path, issuerUrl: str, *extra: str
) -> tuple[RunningGateway, str]:
    """A gateway serving C{config} on a loopback port of its own that takes
    the tokens of the issuer at C{issuerUrl} for the resource
    C{http://127.0.0.1:PORT}: the gateway, and that resource."""
    port = freePort()
    resource = f"http://127.0.0.1:{port}"
    args = ["--port", f"tcp:{port}:interface=127.0.0.1", "--config", str(config)]
    oauth = ["--oauth-issuer", issuerUrl, "--resource-uri", resource]
    gateway = RunningGateway([*args, *oauth, *extra], home)
    assert gateway.port == port
    return gateway, resource


def writeConfig(path: Path, servers: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


PORT_BLOCK = 1000
"""Ports L{freePort} hands out per test worker: a block of its own each."""
_PORT_BASE = 20000
"""Where the blocks start: below Linux's ephemeral range (32768 on), from
which C{tcp:0} listeners and outgoing connections take theirs."""
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % 12
_PORTS = itertools.count(random.randrange(PORT_BLOCK))


def freePort() -> int:
    """A loopback TCP port nobody listens on now, for a server that is told
    its port (a gateway restarted on the same one, a fixture server).

    Taken from this worker's own block (C{PYTEST_XDIST_WORKER}; pytest-xdist
    runs tests in parallel), outside the kernel's ephemeral range: between
    this check and the server's bind, no other worker picks it, and no
    outgoing connection or C{tcp:0} listener is given it."""
    for _ in range(PORT_BLOCK):
        port = _PORT_BASE + _WORKER * PORT_BLOCK + next(_PORTS) % PORT_BLOCK
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_PORT_BASE + _WORKER * PORT_BLOCK} + {PORT_BLOCK}")


def listening(port: int) -> bool:
    """Whether something accepts connections on loopback C{port}."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def waitFor(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> bool:
    """Poll C{predicate} (integration tests only: real processes, real time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


async def callsInFlight(
    gateway: RunningGateway, server: str, count: int, timeout: float = 30.0
) -> None:
    """Wait, in an event loop that sends the calls itself (anyio), until
    C{server} has at least C{count} calls in flight (C{/health}'s
    C{inFlight}): calls the test started and that must be under way."""
    import anyio

    with anyio.fail_after(timeout):
        while True:
            found = await anyio.to_thread.run_sync(gateway.health)
            if found["servers"][server]["inFlight"] >= count:
                return
            await anyio.sleep(0.05)


class FixtureServer:
    """A server program of C{tests/fixtures/} on loopback, its output in
    C{log}: run with C{--port PORT} and C{args}, ready once it logs
    "listening on" (with C{port} 0, its port is the one it names there),
    stopped with its whole process group."""

    def __init__(self, script: Path, log: Path, *args: str, port: int | None = None) -> None:
        self.port = freePort() if port is None else port
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(script), "--port", str(self.port), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        assert waitFor(lambda: b"listening on" in log.read_bytes(), timeout=20), log.read_text()
        if self.port == 0:
            self.port = int(log.read_text().split("listening on 127.0.0.1:")[1].split()[0])
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        assert waitFor(lambda: not listening(self.port), timeout=10)


def errorText(error: BaseException) -> str:
    """Every message inside a (possibly nested) exception group."""
    inner = getattr(error, "exceptions", None)  # an ExceptionGroup (Python 3.11+)
    if inner:
        return " | ".join(errorText(e) for e in inner)
    return str(error)


async def echoEach(url: str, messages: Sequence[str]) -> list[str]:
    """One SDK session on C{url}: call the C{echo} tool with each of
    C{messages} in turn, one call after the other; the texts it answered."""
    async with Client(url, mode="legacy") as client:
        texts = []
        for message in messages:
            result = await client.call_tool("echo", {"message": message})
            texts.append(result.content[0].text)  # type: ignore[union-attr]
        return texts


def callEcho(url: str, message: str) -> str:
    """One SDK session on C{url}: call the C{echo} tool, return its text."""
    [text] = anyio.run(echoEach, url, [message])
    return text


def npmServer(key: str) -> list[str]:
    """argv of an npm test backend that scripts/install-test-backends lists
    in C{paths.env} as C{key} (like C{SERVER_MEMORY_JS}): C{[node, script]}.
    Runs the script when the key or its file is missing; skips the test
    when Node.js/npm are."""
    import shutil

    import pytest

    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("Node.js/npm not found: tests with npm MCP backends need them")
    cache = Path(os.environ.get("MCPGATEWAY_TEST_CACHE") or REPO / ".cache" / "test-backends")

    def found() -> str:
        value = backendPaths(cache).get(key, "")
        return value if value and Path(value).is_file() else ""

    if not found():
        installBackends(cache)
    script = found()
    assert script, (
        f"scripts/install-test-backends did not install {key} (see {cache / 'paths.env'})"
    )
    return [node, script]


class NodeScript:
    """One Node client script of tests/integration/clients/ run as
    C{node SCRIPT ARGS...}: it answers with one JSON line at a time and
    closes on the line C{close}."""

    def __init__(self, script: Path, args: list[str], label: str, env: dict[str, str]) -> None:
        self.label = label
        self.process = subprocess.Popen(
            ["node", str(script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.name = script.name

    def line(self) -> dict[str, Any]:
        """The script's next JSON line (it must say one)."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"{self.name} {self.label} said nothing"
        return json.loads(line)  # type: ignore[no-any-return]

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        """Ask it to close; kill it when it cannot be asked or takes over 15 seconds."""
        if self.process.poll() is None:
            try:
                self.send("close")
                assert self.process.stdin is not None
                self.process.stdin.close()
                self.process.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


class ProgressWatch:
    """What server-everything's long operation (four steps) reports while
    a bystander session of the same server calls C{echo} five times:
    C{seen}, the caller's progress; C{othersSaw}, every message the
    bystander was sent (C{record} is its message handler)."""

    def __init__(self) -> None:
        self.seen: list[float] = []
        self.othersSaw: list[Any] = []

    async def record(self, message: Any) -> None:
        self.othersSaw.append(message)

    async def onProgress(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen.append(progress)

    async def run(self, caller: Client, bystander: Client) -> None:
        """The long call on C{caller} and the chatter on C{bystander}, at once."""

        async def slow() -> None:
            await caller.call_tool(
                "trigger-long-running-operation",
                {"duration": 1, "steps": 4},
                progress_callback=self.onProgress,
            )

        async def chatter() -> None:
            for i in range(5):
                await bystander.call_tool("echo", {"message": str(i)})
                await anyio.sleep(0.1)

        async with anyio.create_task_group() as group:
            group.start_soon(slow)
            group.start_soon(chatter)

    def check(self) -> None:
        """The caller saw each step; the bystander saw no progress at all."""
        assert self.seen == [1, 2, 3, 4]
        assert not [
            m
            for m in self.othersSaw
            if isinstance(m, types.ProgressNotification) or "progress" in repr(m).lower()
        ]


def selfSigned(folder: Path, private: bool = True) -> tuple[Path, Path]:
    """A key and a self-signed certificate for 127.0.0.1 and localhost (its
    own CA), written to C{folder} as key.pem and cert.pem; their paths. The
    key is its owner's alone unless C{private} is false."""
    from cryptography.x509 import ExtendedKeyUsage
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from tests.support.tls import certificates

    key = certificates.newKey()
    serverAuth = ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    cert = certificates.issue(
        certificates.named("mcpgateway test"),
        key,
        key,
        extensions=((certificates.LOOPBACK, False), (certificates.CA, True), (serverAuth, False)),
    )
    keyPath, certPath = folder / "key.pem", folder / "cert.pem"
    keyPath.write_bytes(certificates.keyPem(key))
    if private:
        keyPath.chmod(0o600)
    certPath.write_bytes(certificates.certificatePem(cert))
    return keyPath, certPath


def refusedStart(
    argv: list[str], home: Path, env: dict[str, str], code: int | None = 1
) -> subprocess.CompletedProcess[str]:
    """Run C{argv}, a gateway (or the CLI starting one) that must refuse to
    start, from C{home}; check it exits with C{code} (with any failure when
    C{code} is None) and return what it said."""
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=home, timeout=60)
    if code is None:
        assert done.returncode != 0, done.stdout + done.stderr
    else:
        assert done.returncode == code, done.stdout + done.stderr
    return done


async def echoOn(http: Any, url: str, message: str) -> str:
    """What C{echo} of the server at C{url} answers C{message}, through the
    SDK client over the HTTP client C{http} (its TLS and headers)."""
    transport = streamable_http_client(url, http_client=http)
    async with Client(transport, mode="legacy") as client:
        result = await client.call_tool("echo", {"message": message})
        return result.content[0].text  # type: ignore[union-attr]

"""npx/uvx resolution with the real reactor, real npm/uv and real MCP servers.

C{npx -y @modelcontextprotocol/server-everything@2026.8.31 stdio} is resolved
into a temporary state directory (the tarball is in the npm cache already:
scripts/install-test-backends installed that version, and exact versions are
installed with C{--prefer-offline}); the resolved command is then started by
this test and must answer C{initialize} as the node process itself, a direct
child of the test, with no npx/npm process in between.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor as _reactor
from twisted.internet.interfaces import IProcessProtocol, IProcessTransport, IReactorProcess
from twisted.logger import LogLevel
from zope.interface import implementer

from mcpgateway.config.resolve import CACHE_FILE, Resolver
from mcpgateway.core.spec import ServerSpec
from tests.fakes import capturedGatewayLogs

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux /proc"),
]

reactor: Any = _reactor
EVERYTHING = "@modelcontextprotocol/server-everything@2026.8.31"
TIME_SERVER = "mcp-server-time@2026.10.19"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test_resolve_real", "version": "0"},
    },
}


def needNode() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js/npm not found: npx resolution needs them")
    return node, npm


def uvProgram(name: str) -> str:
    """C{uv} or C{uvx}: on C{PATH}, else beside this interpreter, where the
    test extra's C{uv} puts both (a venv's C{bin} need not be on C{PATH})."""
    found = shutil.which(name)
    if found is not None:
        return found
    beside = Path(sys.executable).parent / name
    assert os.access(beside, os.X_OK), f"no {name}: the test extra installs uv ('.[test]')"
    return str(beside)


@implementer(IReactorProcess)
class CountingReactor:
    """The real reactor's spawnProcess, recording each argv."""

    def __init__(self) -> None:
        self.spawned: list[list[str]] = []

    def spawnProcess(  # type: ignore[override]
        self,
        processProtocol: IProcessProtocol,
        executable: str,
        args: Sequence[str] = (),
        *rest: Any,
        **options: Any,
    ) -> IProcessTransport:
        """Record C{args}; the rest goes to the real reactor as it came."""
        self.spawned.append(list(args))
        return reactor.spawnProcess(  # type: ignore[no-any-return]
            processProtocol, executable, args, *rest, **options
        )


def runAndInitialize(spec: ServerSpec) -> tuple[dict[str, Any], list[str]]:
    """Start C{spec}'s command as a child of this process, send C{initialize},
    and check what is running: its parent is this process and it has no
    npm/npx/uv child. Returns the answer and the process's command line."""
    assert spec.executable is not None
    argv = [spec.executable, *spec.args]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=spec.environment(os.environ),
        cwd=spec.cwd,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
        proc.stdin.flush()
        readable, _, _ = select.select([proc.stdout], [], [], 60)
        assert readable, f"{argv} did not answer initialize within 60 s"
        answer = json.loads(proc.stdout.readline())
        # Read only now: right after exec the new command line may not be set up yet.
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode().split("\0")[:-1]
        stat = Path(f"/proc/{proc.pid}/stat").read_bytes()
        parent = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    finally:
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert parent == os.getpid()
    commands = [
        Path(f"/proc/{pid}/cmdline").read_bytes()
        for pid in children
        if Path(f"/proc/{pid}/cmdline").exists()
    ]
    assert not [c for c in commands if b"npm" in c or b"npx" in c or b"uv" in c], commands
    return answer, cmdline


@pytest_twisted.ensureDeferred
async def test_npx_server_everything_is_resolved_and_runs_without_npx(
    tmp_path: Path, everything: list[str]
) -> None:
    node, npm = needNode()
    stateDir = tmp_path / "state"
    counting = CountingReactor()
    resolver = Resolver(stateDir, counting, reactor, os.environ, npm=npm)
    spec = ServerSpec(
        name="everything",
        command="npx",
        args=("-y", EVERYTHING, "stdio"),
        executable=shutil.which("npx"),
    )

    started = time.monotonic()
    with capturedGatewayLogs() as events:
        resolved = await resolver.resolve(spec)
    elapsed = time.monotonic() - started
    print(f"\nfresh npx resolution of {EVERYTHING}: {elapsed:.2f} s")
    assert not [e for e in events if e["log_level"] >= LogLevel.warn], events

    # npm runs in a process group of its own (setsid), so a stop kills all of it.
    setsid = shutil.which("setsid")
    prefix = [setsid] if setsid is not None else []
    assert [argv[: len(prefix) + 2] for argv in counting.spawned] == [[*prefix, npm, "install"]]
    # The install finished: no folder is left marked as cut short.
    assert list((stateDir / "npx").glob("*/.mcpgateway-installing")) == []
    assert "--prefer-offline" in counting.spawned[0]
    assert resolved.executable == resolved.command == os.path.abspath(node)
    binFile = Path(resolved.args[0])
    assert binFile.is_relative_to(stateDir / "npx")
    assert binFile.parts[-4:] == ("@modelcontextprotocol", "server-everything", "dist", "index.js")
    assert resolved.args[1:] == ("stdio",)

    answer, cmdline = runAndInitialize(resolved)
    assert cmdline == [node, str(binFile), "stdio"]  # node itself: no npx, no sh, no env
    assert answer["id"] == 1
    assert answer["result"]["serverInfo"]["name"]
    assert "tools" in answer["result"]["capabilities"]

    # A second gateway on the same state dir: straight from the cache, no process.
    again = Resolver(stateDir, counting, reactor, os.environ, npm=npm).resolve(spec)
    assert again.called
    assert await again == resolved
    assert len(counting.spawned) == 1
    cache = json.loads((stateDir / CACHE_FILE).read_text())
    assert cache["entries"][f"npx:{EVERYTHING}"]["command"] == [resolved.command, str(binFile)]


@pytest_twisted.ensureDeferred
async def test_npx_resolution_that_fails_keeps_the_entry_as_configured(tmp_path: Path) -> None:
    _, npm = needNode()
    resolver = Resolver(tmp_path / "state", reactor, reactor, os.environ, npm=npm)
    # The entry's env reaches npm: a registry that refuses connections, no retries.
    spec = ServerSpec(
        name="nowhere",
        command="npx",
        args=("-y", "@modelcontextprotocol/server-everything@1999.1.1"),
        env=(("npm_config_fetch_retries", "0"), ("npm_config_registry", "http://127.0.0.1:9/")),
        executable=shutil.which("npx"),
    )
    started = time.monotonic()
    with capturedGatewayLogs() as events:
        resolved = await resolver.resolve(spec)
    print(f"\nfailed npx resolution: {time.monotonic() - started:.2f} s")
    assert resolved is spec
    [warning] = [e for e in events if e["log_level"] == LogLevel.warn]
    assert warning["server"] == "nowhere"
    assert "npm install failed" in warning["why"] and "127.0.0.1:9" in warning["why"]
    assert not (tmp_path / "state" / CACHE_FILE).exists()


@pytest_twisted.ensureDeferred
async def test_uvx_mcp_server_time_is_resolved_and_runs_without_uvx(tmp_path: Path) -> None:
    resolver = Resolver(tmp_path / "state", reactor, reactor, os.environ, uv=uvProgram("uv"))
    spec = ServerSpec(
        name="time",
        command="uvx",
        args=(TIME_SERVER, "--local-timezone", "UTC"),
        executable=uvProgram("uvx"),
    )
    started = time.monotonic()
    with capturedGatewayLogs() as events:
        resolved = await resolver.resolve(spec)
    print(f"\nfresh uvx resolution of {TIME_SERVER}: {time.monotonic() - started:.2f} s")
    if resolved is spec:
        why = " ".join(str(e.get("why")) for e in events if e["log_level"] == LogLevel.warn)
        if "fetch" in why.lower() or "connect" in why.lower() or "dns" in why.lower():
            pytest.skip(f"PyPI is not reachable: {why}")
        pytest.fail(f"uvx resolution failed: {why}")
    assert Path(resolved.command).is_relative_to(tmp_path / "state" / "uvx")
    assert Path(resolved.command).name == "mcp-server-time"
    assert resolved.args == ("--local-timezone", "UTC")
    answer, cmdline = runAndInitialize(resolved)
    # The script's own interpreter (the tool environment's python) runs it: no uv.
    assert Path(cmdline[0]).name.startswith("python")
    assert cmdline[1:] == [resolved.command, "--local-timezone", "UTC"]
    assert answer["result"]["serverInfo"]["name"] == "mcp-time"

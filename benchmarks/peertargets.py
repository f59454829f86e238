"""The targets of ``peers.py``: the gateway, its peers and the reference rows,
each started fresh, warmed up with one call, watched and stopped.

Every target serves the same backend, ``server-everything`` (its ``echo`` tool):

  ceiling           ``mcpload.py canned``: each client kind's own limit here
  direct            the calls straight down one stdio pipe, C in flight (the physical
                    limit; no HTTP, so no client kind)
  twisted-web       bare twisted.web with canned answers (``twfloor.py``)
  mcpgateway        this checkout, one shared child (``"share": "global"``)
  mcpgateway-before the gateway at ``--before REF`` (a git worktree)
  mcp-proxy         PyPI ``mcp-proxy`` (the Python MCP SDK's server and client): one
                    child shared by every Streamable HTTP session (``/mcp``)
  supergateway      npm ``supergateway --outputTransport streamableHttp --stateful``: a
                    child per session (its stateless mode answers without a session id)
  immorterm         npm ``immorterm-mcp-gateway`` (one shared child per server, read from a
                    ``~/.claude.json`` in a temporary HOME): ids as real clients send them,
                    each session counting from 1
  immorterm-unique  the same, with JSON-RPC ids made unique across sessions by the
                    client: a best case no real client arranges, since immorterm
                    forwards the client's id unchanged
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench  # noqa: E402
import mcpload  # noqa: E402

PEER_PACKAGES = {
    "mcp-proxy": "mcp-proxy (PyPI)",
    "supergateway": "supergateway (npm)",
    "immorterm": "immorterm-mcp-gateway (npm)",
}

LABELS = {
    "ceiling": "the client's ceiling (canned server)",
    "direct": "direct stdio (the limit; no HTTP client)",
    "twisted-web": "bare twisted.web, canned answers (twfloor.py: the floor under the gateway)",
    "mcpgateway": "**mcpgateway**",
    "mcpgateway-before": "mcpgateway before (`--before REF`)",
    "mcp-proxy": "mcp-proxy (Python SDK, one shared child)",
    "supergateway": "supergateway `--stateful` (a child per session)",
    "immorterm": "immorterm, ids as clients send them",
    "immorterm-unique": "immorterm, ids made unique (a best case real clients cannot arrange)",
}
ORDER = list(LABELS)
REFERENCE = {"ceiling", "direct", "twisted-web", "mcpgateway-before"}
"""Rows that are limits or the gateway itself at another commit: never counted as peers."""


def log(text: str) -> None:
    sys.stderr.write(f"peers: {text}\n")
    sys.stderr.flush()


# -- processes ------------------------------------------------------------------------


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def waitListening(port: int, proc: subprocess.Popen[bytes], timeout: float, logPath: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before listening: " + tail(logPath))
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"not listening on {port} after {timeout:g}s: " + tail(logPath))


def tail(path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def stopTree(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM the process (its own session) and its group, then SIGKILL whatever of
    its tree is left: supergateway puts each child in a group of its own."""
    pids = bench.processTree(proc.pid)
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for pid in reversed(pids[1:]):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@dataclass
class Served:
    """A target while it runs: where to send the load, what to watch, how to stop."""

    url: str
    rootPid: int
    stop: Callable[[], None]
    role: str = "proxy"
    """What the root process is: C{proxy} (a gateway, its children watched too) or
    C{server} (the canned server of the ceiling)."""

    def watch(self) -> dict[str, list[int]]:
        if self.role == "server":
            return {"server": [self.rootPid]}
        return {"proxy": [self.rootPid], "child": bench.processTree(self.rootPid)[1:]}


def spawnPeer(
    argv: list[str],
    port: int,
    workdir: Path,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.Popen[bytes]:
    workdir.mkdir(parents=True, exist_ok=True)
    logPath = workdir / "output.log"
    with logPath.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    try:
        waitListening(port, proc, timeout, logPath)
    except BaseException:
        stopTree(proc)
        raise
    return proc


def warm(url: str) -> None:
    """One session: initialize, initialized, one echo call (starts a lazy child)."""
    host, port, path = mcpload.splitUrl(url)
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        status, hdrs, msgs = bench.mcpPost(
            conn,
            path,
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "peers-warm", "version": "1"},
                },
            },
            None,
        )
        sid = hdrs.get("mcp-session-id")
        if status != 200 or not sid:
            raise RuntimeError(f"initialize: HTTP {status} {msgs}")
        bench.mcpPost(conn, path, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
        status, _, msgs = bench.mcpPost(
            conn,
            path,
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "echo", "arguments": {"message": "warm"}},
            },
            sid,
        )
        texts = [
            m.get("result", {}).get("content", [{}])[0].get("text")
            for m in msgs
            if isinstance(m, dict) and m.get("id") == 1
        ]
        if status != 200 or texts != ["Echo: warm"]:
            raise RuntimeError(f"first call: HTTP {status} {msgs}")
    finally:
        conn.close()


# -- the targets ---------------------------------------------------------------------


@dataclass
class Env:
    js: str
    peersDir: Path
    tmp: Path
    before: Path | None = None
    """A checkout of the gateway at C{--before REF}."""
    tsSdk: str = ""
    """The TypeScript SDK's package folder (C{TS_SDK_DIR} of the test cache)."""


def startGateway(env: Env, workdir: Path, repo: Path | None = None) -> Served:
    gw = bench.Gateway({"everything": bench.everythingSpec(env.js)}, workdir, repo=repo)
    try:
        url = gw.url("everything")
        warm(url)
    except BaseException:
        gw.stop()
        raise

    def stop() -> None:
        gw.stop()

    return Served(url, gw.pid, stop)


def startGatewayBefore(env: Env, workdir: Path) -> Served:
    if env.before is None:
        raise RuntimeError("the mcpgateway-before target needs --before REF")
    return startGateway(env, workdir, env.before)


def checkoutBefore(ref: str, into: Path) -> tuple[Path, str]:
    """A detached worktree of this repository at C{ref} (removed with the work
    folder), and the commit it names. A C{ref} that is a directory is another
    checkout (a copy made with C{git archive}, say), used as it is and left in
    place: a change not yet committed is measured without a worktree."""
    if Path(ref).is_dir():
        return Path(ref).resolve(), Path(ref).name
    commit = subprocess.run(
        ["git", "rev-parse", "--short", ref + "^{commit}"],
        cwd=bench.REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--force", str(into), commit],
        cwd=bench.REPO,
        capture_output=True,
        check=True,
    )
    return into, commit


def dropBefore(path: Path) -> None:
    subprocess.run(
        ["git", "worktree", "remove", "--force", str(path)],
        cwd=bench.REPO,
        capture_output=True,
    )


def startCeiling(env: Env, workdir: Path) -> Served:
    """C{mcpload.py canned}: what each client kind reaches against a server that
    does nothing."""
    canned = bench.Worker(bench.mcpload("canned"))
    try:
        port = canned.expect("listening", 30)["port"]
    except BaseException:
        canned.stop()
        raise
    return Served(f"http://127.0.0.1:{port}/canned/mcp", canned.proc.pid, canned.stop, "server")


def startTwistedWeb(env: Env, workdir: Path) -> Served:
    port = freePort()
    proc = spawnPeer([bench.PY, str(HERE / "twfloor.py"), str(port)], port, workdir)
    return served(proc, f"http://127.0.0.1:{port}/mcp")


def startMcpProxy(env: Env, workdir: Path) -> Served:
    exe = env.peersDir / "venv" / "bin" / "mcp-proxy"
    if not exe.exists():
        raise FileNotFoundError(f"not installed: {exe} (benchmarks/run --peers installs it)")
    port = freePort()
    proc = spawnPeer(
        [
            str(exe),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "WARNING",
            "--",
            "node",
            env.js,
            "stdio",
        ],
        port,
        workdir,
    )
    return served(proc, f"http://127.0.0.1:{port}/mcp")


def startSupergateway(env: Env, workdir: Path) -> Served:
    js = env.peersDir / "node_modules" / "supergateway" / "dist" / "index.js"
    if not js.exists():
        raise FileNotFoundError(f"not installed: {js} (benchmarks/run --peers installs it)")
    port = freePort()
    proc = spawnPeer(
        [
            "node",
            str(js),
            "--stdio",
            f"node {env.js} stdio",
            "--outputTransport",
            "streamableHttp",
            "--stateful",
            "--port",
            str(port),
            "--logLevel",
            "none",
        ],
        port,
        workdir,
    )
    return served(proc, f"http://127.0.0.1:{port}/mcp")


def startImmorterm(env: Env, workdir: Path) -> Served:
    js = env.peersDir / "node_modules" / "immorterm-mcp-gateway" / "dist" / "index.js"
    if not js.exists():
        raise FileNotFoundError(f"not installed: {js} (benchmarks/run --peers installs it)")
    # It rewrites ~/.claude.json (and other tools' configs under HOME) into HTTP entries
    # pointing at itself, and keeps its state in ~/.immorterm: a temporary HOME.
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    config = home / ".claude.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "everything": {"type": "stdio", "command": "node", "args": [env.js, "stdio"]}
                }
            }
        )
    )
    port = freePort()
    proc = spawnPeer(
        ["node", str(js), "start", "--foreground", "--port", str(port), "--config", str(config)],
        port,
        workdir,
        env={"HOME": str(home)},
    )
    return served(proc, f"http://127.0.0.1:{port}/everything/mcp")


def served(proc: subprocess.Popen[bytes], url: str) -> Served:
    try:
        warm(url)
    except BaseException:
        stopTree(proc)
        raise
    return Served(url, proc.pid, lambda: stopTree(proc))


STARTERS: dict[str, Callable[[Env, Path], Served]] = {
    "ceiling": startCeiling,
    "twisted-web": startTwistedWeb,
    "mcpgateway": startGateway,
    "mcpgateway-before": startGatewayBefore,
    "mcp-proxy": startMcpProxy,
    "supergateway": startSupergateway,
    "immorterm": startImmorterm,
    "immorterm-unique": startImmorterm,
}


MAX_QUIET_WAIT = 3.0
"""At most this long waiting for quiet between the sessions' warm-up and their calls:
uvicorn (mcp-proxy) and Node's http server (supergateway, immorterm) close a keep-alive
connection idle for 5 s, and a load session whose connection was closed while it waited
stops without a call in flight, so it is not even counted as lost."""


class TreeGate(bench.QuietGate):
    """bench.QuietGate that also refreshes the watched child pids once the sessions
    are open (supergateway starts a child per session, after the target started)."""

    def __init__(self, gate: bench.QuietGate, refresh: Callable[[], None]) -> None:
        super().__init__(0, gate.threshold)
        self.inner = gate
        self.refresh = refresh

    def wait(self) -> dict[str, float]:
        inner, budget = self.inner, self.inner.budget
        inner.budget = min(budget, inner.waited + MAX_QUIET_WAIT)
        try:
            got = inner.wait()
        finally:
            inner.budget = budget
        self.refresh()
        return got


def installedVersions(peersDir: Path) -> dict[str, str | None]:
    """The versions actually installed (package.json, the venv's metadata)."""
    found: dict[str, str | None] = {}
    for key, pkg in (("supergateway", "supergateway"), ("immorterm", "immorterm-mcp-gateway")):
        try:
            found[key] = json.loads((peersDir / "node_modules" / pkg / "package.json").read_text())[
                "version"
            ]
        except (OSError, ValueError, KeyError):
            found[key] = None
    dists = sorted((peersDir / "venv").glob("lib/python*/site-packages/mcp_proxy-*.dist-info"))
    found["mcp-proxy"] = dists[-1].name.split("-")[1].removesuffix(".dist") if dists else None
    return found

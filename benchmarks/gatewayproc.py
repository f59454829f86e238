"""The gateway under test, as users start it (L{Gateway}), and one blocking
MCP client (L{firstCall}) that proves it answers: the gateway's launch for
every measurement of the suite, C{peers.py} and the other scripts that
measure a real gateway.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from benchenv import HERE, PY, REPO
from procstat import memKB, processTree

PORT_LINE = re.compile(r"listening on \S*:(\d+)\s*$")


class Gateway:
    """The gateway as the README's command runs it (``twistd -n mcpgateway``;
    as ``mcpgateway start`` runs it, ``python -OO -m mcpgateway.launch``, with
    ``MCPGATEWAY_BENCH_RUNNER=start``; ``python -m twisted mcpgateway`` for a
    commit from before ``mcpgateway.launch``) from this checkout (or C{repo}:
    another checkout of the project, for a before/after comparison), on an
    OS-chosen port."""

    def __init__(
        self,
        config: dict[str, Any],
        workdir: Path,
        profile: Path | None = None,
        extra: list[str] | None = None,
        repo: Path | None = None,
        startTimeout: float = 30.0,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        repo = REPO if repo is None else repo
        self.workdir = workdir
        cfg = workdir / "config.json"
        cfg.write_text(json.dumps({"mcpServers": config}))
        # Bytecode is written and read as an installed gateway's is: with
        # PYTHONDONTWRITEBYTECODE (set on some machines) every start would compile
        # again each module whose .pyc is stale, at about 0.8 MB of RSS.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env = {
            **env,
            "MCPGATEWAY_HOME": str(workdir / "state"),
            "HOME": str(workdir),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")])),
        }
        if profile is not None:  # see twist_wrapper.py for why not "-m cProfile"
            prefix = [PY, str(HERE / "twist_wrapper.py"), "--profile", str(profile)]
            prefix.append("--log-format=text")
        elif os.environ.get("MCPGATEWAY_BENCH_RUNNER") == "start":
            # As `mcpgateway start` runs it: twistd with the gateway as its only
            # plugin (no plugin discovery), under -OO (no docstrings in memory).
            prefix = [PY, "-OO", "-m", "mcpgateway.launch", "-n", "--pidfile=", "--logfile=-"]
        elif (repo / "mcpgateway" / "launch.py").exists():
            # The README's command, `twistd -n mcpgateway`: what users run.
            prefix = [
                PY,
                "-c",
                "from twisted.scripts.twistd import run; run()",
                "-n",
                "--pidfile=",
                "--logfile=-",
            ]
        else:  # a commit from before mcpgateway.launch
            prefix = [PY, "-m", "twisted", "--log-format=text"]
        argv = [
            *prefix,
            "mcpgateway",
            "--port",
            "tcp:0:interface=127.0.0.1",
            "--config",
            str(cfg),
            *(extra or []),
        ]
        self.spawned = time.monotonic()
        self.proc = subprocess.Popen(
            argv,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.pid = self.proc.pid
        self.output: collections.deque[str] = collections.deque(maxlen=300)
        self.port = 0
        self.listening = 0.0
        self._found = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._found.wait(startTimeout):
            self.stop()
            raise RuntimeError("gateway did not start:\n" + "\n".join(self.output))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.output.append(line)
            m = PORT_LINE.search(line)
            if m and not self._found.is_set():
                self.listening = time.monotonic()
                self.port = int(m.group(1))
                self._found.set()

    def url(self, server: str) -> str:
        return f"http://127.0.0.1:{self.port}/{server}/mcp"

    def rssKB(self) -> int:
        return memKB(self.pid)[0]

    def tree(self) -> list[int]:
        return processTree(self.pid)

    def health(self) -> dict[str, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", "/health")
        return json.loads(conn.getresponse().read())

    def stop(self, timeout: float = 20) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                for p in reversed(processTree(self.pid)):
                    with contextlib.suppress(OSError):
                        os.kill(p, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode


def everythingSpec(js: str) -> dict[str, Any]:
    return {"command": "node", "args": [js, "stdio"], "share": "global"}


# -- one blocking MCP client, for startup --------------------------------------------


def mcpPost(
    conn: http.client.HTTPConnection, path: str, body: dict[str, Any], sid: str | None
) -> tuple[int, dict[str, str], list[Any]]:
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": "2025-11-25",
    }
    if sid:
        headers["Mcp-Session-Id"] = sid
    conn.request("POST", path, json.dumps(body), headers)
    resp = conn.getresponse()
    data = resp.read()
    hdrs = {k.lower(): v for k, v in resp.getheaders()}
    msgs: list[Any] = []
    if hdrs.get("content-type", "").startswith("text/event-stream"):
        for line in data.split(b"\n"):
            if line.startswith(b"data:"):
                msgs.append(json.loads(line[5:]))
    elif data:
        msgs.append(json.loads(data))
    return resp.status, hdrs, msgs


def firstCall(port: int, server: str, timeout: float = 60) -> None:
    """initialize, initialized, one echo call; raises unless it all succeeds."""
    path = f"/{server}/mcp"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    status, hdrs, msgs = mcpPost(
        conn,
        path,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "bench-startup", "version": "1"},
            },
        },
        None,
    )
    sid = hdrs.get("mcp-session-id")
    if status != 200 or not sid:
        raise RuntimeError(f"initialize: HTTP {status} {msgs}")
    mcpPost(conn, path, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
    status, _, msgs = mcpPost(
        conn,
        path,
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": "startup"}},
        },
        sid,
    )
    texts = [
        m.get("result", {}).get("content", [{}])[0].get("text")
        for m in msgs
        if isinstance(m, dict) and m.get("id") == 2
    ]
    if status != 200 or texts != ["Echo: startup"]:
        raise RuntimeError(f"first call: HTTP {status} {msgs}")
    conn.close()

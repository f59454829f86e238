"""What the tests of the C{mcpgateway} command share: canned C{/health} and
C{/sessions} answers, a tiny loopback HTTP server answering them
(L{FakeGateway}), a fake C{state.json} (this test process's pid, holding the
lock, plays the running gateway; a reaped child's pid is a dead one), client
configs and backups as the library writes them, and L{run}, which runs the
command line with a L{CliContext} of fakes when a test gives one."""

from __future__ import annotations

import http.server
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mcpgateway import __version__
from mcpgateway.cli import main
from mcpgateway.cli.checks import Check
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.doctor import runChecks
from mcpgateway.ops.statedir import STATE_FILE
from mcpgateway.runtime.paths import USER_BACKUP
from tests.integration.gateway import freePort as freePort

HEALTH: dict[str, Any] = {
    "status": "ok",
    "version": __version__,  # the one installed: no restart is due
    "pid": os.getpid(),
    "uptime": 3725.5,
    "rssBytes": 56 * 1024 * 1024,
    "sessions": 3,
    "servers": {
        "context7": {
            "mode": "stateless",
            "state": "running",
            "children": 1,
            "pids": [11],
            "requests": 142,
            "inFlight": 0,
            "lateReplies": 0,
            "restarts": 0,
            "sessions": 1,
            "ambiguousServerRequests": 0,
        },
        "tavily": {
            "mode": "stateless",
            "state": "idle",
            "children": 0,
            "pids": [],
            "requests": 0,
            "inFlight": 0,
            "lateReplies": 0,
            "restarts": 0,
            "sessions": 0,
            "ambiguousServerRequests": 0,
        },
        "serena": {
            "mode": "stateful",
            "state": "running",
            "children": 2,
            "pids": [12, 13],
            "requests": 89,
            "inFlight": 1,
            "lateReplies": 0,
            "restarts": 2,
            "sessions": 2,
            "ambiguousServerRequests": 0,
            "warning": "route them exactly",
        },
    },
}
BROKEN = {  # idle tavily's zero counts, from a gateway without ambiguousServerRequests
    **{k: v for k, v in HEALTH["servers"]["tavily"].items() if k != "ambiguousServerRequests"},
    "state": "unavailable",
    "error": "command 'nope' not found on PATH",
}
WITH_BROKEN = {**HEALTH, "servers": {**HEALTH["servers"], "broken": BROKEN}}
SERVERS: dict[str, Any] = {
    "servers": [
        {"name": name, **line, "routes": [{"key": "", "path": f"/{name}/mcp"}]}
        for name, line in HEALTH["servers"].items()
    ]
}
"""C{GET /api/v1/servers} of the gateway of L{HEALTH}: each server with its
key-less route only."""
SESSIONS: dict[str, Any] = {
    "sessions": [
        {"id": "a", "server": "context7", "clientPid": 4242, "mode": "stateless"},
        {"id": "b", "server": "serena", "clientPid": 4242, "mode": "stateful"},
        {"id": "c", "server": "serena", "clientPid": None, "mode": "stateful"},
    ]
}


class FakeGateway:
    """Canned JSON answers on a loopback port, served from a thread."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, Any]] = {
            "/health": (200, HEALTH),
            "/sessions": (200, SESSIONS),
        }
        self.requests: list[str] = []
        self.routes: dict[tuple[str, str], tuple[int, Any]] = {}
        """Answers by (method, path), for any method; a C{bytes} body is an
        SSE stream, sent as it is."""
        self.calls: list[tuple[str, str, dict[str, str], bytes]] = []
        """Every request: method, path, headers (lower-case names), body."""
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                fake.calls.append(
                    (
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        self.rfile.read(length),
                    )
                )
                status, body = fake.routes.get(
                    (self.command, self.path),
                    fake.answers.get(self.path, (404, {"error": "not found"}))
                    if self.command == "GET"
                    else (404, {"error": "not found"}),
                )
                stream = isinstance(body, bytes)
                data = body if stream else json.dumps(body).encode()
                self.send_response(status)
                self.send_header(
                    "Content-Type", "text/event-stream" if stream else "application/json"
                )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_PATCH = do_DELETE = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def writeState(stateDir: Path, pid: int, port: int, **extra: Any) -> Path:
    state = {
        "pid": pid,
        "port": port,
        "interface": "127.0.0.1",
        "startTime": time.time() - 60,
        "version": __version__,
        "config": None,
        "stateDir": str(stateDir),
        "rewriteConfig": True,
        **extra,
    }
    path = stateDir / STATE_FILE
    path.write_text(json.dumps(state))
    return path


def deadPid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


Cli = Callable[..., tuple[int, str, str]]
"""The C{cli} fixture: L{run} bound to a test's capsys, state directory and seams."""


def run(
    capsys: pytest.CaptureFixture[str], stateDir: Path, *args: str, ctx: CliContext | None = None
) -> tuple[int, str, str]:
    """C{mcpgateway ARGS --state-dir STATEDIR}, with the seams of C{ctx}
    (default: the real ones); the exit code, stdout and stderr."""
    code = main([*args, "--state-dir", str(stateDir)], ctx)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def outputLines(cli: Cli, *args: str) -> list[str]:
    """Run C{mcpgateway ARGS} through the C{cli} fixture; it succeeds with
    nothing on stderr: the lines of its stdout."""
    code, out, err = cli(*args)
    assert (code, err) == (0, ""), err
    return out.splitlines()


def check(stateDir: Path, name: str, ctx: CliContext | None = None) -> Check:
    """The result of doctor's check C{name}."""
    return dict(runChecks(stateDir, ctx))[name]


class FakeClaudeConfig:
    """Stands in for mcpgateway.clientconfigs.claude.ClaudeConfig."""

    calls: list[tuple[Path, Path]] = []

    def __init__(self, path: Path, stateDir: Path) -> None:
        self.path, self.stateDir = path, stateDir

    def restore(self) -> Any:
        FakeClaudeConfig.calls.append((self.path, self.stateDir))

        class Report:
            restored = ["search", "thinking"]
            kept = ["remote"]
            notes = ["search: restored from the backup"]

        return Report()


def backupDocument(configPath: Path, **extra: Any) -> dict[str, Any]:
    """A backup as mcpgateway.clientconfigs.claude writes it."""

    def record(name: str) -> dict[str, Any]:
        return {
            "url": f"http://127.0.0.1:9100/{name}/mcp",
            "original": {"command": "npx", "args": ["-y", name]},
        }

    return {
        "version": 1,
        "configPath": os.path.realpath(configPath),
        "timestampAdded": False,
        "mcpServers": {"a": record("a"), "b": record("b")},
        "projects": {"/p": {"mcpServers": {"c": record("c")}}},
        **extra,
    }


# -- doctor: Claude config -----------------------------------------------------------


def claudeJson(port: int) -> dict[str, Any]:
    gateway = {"type": "http", "url": f"http://127.0.0.1:{port}/x/mcp"}
    return {
        "numStartups": 3,
        "mcpServers": {
            "a": gateway,
            "b": {"command": "npx", "args": ["-y", "b"]},
            "remote": {"type": "http", "url": "https://example.com/mcp"},
        },
        "projects": {
            "/work/p": {
                "mcpServers": {
                    "c": {"type": "http", "url": f"http://localhost:{port}/c/mcp"},
                    "d": {"type": "stdio", "command": "d"},
                    "e": {"type": "sse", "url": "http://127.0.0.1:1/sse"},
                    "f": {"type": "http", "url": "http://127.0.0.1:1/f/mcp"},
                }
            },
            "/work/q": {"allowedTools": []},
        },
    }


def writeBackup(stateDir: Path, configPath: Path) -> None:
    (stateDir / USER_BACKUP).write_text(json.dumps(backupDocument(configPath)))


# -- colours --------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def api(fake: FakeGateway, method: str, path: str, status: int, body: Any) -> None:
    fake.routes[(method, "/api/v1" + path)] = (status, body)


def lastCall(fake: FakeGateway) -> tuple[str, str, dict[str, str], Any]:
    method, path, headers, body = fake.calls[-1]
    return method, path, headers, json.loads(body) if body else None


def sse(*events: dict[str, Any]) -> bytes:
    frames = [b": keep-alive\n\n"]
    frames += [b"event: message\ndata: " + json.dumps(e).encode() + b"\n\n" for e in events]
    return b"".join(frames)


EVENTS: list[dict[str, Any]] = [
    {"time": 1700000000.5, "kind": "started", "text": "child pid 7 started", "pid": 7},
    {"time": 1700000001.0, "kind": "stderr", "text": "listening on stdio"},
]

"""What the sandbox's integration tests share: calling a tool through the
Python SDK, the hostile fixture's config entry, a fake home with secrets."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.integration.gateway import REPO

HOSTILE = REPO / "tests" / "fixtures" / "hostile_server.py"
SECRET = "-----BEGIN OPENSSH PRIVATE KEY----- not-a-real-key"


def fakeHome(home: Path) -> Path:
    """C{home} with what a confined server must never read or change: an
    SSH key, cloud credentials, a shell history, a C{.bashrc}."""
    (home / ".ssh").mkdir(mode=0o700, exist_ok=True)
    (home / ".ssh" / "id_rsa").write_text(SECRET)
    (home / ".aws").mkdir(exist_ok=True)
    (home / ".aws" / "credentials").write_text("aws_secret_access_key = not-real")
    (home / ".bash_history").write_text("secret command\n")
    (home / ".bashrc").write_text("# the user's own\n")
    return home


CALL_TIMEOUT = 120.0
"""Seconds one SDK session may take: longer than any confined start (an npx
install through the proxy included), short enough that a hang fails its test."""


def toolCall(url: str, name: str, arguments: dict[str, Any] | None = None) -> Any:
    """One SDK session on C{url}: call C{name}, return its first text
    content (JSON-decoded when it is JSON) and whether it is an error."""

    async def main() -> Any:
        with anyio.fail_after(CALL_TIMEOUT):
            return await call()

    async def call() -> Any:
        async with Client(url, mode="legacy") as client:
            result = await client.call_tool(name, arguments or {})
            text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
            try:
                return json.loads(text)
            except ValueError:
                return {"text": text, "isError": result.is_error}

    return anyio.run(main)


def toolNames(url: str) -> list[str]:
    async def main() -> list[str]:
        with anyio.fail_after(CALL_TIMEOUT):
            async with Client(url, mode="legacy") as client:
                return sorted(tool.name for tool in (await client.list_tools()).tools)

    return anyio.run(main)


def hostileEntry(workspace: Path, **sandbox: Any) -> dict[str, Any]:
    """The hostile fixture, run by this Python in C{workspace}."""
    entry: dict[str, Any] = {
        "command": sys.executable,
        "args": [str(HOSTILE)],
        "cwd": str(workspace),
    }
    if sandbox:
        entry["sandbox"] = sandbox
    return entry


class Listener:
    """A TCP service on loopback that a confined server must not reach."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.port = int(self.socket.getsockname()[1])

    def close(self) -> None:
        self.socket.close()


def childPids(pid: int) -> list[int]:
    """Every process under C{pid} (from C{/proc}), C{pid} excluded."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    parents[int(name)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for child, itsParent in parents.items():
            if itsParent == parent:
                found.append(child)
                frontier.append(child)
    return found


def commandOf(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [part.decode() for part in f.read().split(b"\0") if part]
    except OSError:
        return []


def bwrapOrSkip() -> None:
    """Skip, saying why, where bubblewrap cannot confine (CI installs it)."""
    from mcpgateway.sandbox.probe import bwrapWorks

    found = bwrapWorks()
    if not found["works"]:
        pytest.skip(f"bubblewrap cannot confine here: {found['error']}")


@contextlib.contextmanager
def helloServer(body: bytes) -> Iterator[int]:
    """A local HTTP server on loopback answering every GET with C{body}: its port."""

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def npmPack(source: Path, into: Path) -> Path:
    """The npm package in folder C{source}, packed by npm into C{into}: its tarball."""
    npm = shutil.which("npm")
    assert npm is not None
    packed = subprocess.run(
        [npm, "pack", "--silent", "--pack-destination", str(into), str(source)],
        capture_output=True,
        text=True,
        cwd=into,
        timeout=120,
    )
    assert packed.returncode == 0, packed.stderr
    return into / packed.stdout.strip().splitlines()[-1]

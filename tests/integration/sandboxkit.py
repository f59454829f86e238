"""What the sandbox's integration tests share: calling a tool through the
Python SDK, the hostile fixture's config entry, a fake home with secrets."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

import anyio
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

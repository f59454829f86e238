"""What tests/integration/routing/test_scopes.py shares with the other tests:
BASE_PYTHON, HttpError, Session, entry, keyOf, post, userBase."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from mcpgateway.config.workspaces import WorkspaceKeys
from tests.integration.gateway import REPO

SERVER = str(REPO / "tests" / "fixtures" / "scope_server.py")
ACCEPT = "application/json, text/event-stream"


# -- a small raw client: headers of our own, and the status of a refusal ----------------


class HttpError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def post(
    url: str, body: Any, session: str | None = None, headers: dict[str, str] | None = None
) -> tuple[str | None, list[Any]]:
    """POST one message; the session id the answer names and the messages in it."""
    sent = {"content-type": "application/json", "accept": ACCEPT, **(headers or {})}
    if session is not None:
        sent["mcp-session-id"] = session
        sent["mcp-protocol-version"] = "2025-06-18"
    request = urllib.request.Request(url, json.dumps(body).encode(), sent, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            kind = response.headers.get("content-type", "")
            data = response.read()
            sid = response.headers.get("mcp-session-id")
    except urllib.error.HTTPError as e:
        raise HttpError(e.code, json.loads(e.read() or b"null")) from None
    if kind.startswith("text/event-stream"):
        messages = [
            json.loads(line[6:])
            for line in data.decode().splitlines()
            if line.startswith("data: ") and line[6:].strip()
        ]
        return sid, messages
    return sid, [json.loads(data)] if data else []


class Session:
    """One MCP session over raw HTTP (the SDK client sends no headers of ours)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url, self.headers = url, headers or {}
        sid, [answer] = post(
            url,
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "scopes-test", "version": "1"},
                },
            },
            headers=self.headers,
        )
        assert "result" in answer, answer
        assert sid is not None
        self.id = sid
        post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid, self.headers)

    def where(self) -> dict[str, Any]:
        _, messages = post(
            self.url,
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "where"}},
            self.id,
            self.headers,
        )
        result = messages[-1]["result"]
        return json.loads(result["content"][0]["text"])  # type: ignore[no-any-return]


def entry(*args: str, **extra: Any) -> dict[str, Any]:
    return {"type": "stdio", "command": sys.executable, "args": [SERVER, *args], **extra}


def keyOf(home: Path, path: Path) -> str:
    """The workspace key of C{path} in the test gateway's state directory."""
    return WorkspaceKeys.forStateDir(home / "state").key(path)


BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)
"""The interpreter outside the venv: a venv's Python has no user site."""


def userBase(root: Path, marker: Path) -> Path:
    """A Python user base under C{root} whose C{.pth} file (which Python
    imports at start-up when C{PYTHONUSERBASE} names this base) writes
    C{marker}."""
    base = root / "evil"
    site = base / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    site.mkdir(parents=True)
    (site / "evil.pth").write_text(
        f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')\n"
    )
    return base

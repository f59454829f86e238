"""What tests/integration/routing/test_scopes.py shares with the other tests:
BASE_PYTHON, HttpError, Session, entry, keyOf, post, userBase."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mcpgateway.config.workspaces import WorkspaceKeys
from tests.integration.gateway import REPO
from tests.support import mcpclient

SERVER = str(REPO / "tests" / "fixtures" / "scope_server.py")
VERSION = "2025-06-18"


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
    reply = mcpclient.Session(url, VERSION, headers, timeout=60, id=session).post(body)
    if reply.status >= 400:
        raise HttpError(reply.status, json.loads(reply.body or b"null"))
    return reply.session, reply.messages


class Session:
    """One MCP session over raw HTTP (the SDK client sends no headers of ours)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url, self.headers = url, headers or {}
        initialize = mcpclient.initializeMessage(1, VERSION, name="scopes-test")
        sid, [answer] = post(url, initialize, headers=self.headers)
        assert "result" in answer, answer
        assert sid is not None
        self.id = sid
        post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid, self.headers)

    def where(self) -> dict[str, Any]:
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "where"}}
        _, messages = post(self.url, call, self.id, self.headers)
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

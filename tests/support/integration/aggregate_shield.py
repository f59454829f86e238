"""What tests/integration/aggregate/test_aggregate_shield.py shares with the other tests:
VERSION, post."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

VERSION = "2025-11-25"


def post(url: str, message: dict[str, Any], session: str | None = None) -> tuple[Any, str | None]:
    """One raw POST (no SDK: a result left whole may be larger than the
    Python SDK takes in one SSE event)."""
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": VERSION,
    }
    if session is not None:
        headers["Mcp-Session-Id"] = session
    request = urllib.request.Request(url, json.dumps(message).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=60) as r:
        body = r.read().decode()
        sid = r.headers.get("mcp-session-id")
    if body.lstrip().startswith("{"):
        return json.loads(body), sid
    data = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    return (data[-1] if data else None), sid

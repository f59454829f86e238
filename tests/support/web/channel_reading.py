"""What tests/web/plumbing/test_channel_reading.py shares with the other tests: HEALTH,
_refusal, echo, post."""

from __future__ import annotations

import json
from typing import Any

from tests.http import ACCEPT_BOTH


def post(sid: str, body: dict[str, Any], extra: bytes = b"") -> bytes:
    data = json.dumps(body).encode()
    return (
        b"POST /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nAccept: "
        + ACCEPT_BOTH.encode()
        + b"\r\nContent-Type: application/json\r\nMcp-Session-Id: "
        + sid.encode()
        + b"\r\n"
        + extra
        + b"Content-Length: %d\r\n\r\n" % len(data)
        + data
    )


HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n\r\n"


def echo(n: int) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": n,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": f"m{n}"}},
    }


def _refusal(out: bytes) -> tuple[bytes, Any]:
    """The status line and the JSON body of the one response in C{out}."""
    head, _, body = out.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], json.loads(body)

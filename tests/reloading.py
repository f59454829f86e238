"""Helpers of the tests that drive the real reload path (a config service
watching its files by polling, and the gateway it reconfigures)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed

from mcpgateway.protocol import jsonrpc


def inline(f: Callable[..., Any], *args: Any) -> Deferred[Any]:
    """Run C{f} at once (a C{runInThread} for tests): its result, or its
    exception, as a fired Deferred."""
    try:
        return succeed(f(*args))
    except Exception:
        return fail()


def write(path: Path, text: str) -> None:
    """Write C{text}, and make sure the file's stamp changes (mtime resolution)."""
    old = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    st = path.stat()
    if st.st_mtime_ns == old:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))


def initialize() -> dict[str, Any]:
    """A client's C{initialize} request (id 0, 2025-11-25)."""
    return jsonrpc.request(
        0,
        "initialize",
        {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "client", "version": "1"},
        },
    )

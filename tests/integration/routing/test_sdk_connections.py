"""The Python SDK's client keeps one connection for a session's calls.

Its HTTP library keeps a connection only when the response body was read to
its end; the SDK stops reading an SSE answer at the answer's event. The
gateway answers a call that streamed nothing before its answer as one
C{application/json} body, which the SDK reads whole, so a session's calls
share a connection instead of opening (and leaving in C{TIME_WAIT}) one
each."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.integration.gateway import RunningGateway, echoEach, twistdCommand

pytestmark = [
    pytest.mark.integration,
    pytest.mark.front,
    pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs Linux /proc"),
]

CALLS = 20
TIME_WAIT = "06"


def closedTowards(port: int) -> int:
    """Client-side sockets to C{port} that were closed (C{TIME_WAIT})."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                next(rows)
                for row in rows:
                    fields = row.split()
                    if fields[3] == TIME_WAIT and fields[2].endswith(f":{port:04X}"):
                        count += 1
        except OSError:
            continue
    return count


def calls(url: str) -> list[str]:
    import anyio

    return anyio.run(echoEach, url, [f"m{n}" for n in range(CALLS)])


def test_a_sessions_calls_share_a_connection(start: Any, home: Path) -> None:
    gateway: RunningGateway = start(command=twistdCommand())
    url = gateway.url("demo")
    port = urlsplit(url).port
    assert port is not None
    before = closedTowards(port)
    assert calls(url) == [f"m{n}" for n in range(CALLS)]
    # The session's own connections (its initialize, its GET stream, its
    # DELETE) may close; one per call would be CALLS more.
    assert closedTowards(port) - before < CALLS // 2

"""What every worker process of the benchmarks shares: its JSON-lines output,
the C{GO} line it waits for on stdin, its event loop, the JSON-RPC bodies it
sends and the tally of its verdicts.

C{mcpload.py} (the load generator, the idle holder), C{canned.py} (the
calibration server) and C{stdiodirect.py} (the direct stdio driver) import it;
it imports none of them, so they never import each other around a circle.
Standard library only (uvloop when it is importable).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from typing import Any

PROTOCOL_VERSION = "2025-11-25"
_perf = time.perf_counter_ns
_mono = time.monotonic
_loads = json.loads


def out(event: str, **fields: Any) -> None:
    """One JSON line on stdout (C{{"event": event, ...}}), flushed: what the
    orchestrator reads."""
    sys.stdout.write(json.dumps({"event": event, **fields}, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def raiseNofile() -> int:
    """Raise the open-files limit to its hard limit (thousands of sessions)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def cpuSeconds() -> float:
    """User + system CPU seconds of this process."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def newLoop() -> tuple[asyncio.AbstractEventLoop, str]:
    """A uvloop loop when it is importable (unless C{MCPLOAD_NO_UVLOOP=1}),
    else asyncio's, with its name for the output."""
    if os.environ.get("MCPLOAD_NO_UVLOOP") != "1":
        try:
            import uvloop  # type: ignore[import-not-found, unused-ignore]

            return uvloop.new_event_loop(), "uvloop " + uvloop.__version__
        except ImportError:
            pass
    return asyncio.new_event_loop(), "asyncio"


async def readLine() -> str:
    """One line of stdin without blocking the loop."""
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


def initializeBody(clientName: str = "mcpload") -> bytes:
    """The C{initialize} request (id 0) a worker opens a session with."""
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": clientName, "version": "1"},
            },
        },
        separators=(",", ":"),
    ).encode()


INITIALIZED = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'
CALL_TEMPLATE = (
    b'{"jsonrpc":"2.0","id":%d,"method":"tools/call",'
    b'"params":{"name":"echo","arguments":{"message":"%s"}}}'
)


class Tally:
    """The verdicts of a worker's calls (ok, error, misrouted, lost), its
    latencies and a few samples of what went wrong."""

    def __init__(self) -> None:
        self.ok = 0
        self.errors = 0
        self.misrouted = 0
        self.lost = 0
        self.json = 0
        self.sse = 0
        self.notifications = 0
        self.samples: list[str] = []
        self.latNs: list[int] = []

    def sample(self, text: str) -> None:
        if len(self.samples) < 5:
            self.samples.append(text[:300])

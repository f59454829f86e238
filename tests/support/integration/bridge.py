"""What tests/integration/bridge/test_bridge.py shares with the other tests: DEMO,
freePort, and the one-shot session piped into a bridge (L{pipedSession},
L{echoed})."""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.integration.gateway import freePort as freePort  # one per worker
from tests.support.mcpclient import initializeMessage

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
INITIALIZE = initializeMessage(1, name="pipe")
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
CALL = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {"name": "echo", "arguments": {"message": "through the bridge"}},
}


def pipedSession() -> str:
    """What a one-shot client pipes into a bridge: initialize, initialized,
    a call of the demo's echo (then its stdin ends)."""
    return "".join(json.dumps(m) + "\n" for m in (INITIALIZE, INITIALIZED, CALL))


def echoed(answers: list[dict[str, Any]]) -> str:
    """The text the echo call of L{pipedSession} got back."""
    [call] = [a for a in answers if a.get("id") == 2]
    return str(call["result"]["content"][0]["text"])

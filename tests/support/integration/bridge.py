"""What tests/integration/test_bridge.py shares with the other tests: DEMO,
freePort."""

from __future__ import annotations

import socket
import sys

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

"""Under a service manager: the real gateway tells systemd it is ready once it
serves, and that it is stopping (the systemd part)."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import RunningGateway

pytestmark = pytest.mark.integration


def test_ready_once_serving_and_stopping_on_sigterm(start: Any, home: Path) -> None:
    path = home / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    listener.settimeout(20)
    try:
        gateway: RunningGateway = start(env={"NOTIFY_SOCKET": str(path)})
        ready = listener.recv(4096).decode()
        assert "READY=1" in ready and f"MAINPID={gateway.process.pid}" in ready, ready
        with urllib.request.urlopen(f"http://127.0.0.1:{gateway.port}/health", timeout=5) as r:
            assert json.loads(r.read())["status"] == "ok"
        gateway.stop()
        assert "STOPPING=1" in listener.recv(4096).decode()
    finally:
        listener.close()

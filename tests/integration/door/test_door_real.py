"""On a real gateway without authentication, run as root: root's own
connections are served; a throwaway ordinary account's get 403 on
C{/health}, on a server's C{/mcp} and on the management API (a server it
asks to add is not added), and the gateway's log names its uid and user
name. Linux (the kernel names the account), as root (C{useradd}), as CI
runs."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import RunningGateway, waitFor, writeConfig
from tests.integration.sandboxkit import accountOrSkip, launcherPython

pytestmark = [
    pytest.mark.integration,
    pytest.mark.front,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux: the kernel names"),
]

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "door-test", "version": "1"},
    },
}
ADD = {"name": "mine", "command": "/bin/sh", "args": ["-c", "id > /tmp/owned"]}

CLIENT = """
import http.client, json, sys
port, initialize, add = int(sys.argv[1]), sys.argv[2], sys.argv[3]
asks = [
    ("GET", "/health", None, {}),
    ("POST", "/demo/mcp", initialize,
     {"content-type": "application/json", "accept": "application/json, text/event-stream"}),
    ("GET", "/api/v1/servers", None, {}),
    ("POST", "/api/v1/servers", add, {"content-type": "application/json"}),
]
out = []
for method, path, body, headers in asks:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    out.append([path, response.status, response.read().decode("utf-8", "replace")])
    connection.close()
print(json.dumps(out))
"""
"""What the other account runs: stdlib only (its Python runs with C{-I -S})."""


def ask(port: int, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method=method
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return int(response.status), response.read()


def test_only_the_owners_connections_are_served(tmp_path: Path) -> None:
    account = accountOrSkip()
    try:
        python = launcherPython(account)
        config = writeConfig(tmp_path / "servers.json", {"demo": DEMO})
        gateway = RunningGateway(["--config", str(config)], tmp_path)
        try:
            assert ask(gateway.port, "GET", "/health")[0] == 200
            assert ask(gateway.port, "POST", "/demo/mcp", INITIALIZE)[0] == 200
            assert ask(gateway.port, "GET", "/api/v1/servers")[0] == 200
            ran = subprocess.run(
                [
                    *account.prefix(),
                    python,
                    "-I",
                    "-S",
                    "-c",
                    CLIENT,
                    str(gateway.port),
                    json.dumps(INITIALIZE),
                    json.dumps(ADD),
                ],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=account.home,
            )
            assert ran.returncode == 0, ran.stderr
            answers = json.loads(ran.stdout)
            assert [(path, status) for path, status, _ in answers] == [
                ("/health", 403),
                ("/demo/mcp", 403),
                ("/api/v1/servers", 403),
                ("/api/v1/servers", 403),
            ]
            for _, _, body in answers:
                message = json.loads(body)["error"]["message"]
                assert message == (
                    "this gateway serves only the connections of its owner's account (uid 0);"
                    f" this one comes from uid {account.uid}"
                )
            line = f"uid {account.uid} ({account.name}) is not the gateway's owner (uid 0)"
            assert waitFor(lambda: line in gateway.text()), gateway.text()
            assert gateway.text().count(line) == 1  # one line a minute per account
            status, servers = ask(gateway.port, "GET", "/api/v1/servers")
            assert status == 200 and b'"mine"' not in servers
        finally:
            gateway.stop()
    finally:
        account.remove()

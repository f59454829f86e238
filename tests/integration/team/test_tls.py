"""TLS: a gateway on an C{ssl:} endpoint string serves MCP and
C{/health} over https (the Python SDK trusting a self-signed CA made here
with C{cryptography}), plain HTTP to the TLS port gets nothing, a missing
key file is one line, C{mcpgateway status} speaks https to it, and
C{mcpgateway restart} keeps TLS on the socket the successor adopts."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import ssl
import urllib.request
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from tests.integration.gateway import (
    RunningGateway,
    echoOn,
    gatewayEnv,
    refusedStart,
    selfSigned,
    twistCommand,
    waitFor,
)
from tests.integration.restartkit import cli

pytestmark = pytest.mark.integration


def tlsPort(key: Path, cert: Path) -> str:
    return f"ssl:0:privateKey={key}:certKey={cert}:interface=127.0.0.1"


def httpsHealth(port: int, cert: Path) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=str(cert))
    with urllib.request.urlopen(
        f"https://127.0.0.1:{port}/health", timeout=10, context=context
    ) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def plainHttpFails(port: int) -> bool:
    """Whether a plain HTTP request to C{port} gets no HTTP answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/health")
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        return True
    finally:
        connection.close()
    return False


def echoOverHttps(port: int, cert: Path, message: str) -> str:
    async def main() -> str:
        context = ssl.create_default_context(cafile=str(cert))
        async with httpx2.AsyncClient(verify=context, timeout=30) as http:
            return await echoOn(http, f"https://127.0.0.1:{port}/demo/mcp", message)

    return anyio.run(main)


def test_the_sdk_and_health_over_https_and_plain_http_gets_nothing(home: Path, start: Any) -> None:
    key, cert = selfSigned(home)
    gateway: RunningGateway = start("--port", tlsPort(key, cert))
    assert echoOverHttps(gateway.port, cert, "over tls") == "over tls"
    assert httpsHealth(gateway.port, cert)["status"] == "ok"
    assert plainHttpFails(gateway.port)
    untrusted = ssl.create_default_context()  # the system's CAs only: refused
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(
            f"https://127.0.0.1:{gateway.port}/health", timeout=10, context=untrusted
        )


def test_the_cli_status_speaks_https(home: Path, start: Any) -> None:
    """C{mcpgateway status} reaches a gateway on TLS (state.json says so),
    trusting its self-signed certificate on loopback, and prints https."""
    key, cert = selfSigned(home)
    gateway: RunningGateway = start("--port", tlsPort(key, cert))
    status = cli(home, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"https://127.0.0.1:{gateway.port}/<server>/mcp" in status.stdout, status.stdout


def test_a_missing_key_file_is_one_line(home: Path) -> None:
    _, cert = selfSigned(home)
    missing = home / "nothing.pem"
    environ = gatewayEnv(home)
    result = refusedStart(
        [*twistCommand(), "--port", tlsPort(missing, cert)],
        home,
        environ,
    )
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"mcpgateway: --port: the TLS private key file {missing}: No such file or directory"
    ], result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_restart_keeps_tls(home: Path, start: Any) -> None:
    key, cert = selfSigned(home)
    gateway: RunningGateway = start("--port", tlsPort(key, cert))
    port = gateway.port
    assert echoOverHttps(port, cert, "before") == "before"
    stateFile = home / "state" / "state.json"
    old = json.loads(stateFile.read_text())["pid"]
    restarted = cli(home, "restart")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    new = json.loads(stateFile.read_text())["pid"]
    assert new != old
    try:
        # The successor serves the same port, over TLS (never plaintext).
        # Until the predecessor reads the successor's word on their link, both
        # accept from the one socket: a connection made right after `restart`
        # returns may still be the old process's (answered, with Connection:
        # close); the next ones are the successor's.
        assert waitFor(lambda: httpsHealth(port, cert)["pid"] == new, timeout=10)
        assert echoOverHttps(port, cert, "after") == "after"
        # The old process (a child of this test: reaped here) finishes and exits.
        assert waitFor(lambda: gateway.process.poll() is not None, timeout=40)
        assert httpsHealth(port, cert)["pid"] == new
        assert plainHttpFails(port)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(new, signal.SIGTERM)
        waitFor(lambda: not Path(f"/proc/{new}").exists(), timeout=30)

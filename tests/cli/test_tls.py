"""The command and a gateway on TLS (C{--port ssl:...}, C{"tls": true} in
its C{state.json}): every request and every URL it prints is https, and its
opener trusts a self-signed certificate on loopback only, as
C{python -m mcpgateway.healthcheck} does. No socket: a fake opener, and the
real opener's https handler with its connection step replaced."""

from __future__ import annotations

import json
import os
import ssl
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.cli import bridge as cli_bridge
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.http import GatewayClient, GatewayHTTPSHandler, loopbackOpener
from mcpgateway.ops.gatewayprobe import GatewayProbe, gatewayUrl
from tests.cli.support import HEALTH, SERVERS, SESSIONS, Cli, check, run, writeState
from tests.support.cli.http import FakeOpener
from tests.support.cli.restart import NEW, OLD, Scene

BASE = "https://127.0.0.1:9100"


def tlsClient(ctx: CliContext) -> FakeOpener:
    opener = FakeOpener({"/health": HEALTH, "/sessions": SESSIONS, "/api/v1/servers": SERVERS})
    ctx.http = GatewayClient(opener, environ={})
    return opener


def test_status_of_a_tls_gateway_asks_and_prints_https(
    stateDir: Path, locked: None, ctx: CliContext, cli: Cli
) -> None:
    writeState(stateDir, os.getpid(), 9100, tls=True)
    opener = tlsClient(ctx)
    code, out, err = cli("status")
    assert (code, err) == (0, "")
    assert [(method, url) for method, url, *_ in opener.requests] == [
        ("GET", f"{BASE}/health"),
        ("GET", f"{BASE}/sessions"),
    ]
    assert f"{BASE}/<server>/mcp" in out
    assert "http://" not in out


def test_doctor_checks_the_health_of_a_tls_gateway_over_https(
    stateDir: Path, locked: None, ctx: CliContext
) -> None:
    writeState(stateDir, os.getpid(), 9100, tls=True)
    opener = tlsClient(ctx)
    assert check(stateDir, "health", ctx).status == "pass"
    assert ("GET", f"{BASE}/health") in [(m, u) for m, u, *_ in opener.requests]


def test_servers_list_of_a_tls_gateway_uses_https(
    stateDir: Path, locked: None, ctx: CliContext, cli: Cli
) -> None:
    writeState(stateDir, os.getpid(), 9100, tls=True)
    opener = tlsClient(ctx)
    code, _, err = cli("servers", "list", "--json")
    assert (code, err) == (0, "")
    assert {url for _, url, *_ in opener.requests} <= {
        f"{BASE}/api/v1/servers",
        f"{BASE}/health",
        f"{BASE}/sessions",
    }
    assert opener.requests


def test_a_plain_gateway_stays_http(
    stateDir: Path, locked: None, ctx: CliContext, cli: Cli
) -> None:
    writeState(stateDir, os.getpid(), 9100, tls=False)
    opener = tlsClient(ctx)
    assert cli("status")[0] == 0
    assert {url.split(":", 1)[0] for _, url, *_ in opener.requests} == {"http"}


def test_restart_of_a_tls_gateway_prints_https(
    capsys: pytest.CaptureFixture[str],
    stateDir: Path,
    ctx: CliContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def running(pid: int) -> GatewayProbe:
        state = {"pid": pid, "port": 9100, "interface": "127.0.0.1", "tls": True}
        return GatewayProbe(stateDir, state, alive=True, locked=True)

    scene = Scene(stateDir, [running(OLD), running(NEW)])
    monkeypatch.setattr("mcpgateway.cli.restart.os.kill", scene.kill)
    code, out, _ = run(capsys, stateDir, "restart", "--json", ctx=scene.context(ctx))
    assert code == 0
    assert json.loads(out)["url"] == BASE


@pytest.mark.parametrize(
    ("state", "url"),
    [
        ({"port": 9100, "tls": True}, "https://127.0.0.1:9100"),
        ({"port": 9100, "interface": "0.0.0.0", "tls": True}, "https://127.0.0.1:9100"),
        ({"port": 9100, "interface": "::", "tls": True}, "https://[::1]:9100"),
        ({"port": 9100, "interface": "10.1.2.3", "tls": True}, "https://10.1.2.3:9100"),
        ({"port": 9100, "tls": "yes"}, "http://127.0.0.1:9100"),
        ({"port": 9100}, "http://127.0.0.1:9100"),
    ],
)
def test_the_base_url_follows_the_state(state: dict[str, Any], url: str) -> None:
    assert GatewayProbe(Path("/state"), state).baseUrl() == url


def test_gateway_url_is_http_unless_told() -> None:
    assert gatewayUrl(9100) == "http://127.0.0.1:9100"
    assert gatewayUrl(9100, "::1", tls=True) == "https://[::1]:9100"


def contextFor(url: str, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """The TLS context the real opener's https handler connects to C{url} with."""
    handlers: list[Any] = loopbackOpener().handlers  # type: ignore[attr-defined]
    [handler] = [h for h in handlers if isinstance(h, GatewayHTTPSHandler)]
    used: dict[str, Any] = {}

    def doOpen(connection: Any, request: urllib.request.Request, **kwargs: Any) -> Any:
        used.update(kwargs)
        return None

    monkeypatch.setattr(handler, "do_open", doOpen)
    handler.https_open(urllib.request.Request(url))
    context: ssl.SSLContext = used["context"]
    return context


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1:9100/health", "https://[::1]:9100/health", "https://localhost:1/"]
)
def test_the_opener_accepts_a_self_signed_certificate_on_loopback(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = contextFor(url, monkeypatch)
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_NONE, False)


def test_the_opener_verifies_a_certificate_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    context = contextFor("https://10.1.2.3:9100/health", monkeypatch)
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)


def test_the_bridge_keeps_tls_for_a_tls_gateway(
    stateDir: Path, ctx: CliContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bridge to a server of a gateway on TLS needs pyOpenSSL: the command
    does not leave it out."""
    words: list[list[str]] = []

    def leaveOutTLS(given: list[str]) -> bool:
        words.append(list(given))
        return False

    monkeypatch.setattr(cli_bridge, "leaveOutTLS", leaveOutTLS)
    monkeypatch.setattr("mcpgateway.bridge.main.runBridge", lambda options: 0)
    ctx.probe = lambda d: GatewayProbe(d, {"pid": 7, "port": 9100, "tls": True})
    assert cli_bridge.cmdBridge(_bridgeArgs(stateDir, "demo"), None, ctx) == 0  # type: ignore[arg-type]
    assert any("https://" in w for w in words[0])


def _bridgeArgs(stateDir: Path, target: str) -> Any:
    from mcpgateway.cli.main import makeParser

    return makeParser().parse_args(["bridge", target, "--state-dir", str(stateDir)])

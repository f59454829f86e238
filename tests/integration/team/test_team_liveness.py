"""On a real token-mode gateway, C{/health} and C{/metrics} tell a caller
without an admin's token only that the gateway lives; an admin's token
shows everything, C{--public-health} the figures to all; the container's
health probe and C{mcpgateway status} still work on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import REPO, RunningGateway, writeConfig
from tests.support.auth.tokens import addToken

pytestmark = pytest.mark.integration

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}


def get(port: int, path: str, token: str | None = None) -> tuple[int, str, bytes]:
    """Status, content type and body of C{GET path}."""
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=15) as response:
        return int(response.status), response.headers["content-type"], response.read()


def team(home: Path, start: Any, *extra: str) -> tuple[RunningGateway, str, str]:
    """A gateway with tokens serving C{secretserver}; alice's token and
    root's (an admin's)."""
    tokens = home / "tokens.json"
    alice = addToken(tokens, "alice", ["secretserver"])
    root = addToken(tokens, "root", admin=True)
    config = writeConfig(home / "servers.json", {"secretserver": DEMO})
    gateway = start("--config", str(config), "--auth-tokens", str(tokens), *extra)
    return gateway, alice, root


def cli(home: Path, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HOME": str(home),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    for name in ("MCPGATEWAY_TOKEN", "MCPGATEWAY_API_TOKEN"):
        env.pop(name, None)
    if token is not None:
        env["MCPGATEWAY_TOKEN"] = token
    return subprocess.run(
        [sys.executable, *args, "--state-dir", str(home / "state")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_health_and_metrics_tell_only_liveness_without_an_admins_token(
    start: Any, home: Path
) -> None:
    gateway, alice, root = team(home, start)
    port = gateway.port
    for token in (None, alice, "mcpgw_" + "A" * 43):
        status, kind, body = get(port, "/health", token)
        assert status == 200 and kind == "application/json"
        health = json.loads(body)
        assert set(health) == {"status", "detail", "hint"} and health["status"] == "ok"
        assert health["detail"] == "liveness"
        status, kind, body = get(port, "/metrics", token)
        assert status == 200 and kind.startswith("text/plain; version=0.0.4")
        samples = [line for line in body.decode().splitlines() if not line.startswith("#")]
        assert samples == ["mcpgateway_up 1"]
        for secret in (b"secretserver", str(gateway.process.pid).encode()):
            assert secret not in body
    whole = gateway.health(root)
    assert "secretserver" in whole["servers"] and whole["pid"] == gateway.process.pid
    assert whole["auth"]["mode"] == "tokens"
    _, _, metrics = get(port, "/metrics", root)
    assert b'server="secretserver"' in metrics and b"mcpgateway_build_info" in metrics

    # The container's HEALTHCHECK needs no token: liveness is what it asks.
    probe = cli(home, "-P", "-m", "mcpgateway.healthcheck")
    assert probe.returncode == 0, probe.stderr
    assert probe.stderr.startswith("mcpgateway healthcheck: healthy: http://127.0.0.1:")

    # mcpgateway status: exit 0 and says what it does not show; all of it with root's token.
    shown = cli(home, "-m", "mcpgateway.cli", "status")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "servers, children, requests and sessions not shown" in shown.stdout
    assert "the sessions and the servers not shown" in shown.stdout
    assert "secretserver" not in shown.stdout
    admin = cli(home, "-m", "mcpgateway.cli", "status", token=root)
    assert admin.returncode == 0, admin.stdout + admin.stderr
    assert "secretserver" in admin.stdout and "not shown" not in admin.stdout


def test_public_health_shows_every_caller_the_figures(start: Any, home: Path) -> None:
    gateway, _, _ = team(home, start, "--public-health")
    health = gateway.health()
    assert "secretserver" in health["servers"] and health["detail"] == "hidden"
    assert health["auth"]["mode"] == "tokens"
    _, _, metrics = get(gateway.port, "/metrics")
    assert b'server="secretserver"' in metrics

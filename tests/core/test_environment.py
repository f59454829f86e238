"""A child never inherits the gateway's own secrets and settings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway import tap
from mcpgateway.core.environment import childEnvironment, isGatewayOwn
from tests.fakes import FakeProcessReactor, childSpawns, isProbe

GATEWAY_OWN = {
    "MCPGATEWAY_API_TOKEN": "secret-token",
    "MCPGATEWAY_HOME": "/home/u/.mcpgateway",
    "NOTIFY_SOCKET": "/run/systemd/notify",
    "LISTEN_FDS": "1",
    "LISTEN_PID": "123",
    "LISTEN_FDNAMES": "http",
}
THE_USERS = {
    "PATH": "/usr/bin",
    "HOME": "/home/u",
    "GITHUB_TOKEN": "ghp_x",
    "MCPGATEWAYISH": "kept",
    "MY_LISTEN_FDS": "kept",
}


def test_child_environment_drops_only_the_gateways_own() -> None:
    assert childEnvironment({**GATEWAY_OWN, **THE_USERS}) == THE_USERS


@given(st.dictionaries(st.text(min_size=1), st.text()))
def test_child_environment_never_leaks_a_gateway_name(environ: dict[str, str]) -> None:
    child = childEnvironment(environ)
    assert not any(isGatewayOwn(name) for name in child)
    assert {k: v for k, v in environ.items() if not isGatewayOwn(k)} == child


def test_children_of_the_service_tree_get_the_stripped_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for name, value in GATEWAY_OWN.items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "servers.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "demo": {
                        "command": sys.executable,
                        "args": ["-m", "mcpgateway.demo"],
                        "prewarm": True,
                        "env": {"OWN": "1"},
                    }
                }
            }
        )
    )
    reactor = FakeProcessReactor()
    options = tap.Options()
    options.parseOptions(
        ["--port", "9301", "--config", str(config), "--state-dir", str(tmp_path / "st")]
    )
    assert options["api-token"] == "secret-token"  # the gateway itself still reads it
    top = tap.makeService(options, reactor)
    top.startService()
    try:
        # The demo's child, and the sandbox's probe (the default --sandbox auto).
        [(_, _, env, _)] = childSpawns(reactor)
        [(_, _, probed, _)] = [spawn for spawn in reactor.spawned if isProbe(spawn)]
        for seen in (env, probed):
            assert seen is not None
            assert not set(GATEWAY_OWN) & set(seen), sorted(set(GATEWAY_OWN) & set(seen))
        assert env is not None and env["OWN"] == "1" and env["HOME"] == str(tmp_path)
    finally:
        top.stopService()

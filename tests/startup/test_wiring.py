"""L{mcpgateway.startup.wiring.Wiring}: what every step of C{makeService}
is built from, made once and never changed on the way."""

from __future__ import annotations

import json
import sys
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.config.workspaces import loadSecret
from mcpgateway.runtime.turnwrites import Unflushed
from mcpgateway.startup import wiring
from mcpgateway.startup.options import Options
from mcpgateway.tuned.turnflush import TurnFlusher
from tests.fakes import FakeProcessReactor


def parse(*argv: str) -> Options:
    options = Options()
    options.parseOptions(list(argv))
    return options


def test_the_steps_share_one_frozen_wiring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / "servers.json"
    config.write_text(
        json.dumps(
            {"mcpServers": {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}}}
        )
    )
    seen: list[wiring.Wiring] = []
    gatewayAndConfig, listener = wiring._gatewayAndConfig, wiring._listener

    def recordingGateway(made: wiring.Wiring) -> Any:
        seen.append(made)
        return gatewayAndConfig(made)

    def recordingListener(made: wiring.Wiring, *produced: Any) -> Any:
        seen.append(made)
        return listener(made, *produced)

    monkeypatch.setattr(wiring, "_gatewayAndConfig", recordingGateway)
    monkeypatch.setattr(wiring, "_listener", recordingListener)
    reactor = FakeProcessReactor()
    options = parse("--port", "9300", "--config", str(config), "--state-dir", str(tmp_path / "st"))
    top = wiring.makeService(options, reactor)
    first, second = seen
    assert first is second
    assert (first.options, first.reactor, first.top) == (options, reactor, top)
    assert (first.successor, first.cluster, first.selfService) == (None, None, None)
    assert first.secret == loadSecret(tmp_path / "st")  # read once, before the gateway
    with pytest.raises(FrozenInstanceError):
        first.reactor = FakeProcessReactor()  # type: ignore[misc]


def test_the_state_says_whose_path_the_gateway_runs_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For C{status} to say whose C{PATH} a command was not found on."""
    from mcpgateway.runtime.pathrecord import PATH_FROM_ENV, recordPath

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", "/home/u/.nvm/bin:/usr/bin")
    monkeypatch.setenv(PATH_FROM_ENV, "bridge")
    stateDir = tmp_path / "st"
    stateDir.mkdir(mode=0o700)
    recordPath(stateDir, "/home/u/.nvm/bin", "start", now=lambda: 1_700_000_000.0)
    reactor = FakeProcessReactor()
    options = parse("--port", "9302", "--state-dir", str(stateDir), "--sandbox", "off")
    top = wiring.makeService(options, reactor)
    top.startService()
    try:
        reactor.run()  # state.json is written once the reactor runs
        state = json.loads((stateDir / "state.json").read_text())
    finally:
        top.stopService()
    assert state["path"] == {
        "PATH": "/home/u/.nvm/bin:/usr/bin",
        "from": "bridge",
        "recorded": {"by": "start", "at": 1_700_000_000.0},
    }


@pytest.mark.parametrize(("twisted", "kind"), [("tuned", TurnFlusher), ("stock", Unflushed)])
def test_the_children_and_the_site_share_the_flusher_the_runtime_picks(
    twisted: str, kind: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Start-up hands the spawner its turn flusher (C{core} knows only the
    interface), and the site sends its connections' writes with the same."""
    monkeypatch.setenv("HOME", str(tmp_path))
    reactor = FakeProcessReactor()
    options = parse(
        "--port", "9303", "--state-dir", str(tmp_path / "st"), "--sandbox", "off",
        "--twisted", twisted,
    )  # fmt: skip
    top = wiring.makeService(options, reactor)
    top.startService()
    try:
        [(_, site, _, _)] = reactor.tcpServers
        flusher = site.gateway.spawner.flusher  # type: ignore[attr-defined]
        assert type(flusher) is kind and site.flusher is flusher  # type: ignore[attr-defined]
    finally:
        top.stopService()

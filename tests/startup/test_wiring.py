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
from mcpgateway.startup import wiring
from mcpgateway.startup.options import Options
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

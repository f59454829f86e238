"""C{--no-lazy-start} reaches the gateway: without it, start-ups of shared
servers may be answered from their saved catalogs; with it, none is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcpgateway import tap
from tests.fakes import FakeProcessReactor


@pytest.mark.parametrize(("argv", "enabled"), [((), True), (("--no-lazy-start",), False)])
def test_the_switch_reaches_the_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...], enabled: bool
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    options = tap.Options()
    options.parseOptions([*argv, "--state-dir", str(tmp_path / "st")])
    reactor = FakeProcessReactor()
    top = tap.makeService(options, reactor)
    top.startService()
    try:
        [(_, site, _, _)] = reactor.tcpServers
        gateway: Any = getattr(site, "gateway", None)
        assert gateway.settings.lazyStart is enabled
        assert gateway.servers.catalogServe.enabled is enabled
    finally:
        top.stopService()

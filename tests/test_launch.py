"""L{mcpgateway.launch}: twistd with the gateway as its only plugin, no discovery."""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Callable
from typing import Any

import pytest
from twisted.application.service import IServiceMaker
from twisted.plugin import IPlugin
from twisted.python.usage import UsageError

from mcpgateway import launch, tap


def capturedOptions(monkeypatch: pytest.MonkeyPatch) -> Callable[[], Any]:
    """Run L{launch.twistd} with Twisted's C{app.run} caught: the options
    class it was given. Plugin discovery, if anything tried it, fails."""
    given: list[Any] = []

    def run(runApp: object, optionsClass: Any) -> None:
        given.append(optionsClass)

    def noDiscovery(*args: object, **kwargs: object) -> None:
        raise AssertionError("plugin discovery ran")

    monkeypatch.setattr("twisted.application.app.run", run)
    monkeypatch.setattr("twisted.plugin.getPlugins", noDiscovery)
    try:
        launch.twistd()
        assert not gc.isenabled()  # until the reactor's first turn (GcTuning)
    finally:
        gc.enable()
    [optionsClass] = given
    return optionsClass  # type: ignore[no-any-return]


def test_the_service_is_made_with_the_collector_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start-up's imports are not walked by the collector: it is off while
    the runners make the service, until GcTuning's first turn."""
    seen: list[bool] = []

    def makeService(options: object) -> str:
        seen.append(gc.isenabled())
        return "the service"

    monkeypatch.setattr(tap, "makeService", makeService)
    try:
        assert launch.GATEWAY.makeService(tap.Options()) == "the service"
        assert seen == [False] and not gc.isenabled()
    finally:
        gc.enable()


def test_the_only_plugin_is_the_one_discovery_finds() -> None:
    from twisted.plugin import getPlugins

    found = [p for p in getPlugins(IServiceMaker) if p.tapname == "mcpgateway"]
    assert found == [launch.GATEWAY]
    assert importlib.import_module("twisted.plugins.mcpgateway_plugin").mcpgateway is launch.GATEWAY
    assert list(launch.onlyGateway(IServiceMaker)) == [launch.GATEWAY]
    assert list(launch.onlyGateway(IPlugin)) == []


def test_twistd_runs_the_gateway_without_plugin_discovery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = capturedOptions(monkeypatch)()
    options.parseOptions(["--pidfile=", "mcpgateway", "--port", "9100"])
    assert options.subCommand == "mcpgateway"
    assert options.subOptions["port"] == "9100"
    assert options["pidfile"] == ""


def test_twistd_knows_no_other_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    options = capturedOptions(monkeypatch)()
    with pytest.raises(UsageError):
        options.parseOptions(["web", "--port", "8080"])


def parsedThroughLaunch(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> list[object]:
    """Parse C{argv} (twistd's options, then C{mcpgateway} and its own) as
    L{launch.twistd} has twistd parse them, with C{--reactor} installing a
    stand-in: what each install of the gateway's reactor saw of pyOpenSSL
    (C{None}: marked unavailable, as
    L{mcpgateway.startup.endpoints.leaveOutTLS} does), in order."""
    from twisted.application import reactors

    seen: list[object] = []

    def installGateway() -> None:
        seen.append(sys.modules.get("OpenSSL", "absent"))

    def installNamed(shortName: str) -> None:
        sys.modules["twisted.internet.reactor"] = object()  # type: ignore[assignment]

    monkeypatch.setattr("mcpgateway.tuned.reactor.install", installGateway)
    monkeypatch.setattr("mcpgateway.tuned.reactor.AVAILABLE", True)
    monkeypatch.setattr(reactors, "installReactor", installNamed)
    monkeypatch.delitem(sys.modules, "twisted.internet.reactor", raising=False)
    monkeypatch.delitem(sys.modules, "OpenSSL", raising=False)
    monkeypatch.setattr(sys, "argv", ["twistd", *argv])
    options = capturedOptions(monkeypatch)()
    assert seen == []  # launch.twistd itself installs nothing
    options.parseOptions(argv)
    return seen


@pytest.mark.usefixtures("defaultTwisted")  # what runs by default
def test_the_launch_installs_the_gateways_reactor_after_leaving_tls_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As C{mcpgateway start} runs it, the gateway's reactor goes in when the
    gateway's options are parsed, after pyOpenSSL was marked unavailable for
    a gateway on plain TCP: the reactor's C{twisted.internet.tcp} then
    loads neither pyOpenSSL nor cryptography."""
    seen = parsedThroughLaunch(monkeypatch, ["mcpgateway", "--port", "tcp:0:interface=127.0.0.1"])
    assert seen == [None]


@pytest.mark.usefixtures("defaultTwisted")  # what runs by default
def test_a_reactor_named_on_the_command_line_is_twistds_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for argv in (["--reactor=poll", "mcpgateway"], ["-r", "poll", "mcpgateway"]):
        assert parsedThroughLaunch(monkeypatch, argv) == []


@pytest.mark.usefixtures("defaultTwisted")  # what runs by default
def test_the_options_install_the_gateways_reactor_when_none_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """twistd and twist parse the plugin's options once their own (a
    --reactor among them) are parsed: the gateway's reactor goes in then,
    after TLS and the reactor's UDP/UNIX modules were left out, unless one
    is installed already or the system has no epoll."""
    from mcpgateway.tuned import reactor

    installed: list[str] = []
    monkeypatch.setattr(reactor, "install", lambda: installed.append("gateway"))
    monkeypatch.delitem(sys.modules, "twisted.internet.reactor", raising=False)
    monkeypatch.setattr(reactor, "AVAILABLE", True)
    assert launch.GATEWAY.options is tap.RunnerOptions
    tap.Options().parseOptions(["--port", "9305"])  # a service of one's own: nothing
    assert installed == []
    tap.RunnerOptions().parseOptions(["--port", "9305"])
    assert installed == ["gateway"]
    monkeypatch.setattr(reactor, "AVAILABLE", False)
    assert not reactor.installUnlessChosen()
    monkeypatch.setattr(reactor, "AVAILABLE", True)
    monkeypatch.setitem(sys.modules, "twisted.internet.reactor", object())
    assert not reactor.installUnlessChosen()
    tap.RunnerOptions().parseOptions(["--port", "9305"])
    assert installed == ["gateway"]


def test_twisted_stock_leaves_the_reactor_to_twisted(monkeypatch: pytest.MonkeyPatch) -> None:
    """C{--twisted=stock} (or C{$MCPGATEWAY_TWISTED=stock}) installs no
    gateway reactor: Twisted's default one runs."""
    monkeypatch.delenv("MCPGATEWAY_TWISTED", raising=False)
    for argv in (["mcpgateway", "--twisted=stock"], ["mcpgateway", "--twisted", "stock"]):
        assert parsedThroughLaunch(monkeypatch, argv) == []
    monkeypatch.setenv("MCPGATEWAY_TWISTED", "stock")
    assert parsedThroughLaunch(monkeypatch, ["mcpgateway"]) == []
    assert len(parsedThroughLaunch(monkeypatch, ["mcpgateway", "--twisted=tuned"])) == 1

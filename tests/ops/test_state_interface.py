"""C{state.json}'s C{"interface"} is the address the
listening socket is bound to (it said C{127.0.0.1} for a gateway on
C{tcp:PORT:interface=0.0.0.0}), and every reader of it (the CLI's probe,
C{status}, the bridge through L{GatewayProbe.baseUrl}, the container's
health check) still reaches a gateway on every address through loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import Deferred, succeed

from mcpgateway import tap
from mcpgateway.healthcheck import targetOf
from mcpgateway.ops.gatewayprobe import GatewayProbe
from mcpgateway.ops.services import ListenerService
from mcpgateway.runtime.paths import STATE_FILE
from tests.fakes import FakeProcessReactor
from tests.support.auth.tokens import addToken


def stateOf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str) -> dict[str, Any]:
    """The C{state.json} a team gateway on C{endpoint} writes once it listens."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in (
        "MCPGATEWAY_AUTH_TOKENS",
        "MCPGATEWAY_CLUSTER_KEY_FILE",
        "MCPGATEWAY_REPLICA_ID",
        "MCPGATEWAY_CLUSTER_ADVERTISE",
    ):
        monkeypatch.delenv(name, raising=False)
    tokens = tmp_path / "tokens.json"
    addToken(tokens, "alice")
    options = tap.Options()
    options.parseOptions(
        ["--port", endpoint, "--state-dir", str(tmp_path / "st"), "--auth-tokens", str(tokens)]
    )
    reactor = FakeProcessReactor()
    top = tap.makeService(options, reactor)
    top.startService()
    reactor.run()  # state.json is written once the reactor runs
    try:
        state: dict[str, Any] = json.loads((tmp_path / "st" / STATE_FILE).read_text())
    finally:
        top.stopService()
    return state


@pytest.mark.parametrize(
    ("endpoint", "interface", "url", "host"),
    [
        ("tcp:9321:interface=0.0.0.0", "0.0.0.0", "http://127.0.0.1:9321", "127.0.0.1"),
        ("tcp6:9322:interface=\\:\\:", "::", "http://[::1]:9322", "::1"),
    ],
)
def test_state_json_names_the_address_the_socket_is_bound_to(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    endpoint: str,
    interface: str,
    url: str,
    host: str,
) -> None:
    state = stateOf(tmp_path, monkeypatch, endpoint)
    assert state["interface"] == interface
    # Its readers reach it through loopback all the same.
    assert GatewayProbe(tmp_path, state).baseUrl() == url
    assert targetOf(state, "state.json").host == host


class FakePort:
    def __init__(self, address: Any) -> None:
        self.address = address

    def getHost(self) -> Any:
        return self.address


class FakeEndpoint:
    def __init__(self, port: FakePort) -> None:
        self.port = port

    def listen(self, factory: Any) -> Deferred[Any]:
        return succeed(self.port)


@pytest.mark.parametrize(
    ("address", "host"),
    [
        (IPv4Address("TCP", "0.0.0.0", 9100), "0.0.0.0"),
        (IPv4Address("TCP", "127.0.0.2", 9100), "127.0.0.2"),
        (IPv6Address("TCP", "::", 9100), "::"),
        (UNIXAddress(b"/run/gw.sock"), None),
    ],
)
def test_the_listener_says_the_address_its_socket_reports(address: Any, host: str | None) -> None:
    heard: list[tuple[int, str | None]] = []
    reactor = FakeProcessReactor()
    listener = ListenerService(
        FakeEndpoint(FakePort(address)),  # type: ignore[arg-type]
        "tcp:9100",
        object(),
        reactor,
        exit=lambda code: None,
        onListening=lambda port: heard.append((port, listener.host)),
    )
    assert listener.host is None  # not listening yet
    listener.startService()
    reactor.run()
    assert heard == [(getattr(address, "port", 0), host)]

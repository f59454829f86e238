"""systemd: C{READY=1}/C{STOPPING=1} on a real notify socket, and the gateway
on a socket systemd passed in (C{--port systemd:domain=INET:index=0})."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.application.service import MultiService
from twisted.internet.endpoints import AdoptedStreamServerEndpoint, _SystemdParser, serverFromString
from twisted.internet.testing import MemoryReactor
from twisted.python.systemd import ListenFDs
from twisted.web.resource import Resource
from twisted.web.server import Site

from mcpgateway import tap
from mcpgateway.ops.services import ListenerService
from mcpgateway.ops.systemd import SystemdNotifyService, adoptsLoopback, notifyAddress, sdNotify

SYSTEMD_PORT = "systemd:domain=INET:index=0"


@pytest.fixture
def notifySocket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    """A datagram socket bound where systemd's C{$NOTIFY_SOCKET} would be."""
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield path, sock
    sock.close()


def received(sock: socket.socket) -> dict[str, str]:
    datagram = sock.recv(4096).decode("utf-8")
    return dict(line.split("=", 1) for line in datagram.split("\n"))


def pending(sock: socket.socket) -> bool:
    """Whether a datagram is waiting (without waiting for one)."""
    sock.setblocking(False)
    try:
        sock.recv(4096)
    except BlockingIOError:
        return False
    finally:
        sock.settimeout(5)
    return True


def test_ready_once_listening_and_stopping_when_stopped(
    notifySocket: tuple[str, socket.socket],
) -> None:
    path, sock = notifySocket
    service = SystemdNotifyService(path, getpid=lambda: 4242)
    service.startService()
    assert not pending(sock)  # started is not yet serving
    service.listening(9100)
    assert received(sock) == {
        "READY": "1",
        "MAINPID": "4242",
        "STATUS": "listening on port 9100",
    }
    service.listening(9100)  # once only
    assert not pending(sock)
    service.stopService()
    assert received(sock)["STOPPING"] == "1"


def test_abstract_namespace_socket() -> None:
    name = f"mcpgateway-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(5)
        assert sdNotify("@" + name, "READY=1")
        assert sock.recv(100) == b"READY=1"


def test_without_a_notify_socket_nothing_is_sent() -> None:
    sent: list[tuple[str | None, str]] = []

    def notify(path: str | None, state: str) -> bool:
        sent.append((path, state))
        return True

    for path in (None, ""):
        service = SystemdNotifyService(path, notify=notify)
        assert not service.enabled
        service.startService()
        service.listening(9100)
        service.stopService()
    assert sent == []
    assert sdNotify(None, "READY=1") is False


def test_a_missing_notify_socket_is_logged_not_raised(tmp_path: Path) -> None:
    service = SystemdNotifyService(str(tmp_path / "gone"))
    service.startService()
    service.listening(9100)  # must not raise: the gateway serves anyway
    service.stopService()
    assert sdNotify(str(tmp_path / "gone"), "READY=1") is False


@settings(max_examples=60)
@given(st.text(max_size=40))
def test_any_notify_socket_value_is_an_address_or_none(value: str) -> None:
    address = notifyAddress(value)
    if value.startswith("/"):
        assert address == value
    elif value.startswith("@"):
        assert address == b"\0" + os.fsencode(value[1:])
    else:
        assert address is None


# -- socket activation ------------------------------------------------------------------


@pytest.fixture
def inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if systemd passed one listening socket (fd 3, named by its unit):
    the environment Twisted's C{systemd:} parser reads when imported."""
    environ = {
        "LISTEN_PID": str(os.getpid()),
        "LISTEN_FDS": "1",
        "LISTEN_FDNAMES": "mcpgateway.socket",
    }
    monkeypatch.setattr(_SystemdParser, "_sddaemon", ListenFDs.fromEnvironment(environ))


def test_port_option_takes_the_systemd_endpoint_as_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    options = tap.Options()
    options.parseOptions(["--port", SYSTEMD_PORT, "--state-dir", str(tmp_path / "st")])
    assert options["endpoint"] == SYSTEMD_PORT


def test_the_gateway_listens_on_the_inherited_socket_then_says_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inherited: None
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    options = tap.Options()
    options.parseOptions(["--port", SYSTEMD_PORT, "--state-dir", str(tmp_path / "st")])
    reactor = MemoryReactor()
    endpoint = serverFromString(reactor, options["endpoint"])
    assert isinstance(endpoint, AdoptedStreamServerEndpoint)
    assert (endpoint.fileno, endpoint.addressFamily) == (3, socket.AF_INET)

    sent: list[str] = []

    def record(path: str | None, state: str) -> bool:
        sent.append(state)
        return True

    notify = SystemdNotifyService("/run/user/1000/systemd/notify", notify=record)
    top = MultiService()
    notify.setServiceParent(top)
    closed: list[int] = []
    monkeypatch.setattr(AdoptedStreamServerEndpoint, "_close", staticmethod(closed.append))
    monkeypatch.setattr(
        AdoptedStreamServerEndpoint, "_setNonBlocking", staticmethod(lambda fd: None)
    )
    site = Site(Resource())
    ListenerService(
        endpoint, options["endpoint"], site, reactor, onListening=notify.listening
    ).setServiceParent(top)
    top.startService()
    assert sent == []  # ready once the reactor runs, and answers
    reactor.run()
    assert [(fd, family) for fd, family, _ in reactor.adoptedPorts] == [(3, socket.AF_INET)]
    assert reactor.adoptedPorts[0][2] is site
    assert closed == [3]  # Twisted's copy is adopted; the original fd is closed
    assert sent == [f"READY=1\nMAINPID={os.getpid()}\nSTATUS=listening on port 1234"]
    top.stopService()
    assert sent[-1].startswith("STOPPING=1")


def test_without_inherited_sockets_the_endpoint_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_SystemdParser, "_sddaemon", ListenFDs.fromEnvironment({}))
    with pytest.raises(IndexError):
        serverFromString(MemoryReactor(), SYSTEMD_PORT)


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("0.0.0.0", False)])
def test_an_inherited_socket_on_loopback_keeps_the_loopback_guard(
    host: str, loopback: bool
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        endpoint = AdoptedStreamServerEndpoint(MemoryReactor(), sock.fileno(), socket.AF_INET)
        assert adoptsLoopback(endpoint) is loopback
        sock.getsockname()  # still open: only a duplicate was read and closed
    assert adoptsLoopback(serverFromString(MemoryReactor(), "tcp:0")) is False

"""The gateway's socket is taken before anything else starts: a port another
process holds stops the start before a server is installed, probed or
spawned, under twistd (the privileged start, after daemonizing) and under
C{twist} (the start alone)."""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from twisted.application.service import IService
from twisted.internet.error import CannotListenError
from twisted.logger import LogLevel, capturedLogs, formatEvent

from mcpgateway import tap
from tests.fakes import FakeProcessReactor


class TakenPortReactor(FakeProcessReactor):
    """A reactor on which every TCP port is held by another socket."""

    def listenTCP(self, port: int, factory: Any, backlog: int = 50, interface: str = "") -> Any:
        raise CannotListenError(
            interface, port, OSError(errno.EADDRINUSE, "Address already in use")
        )


def twistd(top: IService) -> None:
    """How twistd starts the tree: the privileged start, then the start."""
    top.privilegedStartService()
    top.startService()


def twist(top: IService) -> None:
    """How C{twist} starts it: the start alone."""
    top.startService()


@pytest.fixture
def prewarmed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config whose server is installed (npm) as soon as the gateway
    starts, its npm and npx stand-ins first on C{PATH}."""
    monkeypatch.setenv("HOME", str(tmp_path))
    bin = tmp_path / "bin"
    bin.mkdir()
    for name in ("npm", "npx"):
        (bin / name).write_text("#!/bin/sh\nexit 0\n")
        (bin / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin))
    config = tmp_path / "servers.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "memory": {
                        "command": "npx",
                        "args": ["-y", "@modelcontextprotocol/server-memory@1.0.0"],
                        "prewarm": True,
                    }
                }
            }
        )
    )
    return config


def options(tmp_path: Path, config: Path, *more: str) -> tap.Options:
    parsed = tap.Options()
    parsed.parseOptions(
        ["--port", "9310", "--config", str(config), "--state-dir", str(tmp_path / "st"), *more]
    )
    return parsed


@pytest.mark.parametrize("start", [twistd, twist])
def test_a_port_taken_starts_nothing(
    tmp_path: Path, prewarmed: Path, start: Callable[[IService], None]
) -> None:
    """No install, no sandbox probe, no child, no timer: the one line of
    the start is the port's, and the process stops with exit status 1."""
    reactor = TakenPortReactor()
    top = tap.makeService(options(tmp_path, prewarmed), reactor)
    with capturedLogs() as events:
        start(top)
    assert reactor.spawned == []
    assert reactor.getDelayedCalls() == []
    said = [formatEvent(e) for e in events if e["log_level"] >= LogLevel.warn]
    assert said == [
        "cannot listen on tcp:9310:interface=127.0.0.1: port 9310 is in use;"
        " stop what holds it, or pick another port with --port"
    ]
    assert [hook[0] for hook in reactor.whenRunningHooks] == [reactor.stop]
    [(_, args, _)] = reactor.triggers["after"]["shutdown"]
    assert args == (1,)
    top.stopService()
    assert not (tmp_path / "st" / "state.json").exists()


def test_the_line_reaches_the_log_file(tmp_path: Path, prewarmed: Path) -> None:
    """The log file is the one service that starts: C{mcpgateway start}
    reads the line there."""
    logFile = tmp_path / "gateway.log"
    top = tap.makeService(
        options(tmp_path, prewarmed, "--log-file", str(logFile)), TakenPortReactor()
    )
    twistd(top)
    top.stopService()
    lines = logFile.read_text().splitlines()
    [critical] = [line for line in lines if "#critical]" in line]
    assert critical.endswith(
        "cannot listen on tcp:9310:interface=127.0.0.1: port 9310 is in use;"
        " stop what holds it, or pick another port with --port"
    )
    assert not [line for line in lines if " serving " in line]


def test_a_free_port_is_taken_before_the_servers_start(tmp_path: Path, prewarmed: Path) -> None:
    """Under twistd the socket is bound in the privileged start, before any
    service's start: the install begins only once the port is the gateway's."""
    reactor = FakeProcessReactor()
    top = tap.makeService(options(tmp_path, prewarmed), reactor)
    top.privilegedStartService()
    assert [(port, interface) for port, _, _, interface in reactor.tcpServers] == [
        (9310, "127.0.0.1")
    ]
    assert reactor.spawned == []
    top.startService()
    try:
        assert [port for port, _, _, _ in reactor.tcpServers].count(9310) == 1  # bound once
        assert reactor.spawned != []  # the install, and the sandbox's probe
    finally:
        top.stopService()

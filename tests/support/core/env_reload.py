"""What tests/core/gateway/test_env_reload.py shares with the other tests: Home,
replaced."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from mcpgateway.config.configservice import ENV_POLL, ConfigSettings
from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess, FakeProcessReactor, fakeSpawner
from tests.reloading import initialize, write
from tests.support.config.executables import scripts
from tests.support.config.polling import pollingService

INIT_RESULT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"tools": {}, "resources": {"subscribe": True}, "logging": {}},
    "serverInfo": {"name": "pw", "version": "1"},
}
INITIALIZED = jsonrpc.notification("notifications/initialized")


def result(d: Deferred[Any]) -> Any:
    results: list[Any] = []
    d.addBoth(results.append)
    [value] = results
    return value


class FakeResolver:
    """Resolves C{npx} commands to a cached binary (now, or when told)."""

    def __init__(self, later: bool = False) -> None:
        self.later = later
        self.pending: list[tuple[ServerSpec, Deferred[ServerSpec]]] = []

    def wrapperOf(self, spec: ServerSpec) -> tuple[str, str, list[str]] | None:
        if not spec.command.endswith("npx"):
            return None
        return "npx", spec.args[-1], []

    def resolve(self, spec: ServerSpec) -> Deferred[ServerSpec]:
        if self.later:
            d: Deferred[ServerSpec] = Deferred()
            self.pending.append((spec, d))
            return d
        return succeed(self.resolved(spec))

    def resolved(self, spec: ServerSpec) -> ServerSpec:
        return replace(spec, command="/cache/real", args=("--real",), executable="/cache/real")

    def failureOf(self, spec: ServerSpec) -> str | None:
        return None


class ReloadingHome:
    """A bin directory with C{commands}, a config file with user entries,
    a gateway state directory with its C{.env}, a config service watching
    them and a gateway it reloads (its children fake processes)."""

    def __init__(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        commands: tuple[str, ...],
        dotenv: str = "",
        resolver: FakeResolver | None = None,
    ) -> None:
        self.bin = scripts(tmp_path / "bin", *commands)
        self.exe = str(self.bin / "pw")
        self.stateDir = tmp_path / "state"
        self.stateDir.mkdir()
        self.dotenv = self.stateDir / ".env"
        if dotenv:
            self.dotenv.write_text(dotenv)
        self.config = tmp_path / "claude.json"
        self.document: dict[str, Any] = {"mcpServers": {}, "projects": {}}
        self.keys = WorkspaceKeys(bytes(range(32)))
        self.clock = Clock()
        self.reactor = FakeProcessReactor()
        self.resolver = resolver
        self.gateway: Gateway | None = None
        self.service = pollingService(
            self.config,
            self.stateDir,
            self.clock,
            self.reload,
            ConfigSettings(environ={"PATH": str(self.bin)}, keys=lambda: self.keys),
            monkeypatch,
        )

    def reload(self, specs: Any) -> Deferred[Any]:
        assert self.gateway is not None
        return self.gateway.reconfigurer.reconfigure(specs)

    def start(self) -> Gateway:
        write(self.config, json.dumps(self.document))
        specs = self.service.specs(self.service.source.load())
        self.gateway = Gateway(
            specs, fakeSpawner(self.reactor), resolver=self.resolver, lazyStart=False
        )
        self.gateway.start()
        self.service.startService()
        return self.gateway

    def processOf(self, session: Session) -> FakeProcess:
        assert self.gateway is not None
        pid = self.gateway.pools[session.server].childPid(session)
        [proc] = [p for p in self.reactor.processes if p.pid == pid and pid is not None]
        return proc

    def alive(self, session: Session) -> bool:
        assert self.gateway is not None
        return self.gateway.sessions.get(session.id) is session


class Home(ReloadingHome):
    """A home of user entries whose gateway resolves C{npx} commands
    through C{resolver}."""

    def __init__(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        dotenv: str = "",
        resolver: FakeResolver | None = None,
    ) -> None:
        super().__init__(tmp_path, monkeypatch, ("pw", "npx"), dotenv, resolver)

    def edited(self) -> None:
        """The config file was written: the file poll sees it, the debounce passes."""
        write(self.config, json.dumps(self.document))
        self.clock.advance(2.0)
        self.clock.advance(1.0)

    def envChanged(self, text: str) -> None:
        """The gateway's C{.env} was written: the poll sees it."""
        write(self.dotenv, text)
        self.clock.advance(ENV_POLL)

    def open(self, server: str = "pw", scope: str = "") -> tuple[Session, FakeProcess]:
        assert self.gateway is not None
        spawned = len(self.reactor.processes)
        session, answer = self.gateway.opener.openSession(
            server, initialize(), "2025-11-25", scope=scope
        )
        if len(self.reactor.processes) > spawned:
            self.answerInitialize(self.reactor.lastProcess)
        assert "result" in result(answer)
        return session, self.processOf(session)

    def answerInitialize(self, proc: FakeProcess) -> list[dict[str, Any]]:
        """The child answers the initialize it got; what it got next (but
        a C{notifications/initialized})."""
        [init] = proc.takeMessages()
        assert init["method"] == "initialize"
        proc.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
        return [m for m in proc.takeMessages() if m != INITIALIZED]

    def send(self, session: Session, method: str, params: Any = None) -> Deferred[Any]:
        assert self.gateway is not None
        message = jsonrpc.request(7, method, params)
        return self.gateway.pools[session.server].forward(session, message, None)

    def call(self, session: Session, method: str = "tools/list", params: Any = None) -> Any:
        """A request of C{session}, answered by its child: the answer."""
        d = self.send(session, method, params)
        proc = self.processOf(session)
        [sent] = proc.takeMessages()
        assert sent["method"] == method
        proc.reply(jsonrpc.resultResponse(sent["id"], {"ok": method}))
        return result(d)


def replaced(events: list[Any]) -> list[Any]:
    """The events saying a whole server was replaced (every session ended)."""
    return [e for e in events if "ending its sessions" in e.get("log_format", "")]

"""What tests/core/pools/test_keyedplacement_reload.py shares with the other tests:
Home, reconfigured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred

from mcpgateway.config.configservice import ENV_POLL
from mcpgateway.core.sessions import Session
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess
from tests.reloading import initialize, write
from tests.support.core.env_reload import ReloadingHome

INIT_RESULT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"tools": {}},
    "serverInfo": {"name": "pw", "version": "1"},
}


class Home(ReloadingHome):
    """A home with projects, a config file listing them, a config service
    watching it and a gateway it reloads (its children fake processes)."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(tmp_path, monkeypatch, ("pw", "pw2"))
        self.root = tmp_path

    def project(self, name: str, dotenv: str | None = None) -> Path:
        path = self.root / name
        path.mkdir()
        if dotenv is not None:
            (path / ".env").write_text(dotenv)
        return path

    def define(self, project: Path, entry: dict[str, Any], server: str = "pw") -> None:
        servers = self.document["projects"].setdefault(str(project), {"mcpServers": {}})
        servers["mcpServers"][server] = entry

    def undefine(self, project: Path, server: str = "pw") -> None:
        del self.document["projects"][str(project)]["mcpServers"][server]

    def save(self) -> None:
        write(self.config, json.dumps(self.document))

    def edited(self) -> None:
        """The config file was written: the file poll sees it, the debounce passes."""
        self.save()
        self.clock.advance(2.0)
        self.clock.advance(1.0)

    def poll(self) -> None:
        """The .env poll looks."""
        self.clock.advance(ENV_POLL)

    def open(self, project: Path, server: str = "pw") -> tuple[Session, FakeProcess]:
        assert self.gateway is not None
        spawned = len(self.reactor.processes)
        session, answer = self.gateway.opener.openSession(
            server, initialize(), "2025-11-25", scope=self.keys.key(str(project))
        )
        if len(self.reactor.processes) > spawned:
            self.handshake(self.reactor.lastProcess)
        assert "result" in self.successResult(answer)
        return session, self.processOf(session)

    def handshake(self, proc: FakeProcess) -> list[dict[str, Any]]:
        """The child answers its initialize; what it got next (but the
        gateway's C{notifications/initialized} to a shared child)."""
        [init] = proc.takeMessages()
        assert init["method"] == "initialize"
        proc.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
        initialized = jsonrpc.notification("notifications/initialized")
        return [m for m in proc.takeMessages() if m != initialized]

    def successResult(self, d: Deferred[Any]) -> Any:
        results: list[Any] = []
        d.addBoth(results.append)
        [result] = results
        return result

    def call(self, session: Session) -> dict[str, Any]:
        """A request of C{session} (its child started first if needed): the answer."""
        assert self.gateway is not None
        spawned = len(self.reactor.processes)
        pool = self.gateway.pools[session.server]
        d = pool.forward(session, jsonrpc.request(7, "tools/list"), None)
        rest = []
        if len(self.reactor.processes) > spawned:
            rest = self.handshake(self.reactor.lastProcess)
        proc = self.processOf(session)
        [sent] = rest + proc.takeMessages()
        proc.reply(jsonrpc.resultResponse(sent["id"], {"tools": []}))
        result: dict[str, Any] = self.successResult(d)
        return result


def reconfigured(events: list[Any]) -> list[Any]:
    """The events saying a whole server was replaced (every session ended)."""
    return [e for e in events if "ending its sessions" in e.get("log_format", "")]

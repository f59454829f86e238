"""What tests/web/admin/test_api.py shares with the other tests: ApiHarness, FAKE,
SECRET, TOKEN, assertNoSecrets, error, initializeBody, logged, managedFile."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import maybeDeferred

from mcpgateway.config.configservice import ConfigService
from mcpgateway.config.serversfile import ServersFile
from mcpgateway.config.watched import ConfigSource, PlainFile
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.ops.management import ServerChanges
from mcpgateway.web.admin.api import ApiApp
from mcpgateway.web.admin.sandboxapi import SandboxLike
from mcpgateway.web.app import makeSite
from tests.fakes import FakeProcess, FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.http import Harness, Response

SECRET = "s3cr3t-env-value-4711"
TOKEN = "api-token-0123456789abcdef"
FAKE = sys.executable
"""A command that is on PATH (the children themselves are fakes)."""


class ApiHarness(Harness):
    """A gateway, its config service, servers.json and the API behind a
    real Site; every response is kept in C{responses}."""

    def __init__(
        self,
        stateDir: Path,
        token: str | None = None,
        loopbackOnly: bool = True,
        maxLogStreams: int = 20,
        mainServers: dict[str, Any] | None = None,
        source: ConfigSource | None = None,
        sandbox: SandboxLike | None = None,
    ) -> None:
        """
        @param source: where the servers come from (default: a config file
            with C{mainServers}, served as it is).
        @param sandbox: what C{GET /api/v1/sandbox} reads (C{None}: no sandbox).
        """
        self.reactor = FakeProcessReactor()
        self.stateDir = stateDir
        stateDir.mkdir(mode=0o700, exist_ok=True)
        configPath = stateDir.parent / "config.json"
        if not configPath.exists():
            servers = (
                mainServers
                if mainServers is not None
                else {"srv": {"command": FAKE, "args": ["-m", "srv"], "env": {"SRV_KEY": SECRET}}}
            )
            configPath.write_text(json.dumps({"mcpServers": servers}))
        self.responses: list[Response] = []
        gateway: list[Gateway] = []

        def reload(specs: dict[str, Any]) -> Any:
            return gateway[0].reconfigurer.reconfigure(specs)

        if source is None:
            source = PlainFile(configPath)
        self.configService = ConfigService(
            source, stateDir, self.reactor, self.reactor, lambda f, *a: maybeDeferred(f, *a), reload
        )
        specs = self.configService.specs(source.load())
        self.gateway = Gateway(specs, fakeSpawner(self.reactor), lazyStart=False)
        gateway.append(self.gateway)
        self.managed = ServersFile(stateDir)
        self.management = ServerChanges(self.gateway, self.configService, self.managed)
        self.apiApp = ApiApp(
            self.management, self.gateway, self.reactor, token, maxLogStreams, sandbox=sandbox
        )
        self.site = makeSite(
            self.gateway,
            self.reactor,
            loopbackOnly=loopbackOnly,
            maxBody=4096,
            api=self.apiApp.resource,
        )

    def request(self, *args: Any, **kwargs: Any) -> Response:
        response = super().request(*args, **kwargs)
        self.responses.append(response)
        return response

    def api(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Response:
        """A request to C{/api/v1<path>}."""
        return self.request(method, "/api/v1" + path, body, **kwargs)

    def add(self, name: str = "extra", **entry: Any) -> Response:
        body = {
            "name": name,
            "command": FAKE,
            "args": ["-m", name],
            "env": {"EXTRA_KEY": SECRET},
            **entry,
        }
        response = self.api("POST", "/servers", body)
        assert response.status == 201, response.body
        return response

    def running(self, server: str = "srv") -> tuple[str, FakeProcess]:
        """Open a session on C{server}, so its shared child runs."""
        sid = self.initialize(server)
        return sid, self.process()


@pytest.fixture
def logged() -> Iterator[list[Any]]:
    with capturedGatewayLogs() as events:
        yield events
    text = repr(events)
    assert SECRET not in text
    assert TOKEN not in text


def assertNoSecrets(harness: ApiHarness) -> None:
    for response in harness.responses:
        assert SECRET.encode() not in response.transport.value(), response.transport.value()
        assert TOKEN.encode() not in response.transport.value()


def error(response: Response) -> str:
    assert response.headers["content-type"] == "application/json", response.headers
    message: str = response.json()["error"]
    return message


def managedFile(h: ApiHarness) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((h.stateDir / "servers.json").read_text())
    return data


def initializeBody(
    clientInfo: dict[str, Any] | None = None,
    capabilities: dict[str, Any] | None = None,
    version: str = "2025-11-25",
) -> dict[str, Any]:
    """A client's C{initialize} request (id 1) at C{version}, naming itself
    C{clientInfo} and declaring C{capabilities}."""
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": capabilities or {},
            "clientInfo": {"name": "test", "version": "1"} if clientInfo is None else clientInfo,
        },
    }

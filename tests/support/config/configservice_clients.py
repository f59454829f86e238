"""What tests/config/test_configservice_clients.py shares with the other tests:
FakeSource, SECRET, cursorFile, service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from twisted.internet.task import Clock

from mcpgateway.config.configservice import ConfigService, ConfigSettings
from mcpgateway.config.servers import LoadedConfig
from mcpgateway.config.workspaces import WorkspaceKeys
from tests.reloading import inline

SECRET = bytes(range(32))


def cursorFile(home: Path, servers: dict[str, Any]) -> Path:
    path = home / ".cursor" / "mcp.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mcpServers": servers}, indent=2) + "\n")
    return path


class FakeSource:
    def __init__(self, path: Path, others: list[Path]) -> None:
        self.path = path
        self.others = others
        self.loads = 0
        self.reloadNeeded = False

    def watchedPaths(self) -> list[Path]:
        return self.others

    def load(self) -> LoadedConfig:
        self.loads += 1
        return LoadedConfig(source="fake")

    def listening(self, port: int) -> list[str]:
        self.reloadNeeded = True
        return []

    def stopping(self) -> list[str]:
        return []

    def restoreFailed(self, reason: str) -> None:
        pass


def service(tmp_path: Path, source: FakeSource, clock: Clock, reloads: list[Any]) -> ConfigService:
    stateDir = tmp_path / "state"
    stateDir.mkdir(exist_ok=True)
    return ConfigService(
        source,
        stateDir,
        clock,
        None,
        inline,
        reloads.append,
        ConfigSettings(environ={"PATH": ""}, keys=lambda: WorkspaceKeys(SECRET)),
    )

"""The config source and service of a gateway started without a Claude
config, as preflight makes them: the bundled demo, Claude's config
awaited, the other clients adopted; what the config tests of a machine
with no client's file (or a late one) start from."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twisted.internet.task import Clock

from mcpgateway.clientconfigs.clients.base import ClientAdapter, Host
from mcpgateway.clientconfigs.clientsource import ClientsSource
from mcpgateway.clientconfigs.engine import AdoptionEngine
from mcpgateway.config.configservice import ConfigService, ConfigSettings
from mcpgateway.config.watched import PlainFile
from mcpgateway.config.workspaces import WorkspaceKeys
from tests.reloading import inline

SECRET = bytes(range(32))


def demoSource(home: Path, clients: Sequence[ClientAdapter]) -> ClientsSource:
    """The source, adopting C{clients}, its state directory C{home/.mcpgateway}."""
    stateDir = home / ".mcpgateway"
    stateDir.mkdir()
    engine = AdoptionEngine(
        stateDir, list(clients), Host(home), bridgeArgv=["/bin/mcpgateway"], environ={"PATH": ""}
    )
    return ClientsSource(
        PlainFile(None),
        engine,
        stateDir,
        "127.0.0.1",
        {"PATH": ""},
        projectsFrom=home / ".claude.json",
    )


def demoService(
    source: ClientsSource, clock: Clock, reloads: list[Any], **settings: Any
) -> ConfigService:
    """The config service of C{source}, loading inline, its reloads in C{reloads}."""
    return ConfigService(
        source,
        source.stateDir,
        clock,
        None,
        inline,
        reloads.append,
        ConfigSettings(environ={"PATH": ""}, keys=lambda: WorkspaceKeys(SECRET), **settings),
    )

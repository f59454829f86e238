"""Helpers of the adoption engine's tests: a synthetic home, an engine on it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mcpgateway.clientconfigs.backups import readBackup
from mcpgateway.clientconfigs.clients.base import ClientAdapter, Host
from mcpgateway.clientconfigs.engine import AdoptionEngine

BRIDGE = ["/opt/mcpgateway/bin/mcpgateway"]
ENVIRON = {"PATH": "/usr/bin:/bin", "API_KEY": "k", "HOME": "/home/u"}
KEY = "abcdefghijklmnop"


def urlFor(name: str, workspace: str | None) -> str:
    if workspace is None:
        return f"http://127.0.0.1:9100/{name}/mcp"
    return f"http://127.0.0.1:9100/{name}~{KEY}/mcp"


def otherPort(name: str, workspace: str | None) -> str:
    return urlFor(name, workspace).replace(":9100/", ":9200/")


def makeHost(tmp: Path, system: str = "linux") -> Host:
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    return Host(home=home, system=system, environ={}, root=tmp / "root")


def load(path: Path) -> dict[str, Any]:
    """The JSON document at C{path}."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    path.chmod(mode)
    return path


def engine(
    tmp: Path,
    adapters: Sequence[ClientAdapter],
    host: Host | None = None,
    projects: Sequence[Path] = (),
) -> AdoptionEngine:
    return AdoptionEngine(
        tmp / "state",
        adapters,
        host or makeHost(tmp),
        projects=projects,
        bridgeArgv=BRIDGE,
        environ=ENVIRON,
    )


def claudeBackupView(path: Path) -> dict[str, Any]:
    """A Claude backup (C{config-backup.json}) read with the engine's reader,
    in the shape of the gateway's earlier Claude-only format, for assertions:
    C{{"configPath", "mcpServers": {name: {"url", "original"}}, "projects":
    {path: {"mcpServers": {...}, "createdBlock": true (when the gateway
    created that block)}}}}."""
    backup = readBackup(path)
    assert backup is not None
    out: dict[str, Any] = {"configPath": backup.configPath}
    for (location, name), record in backup.records.items():
        info = backup.blocks[location]
        if info.workspace is None:
            block = out.setdefault("mcpServers", {})
        else:
            project = out.setdefault("projects", {}).setdefault(info.workspace, {})
            if info.created:
                project["createdBlock"] = True
            block = project.setdefault("mcpServers", {})
        block[name] = {"url": record.url, "original": record.original}
    return out

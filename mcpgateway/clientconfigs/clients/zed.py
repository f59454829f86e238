# -*- test-case-name: tests.clientconfigs.clients.test_clients_other -*-
"""Zed: C{context_servers} in C{settings.json} (JSONC).

Files: C{~/.config/zed/settings.json} (Linux and macOS; C{$XDG_CONFIG_HOME}
on Linux; Windows C{%APPDATA%\\Zed\\settings.json}), a project's
C{.zed/settings.json}. A stdio server (flat C{command}/C{args}/C{env}, or the
older nested C{"command": {"path", "args", "env"}} with C{"source":
"custom"}) becomes C{{"url": ...}}; extension servers are left alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcpgateway.clientconfigs.clients.base import ClientAdapter, ClientFile, Host, Unservable
from mcpgateway.clientconfigs.location import Location


class Zed(ClientAdapter):
    id = "zed"
    remoteShapes = False  # its remote entries have a shape of their own: kept
    title = "Zed"
    reload = "none needed: Zed applies settings.json when it changes"
    format = "jsonc"
    location = Location(("context_servers",))

    def userFiles(self, host: Host) -> list[Path]:
        if host.system == "win32":
            return [host.appData() / "Zed" / "settings.json"]
        base = host.xdgConfig() if host.system == "linux" else host.home / ".config"
        return [base / "zed" / "settings.json"]

    def projectFiles(self, project: Path) -> list[Path]:
        return [project / ".zed" / "settings.json"]

    def isStdio(self, entry: Any) -> bool:
        return (
            isinstance(entry, dict)
            and "command" in entry
            and entry.get("source", "custom") == "custom"
        )

    def served(self, name: str, entry: Any, file: ClientFile, host: Host) -> dict[str, Any] | None:
        if not self.isStdio(entry):
            return None
        if self.disabled(entry):
            raise Unservable("disabled in the client")
        command = entry["command"]
        if isinstance(command, dict):
            return self.stdioParts(
                command.get("path", command.get("command")),
                command.get("args", []),
                command.get("env") or {},
                None,
                file,
                host,
            )
        return self.stdioParts(
            command, entry.get("args", []), entry.get("env") or {}, None, file, host
        )

    def httpEntry(self, name: str, url: str) -> dict[str, Any]:
        return {"url": url}

# -*- test-case-name: tests.clientconfigs.clients.test_clients_other -*-
"""opencode: C{mcp} in C{opencode.json} or C{opencode.jsonc} (both JSONC).

Files: C{~/.config/opencode/opencode.json[c]} (C{$XDG_CONFIG_HOME}),
C{$OPENCODE_CONFIG}; a project's C{opencode.json[c]} (Windows:
C{%USERPROFILE%\\.config\\opencode\\opencode.json}). A local server
(C{"type": "local"}, C{command} an array, C{environment}) becomes
C{{"type": "remote", "url": ..., "oauth": false}} (no OAuth discovery on
the gateway's loopback URL). A project server must be approved again
(C{opencode mcp approve NAME}) after it changes: the report says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcpgateway.clientconfigs.clients.base import ClientAdapter, ClientFile, Host, Unservable
from mcpgateway.clientconfigs.location import Location


class OpenCode(ClientAdapter):
    id = "opencode"
    remoteShapes = False  # its remote entries have a shape of their own: kept
    title = "opencode"
    reload = "restart opencode; a project's rewritten server needs `opencode mcp approve NAME`"
    format = "jsonc"
    location = Location(("mcp",))
    variables = "opencode"
    carry = ("enabled", "timeout")

    def userFiles(self, host: Host) -> list[Path]:
        folder = host.xdgConfig() / "opencode"
        explicit = host.env("OPENCODE_CONFIG")
        return [
            *([explicit] if explicit is not None else []),
            folder / "opencode.json",
            folder / "opencode.jsonc",
        ]

    def projectFiles(self, project: Path) -> list[Path]:
        return [project / "opencode.json", project / "opencode.jsonc"]

    def isStdio(self, entry: Any) -> bool:
        return isinstance(entry, dict) and entry.get("type") == "local"

    def served(self, name: str, entry: Any, file: ClientFile, host: Host) -> dict[str, Any] | None:
        if not self.isStdio(entry):
            return None
        if self.disabled(entry):
            raise Unservable("disabled in the client")
        command = entry.get("command")
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(c, str) for c in command)
        ):
            raise Unservable("'command' is not a non-empty array of strings")
        return self.stdioParts(
            command[0], command[1:], entry.get("environment", {}), entry.get("cwd"), file, host
        )

    def httpEntry(self, name: str, url: str) -> dict[str, Any]:
        return {"type": "remote", "url": url, "oauth": False}

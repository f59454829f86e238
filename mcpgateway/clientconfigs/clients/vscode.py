# -*- test-case-name: tests.clientconfigs.test_clients_vscode -*-
"""VS Code (GitHub Copilot agent mode): C{servers} in C{mcp.json} (JSONC).

Files: the user's C{<User>/mcp.json} and each profile's
C{<User>/profiles/<id>/mcp.json}, where C{<User>} is C{~/.config/Code/User}
(Linux), C{~/Library/Application Support/Code/User} (macOS),
C{%APPDATA%\\Code\\User} (Windows; documented, not adopted yet), and the same
under C{Code - Insiders}; a workspace's C{.vscode/mcp.json}. A stdio entry
becomes C{{"type": "http", "url": ...}}. The policy: C{chat.mcp.access} set
to C{registry} or C{none} (or C{false}) in the user's C{settings.json}.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mcpgateway.clientconfigs.clients.base import (
    ClientAdapter,
    ClientFile,
    Host,
    Unservable,
    readSettings,
)
from mcpgateway.clientconfigs.clients.mcpservers import vscodeUserDirs
from mcpgateway.clientconfigs.location import Location


class VSCode(ClientAdapter):
    id = "vscode"
    title = "VS Code"
    reload = (
        "restart the server from MCP: List Servers (or the code lens in mcp.json);"
        " automatic with chat.mcp.autoStart"
    )
    format = "jsonc"
    location = Location(("servers",))
    variables = "vscode"

    def userFiles(self, host: Host) -> list[Path]:
        out = []
        for user in vscodeUserDirs(host):
            out.append(user / "mcp.json")
            out += sorted((user / "profiles").glob("*/mcp.json"))
        return out

    def projectFiles(self, project: Path) -> list[Path]:
        return [project / ".vscode" / "mcp.json"]

    def served(self, name: str, entry: Any, file: ClientFile, host: Host) -> dict[str, Any] | None:
        if self.isStdio(entry):
            if "envFile" in entry:
                raise Unservable("it reads an envFile, which only VS Code loads")
            if entry.get("sandboxEnabled") is True:
                raise Unservable("VS Code runs it sandboxed; the gateway would not")
            if "dev" in entry:
                raise Unservable("it is in VS Code's dev mode (watch/debug)")
        return super().served(name, entry, file, host)

    def policy(self, host: Host, files: Sequence[ClientFile]) -> str | None:
        for user in vscodeUserDirs(host):
            for path in [
                user / "settings.json",
                *sorted((user / "profiles").glob("*/settings.json")),
            ]:
                access = readSettings(path).get("chat.mcp.access")
                if access in ("none", "registry", False):
                    return (
                        f"{path} sets chat.mcp.access to {access!r}: VS Code would not start"
                        " the rewritten entries"
                    )
        return None

# -*- test-case-name: tests.clientconfigs.clients.test_clients_vscode -*-
"""VS Code (GitHub Copilot agent mode): C{servers} in C{mcp.json} (JSONC).

Files: the user's C{<User>/mcp.json} and each profile's
C{<User>/profiles/<id>/mcp.json}, where C{<User>} is C{~/.config/Code/User}
(Linux), C{~/Library/Application Support/Code/User} (macOS),
C{%APPDATA%\\Code\\User} (Windows; documented, not adopted yet), and the same
under C{Code - Insiders}; a workspace's C{.vscode/mcp.json}. A stdio entry
becomes C{{"type": "http", "url": ...}}. The policy: C{chat.mcp.access} set
to C{registry} or C{none} (or C{false}) in the user's C{settings.json}. An
entry VS Code runs sandboxed (C{"sandboxEnabled": true}) is adopted with its
profile (its own C{"sandbox"}, else its file's): the gateway confines it.
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
            if "dev" in entry:
                raise Unservable("it is in VS Code's dev mode (watch/debug)")
        served = super().served(name, entry, file, host)
        if served is not None and entry.get("sandboxEnabled") is True:
            served["sandbox"] = self.sandboxOf(entry, served, file, host)
        return served

    def sandboxOf(
        self, entry: dict[str, Any], served: dict[str, Any], file: ClientFile, host: Host
    ) -> Any:
        """The profile of an entry VS Code runs sandboxed, kept for the
        gateway's sandbox (docs/guide/sandbox.md): the entry's own C{"sandbox"},
        else its file's top-level one, else the default profile (C{true});
        its paths' variables translated, and, as VS Code does, its working
        directory writable."""
        profile = entry.get("sandbox")
        if profile is None:
            profile = readSettings(file.path).get("sandbox")
        if not isinstance(profile, dict):
            return True if profile is None else profile
        profile = self._translated(profile, file, host)
        cwd = served.get("cwd")
        if isinstance(cwd, str) and isinstance(profile.get("filesystem", {}), dict):
            filesystem = dict(profile.get("filesystem", {}))
            writes = filesystem.get("allowWrite", [])
            if isinstance(writes, list) and cwd not in writes:
                filesystem["allowWrite"] = [*writes, cwd]
            profile["filesystem"] = filesystem
        return profile

    def _translated(self, value: Any, file: ClientFile, host: Host) -> Any:
        """C{value} with the variables of every string in it translated."""
        if isinstance(value, str):
            return self.translate(value, file, host)
        if isinstance(value, list):
            return [self._translated(item, file, host) for item in value]
        if isinstance(value, dict):
            return {key: self._translated(item, file, host) for key, item in value.items()}
        return value

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

# -*- test-case-name: tests.clientconfigs.clients.test_clients_other -*-
"""The clients with YAML files: Continue and Goose.

Continue: C{~/.continue/config.yaml} (C{$CONTINUE_GLOBAL_DIR}; Windows
C{%USERPROFILE%\\.continue\\config.yaml}), C{mcpServers} a list of entries
named by C{name}; a workspace's block files C{.continue/mcpServers/*.yaml}
(the same list) and C{*.json} (Claude-style C{mcpServers} objects). A stdio
entry becomes C{name}, C{type: streamable-http}, C{url}; headers it must
send (the owner token) go in C{requestOptions.headers} (a JSON block
file's, in C{headers}).

Goose: C{~/.config/goose/config.yaml} (Windows
C{%APPDATA%\\Block\\goose\\config\\config.yaml}), C{extensions} keyed by
name. A C{type: stdio} extension (C{cmd}, C{args}, C{envs}) becomes
C{type: streamable_http} with C{uri} (not C{url}) and its C{headers}; one
that takes C{env_keys} from Goose's secret store is left alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mcpgateway.clientconfigs.clients.base import (
    ClientAdapter,
    ClientFile,
    Host,
    ToolTimeout,
    Unservable,
)
from mcpgateway.clientconfigs.location import Location


class Continue(ClientAdapter):
    id = "continue"
    remoteShapes = False  # its remote entries have a shape of their own: kept
    title = "Continue"
    reload = (
        "none for config.yaml (reloaded within a second); a workspace block file is"
        " reloaded when saved in the IDE, or on a window reload"
    )
    format = "yaml"
    location = Location(("mcpServers",), listKey="name")

    def userFiles(self, host: Host) -> list[Path]:
        return [(host.env("CONTINUE_GLOBAL_DIR") or host.home / ".continue") / "config.yaml"]

    def projectFiles(self, project: Path) -> list[Path]:
        folder = project / ".continue" / "mcpServers"
        return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml"), *folder.glob("*.json")])

    def files(self, host: Host, projects: Sequence[Path] = ()) -> list[ClientFile]:
        out = []
        for file in super().files(host, projects):
            if file.path.suffix == ".json":
                file = ClientFile(
                    file.client,
                    file.path,
                    "json",
                    Location(("mcpServers",)),
                    file.scope,
                    file.workspace,
                    file.versionControlled,
                )
            out.append(file)
        return out

    def written(
        self, name: str, url: str, original: dict[str, Any], bridgeArgv: Sequence[str]
    ) -> dict[str, Any]:
        if "name" not in original:  # a Claude-style JSON block file
            return {"type": "streamable-http", "url": url}
        return {"name": name, "type": "streamable-http", "url": url}

    def withHeaders(self, entry: dict[str, Any], headers: Mapping[str, str]) -> None:
        """Continue's YAML entries take their headers in C{requestOptions};
        a Claude-style JSON block file's, in C{headers}."""
        if "name" in entry:
            entry["requestOptions"] = {"headers": dict(headers)}
        else:
            entry["headers"] = dict(headers)


class Goose(ClientAdapter):
    id = "goose"
    remoteShapes = False  # its remote entries have a shape of their own: kept
    title = "Goose"
    reload = "restart goose"
    format = "yaml"
    location = Location(("extensions",))
    stdioTypes = ("stdio",)
    toolTimeout = ToolTimeout("timeout", 1.0)  # seconds (default: 300)

    def userFiles(self, host: Host) -> list[Path]:
        if host.system == "win32":
            return [host.appData() / "Block" / "goose" / "config" / "config.yaml"]
        return [host.xdgConfig() / "goose" / "config.yaml"]

    def isStdio(self, entry: Any) -> bool:
        return isinstance(entry, dict) and entry.get("type") == "stdio" and "cmd" in entry

    def served(self, name: str, entry: Any, file: ClientFile, host: Host) -> dict[str, Any] | None:
        if not self.isStdio(entry):
            return None
        if self.disabled(entry):
            raise Unservable("disabled in the client")
        if entry.get("env_keys"):
            raise Unservable("its env_keys come from Goose's secret store")
        return self.stdioParts(
            entry.get("cmd"), entry.get("args") or [], entry.get("envs") or {}, None, file, host
        )

    def written(
        self, name: str, url: str, original: dict[str, Any], bridgeArgv: Sequence[str]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "streamable_http",
            "name": original.get("name", name),
            "enabled": original.get("enabled", True),
            "uri": url,
            "envs": {},
            "env_keys": [],
            "timeout": original.get("timeout", 300),
        }
        for key in ("description", "available_tools", "bundled"):
            if key in original:
                out[key] = original[key]
        return out

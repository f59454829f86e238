# -*- test-case-name: tests.clientconfigs.clients.test_clients_codex -*-
"""OpenAI Codex CLI and IDE extension: C{[mcp_servers.NAME]} in C{config.toml}.

Files: C{$CODEX_HOME/config.toml} (default C{~/.codex/config.toml}; Windows
C{%USERPROFILE%\\.codex\\config.toml}), a repository's C{.codex/config.toml}
(read for trusted projects). A stdio table (C{command}, C{args}, C{env},
C{env_vars}, C{cwd}) becomes C{url = "..."} and no C{type} (Codex has none,
and its schema refuses unknown keys); the tool filters and timeouts stay.
Codex's managed C{requirements} are not detected (no documented local file).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcpgateway.clientconfigs.clients.base import ClientAdapter, ClientFile, Host, Unservable
from mcpgateway.clientconfigs.location import Location


class Codex(ClientAdapter):
    id = "codex"
    remoteShapes = False  # its remote entries have a shape of their own: kept
    title = "Codex CLI"
    reload = "start a new Codex session"
    format = "toml"
    location = Location(("mcp_servers",))
    carry = (
        "startup_timeout_sec",
        "tool_timeout_sec",
        "enabled_tools",
        "disabled_tools",
        "required",
    )

    def userFiles(self, host: Host) -> list[Path]:
        return [(host.env("CODEX_HOME") or host.home / ".codex") / "config.toml"]

    def projectFiles(self, project: Path) -> list[Path]:
        return [project / ".codex" / "config.toml"]

    def isStdio(self, entry: Any) -> bool:
        return isinstance(entry, dict) and "command" in entry and "url" not in entry

    def served(self, name: str, entry: Any, file: ClientFile, host: Host) -> dict[str, Any] | None:
        if not self.isStdio(entry):
            return None
        if self.disabled(entry):
            raise Unservable("disabled in the client")
        env = dict(entry.get("env", {})) if isinstance(entry.get("env", {}), dict) else None
        names = entry.get("env_vars", [])
        if env is None or not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise Unservable("'env' or 'env_vars' is malformed")
        for variable in names:
            env.setdefault(variable, "${" + variable + ":-}")  # unset: Codex passes nothing
        served = self.stdioParts(
            entry.get("command"), entry.get("args", []), {}, entry.get("cwd"), file, host
        )
        if env:
            for key, value in env.items():
                if not isinstance(value, str):
                    raise Unservable("'env' is not a table of strings")
                if key not in names and "${" in value:
                    raise Unservable(
                        "contains '${', which the gateway would expand and Codex does not"
                    )
            served["env"] = env
        return served

    def httpEntry(self, name: str, url: str) -> dict[str, Any]:
        return {"url": url}

    def withHeaders(self, entry: dict[str, Any], headers: Mapping[str, str]) -> None:
        """Codex's literal headers are C{http_headers} (C{env_http_headers}
        names variables)."""
        entry["http_headers"] = dict(headers)

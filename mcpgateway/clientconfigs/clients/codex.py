# -*- test-case-name: tests.clientconfigs.clients.test_clients_codex -*-
"""OpenAI Codex CLI and IDE extension: C{[mcp_servers.NAME]} in C{config.toml}.

Files: C{$CODEX_HOME/config.toml} (default C{~/.codex/config.toml}; Windows
C{%USERPROFILE%\\.codex\\config.toml}), a repository's C{.codex/config.toml}
(read for trusted projects). A stdio table (C{command}, C{args}, C{env},
C{env_vars}, C{cwd}) becomes C{url = "..."} and no C{type} (Codex has none,
and its schema refuses unknown keys); the tool filters and timeouts stay,
and C{tool_timeout_sec} is the served entry's request timeout when longer
than the gateway's. Codex passes a name of C{env_vars} from its environment
only when it is set there: the served entry leaves such names out of its
C{env} (a child inherits them from the gateway's environment when set
there, and has no such variable otherwise) and lists them in C{envFrom}
(a project's own entry, which inherits only the basics, takes them from
its workspace's C{.env}). Codex's managed C{requirements} are not detected
(no documented local file).
"""

from __future__ import annotations

from collections.abc import Mapping
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
from mcpgateway.config.envfiles import listable


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
    toolTimeout = ToolTimeout("tool_timeout_sec", 1.0)

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
        served = self.stdioParts(
            entry.get("command"), entry.get("args", []), {}, entry.get("cwd"), file, host
        )
        for value in env.values():
            if not isinstance(value, str):
                raise Unservable("'env' is not a table of strings")
            if "${" in value:
                raise Unservable("contains '${', which the gateway would expand and Codex does not")
        if env:
            served["env"] = env
        passed = [n for n in dict.fromkeys(names) if n not in env and listable(n)]
        if passed:
            served["envFrom"] = passed
        return served

    def httpEntry(self, name: str, url: str) -> dict[str, Any]:
        return {"url": url}

    def withHeaders(self, entry: dict[str, Any], headers: Mapping[str, str]) -> None:
        """Codex's literal headers are C{http_headers} (C{env_http_headers}
        names variables)."""
        entry["http_headers"] = dict(headers)

# -*- test-case-name: tests.clientconfigs.clients.test_clients_mcpservers -*-
"""The clients whose JSON files keep servers under C{mcpServers}, keyed by
name (CLIENTS.md families a, b and c): Cursor, Windsurf, Gemini CLI, Cline,
Roo Code, GitHub Copilot CLI, Amazon Q CLI, Kiro, and the stdio-only Claude
Desktop and Junie, whose entries are rewritten to run C{mcpgateway bridge}.

One module for the family because they differ only in data: where the files
are, the HTTP entry's keys, the variable syntax, the keys kept, the policy.
Claude Code, the same family, is L{mcpgateway.clientconfigs.clients.claudecode}.

Windows paths (documented, not adopted yet): Cursor
C{%USERPROFILE%\\.cursor\\mcp.json}; Windsurf
C{%USERPROFILE%\\.codeium\\windsurf\\mcp_config.json}; Gemini CLI
C{%USERPROFILE%\\.gemini\\settings.json}, system
C{C:\\ProgramData\\gemini-cli\\settings.json}; Cline
C{%USERPROFILE%\\.cline\\data\\settings\\cline_mcp_settings.json}; Roo Code
C{%APPDATA%\\Code\\User\\globalStorage\\rooveterinaryinc.roo-cline\\settings\\mcp_settings.json};
Copilot CLI C{%USERPROFILE%\\.copilot\\mcp-config.json}; Amazon Q
C{%USERPROFILE%\\.aws\\amazonq\\mcp.json}; Kiro
C{%USERPROFILE%\\.kiro\\settings\\mcp.json}; Claude Desktop
C{%APPDATA%\\Claude\\claude_desktop_config.json}; Junie
C{%USERPROFILE%\\.junie\\mcp\\mcp.json}.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mcpgateway.clientconfigs.clients.base import (
    ClientAdapter,
    ClientFile,
    Host,
    ToolTimeout,
    Unservable,
    readSettings,
)


def vscodeUserDirs(host: Host) -> list[Path]:
    """VS Code's C{User} folders (stable and Insiders)."""
    return [host.appData() / product / "User" for product in ("Code", "Code - Insiders")]


class Cursor(ClientAdapter):
    id = "cursor"
    title = "Cursor"
    reload = "refresh or toggle the server in Cursor Settings > MCP (or Developer: Reload Window)"
    variables = "vscode"

    def userFiles(self, host: Host) -> list[Path]:
        return [host.home / ".cursor" / "mcp.json"]

    def projectFiles(self, project: Path) -> list[Path]:
        return [project / ".cursor" / "mcp.json"]

    def served(self, name: str, entry: Any, file: ClientFile, host: Host) -> dict[str, Any] | None:
        if self.isStdio(entry) and "envFile" in entry:
            raise Unservable("it reads an envFile, which only the client loads")
        return super().served(name, entry, file, host)

    def httpEntry(self, name: str, url: str) -> dict[str, Any]:
        return {"url": url}


class Windsurf(ClientAdapter):
    """Windsurf. Its command whitelist (Teams/Enterprise) lives in the team's
    admin portal: nothing on the machine shows it, so it is not detected."""

    id = "windsurf"
    title = "Windsurf"
    reload = "press the refresh button in Windsurf's MCP panel"
    variables = "vscode"

    def userFiles(self, host: Host) -> list[Path]:
        return [
            host.home / ".codeium" / "windsurf" / "mcp_config.json",
            host.home / ".codeium" / "mcp_config.json",
        ]

    def httpEntry(self, name: str, url: str) -> dict[str, Any]:
        return {"serverUrl": url}


class Gemini(ClientAdapter):
    id = "gemini"
    title = "Gemini CLI"
    reload = "start a new gemini process (/mcp reload does not re-read the file)"
    format = "jsonc"
    variables = "posix"
    carry = ("includeTools", "excludeTools", "timeout", "trust", "description")
    toolTimeout = ToolTimeout("timeout", 0.001)  # milliseconds (default: 10 minutes)

    def _home(self, host: Host) -> Path:
        return host.env("GEMINI_CLI_HOME") or host.home

    def userFiles(self, host: Host) -> list[Path]:
        return [self._home(host) / ".gemini" / "settings.json"]

    def projectFiles(self, project: Path) -> list[Path]:
        return [project / ".gemini" / "settings.json"]

    def httpEntry(self, name: str, url: str) -> dict[str, Any]:
        return {"url": url, "type": "http"}

    def servedRemote(
        self, name: str, entry: Any, file: ClientFile, host: Host
    ) -> dict[str, Any] | None:
        """Gemini CLI's remote entry: its deprecated C{httpUrl} wins over
        C{url}; an C{authProviderType} (Google credentials) is the client's."""
        if isinstance(entry, dict) and "command" not in entry:
            if "authProviderType" in entry:
                raise Unservable("its authProviderType is a sign-in only Gemini CLI makes")
            if "httpUrl" in entry:
                entry = {**entry, "url": entry["httpUrl"], "type": "http"}
        return super().servedRemote(name, entry, file, host)

    def systemFiles(self, host: Host) -> list[Path]:
        override = host.env("GEMINI_CLI_SYSTEM_SETTINGS_PATH")
        folder = {
            "darwin": "/Library/Application Support/GeminiCli",
            "win32": "/ProgramData/gemini-cli",
        }.get(host.system, "/etc/gemini-cli")
        out = [override] if override is not None else []
        out += [
            host.systemPath(folder + "/settings.json"),
            host.systemPath(folder + "/system-defaults.json"),
        ]
        return out

    def policy(self, host: Host, files: Sequence[ClientFile]) -> str | None:
        """An C{mcp.allowed} list (in any settings file, system ones included),
        or an C{admin.mcp} section of the system settings: the gateway leaves
        what such a list governs to its owner."""
        for path in [*self.systemFiles(host), *(f.path for f in files)]:
            settings = readSettings(path)
            mcp = settings.get("mcp")
            if isinstance(mcp, dict) and "allowed" in mcp:
                return f"{path} sets mcp.allowed, a list of the MCP servers Gemini CLI may start"
            admin = settings.get("admin")
            if isinstance(admin, dict) and "mcp" in admin:
                return f"{path} sets admin.mcp: an administrator controls Gemini CLI's MCP servers"
        return None


class Cline(ClientAdapter):
    id = "cline"
    title = "Cline"
    untypedUrl = "sse"
    reload = "none needed: Cline watches its settings file and reconnects"
    carry = ("autoApprove", "timeout")
    toolTimeout = ToolTimeout("timeout", 1.0)  # seconds (default: 60)

    def userFiles(self, host: Host) -> list[Path]:
        out = []
        explicit = host.env("CLINE_MCP_SETTINGS_PATH")
        if explicit is not None:
            out.append(explicit)
        dataDir = host.env("CLINE_DATA_DIR")
        if dataDir is not None:
            out.append(dataDir / "settings" / "cline_mcp_settings.json")
        clineDir = host.env("CLINE_DIR") or host.home / ".cline"
        out.append(clineDir / "data" / "settings" / "cline_mcp_settings.json")
        out += [
            user
            / "globalStorage"
            / "saoudrizwan.claude-dev"
            / "settings"
            / "cline_mcp_settings.json"
            for user in vscodeUserDirs(host)
        ]
        out.append(host.home / "Documents" / "Cline" / "MCP" / "cline_mcp_settings.json")
        return out

    def served(self, name: str, entry: Any, file: ClientFile, host: Host) -> dict[str, Any] | None:
        if isinstance(entry, dict) and isinstance(entry.get("transport"), dict):
            entry = {**entry, **entry["transport"]}  # the Cline CLI's nested form
        return super().served(name, entry, file, host)

    def servedRemote(
        self, name: str, entry: Any, file: ClientFile, host: Host
    ) -> dict[str, Any] | None:
        if isinstance(entry, dict) and isinstance(entry.get("transport"), dict):
            entry = {**entry, **entry["transport"]}
        return super().servedRemote(name, entry, file, host)

    def httpEntry(self, name: str, url: str) -> dict[str, Any]:
        return {"type": "streamableHttp", "url": url}


class Roo(ClientAdapter):
    id = "roo"
    title = "Roo Code"
    untypedUrl = "sse"
    reload = "none needed: Roo Code watches both files and reconnects"
    variables = "vscode"
    carry = ("alwaysAllow", "disabledTools", "timeout")
    toolTimeout = ToolTimeout("timeout", 1.0)  # seconds (default: 60)

    def userFiles(self, host: Host) -> list[Path]:
        return [
            user / "globalStorage" / "rooveterinaryinc.roo-cline" / "settings" / "mcp_settings.json"
            for user in vscodeUserDirs(host)
        ]

    def projectFiles(self, project: Path) -> list[Path]:
        return [project / ".roo" / "mcp.json"]

    def httpEntry(self, name: str, url: str) -> dict[str, Any]:
        return {"type": "streamable-http", "url": url}


class CopilotCli(ClientAdapter):
    """GitHub Copilot CLI. Its workspace C{.mcp.json} is Claude Code's file too
    (same shape): left to the Claude Code adoption; C{.github/mcp.json} is
    adopted here."""

    id = "copilot"
    title = "GitHub Copilot CLI"
    reload = "run /mcp reload in the Copilot CLI session"
    variables = "posix"
    stdioTypes = (None, "stdio", "local")
    carry = ("tools",)

    def userFiles(self, host: Host) -> list[Path]:
        return [(host.env("COPILOT_HOME") or host.home / ".copilot") / "mcp-config.json"]

    def projectFiles(self, project: Path) -> list[Path]:
        return [project / ".github" / "mcp.json"]

    def written(
        self, name: str, url: str, original: dict[str, Any], bridgeArgv: Sequence[str]
    ) -> dict[str, Any]:
        out = super().written(name, url, original, bridgeArgv)
        out.setdefault("tools", ["*"])
        return out


class AmazonQ(ClientAdapter):
    """Amazon Q Developer CLI (no longer maintained; Kiro CLI follows)."""

    id = "amazonq"
    title = "Amazon Q Developer CLI"
    reload = "start a new q chat"
    variables = "vscode"
    carry = ("timeout",)
    toolTimeout = ToolTimeout("timeout", 0.001)  # milliseconds (default: 120 s)

    def userFiles(self, host: Host) -> list[Path]:
        base = host.home / ".aws" / "amazonq"
        return [base / "mcp.json", *sorted((base / "cli-agents").glob("*.json"))]

    def projectFiles(self, project: Path) -> list[Path]:
        base = project / ".amazonq"
        return [base / "mcp.json", *sorted((base / "cli-agents").glob("*.json"))]


class Kiro(ClientAdapter):
    id = "kiro"
    title = "Kiro"
    reload = "none needed: Kiro reconnects when the file is saved"
    variables = "gateway"
    carry = ("autoApprove", "disabledTools")

    def userFiles(self, host: Host) -> list[Path]:
        return [host.home / ".kiro" / "settings" / "mcp.json"]

    def projectFiles(self, project: Path) -> list[Path]:
        return [project / ".kiro" / "settings" / "mcp.json"]

    def httpEntry(self, name: str, url: str) -> dict[str, Any]:
        return {"url": url}


class ClaudeDesktop(ClientAdapter):
    """Claude Desktop takes only stdio entries (a connector is reached from
    Anthropic's cloud, never 127.0.0.1): each runs C{mcpgateway bridge}."""

    id = "claude-desktop"
    title = "Claude Desktop"
    reload = "quit Claude Desktop completely and start it again"
    bridge = True

    def userFiles(self, host: Host) -> list[Path]:
        return [host.appData() / "Claude" / "claude_desktop_config.json"]


class Junie(ClientAdapter):
    """Junie (JetBrains): its help page says stdio only, so the bridge."""

    id = "junie"
    title = "Junie"
    reload = "restart the Junie session (or the IDE)"
    bridge = True

    def userFiles(self, host: Host) -> list[Path]:
        return [host.home / ".junie" / "mcp" / "mcp.json"]

    def projectFiles(self, project: Path) -> list[Path]:
        return [project / ".junie" / "mcp" / "mcp.json"]

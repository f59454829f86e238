# -*- test-case-name: tests.clientconfigs.test_clients_mcpservers -*-
"""Claude Code's MCP policies, for its adoption
(L{mcpgateway.clientconfigs.claude} does the files).

One job: say whether Claude Code would refuse the gateway's entries. The
managed settings (C{/etc/claude-code/managed-settings.json} on Linux,
C{/Library/Application Support/ClaudeCode/managed-settings.json} on macOS,
C{C:\\Program Files\\ClaudeCode\\managed-settings.json} on Windows) and the
user's C{~/.claude/settings.json} may hold C{allowedMcpServers} and
C{deniedMcpServers}, lists of C{{"serverName"}}, C{{"serverCommand": [argv]}}
or C{{"serverUrl": pattern with *}}; a C{managed-mcp.json} next to the managed
settings takes exclusive control of the servers. An allowlist lets a
rewritten entry through only by its name or a C{serverUrl} pattern that
matches the gateway's URL (C{serverCommand} items match stdio entries only).
The user's settings are C{$CLAUDE_CONFIG_DIR/settings.json} when that
variable is set. L{mcpgateway.clientconfigs.adopted.AdoptedClaudeConfig}
asks before rewriting a C{.claude.json}: a refused file is served as it is.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcpgateway.clientconfigs.clients.base import Host, readSettings


def managedDir(host: Host) -> Path:
    if host.system == "darwin":
        return host.systemPath("/Library/Application Support/ClaudeCode")
    return host.systemPath("/etc/claude-code")


def claudeCodePolicy(host: Host, entries: Iterable[tuple[str, str]]) -> str | None:
    """Why Claude Code would refuse one of C{entries} (C{(name, url)} the
    gateway would write), or C{None}."""
    managed = managedDir(host)
    if (managed / "managed-mcp.json").is_file():
        return (
            f"{managed / 'managed-mcp.json'} takes exclusive control of Claude Code's MCP servers"
        )
    configDir = host.env("CLAUDE_CONFIG_DIR") or host.home / ".claude"
    files = [managed / "managed-settings.json", configDir / "settings.json"]
    wanted = list(entries)
    for path in files:
        settings = readSettings(path)
        denied = settings.get("deniedMcpServers")
        if isinstance(denied, list):
            for name, url in wanted:
                if any(_matches(item, name, url) for item in denied):
                    return (
                        f"{path} denies {name} ({url}) in deniedMcpServers (remove that"
                        " item to let the gateway's entries through)"
                    )
        allowed = settings.get("allowedMcpServers")
        if isinstance(allowed, list):
            for name, url in wanted:
                if not any(_matches(item, name, url) for item in allowed):
                    return (
                        f"{path} has an allowedMcpServers list that lets neither the name {name}"
                        f" nor the URL {url} through (to allow the gateway, add"
                        f' {{"serverUrl": "{urlPattern(url)}"}} to it)'
                    )
    return None


def urlPattern(url: str) -> str:
    """The C{serverUrl} pattern that lets every route of the gateway at
    C{url} through: C{http://127.0.0.1:PORT/*}."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/*"


def _matches(item: Any, name: str, url: str) -> bool:
    if not isinstance(item, dict):
        return False
    if item.get("serverName") == name:
        return True
    pattern = item.get("serverUrl")
    return isinstance(pattern, str) and fnmatch.fnmatchcase(url, pattern)

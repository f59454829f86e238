# -*- test-case-name: tests.clientconfigs.test_claude,tests.clientconfigs.clients.test_mcpjson_shadow -*-
"""Claude Code, an adapter of the adoption engine
(L{mcpgateway.clientconfigs.engine}), and its MCP policies.

L{ClaudeCode}: one file (C{~/.claude.json}, or any file of that shape given
with C{--config}), several blocks of entries: the top-level C{mcpServers}
(the user scope: global routes) and each project's
C{projects.<abs path>.mcpServers} (its local scope: that workspace's
routes; a project path that is not absolute names no workspace and is left
alone). The approved stdio servers of each known project's C{.mcp.json}
(under version control, never written) are shadowed: a local-scope entry of
the same name in C{~/.claude.json}, which Claude Code prefers to the
project scope, points at the workspace route; restore removes it. A server
is approved when the project's block has C{enableAllProjectMcpServers:
true} or lists it in C{enabledMcpjsonServers}, and does not list it in
C{disabledMcpjsonServers}. The file is machine-written JSON, rewritten in
its own layout (format C{jsondata}), and C{_mcp_gateway_ts} is set at each
change so Claude Code reloads. The servers of a C{.mcp.json} opened as the
config itself are not adopted.

L{claudeCodePolicy}: whether Claude Code would refuse the gateway's entries. The
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
asks before each write of a C{.claude.json}: a refused file is served as it is.
"""

from __future__ import annotations

import copy
import fnmatch
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcpgateway.clientconfigs.clients.base import (
    REMOTE_TRANSPORTS,
    Block,
    ClientAdapter,
    ClientFile,
    Host,
    readSettings,
)
from mcpgateway.clientconfigs.documents import Document, JsonDataDocument
from mcpgateway.clientconfigs.location import Location
from mcpgateway.config.servers import ConfigError
from mcpgateway.config.workspaces import KEY_LENGTH, canonicalPath
from mcpgateway.runtime import paths

GATEWAY_TS_KEY = "_mcp_gateway_ts"
"""Set (ms since the epoch) whenever adoption changes entries, so Claude Code reloads."""
TOP = Location(("mcpServers",))
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_ROUTE_PATH = re.compile(rf"/(?P<name>[^/~]+)(?:~[a-z2-7]{{{KEY_LENGTH}}})?/mcp")


def claudeScope(configPath: str | Path) -> str:
    """The scope of a Claude-shaped file's top-level servers, as
    L{mcpgateway.config.servers.loadConfig} names it: C{user}
    (C{.claude.json}), C{project} (C{.mcp.json}) or C{gateway}."""
    name = Path(configPath).name
    return "project" if name == ".mcp.json" else ("user" if name == ".claude.json" else "gateway")


def projectBlock(path: str) -> Location:
    return Location(("projects", path, "mcpServers"))


class ClaudeCode(ClientAdapter):
    """Claude Code's C{~/.claude.json} (or the file C{path}): see the module
    docstring."""

    id = "claude-code"
    title = "Claude Code"
    reload = "run /mcp in Claude Code and reconnect the server (or start a new session)"
    format = "jsondata"
    location = TOP
    stampKey = GATEWAY_TS_KEY
    shadowNote = "shadowing its .mcp.json"

    def __init__(
        self,
        path: Path | None = None,
        refusal: Callable[[list[tuple[str, str]]], str | None] | None = None,
        checkPolicy: bool = True,
    ) -> None:
        """
        @param refusal: given the C{(name, url)} entries a write would point
            at the gateway, why Claude Code would refuse them.
        @param checkPolicy: without C{refusal}, ask L{claudeCodePolicy} on
            the engine's host (C{False}: no check).
        """
        self.path = path
        self.refusal = refusal
        self.checkPolicy = checkPolicy
        self.shadowedFiles: list[Path] = []
        """The C{.mcp.json} of each known project that approves servers (there
        or not), as the last L{shadowed} found them: a change of one of them
        (a C{git pull}, an edit) is a change of the servers served."""

    def userFiles(self, host: Host) -> list[Path]:
        return [self.path or host.home / ".claude.json"]

    def backupPath(self, stateDir: Path, path: Path) -> Path:
        """C{<stateDir>/config-backup.json} for a C{.claude.json}, else
        C{<stateDir>/project-backups/<label>-<hash>.json}."""
        from mcpgateway.runtime.paths import fileLabel

        stateDir = Path(os.path.abspath(stateDir))
        if Path(path).name == ".claude.json":
            return stateDir / paths.USER_BACKUP
        return stateDir / paths.PROJECT_BACKUPS / fileLabel(path)

    def blocks(self, file: ClientFile, doc: Document) -> list[Block]:
        projects = _top(doc).get("projects")
        projects = projects if isinstance(projects, dict) else {}
        found = [path for path in sorted(projects) if isinstance(projects[path], dict)]
        return [self.topBlock(file.path), *(self.workspaceBlock(path) for path in found)]

    def topBlock(self, path: str | Path) -> Block:
        """The user scope (of a C{.claude.json}), or the top-level servers of
        a file of that shape; those of a C{.mcp.json} are left alone."""
        top = claudeScope(path)
        unroutable = "a .mcp.json is not rewritten (it is often part of a repository)"
        return Block(TOP, None, f"{top} scope", unroutable if top == "project" else "")

    def workspaceBlock(self, workspace: str) -> Block:
        """The local scope of the project C{workspace}: that workspace's
        routes, unless its path cannot name a workspace."""
        why = ""
        try:
            canonicalPath(workspace)
        except ValueError as e:
            why = f"the project path cannot name a workspace ({e})"
        return Block(projectBlock(workspace), workspace, f"local scope of project {workspace}", why)

    def shadowed(
        self, file: ClientFile, doc: Document, notes: list[str]
    ) -> dict[tuple[Location, str], Any]:
        """The approved servers of the known projects' C{.mcp.json} (a
        C{.claude.json} only), of the projects whose folder the user trusted
        (L{trustAccepted}): a folder's own files (its C{.mcp.json}, the
        approvals of its C{.claude/settings.local.json}) are a repository's
        until then. A C{.mcp.json} that cannot be read is left alone, with
        a note."""
        from mcpgateway.clientconfigs.jsonfile import readJson

        projects = _top(doc).get("projects")
        if claudeScope(file.path) != "user" or not isinstance(projects, dict):
            return {}
        out: dict[tuple[Location, str], Any] = {}
        watched: list[Path] = []
        for project in sorted(projects):
            block = projects[project]
            if not isinstance(block, dict) or not isinstance(block.get("mcpServers", {}), dict):
                continue
            if not trustAccepted(projects, project):
                continue  # Claude Code starts none of a folder's servers before its trust
            try:
                canonicalPath(project)
            except ValueError:
                continue
            if (Path(project) / ".mcp.json").is_file():  # its approvals may come any time
                local = Path(project) / LOCAL_SETTINGS
                watched.append(local)
                block = withLocalApprovals(block, local)
            if not _approvesAny(block):
                continue
            path = Path(project) / ".mcp.json"
            watched.append(path)
            if not path.is_file():
                continue
            try:
                mcpJson, _ = readJson(path)
            except ConfigError as e:
                notes.append(f"{e}; its servers are not shadowed")
                continue
            servers = mcpJson.get("mcpServers")
            for name, entry in servers.items() if isinstance(servers, dict) else ():
                if _approved(block, name):
                    out[(projectBlock(project), name)] = entry
        self.shadowedFiles = watched
        return out

    def served(self, name: str, entry: Any, file: ClientFile, host: Host) -> dict[str, Any] | None:
        """The entry itself: Claude Code's shape is the gateway's."""
        if not isinstance(entry, dict) or entry.get("type") not in (None, "stdio"):
            return None
        if entry.get("type") is None and "command" not in entry:
            return None
        return copy.deepcopy(entry)

    def servedRemote(
        self, name: str, entry: Any, file: ClientFile, host: Host
    ) -> dict[str, Any] | None:
        """The entry itself (its C{headers} and C{oauth} kept), when it is a
        remote one of a C{type} Claude Code takes."""
        if (
            not isinstance(entry, dict)
            or "command" in entry
            or entry.get("type") not in REMOTE_TRANSPORTS
        ):
            return None
        return copy.deepcopy(entry)

    def refuse(self, host: Host, wanted: Sequence[tuple[str, str]]) -> str | None:
        if self.refusal is not None:
            return self.refusal(list(wanted))
        return claudeCodePolicy(host, wanted) if self.checkPolicy else None


def trustAccepted(projects: Mapping[str, Any], project: str) -> bool:
    """Whether the user accepted the trust of folder C{project} in Claude
    Code (C{hasTrustDialogAccepted} in its block of C{~/.claude.json}, or in
    the block of a folder above it, whose trust covers the folders in it,
    as Claude Code reads it). Claude Code lists a folder as soon as it runs
    there, before that dialog: a checkout the user declined is not the
    gateway's to serve."""
    path = os.path.normpath(project)
    while True:
        block = projects.get(path)
        if isinstance(block, dict) and block.get("hasTrustDialogAccepted") is True:
            return True
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent


def _top(doc: Document) -> dict[str, Any]:
    if not isinstance(doc, JsonDataDocument):
        raise ValueError("a Claude config is a 'jsondata' document")
    return doc.topLevel()


LOCAL_SETTINGS = Path(".claude") / "settings.local.json"
"""Where Claude Code keeps a project's approvals of its C{.mcp.json}
servers (C{enabledMcpjsonServers}, C{disabledMcpjsonServers},
C{enableAllProjectMcpServers}), relative to the project; earlier versions
kept them in the project's block of C{~/.claude.json}, still read."""


def withLocalApprovals(block: dict[str, Any], local: Path) -> dict[str, Any]:
    """The project's block of C{~/.claude.json} with the approvals of its
    local settings file C{local} (L{LOCAL_SETTINGS}) added: the names each
    enables or disables, either one's approval of all. A file that is
    missing or unreadable adds nothing."""
    from mcpgateway.clientconfigs.jsonfile import readJson

    try:
        settings, _ = readJson(local) if local.is_file() else ({}, None)
    except ConfigError:
        return block
    if not isinstance(settings, dict):
        return block
    merged = dict(block)
    for key in ("enabledMcpjsonServers", "disabledMcpjsonServers"):
        names = [n for n in (block.get(key), settings.get(key)) if isinstance(n, list)]
        if names:
            merged[key] = [name for listed in names for name in listed]
    if settings.get("enableAllProjectMcpServers") is True:
        merged["enableAllProjectMcpServers"] = True
    return merged


def _approvesAny(project: dict[str, Any]) -> bool:
    """Whether a project's block approves any C{.mcp.json} server."""
    enabled = project.get("enabledMcpjsonServers")
    return project.get("enableAllProjectMcpServers") is True or (
        isinstance(enabled, list) and bool(enabled)
    )


def _approved(project: dict[str, Any], name: str) -> bool:
    enabled = project.get("enabledMcpjsonServers")
    disabled = project.get("disabledMcpjsonServers")
    if isinstance(disabled, list) and name in disabled:
        return False
    return project.get("enableAllProjectMcpServers") is True or (
        isinstance(enabled, list) and name in enabled
    )


def looksLikeGatewayEntry(name: str, entry: Any) -> bool:
    """Whether C{entry} is shaped exactly as adoption writes it for C{name}:
    its global route C{/<name>/mcp} or a workspace route C{/<name>~<key>/mcp}
    (a key: 16 characters C{[a-z2-7]}) on a loopback host."""
    if not (
        isinstance(entry, dict)
        and set(entry) == {"type", "url"}
        and entry["type"] == "http"
        and isinstance(entry["url"], str)
    ):
        return False
    try:
        parts = urlsplit(entry["url"])
        port = parts.port
    except ValueError:
        return False
    host = parts.hostname or ""
    match = _ROUTE_PATH.fullmatch(parts.path)
    return (
        parts.scheme == "http"
        and port is not None
        and match is not None
        and match.group("name") == name
        and (host in _LOOPBACK or host.startswith("127."))
    )


def managedDir(host: Host) -> Path:
    if host.system == "darwin":
        return host.systemPath("/Library/Application Support/ClaudeCode")
    if host.system == "win32":
        return host.systemPath("/Program Files/ClaudeCode")
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

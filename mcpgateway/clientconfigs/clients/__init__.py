# -*- test-case-name: tests.clientconfigs.test_engine -*-
"""The adapters of the MCP clients the gateway adopts, and L{detect}.

One module per family of file shape:
L{mcpgateway.clientconfigs.clients.mcpservers} (the JSON C{mcpServers}
clients, the bridge ones included), L{mcpgateway.clientconfigs.clients.vscode},
L{mcpgateway.clientconfigs.clients.codex} (TOML),
L{mcpgateway.clientconfigs.clients.opencode},
L{mcpgateway.clientconfigs.clients.zed},
L{mcpgateway.clientconfigs.clients.yamlclients} (Continue, Goose),
L{mcpgateway.clientconfigs.clients.claudecode} (Claude Code: several blocks
per file, C{.mcp.json} shadows, its policies; adopted first, as the config
source's base, by L{mcpgateway.clientconfigs.claude}).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mcpgateway.clientconfigs.clients.base import ClientAdapter, ClientFile, Host
from mcpgateway.clientconfigs.clients.claudecode import ClaudeCode
from mcpgateway.clientconfigs.clients.codex import Codex
from mcpgateway.clientconfigs.clients.mcpservers import (
    AmazonQ,
    ClaudeDesktop,
    Cline,
    CopilotCli,
    Cursor,
    Gemini,
    Junie,
    Kiro,
    Roo,
    Windsurf,
)
from mcpgateway.clientconfigs.clients.opencode import OpenCode
from mcpgateway.clientconfigs.clients.vscode import VSCode
from mcpgateway.clientconfigs.clients.yamlclients import Continue, Goose
from mcpgateway.clientconfigs.clients.zed import Zed

ADAPTERS: tuple[ClientAdapter, ...] = (
    Cursor(),
    VSCode(),
    Codex(),
    Gemini(),
    Windsurf(),
    ClaudeDesktop(),
    Cline(),
    Roo(),
    Continue(),
    OpenCode(),
    Zed(),
    Goose(),
    CopilotCli(),
    AmazonQ(),
    Kiro(),
    Junie(),
)
"""Every adapter, in adoption order (a name two clients define differently
for the same route is adopted from the first)."""
EARLIER_BACKUPS: ClientAdapter = ClaudeCode()
"""The adapter of the client the gateway adopted alone before it adopted any
other: the backups of that adoption (C{config-backup.json}, a layout of their
own) are read through it, its blocks and its stamp key
(L{mcpgateway.clientconfigs.backups.Backup.fromJson})."""


def adapterById(clientId: str) -> ClientAdapter:
    for adapter in ADAPTERS:
        if adapter.id == clientId:
            return adapter
    raise KeyError(clientId)


def select(spec: str) -> list[ClientAdapter]:
    """The adapters of C{--clients}: C{all}, C{none}, or a comma list of ids.

    @raise KeyError: an unknown id.
    """
    if spec == "all":
        return list(ADAPTERS)
    if spec == "none":
        return []
    return [adapterById(word.strip()) for word in spec.split(",") if word.strip()]


@dataclass
class Found:
    """A client found on the machine, its files, and what would stop adoption."""

    adapter: ClientAdapter
    files: list[ClientFile] = field(default_factory=list)
    policy: str | None = None


def detect(
    host: Host,
    projects: Sequence[Path] = (),
    adapters: Sequence[ClientAdapter] = ADAPTERS,
) -> list[Found]:
    """The clients that have a config file on this machine (for
    C{mcpgateway clients}), with their files and the policy that blocks
    adoption, if any."""
    out = []
    for adapter in adapters:
        files = adapter.files(host, projects)
        if files:
            out.append(Found(adapter, files, adapter.policy(host, files)))
    return out

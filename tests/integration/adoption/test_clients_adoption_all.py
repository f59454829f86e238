"""Every adapter in one gateway run: C{mcpgateway start} (the real
CLI, detached) on a synthetic HOME that holds a realistic file of every
client the code registers (L{mcpgateway.clientconfigs.clients.ADAPTERS}),
plus a project file of each client that has one, for a project listed in
the C{projects} map of a C{~/.claude.json} that has no servers of its own.

 - Each rewritten entry has its client's exact shape (the keys
   CLIENTS.md gives per client, checked with independent parsers: a JSONC
   stripper written here, C{tomllib}, PyYAML's safe loader), the entries
   the gateway must leave alone (HTTP entries, disabled ones, entries using
   what only the client resolves) are unchanged, and every comment survives.
 - A tool is called through each client's rewritten URL (one child per
   server; the project's server at its workspace route); the bridge entries
   of the stdio-only clients are run as the client would (the SDK's stdio
   client on the rewritten command line).
 - C{mcpgateway clients --json} reports what was adopted, skipped and left.
 - C{mcpgateway stop} gives every file back byte for byte.
 - After a SIGKILL the files still point at the dead gateway, and each
   backup holds what docs/guide/clients.md says (the exact text before, the hash
   after, original and written per entry); the next C{start} restores them
   first (the log says so, each backup is kept as C{<backup>.1}), adopts
   again, and C{stop} gives the originals back byte for byte.

And every before/after example of docs/guide/clients/*.md is what the adoption
engine writes for its "before" (no gateway: the engine on a temporary home).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import mcp
import pytest
import yaml  # type: ignore[import-untyped]

from mcpgateway.clientconfigs.adopted import routeUrl, stateDirKeys
from mcpgateway.clientconfigs.clients import ADAPTERS
from mcpgateway.clientconfigs.clients.base import ClientAdapter, Host
from mcpgateway.clientconfigs.clients.claudecode import ClaudeCode
from mcpgateway.clientconfigs.engine import AdoptionEngine
from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.ops.statedir import pidAlive
from tests.integration.gateway import REPO, callEcho, errorText, waitFor
from tests.support.integration.cli_real import Cli, freePort

pytestmark = pytest.mark.integration

PY = sys.executable
PYJ = json.dumps(PY)
DEMO = ["-m", "mcpgateway.demo"]
DEMOJ = json.dumps(DEMO)
PROJECT = "src/app"
"""The project (relative to HOME) whose files are adopted: listed in ~/.claude.json."""
URL = "@URL"
"""In an expected entry: the URL the gateway gives that entry."""
BRIDGE = "@BRIDGE"
"""In an expected entry: the bridge command line (command and args)."""
CLIENT_ENV = (
    "XDG_CONFIG_HOME",
    "CODEX_HOME",
    "COPILOT_HOME",
    "GEMINI_CLI_HOME",
    "GEMINI_CLI_SYSTEM_SETTINGS_PATH",
    "CLINE_MCP_SETTINGS_PATH",
    "CLINE_DATA_DIR",
    "CLINE_DIR",
    "CONTINUE_GLOBAL_DIR",
    "OPENCODE_CONFIG",
    "CLAUDE_CONFIG_DIR",
    "APPDATA",
)
"""Variables that move client files: the synthetic HOME must not see the real ones."""


@dataclass(frozen=True)
class Rule:
    """A client's own rule for the HTTP (or bridge) entry it reads.

    @ivar fixed: keys that must have exactly these values.
    @ivar required: keys that must be there.
    @ivar allowed: every key the client knows for such an entry.
    """

    fixed: dict[str, Any]
    required: frozenset[str]
    allowed: frozenset[str]


def rule(fixed: dict[str, Any], required: str, allowed: str) -> Rule:
    needed = frozenset(required.split())
    return Rule(fixed, needed, frozenset(allowed.split()) | needed | set(fixed))


# The keys each client reads in a Streamable HTTP entry (CLIENTS.md, per client).
RULES: dict[str, Rule] = {
    "cursor": rule({}, "url", "url headers type auth"),
    "vscode": rule({"type": "http"}, "type url", "url headers oauth"),
    "codex": rule(
        {},
        "url",
        "url bearer_token_env_var http_headers env_http_headers startup_timeout_sec"
        " tool_timeout_sec enabled enabled_tools disabled_tools required oauth auth tools",
    ),
    "gemini": rule(
        {"type": "http"},
        "type url",
        "url headers timeout trust includeTools excludeTools description oauth"
        " authProviderType targetAudience targetServiceAccount",
    ),
    "windsurf": rule({}, "serverUrl", "serverUrl url headers disabled"),
    "claude-desktop": rule({}, "command args", "command args env"),
    "cline": rule(
        {"type": "streamableHttp"}, "type url", "url headers autoApprove disabled timeout"
    ),
    "roo": rule(
        {"type": "streamable-http"},
        "type url",
        "url headers alwaysAllow disabledTools disabled timeout",
    ),
    "continue": rule(
        {"type": "streamable-http"}, "type url", "name url requestOptions apiKey connectionTimeout"
    ),
    "opencode": rule({"type": "remote"}, "type url", "url enabled headers oauth timeout"),
    "zed": rule({}, "url", "url headers"),
    "goose": rule(
        {"type": "streamable_http"},
        "type name enabled uri envs env_keys timeout",
        "headers description available_tools bundled",
    ),
    "copilot": rule({"type": "http"}, "type url tools", "url headers tools"),
    "amazonq": rule({"type": "http"}, "type url", "url headers oauth timeout disabled"),
    "kiro": rule({}, "url", "url headers autoApprove disabledTools disabled"),
    "junie": rule({}, "command args", "command args env"),
}


@dataclass
class ClientFile:
    """One synthetic client file and what adoption must make of it.

    @ivar expected: per adopted entry, the entry the client must find
        (C{URL}/C{BRIDGE} placeholders); C{"proj"} gets the workspace route.
    @ivar skipped: stdio entries the gateway must not adopt.
    @ivar other: entries that are not stdio (left alone, without a word).
    """

    client: str
    path: str
    text: str
    format: str
    container: tuple[str, ...]
    expected: dict[str, dict[str, Any]]
    skipped: tuple[str, ...] = ()
    other: tuple[str, ...] = ()
    global_: tuple[str, ...] = field(default=())
    """Adopted names of a project file that get the global route (the same
    server as the user-scope entry of that name)."""

    @property
    def project(self) -> bool:
        return self.path.startswith(PROJECT + "/")


def files(home: Path) -> list[ClientFile]:
    """Every synthetic client file (the project's path is absolute in some)."""
    proj = str(home / PROJECT)
    projJ = json.dumps(proj)
    rootEnvJ = json.dumps({"DEMO_ROOT": proj})
    return [
        # -- the mcpServers JSON family -------------------------------------------------
        ClientFile(
            "cursor",
            ".cursor/mcp.json",
            "{\n"
            '  "mcpServers": {\n'
            f'    "cursor-demo": {{"command": {PYJ}, "args": {DEMOJ},'
            ' "env": {"DEMO_HOME": "${userHome}", "DEMO_USER_HOME": "${env:HOME}"}},\n'
            '    "dotenv": {"command": "npx", "args": ["-y", "some-server"],'
            ' "envFile": "${workspaceFolder}/.env"},\n'
            '    "remote": {"url": "https://mcp.example.com/mcp",'
            ' "headers": {"Authorization": "Bearer ${env:TOKEN}"}}\n'
            "  }\n"
            "}\n",
            "json",
            ("mcpServers",),
            {"cursor-demo": {"url": URL}},
            skipped=("dotenv",),
            other=("remote",),
        ),
        ClientFile(
            "cursor",
            f"{PROJECT}/.cursor/mcp.json",
            "{\n"
            '  "mcpServers": {\n'
            f'    "proj": {{"command": {PYJ}, "args": {DEMOJ},'
            ' "env": {"DEMO_ROOT": "${workspaceFolder}"}},\n'
            f'    "cursor-demo": {{"command": {PYJ}, "args": {DEMOJ},'
            ' "env": {"DEMO_HOME": "${userHome}", "DEMO_USER_HOME": "${env:HOME}"}}\n'
            "  }\n"
            "}\n",
            "json",
            ("mcpServers",),
            {"proj": {"url": URL}, "cursor-demo": {"url": URL}},
            global_=("cursor-demo",),
        ),
        ClientFile(
            "windsurf",
            ".codeium/windsurf/mcp_config.json",
            "{\n"
            '  "mcpServers": {\n'
            f'    "windsurf-demo": {{"command": {PYJ}, "args": {DEMOJ},'
            ' "env": {"DEMO_HOME": "${env:HOME}"}, "disabled": false},\n'
            '    "old": {"command": "npx", "args": ["-y", "old-server"], "disabled": true},\n'
            '    "remote": {"serverUrl": "https://mcp.example.com/mcp"}\n'
            "  }\n"
            "}\n",
            "json",
            ("mcpServers",),
            {"windsurf-demo": {"serverUrl": URL}},
            skipped=("old",),
            other=("remote",),
        ),
        ClientFile(
            "gemini",
            ".gemini/settings.json",
            "{\n"
            "  // keep: Gemini CLI user settings\n"
            '  "ui": {"theme": "GitHub"},\n'
            '  "mcpServers": {\n'
            '    "gemini-demo": {\n'
            f'      "command": {PYJ},\n'
            f'      "args": {DEMOJ},\n'
            '      "env": {"DEMO_HOME": "$HOME", "DEMO_SHELL": "${SHELL:-/bin/sh}"},\n'
            '      "timeout": 30000,\n'
            '      "trust": false,\n'
            '      "includeTools": ["echo", "add"], // inner: only these\n'
            "    },\n"
            '    "remote": {"httpUrl": "https://mcp.example.com/mcp"},\n'
            "  },\n"
            "}\n",
            "jsonc",
            ("mcpServers",),
            {
                "gemini-demo": {
                    "url": URL,
                    "type": "http",
                    "includeTools": ["echo", "add"],
                    "timeout": 30000,
                    "trust": False,
                }
            },
            other=("remote",),
        ),
        ClientFile(
            "gemini",
            f"{PROJECT}/.gemini/settings.json",
            "{\n"
            "  /* keep: project settings */\n"
            f'  "mcpServers": {{"proj": {{"command": {PYJ}, "args": {DEMOJ},'
            f' "env": {rootEnvJ}}}}}\n'
            "}\n",
            "jsonc",
            ("mcpServers",),
            {"proj": {"url": URL, "type": "http"}},
        ),
        ClientFile(
            "cline",
            ".cline/data/settings/cline_mcp_settings.json",
            json.dumps(
                {
                    "mcpServers": {
                        "cline-demo": {
                            "type": "stdio",
                            "command": PY,
                            "args": DEMO,
                            "env": {"DEMO_MODE": "cline"},
                            "autoApprove": ["echo"],
                            "disabled": False,
                            "timeout": 60,
                        },
                        "remote": {"type": "streamableHttp", "url": "https://mcp.example.com/mcp"},
                    }
                },
                indent=2,
            ),
            "json",
            ("mcpServers",),
            {
                "cline-demo": {
                    "type": "streamableHttp",
                    "url": URL,
                    "autoApprove": ["echo"],
                    "timeout": 60,
                }
            },
            other=("remote",),
        ),
        ClientFile(
            "roo",
            ".config/Code/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
            json.dumps(
                {
                    "mcpServers": {
                        "roo-demo": {
                            "command": PY,
                            "args": DEMO,
                            "env": {"DEMO_HOME": "${env:HOME}"},
                            "alwaysAllow": ["echo"],
                            "disabled": False,
                        }
                    }
                },
                indent=2,
            ),
            "json",
            ("mcpServers",),
            {"roo-demo": {"type": "streamable-http", "url": URL, "alwaysAllow": ["echo"]}},
        ),
        ClientFile(
            "roo",
            f"{PROJECT}/.roo/mcp.json",
            "{\n"
            '  "mcpServers": {\n'
            f'    "proj": {{"command": {PYJ}, "args": {DEMOJ},'
            ' "env": {"DEMO_ROOT": "${workspaceFolder}"}}\n'
            "  }\n"
            "}\n",
            "json",
            ("mcpServers",),
            {"proj": {"type": "streamable-http", "url": URL}},
        ),
        ClientFile(
            "copilot",
            ".copilot/mcp-config.json",
            "{\n"
            '  "mcpServers": {\n'
            f'    "copilot-demo": {{"type": "local", "command": {PYJ}, "args": {DEMOJ},'
            ' "env": {"DEMO_HOME": "$HOME"}, "tools": ["*"]},\n'
            '    "remote": {"type": "http", "url": "https://mcp.example.com/mcp", "tools": ["*"]}\n'
            "  }\n"
            "}\n",
            "json",
            ("mcpServers",),
            {"copilot-demo": {"type": "http", "url": URL, "tools": ["*"]}},
            other=("remote",),
        ),
        ClientFile(
            "copilot",
            f"{PROJECT}/.github/mcp.json",
            "{\n"
            '  "mcpServers": {\n'
            f'    "proj": {{"type": "stdio", "command": {PYJ}, "args": {DEMOJ},'
            f' "env": {rootEnvJ}}}\n'
            "  }\n"
            "}\n",
            "json",
            ("mcpServers",),
            {"proj": {"type": "http", "url": URL, "tools": ["*"]}},
        ),
        ClientFile(
            "amazonq",
            ".aws/amazonq/mcp.json",
            "{\n"
            '  "mcpServers": {\n'
            f'    "amazonq-demo": {{"command": {PYJ}, "args": {DEMOJ},'
            ' "env": {"DEMO_HOME": "${env:HOME}"}, "timeout": 120000, "disabled": false}\n'
            "  }\n"
            "}\n",
            "json",
            ("mcpServers",),
            {"amazonq-demo": {"type": "http", "url": URL, "timeout": 120000}},
        ),
        ClientFile(
            "amazonq",
            ".aws/amazonq/cli-agents/dev.json",
            json.dumps(
                {
                    "name": "dev",
                    "description": "an agent with the demo",
                    "mcpServers": {
                        "amazonq-demo": {
                            "command": PY,
                            "args": DEMO,
                            "env": {"DEMO_HOME": "${env:HOME}"},
                            "timeout": 120000,
                        }
                    },
                    "tools": ["*"],
                    "useLegacyMcpJson": True,
                },
                indent=2,
            )
            + "\n",
            "json",
            ("mcpServers",),
            {"amazonq-demo": {"type": "http", "url": URL, "timeout": 120000}},
        ),
        ClientFile(
            "amazonq",
            f"{PROJECT}/.amazonq/mcp.json",
            "{\n"
            '  "mcpServers": {\n'
            f'    "proj": {{"command": {PYJ}, "args": {DEMOJ},'
            ' "env": {"DEMO_ROOT": "${workspaceFolder}"}}\n'
            "  }\n"
            "}\n",
            "json",
            ("mcpServers",),
            {"proj": {"type": "http", "url": URL}},
        ),
        ClientFile(
            "kiro",
            ".kiro/settings/mcp.json",
            "{\n"
            '  "mcpServers": {\n'
            f'    "kiro-demo": {{"command": {PYJ}, "args": {DEMOJ},'
            ' "env": {"DEMO_HOME": "${HOME}"}, "disabled": false, "autoApprove": ["echo"]}\n'
            "  }\n"
            "}\n",
            "json",
            ("mcpServers",),
            {"kiro-demo": {"url": URL, "autoApprove": ["echo"]}},
        ),
        ClientFile(
            "kiro",
            f"{PROJECT}/.kiro/settings/mcp.json",
            f'{{"mcpServers": {{"proj": {{"command": {PYJ}, "args": {DEMOJ},'
            f' "env": {rootEnvJ}}}}}}}',
            "json",
            ("mcpServers",),
            {"proj": {"url": URL}},
        ),
        # -- the stdio-only clients: the bridge -----------------------------------------
        ClientFile(
            "claude-desktop",
            ".config/Claude/claude_desktop_config.json",
            json.dumps(
                {
                    "mcpServers": {"claude-desktop-demo": {"command": PY, "args": DEMO}},
                    "globalShortcut": "",
                    "preferences": {"quickEntryShortcut": "off"},
                },
                indent=2,
            ),
            "json",
            ("mcpServers",),
            {"claude-desktop-demo": {BRIDGE: True}},
        ),
        ClientFile(
            "junie",
            ".junie/mcp/mcp.json",
            "{\n"
            '  "mcpServers": {\n'
            f'    "junie-demo": {{"command": {PYJ}, "args": {DEMOJ}, "env": {{}}}}\n'
            "  }\n"
            "}\n",
            "json",
            ("mcpServers",),
            {"junie-demo": {BRIDGE: True}},
        ),
        ClientFile(
            "junie",
            f"{PROJECT}/.junie/mcp/mcp.json",
            f'{{\n  "mcpServers": {{\n    "proj": {{"command": {PYJ}, "args": {DEMOJ},'
            f' "env": {rootEnvJ}}}\n  }}\n}}\n',
            "json",
            ("mcpServers",),
            {"proj": {BRIDGE: True}},
        ),
        # -- VS Code --------------------------------------------------------------------
        ClientFile(
            "vscode",
            ".config/Code/User/mcp.json",
            "{\n"
            "  // keep: MCP servers for Copilot agent mode\n"
            '  "servers": {\n'
            '    "vscode-demo": {\n'
            '      "type": "stdio",\n'
            f'      "command": {PYJ},\n'
            f'      "args": {DEMOJ},\n'
            '      "env": {"DEMO_HOME": "${env:HOME}"}, // inner: the user\'s home\n'
            "    },\n"
            '    "asks": {"type": "stdio", "command": "npx", "args": ["-y", "some-server"],'
            ' "env": {"KEY": "${input:api-key}"}},\n'
            '    "remote": {"type": "http", "url": "https://mcp.example.com/mcp"},\n'
            "  },\n"
            '  "inputs": [{"type": "promptString", "id": "api-key", "password": true}],\n'
            "}\n",
            "jsonc",
            ("servers",),
            {"vscode-demo": {"type": "http", "url": URL}},
            skipped=("asks",),
            other=("remote",),
        ),
        ClientFile(
            "vscode",
            ".config/Code/User/profiles/-4a1b2c3d/mcp.json",
            "{\n"
            "\t// keep: a profile's servers (tabs)\n"
            '\t"servers": {\n'
            f'\t\t"vscode-demo": {{"command": {PYJ}, "args": {DEMOJ},'
            ' "env": {"DEMO_HOME": "${env:HOME}"}},\n'
            "\t}\n"
            "}",
            "jsonc",
            ("servers",),
            {"vscode-demo": {"type": "http", "url": URL}},
        ),
        ClientFile(
            "vscode",
            f"{PROJECT}/.vscode/mcp.json",
            "{\n"
            '  "servers": {\n'
            "    // keep: the workspace's server\n"
            f'    "proj": {{"type": "stdio", "command": {PYJ}, "args": {DEMOJ},'
            ' "env": {"DEMO_ROOT": "${workspaceFolder}"}},\n'
            f'    "sandboxed": {{"type": "stdio", "command": {PYJ}, "args": {DEMOJ},'
            ' "sandboxEnabled": true},\n'
            "  },\n"
            "}\n",
            "jsonc",
            ("servers",),
            {"proj": {"type": "http", "url": URL}, "sandboxed": {"type": "http", "url": URL}},
        ),
        # -- Codex (TOML) ---------------------------------------------------------------
        ClientFile(
            "codex",
            ".codex/config.toml",
            "# keep: Codex CLI settings\n"
            'model = "o4-mini"\n'
            'approval_policy = "on-request"\n'
            "\n"
            "[mcp_servers.codex-demo]  # keep: the bundled demo\n"
            f"command = {PYJ}\n"
            f"args = {DEMOJ}\n"
            'env_vars = ["HOME"]\n'
            "tool_timeout_sec = 30\n"
            "\n"
            "[mcp_servers.codex-demo.env]\n"
            'DEMO_MODE = "codex"\n'
            "\n"
            "[mcp_servers.remote]\n"
            'url = "https://mcp.example.com/mcp"\n'
            'bearer_token_env_var = "TOKEN"\n'
            "\n"
            "[mcp_servers.off]\n"
            'command = "npx"\n'
            'args = ["-y", "some-server"]\n'
            "enabled = false  # keep: switched off\n",
            "toml",
            ("mcp_servers",),
            {"codex-demo": {"url": URL, "tool_timeout_sec": 30}},
            skipped=("off",),
            other=("remote",),
        ),
        ClientFile(
            "codex",
            f"{PROJECT}/.codex/config.toml",
            "# keep: the repository's Codex layer\n"
            f"mcp_servers.proj = {{ command = {PYJ}, args = {DEMOJ},"
            f" env = {{ DEMO_ROOT = {projJ} }} }}\n",
            "toml",
            ("mcp_servers",),
            {"proj": {"url": URL}},
        ),
        # -- opencode, Zed ----------------------------------------------------------------
        ClientFile(
            "opencode",
            ".config/opencode/opencode.jsonc",
            "{\n"
            '  "$schema": "https://opencode.ai/config.json",\n'
            "  // keep: MCP servers\n"
            '  "mcp": {\n'
            '    "opencode-demo": {\n'
            '      "type": "local",\n'
            f'      "command": {json.dumps([PY, *DEMO])},\n'
            '      "environment": {"DEMO_HOME": "{env:HOME}"},\n'
            '      "enabled": true,\n'
            '      "timeout": 5000,\n'
            "    },\n"
            '    "secret": {"type": "local", "command": ["npx", "-y", "some-server"],'
            ' "environment": {"KEY": "{file:~/.secrets/key}"}},\n'
            '    "remote": {"type": "remote", "url": "https://mcp.example.com/mcp"},\n'
            "  },\n"
            "}\n",
            "jsonc",
            ("mcp",),
            {
                "opencode-demo": {
                    "type": "remote",
                    "url": URL,
                    "oauth": False,
                    "enabled": True,
                    "timeout": 5000,
                }
            },
            skipped=("secret",),
            other=("remote",),
        ),
        ClientFile(
            "opencode",
            f"{PROJECT}/opencode.json",
            json.dumps(
                {
                    "$schema": "https://opencode.ai/config.json",
                    "mcp": {
                        "proj": {
                            "type": "local",
                            "command": [PY, *DEMO],
                            "environment": {"DEMO_ROOT": proj},
                        }
                    },
                },
                indent=2,
            )
            + "\n",
            "jsonc",
            ("mcp",),
            {"proj": {"type": "remote", "url": URL, "oauth": False}},
        ),
        ClientFile(
            "zed",
            ".config/zed/settings.json",
            "// keep: Zed settings\n"
            "//\n"
            "// For information on how to configure Zed, see the Zed documentation.\n"
            "{\n"
            '  "theme": "One Dark",\n'
            '  "context_servers": {\n'
            '    "zed-demo": {\n'
            '      "source": "custom",\n'
            f'      "command": {PYJ},\n'
            f'      "args": {DEMOJ},\n'
            '      "env": {"DEMO_MODE": "zed"},\n'
            "    },\n"
            '    "mcp-server-github": {"source": "extension", "enabled": true,'
            ' "settings": {"github_personal_access_token": "x"}},\n'
            '    "remote": {"url": "https://mcp.example.com/mcp"},\n'
            "  },\n"
            "}\n",
            "jsonc",
            ("context_servers",),
            {"zed-demo": {"url": URL}},
            other=("mcp-server-github", "remote"),
        ),
        ClientFile(
            "zed",
            f"{PROJECT}/.zed/settings.json",
            "// keep: folder-specific settings\n"
            "{\n"
            '  "context_servers": {\n'
            '    "proj": {\n'
            '      "source": "custom",\n'
            f'      "command": {{"path": {PYJ}, "args": {DEMOJ}, "env": {rootEnvJ}}},\n'
            "    },\n"
            "  },\n"
            "}\n",
            "jsonc",
            ("context_servers",),
            {"proj": {"url": URL}},
        ),
        # -- the YAML clients: Continue, Goose ----------------------------------------------
        ClientFile(
            "continue",
            ".continue/config.yaml",
            "name: Local Assistant\n"
            "version: 1.0.0\n"
            "schema: v1\n"
            "models: []\n"
            "# keep: MCP servers (agent mode only)\n"
            "mcpServers:\n"
            "  - name: continue-demo\n"
            f"    command: {PY}\n"
            "    args:\n"
            "      - -m\n"
            "      - mcpgateway.demo\n"
            "    env:\n"
            "      DEMO_MODE: continue  # inner: a mode\n"
            "  - name: with-secret\n"
            "    command: npx\n"
            '    args: ["-y", "some-server"]\n'
            "    env:\n"
            '      KEY: "${{ secrets.KEY }}"\n'
            "  - name: remote\n"
            "    type: streamable-http\n"
            "    url: https://mcp.example.com/mcp\n",
            "yaml",
            ("mcpServers",),
            {"continue-demo": {"name": "continue-demo", "type": "streamable-http", "url": URL}},
            skipped=("with-secret",),
            other=("remote",),
        ),
        ClientFile(
            "continue",
            f"{PROJECT}/.continue/mcpServers/proj.yaml",
            "name: proj\n"
            "version: 0.0.1\n"
            "schema: v1\n"
            "mcpServers:\n"
            "  # keep: the project's block\n"
            "  - name: proj\n"
            "    type: stdio\n"
            f"    command: {PY}\n"
            '    args: ["-m", "mcpgateway.demo"]\n'
            "    env:\n"
            f"      DEMO_ROOT: {proj}\n",
            "yaml",
            ("mcpServers",),
            {"proj": {"name": "proj", "type": "streamable-http", "url": URL}},
        ),
        ClientFile(
            "continue",
            f"{PROJECT}/.continue/mcpServers/claude-style.json",
            json.dumps(
                {"mcpServers": {"proj": {"command": PY, "args": DEMO, "env": {"DEMO_ROOT": proj}}}},
                indent=2,
            ),
            "json",
            ("mcpServers",),
            {"proj": {"type": "streamable-http", "url": URL}},
        ),
        ClientFile(
            "goose",
            ".config/goose/config.yaml",
            "GOOSE_PROVIDER: openai\n"
            "GOOSE_MODEL: gpt-4o\n"
            "extensions:\n"
            "  developer:\n"
            "    bundled: true\n"
            "    enabled: true\n"
            "    name: developer\n"
            "    timeout: 300\n"
            "    type: builtin\n"
            "  goose-demo:\n"
            "    args:\n"
            "    - -m\n"
            "    - mcpgateway.demo\n"
            f"    cmd: {PY}\n"
            "    description: the bundled demo  # inner: shown in goose\n"
            "    enabled: true\n"
            "    env_keys: []\n"
            "    envs:\n"
            "      DEMO_MODE: goose\n"
            "    name: goose-demo\n"
            "    timeout: 300\n"
            "    type: stdio\n"
            "  github:\n"
            "    args: [-y, some-server]\n"
            "    cmd: npx\n"
            "    enabled: true\n"
            "    env_keys: [GITHUB_TOKEN]\n"
            "    envs: {}\n"
            "    name: github\n"
            "    timeout: 300\n"
            "    type: stdio\n",
            "yaml",
            ("extensions",),
            {
                "goose-demo": {
                    "type": "streamable_http",
                    "name": "goose-demo",
                    "enabled": True,
                    "uri": URL,
                    "envs": {},
                    "env_keys": [],
                    "timeout": 300,
                    "description": "the bundled demo",
                }
            },
            skipped=("github",),
            other=("developer",),
        ),
    ]


def claudeJson(home: Path) -> str:
    """A Claude Code config with no servers: it only lists the project."""
    return json.dumps(
        {
            "numStartups": 12,
            "userID": "0123abcd",
            "projects": {str(home / PROJECT): {"allowedTools": [], "hasTrustDialogAccepted": True}},
        },
        indent=2,
    )


# -- parsing each file as its client does -----------------------------------------------


def stripJsonc(text: str) -> str:
    """JSONC as strict JSON: comments and trailing commas removed (written
    here, independent of the gateway's own JSONC layer)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        elif c == ",":
            rest = re.match(r"(\s|//[^\n]*|/\*.*?\*/)*", text[i + 1 :], re.S)
            end = i + 1 + (rest.end() if rest else 0)
            if end >= n or text[end] not in "}]":
                out.append(c)
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse(file: ClientFile, text: str) -> Any:
    if file.format == "json":
        return json.loads(text)
    if file.format == "jsonc":
        return json.loads(stripJsonc(text))
    if file.format == "toml":
        return tomllib.loads(text)
    return yaml.safe_load(text)


def entriesOf(file: ClientFile, data: Any) -> dict[str, Any]:
    node = data
    for key in file.container:
        node = node[key]
    if isinstance(node, list):  # Continue's list, keyed by name
        return {item["name"]: item for item in node}
    assert isinstance(node, dict)
    return node


# -- the run ------------------------------------------------------------------------------


@dataclass
class Machine:
    """The synthetic HOME and the CLI that runs the gateway on it."""

    cli: Cli
    files: list[ClientFile]

    @property
    def home(self) -> Path:
        return self.cli.home

    def paths(self) -> list[Path]:
        return [self.home / ".claude.json", *(self.home / f.path for f in self.files)]

    def snapshot(self) -> dict[Path, bytes]:
        return {path: path.read_bytes() for path in self.paths()}

    def pending(self, port: int) -> list[str]:
        """The files not rewritten (yet) for the gateway on C{port}."""
        marker, bridge = f":{port}/", '"bridge"'
        return [
            f.path
            for f in self.files
            if marker not in (text := (self.home / f.path).read_text()) and bridge not in text
        ]

    def adopted(self, port: int) -> bool:
        return not self.pending(port)

    def projectKey(self) -> str:
        return WorkspaceKeys.forStateDir(self.cli.stateDir).key(str(self.home / PROJECT))

    def urlOf(self, file: ClientFile, name: str, port: int) -> str:
        if file.project and name not in file.global_:
            return f"http://127.0.0.1:{port}/{name}~{self.projectKey()}/mcp"
        return f"http://127.0.0.1:{port}/{name}/mcp"


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    runner = Cli(tmp_path)
    for name in CLIENT_ENV:
        runner.env.pop(name, None)
    made = files(tmp_path)
    (tmp_path / PROJECT).mkdir(parents=True)
    (tmp_path / ".claude.json").write_text(claudeJson(tmp_path))
    for file in made:
        path = tmp_path / file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(file.text)
    yield Machine(runner, made)
    for pid in runner.gatewayPids():  # a failed test must not leave a daemon behind
        os.kill(pid, signal.SIGKILL)


def test_every_adapter_has_a_file_here(tmp_path: Path) -> None:
    """The synthetic HOME covers every adapter the code registers, and a
    project file of every adapter that has project files."""
    made = files(tmp_path)
    assert {f.client for f in made} == {a.id for a in ADAPTERS}
    for adapter in ADAPTERS:
        if adapter.projectFiles(tmp_path / PROJECT) or adapter.id == "continue":
            assert any(f.client == adapter.id and f.project for f in made), adapter.id
    for file in made:
        assert file.client in RULES


def checkShapes(machine: Machine, port: int) -> None:
    """Every rewritten entry is exactly its client's shape; everything else
    in each file is as it was, comments included."""
    exe, stateDir = "", str(machine.cli.stateDir)
    for file in machine.files:
        text = (machine.home / file.path).read_text()
        before, after = parse(file, file.text), parse(file, text)
        entries, original = entriesOf(file, after), entriesOf(file, before)
        where = f"{file.client}: {file.path}"
        assert list(entries) == list(original), where  # same entries, same order
        for name in original:
            if name not in file.expected:
                assert entries[name] == original[name], f"{where}: {name} changed"
        for name, expected in file.expected.items():
            entry, url = entries[name], machine.urlOf(file, name, port)
            if BRIDGE in expected:
                exe = entry["command"]
                target = name if url.endswith(f"/{name}/mcp") else url
                # The port when not 9100: a bridge starts the gateway there.
                words = ["--state-dir", stateDir, "bridge"]
                words += ["--port", str(port)] if port != 9100 else []
                expected = {"command": exe, "args": [*words, target]}
                assert os.path.isabs(exe) and os.access(exe, os.X_OK), (where, exe)
                assert os.path.basename(exe) == "mcpgateway", (where, exe)
            else:
                expected = {k: url if v == URL else v for k, v in expected.items()}
            assert entry == expected, f"{where}: {name}"
            own = RULES[file.client]
            for key, value in own.fixed.items():
                assert entry.get(key) == value, f"{where}: {name}.{key}"
            assert own.required <= set(entry) <= own.allowed, f"{where}: {name} keys {set(entry)}"
        # keys outside the entries' container are untouched
        if isinstance(before, dict):
            top = file.container[0]
            assert {k: v for k, v in after.items() if k != top} == {
                k: v for k, v in before.items() if k != top
            }, where
        for comment in re.findall(r"(?://|#|/\*) keep:[^\n]*", file.text):
            assert comment in text, f"{where}: lost {comment!r}"
    assert exe  # a bridge entry was checked


def echoes(url: str) -> bool:
    try:
        return callEcho(url, f"via {url}") == f"via {url}"
    except Exception as e:  # the reload that serves the adopted entries may be pending
        print("call failed:", url, errorText(e))
        return False


def bridgeEchoes(machine: Machine, entry: dict[str, Any]) -> str:
    """Run a rewritten bridge entry as a stdio-only client does; call echo."""
    params = mcp.StdioServerParameters(
        command=entry["command"],
        args=entry["args"],
        cwd=str(machine.home),
        env={
            "HOME": str(machine.home),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        },
    )

    async def main() -> str:
        with anyio.fail_after(60):
            async with mcp.Client(params, mode="legacy") as client:
                result = await client.call_tool("echo", {"message": "through the bridge"})
                return result.content[0].text  # type: ignore[union-attr]

    return anyio.run(main)


def checkCalls(machine: Machine, port: int) -> None:
    """A tool call through every distinct rewritten URL, and through every
    bridge entry run as its client runs it."""
    urls: dict[str, None] = {}
    bridges: list[dict[str, Any]] = []
    for file in machine.files:
        data = entriesOf(file, parse(file, (machine.home / file.path).read_text()))
        for name, expected in file.expected.items():
            if BRIDGE in expected:
                bridges.append(data[name])
            else:
                urls[machine.urlOf(file, name, port)] = None
    first, *rest = urls
    assert waitFor(lambda: echoes(first), 30, 0.5), first
    failed = [url for url in rest if not echoes(url)]
    assert not failed, failed
    for entry in bridges:
        assert bridgeEchoes(machine, entry) == "through the bridge", entry


def checkClientsReport(machine: Machine) -> None:
    listed = machine.cli("clients", "--json")
    assert listed.returncode == 0, listed.stderr
    clients: dict[str, Any] = {c["id"]: c for c in json.loads(listed.stdout)["clients"]}
    assert {a.id for a in ADAPTERS} <= set(clients)
    for file in machine.files:
        client = clients[file.client]
        assert client["reload"] and client["policy"] is None, file.client
        reports = {Path(f["path"]): f for f in client["files"]}
        report = reports[machine.home / file.path]
        where = f"{file.client}: {file.path}"
        assert sorted(report["adopted"]) == sorted(file.expected), where
        assert sorted(s["name"] for s in report["skipped"]) == sorted(file.skipped), where
        assert sorted(report["other"]) == sorted(file.other), where
        assert report["versionControlled"] is file.project, where
        assert report["error"] is None, where


def start(machine: Machine, port: int) -> None:
    started = machine.cli("start", "--port", str(port))
    assert started.returncode == 0, started.stderr + started.stdout
    assert waitFor(lambda: machine.adopted(port), 20), machine.pending(port)


def stop(machine: Machine) -> None:
    stopped = machine.cli("stop")
    assert stopped.returncode == 0, stopped.stderr + stopped.stdout


def backupOf(machine: Machine, file: ClientFile) -> tuple[Path, dict[str, Any]]:
    real = os.path.realpath(machine.home / file.path)
    for path in (machine.cli.stateDir / "client-backups").glob("*.json"):
        data = json.loads(path.read_text())
        if data["configPath"] == real:
            return path, data
    raise AssertionError(f"no backup of {real}")


def backupEntries(backup: dict[str, Any]) -> dict[str, Any]:
    """The records of a backup: under C{entries} (version 1) or in each of
    its C{blocks} (version 2)."""
    if "blocks" in backup:
        return {name: r for block in backup["blocks"] for name, r in block["entries"].items()}
    return backup["entries"]  # type: ignore[no-any-return]


def test_every_client_adopted_called_and_given_back(machine: Machine) -> None:
    port, began = freePort(), time.monotonic()
    before = machine.snapshot()

    start(machine, port)
    checkShapes(machine, port)
    checkCalls(machine, port)
    checkClientsReport(machine)
    doctor = machine.cli("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["clientBackups"]["status"] == "pass", checks["clientBackups"]

    stop(machine)
    assert machine.snapshot() == before
    print(
        f"adopt, {len(machine.files)} files checked and called, stop: "
        f"{time.monotonic() - began:.1f} s"
    )


def test_a_crash_leaves_backups_that_undo_it_and_the_next_start_restores_first(
    machine: Machine,
) -> None:
    port, began = freePort(), time.monotonic()
    before = machine.snapshot()
    start(machine, port)
    state = machine.cli.state()
    assert state is not None
    os.kill(state["pid"], signal.SIGKILL)
    assert waitFor(lambda: not pidAlive(state["pid"]), 10)
    assert machine.adopted(port)  # the crash left every file adopted

    # What docs/guide/clients.md tells a user to undo by hand holds for every file:
    # the backup names it, holds the exact text before the gateway's write and
    # the hash of what is on disk now, and each entry's original and written.
    for file in machine.files:
        path, backup = backupOf(machine, file)
        raw = (machine.home / file.path).read_bytes()
        assert backup["client"] == file.client, path
        assert backup["undo"][0]["before"] == file.text, path
        assert backup["undo"][-1]["after"] == hashlib.sha256(raw).hexdigest(), path
        entries = entriesOf(file, parse(file, raw.decode()))
        originals = entriesOf(file, parse(file, file.text))
        records = backupEntries(backup)
        for name, record in records.items():
            assert record["written"] == entries[name], (path, name)
            assert record["original"] == originals[name], (path, name)
        assert set(records) == set(file.expected), path

    start(machine, port)
    log = (machine.cli.stateDir / "gateway.log").read_text()
    assert "restored after an unclean stop" in log
    for file in machine.files:  # each file was given back before it was adopted again
        path, _ = backupOf(machine, file)
        assert path.with_name(path.name + ".1").is_file(), path
    checkShapes(machine, port)
    assert waitFor(lambda: echoes(machine.urlOf(machine.files[0], "cursor-demo", port)), 30, 0.5)

    stop(machine)
    assert machine.snapshot() == before
    print(f"adopt, SIGKILL, restore-first start, stop: {time.monotonic() - began:.1f} s")


# -- the docs' examples ----------------------------------------------------------------

DOCS = REPO / "docs" / "guide" / "clients"
EXAMPLES = [
    ("mcpservers-json.md", ".cursor/mcp.json", 0, 1),
    ("mcpservers-json.md", f"{PROJECT}/.cursor/mcp.json", 2, 3),
    ("mcpservers-json.md", ".codeium/windsurf/mcp_config.json", 4, 5),
    ("mcpservers-json.md", ".gemini/settings.json", 6, 7),
    ("mcpservers-json.md", ".cline/data/settings/cline_mcp_settings.json", 8, 9),
    (
        "mcpservers-json.md",
        ".config/Code/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
        10,
        11,
    ),
    ("mcpservers-json.md", ".copilot/mcp-config.json", 12, 13),
    ("mcpservers-json.md", ".aws/amazonq/mcp.json", 14, 15),
    ("mcpservers-json.md", ".kiro/settings/mcp.json", 16, 17),
    ("codex.md", ".codex/config.toml", 0, 1),
    ("codex.md", f"{PROJECT}/.codex/config.toml", 2, 3),
    ("opencode.md", ".config/opencode/opencode.jsonc", 0, 1),
    ("opencode.md", f"{PROJECT}/opencode.json", 2, 3),
    ("stdio-only.md", ".config/Claude/claude_desktop_config.json", 1, 2),
    ("stdio-only.md", ".junie/mcp/mcp.json", 3, 4),
    ("stdio-only.md", f"{PROJECT}/.junie/mcp/mcp.json", 5, 6),
    ("vscode.md", ".config/Code/User/mcp.json", 0, 1),
    ("vscode.md", f"{PROJECT}/.vscode/mcp.json", 2, 3),
    ("yaml-clients.md", ".continue/config.yaml", 0, 1),
    ("yaml-clients.md", f"{PROJECT}/.continue/mcpServers/files.yaml", 2, 3),
    ("yaml-clients.md", f"{PROJECT}/.continue/mcpServers/db.json", 4, 5),
    ("yaml-clients.md", ".config/goose/config.yaml", 7, 8),
    ("zed.md", ".config/zed/settings.json", 0, 1),
    ("zed.md", f"{PROJECT}/.zed/settings.json", 2, 3),
    ("claude-code.md", ".claude.json", 0, 2),  # block 1: the project's .mcp.json
]
"""Each page's (file, code block before, code block after): the docs show
them for port 9100, home /home/me, project /home/me/src/app, the bridge at
/home/me/.local/bin/mcpgateway and the default state directory."""
WORKSPACE_KEY = re.compile(r"~[a-z2-7]{16}/")


@pytest.mark.parametrize(("page", "path", "before", "after"), EXAMPLES)
def test_the_docs_examples_are_what_the_engine_writes(
    tmp_path: Path, page: str, path: str, before: int, after: int
) -> None:
    blocks = re.findall(r"```\w*\n(.*?)```", (DOCS / page).read_text(), re.S)
    home, state = tmp_path / "home", tmp_path / "home" / ".mcpgateway"
    (home / PROJECT).mkdir(parents=True)
    state.mkdir(mode=0o700)
    target = home / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(blocks[before].replace("/home/me", str(home)))
    adapters: list[ClientAdapter] = list(ADAPTERS)
    if path == ".claude.json":
        (home / PROJECT / ".mcp.json").write_text(blocks[1])
        adapters = [ClaudeCode()]
    engine = AdoptionEngine(
        state,
        adapters,
        Host(home, "linux", {}),
        projects=[home / PROJECT],
        bridgeArgv=["/home/me/.local/bin/mcpgateway"],
        environ={"HOME": "/home/me"},
        now=lambda: 1767225600.0,
    )
    keys = stateDirKeys(state)
    report = engine.adopt(
        lambda name, ws: routeUrl("127.0.0.1", 9100, name, None if ws is None else keys.key(ws))
    )
    assert not report.warnings
    written = target.read_text().replace(str(home), "/home/me")
    assert WORKSPACE_KEY.sub("~KEY/", written) == WORKSPACE_KEY.sub("~KEY/", blocks[after])

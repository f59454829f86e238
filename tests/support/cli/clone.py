"""A cloned project whose C{.mcp.json} servers the gateway adopted: what the
tests of the commands that approve a project's own entries start from."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mcpgateway.clientconfigs.claude import ClaudeConfig
from mcpgateway.config.workspaces import WorkspaceKeys


def adoptedClone(home: Path, stateDir: Path, servers: dict[str, Any]) -> str:
    """Write C{home/clone/.mcp.json} holding C{servers}, let Claude's config
    enable the project's servers, adopt it; the clone's real path."""
    directory = home / "clone"
    directory.mkdir()
    (directory / ".mcp.json").write_text(json.dumps({"mcpServers": servers}))
    claudeJson = home / ".claude.json"
    claudeJson.write_text(
        json.dumps(
            {
                "projects": {
                    str(directory): {
                        "hasTrustDialogAccepted": True,
                        "enableAllProjectMcpServers": True,
                    }
                }
            }
        )
    )
    keys = WorkspaceKeys(bytes(range(32)))

    def urlFor(name: str, workspace: str | None) -> str:
        route = name if workspace is None else f"{name}~{keys.key(workspace)}"
        return f"http://127.0.0.1:9100/{route}/mcp"

    ClaudeConfig(claudeJson, stateDir, home=home, environ={"PATH": ""}).adopt(urlFor)
    return os.path.realpath(directory)

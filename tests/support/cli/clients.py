"""What tests/cli/test_clients.py shares with the other tests: adopt,
cursorFile."""

from __future__ import annotations

import json
from pathlib import Path

from mcpgateway.clientconfigs.clients.base import Host
from mcpgateway.clientconfigs.clients.mcpservers import Cursor
from mcpgateway.clientconfigs.engine import AdoptionEngine
from tests.clientconfigs.adoptkit import urlFor

CURSOR = {
    "mcpServers": {
        "fs": {"command": "fs-server", "args": ["/data"]},
        "secret": {"command": "x", "envFile": ".env"},
        "remote": {"url": "https://example.com/mcp"},
    }
}


def cursorFile(home: Path) -> Path:
    path = home / ".cursor" / "mcp.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(CURSOR, indent=2))
    return path


def adopt(home: Path, stateDir: Path) -> None:
    """What a gateway adopting Cursor leaves (then killed)."""
    AdoptionEngine(stateDir, [Cursor()], Host(home), bridgeArgv=["/bin/gw"]).adopt(urlFor)

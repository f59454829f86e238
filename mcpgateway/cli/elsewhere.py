# -*- test-case-name: tests.cli.test_start_environment -*-
"""The entries of the Claude config that a gateway on another port adopted.

Said by C{mcpgateway start} once the gateway answers: such an entry is
served by that other gateway (of another state directory), not by the one
just started, and read here without changing anything.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from urllib.parse import urlsplit


def adoptedElsewhere(config: Path, port: int | None) -> dict[str, int]:
    """The entries of the Claude config C{config} that a gateway on another
    port of this machine adopted (as adoption writes them: a loopback
    C{http(s)://host:port/<name>/mcp}, or C{/<name>~<key>/mcp}, under the
    entry's own name): how many, by that gateway's URL. Read only, and
    nothing when the file cannot be read."""
    try:
        document = json.loads(config.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict):
        return {}
    tables = [document.get("mcpServers")]
    projects = document.get("projects")
    if isinstance(projects, dict):
        tables += [p.get("mcpServers") for p in projects.values() if isinstance(p, dict)]
    found: dict[str, int] = {}
    for table in tables:
        if not isinstance(table, dict):
            continue
        for name, entry in table.items():
            url = entry.get("url") if isinstance(entry, dict) else None
            other = _otherGateway(url, name, port) if isinstance(url, str) else None
            if other is not None:
                found[other] = found.get(other, 0) + 1
    return found


_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _otherGateway(url: str, name: str, port: int | None) -> str | None:
    """The base URL of the gateway on another loopback port than C{port}
    that C{url}, the entry C{name}'s, is an adopted route of."""
    try:
        parts = urlsplit(url)
        other = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.hostname not in _LOOPBACK:
        return None
    if other is None or other == port:
        return None
    if parts.path != f"/{name}/mcp" and not (
        parts.path.startswith(f"/{name}~") and parts.path.endswith("/mcp")
    ):
        return None
    return f"{parts.scheme}://{parts.netloc}"


def shown(path: Path) -> str:
    """C{path}, with C{~} for the home directory."""
    with contextlib.suppress(ValueError):
        return f"~/{path.relative_to(Path.home())}"
    return str(path)

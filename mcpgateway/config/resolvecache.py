# -*- test-case-name: tests.config.test_resolve -*-
"""The file C{<state-dir>/npx-cache.json}: what C{npx}/C{uvx} packages resolved to.

The one reader of that format, used by the gateway's L{Resolver
<mcpgateway.config.resolve.Resolver>} and by C{mcpgateway doctor}. Standard
library only: the command-line tool reads it without loading Twisted.

C{{"version": 1, "entries": {"npx:<pkgspec>": {"command": [...],
"resolvedAt": <epoch seconds>}}}}, C{uvx:} entries alike.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

CACHE_VERSION = 1


class CachedCommand(NamedTuple):
    """One entry of C{npx-cache.json}: the command a package resolved to, and when."""

    command: list[str]
    resolvedAt: float


def readCache(path: Path) -> dict[str, CachedCommand]:
    """Read C{npx-cache.json}: the one reader of that format (the gateway's
    resolver and C{mcpgateway doctor} both use it).

    @raise FileNotFoundError: there is no cache file.
    @raise ValueError: the file is unusable; the message says why.
    """
    raw = path.read_bytes()
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"not JSON: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
        raise ValueError("no 'entries' object")
    if data.get("version") != CACHE_VERSION:
        raise ValueError(f"version {data.get('version')!r}, expected {CACHE_VERSION}")
    entries = {}
    for key, entry in data["entries"].items():
        command = entry.get("command") if isinstance(entry, dict) else None
        resolvedAt = entry.get("resolvedAt") if isinstance(entry, dict) else None
        if not (
            isinstance(command, list) and command and all(isinstance(word, str) for word in command)
        ):
            raise ValueError(f"the entry {key!r} has no 'command' list")
        if isinstance(resolvedAt, bool) or not isinstance(resolvedAt, (int, float)):
            raise ValueError(f"the entry {key!r} has no 'resolvedAt' time")
        entries[str(key)] = CachedCommand(command, float(resolvedAt))
    return entries


def readCacheFile(path: Path) -> dict[str, list[str]]:
    """The commands of C{npx-cache.json} by cache key (see L{readCache})."""
    return {key: entry.command for key, entry in readCache(path).items()}


def usable(command: list[str]) -> bool:
    """Whether every absolute path of a cached command still exists."""
    return os.path.isabs(command[0]) and all(
        os.path.exists(word) for word in command if os.path.isabs(word)
    )

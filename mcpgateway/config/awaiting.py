# -*- test-case-name: tests.config.test_awaiting -*-
"""Watching for a file whose folder does not exist yet.

inotify watches folders, and a client installed after the gateway started
(Cursor's C{~/.cursor/mcp.json}) creates its folder first: the folder
cannot be watched before it exists. So the nearest folder above it that
exists is watched instead (L{nearestExisting}), and an entry created there
on the way to an awaited file (L{leadsTo}) reloads the config, whose reload
then watches the new folder itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable


def nearestExisting(folder: str) -> str | None:
    """The nearest folder at or above C{folder} that exists (C{None}: none,
    not even the root)."""
    current = os.path.abspath(folder)
    while not os.path.isdir(current):
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
    return current


def leadsTo(created: str, awaited: Iterable[str]) -> bool:
    """Whether the entry C{created} (a path an inotify event names) is a
    folder on the way to one of the C{awaited} paths."""
    prefix = os.path.abspath(created) + os.sep
    return any(os.path.abspath(path).startswith(prefix) for path in awaited)

"""What tests/core/test_restore_removal.py shares with the other tests: CLAUDE,
EVERY, savedOn."""

from __future__ import annotations

from typing import Any

from tests.http import spec
from tests.support.core.continuity import MemoryStore, PersistentHarness

CLAUDE = {"srv": spec("srv")}
"""What the gateway serves at start (the servers of C{~/.claude.json})."""
EVERY = {**CLAUDE, "cur": spec("cur")}
"""Once the other clients' files are adopted (C{cur}: only Cursor's)."""


def savedOn(servers: dict[str, Any], *names: str) -> tuple[MemoryStore, list[str]]:
    """A store holding one session on each of C{names}, saved by a gateway
    serving C{servers} that stopped."""
    store = MemoryStore()
    first = PersistentHarness(store, servers)
    sids = [first.initialize(name) for name in names]
    first.gateway.stop()
    return store, sids

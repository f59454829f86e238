"""A child's temporary directory is removed off the reactor's thread once
the child ended: the tests see which removals were asked for without
touching a real directory."""

from __future__ import annotations

import pytest

from mcpgateway.sandbox import childtmp


def recordedRemovals(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, int]]:
    """Replace C{childtmp.remove} by a recorder (which says it removed the
    directory): the C{(stateDir, server, pid)} of each call, in order."""
    removed: list[tuple[str, str, int]] = []

    def remove(stateDir: str, server: str, pid: int) -> bool:
        removed.append((stateDir, server, pid))
        return True

    monkeypatch.setattr(childtmp, "remove", remove)
    return removed

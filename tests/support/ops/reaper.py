"""What tests/ops/test_reaper.py shares with the other tests: alwaysAlive,
sessionIds."""

from __future__ import annotations

from tests.http import Harness


def alwaysAlive(pid: int) -> bool:
    return True


def sessionIds(h: Harness) -> set[str]:
    return {s.id for s in h.gateway.sessions}

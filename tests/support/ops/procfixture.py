"""The C{proc} fixture of the tests that read sockets from /proc: a fake
/proc under C{tmp_path} with empty C{net/tcp} and C{net/tcp6} tables the
test fills with rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.ops.peerpid import FakeProc


@pytest.fixture
def proc(tmp_path: Path) -> FakeProc:
    """A fake /proc with both TCP tables, empty."""
    fake = FakeProc(tmp_path / "proc")
    fake.tcp()
    fake.tcp6()
    return fake

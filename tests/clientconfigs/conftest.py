"""Fixtures of the client-config tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary HOME; the variables that would point a client's or the
    gateway's files elsewhere (C{CLAUDE_CONFIG_DIR}, C{MCPGATEWAY_HOME}) do
    not leak in from outside."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    for name in ("CLAUDE_CONFIG_DIR", "MCPGATEWAY_HOME"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def stateDir(home: Path) -> Path:
    """The gateway's state directory in C{home}, as private as the gateway keeps it."""
    d = home / ".mcpgateway"
    d.mkdir(mode=0o700)
    return d

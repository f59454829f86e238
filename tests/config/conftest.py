"""Fixtures of the config tests: a temporary HOME, where the Claude config
is adopted (and only there)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))  # the Claude config is adopted in the home only
    return path

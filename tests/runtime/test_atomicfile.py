"""atomicfile: the one way the gateway writes a file."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.runtime.atomicfile import fsyncDirectory, tempPrefix, writeFileAtomic


def test_the_mode_is_set_before_any_byte_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    real = os.fsync

    def spy(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    writeFileAtomic(tmp_path / "secret.json", b"{}", 0o600)
    assert seen == [0o600]
    assert stat.S_IMODE((tmp_path / "secret.json").stat().st_mode) == 0o600


def test_temp_names_and_no_leftover_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tempPrefix("claude.json") == ".claude.json."

    def broken(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        writeFileAtomic(tmp_path / "x.json", b"data")
    assert os.listdir(tmp_path) == []


def test_fsync_of_a_missing_directory_is_quiet(tmp_path: Path) -> None:
    fsyncDirectory(tmp_path / "nowhere")
    assert os.listdir(tmp_path) == []  # nothing made in its place

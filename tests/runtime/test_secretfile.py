"""A secret file of the state directory: made once (mode 0600, whatever
the umask), read by everyone after; a race to make it ends with the
winner's; a file that is there is never replaced, a looser mode is
tightened, a symlink or a directory is not used."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.runtime.secretfile import SecretFileError, loadSecretFile, readSecretFile


def test_made_once_then_read(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    made: list[bytes] = []

    def make() -> bytes:
        made.append(b"first\n")
        return made[-1]

    old = os.umask(0)
    try:
        assert loadSecretFile(path, make) == b"first\n"
    finally:
        os.umask(old)
    assert loadSecretFile(path, lambda: b"second\n") == b"first\n"
    assert len(made) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret"]  # no temp left


def test_a_process_that_loses_the_race_reads_the_winners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    realLink = os.link

    def raced(src: Any, dst: Any) -> None:
        Path(dst).write_bytes(b"winner\n")
        realLink(src, dst)  # FileExistsError, as the real race raises

    monkeypatch.setattr(os, "link", raced)
    assert loadSecretFile(tmp_path / "secret", lambda: b"loser\n") == b"winner\n"


def test_a_loose_mode_is_tightened_and_a_symlink_or_directory_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"x")
    path.chmod(0o644)
    assert readSecretFile(path) == b"x"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (tmp_path / "link").symlink_to(path)
    with pytest.raises(SecretFileError, match="cannot be opened"):
        readSecretFile(tmp_path / "link")
    (tmp_path / "folder").mkdir()
    with pytest.raises(SecretFileError, match="not a regular file"):
        readSecretFile(tmp_path / "folder")
    with pytest.raises(FileNotFoundError):
        readSecretFile(tmp_path / "missing")

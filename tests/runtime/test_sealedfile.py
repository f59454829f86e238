"""A sealed JSON file: encrypted, 0600, its key in a file or the keyring,
and an error (never its contents) when it cannot be opened."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mcpgateway.runtime import sealedfile
from mcpgateway.runtime.sealedfile import (
    FileKey,
    KeyringKey,
    SealedFile,
    SealedFileError,
    keyKeeper,
)
from tests.secrets.support import FakeKeyring


def test_a_document_is_sealed_in_a_new_private_directory(tmp_path: Path) -> None:
    path = tmp_path / "new" / "doc"
    sealed = SealedFile(path, FileKey(tmp_path / "new" / "doc.key"))
    assert sealed.read() is None
    sealed.write({"hidden": "plain-words"})
    assert b"plain-words" not in path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert SealedFile(path, FileKey(tmp_path / "new" / "doc.key")).read() == {
        "hidden": "plain-words"
    }


def test_a_lost_or_other_key_is_an_error_without_the_contents(tmp_path: Path) -> None:
    SealedFile(tmp_path / "doc", FileKey(tmp_path / "a.key")).write({"x": "plain-words"})
    with pytest.raises(SealedFileError, match="its key is gone") as gone:
        SealedFile(tmp_path / "doc", FileKey(tmp_path / "missing.key")).read()
    assert gone.value.keyGone
    SealedFile(tmp_path / "other", FileKey(tmp_path / "b.key")).write({})
    with pytest.raises(SealedFileError, match="another key") as other:
        SealedFile(tmp_path / "doc", FileKey(tmp_path / "b.key")).read()
    assert not other.value.keyGone and "plain-words" not in str(other.value)


def test_the_key_is_looked_for_on_first_use_only(tmp_path: Path) -> None:
    asked: list[bool] = []

    def find() -> FileKey:
        asked.append(True)
        return FileKey(tmp_path / "k")

    sealed = SealedFile(tmp_path / "doc", find)
    assert asked == []
    sealed.write({})
    sealed.read()
    assert asked == [True]


def test_the_keyring_keeps_the_key_unless_a_key_file_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring = FakeKeyring()
    monkeypatch.setattr(sealedfile, "realKeyring", lambda: keyring)
    keeper = keyKeeper(tmp_path / "k", "svc", "user")
    assert isinstance(keeper, KeyringKey)
    SealedFile(tmp_path / "doc", keeper).write({"a": 1})
    assert ("svc", "user") in keyring.passwords and not (tmp_path / "k").exists()
    (tmp_path / "k").write_text("a key file\n")
    assert isinstance(keyKeeper(tmp_path / "k", "svc", "user"), FileKey)
    monkeypatch.setattr(sealedfile, "realKeyring", lambda: None)
    assert isinstance(keyKeeper(tmp_path / "none", "svc", "user"), FileKey)

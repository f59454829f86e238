"""The state directory's names live in one module that both sides import."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpgateway import tap
from mcpgateway.clientconfigs import claude
from mcpgateway.config import classification, resolve, serversfile
from mcpgateway.ops import manhole, statedir
from mcpgateway.runtime import paths


def test_default_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(paths.HOME_ENV, raising=False)
    assert paths.defaultStateDir() == str(tmp_path / ".mcpgateway")
    monkeypatch.setenv(paths.HOME_ENV, "/elsewhere")
    assert paths.defaultStateDir() == "/elsewhere"
    assert paths.defaultStateDir({}) == str(tmp_path / ".mcpgateway")


def test_every_writer_names_its_file_from_paths() -> None:
    assert (statedir.STATE_FILE, statedir.LOCK_FILE, statedir.LEDGER) == (
        paths.STATE_FILE,
        paths.LOCK_FILE,
        paths.LEDGER_FILE,
    )
    assert serversfile.FILE == paths.SERVERS_FILE
    assert classification.OVERRIDES_FILE == paths.OVERRIDES_FILE
    assert resolve.CACHE_FILE == paths.NPX_CACHE_FILE
    assert (claude.USER_BACKUP, claude.PROJECT_BACKUPS, claude.RESTORE_FAILED) == (
        paths.USER_BACKUP,
        paths.PROJECT_BACKUPS,
        paths.RESTORE_FAILED,
    )
    assert (manhole.AUTHORIZED_KEYS, manhole.HOST_KEY, manhole.KNOWN_HOSTS) == (
        paths.MANHOLE_AUTHORIZED_KEYS,
        paths.MANHOLE_HOST_KEY,
        paths.MANHOLE_KNOWN_HOSTS,
    )
    assert tap.Options()["port"] == str(paths.DEFAULT_PORT)
    assert paths.stateFile("/s", paths.STATE_FILE) == Path("/s/state.json")

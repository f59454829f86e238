"""The scope catalog files: a round trip, 0700/0600, none saved removes the
file, only hashes as keys, 8 MiB refused, and a bad file skipped, kept and
named in a warning, never an exception. The core side (when they are
written, read and dropped) is tested in
tests/core/pools/test_scopecatalogfile.py."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from mcpgateway.ops.catalogstore import MAX_BYTES, CatalogFileWarning, CatalogTooLarge
from mcpgateway.ops.scopecatalogstore import ScopeCatalogStore
from tests.support.jsonvalues import storeFiles
from tests.support.ops.storegarbage import GARBAGE_SETTINGS, exampleDirectory

ENTRY = "a" * 32
KEY = "0123456789abcdef0123456789abcdef"


def record(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "taken": 10.0,
        "digest": "d1",
        "serverInfo": {"name": "own", "version": "1"},
        "capabilities": {"tools": {}},
        "instructions": None,
        "tools": [{"name": "echo"}],
        "prompts": [],
        "resources": [],
        "resourceTemplates": [],
        "entry": ENTRY,
        "protocolVersion": "2025-06-18",
    }
    base.update(changes)
    return base


def test_a_round_trip_in_private_files(tmp_path: Path) -> None:
    store = ScopeCatalogStore(tmp_path)
    store.save("own", ENTRY, {KEY: record()})
    path = tmp_path / "catalogs" / "scopes" / "own.json"
    assert store.pathOf("own") == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    loaded = ScopeCatalogStore(tmp_path).loadAll()
    assert dict(loaded) == {"own": {"entry": ENTRY, "catalogs": {KEY: record()}}}
    assert loaded.warnings == ()


def test_none_saved_removes_the_file(tmp_path: Path) -> None:
    store = ScopeCatalogStore(tmp_path)
    store.save("own", ENTRY, {KEY: record()})
    store.save("own", "", {})
    assert not store.pathOf("own").exists()
    store.save("own", "", {})  # nothing to remove: nothing happens
    assert ScopeCatalogStore(tmp_path).loadAll() == {}


def test_only_hashes_key_a_file(tmp_path: Path) -> None:
    store = ScopeCatalogStore(tmp_path)
    with pytest.raises(ValueError, match="not keyed by hashes"):
        store.save("own", ENTRY, {"alice": record()})
    with pytest.raises(ValueError, match="not keyed by hashes"):
        store.save("own", "my-token", {KEY: record()})
    path = store.pathOf("own")
    path.parent.mkdir(parents=True)
    body = {"version": 1, "server": "own", "entry": ENTRY, "catalogs": {"x": {}, KEY: record()}}
    path.write_text(json.dumps(body))
    assert list(store.loadAll()["own"]["catalogs"]) == [KEY]


def test_a_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    store = ScopeCatalogStore(tmp_path)
    with pytest.raises(CatalogTooLarge):
        store.save("own", ENTRY, {KEY: record(instructions="x" * MAX_BYTES)})
    assert not store.pathOf("own").exists()


FILES = storeFiles(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}\.json", ("entry", "catalogs"))


@GARBAGE_SETTINGS
@given(FILES)
def test_loadall_never_raises_on_garbage(tmp_path: Path, files: dict[str, bytes]) -> None:
    root = exampleDirectory(tmp_path)
    store = ScopeCatalogStore(root)
    store.save("good", ENTRY, {KEY: record()})
    for name, data in files.items():
        if name != "good.json":
            (store.directory / name).write_bytes(data)
    loaded = ScopeCatalogStore(root).loadAll()
    assert loaded["good"]["catalogs"][KEY]["digest"] == "d1"
    assert all(isinstance(w, CatalogFileWarning) for w in loaded.warnings)
    for server, body in loaded.items():
        assert store.pathOf(server).is_file()
        assert isinstance(body["entry"], str) and isinstance(body["catalogs"], dict)
        assert all(isinstance(r, dict) for r in body["catalogs"].values())
    assert len(loaded) + len(loaded.warnings) == 1 + len(set(files) - {"good.json"})

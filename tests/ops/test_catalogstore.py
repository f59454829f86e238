"""The catalog files: a round trip, 0700/0600, a write only when the content
changed, safe file names, 8 MiB refused, and a bad file skipped, kept and
named in a warning, never an exception."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.ops.catalogstore import (
    DIRECTORY,
    MAX_BYTES,
    CatalogFileWarning,
    CatalogStore,
    CatalogTooLarge,
    encode,
    fileName,
)
from tests.support.jsonvalues import storeFiles
from tests.support.ops.storegarbage import GARBAGE_SETTINGS, exampleDirectory

KEY = "abcdefghijklmnopqrstuvwxyz234567"


def record(taken: float = 1000.0, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "launch": "0123456789abcdef",
        "taken": taken,
        "digest": "d1",
        "serverInfo": {"name": "fs", "version": "1"},
        "capabilities": {"tools": {"listChanged": True}},
        "instructions": None,
        "tools": [{"name": "read_file", "inputSchema": {"type": "object"}}],
        "prompts": [],
        "resources": [],
        "resourceTemplates": [],
    }
    return {**base, **changes}


def test_a_round_trip(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path)
    store.save("fs", "", record())
    store.save("github", KEY, record(digest="d2"))
    loaded = CatalogStore(tmp_path).loadAll()
    assert loaded == {
        ("fs", ""): {**record(), "server": "fs", "catalogKey": ""},
        ("github", KEY): {**record(digest="d2"), "server": "github", "catalogKey": KEY},
    }
    assert loaded.warnings == ()
    assert sorted(os.listdir(tmp_path / DIRECTORY)) == ["fs.json", f"github@{KEY}.json"]


def test_the_file_is_versioned_json_naming_its_server(tmp_path: Path) -> None:
    CatalogStore(tmp_path).save("fs", "", record())
    body = json.loads((tmp_path / DIRECTORY / "fs.json").read_bytes())
    assert body["version"] == 1 and body["server"] == "fs" and body["catalogKey"] == ""
    assert body["tools"] == record()["tools"]


def test_modes_are_0700_and_0600(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path)
    store.save("fs", "", record())
    assert stat.S_IMODE(os.stat(tmp_path / DIRECTORY).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.pathOf("fs")).st_mode) == 0o600


def test_a_loose_directory_is_tightened(tmp_path: Path) -> None:
    (tmp_path / DIRECTORY).mkdir(mode=0o755)
    os.chmod(tmp_path / DIRECTORY, 0o755)
    CatalogStore(tmp_path).save("fs", "", record())
    assert stat.S_IMODE(os.stat(tmp_path / DIRECTORY).st_mode) == 0o700


def test_an_unchanged_catalog_is_not_written_again(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path)
    store.save("fs", "", record())
    store.save("fs", "", record(taken=2000.0))  # only the time differs
    assert store.writes == 1
    assert json.loads(store.pathOf("fs").read_bytes())["taken"] == 1000.0
    store.save("fs", "", record(digest="d2"))
    store.save("fs", "", record(digest="d2", launch="fedcba9876543210"))
    assert store.writes == 3


def test_a_loaded_catalog_is_not_written_again_after_a_restart(tmp_path: Path) -> None:
    CatalogStore(tmp_path).save("fs", "", record())
    store = CatalogStore(tmp_path)
    store.loadAll()
    store.save("fs", "", record(taken=5000.0))
    assert store.writes == 0
    store.save("fs", "", record(digest="d9"))
    assert store.writes == 1


def test_an_oversized_catalog_is_refused(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path)
    store.save("fs", "", record())
    huge = record(tools=[{"name": "t", "description": "x" * MAX_BYTES}])
    with pytest.raises(CatalogTooLarge, match="'fs'"):
        store.save("fs", "", huge)
    assert CatalogStore(tmp_path).loadAll()[("fs", "")]["tools"] == record()["tools"]


def test_a_record_that_is_not_strict_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        CatalogStore(tmp_path).save("fs", "", record(taken=float("inf")))
    with pytest.raises(ValueError):
        CatalogStore(tmp_path).save("fs", "", record(tools={object()}))


def test_no_directory_means_no_catalogs(tmp_path: Path) -> None:
    loaded = CatalogStore(tmp_path / "missing").loadAll()
    assert loaded == {} and loaded.warnings == ()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    directory = tmp_path / DIRECTORY
    directory.mkdir(mode=0o700, exist_ok=True)
    path = directory / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"{not json", "is not JSON"),
        (b"\xff\xfe", "is not JSON"),
        (b"[1, 2]", "is not a JSON object"),
        (b'{"version": 2, "server": "fs"}', "is not of version 1"),
        (b'{"version": true, "server": "fs"}', "is not of version 1"),
        (b'{"version": 1, "server": 5}', "names no server"),
        (b'{"version": 1, "server": "gh"}', "names another server"),
        (b'{"version": 1, "server": "fs", "taken": NaN}', "is not JSON"),
        (b"[" * 100_000, "is not JSON"),
    ],
)
def test_a_bad_file_is_skipped_kept_and_named(tmp_path: Path, data: bytes, why: str) -> None:
    CatalogStore(tmp_path).save("good", "", record())
    path = write(tmp_path, "fs.json", data)
    loaded = CatalogStore(tmp_path).loadAll()
    assert list(loaded) == [("good", "")]
    assert len(loaded.warnings) == 1
    warning = loaded.warnings[0]
    assert warning.path == path and why in warning.why
    assert str(path) in str(warning)
    assert path.read_bytes() == data  # never deleted


def test_a_bad_file_is_replaced_by_the_next_save(tmp_path: Path) -> None:
    write(tmp_path, "fs.json", b"garbage")
    store = CatalogStore(tmp_path)
    assert store.loadAll().warnings
    store.save("fs", "", record())
    assert CatalogStore(tmp_path).loadAll()[("fs", "")]["digest"] == "d1"


def test_an_oversized_file_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "fs.json", b" " * (MAX_BYTES + 1))
    (warning,) = CatalogStore(tmp_path).loadAll().warnings
    assert "larger than" in warning.why


def test_a_fifo_or_a_directory_is_skipped_without_blocking(tmp_path: Path) -> None:
    directory = tmp_path / DIRECTORY
    directory.mkdir()
    os.mkfifo(directory / "fifo.json")
    (directory / "sub.json").mkdir()
    (directory / "link.json").symlink_to(tmp_path / "elsewhere.json")
    warnings = CatalogStore(tmp_path).loadAll().warnings
    assert sorted(w.path.name for w in warnings) == ["fifo.json", "link.json", "sub.json"]


def test_temp_files_and_other_names_are_ignored_silently(tmp_path: Path) -> None:
    write(tmp_path, ".fs.json.abcdefgh.tmp", b"half")
    write(tmp_path, ".hidden.json", b"x")
    write(tmp_path, "README", b"x")
    loaded = CatalogStore(tmp_path).loadAll()
    assert loaded == {} and loaded.warnings == ()


def test_an_unlistable_directory_is_a_warning(tmp_path: Path) -> None:
    write(tmp_path, "x", b"")
    (tmp_path / DIRECTORY / "x").unlink()
    (tmp_path / DIRECTORY).rmdir()
    (tmp_path / DIRECTORY).write_bytes(b"a file, not a directory")
    loaded = CatalogStore(tmp_path).loadAll()
    assert loaded == {}
    assert [w.path for w in loaded.warnings] == [tmp_path / DIRECTORY]


@pytest.mark.parametrize(
    ("server", "catalogKey", "name"),
    [
        ("fs", "", "fs.json"),
        ("a.b-c_d", KEY, f"a.b-c_d@{KEY}.json"),
        ("../etc", "", None),
        (".hidden", "", None),
        ("", "", None),
        ("x/y", "", None),
        ("fs", "../../k", None),
        ("fs", "k@j", None),
        ("é" * 100, "", None),
    ],
)
def test_file_names_are_safe(server: str, catalogKey: str, name: str | None) -> None:
    got = fileName(server, catalogKey)
    if name is not None:
        assert got == name
    assert "/" not in got and not got.startswith(".") and "\0" not in got
    assert len(got.encode()) <= 255 and got.isascii()


@pytest.mark.parametrize("server", ["../etc", "x/y", "\udc80", "é"])
def test_any_server_name_round_trips(tmp_path: Path, server: str) -> None:
    store = CatalogStore(tmp_path)
    store.save(server, "../k", record())
    assert list(CatalogStore(tmp_path).loadAll()) == [(server, "../k")]
    assert os.listdir(tmp_path) == [DIRECTORY]


def test_a_file_copied_under_another_name_is_skipped(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path)
    store.save("fs", "", record())
    write(tmp_path, "gh.json", store.pathOf("fs").read_bytes())
    loaded = CatalogStore(tmp_path).loadAll()
    assert list(loaded) == [("fs", "")]
    assert [w.path.name for w in loaded.warnings] == ["gh.json"]


@given(st.permutations(["name", "entityType", "observations", "zeta", "alpha"]))
def test_an_items_keys_keep_the_order_the_server_listed(order: list[str]) -> None:
    """A tool's parameters, read back from the file, are in the order its
    server listed them (a model's prompt and a form show them so); the file
    is ASCII whatever the text."""
    schema = {"type": "object", "properties": {name: {"type": "string"} for name in order}}
    tools = [{"name": "add", "description": "héllo \udc80", "inputSchema": schema}]
    data = encode("fs", "", record(tools=tools))
    assert data.isascii()
    assert list(json.loads(data)["tools"][0]["inputSchema"]["properties"]) == order


def test_the_order_survives_a_save_and_a_load(tmp_path: Path) -> None:
    order = ["name", "entityType", "observations"]
    schema = {"type": "object", "properties": {name: {"type": "string"} for name in order}}
    CatalogStore(tmp_path).save("mem", "", record(tools=[{"name": "add", "inputSchema": schema}]))
    loaded = CatalogStore(tmp_path).loadAll()[("mem", "")]
    assert list(loaded["tools"][0]["inputSchema"]["properties"]) == order


def test_the_programs_are_saved_with_their_times_and_sizes(tmp_path: Path) -> None:
    script = tmp_path / "srv.py"
    script.write_text("print('alpha')\n")
    missing = str(tmp_path / "not-there.py")
    CatalogStore(tmp_path).save("dev", "", record(programs=[str(script), missing]))
    body = json.loads((tmp_path / DIRECTORY / "dev.json").read_bytes())
    found = os.stat(script)
    assert body["programs"] == {
        str(script): [found.st_mtime_ns, found.st_size],
        missing: None,
    }


def test_a_catalog_whose_program_is_unchanged_keeps_its_entry(tmp_path: Path) -> None:
    script = tmp_path / "srv.py"
    script.write_text("print('alpha')\n")
    CatalogStore(tmp_path).save("dev", "", record(programs=[str(script)], entry="e1"))
    loaded = CatalogStore(tmp_path).loadAll()
    assert loaded[("dev", "")]["entry"] == "e1"
    assert loaded.changed == {}


@pytest.mark.parametrize("change", ["edited", "removed", "created"])
def test_a_catalog_whose_program_changed_is_read_without_its_entry(
    tmp_path: Path, change: str
) -> None:
    """Its entry is what makes a catalog current for a client's start-up:
    without it the child starts and lists the server again."""
    script = tmp_path / "srv.py"
    if change != "created":
        script.write_text("print('alpha')\n")
    CatalogStore(tmp_path).save("dev", "", record(programs=[str(script)], entry="e1"))
    if change == "edited":
        script.write_text("print('alpha'); print('beta')\n")
    elif change == "removed":
        script.unlink()
    else:
        script.write_text("print('alpha')\n")
    loaded = CatalogStore(tmp_path).loadAll()
    assert "entry" not in loaded[("dev", "")]
    assert loaded.changed == {("dev", ""): str(script)}
    assert loaded[("dev", "")]["tools"] == record()["tools"]  # still known, for the aggregate


def test_a_rewrite_of_the_same_size_in_the_same_second_is_seen(tmp_path: Path) -> None:
    script = tmp_path / "srv.py"
    script.write_text("alpha\n")
    os.utime(script, ns=(1_000_000_000_000, 1_000_000_000_000))
    CatalogStore(tmp_path).save("dev", "", record(programs=[str(script)], entry="e1"))
    script.write_text("gamma\n")
    os.utime(script, ns=(1_000_000_000_500, 1_000_000_000_500))
    assert CatalogStore(tmp_path).loadAll().changed == {("dev", ""): str(script)}


FILES = storeFiles(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,20}\.json", ("catalogKey", "tools"))


@GARBAGE_SETTINGS
@given(FILES)
def test_loadall_never_raises_on_garbage(tmp_path: Path, files: dict[str, bytes]) -> None:
    root = exampleDirectory(tmp_path)
    CatalogStore(root).save("good", KEY, record())
    for name, data in files.items():
        if name != f"good@{KEY}.json":
            write(root, name, data)
    loaded = CatalogStore(root).loadAll()
    assert loaded[("good", KEY)]["digest"] == "d1"
    assert all(isinstance(w, CatalogFileWarning) for w in loaded.warnings)
    for (server, catalogKey), body in loaded.items():
        assert body["server"] == server and body["catalogKey"] == catalogKey
        assert "version" not in body
        assert (root / DIRECTORY / fileName(server, catalogKey)).is_file()
    assert len(loaded) + len(loaded.warnings) == 1 + len(set(files) - {f"good@{KEY}.json"})

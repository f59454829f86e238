"""Landlock's rules: what a child may read and write, an allowed directory
split around what it must not see (Landlock cannot hide inside an allowed
path), and the accesses each ABI knows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcpgateway.sandbox import landlock
from mcpgateway.sandbox.landlock import handledFs, rules
from mcpgateway.sandbox.layout import Layout


def test_each_abi_handles_what_it_knows() -> None:
    assert handledFs(1) == (1 << 13) - 1
    assert handledFs(2) & landlock.REFER and not handledFs(2) & landlock.TRUNCATE
    assert handledFs(3) & landlock.TRUNCATE and not handledFs(3) & landlock.IOCTL_DEV
    assert handledFs(7) & landlock.IOCTL_DEV


def test_a_childs_paths_the_system_its_devices_and_its_temporary_directory(tmp_path: Path) -> None:
    layout = Layout(str(tmp_path / "home"), str(tmp_path), "none")
    layout.system = [("ro", "/usr", "/usr"), ("symlink", "usr/bin", "/bin"), ("ro", "/var", "/var")]
    layout.readOnly = [(str(tmp_path / "app"), str(tmp_path / "app"))]
    layout.writable = [(str(tmp_path / "data"), str(tmp_path / "data"))]
    layout.reopened = [("/state/npx/pkg", False)]
    allowed = dict(rules(layout, str(tmp_path / "tmp")))
    assert allowed["/usr"] is False and "/bin" not in allowed and "/var" not in allowed
    assert allowed[str(tmp_path / "app")] is False and allowed[str(tmp_path / "data")] is True
    assert allowed[str(tmp_path / "tmp")] is True and allowed["/dev/null"] is True
    assert allowed["/dev/urandom"] is False and allowed["/proc"] is False
    assert allowed["/state/npx/pkg"] is False
    # What a runtime sizes itself by, read-only (DuckDB aborts when it is refused).
    for facts in ("/sys/fs/cgroup", "/sys/devices/system/cpu"):
        assert allowed.get(facts, False) is False and (facts in allowed) == os.path.isdir(facts)
    assert "/sys" not in allowed


def test_an_allowed_directory_is_split_around_what_is_masked_in_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for path in (".ssh", ".config/gh", ".config/app", "work"):
        (home / path).mkdir(parents=True)
    (home / ".profile").write_text("")
    layout = Layout(str(home), str(home), "none")
    layout.writable = [(str(home), str(home))]
    layout.masked = [(str(home / ".ssh"), True), (str(home / ".config/gh"), True)]
    allowed = [path for path, writable in rules(layout, None) if writable]
    assert sorted(p for p in allowed if p.startswith(str(home))) == [
        str(home / ".config/app"),
        str(home / ".profile"),
        str(home / "work"),
    ]


def test_a_masked_allowed_path_is_left_out_whole(tmp_path: Path) -> None:
    layout = Layout("/h", "/h", "none")
    layout.readOnly = [("/h/.ssh/keys", "/h/.ssh/keys")]
    layout.masked = [("/h/.ssh", True)]
    assert all(not path.startswith("/h/.ssh") for path, _ in rules(layout, None))


def test_too_many_rules_is_refused_not_cut_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(landlock, "MAX_RULES", 3)
    layout = Layout("/h", "/h", "none")
    layout.readOnly = [(f"/p{i}", f"/p{i}") for i in range(5)]
    with pytest.raises(OSError, match="over the limit"):
        rules(layout, None)

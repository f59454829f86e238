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


def test_the_gaps_of_landlock_with_the_filter_on_a_recent_kernel() -> None:
    gaps = landlock.landlockGaps(True, 7)
    assert not any("UNIX sockets" in gap or "UDP" in gap for gap in gaps)
    assert any("pid namespace" in gap for gap in gaps)
    assert any("by port" in gap for gap in gaps)
    assert not any("ABI <" in gap for gap in gaps)


def test_without_libseccomp_sockets_and_the_filtered_calls_are_gaps() -> None:
    gaps = landlock.landlockGaps(False, 7)
    assert any(gap.startswith("UNIX sockets") and "(no libseccomp)" in gap for gap in gaps)
    assert any(gap.startswith("UDP and IP protocols other than TCP") for gap in gaps)
    assert any("ptrace" in gap for gap in gaps)
    assert not any(gap.startswith("TCP") for gap in gaps)  # ABI 4 keeps TCP


@pytest.mark.parametrize(
    ("abi", "gap"),
    [
        (3, "an allow list: the child shares the host's network (ABI < 4: no TCP rules)"),
        (2, "truncating a file the child may only read (ABI < 3)"),
        (4, "ioctl on the devices the child may open (ABI < 5)"),
        (
            5,
            "signals: the child may signal every process of its user (as root: almost every"
            " process) (ABI < 6)",
        ),
    ],
)
def test_what_an_older_abi_leaves_open(abi: int, gap: str) -> None:
    assert gap in landlock.landlockGaps(True, abi)
    assert gap not in landlock.landlockGaps(True, 7)


def test_an_old_kernel_without_the_filter_leaves_tcp_open_too() -> None:
    assert "TCP: a child without network still connects anywhere (ABI < 4)" in (
        landlock.landlockGaps(False, 3)
    )
    assert (
        landlock.landlockGaps(True, 0)
        == landlock.landlockGaps(False, 0)
        == ["anything: this kernel has no Landlock"]
    )

"""config.workspaces: the key of a workspace in a route, and the secret behind it."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.config import workspaces
from mcpgateway.config.workspaces import (
    KEY_FILE,
    WorkspaceKeyError,
    WorkspaceKeys,
    canonicalPath,
    credentialKey,
    isKey,
    loadSecret,
    scopeKey,
    workspaceKey,
)

SECRET = bytes(range(32))


def test_the_algorithm_is_pinned() -> None:
    """Keys are written into users' client configs and saved sessions:
    changing how they are computed moves every workspace route."""
    assert scopeKey(SECRET, "workspace", b"/home/user/project") == "hb7iu2okwum6nfiv"
    assert credentialKey(SECRET, {"GITHUB_TOKEN": "ghp_x"}) == "gbmw7esoupy3wze5"


def test_a_key_is_short_url_safe_and_reveals_nothing(tmp_path: Path) -> None:
    project = tmp_path / "acme-payments"
    project.mkdir()
    key = workspaceKey(SECRET, project)
    assert isKey(key) and len(key) == 16
    assert key == key.lower() and key.isalnum()
    for part in project.parts[1:]:
        assert part.lower()[:4] not in key
    assert workspaceKey(b"\x01" * 32, project) != key  # another state directory


def test_the_same_workspace_keeps_its_key_across_restarts(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    project = tmp_path / "p"
    project.mkdir()
    first = WorkspaceKeys.forStateDir(state).key(project)
    second = WorkspaceKeys.forStateDir(state).key(str(project))  # a new process
    assert first == second
    assert WorkspaceKeys.forStateDir(tmp_path / "state").pathOf(first) is None
    keys = WorkspaceKeys.forStateDir(state)
    assert keys.pathOf(keys.key(project)) == str(project.resolve())


def test_a_symlink_and_its_target_are_one_workspace(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    other = tmp_path / "other"
    other.mkdir()
    keys = WorkspaceKeys(SECRET)
    assert keys.key(tmp_path / "link") == keys.key(real) == keys.key(f"{real}/./")
    assert keys.key(other) != keys.key(real)


def test_a_workspace_that_is_gone_keeps_its_key(tmp_path: Path) -> None:
    gone = tmp_path / "not-yet"
    before = workspaceKey(SECRET, gone)
    gone.mkdir()
    assert workspaceKey(SECRET, gone) == before


@pytest.mark.parametrize("path", ["relative/dir", "", "/a\0b", "/a/\ud800"])
def test_paths_that_name_no_workspace_are_refused(path: str) -> None:
    with pytest.raises(ValueError):
        workspaceKey(SECRET, path)
    with pytest.raises(ValueError):
        WorkspaceKeys(SECRET).key(path)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_a_key_or_a_value_error(path: str) -> None:
    try:
        key = workspaceKey(SECRET, "/" + path)
    except ValueError:
        return
    assert isKey(key)
    assert key == workspaceKey(SECRET, canonicalPath("/" + path))


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=4),
    st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=4),
)
def test_credential_keys_are_equal_exactly_for_equal_sets(
    a: dict[str, str], b: dict[str, str]
) -> None:
    assert isKey(credentialKey(SECRET, a))
    assert (credentialKey(SECRET, a) == credentialKey(SECRET, b)) == (a == b)
    assert credentialKey(SECRET, dict(reversed(list(a.items())))) == credentialKey(SECRET, a)


def test_kinds_never_share_keys() -> None:
    assert scopeKey(SECRET, "workspace", b"x") != scopeKey(SECRET, "credential", b"x")
    keys = WorkspaceKeys(SECRET)
    assert keys.digest("credential", b"x") == scopeKey(SECRET, "credential", b"x")
    assert keys.credential({"A": "1"}) == credentialKey(SECRET, {"A": "1"})
    assert "1" not in repr(keys)


# -- the secret file ---------------------------------------------------------------


def test_the_secret_is_made_once_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        secret = loadSecret(tmp_path)
    finally:
        os.umask(old)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) == 32
    assert path.read_text() == secret.hex() + "\n"
    assert loadSecret(tmp_path) == secret
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEY_FILE]  # no temp left


def test_a_process_that_loses_the_race_uses_the_winners_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = b"\x07" * 32
    realLink = os.link

    def raced(src: Any, dst: Any) -> None:
        Path(dst).write_text(winner.hex() + "\n")
        realLink(src, dst)  # raises FileExistsError, as the real race would

    monkeypatch.setattr(os, "link", raced)
    assert loadSecret(tmp_path) == winner
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEY_FILE]


def test_without_hard_links_the_file_is_created_exclusively(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(src: Any, dst: Any) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refused)
    secret = loadSecret(tmp_path)
    assert (tmp_path / KEY_FILE).read_text() == secret.hex() + "\n"
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEY_FILE]


@pytest.mark.parametrize("content", ["", "not hex\n", "ab" * 31 + "\n", "ab" * 33, "é"])
def test_a_file_that_is_not_a_key_is_an_error_and_is_kept(tmp_path: Path, content: str) -> None:
    path = tmp_path / KEY_FILE
    path.write_text(content)
    with pytest.raises(WorkspaceKeyError) as caught:
        loadSecret(tmp_path)
    assert str(path) in str(caught.value) and "Remove it" in str(caught.value)
    assert path.read_text() == content


def test_a_symlink_or_a_directory_is_not_used(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("ab" * 32)
    (tmp_path / KEY_FILE).symlink_to(target)
    with pytest.raises(WorkspaceKeyError, match="cannot be opened"):
        loadSecret(tmp_path)
    other = tmp_path / "other"
    (other / KEY_FILE).mkdir(parents=True)
    with pytest.raises(WorkspaceKeyError, match="not a regular file"):
        loadSecret(other)


def test_a_readable_secret_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    path.write_text("cd" * 32 + "\n")
    path.chmod(0o644)
    assert loadSecret(tmp_path) == b"\xcd" * 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_state_dir_that_cannot_hold_it_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        loadSecret(tmp_path / "missing")


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        WorkspaceKeys(b"short")
    assert workspaces.KEY_PATTERN.pattern == "[a-z2-7]{16}"

"""A workspace's C{.env} is read only as a file of the workspace's own: a
symbolic link (to C{~/.aws/credentials}, to another project's C{.env}),
a file with other hard links or one on the sandbox's deny list is unusable,
named once with why and never read; the gateway's own C{<state-dir>/.env},
the user's, is read as before."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpgateway.config.envfiles import readGatewayEnv, readWorkspaceEnv, refresh
from mcpgateway.config.workspacefile import ForeignFile, deniedPath, openWorkspaceFile

AWS = "[default]\naws_access_key_id = AKIAALICE\naws_secret_access_key = ALICE-AWS-SECRET\n"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home with AWS credentials, another project with a token in its
    C{.env}, and a cloned repository C{clone}."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(AWS)
    (home / "work" / "other").mkdir(parents=True)
    (home / "work" / "other" / ".env").write_text("STRIPE_KEY=sk_live_OTHER\n")
    (home / "clone").mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def test_a_link_to_the_aws_credentials_is_not_read(home: Path) -> None:
    (home / "clone" / ".env").symlink_to(home / ".aws" / "credentials")
    read = readWorkspaceEnv(home / "clone")
    assert read.values == ()
    assert read.warning is not None
    assert "symbolic link" in read.warning and ".aws/credentials" in read.warning
    assert "ALICE-AWS-SECRET" not in read.warning and "AKIAALICE" not in read.warning


def test_a_relative_link_to_another_projects_env_is_not_read(home: Path) -> None:
    (home / "clone" / ".env").symlink_to("../work/other/.env")
    read = readWorkspaceEnv(home / "clone")
    assert read.values == () and read.warning is not None
    assert "sk_live_OTHER" not in read.warning


def test_a_link_to_a_file_inside_the_workspace_is_not_read_either(home: Path) -> None:
    (home / "clone" / "env.real").write_text("A=1\n")
    (home / "clone" / ".env").symlink_to("env.real")
    assert readWorkspaceEnv(home / "clone").values == ()


def test_a_hard_link_to_another_file_is_not_read(home: Path) -> None:
    os.link(home / "work" / "other" / ".env", home / "clone" / ".env")
    read = readWorkspaceEnv(home / "clone")
    assert read.values == () and read.warning is not None and "hard link" in read.warning


def test_a_workspace_on_the_deny_list_has_no_usable_env(home: Path) -> None:
    (home / ".gemini").mkdir()
    (home / ".gemini" / ".env").write_text("GEMINI_API_KEY=g-secret\n")
    read = readWorkspaceEnv(home / ".gemini")
    assert read.values == () and read.warning is not None
    assert "~/.gemini/.env" in read.warning and "g-secret" not in read.warning


def test_a_workspaces_own_file_is_read(home: Path) -> None:
    (home / "clone" / ".env").write_text("TOKEN=repo-own\n")
    read = readWorkspaceEnv(home / "clone")
    assert read.values == (("TOKEN", "repo-own"),) and read.warning is None


def test_the_gateways_own_env_may_be_a_link_of_the_users(home: Path) -> None:
    state = home / "state"
    state.mkdir()
    (state / ".env").symlink_to(home / "work" / "other" / ".env")
    assert readGatewayEnv(state).values == (("STRIPE_KEY", "sk_live_OTHER"),)


def test_a_link_is_not_read_again_until_it_changes(home: Path) -> None:
    link = home / "clone" / ".env"
    link.symlink_to(home / ".aws" / "credentials")
    first = readWorkspaceEnv(home / "clone")
    assert first.stamp is not None
    assert refresh(first) is first  # its own stamp: the same link, not read again
    link.unlink()
    link.write_text("A=1\n")
    assert refresh(first).values == (("A", "1"),)


def test_a_file_made_a_link_between_the_look_and_the_open_is_refused(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = home / "clone" / ".env"
    link.write_text("A=1\n")
    realLstat = os.lstat

    def swapped(path: str | os.PathLike[str]) -> os.stat_result:
        seen = realLstat(path)
        link.unlink()
        link.symlink_to(home / ".aws" / "credentials")
        return seen

    monkeypatch.setattr(os, "lstat", swapped)
    with pytest.raises(ForeignFile, match="symbolic link"):
        openWorkspaceFile(str(link))


@given(target=st.text(st.characters(blacklist_characters="\0"), min_size=1, max_size=40))
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_link_is_unusable_whatever_it_names(home: Path, target: str) -> None:
    link = home / "clone" / ".env"
    if link.is_symlink() or link.exists():
        link.unlink()
    try:
        link.symlink_to(target)
    except (OSError, ValueError, UnicodeError):
        return  # a name the file system does not take
    read = readWorkspaceEnv(home / "clone")
    assert read.values == ()
    assert read.warning is not None and "symbolic link" in read.warning


@given(
    under=st.sampled_from([".ssh", ".aws", ".config/gh", ".gnupg", ".claude.json"]),
    rest=st.lists(st.from_regex(r"[a-z0-9_.]{1,8}", fullmatch=True), max_size=3),
)
def test_any_path_under_a_denied_one_is_denied(under: str, rest: list[str]) -> None:
    rest = [part for part in rest if part not in (".", "..")]
    path = os.path.join("/home/me", under, *rest)
    assert deniedPath(path, "/home/me") == f"~/{under}"


@given(name=st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True))
def test_a_project_folder_is_not_denied(name: str) -> None:
    assert deniedPath(f"/home/me/src/{name}/.env", "/home/me") is None

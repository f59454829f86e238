"""The approvals of a project entry's wider sandbox, as kept in the state
directory: written private, read back, one per server, project and file;
a file that is not one is refused in words; what is not an approval in it
is skipped; an approval covers only its own server, project and digest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpgateway.config.sandboxapprovals import (
    APPROVALS_FILE,
    ApprovalsError,
    SandboxApproval,
    approve,
    approveCommand,
    forget,
    readApprovals,
)

ONE = SandboxApproval("x", "/ws", "/ws/.mcp.json", "sha256:aa", ("sandbox",))


def test_an_approval_is_kept_private_and_read_back(tmp_path: Path) -> None:
    assert readApprovals(tmp_path) == []
    approve(tmp_path, ONE)
    assert readApprovals(tmp_path) == [ONE]
    assert (tmp_path / APPROVALS_FILE).stat().st_mode & 0o777 == 0o600


def test_a_new_approval_of_the_same_entry_replaces_the_old_one(tmp_path: Path) -> None:
    approve(tmp_path, ONE)
    other = SandboxApproval("y", "/ws", "/ws/.mcp.json", "sha256:bb", ())
    approve(tmp_path, other)
    changed = SandboxApproval("x", "/ws", "/ws/.mcp.json", "sha256:cc", ("network",))
    approve(tmp_path, changed)
    assert readApprovals(tmp_path) == [other, changed]
    assert forget(tmp_path, "x", "/ws") == 1 and readApprovals(tmp_path) == [other]
    assert forget(tmp_path, "x", "/ws") == 0


def test_an_approval_covers_its_entry_only() -> None:
    assert ONE.covers("x", "/ws", "sha256:aa")
    assert not ONE.covers("x", "/ws", "sha256:changed")
    assert not ONE.covers("x", "/other", "sha256:aa")
    assert not ONE.covers("y", "/ws", "sha256:aa")


@pytest.mark.parametrize("text", ["{not json", "[]", '{"approvals": 3}', "\x00"])
def test_a_file_that_is_not_one_is_refused_in_words(tmp_path: Path, text: str) -> None:
    (tmp_path / APPROVALS_FILE).write_text(text)
    with pytest.raises(ApprovalsError, match=APPROVALS_FILE):
        readApprovals(tmp_path)


def test_what_is_not_an_approval_is_skipped(tmp_path: Path) -> None:
    good = ONE.toJson()
    items = [good, {**good, "digest": ""}, {**good, "widenings": "sandbox"}, 3, {}]
    (tmp_path / APPROVALS_FILE).write_text(json.dumps({"approvals": items}))
    assert readApprovals(tmp_path) == [ONE]


def test_the_command_quotes_what_it_names() -> None:
    assert approveCommand("x", "/my repo") == "mcpgateway sandbox approve x --workspace '/my repo'"

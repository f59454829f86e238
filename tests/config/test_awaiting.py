"""Watching for a file whose folder does not exist yet: the nearest folder
that exists is watched, and what is created there on the way to an awaited
file reloads."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.config.awaiting import leadsTo, nearestExisting


def test_the_nearest_existing_folder(tmp_path: Path) -> None:
    assert nearestExisting(str(tmp_path / ".cursor")) == str(tmp_path)
    assert nearestExisting(str(tmp_path / "a" / "b" / "c")) == str(tmp_path)
    (tmp_path / "a").mkdir()
    assert nearestExisting(str(tmp_path / "a" / "b")) == str(tmp_path / "a")
    assert nearestExisting(str(tmp_path)) == str(tmp_path)


def test_a_folder_on_the_way_leads_to_the_awaited_file(tmp_path: Path) -> None:
    awaited = [str(tmp_path / ".cursor" / "mcp.json"), str(tmp_path / ".claude.json")]
    assert leadsTo(str(tmp_path / ".cursor"), awaited)
    assert not leadsTo(str(tmp_path / ".cursorrules"), awaited)  # a prefix, not a folder
    assert not leadsTo(str(tmp_path / ".vscode"), awaited)
    assert not leadsTo(str(tmp_path / ".claude.json"), awaited)  # the file itself


_part = st.from_regex(r"[a-z][a-z.]{0,5}", fullmatch=True)


@given(st.lists(_part, min_size=1, max_size=4), st.lists(_part, min_size=1, max_size=4))
def test_leads_to_exactly_the_ancestors(awaited: list[str], created: list[str]) -> None:
    target = os.path.join("/h", *awaited)
    made = os.path.join("/h", *created)
    expected = len(created) < len(awaited) and awaited[: len(created)] == created
    assert leadsTo(made, [target]) == expected

"""A client file adopted, restored, then moved behind a
symlink (into a dotfiles folder) and adopted again under its new real path.
The kept backup of the first run names the old path, which now resolves to
the file adopted again: C{doctor} must not call that file
stale (a client's write-back of an old copy), nor list it under two paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mcpgateway.clientconfigs.restoring import restoreAll, staleFiles
from tests.cli.support import check
from tests.support.cli.clients import adopt, cursorFile


def symlinkedAndAdoptedAgain(home: Path, stateDir: Path) -> tuple[Path, Path]:
    """Cursor's file adopted and restored (a kept backup), moved to
    C{~/dotfiles/cursor.json} with a symlink left in its place, adopted again
    by a gateway that was then killed: the link and its target."""
    link = cursorFile(home)
    adopt(home, stateDir)
    restoreAll(stateDir)  # the stop: the backup is kept as <backup>.1
    target = home / "dotfiles" / "cursor.json"
    target.parent.mkdir()
    link.rename(target)
    os.symlink(os.path.relpath(target, link.parent), link)
    adopt(home, stateDir)  # the next start; then kill -9
    return link, target


def test_a_file_adopted_again_behind_a_symlink_is_not_stale(stateDir: Path, home: Path) -> None:
    link, target = symlinkedAndAdoptedAgain(home, stateDir)
    assert json.loads(link.read_text())["mcpServers"]["fs"]["url"].endswith("/fs/mcp")

    assert staleFiles(stateDir) == []
    result = check(stateDir, "clientBackups")
    assert result.status == "fail" and "still point at the gateway" in result.message
    assert result.details == (f"{target} (cursor): fs",)  # once, at its real path


def test_a_stale_copy_known_to_two_series_of_kept_backups_is_listed_once(
    stateDir: Path, home: Path
) -> None:
    """Both runs stopped cleanly (two series of kept backups, one per real
    path), then Cursor writes back the copy it read: one stale file."""
    _, target = symlinkedAndAdoptedAgain(home, stateDir)
    adopted = target.read_bytes()
    restoreAll(stateDir)
    target.write_bytes(adopted)

    [stale] = staleFiles(stateDir)
    assert os.path.realpath(stale.path) == str(target)
    result = check(stateDir, "clientBackups")
    assert result.status == "fail" and len(result.details or ()) == 1

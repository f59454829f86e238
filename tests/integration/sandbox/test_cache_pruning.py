"""A running gateway removes, soon after it starts, the launchers' caches
no entry wants any more (an entry's older folders, a folder no child
started on for thirty days), and keeps the one a child holds and the one
holding an earlier gateway's package copy; and the package install an
entry left for a newer one (docs/guide/sandbox.md)."""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.ops.cachepruning import FIRST_PASS
from tests.integration import sandboxkit
from tests.integration.gateway import waitFor, writeConfig

pytestmark = pytest.mark.integration

DAY = 86400.0


def made(caches: Path, key: str, route: str | None, daysAgo: float) -> Path:
    folder = caches / key
    (folder / "npm" / "_npx").mkdir(parents=True)
    (folder / "npm" / "_npx" / "index.js").write_bytes(b"x" * 100_000)
    started = time.time() - daysAgo * DAY
    if route is not None:
        (folder / "route").write_text(route)
        (folder / ".inuse").touch()
        os.utime(folder / ".inuse", (started, started))
    os.utime(folder, (started, started))
    return folder


def test_a_gateway_removes_the_caches_no_entry_wants(start: Any, home: Path) -> None:
    caches = home / "state" / "caches"
    made(caches, "memory-v1", "copy-memory", 3)
    made(caches, "memory-v2", "copy-memory", 1)
    made(caches, "time-v1", "copy-time", 40)
    copy = made(caches, "memory-v0", None, 90)
    (copy / "package").mkdir()
    (copy / "package" / "memory.jsonl").write_text('{"type":"entity"}\n')
    os.utime(copy, (time.time() - 90 * DAY,) * 2)
    held = made(caches, "fetch-v1", "copy-fetch", 40)
    lock = os.open(held / ".inuse", os.O_RDONLY)
    fcntl.flock(lock, fcntl.LOCK_SH)  # as a running child's launcher holds it
    try:
        gateway = start()

        def said() -> list[str]:
            return [line for line in gateway.text().splitlines() if "launcher caches" in line]

        assert waitFor(lambda: len(said()) >= 2, timeout=FIRST_PASS + 60), gateway.text()[-3000:]
        assert sorted(os.listdir(caches)) == ["fetch-v1", "memory-v0", "memory-v2"]
        lines = said()
        assert any("memory-v1" in line and "its entry changed since" in line for line in lines)
        assert any("time-v1" in line and "for 30 days" in line for line in lines), lines
        assert (copy / "package" / "memory.jsonl").is_file()
    finally:
        os.close(lock)


def test_a_gateway_removes_the_install_its_entry_left_for_a_newer_one(
    start: Any, home: Path
) -> None:
    """An entry run from the gateway's install of version 1, then of
    version 2: the next gateway removes the version 1 install, and keeps
    the one the entry runs now."""
    fixture = Path(__file__).resolve().parents[2] / "fixtures" / "counter_server.py"
    installs = []
    for name in ("counter@1.0.0-aaaa", "counter@2.0.0-bbbb"):
        folder = home / "state" / "npx" / name
        folder.mkdir(parents=True)
        shutil.copy(fixture, folder / "server.py")
        installs.append(folder)
    config = home / "servers.json"

    def runFrom(folder: Path) -> None:
        writeConfig(
            config, {"counter": {"command": sys.executable, "args": [f"{folder}/server.py"]}}
        )

    claims = home / "state" / "claims" / "npx"
    runFrom(installs[0])
    gateway = start("--config", str(config))
    sandboxkit.toolCall(gateway.url("counter"), "count")
    assert os.listdir(claims) == [installs[0].name], gateway.text()[-3000:]
    runFrom(installs[1])  # the entry pinned a newer version: reloaded, a new child on it

    def onTheNewOne() -> bool:
        try:
            sandboxkit.toolCall(gateway.url("counter"), "count")
        except Exception:  # the reload ended the session this call opened: once more
            return False
        return (claims / installs[1].name).is_dir()

    assert waitFor(onTheNewOne, timeout=60), gateway.text()[-3000:]
    gateway.stop()
    following = start("--config", str(config))

    def removed() -> bool:  # the install, then its claims, then the log's word of it
        return (
            not installs[0].exists()
            and os.listdir(claims) == [installs[1].name]
            and "removed the package install" in following.text()
        )

    assert waitFor(removed, timeout=FIRST_PASS + 60), following.text()
    assert installs[1].is_dir()

"""C{sandbox check}, C{sandbox show} and C{doctor} describe the running
gateway's sandbox, not the shell's: a real gateway started with a C{PATH}
that has C{bwrap} confines its children with bubblewrap, and the commands
run from a shell whose C{PATH} lacks it (a folder of links to every other
program) say so; once it has stopped, they say what this shell would use
(Landlock, where the kernel has it). Bubblewrap must work here; the test
skips, saying why, where it cannot."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import RunningGateway, waitFor, writeConfig
from tests.integration.sandboxkit import bwrapOrSkip
from tests.support.integration.detached import environment, runCli

pytestmark = pytest.mark.integration


def withoutBwrap(folder: Path) -> str:
    """A C{PATH} of one folder: links to every program of this C{PATH} but
    C{bwrap}."""
    folder.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            target = Path(directory) / name
            if name != "bwrap" and not (folder / name).exists() and os.access(target, os.X_OK):
                (folder / name).symlink_to(target)
    assert shutil.which("bwrap", path=str(folder)) is None
    return str(folder)


def test_the_commands_describe_the_running_gateways_sandbox(
    start: Any, home: Path, tmp_path: Path
) -> None:
    bwrapOrSkip()
    config = writeConfig(home / "servers.json", {"srv": {"command": "/bin/true"}})
    gateway: RunningGateway = start("--config", str(config), "--sandbox", "auto")
    assert waitFor(lambda: "confined children run in bubblewrap" in gateway.text(), timeout=30)
    pid = gateway.health()["pid"]
    shell = environment(home, PATH=withoutBwrap(tmp_path / "bin"))

    checked = runCli(home, "sandbox", "check", env=shell)
    assert checked.returncode == 0, checked.stderr
    lines = checked.stdout.splitlines()
    assert lines[0] == f"the running gateway (pid {pid}) uses bubblewrap (--sandbox auto)"
    assert "confined children run in bubblewrap" in lines
    document = json.loads(runCli(home, "sandbox", "check", "--json", env=shell).stdout)
    assert document["mechanism"] == "bwrap" and document["source"]["gateway"] == pid

    shown = runCli(home, "sandbox", "show", "srv", env=shell)
    assert f"mechanism: bubblewrap (the running gateway's, pid {pid})" in shown.stdout.splitlines()
    doctor = runCli(home, "doctor", env=shell)
    assert f"the running gateway (pid {pid}) confines its children with bubblewrap" in (
        doctor.stdout
    ), doctor.stdout

    gateway.stop()
    alone = runCli(home, "sandbox", "check", env=shell)
    said = alone.stdout.splitlines()
    assert said[0] == "no gateway running: this is what one started from this shell would use"
    assert "bubblewrap: does not work here: bwrap is not installed" in said[1]

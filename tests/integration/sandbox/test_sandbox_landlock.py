"""The Landlock fallback, for real: the launcher confines a command with
Landlock alone (as where bubblewrap cannot run), and the command may read
its own files and write its workspace, and nothing of the home's secrets;
without network no TCP connect (ABI 4); no signal to a process outside
(ABI 6)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.sandbox.probe import landlockAbi
from tests.integration.sandboxkit import ATTEMPTS, SECRET, Listener, fakeHome, launch

pytestmark = pytest.mark.integration

PROGRAM = (
    ATTEMPTS
    + """
import socket
home = os.environ["HOME"]
attempt("key", lambda: open(home + "/.ssh/id_rsa").read())
attempt("own", lambda: open(sys.argv[1] + "/notes.txt").read())
attempt("write", lambda: open(sys.argv[1] + "/new.txt", "w").write("x"))
attempt("elsewhere", lambda: open(os.environ["ELSEWHERE"] + "/new.txt", "w").write("x"))
attempt("tmp", lambda: open(os.environ["TMPDIR"] + "/t", "w").write("x"))
out["tmpdir"] = os.environ["TMPDIR"]
attempt("connect", lambda: socket.create_connection(("127.0.0.1", int(sys.argv[2])), 2).close())
attempt("signal", lambda: os.kill(int(sys.argv[3]), 0))
print(json.dumps(out))
"""
)


def confined(home: Path, workspace: Path, argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    version, why = landlockAbi()
    if version < 1:
        pytest.skip(f"Landlock is not available here: {why}")
    request = {
        "server": "ll",
        "mechanism": "landlock",
        "landlock": version,
        "command": sys.executable,
        "cwd": str(workspace),
        "workspace": True,
        "gatewayCwd": str(workspace),
        "home": str(home),
        "stateDir": str(home / "state"),
        "network": {"mode": "none"},
        "profile": {},
        "interpreter": sys.executable,
        "interpreterPaths": [p for p in sys.path if p.startswith("/")],
    }
    done = launch(request, argv, workspace, home, env)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_landlock_confines_a_child_to_its_own_files(
    home: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    fakeHome(home)
    (home / "state").mkdir(exist_ok=True)
    workspace = tmp_path_factory.mktemp("workspace")
    (workspace / "notes.txt").write_text("mine")
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    listener = Listener()
    try:
        argv = [
            sys.executable,
            "-c",
            PROGRAM,
            str(workspace),
            str(listener.port),
            str(os.getpid()),
        ]
        # Named in the environment, not the command line: a path an argument
        # names is the child's own.
        out = confined(home, workspace, argv, {"ELSEWHERE": str(elsewhere)})
    finally:
        listener.close()
    assert out["key"] == ["refused", 13] and SECRET not in json.dumps(out)  # EACCES
    assert out["own"] == ["ok", "mine"] and out["write"][0] == "ok"
    assert out["elsewhere"][0] == "refused" and not (elsewhere / "new.txt").exists()
    assert out["tmp"][0] == "ok" and out["tmpdir"].startswith(str(home / "state" / "sandbox"))
    version, _ = landlockAbi()
    if version >= 4:
        assert out["connect"][0] == "refused"
    if version >= 6:
        assert out["signal"][0] == "refused"

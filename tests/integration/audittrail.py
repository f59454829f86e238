"""Reading a real gateway's audit trail (C{--audit-log}) in integration
tests: its request records without the chain's own, and C{mcpgateway audit
verify} run on its files as an auditor runs it; and a gateway run by the
CLI on a fresh HOME with its audit log given by the environment (C{home},
C{cli}, C{gatewayPid}, C{waitGone}), called through a session (C{echo})."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.ops.auditchain import CHAIN_KINDS
from mcpgateway.ops.statedir import pidAlive
from tests.integration.gateway import REPO
from tests.support.integration.detached import environment, runCli
from tests.support.mcpclient import Session


def requestRecords(path: Path) -> list[dict[str, Any]]:
    """The records of C{path} that are requests' (the chain's own records,
    a segment's start, a rotation, a segment's end, left out)."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in records if r.get("kind") not in CHAIN_KINDS]


def trailFiles(path: Path) -> list[str]:
    """C{path} and its rotated files (C{path.1}, C{path.2}, ...)."""
    rotated = sorted(path.parent.glob(path.name + ".*"))
    return [str(p) for p in rotated if p.name[len(path.name) + 1 :].isdigit()] + [str(path)]


def auditVerify(
    *files: str, home: Path | None = None, stateDir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """C{mcpgateway audit verify FILE...}, as a separate process (with the
    audit key of C{stateDir}, the gateway's state directory, when given)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    if home is not None:
        env["HOME"] = str(home)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mcpgateway.cli",
            "audit",
            "verify",
            *(["--state-dir", str(stateDir)] if stateDir is not None else []),
            *files,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assertVerifies(path: Path, home: Path | None = None, stateDir: Path | None = None) -> str:
    """C{mcpgateway audit verify} on C{path}'s trail exits 0 (keyed: with
    the key of C{stateDir}); its output."""
    done = auditVerify(*trailFiles(path), home=home, stateDir=stateDir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("intact: "), done.stdout + done.stderr
    return done.stdout


# -- a gateway started by the CLI, its audit log in the environment ---------------------


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A fresh HOME (the bundled demo is served); a gateway a failed test
    left running is killed."""
    yield tmp_path
    try:
        pid = int(json.loads((tmp_path / "gw" / "state.json").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return
    if pidAlive(pid):
        os.kill(pid, signal.SIGKILL)


def cli(home: Path, *args: str) -> str:
    """C{mcpgateway ARGS...} on the test's state directory, its audit log
    given by the environment (so C{restart} hands it to the successor)."""
    env = environment(home, MCPGATEWAY_AUDIT_LOG=str(home / "audit.jsonl"))
    done = runCli(home, *args, stateDir=home / "gw", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def gatewayPid(home: Path) -> int:
    return int(json.loads((home / "gw" / "state.json").read_text())["pid"])


def echo(session: Session, text: str) -> None:
    """Call the demo's C{echo} with C{text} in C{session}; it answers it back."""
    assert text in json.dumps(session.call("echo", {"message": text}))


def waitGone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while pidAlive(pid):
        assert time.monotonic() < deadline, f"pid {pid} still runs"
        time.sleep(0.05)

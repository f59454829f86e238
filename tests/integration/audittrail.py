"""Reading a real gateway's audit trail (C{--audit-log}) in integration
tests: its request records without the chain's own, and C{mcpgateway audit
verify} run on its files as an auditor runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from mcpgateway.ops.auditchain import CHAIN_KINDS
from tests.integration.gateway import REPO


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

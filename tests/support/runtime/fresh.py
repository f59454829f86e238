"""A fresh Python interpreter for a test: what a module imports (idle RSS),
what touches the global reactor, or what a start leaves in C{sys.modules}
can only be seen in a process that has imported nothing yet, and this one
has imported Twisted's web, the test fakes and more."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
"""The checkout, so the fresh interpreter imports this C{mcpgateway} and C{tests}."""


def freshPython(
    *args: str,
    home: Path | None = None,
    cwd: Path = REPO,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run C{python args...} (C{-c code} and its arguments, usually) with
    the checkout on C{PYTHONPATH} and, given C{home}, C{HOME} there; fails
    the test unless it exits 0 (its stderr says why)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if home is not None:
        env["HOME"] = str(home)
    result = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return result


def freshJson(
    code: str, *args: str, home: Path | None = None, cwd: Path = REPO, timeout: float = 60
) -> Any:
    """Run C{code} with C{args} in a fresh interpreter (see L{freshPython}):
    the JSON it printed last."""
    result = freshPython("-c", code, *args, home=home, cwd=cwd, timeout=timeout)
    return json.loads(result.stdout.strip().splitlines()[-1])


def demoConfig(directory: Path) -> Path:
    """A config file in C{directory} that serves one stdio server, the demo
    (C{python -m mcpgateway.demo})."""
    config = directory / "servers.json"
    config.write_text(
        json.dumps(
            {"mcpServers": {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}}}
        )
    )
    return config

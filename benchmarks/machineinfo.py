"""What a run's figures came from: the machine (CPU, memory, kernel, the
versions of Python, Node, Twisted, uvloop) and the gateway code measured
(git HEAD, uncommitted files, a hash of the sources).
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from benchenv import REPO


def codeIdentity() -> dict[str, Any]:
    """Which gateway code ran: git HEAD (read only), uncommitted files under
    mcpgateway/, and a hash of the sources (to notice edits during the run)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted([*REPO.glob("mcpgateway/**/*.py"), *REPO.glob("twisted/plugins/*.py")]):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=10
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    dirty = [
        line[3:]
        for line in git("status", "--porcelain", "--", "mcpgateway", "twisted").splitlines()
        if len(line) > 3
    ]
    return {
        "commit": git("rev-parse", "--short", "HEAD").strip(),
        "uncommitted": dirty,
        "sourceHash": digest.hexdigest()[:16],
    }


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memTotal = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memTotal = int(line.split()[1]) // 1024
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    try:
        import twisted

        tw = twisted.__version__
    except ImportError:
        tw = "?"
    try:
        import uvloop

        uv = uvloop.__version__
    except ImportError:
        uv = None
    return {
        "nproc": os.cpu_count(),
        "usableCpus": len(os.sched_getaffinity(0)),
        "cpuModel": model,
        "kernel": platform.release(),
        "memTotalMB": memTotal,
        "python": platform.python_version(),
        "node": node,
        "twisted": tw,
        "uvloop": uv,
        "loadAverageAtStart": [round(x, 2) for x in os.getloadavg()],
    }

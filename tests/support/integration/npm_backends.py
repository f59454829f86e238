"""The npm test backends that C{scripts/install-test-backends} puts in a
cache directory, for the tests that start them: L{backendPaths} reads what
the script installed (its C{paths.env}), L{installBackends} runs it when
something a test needs is missing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def backendPaths(cache: Path) -> dict[str, str]:
    """The C{KEY=path} lines of C{cache}'s C{paths.env} (like
    C{SERVER_MEMORY_JS} or C{TS_CLIENT2_DIR}); empty before the script
    has run."""
    paths = cache / "paths.env"
    if not paths.is_file():
        return {}
    pairs = (line.split("=", 1) for line in paths.read_text().splitlines() if "=" in line)
    return {key: value.strip() for key, value in pairs}


def installBackends(cache: Path) -> None:
    """Run C{scripts/install-test-backends} into C{cache}, quietly; a
    failure fails the test that needed a backend."""
    subprocess.run(
        [str(REPO / "scripts" / "install-test-backends"), "--quiet"],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "MCPGATEWAY_TEST_CACHE": str(cache)},
    )

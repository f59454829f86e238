"""Fixtures for end-to-end tests: real gateway subprocesses, real MCP servers."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.gateway import REPO, RunningGateway

CACHE = Path(os.environ.get("MCPGATEWAY_TEST_CACHE") or REPO / ".cache" / "test-backends")
EVERYTHING = CACHE / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A temporary HOME: tests never see the real ~/.claude.json."""
    (tmp_path / "state").mkdir()
    return tmp_path


@pytest.fixture
def start(home: Path) -> Iterator[object]:
    """Start gateways with C{start(args...)}; all are stopped after the test."""
    running: list[RunningGateway] = []

    def starter(*args: str, **kwargs: object) -> RunningGateway:
        gateway = RunningGateway(list(args), home, **kwargs)  # type: ignore[arg-type]
        running.append(gateway)
        return gateway

    yield starter
    for gateway in running:
        gateway.stop()


@pytest.fixture(scope="session")
def everything() -> list[str]:
    """argv of @modelcontextprotocol/server-everything over stdio.

    Installed by scripts/install-test-backends (which .ci/run also calls);
    skipped with a reason only when Node itself is missing."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("Node.js/npm not found: server-everything tests need them")
    if not EVERYTHING.is_file():
        subprocess.run([str(REPO / "scripts" / "install-test-backends")], check=True,
                       env={**os.environ, "MCPGATEWAY_TEST_CACHE": str(CACHE)})
    assert EVERYTHING.is_file(), f"server-everything missing at {EVERYTHING}"
    return [node, str(EVERYTHING), "stdio"]

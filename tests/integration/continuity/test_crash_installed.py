"""A crash keeps a child whose package the gateway installed in that very
run: C{npx -y PKG} and C{uvx PKG} entries whose package the gateway
installs itself (confined, through its allow-list proxy, from a registry
on loopback: L{tests.integration.packagekit}), a count in the child's
memory, the gateway killed with C{SIGKILL}, and C{mcpgateway start} again
on the same state directory: the same process goes on counting.

The install reached its registry through the proxy in its server's name;
the child itself has no way out through the proxy, and so is kept like
any other."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import gatewayEnv, waitFor
from tests.integration.packagekit import NAME, VERSION, PackageIndex, npmCounter
from tests.integration.restartkit import (
    count,
    freePort,
    health,
    hostPidOf,
    openSession,
    running,
    sandboxProbed,
    state,
)
from tests.integration.sandboxkit import bwrapOrSkip

pytestmark = pytest.mark.integration


def uvBin(home: Path) -> Path:
    """A folder holding only C{uv} and C{uvx} (the test extra's, beside this
    interpreter), for the gateway's C{PATH}: nothing else of this venv."""
    folder = home / "uvbin"
    folder.mkdir(exist_ok=True)
    for name in ("uv", "uvx"):
        found = shutil.which(name) or str(Path(sys.executable).parent / name)
        if not os.access(found, os.X_OK):
            pytest.skip(f"no {name}: the test extra installs uv ('.[test]')")
        link = folder / name
        if not link.exists():
            link.symlink_to(os.path.realpath(found))
    return folder


def cli(home: Path, *args: str, path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = gatewayEnv(home)
    if path is not None:
        env["PATH"] = f"{path}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", *args],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    if shutil.which("npx") is None or shutil.which("npm") is None:
        pytest.skip("npm and npx are needed")
    served = PackageIndex(npmCounter(tmp_path_factory.mktemp("package")))
    yield served
    served.close()


def entryOf(kind: str, index: PackageIndex) -> dict[str, Any]:
    if kind == "npx":
        registry = {"npm_config_registry": index.npmUrl, "npm_config_fetch_retries": "0"}
        return {"command": "npx", "args": ["-y", f"{NAME}@{VERSION}"], "env": registry}
    return {
        "command": "uvx",
        "args": [f"{NAME}@{VERSION}"],
        "env": {"UV_INDEX_URL": index.pythonUrl, "UV_PYTHON": "/usr/bin/python3"},
    }


@pytest.mark.parametrize("kind", ["npx", "uvx"])
def test_a_crash_keeps_a_child_whose_package_was_installed_in_that_run(
    home: Path, index: PackageIndex, kind: str
) -> None:
    bwrapOrSkip()
    path = uvBin(home) if kind == "uvx" else None
    if kind == "uvx" and not os.access("/usr/bin/python3", os.X_OK):
        pytest.skip("uvx's server needs a system Python 3 at /usr/bin/python3")
    config = home / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"counter": entryOf(kind, index)}}))
    port = freePort()
    start = ["start", "--port", str(port), "--config", str(config), "--sandbox", "auto"]
    started = cli(home, *start, path=path)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        sandboxProbed(home)  # the child is laid out with what it found
        session = openSession(port, "counter")
        first, pid = count(port, "counter", session, 1)  # waits for the install
        assert count(port, "counter", session, 2) == (first + 1, pid)
        log = (home / "state" / "gateway.log").read_text()
        assert f"{kind} {NAME}@{VERSION} resolved to" in log  # installed in this run
        child = hostPidOf(home, "counter")
        time.sleep(2.5)  # by now the warden holds every child (given at initialize)

        gateway = state(home)["pid"]
        os.kill(gateway, 9)
        assert waitFor(lambda: not running(gateway), timeout=10)
        assert running(child)  # held by the warden
        again = cli(home, *start, path=path)
        assert again.returncode == 0, again.stdout + again.stderr
        assert waitFor(lambda: health(port).get("restart", {}).get("kept") == 1, timeout=20), (
            health(port).get("restart")
        )
        # The same process, with what it counted.
        assert count(port, "counter", session, 3) == (first + 2, pid)
        assert hostPidOf(home, "counter") == child
        report = health(port)["restart"]
        assert report["started"] == 0 and report["anew"] == [], report
        status = cli(home, "status")
        assert "kept 1 running child with their memory, 0 started anew" in status.stdout
    finally:
        stopped = cli(home, "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert waitFor(lambda: not running(child), timeout=15)

"""C{mcpgateway.launch.warm} writes the bytecode of every module a real gateway
loads as it starts, so the gateway never compiles one (and keeps the garbage)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.gateway import REPO

pytestmark = pytest.mark.integration

GATEWAY = """
import sys
from twisted.internet import reactor
import mcpgateway.launch as launch

def done():  # twistd took over sys.stdout for its log
    print("MODULES", " ".join(sorted(sys.modules)), file=sys.__stdout__, flush=True)
    reactor.stop()

reactor.callWhenRunning(reactor.callLater, 1.0, done)
sys.argv = ["twistd", "-n", "--pidfile=", "--logger", "mcpgateway.logs.discarding",
            "mcpgateway", "--port", "tcp:0:interface=127.0.0.1", "--state-dir", sys.argv[1]]
launch.twistd()
"""

WARM = """
import sys
import mcpgateway.launch as launch
launch.warm(compileDir=lambda path: None)
print("MODULES", " ".join(sorted(sys.modules)))
"""


def modules(code: str, *args: str, home: Path) -> set[str]:
    """The modules a fresh C{python -OO} running C{code} had loaded."""
    env = {
        **os.environ,
        "HOME": str(home),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        [sys.executable, "-OO", "-c", code, *args],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = [line for line in proc.stdout.splitlines() if line.startswith("MODULES ")]
    assert len(found) == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    [line] = found
    return set(line.split()[1:])


def test_warm_loads_every_module_a_starting_gateway_loads_but_its_own(tmp_path: Path) -> None:
    running = modules(GATEWAY, str(tmp_path / "state"), home=tmp_path)
    warmed = modules(WARM, home=tmp_path)
    assert "mcpgateway.core.gateway" in running and "twisted.web.server" in running
    missing = {name for name in running - warmed if not name.startswith("mcpgateway")}
    assert missing == set(), "add these to mcpgateway.launch.WARM_MODULES"
    assert "twisted.trial" not in running and "unittest" not in running  # no discovery

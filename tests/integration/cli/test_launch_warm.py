"""C{mcpgateway.launch}: a real gateway run as C{mcpgateway start} runs it is on
the gateway's reactor, with no plugin discovery, and the warm-up
(L{mcpgateway.runtime.warmup}) writes the
bytecode of every module it loads as it starts (so the gateway never compiles
one, and keeps the garbage)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from mcpgateway.runtime import interpreter
from tests.integration.gateway import REPO

pytestmark = pytest.mark.integration

GATEWAY = """
import sys
import twisted.internet.main as main
import mcpgateway.launch as launch

install = main.installReactor

def installed(reactor):  # launch.twistd installs the gateway's reactor
    install(reactor)
    reactor.callWhenRunning(reactor.callLater, 1.0, done, reactor)

def done(reactor):  # twistd took over sys.stdout for its log
    print("REACTOR", type(reactor).__name__, file=sys.__stdout__, flush=True)
    print("MODULES", " ".join(sorted(sys.modules)), file=sys.__stdout__, flush=True)
    reactor.stop()

main.installReactor = installed
sys.argv = ["twistd", "-n", "--pidfile=", "--logger", "mcpgateway.runtime.logs.discarding",
            "mcpgateway", "--port", "tcp:0:interface=127.0.0.1", "--state-dir", sys.argv[1]]
launch.twistd()
"""

WARM = """
import sys
from mcpgateway.runtime.warmup import warm
warm(compileDir=lambda path: None, stampPath=sys.argv[1])
print("MODULES", " ".join(sorted(sys.modules)))
"""


def run(code: str, *args: str, home: Path) -> dict[str, list[str]]:
    """The lines a fresh C{python -OO} running C{code} printed, by first word."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
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
    lines = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines() if line}
    assert "MODULES" in lines, proc.stdout[-2000:] + proc.stderr[-2000:]
    return lines


@pytest.mark.usefixtures("defaultTwisted")  # what the default loads
def test_warm_loads_every_module_a_starting_gateway_loads_but_its_own(tmp_path: Path) -> None:
    gateway = run(GATEWAY, str(tmp_path / "state"), home=tmp_path)
    warmed = set(run(WARM, str(tmp_path / "warmed.json"), home=tmp_path)["MODULES"])
    running = set(gateway["MODULES"])
    assert "mcpgateway.core.gateway" in running and "twisted.web.server" in running
    missing = {name for name in running - warmed if not name.startswith("mcpgateway")}
    assert missing == set(), "add these to mcpgateway.runtime.warmup.WARM_MODULES"
    assert "twisted.trial" not in running and "unittest" not in running  # no discovery
    assert gateway["REACTOR"] == ["GatewayReactor"]


def test_the_module_runs_twistd_under_oo_and_says_why_it_refuses() -> None:
    """A real interpreter: C{python -OO -m mcpgateway.launch} is twistd (its
    usage error for an unknown plugin lists the gateway alone)."""
    proc = subprocess.run(
        [*interpreter.command("-m", "mcpgateway.launch"), "--pidfile=", "nosuch"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Unknown command: nosuch" in proc.stdout + proc.stderr
    assert "mcpgateway" in proc.stdout
    assert "web" not in proc.stdout.split("Commands:")[-1]


def test_nothing_is_imported_from_the_working_directory(tmp_path: Path) -> None:
    """In the container the working directory is the state volume, which the
    servers can write: a module planted there is never imported (C{-P})."""
    if "-P" not in interpreter.FLAGS:
        pytest.skip("-P needs Python 3.11")
    (tmp_path / "twisted.py").write_text("raise SystemExit('planted module imported')\n")
    (tmp_path / "mcpgateway.py").write_text("raise SystemExit('planted module imported')\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [*interpreter.command("-m", "twisted", "--help")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "planted" not in proc.stdout + proc.stderr
    assert proc.returncode == 0 and "mcpgateway" in proc.stdout


def test_a_private_bytecode_folder_holds_all_a_gateway_loads_once_warmed(tmp_path: Path) -> None:
    """Where the standard library lacks C{-OO} bytecode, C{mcpgateway start}
    runs the warm-up and the gateway with C{-X pycache_prefix} in the state
    directory: the warm-up writes there the bytecode of every module the
    gateway then loads, standard library included, so a start compiles
    none."""
    folder = tmp_path / "state" / interpreter.BYTECODE_FOLDER
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        "HOME": str(tmp_path),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }

    def python(*rest: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            interpreter.command(*rest, bytecodeFolder=str(folder)),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    warmed = python("-c", "from mcpgateway.runtime.warmup import warm; warm()")
    assert warmed.returncode == 0, warmed.stderr[-2000:]
    written = {p for p in folder.rglob("*") if p.is_file()}
    stdlib = sysconfig.get_path("stdlib")
    stdlibCode = folder / stdlib.lstrip("/")  # no __pycache__ under a prefix
    assert any(p.name.startswith("typing.") and p.parent == stdlibCode for p in written)
    assert any(p.name.startswith("warmed.") and p.parent == folder for p in written)

    started = python("-c", GATEWAY, str(tmp_path / "state"))
    assert "REACTOR" in started.stdout, started.stdout[-2000:] + started.stderr[-2000:]
    compiled = {p for p in folder.rglob("*.pyc")} - written
    assert compiled == set(), "modules the warm-up left for the gateway to compile"

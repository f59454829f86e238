"""An upgrade of the installed package keeps the children: the project is
built into two wheels (the second with another version string), the first
installed (not editable) in a throwaway venv, a gateway started from it
(C{mcpgateway start}, detached) with a shared and a per-session server
that count calls in memory; the second wheel is installed over the first
while the gateway runs, and C{mcpgateway restart} starts the new code: the
same child processes go on with their counts, neither is sent an
C{initialize} again, and the new process says the new version in
C{/health}.

The throwaway venv installs the project only (C{--no-deps --no-index});
its dependencies are the test venv's (a C{.pth} file names its
site-packages), so nothing is downloaded."""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
import time
from pathlib import Path

import pytest
from packaging.version import Version

from tests.integration.gateway import REPO, waitFor
from tests.integration.restartkit import (
    COUNTER,
    countedOnBoth,
    countsGoOn,
    freePort,
    health,
    restartedFrom,
    running,
    state,
)

pytestmark = pytest.mark.integration

PACKAGED = ("mcpgateway", "twisted", "pyproject.toml", "setup.cfg", "README.md", "MANIFEST.in")
"""What of the checkout a build reads (the tests, the docs and the venv stay out)."""
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
"""The test venv's pip: it builds the wheels and installs them in the throwaway venv."""
VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"$', re.MULTILINE)


def copyTree(into: Path, version: str | None = None) -> Path:
    """The checkout's packaged files in C{into}, its version string
    C{version} (C{None}: as it is)."""
    into.mkdir()
    for name in PACKAGED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, into / name)
    for extra in REPO.glob("LICENSE*"):
        shutil.copy2(extra, into / extra.name)
    if version is not None:
        init = into / "mcpgateway" / "__init__.py"
        init.write_text(VERSION_LINE.sub(f'__version__ = "{version}"', init.read_text()))
    return into


def isolatedBuild() -> bool:
    """Whether the build needs an isolated environment: the test venv's
    setuptools cannot make a wheel by itself (older than 70.1, no C{wheel}
    package)."""
    from importlib.util import find_spec

    try:
        ownWheel = find_spec("setuptools.command.bdist_wheel") is not None
    except ImportError:
        ownWheel = False
    return not ownWheel and find_spec("wheel") is None


def buildWheels(trees: list[Path], out: Path) -> list[Path]:
    """One wheel of each tree, built side by side (C{pip wheel --no-deps}),
    in the order of C{trees}."""
    isolation = [] if isolatedBuild() else ["--no-build-isolation"]
    builds = [
        subprocess.Popen(
            [*PIP, "wheel", "--no-deps", *isolation, "-q", "-w", str(out / tree.name), f"{tree}/"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for tree in trees
    ]
    wheels = []
    for tree, build in zip(trees, builds, strict=True):
        output, _ = build.communicate(timeout=300)
        assert build.returncode == 0, output[-2000:]
        [wheel] = (out / tree.name).glob("mcpgateway-*.whl")
        wheels.append(wheel)
    return wheels


def makeVenv(where: Path) -> Path:
    """A venv without pip whose site-packages also reads the test venv's
    (the project's dependencies): its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    own = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # A .pth line adds a folder only: the test venv's editable mcpgateway
    # (its own .pth there) is not read, the installed one is the only one.
    Path(own, "test-venv.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python


def install(python: Path, wheel: Path, *, over: bool = False) -> None:
    """Install C{wheel} into C{python}'s venv, with the test venv's pip.

    The first install ignores the mcpgateway pip sees through the test
    venv's folders (a non-editable one, as CI installs it, would count as
    installed already and nothing would land here); an install C{over} the
    venv's own copy upgrades it as a user's C{pip install -U} does."""
    first = [] if over else ["--ignore-installed"]
    done = subprocess.run(
        [
            *PIP,
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            *first,
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def installed(venv: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed C{mcpgateway} command, with a temporary HOME and
    nothing of the checkout on its path."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
        "HOME": str(home),
        "MCPGATEWAY_HOME": str(home / "state"),
    }
    return subprocess.run(
        [str(venv / "bin" / "mcpgateway"), *args],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=90,
    )


def configure(home: Path) -> Path:
    """A shared and a per-session counter, each writing the methods it is sent."""
    config = home / "servers.json"
    servers = {
        name: {
            "command": COUNTER[0],
            "args": [*COUNTER[1:], "--journal", str(home / f"{name}.methods")],
            "sandbox": False,
            **extra,
        }
        for name, extra in (("shared", {}), ("solo", {"mode": "stateful"}))
    }
    config.write_text(json.dumps({"mcpServers": servers}))
    return config


def initializes(home: Path, server: str, pid: int) -> int:
    """How many C{initialize} requests C{server}'s child C{pid} was sent."""
    lines = (home / f"{server}.methods").read_text().splitlines()
    return lines.count(f"{pid} initialize")


def test_an_upgrade_of_the_installed_package_keeps_each_child_with_its_memory(
    home: Path, tmp_path: Path
) -> None:
    began = time.monotonic()
    found = VERSION_LINE.search((REPO / "mcpgateway" / "__init__.py").read_text())
    assert found is not None
    old = found.group(1)
    new = f"{Version(old).base_version}.post99"
    first, second = buildWheels(
        [copyTree(tmp_path / "before"), copyTree(tmp_path / "after", new)], tmp_path / "wheels"
    )
    venv = tmp_path / "venv"
    install(makeVenv(venv), first)
    built = time.monotonic()

    config = configure(home)
    port = freePort()
    started = installed(venv, home, "start", "--port", str(port), "--config", str(config))
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        before = state(home)["pid"]
        with open(f"/proc/{before}/cmdline", "rb") as f:
            assert str(venv).encode() in f.read()  # the installed package runs, not the checkout
        assert health(port)["version"] == old
        shared, solo, soloPid, sharedPid = countedOnBoth(port)
        assert initializes(home, "shared", sharedPid) == 1
        assert initializes(home, "solo", soloPid) == 1

        install(venv / "bin" / "python", second, over=True)  # over the running gateway's files
        upgraded = time.monotonic()
        restartedFrom(home, installed(venv, home, "restart"), before)

        # The same processes, with what they counted; nothing initialized again.
        countsGoOn(port, shared, solo, soloPid, sharedPid)
        assert running(soloPid) and running(sharedPid)
        assert initializes(home, "shared", sharedPid) == 1
        assert initializes(home, "solo", soloPid) == 1
        now = health(port)
        assert now["version"] == new, now["version"]
        assert now["restart"]["kept"] == 2 and now["restart"]["started"] == 0, now["restart"]
        print(
            f"upgrade: built and installed in {built - began:.1f} s, upgrade installed and"
            f" restarted, children checked in {time.monotonic() - upgraded:.1f} s"
        )
    finally:
        stopped = installed(venv, home, "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert waitFor(lambda: not running(soloPid) and not running(sharedPid), timeout=15)

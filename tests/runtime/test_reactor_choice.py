"""Which reactor each way of running the gateway installs, and a reactor the
user names is the one that runs.

Each case parses a command line the way C{twistd} or C{twist} does (their own
option classes, plugin discovery included; a C{.tac} is then loaded as
C{twistd -y} loads it) in a fresh interpreter, since a process installs one
reactor for its life, and prints the reactor installed. Nothing listens and
no service starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcpgateway.tuned import reactor
from tests.integration.gateway import REPO

pytestmark = pytest.mark.skipif(not reactor.AVAILABLE, reason="the gateway's reactor needs epoll")

PARSE = """
import sys
runner, argv = sys.argv[1], sys.argv[2:]
if runner == "twist":
    from twisted.application.twist._options import TwistOptions
    TwistOptions().parseOptions(argv)
else:
    from twisted.scripts.twistd import ServerOptions
    options = ServerOptions()
    options.parseOptions(argv)
    if options["python"]:
        from twisted.application.service import loadApplication
        loadApplication(options["python"], "python")
from twisted.internet import reactor
print(f"{type(reactor).__module__}.{type(reactor).__name__}")
"""
"""Parse C{argv} as C{runner} (C{twistd} or C{twist}) does, load the C{.tac}
it names (C{twistd -y}), and print the installed reactor's class."""

GATEWAYS = "mcpgateway.tuned.reactor.GatewayReactor"
EPOLL = "twisted.internet.epollreactor.EPollReactor"
POLL = "twisted.internet.pollreactor.PollReactor"
SELECT = "twisted.internet.selectreactor.SelectReactor"
TAC = str(REPO / "deploy" / "mcpgateway.tac")
PORT = ["--port", "tcp:0:interface=127.0.0.1"]


def installed(home: Path, runner: str, *argv: str) -> str:
    """The class of the reactor that C{runner argv} installs."""
    env = {
        **os.environ,
        "HOME": str(home),
        "MCPGATEWAY_HOME": str(home / "state"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", PARSE, runner, *argv],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("runner", "argv", "expected"),
    [
        ("twistd", ["-n", "mcpgateway", *PORT], GATEWAYS),
        ("twist", ["mcpgateway", *PORT], GATEWAYS),
        ("twistd", ["-ny", TAC], GATEWAYS),
        ("twistd", ["--reactor=mcpgateway", "-n", "mcpgateway", *PORT], GATEWAYS),
    ],
    ids=["twistd", "twist", "tac", "twistd-named"],
)
def test_every_way_of_running_the_gateway_installs_its_reactor(
    tmp_path: Path, runner: str, argv: list[str], expected: str
) -> None:
    assert installed(tmp_path, runner, *argv) == expected


@pytest.mark.parametrize(
    ("runner", "argv", "expected"),
    [
        ("twistd", ["--reactor=poll", "-n", "mcpgateway", *PORT], POLL),
        ("twistd", ["--reactor=epoll", "-n", "mcpgateway", *PORT], EPOLL),
        ("twistd", ["-r", "poll", "-ny", TAC], POLL),
        ("twist", ["--reactor=select", "mcpgateway", *PORT], SELECT),
        ("twist", ["--reactor=default", "mcpgateway", *PORT], EPOLL),
    ],
    ids=["twistd-poll", "twistd-epoll", "tac-poll", "twist-select", "twist-default"],
)
def test_a_reactor_the_user_names_is_kept(
    tmp_path: Path, runner: str, argv: list[str], expected: str
) -> None:
    """Twisted's own epoll reactor too, and C{twist}'s C{--reactor=default}
    (the platform's default, named on purpose)."""
    assert installed(tmp_path, runner, *argv) == expected


@pytest.mark.parametrize(
    ("runner", "argv", "expected"),
    [
        ("twistd", ["-n", "mcpgateway", "--twisted=stock", *PORT], EPOLL),
        ("twist", ["mcpgateway", "--twisted", "stock", *PORT], EPOLL),
        ("twistd", ["-n", "mcpgateway", "--twisted=tuned", *PORT], GATEWAYS),
    ],
    ids=["twistd-stock", "twist-stock", "twistd-tuned"],
)
def test_twisted_stock_runs_on_twisteds_own_reactor(
    tmp_path: Path, runner: str, argv: list[str], expected: str
) -> None:
    """C{--twisted=stock} installs nothing: Twisted's default reactor runs."""
    assert installed(tmp_path, runner, *argv) == expected

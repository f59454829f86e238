"""Run by C{test_pytest_sigterm.py} in a pytest of its own, never collected
with the others (its name is not C{test_*}): each test starts a gateway
through the C{start} fixture and a process of its own outside any fixture,
writes their pids (and pytest's) to C{$MCPGATEWAY_SIGTERM_PIDS}, then waits
far longer than the run may take after a SIGTERM: in a sleep (a test as most
are, run inside the reactor's greenlet by pytest-twisted), or on a Deferred
that never fires (the reactor's own loop waits)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet.defer import Deferred

WAIT = 120.0


def _startChildren(start: Any) -> None:
    loose = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({WAIT})"])
    gateway = start()
    record = {"pytest": os.getpid(), "children": [loose.pid, gateway.process.pid]}
    Path(os.environ["MCPGATEWAY_SIGTERM_PIDS"]).write_text(json.dumps(record))


def test_sleeping(start: Any) -> None:
    _startChildren(start)
    time.sleep(WAIT)


@pytest_twisted.ensureDeferred
async def test_waiting_on_the_reactor(start: Any) -> None:
    _startChildren(start)
    await Deferred()

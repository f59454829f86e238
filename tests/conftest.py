"""The whole test run: SIGTERM ends it, as Ctrl-C does, and leaves no child
running; run by pytest-xdist's workers, it has the npm test backends
installed once, before they start.

pytest-twisted runs every test inside Twisted's reactor (in a greenlet of
its own), and the reactor, once running, installs its own SIGTERM handler,
which only asks the reactor to stop: the test under way ran on, and the run
with it (every later test then failed in pytest-twisted's greenlet), so
C{kill <pytest's pid>} stopped nothing. Here SIGTERM is an interrupt
(L{Terminated}, a C{KeyboardInterrupt}), installed again once the reactor
has installed its own: the test under way is interrupted, pytest tears the
fixtures down (the integration tests' gateways are stopped by theirs),
reports and exits with status 2. A process the tests started and left
running (outside any fixture, or one whose start was interrupted before a
fixture held it) is ended then (L{endChildren}).

Hypothesis's check that drawing inputs is fast, and its deadline for one
example, are off for the whole run: they measure the machine, not the code,
and the README's command runs the tests on every core beside the gateways
they start, where one draw or one example can wait seconds for a core.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from mcpgateway.runtime import procfs
from tests.support import switchwatch

settings.register_profile("gateway", suppress_health_check=[HealthCheck.too_slow], deadline=None)
settings.load_profile("gateway")
switchwatch.watch()

CHILDREN_GRACE = 5.0
"""Seconds the processes left running get after SIGTERM, before SIGKILL."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the test run is, as Ctrl-C raises
    C{KeyboardInterrupt} (pytest ends the run the same way)."""


_terminated = False


def _reactorGreenlet() -> Any:
    """pytest-twisted's greenlet that runs the reactor (C{None}: none)."""
    plugin = sys.modules.get("pytest_twisted")
    instances = getattr(plugin, "_instances", None)
    return getattr(instances, "gr_twisted", None)


def _inTest(frame: FrameType | None) -> bool:
    """Whether C{frame} runs inside a test (or a fixture) that
    pytest-twisted called in the reactor's greenlet, rather than in the
    reactor's own loop (which logs an exception and goes on)."""
    plugin = sys.modules.get("pytest_twisted")
    where = getattr(plugin, "__file__", None)
    while frame is not None:
        if frame.f_code.co_name == "in_reactor" and frame.f_code.co_filename == where:
            return True
        frame = frame.f_back
    return False


def _terminate(signum: int, frame: FrameType | None) -> None:
    """SIGTERM: interrupt the run (once: a second one does not cut the
    teardowns short)."""
    global _terminated
    if _terminated:
        return
    _terminated = True
    error = Terminated(f"signal {signum}: the test run ends")
    reactor = _reactorGreenlet()
    if reactor is not None and not _inTest(frame):
        current = sys.modules["greenlet"].getcurrent()  # (pytest-twisted's)
        if current is reactor and current.parent is not None:
            # Raised here, the reactor's loop would log it and wait on: raised
            # where pytest waits for the reactor (pytest-twisted's blockon).
            # The loop is resumed, for the teardowns, inside the wait this
            # signal interrupted, which goes on waiting for its descriptors:
            # with no timed call due, for ever. Its waker, written now, ends
            # that wait as soon as it is resumed.
            from twisted.internet import reactor as running

            loop: Any = running  # (a ReactorBase: its interface has no wakeUp)
            loop.wakeUp()
            current.parent.throw(error)
            return
    raise error


def _installTerminate() -> None:
    signal.signal(signal.SIGTERM, _terminate)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM interrupts the run: now, and again once pytest-twisted's
    reactor has started (its own handler replaces this one then)."""
    if threading.current_thread() is not threading.main_thread():
        return
    _installTerminate()
    if "twisted.internet.reactor" in sys.modules:  # pytest-twisted installed it
        from twisted.internet import reactor

        reactor.addSystemEventTrigger("after", "startup", _installTerminate)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config: pytest.Config, specs: list[Any]) -> None:
    """Before pytest-xdist starts its workers, in the process that runs
    them: the npm test backends, once, for a run with integration tests
    (each worker would otherwise find them missing and queue up behind the
    first one's install)."""
    if _runsIntegrationTests(config):
        installTestBackends()


def _runsIntegrationTests(config: pytest.Config) -> bool:
    integration = Path(__file__).resolve().parent / "integration"
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if path == integration or integration in path.parents or path in integration.parents:
            return True
    return False


def installTestBackends() -> None:
    """scripts/install-test-backends into the tests' cache (a no-op once
    installed; skipped, by the tests that need them, without Node.js). A
    failed install fails no run here: the tests that need the backends try
    again, and fail with its reason."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return
    repo = Path(__file__).resolve().parents[1]
    cache = os.environ.get("MCPGATEWAY_TEST_CACHE") or str(repo / ".cache" / "test-backends")
    subprocess.run(
        [str(repo / "scripts" / "install-test-backends"), "--quiet"],
        check=False,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "MCPGATEWAY_TEST_CACHE": cache},
        timeout=1800,
    )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After SIGTERM, once the fixtures are torn down: end what the tests
    left running."""
    if _terminated:
        endChildren(os.getpid())


def childrenOf(pid: int, procRoot: str = procfs.PROC) -> list[int]:
    """The live (not zombie) processes whose parent is C{pid}."""
    return [
        child
        for child in procfs.pids(procRoot)
        if procfs.parentPid(child, procRoot) == pid
        and procfs.state(child, procRoot) not in (None, "Z", "X")
    ]


def endChildren(pid: int, grace: float = CHILDREN_GRACE) -> list[int]:
    """SIGTERM to every live child of C{pid}; SIGKILL to those still
    running after C{grace} seconds. The children signalled."""
    children = childrenOf(pid)
    for child in children:
        _signal(child, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not set(children) & set(childrenOf(pid)):
            break
        time.sleep(0.05)
    for child in set(children) & set(childrenOf(pid)):
        _signal(child, signal.SIGKILL)
    return children


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # gone meanwhile
        os.kill(pid, number)


@pytest.fixture
def defaultTwisted(monkeypatch: pytest.MonkeyPatch) -> None:
    """No C{$MCPGATEWAY_TWISTED}: for the tests of what runs by default (the
    tuned runtime) in the test's process and the gateways it starts, which
    CI's pass on stock Twisted (that sets it) runs too."""
    monkeypatch.delenv(switchwatch.TWISTED_ENV, raising=False)


@pytest.fixture(autouse=True)
def _noForeignListenerForTheOwnerToken(monkeypatch: pytest.MonkeyPatch) -> None:
    """The owner token is sent to a loopback gateway whatever other account
    listens on the machine running the tests (9100 may be anyone's there);
    the tests of who listens (tests/runtime/test_ownertoken.py) say when
    another account does."""
    from mcpgateway.runtime import ownertoken

    monkeypatch.setattr(ownertoken, "foreignListener", lambda port, host="127.0.0.1": None)


@pytest.fixture(autouse=True)
def _listedIfItReadsTheSwitch(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test whose file reads C{$MCPGATEWAY_TWISTED} in this process fails
    unless the file is listed for CI's stock pass (L{switchwatch})."""
    yield
    path = request.node.nodeid.split("::", 1)[0]
    problem = switchwatch.unlisted(path)
    if problem is not None:
        record = os.environ.get("MCPGATEWAY_SWITCH_READERS_RECORD")
        if record:
            with open(record, "a", encoding="utf-8") as out:
                out.write(path + "\n")
        else:
            pytest.fail(problem, pytrace=False)


@pytest.fixture
def tunedChannel(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway's own HTTP channel whatever C{$MCPGATEWAY_TWISTED} says:
    for tests that read its state (its open request, its body deadline, its
    reader), which Twisted's own channel does not have. The stock channel's
    behaviour is tests/web/plumbing/test_stock.py's."""
    monkeypatch.setenv("MCPGATEWAY_TWISTED", "tuned")

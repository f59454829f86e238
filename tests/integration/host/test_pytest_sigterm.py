"""C{kill <pytest's pid>} ends the test run within seconds (exit status 2,
as an interrupt), and leaves none of the processes its tests started
running: a gateway a fixture started (its teardown stops it) and a process
a test started outside any fixture (ended after the teardowns), whether the
test under way sleeps or waits on the reactor (tests/conftest.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mcpgateway.ops.statedir import pidAlive
from tests.integration.gateway import INTERRUPTS, REPO, startReader, waitFor

pytestmark = pytest.mark.integration

SLEEPER = Path(__file__).parents[1] / "sigterm_sleeper.py"
STACKS_AFTER = 90
"""Seconds into the sleeper's test after which its run prints every
thread's stack (pytest's faulthandler): only a run that SIGTERM did not end
gets there, and the failure shows where it waits."""
STACKS = ["-o", f"faulthandler_timeout={STACKS_AFTER}"]


def _read(log: Path) -> str:
    return log.read_bytes().decode("utf-8", "replace")


def _session(leader: int) -> str:
    """The processes of the sleeper's session, as C{ps} lists them."""
    listed = subprocess.run(
        ["ps", "-o", "pid,ppid,stat,etime,args", "-s", str(leader)],
        capture_output=True,
        text=True,
        check=False,
    )
    return listed.stdout


def _signalState(pid: int) -> str:
    """Each thread of C{pid} with its signal masks (pending, blocked,
    ignored, caught), as C{/proc} shows them: where a SIGTERM that was not
    acted on waits."""
    lines = []
    for status in sorted(Path(f"/proc/{pid}/task").glob("*/status")):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        masks = " ".join(
            f"{key}={fields.get(key, '?').strip()}"
            for key in ("SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt")
        )
        lines.append(f"thread {status.parent.name} ({fields.get('Name', '?').strip()}): {masks}")
    return "\n".join(lines)


@pytest.mark.parametrize("test", ["test_sleeping", "test_waiting_on_the_reactor"])
def test_sigterm_ends_the_run_and_its_children(tmp_path: Path, test: str) -> None:
    pids = tmp_path / "pids.json"
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                f"{SLEEPER}::{test}",
                "-q",
                "-p",
                "no:cacheprovider",
                # A temporary folder of its own: with pytest's default one, the
                # run's end deletes the oldest numbered folders of the account's
                # other pytest runs (gateway homes, npm trees): on a machine that
                # has run the suite before, minutes of unlinking after SIGTERM.
                f"--basetemp={tmp_path / 'inner'}",
                *STACKS,
            ],
            cwd=REPO,
            env={**os.environ, "MCPGATEWAY_SIGTERM_PIDS": str(pids)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    children: list[int] = []
    try:
        assert waitFor(pids.exists, timeout=60), "the tests did not start"
        recorded = json.loads(pids.read_text())
        assert recorded["pytest"] == run.pid
        children = recorded["children"]
        assert all(pidAlive(pid) for pid in children)
        run.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        try:
            run.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"the run goes on after SIGTERM:\n{_session(run.pid)}\n"
                f"{_signalState(run.pid)}\n{_read(log)}"
            )
        took = time.monotonic() - sent
        text = _read(log)
        assert run.returncode == 2, text
        # About 5 s on a loaded 2-core machine; 23 s, and once more than 60 s, while
        # two CI sessions and the tooling shared its 2 cores (the teardowns stop a
        # gateway, up to 15 s, and give what is left 5 s): a run that hangs never
        # ends (the timeout above).
        assert took < 100, (took, text)
        assert "Terminated: signal 15: the test run ends" in text, text
        assert waitFor(lambda: not any(pidAlive(pid) for pid in children), timeout=5), text
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        for pid in children:
            if pidAlive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_reader_thread_never_takes_the_runs_sigterm() -> None:
    """A process-directed SIGTERM goes to any thread that does not block it;
    one a gateway's output reader took would wait on the main thread's sleep
    (the run above would go on for minutes). The reader blocks it; the
    thread that started the reader does not."""
    seen: list[set[int | signal.Signals]] = []
    done = threading.Event()

    def read() -> None:
        seen.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))
        done.set()

    startReader(read)
    assert done.wait(10)
    assert INTERRUPTS.issubset(seen[0])
    assert not INTERRUPTS & signal.pthread_sigmask(signal.SIG_BLOCK, [])

"""Tasks (the MCP Tasks extension, 2026-07-28) driven by the extension's
own TypeScript client, C{@modelcontextprotocol/ext-tasks}, against a real
gateway in front of the handshake stdio conformance fixture.

C{clients/ts_ext_tasks.mjs} builds the client as the package documents it
for a 2026-07-28 Tasks server (the TypeScript SDK 2.x client pinned to
2026-07-28, C{createTaskSessionFromClient} with C{rawDispatch} and
C{v2RequestFraming}) and runs one scenario per process: a slow tool polled
to its result, a question of the child's answered through tasks/update, a
task cancelled midway (the child sees C{notifications/cancelled}: the
fixture says so on stderr, which the gateway logs), and tasks recovered by
id in a later process, after a restart (a finished task keeps its result, a
cut one is failed saying why) and after a SIGKILL.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.core.tasks.keeping import CUT_BY_RESTART
from tests.integration.conftest import CACHE
from tests.integration.gateway import RunningGateway, waitFor
from tests.support.integration.npm_backends import backendPaths, installBackends
from tests.support.integration.tasks import start

pytestmark = pytest.mark.integration

CLIENT = Path(__file__).parents[1] / "clients" / "ts_ext_tasks.mjs"
PACKAGES = {
    "TS_CLIENT2_DIR": Path("dist") / "index.mjs",
    "TS_EXT_TASKS_DIR": Path("dist") / "client" / "index.js",
}
"""The npm packages the client loads (C{paths.env} keys) and their entry files."""


def _installed() -> dict[str, str]:
    """The packages' directories from C{paths.env}, those whose entry file is there."""
    found = backendPaths(CACHE)
    return {
        key: found[key]
        for key, entry in PACKAGES.items()
        if found.get(key) and (Path(found[key]) / entry).is_file()
    }


@pytest.fixture(scope="module")
def extTasks() -> dict[str, str]:
    """The environment the client needs; installs the npm test backends when
    a package is missing, skips when Node.js is."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js/npm not found: the ext-tasks TypeScript client tests need them")
    dirs = _installed()
    if len(dirs) < len(PACKAGES):
        installBackends(CACHE)
        dirs = _installed()
    missing = sorted(set(PACKAGES) - set(dirs))
    assert not missing, f"scripts/install-test-backends did not install {missing}"
    return {**os.environ, **dirs}


def run(env: dict[str, str], gateway: RunningGateway, *argv: str) -> dict[str, Any]:
    """Run one scenario of the client against C{gateway}'s conformance
    server; its JSON line, which must say C{ok}."""
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run(
        [node, str(CLIENT), gateway.url("conformance"), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"no output (exit {done.returncode}):\n{done.stderr}"
    said: dict[str, Any] = json.loads(lines[-1])
    assert said["ok"], f"{said}\n{done.stderr}"
    return said


def runAlone(home: Path, env: dict[str, str], *argv: str) -> dict[str, Any]:
    """Start a gateway on C{home}, run one scenario against it (L{run})
    and stop it: what the client says."""
    gateway = start(home)
    try:
        return run(env, gateway, *argv)
    finally:
        gateway.stop()


def test_a_slow_tool_is_polled_to_its_result(home: Path, extTasks: dict[str, str]) -> None:
    said = runAlone(home, extTasks, "poll")
    # "modern": the TypeScript SDK's own word for the 2026-07-28 era (getProtocolEra)
    assert said["era"] == "modern" and said["capabilities"]["execution"] is True
    assert said["kind"] == "task" and said["taskId"]
    assert said["status"] == "completed", said
    assert said["text"] == "computed poll after 1.5s"
    assert said["events"][0] == "working" and said["events"][-1] == "completed"


def test_a_question_is_answered_through_tasks_update(home: Path, extTasks: dict[str, str]) -> None:
    said = runAlone(home, extTasks, "elicit")
    assert said["kind"] == "task" and said["status"] == "completed", said
    assert said["text"] == "deleted notes.txt"
    assert "input_required" in said["events"]
    [asked] = said["seen"]
    assert asked == {
        "kind": "elicitation",
        "message": "Delete notes.txt?",
        "delivery": "task-update",
        "scope": "task",
        "inputId": "confirm",
    }


def test_cancel_ends_the_task_and_the_child_call(home: Path, extTasks: dict[str, str]) -> None:
    gateway = start(home)
    try:
        said = run(extTasks, gateway, "cancel", "midway")
        assert said["kind"] == "task" and said["events"] == ["working"]
        assert said["status"] == "cancelled" and said["serverStatus"] == "cancelled", said
        assert waitFor(lambda: "[conformance] slow_compute cancelled: midway" in gateway.text())
        assert waitFor(lambda: "fixture: notifications/cancelled for request" in gateway.text())
        assert gateway.process.poll() is None
    finally:
        gateway.stop()


def restarted(home: Path, env: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Make two tasks, one finished and one still working, stop the
    gateway cleanly (SIGTERM), start it again on the same home and recover
    both there: what the client says of each (finished, cut)."""
    gateway = start(home)
    try:
        finished = run(env, gateway, "start", "1", "kept")["taskId"]
        assert run(env, gateway, "resume", finished)["status"] == "completed"
        started = run(env, gateway, "start", "60", "cut")
        assert started["status"] == "working", started
    except BaseException:
        gateway.stop()
        raise
    assert gateway.stop() in (0, -signal.SIGTERM)  # a clean stop, not a kill
    again = start(home)
    try:
        return run(env, again, "resume", finished), run(env, again, "resume", started["taskId"])
    finally:
        again.stop()


def test_after_a_restart_a_finished_task_keeps_its_result_and_a_cut_one_failed(
    home: Path, extTasks: dict[str, str]
) -> None:
    kept, cut = restarted(home, extTasks)
    assert kept["status"] == "completed" and kept["text"] == "computed kept after 1.0s", kept
    assert cut["kind"] == "task" and cut["status"] == "failed", cut
    assert cut["error"] == CUT_BY_RESTART, cut


def test_after_a_sigkill_a_cut_task_is_failed_saying_why(
    home: Path, extTasks: dict[str, str]
) -> None:
    gateway = start(home)
    started = run(extTasks, gateway, "start", "60", "killed")
    assert started["status"] == "working", started
    gateway.process.send_signal(signal.SIGKILL)
    gateway.process.wait(10)
    cut = runAlone(home, extTasks, "resume", started["taskId"])
    assert cut["kind"] == "task" and cut["status"] == "failed", cut
    assert cut["error"] == CUT_BY_RESTART

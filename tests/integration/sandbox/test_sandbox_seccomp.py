"""The system-call filter (docs/guide/sandbox.md, "System calls"), for real:

 - a gateway run as C{twistd -n mcpgateway --sandbox auto} confines the
   hostile fixture (tests/fixtures/hostile_server.py) in bubblewrap with
   the filter loaded: tracing a process it forked itself, a new user
   namespace and the kernel's keyring are refused with C{EPERM},
   C{clone3} answers C{ENOSYS}; the same fixture with C{"syscalls":
   "unfiltered"} has no filter and traces its child (so the refusals are
   the filter's); server-everything (a real npm server on Node.js, whose
   threads glibc starts with C{clone3}, falling back to C{clone}) and the
   gateway's own Python demo still work, filtered;
 - the launcher's Landlock path loads the same filter into itself just
   before its C{exec}: a Python program and Node.js run under it.

Bubblewrap, Landlock and libseccomp must be there (CI has them); each test
skips, saying why, only where one cannot run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.sandbox import seccomp
from mcpgateway.sandbox.probe import bwrapWorks, landlockAbi
from tests.integration.gateway import RunningGateway, waitFor, writeConfig
from tests.integration.sandboxkit import fakeHome, hostileEntry, launch, toolCall

pytestmark = pytest.mark.integration

Starter = Callable[..., RunningGateway]


def libseccompOrSkip() -> None:
    if seccomp.library() is None:
        pytest.skip("libseccomp is not installed here (the libseccomp2 package)")


def seccompMode(status: str) -> str:
    """The C{Seccomp:} line of a C{/proc/PID/status}: 0 none, 2 a filter."""
    for line in status.splitlines():
        if line.startswith("Seccomp:"):
            return line.split()[1]
    return "?"


def test_a_confined_server_is_refused_the_filtered_calls_and_real_servers_still_work(
    home: Path, start: Starter, everything: list[str]
) -> None:
    libseccompOrSkip()
    found = bwrapWorks()
    if not found["works"]:
        pytest.skip(f"bubblewrap cannot confine here: {found['error']}")
    fakeHome(home)
    workspace = home / "ws"
    workspace.mkdir()
    config = writeConfig(
        home / "servers.json",
        {
            "hostile": hostileEntry(workspace),
            "open": hostileEntry(workspace, syscalls="unfiltered"),
            "everything": {"command": everything[0], "args": everything[1:]},
            "demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]},
        },
    )
    gateway = start("--config", str(config), "--sandbox", "auto")
    assert waitFor(lambda: "sandbox: confined children run in bubblewrap" in gateway.text())

    def call(server: str, name: str, **arguments: Any) -> dict[str, Any]:
        answer: dict[str, Any] = toolCall(gateway.url(server), name, arguments)
        return answer

    status = call("hostile", "read", path="/proc/self/status")["text"]
    assert seccompMode(status) == "2"
    assert call("hostile", "ptrace", pid="child")["errno"] == "EPERM"
    assert call("hostile", "ptrace", pid="parent")["errno"] == "EPERM"
    assert call("hostile", "unshare")["errno"] == "EPERM"
    assert call("hostile", "keyctl")["errno"] == "EPERM"
    assert call("hostile", "clone3")["errno"] == "ENOSYS"
    # The check of the checks: unfiltered, the same calls reach the kernel.
    assert seccompMode(call("open", "read", path="/proc/self/status")["text"]) == "0"
    assert call("open", "ptrace", pid="child") == {"ok": True}
    assert call("open", "clone3")["errno"] == "EINVAL"
    # Real servers start and answer, filtered.
    answer = toolCall(gateway.url("everything"), "echo", {"message": "filtered"})
    assert answer["text"] == "Echo: filtered"
    assert toolCall(gateway.url("demo"), "echo", {"message": "still"})["text"] == "still"
    assert "WITHOUT their system-call filter" not in gateway.text()


PROGRAM = """
import ctypes, errno, json, os, threading
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(*args):
    done = libc.syscall(*args)
    return "ok" if done >= 0 else errno.errorcode[ctypes.get_errno()]
thread = threading.Thread(target=lambda: None)
thread.start()
thread.join()
with open("/proc/self/status") as status:
    mode = [l.split()[1] for l in status if l.startswith("Seccomp:")][0]
print(json.dumps({"seccomp": mode, "clone3": call(435, 0, 0), "unshare": call(272, 0x10000000),
    "keyctl": call(250, 0, -3, 0)}))
"""


def underLandlock(home: Path, argv: list[str], syscalls: str = "filtered") -> str:
    """What C{argv} prints, run by the launcher confined with Landlock."""
    version, why = landlockAbi()
    if version < 1:
        pytest.skip(f"Landlock is not available here: {why}")
    (home / "state").mkdir(exist_ok=True)
    request = {
        "server": "ll",
        "mechanism": "landlock",
        "landlock": version,
        "command": argv[0],
        "cwd": str(home),
        "gatewayCwd": str(home),
        "home": str(home),
        "stateDir": str(home / "state"),
        "network": {"mode": "none"},
        "profile": {},
        "syscalls": syscalls,
        "interpreter": sys.executable,
        "interpreterPaths": [p for p in sys.path if p.startswith("/")],
    }
    done = launch(request, argv, home, home, {})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_under_landlock_the_launcher_loads_the_filter_just_before_its_exec(home: Path) -> None:
    libseccompOrSkip()
    if os.uname().machine != "x86_64":
        pytest.skip("the program's system call numbers are x86_64's")
    answers = json.loads(underLandlock(home, [sys.executable, "-c", PROGRAM]))
    assert answers == {"seccomp": "2", "clone3": "ENOSYS", "unshare": "EPERM", "keyctl": "EPERM"}
    answers = json.loads(underLandlock(home, [sys.executable, "-c", PROGRAM], "unfiltered"))
    assert answers["seccomp"] == "0" and answers["clone3"] == "EINVAL"


def test_node_starts_its_threads_and_children_under_the_filter(home: Path) -> None:
    libseccompOrSkip()
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed here")
    script = (
        "const { execFileSync } = require('child_process');"
        "const { Worker } = require('worker_threads');"
        "new Worker('1', { eval: true }).on('exit', () => {"
        " console.log(execFileSync(process.execPath, ['-p', '21 * 2']).toString().trim()) });"
    )
    assert underLandlock(home, [node, "-e", script]).strip() == "42"

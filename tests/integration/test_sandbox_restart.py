"""A confined child's network proxy across the gateway's own stop and
restart (docs/guide/sandbox.md, The network), with real gateways:

 - C{mcpgateway restart}: the successor's children reach their allow list
   through the successor's own proxy (a directory of its own: the old
   process removing its directory as it exits takes nothing from them);
   no child is carried across a restart, each process starts its own;
 - a call in flight when the gateway stops (its drain) still goes out
   through the proxy: the proxy's sockets close once the confined
   children have ended, not when the stop begins.

Bubblewrap must work here; the tests skip, saying why, only where it
cannot run.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway, waitFor, writeConfig
from tests.integration.sandboxkit import (
    bwrapOrSkip,
    childPids,
    commandOf,
    helloServer,
    hostileEntry,
    toolCall,
)
from tests.integration.test_restart_handover import cli, freePort, state

pytestmark = pytest.mark.integration

Starter = Callable[..., RunningGateway]


@pytest.fixture
def local() -> Iterator[int]:
    """A local HTTP server on loopback: its port."""
    with helloServer(b"hello through the proxy") as port:
        yield port


def proxyDirectories(pid: int) -> set[str]:
    """The proxy socket directories bound into the sandboxes of gateway
    C{pid}'s children (from bubblewrap's command lines)."""
    from mcpgateway.sandbox.proxyplan import SOCKET

    found = set()
    for child in childPids(pid):
        argv = commandOf(child)
        if SOCKET in argv and argv.index(SOCKET) > 1 and argv[argv.index(SOCKET) - 2] == "--bind":
            found.add(os.path.dirname(argv[argv.index(SOCKET) - 1]))
    return found


def test_after_mcpgateway_restart_the_childs_allow_list_is_reached(
    home: Path, local: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    bwrapOrSkip()
    workspace = tmp_path_factory.mktemp("workspace")
    entry = hostileEntry(workspace, network={"allowedDomains": [f"127.0.0.1:{local}"]})
    config = writeConfig(home / "servers.json", {"hostile": entry})
    port = freePort()
    started = cli(home, "start", "--port", str(port), "--config", str(config))
    assert started.returncode == 0, started.stdout + started.stderr
    url = f"http://127.0.0.1:{port}/hostile/mcp"
    try:
        before = toolCall(url, "fetch", {"url": f"http://127.0.0.1:{local}/"})
        assert before["status"] == 200, before
        old = state(home)["pid"]
        [oldDirectory] = proxyDirectories(old)
        restarted = cli(home, "restart")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        new = state(home)["pid"]
        assert new != old
        after = toolCall(url, "fetch", {"url": f"http://127.0.0.1:{local}/"})
        assert after["status"] == 200, after
        assert waitFor(lambda: not os.path.exists(f"/proc/{old}"), timeout=40)
        assert not os.path.exists(oldDirectory)  # the old process removed its own
        [newDirectory] = proxyDirectories(new)
        assert newDirectory != oldDirectory and os.path.isdir(newDirectory)
        again = toolCall(url, "fetch", {"url": f"http://127.0.0.1:{local}/"})
        assert again["status"] == 200, again
        refused = toolCall(url, "fetch", {"url": "http://example.org/"})
        assert refused["status"] == 403, refused
    finally:
        stopped = cli(home, "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def test_a_call_in_flight_when_the_gateway_stops_still_goes_out(
    home: Path, start: Starter, local: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    bwrapOrSkip()
    workspace = tmp_path_factory.mktemp("workspace")
    entry = hostileEntry(workspace, network={"allowedDomains": [f"127.0.0.1:{local}"]})
    config = writeConfig(home / "servers.json", {"hostile": entry})
    gateway = start("--config", str(config), "--sandbox", "auto", "--drain-timeout", "30")
    url = gateway.url("hostile")
    assert toolCall(url, "fetch", {"url": f"http://127.0.0.1:{local}/"})["status"] == 200
    answers: list[Any] = []

    async def session() -> Any:
        async with Client(url, mode="legacy") as client:
            await client.list_tools()  # the SDK lists after a call otherwise: during the drain
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
    time.sleep(1.0)  # the call is in the child's sleep
    gateway.process.send_signal(signal.SIGTERM)  # the drain begins: the call is in flight
    caller.join(40)
    assert answers and isinstance(answers[0], dict), answers
    assert answers[0]["status"] == 200, (answers[0], gateway.text()[-3000:])
    assert gateway.process.wait(30) in (0, -signal.SIGTERM)  # twistd ends by the signal

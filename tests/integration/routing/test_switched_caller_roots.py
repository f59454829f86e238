"""A shared child answers each caller from that caller's roots, however
often the caller switches (real gateway, real Python SDK clients, npm
servers): two sessions of one user, each declaring roots of its own, call
in turn; and two MCP 2026-07-28 clients (the SDK's default, C{auto}),
whose every call is a caller of its own.

 - server-everything's C{get-roots-list}, 50 times each: the child answers
   from the roots it holds, and asks for them again when told they
   changed. So each switch of caller is a barrier: the gateway tells the
   child and holds the call until the child's C{roots/list} has been
   answered by the caller; the call then finds the caller's roots, the
   first call of each session included (the child's start-up question,
   asked while both sessions were attached, got the gateway's empty
   answer);
 - server-filesystem's C{list_allowed_directories}, 20 times each: its
   allowed folders are its client's roots, applied after it checked each
   folder on disk; the call, written once the child said (on stderr) which
   folders it allows, runs in the caller's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway, npmServer, writeConfig
from tests.support.integration.shared_roots import promotions, text

pytestmark = pytest.mark.integration


@pytest.fixture
def shared(sharedEverything: RunningGateway) -> RunningGateway:
    """server-everything on one shared child, its share not pinned."""
    return sharedEverything


class Window:
    """One client of the user: its one root, how often it was asked, and
    the SDK's connect mode (C{legacy}: a 2025 session; C{auto}: the MCP
    2026-07-28 revision, whose every call is a caller of its own)."""

    def __init__(self, root: str, mode: str = "legacy") -> None:
        self.root = root
        self.mode = mode
        self.asked = 0

    async def onRoots(self, context: Any) -> types.ListRootsResult:
        self.asked += 1
        root = types.Root(uri=self.root, name=self.root.rsplit("/", 1)[-1])  # type: ignore[arg-type]
        return types.ListRootsResult(roots=[root])

    def client(self, url: str) -> Client:
        return Client(url, mode=self.mode, list_roots_callback=self.onRoots)


def alternate(url: str, a: Window, b: Window, tool: str, rounds: int, mark: Any) -> list[str]:
    """a and b call C{tool} in turn, C{rounds} times each; the answers that
    do not name the caller's own root (C{mark(window)}) or that name the
    other's."""

    async def main() -> list[str]:
        wrong: list[str] = []
        async with a.client(url) as ca, b.client(url) as cb:
            with anyio.fail_after(240):
                for n in range(rounds):
                    for window, other, client in ((a, b, ca), (b, a, cb)):
                        answer = text(await client.call_tool(tool, {}))
                        if mark(window) not in answer or mark(other) in answer:
                            wrong.append(f"{window.root}, call {n}: {answer}")
        return wrong

    return anyio.run(main)


def test_alternating_callers_each_get_their_own_roots(shared: RunningGateway, home: Path) -> None:
    a, b = Window("file:///work/alpha"), Window("file:///work/beta")
    wrong = alternate(shared.url("everything"), a, b, "get-roots-list", 50, lambda w: w.root)
    assert wrong == [], wrong[:3]
    # Each switch asked the caller, and the call waited for its answer and for
    # the child's word that it had taken the roots (its log line), never for a
    # wait to run out.
    assert a.asked >= 50 and b.asked >= 50, (a.asked, b.asked)
    assert "was told the roots changed and" not in shared.text()
    assert "said nothing within" not in shared.text()
    server = shared.health()["servers"]["everything"]
    assert not server.get("promoted"), server
    assert server["ambiguousServerRequests"] == 0, server
    assert len(server["pids"]) == 1, server
    assert promotions(home) == {}


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_alternating_callers_each_work_in_their_own_folder(
    start: Any, home: Path, tmp_path: Path, mode: str
) -> None:
    filesystem = npmServer("SERVER_FILESYSTEM_JS")
    projects = tmp_path / "projects"  # the folder the server is started with
    for name in ("alpha", "beta"):
        (projects / name).mkdir(parents=True)
    config = writeConfig(
        home / "servers.json",
        {
            "fs": {
                "command": filesystem[0],
                "args": [filesystem[1], str(projects)],
                "share": "global",
            }
        },
    )
    gateway = start("--config", str(config))
    a, b = (Window((projects / name).as_uri(), mode) for name in ("alpha", "beta"))

    def folder(window: Window) -> str:
        return f"{projects}/{window.root.rsplit('/', 1)[-1]}"

    wrong = alternate(gateway.url("fs"), a, b, "list_allowed_directories", 20, folder)
    assert wrong == [], (wrong[:3], gateway.text()[-3000:])
    server = gateway.health()["servers"]["fs"]
    assert len(server["pids"]) == 1, server
    if mode == "auto":  # each 2026 call gave its client's roots through a round of its own
        assert a.asked >= 20 and b.asked >= 20, (a.asked, b.asked)

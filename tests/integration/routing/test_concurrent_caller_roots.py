"""A shared server-filesystem never runs a call in another session's
folders (real gateway, real Python SDK clients, the npm server): its allowed
folders are its client's roots, and it keeps them when given an empty list.

 - two clients at once, each declaring a folder of its own, each listing
   its allowed folders and reading a file of the first one's folder: each
   sees its own folder only, and only the first reads the file (a call
   whose roots the child does not hold waits for the other's call to end,
   then has the child switch);
 - one after another, a client with roots, then one that declares none of
   another principal would be refused; with one principal (a loopback
   gateway), the one without roots runs on the roots the child holds, and
   the log says so. A client declaring other roots after it gets its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway, npmServer, writeConfig
from tests.support.integration.shared_roots import text

pytestmark = pytest.mark.integration


def sharedFilesystem(start: Any, home: Path, data: Path) -> RunningGateway:
    """A gateway serving server-filesystem on one shared child, started with C{data}."""
    filesystem = npmServer("SERVER_FILESYSTEM_JS")
    config = writeConfig(
        home / "servers.json",
        {"fs": {"command": filesystem[0], "args": [filesystem[1], str(data)], "share": "global"}},
    )
    return start("--config", str(config))  # type: ignore[no-any-return]


def folders(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    for name in ("a", "b"):
        (data / name).mkdir(parents=True)
        (data / name / "f.txt").write_text(name.upper())
    return data


def client(url: str, mode: str, root: Path | None) -> Client:
    async def onRoots(context: Any) -> types.ListRootsResult:
        assert root is not None
        return types.ListRootsResult(roots=[types.Root(uri=root.as_uri(), name=root.name)])  # type: ignore[arg-type]

    return Client(url, mode=mode, list_roots_callback=None if root is None else onRoots)


async def look(c: Client, data: Path) -> tuple[str, str]:
    """(the allowed folders, what reading data/a/f.txt gave)."""
    allowed = text(await c.call_tool("list_allowed_directories", {}))
    read = await c.call_tool("read_text_file", {"path": str(data / "a" / "f.txt")})
    return allowed, text(read)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_concurrent_clients_each_work_in_their_own_folder(
    start: Any, home: Path, tmp_path: Path, mode: str
) -> None:
    data = folders(tmp_path)
    gateway = sharedFilesystem(start, home, data)
    url = gateway.url("fs")
    seen: list[tuple[str, int, str, str]] = []

    async def run(name: str) -> None:
        async with client(url, mode, data / name) as c:
            for n in range(6):
                allowed, read = await look(c, data)
                seen.append((name, n, allowed, read))

    async def main() -> None:
        with anyio.fail_after(300):
            async with anyio.create_task_group() as group:
                group.start_soon(run, "a")
                group.start_soon(run, "b")

    anyio.run(main)
    wrong = [
        s for s in seen if not s[2].endswith(str(data / s[0])) or (s[3] == "A") != (s[0] == "a")
    ]
    assert len(seen) == 12 and wrong == [], (wrong[:4], gateway.text()[-4000:])
    assert len(gateway.health()["servers"]["fs"]["pids"]) == 1


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_sequential_clients_never_run_in_another_clients_folder_unsaid(
    start: Any, home: Path, tmp_path: Path, mode: str
) -> None:
    data = folders(tmp_path)
    gateway = sharedFilesystem(start, home, data)
    url = gateway.url("fs")

    async def once(root: Path | None) -> tuple[str, str]:
        async with client(url, mode, root) as c:
            return await look(c, data)

    async def main() -> list[tuple[str, str]]:
        with anyio.fail_after(300):
            return [await once(root) for root in (data / "a", data / "b", None, data / "a")]

    a, b, none, again = anyio.run(main)
    assert a[0].endswith(str(data / "a")) and a[1] == "A", a
    assert b[0].endswith(str(data / "b")) and b[1] != "A", b
    assert again[0].endswith(str(data / "a")) and again[1] == "A", again
    # One principal: the client without roots runs on the roots the child
    # holds (b's), never silently.
    assert none[0].endswith(str(data / "b")), none
    assert "which gives no roots, runs on the roots its child holds" in gateway.text()

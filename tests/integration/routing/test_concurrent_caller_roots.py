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

    def wrong(look: tuple[str, int, str, str]) -> bool:
        name, _, allowed, read = look
        if allowed.endswith(str(data / name)):  # its own folder: reads only what is in it
            return (read == "A") != (name == "a")
        # Else the folder the server was started with, before the fresh child
        # asked anyone's roots (as over stdio, where its first call may run
        # before the roots are in), never the other client's.
        return not allowed.endswith(str(data))

    assert len(seen) == 12 and [s for s in seen if wrong(s)] == [], (seen, gateway.text()[-4000:])
    assert all(s[2].endswith(str(data / s[0])) for s in seen if s[1] >= 3), seen
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
    # The first client may meet the fresh child before it asked for roots:
    # the folder the server was started with, as over stdio.
    assert a[0].endswith((str(data / "a"), str(data))) and a[1] == "A", a
    assert b[0].endswith(str(data / "b")) and b[1] != "A", b
    assert again[0].endswith(str(data / "a")) and again[1] == "A", again
    # One principal: the client without roots runs on the roots the child
    # holds (b's), never silently.
    assert none[0].endswith(str(data / "b")), none
    assert "which gives no roots, runs on the roots its child holds" in gateway.text()


def test_another_persons_call_never_runs_on_the_roots_the_child_holds(
    start: Any, home: Path, tmp_path: Path
) -> None:
    """A team gateway (tokens): alice's session gave the shared child her
    folder. bob's call can never be proven to be the one the child asks
    roots for while both are attached, and must not run in alice's folder:
    it is refused, naming the cure, and the server is promoted, so bob's
    next request runs on a child of his own, in his folder."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    from tests.support.integration.per_user import tokens

    data = folders(tmp_path)
    path, headers = tokens(home, "alice", "bob")
    filesystem = npmServer("SERVER_FILESYSTEM_JS")
    config = writeConfig(
        home / "servers.json",
        {"fs": {"command": filesystem[0], "args": [filesystem[1], str(data)], "share": "global"}},
    )
    gateway: RunningGateway = start("--config", str(config), "--auth-tokens", str(path))
    url = gateway.url("fs")

    def rootsOf(folder: Path) -> Any:
        async def onRoots(context: Any) -> types.ListRootsResult:
            return types.ListRootsResult(roots=[types.Root(uri=folder.as_uri(), name=folder.name)])  # type: ignore[arg-type]

        return onRoots

    async def allowed(session: ClientSession) -> str:
        return text(await session.call_tool("list_allowed_directories", {}))

    async def main() -> tuple[str, str, list[str]]:
        with anyio.fail_after(300):
            async with (
                create_mcp_http_client(headers=headers["alice"]) as aliceHttp,
                streamable_http_client(url, http_client=aliceHttp) as (aRead, aWrite, *_),
                ClientSession(aRead, aWrite, list_roots_callback=rootsOf(data / "a")) as alice,
                create_mcp_http_client(headers=headers["bob"]) as bobHttp,
                streamable_http_client(url, http_client=bobHttp) as (bRead, bWrite, *_),
                ClientSession(bRead, bWrite, list_roots_callback=rootsOf(data / "b")) as bob,
            ):
                await alice.initialize()
                await bob.initialize()
                hers = await allowed(alice)
                try:
                    refused = "ran: " + await allowed(bob)
                except Exception as e:  # the SDK raises the JSON-RPC error
                    refused = "refused: " + str(e)
                # His next requests run on a child of his own: first on the
                # folder the server was started with (its question for his
                # roots comes after its start), then on his.
                his = [await allowed(bob)]
                while not his[-1].endswith(str(data / "b")) and len(his) < 20:
                    await anyio.sleep(0.2)
                    his.append(await allowed(bob))
                return hers, refused, his

    hers, refused, his = anyio.run(main)
    # Hers runs on her roots when the fresh child asked for them while she
    # alone was attached; asked once bob was too, nobody's roots can be
    # proven, so the child keeps the folder it was started with: never his.
    assert hers.endswith((str(data / "a"), str(data))), hers
    # Never in her folder, whatever the timing.
    assert not refused.endswith(str(data / "a")), refused
    assert not [seen for seen in his if seen.endswith(str(data / "a"))], his
    if hers.endswith(str(data / "a")) or refused.startswith("refused: "):
        # The child held her folder: his call is refused, naming the cure, the
        # server is promoted, and his next requests run on a child of his own.
        assert refused.startswith("refused: ") and '"share": "session"' in refused, refused
        assert his[-1].endswith(str(data / "b")), (his, gateway.text()[-3000:])
        assert "promoted to share 'session'" in gateway.text()
    else:
        # Her roots were not applied yet when he called: the child still held
        # the folder it was started with, which his call may use.
        assert refused == "ran: " + hers, (refused, gateway.text()[-3000:])

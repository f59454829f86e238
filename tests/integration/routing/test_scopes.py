"""End to end: global, workspace, credential and session children
with a real gateway, real children (tests/fixtures/scope_server.py: the
demo server plus a C{where} tool that says which child it is, the root it
lists and the C{TOKEN} it was given) and real HTTP clients.

 - adoption of a C{~/.claude.json} with two projects that each define
   C{filesystem} with their own root, plus a user-scope C{filesystem}: each
   project's session lists only its own root through its own route, the
   user-scope one serves the global route, an unknown key is 404, and
   C{stop} restores the file byte for byte;
 - two workspaces whose C{.env} hold different tokens get two children,
   the same token one child;
 - credential headers: two clients with different values get different
   children; a header not listed in C{credentialEnv} never reaches a child;
 - a repository's C{.env} and a client's C{X-Mcp-Env-PYTHONUSERBASE} header
   cannot make a Python child import a C{.pth} file;
 - promotion: a shared child that samples while two sessions have calls in
   flight: no session gets the request, the server is promoted, and the next
   session gets its own child, where sampling works.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway, callsInFlight, waitFor, writeConfig
from tests.integration.sampling import recordingSampler
from tests.support.integration.scopes import (
    BASE_PYTHON,
    HttpError,
    Session,
    entry,
    keyOf,
    post,
    userBase,
)
from tests.support.mcpclient import request

pytestmark = pytest.mark.integration


def project(path: Path, *files: str) -> Path:
    path.mkdir(parents=True)
    for name in files:
        (path / name).write_text(name)
    return path


# -- adoption ---------------------------------------------------------------------------


def test_adopted_projects_each_list_only_their_own_root(start: Any, home: Path) -> None:
    alpha = project(home / "alpha", "a.txt")
    beta = project(home / "beta", "b.txt")
    shared = project(home / "shared", "s.txt")
    config = home / ".claude.json"
    config.write_text(
        json.dumps(
            {
                "numStartups": 1,
                "mcpServers": {"filesystem": entry(str(shared))},
                "projects": {
                    str(alpha): {"mcpServers": {"filesystem": entry(str(alpha))}},
                    str(beta): {"mcpServers": {"filesystem": entry(str(beta))}},
                },
            },
            indent=2,
        )
    )
    os.chmod(config, 0o600)
    original = config.read_bytes()
    gateway: RunningGateway = start("--rewrite-config")
    assert waitFor(lambda: "_mcp_gateway_ts" in config.read_text()), gateway.text()
    data = json.loads(config.read_text())
    userUrl = data["mcpServers"]["filesystem"]["url"]
    alphaUrl = data["projects"][str(alpha)]["mcpServers"]["filesystem"]["url"]
    betaUrl = data["projects"][str(beta)]["mcpServers"]["filesystem"]["url"]
    assert userUrl == gateway.url("filesystem")
    assert alphaUrl == gateway.url(f"filesystem~{keyOf(home, alpha)}")
    assert betaUrl == gateway.url(f"filesystem~{keyOf(home, beta)}")

    inAlpha, inBeta, elsewhere = Session(alphaUrl), Session(betaUrl), Session(userUrl)
    seen = [s.where() for s in (inAlpha, inBeta, elsewhere)]
    assert [(w["root"], w["files"]) for w in seen] == [
        (str(alpha), ["a.txt"]),
        (str(beta), ["b.txt"]),
        (str(shared), ["s.txt"]),
    ]
    assert len({w["instance"] for w in seen}) == 3
    # A project's session is not found on another project's route, and an
    # unknown key is 404, never the global route.
    with pytest.raises(HttpError) as refused:
        post(betaUrl, {"jsonrpc": "2.0", "id": 5, "method": "tools/list"}, inAlpha.id)
    assert refused.value.status == 404
    with pytest.raises(HttpError) as unknown:
        Session(gateway.url("filesystem~" + "a" * 16))
    assert unknown.value.status == 404 and "no route" in unknown.value.body["error"]["message"]
    scopes = gateway.health()["servers"]["filesystem"]["scopes"]
    assert set(scopes) == {"global", keyOf(home, alpha), keyOf(home, beta)}
    assert str(alpha) not in json.dumps(gateway.health())

    gateway.stop()
    assert config.read_bytes() == original


# -- .env tokens ------------------------------------------------------------------------


def test_workspaces_with_different_env_tokens_get_different_children(
    start: Any, home: Path
) -> None:
    # Values no path or log line contains by chance (a pytest temp dir such as
    # pytest-1018 contains "t-1"): the log must hold neither.
    ONE, TWO = "tok-one-5f3a9c", "tok-two-8e1d47"
    same = project(home / "cwd")  # one cwd for all: only the .env tells them apart
    workspaces = {name: project(home / name) for name in ("one", "two", "again")}
    for name, token in (("one", ONE), ("two", TWO), ("again", ONE)):
        (workspaces[name] / ".env").write_text(f"TOKEN={token}\n")
    config = home / ".claude.json"
    config.write_text(
        json.dumps(
            {
                "projects": {
                    str(path): {"mcpServers": {"tokens": entry(cwd=str(same), envFrom=["TOKEN"])}}
                    for path in workspaces.values()
                }
            }
        )
    )
    gateway: RunningGateway = start("--config", str(config))
    seen = {
        name: Session(gateway.url(f"tokens~{keyOf(home, path)}")).where()
        for name, path in workspaces.items()
    }
    assert {name: w["token"] for name, w in seen.items()} == {
        "one": ONE,
        "two": TWO,
        "again": ONE,
    }
    assert seen["one"]["instance"] == seen["again"]["instance"] != seen["two"]["instance"]
    assert gateway.health()["servers"]["tokens"]["children"] == 2
    assert ONE not in gateway.text() and TWO not in gateway.text()


def test_a_repositorys_env_cannot_load_code_into_its_child(start: Any, home: Path) -> None:
    """A cloned repository's .env with PYTHONUSERBASE pointing at a .pth file
    of its own (which Python imports at start-up) and a name its server's
    entry does not list: the Python child starts without either."""
    repo = project(home / "cloned")
    marker = home / "pwned"
    (repo / ".env").write_text(f"PYTHONUSERBASE={userBase(repo, marker)}\nTOKEN=unlisted\n")
    config = home / ".claude.json"
    server = {**entry(), "command": BASE_PYTHON}
    config.write_text(json.dumps({"projects": {str(repo): {"mcpServers": {"py": server}}}}))
    gateway: RunningGateway = start("--config", str(config))
    seen = Session(gateway.url(f"py~{keyOf(home, repo)}")).where()
    assert not marker.exists(), "the repository's .pth file ran in the child"
    assert seen["token"] is None  # the entry does not list it
    log = gateway.text()
    assert "PYTHONUSERBASE" in log and "TOKEN" in log and "unlisted" not in log


# -- credential headers -----------------------------------------------------------------


def test_credential_headers_pick_the_child_and_unlisted_ones_never_reach_it(
    start: Any, home: Path
) -> None:
    config = writeConfig(
        home / "servers.json",
        {"creds": entry(share="credential", credentialEnv=["TOKEN"])},
    )
    gateway: RunningGateway = start("--config", str(config))
    url = gateway.url("creds")
    first = Session(url, {"X-Mcp-Env-TOKEN": "secret-one", "X-Mcp-Env-OTHER": "leak"})
    second = Session(url, {"X-Mcp-Env-TOKEN": "secret-two"})
    third = Session(url, {"X-Mcp-Env-TOKEN": "secret-one"})
    a, b, c = first.where(), second.where(), third.where()
    assert (a["token"], b["token"], c["token"]) == ("secret-one", "secret-two", "secret-one")
    assert a["instance"] == c["instance"] != b["instance"]
    assert a["other"] is None  # not listed in credentialEnv: never reaches a child
    # Other values on an open session: refused in-band, the child never asked.
    _, [answer] = post(
        url,
        {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "where"}},
        first.id,
        {"X-Mcp-Env-TOKEN": "secret-two"},
    )
    assert answer["error"]["code"] == -32602
    sessions = request(f"http://127.0.0.1:{gateway.port}/sessions", "GET", timeout=5).json()[
        "sessions"
    ]
    credentials = {s["id"]: s["credential"] for s in sessions}
    assert credentials[first.id] == credentials[third.id] != credentials[second.id]
    everything = gateway.text() + json.dumps(gateway.health()) + json.dumps(sessions)
    for secret in ("secret-one", "secret-two", "leak"):
        assert secret not in everything


def test_a_client_header_cannot_load_code_into_a_child(start: Any, home: Path) -> None:
    """A client's X-Mcp-Env-PYTHONUSERBASE (a .pth file that runs code) never
    reaches a child: an entry whose credentialEnv lists it is refused, and a
    server that lists only TOKEN ignores the header."""
    marker = home / "pwned"
    base = userBase(home, marker)
    python = {**entry(), "command": BASE_PYTHON, "share": "credential"}
    config = writeConfig(
        home / "servers.json",
        {
            "creds": {**python, "credentialEnv": ["TOKEN"]},
            "loader": {**python, "credentialEnv": ["TOKEN", "PYTHONUSERBASE"]},
        },
    )
    gateway: RunningGateway = start("--config", str(config))
    headers = {"X-Mcp-Env-TOKEN": "t", "X-Mcp-Env-PYTHONUSERBASE": str(base)}
    seen = Session(gateway.url("creds"), headers).where()
    assert seen["token"] == "t"
    try:
        Session(gateway.url("loader"), headers).where()
        status = 200
    except HttpError as refused:
        status = refused.status
    assert not marker.exists(), "a client's header made the child import a .pth file"
    assert status == 404
    assert "'credentialEnv' may not list PYTHONUSERBASE" in gateway.text()


# -- promotion --------------------------------------------------------------------------


def test_a_shared_child_that_samples_with_two_sessions_in_flight_keeps_its_share(
    start: Any, home: Path
) -> None:
    """The crowded sampling is refused (nobody is asked) and the server is
    not promoted: a new session shares the child, and samples there once it
    is the one caller."""
    config = writeConfig(home / "servers.json", {"talker": entry(share="global")})
    gateway: RunningGateway = start("--config", str(config))
    url = gateway.url("talker")
    sampledBy: list[str] = []

    def sampler(label: str) -> Any:
        return recordingSampler(label, sampledBy)

    async def pidOf(client: Client) -> int:
        result = await client.call_tool("where", {})
        return int(json.loads(result.content[0].text)["instance"])  # type: ignore[union-attr]

    async def main() -> tuple[str, str, int, int, int]:
        async with (
            Client(url, mode="legacy", sampling_callback=sampler("a")) as a,
            Client(url, mode="legacy", sampling_callback=sampler("b")) as b,
        ):
            shared = await pidOf(a)
            with anyio.fail_after(60):
                async with anyio.create_task_group() as group:
                    group.start_soon(b.call_tool, "slow", {"seconds": 3, "steps": 3})
                    await callsInFlight(gateway, "talker", 1)  # b's, on the shared child
                    crowded = await a.call_tool("sample", {"prompt": "whose?"})
            async with Client(url, mode="legacy", sampling_callback=sampler("c")) as c:
                own = await pidOf(c)
                with anyio.fail_after(60):
                    sampled = await c.call_tool("sample", {"prompt": "mine"})
            first, second = crowded.content[0], sampled.content[0]
            assert isinstance(first, types.TextContent) and isinstance(second, types.TextContent)
            return first.text, second.text, shared, own, await pidOf(a)

    crowded, sampled, shared, own, again = anyio.run(main)
    assert "sampling failed" in crowded and "ambiguous" in crowded, crowded
    assert "the server keeps its share" in crowded, crowded
    assert sampled == "sampled: answer from c", sampled
    assert sampledBy == ["c"]  # the refused request reached nobody
    assert shared == own == again  # one shared child throughout
    talker = gateway.health()["servers"]["talker"]
    assert not talker["promoted"], talker
    assert not (home / "state" / "promotions.json").exists()

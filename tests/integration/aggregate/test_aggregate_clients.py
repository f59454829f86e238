"""The aggregate endpoint C{/mcp} with real SDK clients: the
Python SDK (handshake, and auto, which takes the 2026-07-28 path: every
server of this config serves it) and the TypeScript SDK
1.x and 2.x (tests/integration/clients/ts_aggregate.mjs) list every
server's tools, prompts and resources, and call through the namespace
(C{everything__echo}, C{era__greet}, C{era://notes/readme}); progress
reaches only the caller; and with 4 aggregate and 4 direct (C{/era/mcp})
sessions at once, every sampling and elicitation request of the shared era
child is answered by the callback of the session that called, none
misrouted, none ambiguous. Servers: server-everything, server-filesystem
and server-memory (npm, from scripts/install-test-backends) and the era
fixture (tests/fixtures/era_server.py). Also: a cancelled call is cancelled
at the member; a session without sampling does not take tools from one
with it (a per-session child lists by its client's capabilities); a server
that never answers delays only the first listing.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.integration.continuitykit import tsEnvironment
from tests.integration.gateway import REPO, NodeScript, RunningGateway, npmServer, writeConfig
from tests.support import mcpclient
from tests.support.integration.era_fixture import TOOLS, answersOf, checkEraAnswers, checkEraLists
from tests.support.mcpclient import Client2026
from tests.support.sdkcallers import Caller, textOf

pytestmark = [pytest.mark.integration, pytest.mark.front]

ERA = REPO / "tests" / "fixtures" / "era_server.py"
TS_AGGREGATE = Path(__file__).parents[1] / "clients" / "ts_aggregate.mjs"
NAMESPACED = re.compile(r"^(era|everything|fs|memory)__[A-Za-z0-9_-]+$")


def npmServers(home: Path) -> dict[str, Any]:
    """server-filesystem (as C{fs}, over a folder with one file) and
    server-memory (as C{memory}, its file in a directory of its own in
    C{home}, which its sandbox lets it write)."""
    folder = home / "files"
    folder.mkdir(exist_ok=True)
    (home / "memory").mkdir(exist_ok=True)
    (folder / "hello.txt").write_text("hello from the filesystem server\n")
    filesystem, memory = npmServer("SERVER_FILESYSTEM_JS"), npmServer("SERVER_MEMORY_JS")
    return {
        "fs": {"command": filesystem[0], "args": [filesystem[1], str(folder)]},
        "memory": {
            "command": memory[0],
            "args": memory[1:],
            "env": {"MEMORY_FILE_PATH": str(home / "memory" / "memory.jsonl")},
        },
    }


def aggregateConfig(home: Path, everything: list[str]) -> Path:
    return writeConfig(
        home / "servers.json",
        {
            "everything": {"command": everything[0], "args": everything[1:], "share": "global"},
            "era": {"command": sys.executable, "args": [str(ERA)], "share": "global"},
            **npmServers(home),
        },
    )


def aggregateUrl(gateway: RunningGateway) -> str:
    return f"http://127.0.0.1:{gateway.port}/mcp"


class TsAggregate(NodeScript):
    """One ts_aggregate.mjs process: ready once connected and listed, then
    it runs its calls on "go" and closes on the next line."""

    def __init__(
        self, flavour: str, url: str, label: str, nonce: str, prefix: str, env: dict[str, str]
    ) -> None:
        super().__init__(TS_AGGREGATE, [flavour, url, label, nonce, prefix], label, env)
        self.nonce, self.prefix = nonce, prefix


async def pyScenario(
    url: str,
    mode: str,
    caller: Caller,
    nonce: str,
    prefix: str,
    ready: anyio.Event,
    go: anyio.Event,
    done: anyio.Event,
) -> dict[str, Any]:
    """What ts_aggregate.mjs does, with the Python SDK: list, read, get a
    prompt, tell C{ready}, wait for C{go}, then call (progress, sampling,
    elicitation); the session stays open until C{done}."""
    label = caller.label
    async with caller.client(url, mode) as client:
        tools = await client.list_tools()
        prompts = await client.list_prompts()
        resources = await client.list_resources()
        read = await client.read_resource("era://notes/readme")
        prompt = await client.get_prompt(f"{prefix}greet", {"name": label})
        ready.set()
        await go.wait()
        countProgress: list[float] = []

        async def onCount(progress: float, total: float | None, message: str | None) -> None:
            countProgress.append(progress)

        count = await client.call_tool(f"{prefix}count", {"steps": 3}, progress_callback=onCount)
        model = await client.call_tool(f"{prefix}ask_model", {"label": label, "nonce": nonce})
        user = await client.call_tool(f"{prefix}ask_user", {"label": label, "nonce": nonce})
        extra: dict[str, Any] = {}
        if prefix:
            extra["echo"] = textOf(
                await client.call_tool("everything__echo", {"message": f"echo {label}"})
            )
            longProgress: list[float] = []

            async def onLong(progress: float, total: float | None, message: str | None) -> None:
                longProgress.append(progress)

            long = await client.call_tool(
                "everything__trigger-long-running-operation",
                {"duration": 1, "steps": 3},
                progress_callback=onLong,
            )
            extra["long"], extra["longProgress"] = textOf(long), longProgress
        version = client.session.protocol_version
        await done.wait()
    return {
        "ok": True,
        "version": version,
        "tools": sorted(tool.name for tool in tools.tools),
        "prompts": sorted(p.name for p in prompts.prompts),
        "resources": sorted(str(r.uri) for r in resources.resources),
        **answersOf(read, prompt, count, model, user),
        "countProgress": countProgress,
        **extra,
        "seen": {"sampling": caller.sampled, "elicitation": caller.elicited},
    }


def checkScenario(result: dict[str, Any], label: str, nonce: str, prefix: str) -> None:
    """What every session must have seen: the lists (namespaced on /mcp),
    its own progress only, its own answers; its callbacks asked only its
    own questions."""
    assert result["ok"], result
    if prefix:
        tools = set(result["tools"])
        assert {f"era__{name}" for name in TOOLS} <= tools, result["tools"]
        assert {"everything__echo", "everything__trigger-long-running-operation"} <= tools
        assert {"fs__read_text_file", "memory__create_entities"} <= tools, result["tools"]
        assert all(NAMESPACED.match(name) for name in tools), result["tools"]
        assert {"era__greet", "everything__simple-prompt"} <= set(result["prompts"]), result
        assert "era://notes/readme" in result["resources"], result
        assert any(uri.startswith("demo://resource/") for uri in result["resources"]), result
        assert result["echo"] == f"Echo: echo {label}", result
        assert result["long"].startswith("Long running operation completed"), result
        assert result["longProgress"] == [1, 2, 3], result
    else:
        checkEraLists(result)
    checkEraAnswers(result, label, nonce, "countProgress")


def test_four_aggregate_and_four_direct_sessions_at_once(
    start: Any, home: Path, everything: list[str]
) -> None:
    """PY handshake, PY auto, TS 1.x and TS 2.x on /mcp and four sessions on
    /era/mcp run at once on one shared era child: namespaced lists and
    calls work, progress reaches only its caller, every sampling and
    elicitation request reaches the session that called."""
    gateway: RunningGateway = start("--config", str(aggregateConfig(home, everything)))
    aggregate, direct = aggregateUrl(gateway), gateway.url("era")
    env = tsEnvironment()
    ts = [
        TsAggregate("v1", aggregate, "ts1-agg", "n-ts1-agg", "era__", env),
        TsAggregate("v2", aggregate, "ts2-agg", "n-ts2-agg", "era__", env),
        TsAggregate("v1", direct, "ts1-direct", "n-ts1-direct", "", env),
        TsAggregate("v2", direct, "ts2-direct", "n-ts2-direct", "", env),
    ]
    py = [
        (aggregate, "legacy", Caller("py-handshake-agg"), "n-py-handshake-agg", "era__"),
        (aggregate, "auto", Caller("py-auto-agg"), "n-py-auto-agg", "era__"),
        (direct, "legacy", Caller("py-direct-a"), "n-py-direct-a", ""),
        (direct, "legacy", Caller("py-direct-b"), "n-py-direct-b", ""),
    ]
    health: dict[str, Any] = {}
    sessions: list[dict[str, Any]] = []

    async def main() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        pyResults: dict[str, dict[str, Any]] = {}
        readies = [anyio.Event() for _ in py]
        go, done = anyio.Event(), anyio.Event()

        async def run(index: int) -> None:
            url, mode, caller, nonce, prefix = py[index]
            pyResults[caller.label] = await pyScenario(
                url, mode, caller, nonce, prefix, readies[index], go, done
            )

        with anyio.fail_after(90):
            async with anyio.create_task_group() as group:
                for index in range(len(py)):
                    group.start_soon(run, index)
                tsReady = [await anyio.to_thread.run_sync(client.line) for client in ts]
                for ready in tsReady:
                    assert ready.get("event") == "ready", ready
                for event in readies:
                    await event.wait()
                # Eight sessions are open: every one starts its calls now.
                go.set()
                for client in ts:
                    client.send("go")
                tsResults = [await anyio.to_thread.run_sync(client.line) for client in ts]
                health.update(await anyio.to_thread.run_sync(gateway.health))
                sessions.extend(await anyio.to_thread.run_sync(listSessions, gateway))
                done.set()
        return [pyResults[entry[2].label] for entry in py], tsResults

    try:
        pyResults, tsResults = anyio.run(main)
    finally:
        for client in ts:
            client.close()
    for (_, mode, caller, nonce, prefix), result in zip(py, pyResults, strict=True):
        checkScenario(result, caller.label, nonce, prefix)
        # auto took the 2026-07-28 path: every server here serves it.
        expected = "2026-07-28" if mode == "auto" else "2025-11-25"
        assert result["version"] == expected, (mode, result["version"])
    for client, result in zip(ts, tsResults, strict=True):
        checkScenario(result, client.label, client.nonce, client.prefix)
    era = health["servers"]["era"]
    assert era["children"] == 1, era
    assert era["ambiguousServerRequests"] == 0, era
    assert not era["promoted"], era
    servers = sorted(session["server"] for session in sessions)
    # The auto client made no session: a 2026-07-28 client has none.
    assert servers.count("/mcp") == 3 and servers.count("era") == 4, servers
    # The child answered each session's two questions with that session's answers.
    asked = sorted([(c.label, c.nonce) for c in ts] + [(p[2].label, p[3]) for p in py])
    outcomes = callOutcomes(direct)
    assert sorted((o[0], o[1]) for o in outcomes if o[2] == "sampled") == asked
    assert sorted((o[0], o[1]) for o in outcomes if o[2] == "accept") == asked


def listSessions(gateway: RunningGateway) -> list[dict[str, Any]]:
    return mcpclient.listSessions(gateway.port)


def callOutcomes(url: str) -> list[list[str]]:
    """What the era child's ask_* tools received, in order."""

    async def main() -> list[list[str]]:
        async with Client(url, mode="legacy") as client:
            return json.loads(textOf(await client.call_tool("outcomes", {})))  # type: ignore[no-any-return]

    return anyio.run(main)


def test_one_session_calls_every_server_through_the_namespace(
    start: Any, home: Path, everything: list[str]
) -> None:
    """One Python session on /mcp: a namespaced call, a prompt and a resource
    of each kind of server, server-everything's own (hint-less) sampling
    request answered by this session, progress only at the caller while a
    second session is open, and the 2026-07-28 probe answered by the
    aggregate itself (every server of this config serves the revision)."""
    gateway: RunningGateway = start("--config", str(aggregateConfig(home, everything)))
    url = aggregateUrl(gateway)
    probe = Client2026(url, name="probe").send("server/discover", requestId=1)
    status, body = probe.status, probe.answer
    assert status == 200 and body["result"]["supportedVersions"] == ["2026-07-28"], (status, body)
    caller, bystander = Caller("caller"), Caller("bystander")

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with caller.client(url, "legacy") as client, bystander.client(url, "legacy") as other:
            await other.list_tools()
            steps: list[float] = []

            async def onProgress(progress: float, total: float | None, message: str | None) -> None:
                steps.append(progress)

            # The bystander has a call in flight too, without a progress token.
            async with anyio.create_task_group() as group:
                group.start_soon(other.call_tool, "era__count", {"steps": 2})
                long = await client.call_tool(
                    "everything__trigger-long-running-operation",
                    {"duration": 1, "steps": 4},
                    progress_callback=onProgress,
                )
            out["long"], out["progress"] = textOf(long), steps
            sampled = await client.call_tool(
                "everything__trigger-sampling-request", {"prompt": "aggregate", "maxTokens": 5}
            )
            out["sampled"] = textOf(sampled)
            template = await client.read_resource("demo://resource/dynamic/text/1")
            out["template"] = getattr(template.contents[0], "text", None)
            simple = await client.get_prompt("everything__simple-prompt", {})
            out["simple"] = simple.messages[0].content
            read = await client.call_tool(
                "fs__read_text_file", {"path": str(home / "files" / "hello.txt")}
            )
            out["fs"] = textOf(read)
            entities = [{"name": "gw", "entityType": "thing", "observations": ["aggregated"]}]
            created = await client.call_tool("memory__create_entities", {"entities": entities})
            out["memory"] = textOf(created)
            try:
                await client.call_tool("nosuch__tool", {})
            except MCPError as error:
                out["unknown"] = (error.error.code, error.error.message)
        return out

    out = anyio.run(main)
    assert out["long"].startswith("Long running operation completed"), out
    assert out["progress"] == [1, 2, 3, 4], out
    assert "progress" not in " ".join(bystander.notifications), bystander.notifications
    assert caller.sampled == ["Resource trigger-sampling-request context: aggregate"], out
    assert bystander.sampled == [] and bystander.elicited == []
    assert "caller answers" in out["sampled"], out
    assert out["template"] and "1" in out["template"], out
    assert isinstance(out["simple"], types.TextContent), out
    assert "hello from the filesystem server" in out["fs"], out
    assert '"gw"' in out["memory"], out
    assert out["unknown"] == (-32602, "Unknown tool: nosuch__tool"), out


def test_a_session_without_sampling_does_not_hide_tools_from_one_with_it(
    start: Any, home: Path, everything: list[str]
) -> None:
    """server-everything runs a child per session (share: session) and lists
    trigger-sampling-request only to a client that declared sampling. A
    session without sampling starting its own child must not take that tool
    from the view of a session with sampling (nor tell it its tools changed)."""
    config = writeConfig(
        home / "servers.json", {"everything": {"command": everything[0], "args": everything[1:]}}
    )
    gateway: RunningGateway = start("--config", str(config))
    url = aggregateUrl(gateway)
    withSampling, without = Caller("with"), Caller("without")
    tool = "everything__trigger-sampling-request"

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with (
            withSampling.client(url, "legacy") as a,
            Client(url, mode="legacy", message_handler=without.onMessage) as b,
        ):
            out["before"] = tool in {t.name for t in (await a.list_tools()).tools}
            await b.call_tool("everything__echo", {"message": "b's own child starts"})
            await anyio.sleep(1.5)  # a catalog change would have been told by now
            out["after"] = tool in {t.name for t in (await a.list_tools()).tools}
            try:
                result = await a.call_tool(tool, {"prompt": "still mine", "maxTokens": 5})
                out["call"] = textOf(result)
            except MCPError as error:
                out["call"] = f"error {error.error.code}: {error.error.message}"
        return out

    out = anyio.run(main)
    assert out["before"] is True, out
    assert out["after"] is True, out
    assert "with answers" in out["call"], out
    assert withSampling.notifications.count("notifications/tools/list_changed") == 0


def test_a_cancelled_call_is_cancelled_at_the_member(start: Any, home: Path) -> None:
    """A client cancels its call while the era child waits for its
    elicitation answer: the child's handler is cancelled (the fixture
    records it), and the session goes on calling."""
    config = writeConfig(
        home / "servers.json", {"era": {"command": sys.executable, "args": [str(ERA)]}}
    )
    gateway: RunningGateway = start("--config", str(config))
    asked = anyio.Event()

    async def neverAnswers(context: Any, params: Any) -> types.ElicitResult:
        asked.set()
        await anyio.sleep(60)
        return types.ElicitResult(action="decline")

    async def main() -> tuple[list[list[str]], str]:
        async with Client(
            aggregateUrl(gateway), mode="legacy", elicitation_callback=neverAnswers
        ) as client:
            scope = anyio.CancelScope()

            async def call() -> None:
                with scope:
                    await client.call_tool("era__ask_user", {"label": "gone", "nonce": "n-gone"})

            with anyio.fail_after(10):
                async with anyio.create_task_group() as group:
                    group.start_soon(call)
                    await asked.wait()
                    scope.cancel()
                outcomes: list[list[str]] = []
                while ["gone", "n-gone", "cancelled"] not in outcomes:
                    await anyio.sleep(0.05)
                    outcomes = json.loads(textOf(await client.call_tool("era__outcomes", {})))
            after = textOf(await client.call_tool("era__count", {"steps": 1}))
        return outcomes, after

    outcomes, after = anyio.run(main)
    assert outcomes == [["gone", "n-gone", "cancelled"]], outcomes
    assert after == "counted 1"


def test_a_server_that_never_answers_delays_only_the_first_listing(start: Any, home: Path) -> None:
    """A server whose child never answers initialize (a package still
    downloading, a hung start): the first /mcp initialize may wait for its
    probe (at most the catalogs' 10 s), but no later list or session waits
    for it again: they are served from the servers that answered."""
    config = writeConfig(
        home / "servers.json",
        {
            "era": {"command": sys.executable, "args": [str(ERA)]},
            "silent": {"command": sys.executable, "args": ["-c", "import time; time.sleep(600)"]},
        },
    )
    gateway: RunningGateway = start("--config", str(config))
    url = aggregateUrl(gateway)

    async def main() -> list[tuple[str, float | None]]:
        timings: list[tuple[str, float | None]] = []

        def took(what: str, since: float) -> float:
            now = anyio.current_time()
            timings.append((what, round(now - since, 2)))
            return now

        for attempt, allowed in (("first", 30.0), ("second", 9.0), ("third", 9.0)):
            with anyio.move_on_after(allowed) as scope:
                began = anyio.current_time()
                async with Client(url, mode="legacy") as client:
                    began = took(f"{attempt} initialize", began)
                    for again in ("", " again"):
                        listed = await client.list_tools()
                        began = took(f"{attempt} tools/list{again}", began)
                        names = {tool.name for tool in listed.tools}
                        assert {f"era__{name}" for name in TOOLS} <= names, names
            if scope.cancelled_caught:
                timings.append((f"{attempt}: the rest timed out", None))
                break
        return timings

    timings = anyio.run(main)
    assert len(timings) == 9, timings
    # The first initialize waits for the probe (10 s, more on a loaded
    # machine); any later step that waited for it again would take as long.
    for _, seconds in timings[1:]:
        assert seconds is not None and seconds < 5.0, timings  # half the probe's 10 s

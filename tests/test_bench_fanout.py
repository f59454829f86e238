"""benchmarks/fanout.py and its modules: each client kind's file holds the 13
shared servers and the per-session browser server as that client writes
them (the gateway's classification.json saying which is per session) and,
once the real adoption engine has
rewritten it, is read back as the gateway's URLs; the HTTP answers are
parsed whatever their framing; the sessions start, list, call and check
every answer; the calls expect what the fixtures really answer; the side
without the gateway stops where memory says so, and its extrapolation says
what it is; the report gives each server's processes and PSS, and the
shared servers' figures apart from the per-session one's."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway import demo
from mcpgateway.clientconfigs.adopted import routeUrl
from mcpgateway.clientconfigs.clients import ADAPTERS
from mcpgateway.clientconfigs.clients.base import Host
from mcpgateway.clientconfigs.clients.claudecode import ClaudeCode
from mcpgateway.clientconfigs.engine import AdoptionEngine
from mcpgateway.config.classification import loadOverrides
from tests.support.benchmarks import BENCHMARKS, loadBenchmark

REPO = BENCHMARKS.parent


fanout = loadBenchmark("fanout", "bench_fanout_under_test")
servers = sys.modules["fanoutservers"]
sessions = sys.modules["fanoutsessions"]
wire = sys.modules["fanoutwire"]
report = sys.modules["fanoutreport"]
side = sys.modules["fanoutside"]

NPM_KEYS = [key for _, key, *_ in servers.NPM_SERVERS] + [servers.SESSION_SERVER[1]]


def npmPaths(tmp_path: Path) -> dict[str, str]:
    """paths.env's npm entry files, stood in by empty files."""
    paths = {}
    for key in NPM_KEYS:
        js = tmp_path / "npm" / key / "index.js"
        js.parent.mkdir(parents=True, exist_ok=True)
        js.write_text("")
        paths[key] = str(js)
    return paths


def someServers(tmp_path: Path, perSession: bool = True) -> list[Any]:
    """The 14 servers (13 without the per-session one)."""
    found: list[Any] = servers.servers(
        npmPaths(tmp_path), tmp_path, REPO, sys.executable, perSession
    )
    return found


def test_there_are_13_shared_servers_and_playwright_and_each_is_told_apart(
    tmp_path: Path,
) -> None:
    found = someServers(tmp_path)
    assert len(found) == 14
    assert len({s.name for s in found}) == 14
    assert [s.name for s in found if not s.share][:2] == ["memory", "filesystem"]
    assert servers.sessionServers(found) == ["playwright"] == [found[-1].name]
    commands = [" ".join(s.argv()) for s in found]
    for s in found:
        assert [c for c in commands if s.marker in c] == [" ".join(s.argv())]


def test_playwright_runs_headless_isolated_on_the_chromium_paths_env_names(
    tmp_path: Path,
) -> None:
    paths = npmPaths(tmp_path)
    (playwright,) = [s for s in servers.servers(paths, tmp_path, REPO, "py") if s.share]
    assert (playwright.command, playwright.args[0]) == ("node", paths["FANOUT_PLAYWRIGHT_MCP_JS"])
    assert playwright.args[1:] == (
        "--headless",
        "--isolated",
        "--executable-path",
        "/usr/bin/chromium",
    )
    assert (playwright.origin, playwright.share, playwright.env) == (
        "@playwright/mcp",
        "session",
        {},
    )
    paths["CHROMIUM"] = "/opt/chromium/chrome"
    (elsewhere,) = [s for s in servers.servers(paths, tmp_path, REPO, "py") if s.share]
    assert elsewhere.args[-2:] == ("--executable-path", "/opt/chromium/chrome")


def test_the_gateway_is_told_playwright_is_per_session_in_its_classification(
    tmp_path: Path,
) -> None:
    path = tmp_path / "classification.json"
    path.write_text(servers.classificationText(someServers(tmp_path)))
    assert json.loads(path.read_text()) == {"playwright": {"share": "session"}}
    overrides = loadOverrides(tmp_path)
    assert (overrides.servers["playwright"].share, overrides.warnings) == ("session", [])
    assert json.loads(servers.classificationText(someServers(tmp_path, False))) == {}


def test_without_playwright_the_13_shared_servers_remain(tmp_path: Path) -> None:
    found = someServers(tmp_path, perSession=False)
    assert len(found) == 13 and servers.sessionServers(found) == []
    paths = npmPaths(tmp_path)
    del paths["FANOUT_PLAYWRIGHT_MCP_JS"]
    assert len(servers.servers(paths, tmp_path, REPO, "py", perSession=False)) == 13
    with pytest.raises(servers.MissingServers, match="@playwright/mcp"):
        servers.servers(paths, tmp_path, REPO, "py")


def test_a_missing_npm_server_is_named(tmp_path: Path) -> None:
    with pytest.raises(servers.MissingServers, match="context7-mcp"):
        servers.servers({}, tmp_path, REPO, sys.executable)


def test_paths_env_lines_are_read() -> None:
    assert servers.readPaths("A=/x\n# no\n\nB=/y=z\n") == {"A": "/x", "B": "/y=z"}


@pytest.mark.parametrize("kind", ["claude-code", "codex", "cursor", "vscode", "copilot"])
def test_each_client_file_holds_every_server_as_stdio(tmp_path: Path, kind: str) -> None:
    found = someServers(tmp_path)
    text = servers.clientText(kind, found)
    if kind == "codex":
        table = tomllib.loads(text)["mcp_servers"]
    else:
        table = json.loads(text)["servers" if kind == "vscode" else "mcpServers"]
    assert list(table) == [s.name for s in found]
    for s in found:
        entry = table[s.name]
        assert (entry["command"], entry["args"]) == (s.command, list(s.args))
        assert entry.get("env", {}) == dict(s.env)
    assert not any("share" in entry for entry in table.values())
    assert servers.adoptedUrls(kind, text) == {}


def test_the_adoption_engine_rewrites_every_file_to_the_gateway(tmp_path: Path) -> None:
    """The files the replay writes, adopted by the gateway's own engine, read
    back by the replay as every server's URL on the gateway."""
    found = someServers(tmp_path)
    home = tmp_path / "home"
    servers.writeClientFiles(home, found)
    state = tmp_path / "state"
    state.mkdir()
    chosen = [ClaudeCode(), *(a for a in ADAPTERS if a.id in servers.KINDS)]
    engine = AdoptionEngine(
        state,
        chosen,
        Host(home, "linux", {}),
        projects=[],
        bridgeArgv=["/usr/bin/mcpgateway"],
        environ={"HOME": str(home)},
        now=lambda: 1767225600.0,
    )
    engine.adopt(lambda name, ws: routeUrl("127.0.0.1", 9100, name, None))
    names = [s.name for s in found]
    for kind in servers.KINDS:
        text = servers.clientPath(kind, home).read_text()
        urls = servers.adoptedUrls(kind, text)
        assert servers.adoptionProblems(kind, urls, names, 9100) == [], kind
        assert servers.adoptionProblems(kind, urls, names, 9101)


def test_adoption_problems_name_the_client_and_the_server() -> None:
    urls = {"a": "http://127.0.0.1:9100/a/mcp", "b": "http://127.0.0.1:9100/x/mcp"}
    assert servers.adoptionProblems("cursor", urls, ["a", "b", "c"], 9100) == [
        "Cursor: b points at http://127.0.0.1:9100/x/mcp, not http://127.0.0.1:9100/b/mcp",
        "Cursor: c not adopted (still a stdio entry)",
    ]


@pytest.mark.parametrize("server", ["jira", "kubernetes"])
def test_a_tools_fixture_call_expects_what_the_fixture_answers(tmp_path: Path, server: str) -> None:
    from tests.fixtures import many_tools_server

    domain = "jira" if server == "jira" else "k8s"
    tools = {t["name"]: t for t in many_tools_server.definitions([domain])}
    tool, args, want = servers.callOf(server, "n-s1-2", tmp_path)
    answer = many_tools_server._call(tools, {"name": tool, "arguments": args})
    assert servers.answerText(answer) == want


def test_the_demo_call_expects_its_echo(tmp_path: Path) -> None:
    tool, args, want = servers.callOf("demo", "n-s1-2", tmp_path)
    assert (tool, servers.answerText(demo._text(args["message"]))) == ("echo", want)


def test_a_server_without_a_known_answer_cannot_be_called(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no call with a known answer"):
        servers.callOf("github", "t", tmp_path)


def test_an_error_result_has_no_answer_text() -> None:
    assert servers.answerText({"content": [{"type": "text", "text": "x"}], "isError": True}) is None
    assert servers.answerText({"content": []}) is None


# -- the wire ---------------------------------------------------------------------------


def test_a_response_head_is_parsed() -> None:
    status, headers = wire.parseHead(b"HTTP/1.1 202 Accepted\r\nMcp-Session-Id: abc\r\nX: 1")
    assert (status, headers) == (202, {"mcp-session-id": "abc", "x": "1"})
    with pytest.raises(wire.LinkError):
        wire.parseHead(b"garbage")


def chunked(body: bytes, sizes: list[int]) -> bytes:
    out, at = b"", 0
    for size in sizes:
        piece = body[at : at + size]
        if not piece:
            break
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
        at += len(piece)
    piece = body[at:]
    if piece:
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


@given(st.binary(max_size=2000), st.lists(st.integers(1, 300), max_size=20))
def test_any_chunking_gives_the_body_back(body: bytes, sizes: list[int]) -> None:
    data = chunked(body, sizes)
    assert wire.dechunk(data) == (body, True)
    assert wire.dechunk(data[: len(data) - 5])[1] is False


messages = st.lists(
    st.fixed_dictionaries(
        {"jsonrpc": st.just("2.0"), "id": st.integers(0, 10**6), "result": st.dictionaries(
            st.text(max_size=5), st.text(max_size=20), max_size=3)}
    ),
    max_size=4,
)  # fmt: skip


@given(messages)
def test_sse_events_give_their_messages(sent: list[dict[str, Any]]) -> None:
    body = b"".join(b"event: message\ndata: " + json.dumps(m).encode() + b"\n\n" for m in sent)
    assert wire.messagesOf("text/event-stream", b": comment\n\n" + body) == sent


@given(messages)
def test_a_json_body_gives_its_message_or_batch(sent: list[dict[str, Any]]) -> None:
    for m in sent:
        assert wire.messagesOf("application/json", json.dumps(m).encode()) == [m]
    assert wire.messagesOf("application/json", json.dumps(sent).encode()) == sent
    assert wire.messagesOf("application/json", b"") == []


def replyOf(data: bytes) -> Any:
    async def read() -> Any:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await wire.readReply(reader)

    return asyncio.run(read())


def test_replies_are_read_by_length_chunks_or_status() -> None:
    plain = replyOf(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra")
    assert (plain.status, plain.body) == (200, b"{}")
    sse = b'data: {"id": 1}\n\n'
    reply = replyOf(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked"
        b"\r\n\r\n" + chunked(sse, [5])
    )
    assert wire.messagesOf(reply.headers["content-type"], reply.body) == [{"id": 1}]
    assert replyOf(b"HTTP/1.1 202 Accepted\r\n\r\n").body == b""


# -- the sessions -------------------------------------------------------------------------


def test_the_full_shape_is_200_sessions_with_the_kinds_interleaved() -> None:
    groups = sessions.plans(servers.KINDS, 8, 4)
    flat = [p for g in groups for p in g]
    assert len(groups) == 40 and len(flat) == 200
    assert [p.index for p in flat] == list(range(200))
    assert [g[0].kind for g in groups[:5]] == list(servers.KINDS)
    assert all(g[0].role == "main" and {p.role for p in g[1:]} == {"subagent"} for g in groups)
    assert all(len(g) == 5 and {p.kind for p in g} == {g[0].kind} for g in groups)


class FakeLink:
    """A server that lists C{tools} and answers each call with C{answer(args)}."""

    def __init__(self, tools: list[str], answer: Any) -> None:
        self.tools = tools
        self.answer = answer
        self.opened = self.closed = False

    async def open(self, client: str) -> None:
        self.opened = True

    async def request(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if method == "tools/list":
            return {"tools": [{"name": t} for t in self.tools]}
        text = self.answer(params["arguments"])
        if text is None:
            raise wire.LinkError("no answer")
        return {"content": [{"type": "text", "text": text}]}

    async def close(self) -> None:
        self.closed = True


def test_sessions_list_call_and_check_every_answer(tmp_path: Path) -> None:
    reference = {"demo": ["add", "echo"], "jira": ["jira_search"]}
    answers = {
        "demo": lambda args: args["message"] if "s1-" not in args["message"] else "wrong",
        "jira": lambda args: None,
    }

    def make(plan: Any, name: str) -> FakeLink:
        tools = ["echo", "add"] if name == "demo" else ["jira_search", "more"]
        return FakeLink(tools, answers[name])

    group = sessions.plans(["cursor"], 1, 1)[0]

    async def run() -> tuple[list[Any], Any]:
        runs = [await sessions.startSession(p, ["demo", "jira"], make, reference) for p in group]
        tally = await sessions.callPhase(runs, ["demo", "jira"], 2, "n", tmp_path)
        await sessions.closeAll(runs)
        return runs, tally

    runs, tally = asyncio.run(run())
    assert runs[0].tools == {"demo": ["add", "echo"], "jira": ["jira_search", "more"]}
    assert runs[0].errors == ["jira: listed 2 tools, not 1 (missing [], extra ['more'])"]
    assert runs[0].toAllListed() is not None and runs[0].toFirstList() is not None
    assert (tally.ok, tally.wrong, tally.failed) == (2, 2, 4)
    assert all(link.closed for run in runs for link in run.links.values())
    figures = sessions.startFigures(runs)
    assert figures["main"]["allListedMs"]["max"] >= 0
    assert figures["subagent"]["firstListMs"] is not None


def test_no_group_starts_once_room_says_no() -> None:
    started: list[int] = []

    async def start(plan: Any) -> Any:
        started.append(plan.index)
        return sessions.SessionRun(plan)

    answers = iter([None, None, "full"])
    groups = sessions.plans(["cursor", "codex"], 2, 2)
    runs, why = asyncio.run(sessions.startAll(groups, start, lambda: next(answers), lambda t: None))
    assert (len(runs), why, started) == (6, "full", list(range(6)))


def test_the_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]
    assert [sessions.percentile(values, p) for p in (1, 50, 90, 100)] == [1.0, 5.0, 9.0, 10.0]
    with pytest.raises(ValueError):
        sessions.percentile([], 50)


# -- the figures --------------------------------------------------------------------------


def test_memory_left_and_the_ceiling_decide_whether_a_group_fits() -> None:
    assert side.why(20000, 1000, 500, 6000, 12000) is None
    assert "reserve" in side.why(6400, 1000, 500, 6000, 12000)
    assert "ceiling" in side.why(20000, 11600, 500, 6000, 12000)


def test_the_room_counts_what_its_processes_hold_and_each_group_it_lets_in() -> None:
    """The gateway's runs and the side without it both ask a Room; it
    reads the PSS of the processes it is given (here this test's own)."""
    roomy = side.Room(0.0, 1e9, 5, lambda: [os.getpid()])
    assert (roomy.check(), roomy.check(), roomy.sessions) == (None, None, 10)
    full = side.Room(0.0, 1.0, 5, lambda: [os.getpid()])
    assert "passes the ceiling of 1 MB" in (full.check() or "")
    assert side.Room(0.0, 1.0, 5, lambda: []).check() is None


def test_the_extrapolation_is_labelled_and_linear() -> None:
    measured = {"processes": 520, "pssMB": 10000.0, "rssMB": 25000.0}
    scaled = report.extrapolate(measured, 40, 200)
    assert scaled == {
        "extrapolated": True,
        "fromSessions": 40,
        "toSessions": 200,
        "processes": 2600,
        "pssMB": 50000.0,
        "rssMB": 125000.0,
        "perServer": {},
        "perServerPssMB": {},
        "note": "extrapolated linearly from 40 of 200 sessions measured",
    }
    perServer: dict[str, Any] = {"perServer": {"jira": 40}, "perServerPssMB": {"jira": 1000.0}}
    scaled = report.extrapolate({**measured, **perServer}, 40, 200)
    assert (scaled["perServer"], scaled["perServerPssMB"]) == ({"jira": 200}, {"jira": 5000.0})
    assert report.extrapolate(measured, 200, 200) is None
    assert report.perSession(measured, 40) == {"processes": 13.0, "pssMB": 250.0, "rssMB": 625.0}


def test_processes_are_counted_per_server_by_their_marker() -> None:
    markers = {"jira": "many_tools_server.py jira", "demo": "mcpgateway.demo"}
    commands = [
        "python many_tools_server.py jira",
        "bwrap --die-with-parent python many_tools_server.py jira",
        "python -m mcpgateway.demo",
        "python -m mcpgateway.ops.wardenrun",
    ]
    counts = report.byServer(commands, markers)
    assert counts == {"demo": 1, "jira": 2, "other": 1}
    assert report.serversStarted(counts, ["jira", "k8s", "demo"]) == ["jira", "demo"]
    measured = list(zip(commands, [1024, 2048, 512, 3072], strict=True))
    assert report.memoryByServer(measured, markers) == {"demo": 0.5, "jira": 3.0, "other": 3.0}


def test_a_tree_less_its_per_session_servers_keeps_the_shared_figures() -> None:
    tree = {
        "processes": 89,
        "pssMB": 1400.0,
        "perServer": {"jira": 3, "playwright": 75, "other": 2},
        "perServerPssMB": {"jira": 60.0, "playwright": 1200.5, "other": 100.0},
    }
    assert report.lessServers(tree, ["playwright"]) == {"processes": 14, "pssMB": 199.5}
    assert report.onlyServers(tree, ["playwright"]) == {"processes": 75, "pssMB": 1200.5}
    assert report.lessServers(tree, []) == {"processes": 89, "pssMB": 1400.0}
    assert report.onlyServers({"processes": 1, "pssMB": 1.0}, ["playwright"]) == {
        "processes": 0,
        "pssMB": 0.0,
    }


# -- the gateway's runs and the report ------------------------------------------------------

gateway = sys.modules["fanoutgateway"]


def test_the_eager_run_alone_asks_for_every_child_at_once(tmp_path: Path) -> None:
    lazy = gateway.gatewayArgs(tmp_path, 9100, "lazy", ["--sandbox", "off"])
    eager = gateway.gatewayArgs(tmp_path, 9100, "eager", [])
    assert lazy[:2] == ["--port", "tcp:9100:interface=127.0.0.1"]
    assert lazy[lazy.index("--clients") + 1] == "codex,cursor,vscode,copilot"
    assert lazy[lazy.index("--config") + 1] == str(tmp_path / ".claude.json")
    assert "--rewrite-config" in lazy and lazy[-2:] == ["--sandbox", "off"]
    assert "--no-lazy-start" not in lazy and "--no-lazy-start" in eager


def test_saved_catalogs_are_found_by_server(tmp_path: Path) -> None:
    folder = tmp_path / "catalogs"
    folder.mkdir()
    for name in ("jira.json", "demo@abc.json", "jira-old.txt", "kubernetes-x.json"):
        (folder / name).write_text("{}")
    assert gateway.catalogsSaved(tmp_path, ["jira", "demo", "kubernetes"]) == ["jira", "demo"]


def sideOf(processes: int, pssMB: float, started: list[str]) -> dict[str, Any]:
    stats = {"p50": 1.0, "p90": 2.0, "max": 3.0}
    return {
        "variant": "lazy",
        "what": "saved catalogs",
        "sessions": 10,
        "tree": {
            "processes": processes,
            "pssMB": pssMB,
            "rssMB": pssMB * 2,
            "idleCores": 0.01,
            "byName": {"node": processes},
        },
        "start": {"all": {"firstListMs": stats, "allListedMs": None}},
        "calls": {"perSecond": 5.0, "ok": 30, "wrong": 0, "failed": 0},
        "listsOk": 130,
        "listsWrong": 0,
        "serversStarted": started,
        "gatewayPssMB": 40.0,
        "gatewayRssMB": 50.0,
        "adopted": {"Cursor": 13},
        "restored": True,
    }


def test_the_report_puts_every_run_side_by_side_and_labels_the_extrapolation() -> None:
    without = sideOf(130, 2800.0, [])
    without["perSession"] = report.perSession(without["tree"], 10)
    without["extrapolated"] = report.extrapolate(without["tree"], 10, 40)
    without["stopped"] = "the ceiling"
    result = {
        "shape": {
            "kinds": ["Cursor"],
            "perKind": 2,
            "subagents": 4,
            "sessions": 40,
            "servers": [{"name": str(n)} for n in range(13)],
        },
        "gateway": sideOf(14, 130.0, ["jira", "demo"]),
        "gateway-eager": {**sideOf(41, 380.0, ["a"] * 13), "variant": "eager"},
        "without": without,
    }
    text = report.report(result)
    assert (
        "| | with the gateway (lazy) | with the gateway (eager) | without (measured)"
        " | without, extrapolated |" in text
    )
    for line in (
        "| processes | 14 | 41 | 130 | 520 |",
        "| PSS of the tree | 130 MB | 380 MB | 2.73 GB | 10.94 GB |",
        "| start to all listed, ms (p50 / p90 / max) | n/a | n/a | n/a |  |",
        "2 of 13 servers started (jira, demo)",
        "extrapolated linearly from 10 of 40 sessions measured: not measured",
    ):
        assert line in text, line
    top = report.headline(result)
    assert [g["processes"] for g in top["gateway"]] == [14, 41]
    assert (top["withoutProcesses"], top["withoutExtrapolated"]) == (520, True)


def withPlaywright(side: dict[str, Any], perServer: dict[str, int], pss: dict[str, float]) -> Any:
    """C{side} whose tree holds C{perServer} processes and C{pss} MB per server."""
    side["tree"].update({"perServer": perServer, "perServerPssMB": pss})
    return side


def playwrightResult(without: bool = True) -> dict[str, Any]:
    """A run of 10 sessions with jira, demo and a per-session playwright."""
    shape = {
        "kinds": ["Cursor"],
        "perKind": 2,
        "subagents": 4,
        "sessions": 10,
        "servers": [
            {"name": "jira"},
            {"name": "demo"},
            {"name": "playwright", "share": "session"},
        ],
    }
    lazy = withPlaywright(
        sideOf(44, 700.0, ["jira", "demo", "playwright"]),
        {"jira": 3, "demo": 3, "playwright": 30, "other": 8},
        {"jira": 40.0, "demo": 30.0, "playwright": 500.0, "other": 130.0},
    )
    result: dict[str, Any] = {"shape": shape, "gateway": lazy}
    if without:
        wo = withPlaywright(
            sideOf(25, 1250.0, []),
            {"jira": 5, "demo": 5, "playwright": 15},
            {"jira": 250.0, "demo": 200.0, "playwright": 800.0},
        )
        wo["sessions"] = 5
        wo["perSession"] = report.perSession(wo["tree"], 5)
        wo["extrapolated"] = report.extrapolate(wo["tree"], 5, 10)
        result["without"] = wo
    return result


def test_the_report_gives_the_shared_servers_apart_from_playwright() -> None:
    result = playwrightResult()
    text = report.report(result)
    for line in (
        "3 servers each (playwright: a child per session)",
        "| | with the gateway (lazy) | without (measured) | without, extrapolated |\n",
        "| 2 servers | 14 / 200 MB | 10 / 450 MB | 20 / 900 MB |",
        "| 2 + playwright | 44 / 700 MB | 25 / 1.22 GB | 50 / 2.44 GB |",
        "| playwright alone | 30 / 500 MB | 15 / 800 MB | 30 / 1.56 GB |",
        "| playwright | 30 / 500 MB | 15 / 800 MB | 30 / 1.56 GB |",
        "| other | 8 / 130 MB | 0 | 0 |",
    ):
        assert line in text, line
    top = report.headline(result)
    assert (top["servers"], top["sharedServers"], top["sessionServers"]) == (3, 2, ["playwright"])
    (lazy,) = top["gateway"]
    assert (lazy["processes"], lazy["pssMB"]) == (44, 700.0)
    assert lazy["shared"] == {"processes": 14, "pssMB": 200.0}
    assert lazy["sessionServers"] == {"processes": 30, "pssMB": 500.0}
    assert top["without"]["shared"] == {"processes": 20, "pssMB": 900.0}
    assert (top["withoutProcesses"], top["withoutPssMB"]) == (50, 2500.0)


def test_a_gateway_only_run_is_reported_without_the_other_side() -> None:
    result = playwrightResult(without=False)
    text = report.report(result)
    assert "| | with the gateway (lazy) |\n" in text
    assert "| 2 servers | 14 / 200 MB |" in text
    assert "without" not in text.lower()
    top = report.headline(result)
    assert top["gateway"][0]["shared"] == {"processes": 14, "pssMB": 200.0}
    assert "withoutProcesses" not in top


def test_a_run_without_playwright_has_no_split() -> None:
    result = playwrightResult()
    result["shape"]["servers"] = result["shape"]["servers"][:2]
    text = report.report(result)
    assert "apart from the per-session" not in text and "a child per session" not in text
    assert "| playwright |" not in text
    lazy = report.headline(result)["gateway"][0]
    assert lazy["shared"] == {"processes": 44, "pssMB": 700.0}
    assert lazy["sessionServers"] == {"processes": 0, "pssMB": 0.0}

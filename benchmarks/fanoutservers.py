# -*- test-case-name: tests.test_bench_fanout -*-
"""The fan-out replay's servers and its clients' files: the 13 shared stdio
servers and the per-session browser server every client kind has configured
(L{servers}), each client kind's config
file holding them as that client writes it (L{clientText}, L{writeClientFiles}),
the reader of each file as the gateway left it after adopting it
(L{adoptedUrls}, L{adoptionProblems}), and the calls the sessions make with
the one answer each must get (L{callOf}).

Thirteen are servers the gateway shares by default (none is on its list of
servers that get a child per session): ten real npm servers, started offline
from the npm prefixes of C{scripts/install-test-backends} (placeholder keys
where a server wants one to start; none is called), and three fixtures of
this checkout. The fourteenth, C{playwright} (@playwright/mcp, L{SESSION_SERVER}),
is the worst case for sharing: a browser server, one child per session
(C{"share": "session"} in the gateway's C{classification.json},
L{classificationText}: a client's file never gets the gateway's keys, and
the same server in five files must be the same entry to be adopted once;
the gateway's built-in list names it too), with the arguments a user
without Google Chrome gives it (headless,
an in-memory profile, Debian's Chromium); every session lists it, none calls
it, so its browser never starts. C{--no-playwright} leaves it out.

Each entry runs C{node <entry file>} (or Python) as a user with the package
installed has it, not C{npx -y}, whose wrapper processes would only add to
the side without the gateway (the gateway resolves an C{npx} entry to the
same C{node} command itself).
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("claude-code", "codex", "cursor", "vscode", "copilot")
"""The client kinds, by their C{--clients} id (Claude Code is always adopted)."""

TITLES = {
    "claude-code": "Claude Code",
    "codex": "Codex",
    "cursor": "Cursor",
    "vscode": "VS Code",
    "copilot": "Copilot CLI",
}

CLIENT_ENV = (
    "XDG_CONFIG_HOME",
    "CODEX_HOME",
    "COPILOT_HOME",
    "CLAUDE_CONFIG_DIR",
    "APPDATA",
    "GEMINI_CLI_HOME",
    "CLINE_DIR",
    "CONTINUE_GLOBAL_DIR",
    "OPENCODE_CONFIG",
)
"""Variables that move client files: the replay's HOME must not see the real ones."""

PLACEHOLDER = "fanout-placeholder"
"""The value of a key a server wants at start; no call ever uses it."""


@dataclass(frozen=True)
class Server:
    """One configured stdio server: its entry, and how its processes are told
    apart (C{marker}, a string of its command line that no other server's has)."""

    name: str
    command: str
    args: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    marker: str = ""
    origin: str = ""
    """The npm package (or the fixture) it runs."""
    share: str = ""
    """Its C{"share"} in the gateway's own file (C{""}: none, the gateway's default)."""

    def argv(self) -> list[str]:
        return [self.command, *self.args]


NPM_SERVERS: tuple[tuple[str, str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    # name, its paths.env key, the npm package, extra arguments, the keys it wants set
    ("memory", "SERVER_MEMORY_JS", "@modelcontextprotocol/server-memory", (),
     ("MEMORY_FILE_PATH",)),
    ("filesystem", "SERVER_FILESYSTEM_JS", "@modelcontextprotocol/server-filesystem",
     ("@ROOT",), ()),
    ("github", "SERVER_GITHUB_JS", "@modelcontextprotocol/server-github", (), ()),
    ("context7", "SERVER_CONTEXT7_JS", "@upstash/context7-mcp", (), ()),
    ("notion", "SERVER_NOTION_JS", "@notionhq/notion-mcp-server", (), ()),
    ("brave-search", "SERVER_BRAVE_SEARCH_JS", "@modelcontextprotocol/server-brave-search", (),
     ("BRAVE_API_KEY",)),
    ("google-maps", "SERVER_GOOGLE_MAPS_JS", "@modelcontextprotocol/server-google-maps", (),
     ("GOOGLE_MAPS_API_KEY",)),
    ("slack", "SERVER_SLACK_JS", "@modelcontextprotocol/server-slack", (),
     ("SLACK_BOT_TOKEN", "SLACK_TEAM_ID")),
    ("postgres", "SERVER_POSTGRES_JS", "@modelcontextprotocol/server-postgres",
     ("postgresql://127.0.0.1:1/fanout",), ()),
    ("chart", "SERVER_CHART_JS", "@antv/mcp-server-chart", (), ()),
)  # fmt: skip
"""The real npm servers: each lists its tools offline, without a credential."""

SESSION_SERVER = ("playwright", "FANOUT_PLAYWRIGHT_MCP_JS", "@playwright/mcp")
"""The per-session server: name, its paths.env key, the npm package."""

CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium, the browser a user without Google Chrome names (when
C{<cache>/paths.env} names no other)."""


def playwrightArgs(chromium: str) -> tuple[str, ...]:
    """@playwright/mcp's arguments as such a user writes them: headless, the
    profile in memory (sessions never share one), the browser by its path."""
    return ("--headless", "--isolated", "--executable-path", chromium)


CALLED = ("filesystem", "jira", "demo")
"""The servers each session calls (C{--call} changes them)."""

CALLABLE = ("filesystem", "jira", "kubernetes", "demo")
"""The servers whose one call answers offline, with a text known in advance."""


class MissingServers(Exception):
    """Entry files of C{scripts/install-test-backends --fanout} are missing."""


def servers(
    paths: Mapping[str, str], root: Path, repo: Path, python: str, perSession: bool = True
) -> list[Server]:
    """The 13 shared servers, then the per-session one unless C{perSession}
    is false: C{paths} are C{<cache>/paths.env}'s, C{root} the replay's
    scratch folder (the filesystem server's one directory, the memory
    server's file), C{repo} the checkout (its fixtures), C{python} the
    interpreter of the fixtures."""
    found: list[Server] = []
    missing: list[str] = []
    for name, key, package, extra, keys in NPM_SERVERS:
        js = paths.get(key, "")
        if not js or not Path(js).is_file():
            missing.append(f"{package} ({key})")
            continue
        args = tuple(str(root / "files") if a == "@ROOT" else a for a in extra)
        env = {k: PLACEHOLDER for k in keys}
        if "MEMORY_FILE_PATH" in env:
            env["MEMORY_FILE_PATH"] = str(root / "memory.jsonl")
        found.append(Server(name, "node", (js, *args), env, marker=js, origin=package))
    if perSession:
        name, key, package = SESSION_SERVER
        js = paths.get(key, "")
        if not js or not Path(js).is_file():
            missing.append(f"{package} ({key})")
        else:
            args = playwrightArgs(paths.get("CHROMIUM") or CHROMIUM)
            found.append(
                Server(name, "node", (js, *args), marker=js, origin=package, share="session")
            )
    if missing:
        raise MissingServers(
            "not installed: " + ", ".join(missing) + " (run scripts/install-test-backends --fanout)"
        )
    tools = repo / "tests" / "fixtures" / "many_tools_server.py"
    for name, domain in (("jira", "jira"), ("kubernetes", "k8s")):
        found.append(
            Server(
                name,
                python,
                (str(tools), domain),
                marker=f"many_tools_server.py {domain}",
                origin=f"tests/fixtures/many_tools_server.py {domain}",
            )
        )
    found.append(
        Server(
            "demo",
            python,
            ("-m", "mcpgateway.demo"),
            {"PYTHONPATH": str(repo)},
            marker="mcpgateway.demo",
            origin="python -m mcpgateway.demo (the bundled demo)",
        )
    )
    return [*(s for s in found if not s.share), *(s for s in found if s.share)]


def sessionServers(found: Sequence[Server]) -> list[str]:
    """The servers that get a child per session, by name."""
    return [s.name for s in found if s.share == "session"]


def readPaths(text: str) -> dict[str, str]:
    """C{KEY=path} lines (C{<cache>/paths.env}) as a mapping."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            out[key] = value
    return out


# -- the clients' files --------------------------------------------------------------


def clientPath(kind: str, home: Path) -> Path:
    """Where client C{kind} keeps its user-scope servers under C{home} (Linux)."""
    return {
        "claude-code": home / ".claude.json",
        "codex": home / ".codex" / "config.toml",
        "cursor": home / ".cursor" / "mcp.json",
        "vscode": home / ".config" / "Code" / "User" / "mcp.json",
        "copilot": home / ".copilot" / "mcp-config.json",
    }[kind]


def stdioEntry(server: Server) -> dict[str, Any]:
    entry: dict[str, Any] = {"command": server.command, "args": list(server.args)}
    if server.env:
        entry["env"] = dict(server.env)
    return entry


def tomlString(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's, C{\\uXXXX} included)."""
    return json.dumps(value)


def codexText(servers: Sequence[Server]) -> str:
    """Codex's C{config.toml}: a C{[mcp_servers.NAME]} table per server."""
    lines = ['model = "gpt-5-codex"', ""]
    for s in servers:
        lines.append(f"[mcp_servers.{s.name}]")
        lines.append(f"command = {tomlString(s.command)}")
        lines.append("args = [" + ", ".join(tomlString(a) for a in s.args) + "]")
        if s.env:
            lines.append("")
            lines.append(f"[mcp_servers.{s.name}.env]")
            lines.extend(f"{k} = {tomlString(v)}" for k, v in s.env.items())
        lines.append("")
    return "\n".join(lines)


def clientText(kind: str, servers: Sequence[Server]) -> str:
    """Client C{kind}'s file with C{servers} as stdio entries, as that client writes them."""
    if kind == "codex":
        return codexText(servers)
    entries: dict[str, Any]
    if kind == "claude-code":
        entries = {s.name: {"type": "stdio", **stdioEntry(s)} for s in servers}
        data: dict[str, Any] = {"numStartups": 1, "mcpServers": entries}
    elif kind == "cursor":
        data = {"mcpServers": {s.name: stdioEntry(s) for s in servers}}
    elif kind == "vscode":
        data = {"servers": {s.name: {"type": "stdio", **stdioEntry(s)} for s in servers}}
    elif kind == "copilot":
        entries = {s.name: {"type": "local", **stdioEntry(s), "tools": ["*"]} for s in servers}
        data = {"mcpServers": entries}
    else:
        raise ValueError(f"unknown client kind {kind!r}")
    return json.dumps(data, indent=2) + "\n"


def classificationText(servers: Sequence[Server]) -> str:
    """The gateway's C{<state-dir>/classification.json}: each server's
    C{"share"}, where the server has one."""
    shares = {s.name: {"share": s.share} for s in servers if s.share}
    return json.dumps(shares, indent=2) + "\n"


def writeClientFiles(home: Path, servers: Sequence[Server]) -> dict[Path, bytes]:
    """Every client kind's file under C{home}; what each holds, by path."""
    written: dict[Path, bytes] = {}
    for kind in KINDS:
        path = clientPath(kind, home)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = clientText(kind, servers).encode()
        path.write_bytes(data)
        written[path] = data
    return written


def adoptedUrls(kind: str, text: str) -> dict[str, str]:
    """The servers client C{kind}'s file C{text} reaches over HTTP, by name:
    the URL each entry the gateway wrote says (a stdio entry is not there)."""
    if kind == "codex":
        table = tomllib.loads(text).get("mcp_servers", {})
    else:
        data = json.loads(text)
        table = data.get("servers" if kind == "vscode" else "mcpServers", {})
    out: dict[str, str] = {}
    for name, entry in table.items():
        if not isinstance(entry, dict) or "command" in entry:
            continue
        url = entry.get("url")
        if isinstance(url, str) and entry.get("type", "http") in ("http", "streamable-http"):
            out[name] = url
    return out


def adoptionProblems(
    kind: str, urls: Mapping[str, str], names: Sequence[str], port: int
) -> list[str]:
    """What is wrong with client C{kind}'s adopted entries C{urls}: each of
    C{names} must be an HTTP entry to C{/<name>/mcp} on the gateway's C{port}."""
    problems = []
    for name in names:
        want = f"http://127.0.0.1:{port}/{name}/mcp"
        got = urls.get(name)
        if got is None:
            problems.append(f"{TITLES[kind]}: {name} not adopted (still a stdio entry)")
        elif got != want:
            problems.append(f"{TITLES[kind]}: {name} points at {got}, not {want}")
    return problems


# -- the calls -------------------------------------------------------------------------


def callOf(server: str, tag: str, root: Path) -> tuple[str, dict[str, Any], str]:
    """The call a session makes to C{server} (C{tag}: unique to the call):
    the tool, its arguments and the one text its answer must be."""
    if server == "filesystem":
        return "list_allowed_directories", {}, f"Allowed directories:\n{(root / 'files').resolve()}"
    if server in ("jira", "kubernetes"):
        tool, args = (
            ("jira_search", {"jql": f"key = {tag}"})
            if server == "jira"
            else ("kubectl_logs", {"name": tag})
        )
        return tool, args, f"called {tool} with {json.dumps(args, sort_keys=True)}"
    if server == "demo":
        return "echo", {"message": tag}, tag
    raise ValueError(f"{server} has no call with a known answer (one of {', '.join(CALLABLE)})")


def answerText(result: Mapping[str, Any]) -> str | None:
    """The text of a C{tools/call} result's first content item (C{None}: none,
    or an error result)."""
    if result.get("isError"):
        return None
    content = result.get("content")
    if not isinstance(content, list) or not content or not isinstance(content[0], dict):
        return None
    text = content[0].get("text")
    return text if isinstance(text, str) else None


def fixturePython() -> str:
    """The interpreter the fixtures run on: this one."""
    return sys.executable

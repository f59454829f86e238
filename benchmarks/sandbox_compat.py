#!/usr/bin/env python3
"""Which of the most-installed stdio MCP servers run unchanged in the gateway's sandbox.

The 25 servers of L{SERVERS} (15 from npm, 10 from PyPI: among the most installed, those
that install and start where only the npm registry and PyPI are reachable; API keys get
dummy values) are served by a real gateway of the tree under test (C{--tree}, run as
C{python -P -OO -m mcpgateway.launch -n ... mcpgateway}) in each launch style a user writes:

 - C{npx}: C{npx -y PKG@VERSION} or C{uvx PKG@VERSION}, which the gateway resolves itself
   (it installs the package into its state directory, confined, and runs its program);
   the gateway's home has warm caches (C{~/.npm}, C{~/.cache/uv}), as a user's has (a
   confined install keeps caches of its own, in the state directory: it downloads anew);
 - C{direct}: C{node PREFIX/node_modules/PKG/BIN} after C{npm install --prefix PREFIX}, or
   a venv's C{bin/SCRIPT} after C{python -m venv} and C{pip install};
 - C{shim}: C{python3 -m MODULE}, C{python3} being pyenv's shim, the package installed with
   C{python3 -m pip install --user} (as root: the account cannot enter C{/root/.pyenv}; no
   Node.js version manager is installed here, so npm servers have no shim style);

under each mechanism (C{--sandbox bubblewrap}, C{--sandbox landlock}; a tree without those
words runs bubblewrap as C{auto}, checked in its log, and cannot be made to use Landlock:
C{node} is in C{/usr/bin} beside C{bwrap}; C{off} is the control), as root and as a throwaway
account (C{useradd}; its gateway runs on C{/usr/bin/python3.X} with this venv's packages).
One gateway per mechanism and user: the direct and shim entries are in its config from the
start, the npx/uvx entries and the retries are added C{--jobs} at a time. Packages are
installed once, into C{$MCPGATEWAY_TEST_CACHE/sandbox-compat} (C{.cache/test-backends}).

Each entry is probed with the MCP Python SDK: a harmless call that does real work where the
server has one (filesystem writes a file into its folder, memory creates an entity, sqlite
a table, git reads a repository's status, time gets the time, fetch reads a loopback page
standing in for the internet), else its tools are listed; a write is checked on disk. An
entry that fails is retried with the one change its row names: "needs <line>". Otherwise
its cell holds the error: the gateway's sandbox line, the tool's error or the child's
stderr. Writes C{--out} (JSON) and a markdown report beside it, and prints the report, with
"N of 25 unchanged" per mechanism and user (as root: the account needs C{useradd})::

    .venv/bin/python benchmarks/sandbox_compat.py                   # 8 to 10 minutes
    .venv/bin/python benchmarks/sandbox_compat.py --tree ../other   # another checkout
    .venv/bin/python benchmarks/sandbox_compat.py --servers git,time --users root
    .venv/bin/python benchmarks/sandbox_compat.py --prepare-only    # the installs only
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from sandboxcompatgateway import USER_PYTHON, Gateway, errorText, explain, loopbackPage  # noqa: E402

STYLES = ("npx", "direct", "shim")
STYLE_TITLES = {"npx": "npx/uvx", "direct": "direct", "shim": "shim"}
MECHANISMS = ("bubblewrap", "landlock", "off")
USERS = ("root", "user")
DUMMY = "compat-dummy-key-0000"
PAGE = b"<html><head><title>compat page</title></head><body><h1>compat page</h1></body></html>"
NO_NODE_SHIM = "n/a: no Node.js version manager (nvm, fnm, volta, asdf) is installed here"
NO_USER_SHIM = "n/a: pyenv is root's (/root is 0700): the account has no shim"
NO_MODULE = "n/a: no `python -m` entry point"
CONFLICT = "n/a: its pin mcp<2 conflicts with the others' mcp>=2.3 in one ~/.local (pip --user)"


@dataclass(frozen=True)
class Server:
    """One row of the table: how a user installs, configures and probes a server."""

    name: str
    ecosystem: str  # "npm" or "pypi"
    package: str
    version: str
    bin: str  # npm: the program's path in its package; PyPI: the console script
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    tool: str = ""  # the probe's tool; "" lists the tools
    arguments: Mapping[str, Any] = field(default_factory=dict)
    expect: str = ""  # text the tool's answer must hold
    effect: tuple[str, str] | None = None  # (file in its folder, text it must hold)
    fix: Mapping[str, Any] | None = None  # merged into its entry when unchanged fails
    module: str = ""  # python -m MODULE (the shim style)
    repo: bool = False  # its folder is a git repository
    extra: tuple[str, ...] = ()  # requirements installed with it (uvx --with)


def npm(name: str, package: str, version: str, bin: str, **rest: Any) -> Server:
    return Server(name, "npm", package, version, bin, **rest)


def pypi(name: str, package: str, version: str, **rest: Any) -> Server:
    return Server(name, "pypi", package, version, rest.pop("bin", package), **rest)


MCP = "@modelcontextprotocol/"
HTML = "data:text/html;base64," + base64.b64encode(PAGE).decode()
THOUGHT = {"thought": "one step", "thoughtNumber": 1, "totalThoughts": 2, "nextThoughtNeeded": True}
ENTITY = {"name": "compat-entity-{token}", "entityType": "probe", "observations": ["a probe"]}
WRITABLE = {"sandbox": {"filesystem": {"allowWrite": ["{work}"]}}}
# The entries are their READMEs', but: keys are dummies; fetch gets --allow-private-ips
# (its probe's page is on loopback) and reads it raw; mcp-server-sqlite (archived) crashes
# with today's mcp 2.x, so it is installed with mcp<2 (uvx --with "mcp<2": an entry the
# gateway does not resolve, so its uvx runs as configured, confined); arxiv is given the
# storage folder its README shows; motherduck's in-memory database needs --read-write.
SERVERS: tuple[Server, ...] = (
    npm("filesystem", MCP + "server-filesystem", "2026.8.31", "dist/index.js", args=("{work}",),
        tool="write_file", arguments={"path": "{work}/compat.txt", "content": "written"},
        effect=("compat.txt", "written"), fix=WRITABLE),
    npm("memory", MCP + "server-memory", "2026.8.31", "dist/index.js", tool="create_entities",
        arguments={"entities": [ENTITY]}, expect="compat-entity",
        effect=("memory.jsonl", "compat-entity"),
        fix={"env": {"MEMORY_FILE_PATH": "{work}/memory.jsonl"}}),
    npm("everything", MCP + "server-everything", "2026.8.31", "dist/index.js", args=("stdio",),
        tool="echo", arguments={"message": "compat"}, expect="compat"),
    npm("sequential-thinking", MCP + "server-sequential-thinking", "2026.8.31", "dist/index.js",
        tool="sequentialthinking", arguments=THOUGHT, expect="thoughtNumber"),
    npm("playwright", "@playwright/mcp", "0.0.83", "cli.js"),
    npm("context7", "@upstash/context7-mcp", "4.1.1", "dist/index.js"),
    npm("chrome-devtools", "chrome-devtools-mcp", "1.11.0", "build/src/bin/chrome-devtools-mcp.js"),
    npm("github", MCP + "server-github", "2025.4.8", "dist/index.js",
        env={"GITHUB_PERSONAL_ACCESS_TOKEN": DUMMY}),
    npm("firecrawl", "firecrawl-mcp", "3.22.2", "dist/index.js", env={"FIRECRAWL_API_KEY": DUMMY}),
    npm("notion", "@notionhq/notion-mcp-server", "2.5.2", "bin/cli.mjs",
        env={"NOTION_TOKEN": DUMMY}),
    npm("figma", "figma-developer-mcp", "0.13.2", "dist/bin.js", args=("--stdio",),
        env={"FIGMA_API_KEY": DUMMY}),
    npm("tavily", "tavily-mcp", "0.2.22", "build/index.js", env={"TAVILY_API_KEY": DUMMY}),
    npm("brave-search", MCP + "server-brave-search", "0.6.2", "dist/index.js",
        env={"BRAVE_API_KEY": DUMMY}),
    npm("exa", "exa-mcp-server", "3.4.1", "dist/stdio.cjs", env={"EXA_API_KEY": DUMMY}),
    npm("kubernetes", "mcp-server-kubernetes", "4.1.7", "dist/index.js"),
    pypi("git", "mcp-server-git", "2026.10.19", args=("--repository", "{work}"), tool="git_status",
         arguments={"repo_path": "{work}"}, expect="branch", module="mcp_server_git", repo=True),
    pypi("time", "mcp-server-time", "2026.10.19", args=("--local-timezone", "UTC"),
         tool="get_current_time", arguments={"timezone": "UTC"}, expect="UTC",
         module="mcp_server_time"),
    pypi("fetch", "mcp-server-fetch", "2026.10.24", args=("--allow-private-ips",),
         tool="fetch", arguments={"url": "{url}", "raw": True},
         expect="compat page", module="mcp_server_fetch",
         fix={"sandbox": {"network": {"allowedDomains": ["127.0.0.1:{port}"]}}}),
    pypi("sqlite", "mcp-server-sqlite", "2025.4.25", args=("--db-path", "{work}/compat.db"),
         tool="create_table", arguments={"query": "CREATE TABLE compat_probe (id INTEGER)"},
         effect=("compat.db", "compat_probe"), fix=WRITABLE, extra=("mcp<2",)),
    pypi("markitdown", "markitdown-mcp", "0.0.1a8", tool="convert_to_markdown",
         arguments={"uri": HTML}, expect="compat page", module="markitdown_mcp"),
    pypi("duckduckgo", "duckduckgo-mcp-server", "0.7.0"),
    pypi("motherduck", "mcp-server-motherduck", "1.1.0",
         args=("--db-path", ":memory:", "--read-write"), tool="execute_query",
         arguments={"sql": "SELECT 6 * 7 AS answer"}, expect="42"),
    pypi("aws-documentation", "awslabs.aws-documentation-mcp-server", "1.2.3",
         env={"FASTMCP_LOG_LEVEL": "ERROR", "AWS_DOCUMENTATION_PARTITION": "aws"}),
    pypi("arxiv", "arxiv-mcp-server", "0.8.2", args=("--storage-path", "{work}"),
         tool="list_papers", module=CONFLICT),
    pypi("clickhouse", "mcp-clickhouse", "0.7.0",
         env={"CLICKHOUSE_HOST": "localhost", "CLICKHOUSE_USER": "compat",
              "CLICKHOUSE_PASSWORD": DUMMY}),
)  # fmt: skip
"""The table: 15 npm servers, then 10 PyPI ones (C{{work}}: the entry's own folder,
C{{url}}/C{{port}}: the loopback page that stands in for the internet, C{{token}}: a
random word per entry)."""


def fill(value: Any, places: Mapping[str, str]) -> Any:
    """C{value} (a string, or lists and objects of them) with its placeholders filled."""
    if isinstance(value, str):
        for key, text in places.items():
            value = value.replace("{" + key + "}", text)
        return value
    if isinstance(value, Mapping):
        return {key: fill(item, places) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [fill(item, places) for item in value]
    return value


def merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """C{base} with C{extra} merged in, objects key by key."""
    out = dict(base)
    for key, value in extra.items():
        both = isinstance(out.get(key), Mapping) and isinstance(value, Mapping)
        out[key] = merged(out[key], value) if both else value
    return out


def fixLine(server: Server) -> str:
    """The one change C{server}'s entry needs, as it is written in the entry."""
    return json.dumps(server.fix)[1:-1] if server.fix else ""


def chunks(names: Sequence[str], size: int) -> list[Sequence[str]]:
    return [names[i : i + size] for i in range(0, len(names), size)]


@dataclass
class Cache:
    """Where the packages are installed, once: C{root}/npm/NAME (npm prefixes),
    C{root}/venv-WHO/NAME, C{root}/home/WHO (the gateways' homes), C{root}/bin
    (C{uv}, C{uvx}); C{prefixes}: npm prefixes installed elsewhere, by server."""

    root: Path
    prefixes: dict[str, Path] = field(default_factory=dict)

    def npm(self, server: Server) -> Path:
        return self.prefixes.get(server.name) or self.root / "npm" / server.name

    def venv(self, who: str, server: Server) -> Path:
        return self.root / f"venv-{who}" / server.name

    def home(self, who: str) -> Path:
        return self.root / "home" / who

    @property
    def bin(self) -> Path:
        return self.root / "bin"


def run(argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
    """Run C{argv}; raise with its last lines when it fails."""
    done = subprocess.run(list(argv), env=env, capture_output=True, text=True, cwd="/")
    if done.returncode:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"{' '.join(argv[:6])}: exit {done.returncode}: {' | '.join(tail)}")


def linkUv(cache: Cache) -> None:
    """C{uv} and C{uvx} (this venv's: the test extra's) in C{cache.bin}, the
    last folder of the gateways' C{PATH}."""
    cache.bin.mkdir(parents=True, exist_ok=True)
    for tool in ("uv", "uvx"):
        found = shutil.which(tool) or str(Path(sys.executable).parent / tool)
        link = cache.bin / tool
        if not link.is_symlink() or os.readlink(link) != found:
            link.unlink(missing_ok=True)
            link.symlink_to(found)


def prepare(cache: Cache, servers: Sequence[Server], who: Sequence[str], say: Any) -> None:
    """Install every package once (a stamp per part and version): the npm
    prefixes, the venvs of root (its C{python3}, pyenv's) and of the account
    (C{/usr/bin/python3.X}), root's C{pip install --user} (the shim style), the
    caches of root's home (C{~/.npm}, C{~/.cache/uv}), copied to the account's."""
    stampFile = cache.root / "prepared.json"
    stamps: dict[str, str] = json.loads(stampFile.read_text()) if stampFile.exists() else {}
    home, env = cache.home("root"), dict(os.environ)
    env |= {"HOME": str(home), "npm_config_cache": str(home / ".npm")}
    env |= {"PIP_CACHE_DIR": str(cache.root / "pip-cache"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pythons = {"root": shutil.which("python3") or sys.executable, "user": USER_PYTHON}
    linkUv(cache)
    for server in servers:
        pin = " ".join([f"{server.package}=={server.version}", *server.extra])
        parts = {f"venv-{w}:{server.name}": pin for w in who} | {f"uv:{server.name}": pin}
        if server.module.isidentifier() and "root" in who:
            parts[f"user-site:{server.name}"] = pin
        if server.ecosystem == "npm":
            spec = f"{server.package}@{server.version}"
            parts = {} if server.name in cache.prefixes else {f"npm:{server.name}": spec}
        for part, pin in parts.items():
            if stamps.get(part) == pin:
                continue
            say(f"installing {pin} ({part})")
            kind, withs = part.split(":")[0], [w for x in server.extra for w in ("--with", x)]
            if kind == "npm":
                shutil.rmtree(cache.npm(server), ignore_errors=True)
                cache.npm(server).mkdir(parents=True)
                run(["npm", "install", "--prefix", str(cache.npm(server)), "--no-audit", pin], env)
            elif kind.startswith("venv-"):
                venv = cache.venv(kind[5:], server)
                shutil.rmtree(venv, ignore_errors=True)
                run([pythons[kind[5:]], "-m", "venv", str(venv)], env)
                run([str(venv / "bin" / "pip"), "install", "-q", *pin.split()], env)
            elif kind == "uv":
                tools = cache.root / "uv-warm"
                warm = {"UV_TOOL_DIR": str(tools), "UV_TOOL_BIN_DIR": str(tools / "bin")}
                uv = str(cache.bin / "uv")
                run([uv, "tool", "install", "-q", *withs, pin.split()[0]], env | warm)
                shutil.rmtree(tools, ignore_errors=True)
            else:
                run([pythons["root"], "-m", "pip", "install", "-q", "--user", *pin.split()], env)
            stamps[part] = pin
            stampFile.write_text(json.dumps(stamps, indent=1, sort_keys=True))
    wanted = json.dumps(sorted((k, v) for k, v in stamps.items() if k[:3] in ("npm", "uv:")))
    if "user" in who and stamps.get("user-home") != wanted:
        say("copying the warmed npm and uv caches into the account's home")
        shutil.rmtree(cache.home("user"), ignore_errors=True)
        (cache.home("user") / ".cache").mkdir(parents=True)
        for part in (".npm", ".cache/uv"):
            if (home / part).exists():
                run(["cp", "-a", str(home / part), str(cache.home("user") / part)])
        stamps["user-home"] = wanted
        stampFile.write_text(json.dumps(stamps, indent=1, sort_keys=True))


def entryFor(server: Server, style: str, who: str, cache: Cache, places: Mapping[str, str]) -> Any:
    """The config entry a user writes for C{server} in C{style}, or why the
    style does not apply (a string)."""
    args = list(fill(server.args, places))
    if style == "npx" and server.ecosystem == "npm":
        command, argv = "npx", ["-y", f"{server.package}@{server.version}", *args]
    elif style == "npx":
        withs = [w for extra in server.extra for w in ("--with", extra)]
        command, argv = "uvx", [*withs, f"{server.package}@{server.version}", *args]
        if server.bin != server.package:
            argv = [*withs, "--from", argv[len(withs)], server.bin, *args]
    elif style == "direct" and server.ecosystem == "npm":
        program = cache.npm(server) / "node_modules" / server.package / server.bin
        command, argv = "node", [str(program), *args]
    elif style == "direct":
        command, argv = str(cache.venv(who, server) / "bin" / server.bin), args
    elif server.ecosystem == "npm":
        return NO_NODE_SHIM
    elif who != "root":
        return NO_USER_SHIM
    elif not server.module.isidentifier():
        return server.module or NO_MODULE
    else:
        command, argv = "python3", ["-m", server.module, *args]
    entry: dict[str, Any] = {"command": command, "args": argv}
    if server.env:
        entry["env"] = fill(server.env, places)
    return entry


@dataclass
class Result:
    """What one entry did: C{outcome} is works, needs, fails, n/a or not measured;
    C{line}, the change it needs or why it failed (or does not apply)."""

    server: str
    style: str
    mechanism: str
    user: str
    outcome: str
    line: str = ""
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)

    def where(self) -> str:
        return f"{self.server}, {STYLE_TITLES[self.style]}, {self.mechanism}, {self.user}"

    def cell(self) -> str:
        if self.outcome == "needs":
            return f"needs `{self.line}`"
        if self.outcome in ("works", "n/a", "not measured"):
            return self.outcome
        return "**fails**: " + shorten(self.line, 110).replace("|", "\\|")


def shorten(text: str, most: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= most else text[: most - 1] + "…"


@dataclass
class Entry:
    """One entry of a gateway's config: a server in a style (C{fix}: retried with its line)."""

    server: Server
    style: str
    config: dict[str, Any]
    places: dict[str, str]
    fix: bool = False


async def probeOne(url: str, entry: Entry, timeout: float) -> str:
    """One SDK session: C{""} when the probe worked, else what went wrong."""
    import anyio
    from mcp import Client

    server = entry.server
    with anyio.fail_after(timeout):
        async with Client(url, mode="legacy") as client:
            tools = (await client.list_tools()).tools
            if not server.tool:
                return "" if tools else "it lists no tools"
            answer = await client.call_tool(server.tool, fill(server.arguments, entry.places))
    text = " ".join(getattr(part, "text", "") for part in answer.content)
    if answer.is_error:
        return text or "the tool answered an error without text"
    if server.expect not in text:
        return f"unexpected answer: {shorten(text, 200)}"
    name, wanted = server.effect or ("", "")
    written = Path(entry.places["work"]) / name
    named = json.dumps([entry.config, fill(server.arguments, entry.places)])
    holds = written.is_file() and wanted.encode() in written.read_bytes()
    if name and str(written) in named and not holds:
        return f"it answered {shorten(text, 150)!r}, but {written} does not hold what it wrote"
    return ""


def entriesOf(
    plan: Sequence[tuple[Server, str]], who: str, cache: Cache, folder: Path, port: int
) -> tuple[dict[str, Entry], dict[tuple[str, str], str]]:
    """The entries of C{plan} by name (their folders made), and why the other
    styles do not apply."""
    entries: dict[str, Entry] = {}
    unapplied: dict[tuple[str, str], str] = {}
    for server, style in plan:
        name, token = f"{server.name}-{style}", secrets.token_hex(4)
        work = folder / "work" / name
        places = {"work": str(work), "url": f"http://127.0.0.1:{port}/compat", "port": str(port)}
        config = entryFor(server, style, who, cache, places | {"token": token})
        if isinstance(config, str):
            unapplied[(server.name, style)] = config
            continue
        work.mkdir(parents=True)
        if server.repo:
            (work / "README.md").write_text("compat\n")
            git = f"git -C {work} -c user.name=compat -c user.email=c@example.invalid".split()
            for step in ("init -q -b main", "add README.md", "commit -qm compat"):
                run([*git, *step.split()])
        entries[name] = Entry(server, style, config, places | {"token": token})
    return entries, unapplied


def measure(
    tree: Path, mechanism: str, who: str, plan: Sequence[tuple[Server, str]], cache: Cache,
    *, jobs: int = 2, timeout: float = 90.0, say: Any = print,
) -> list[Result]:  # fmt: skip
    """Every entry of C{plan} (a server and a style) through one gateway of
    C{tree}, confined by C{mechanism}, run by C{who}: one result each. The
    direct and shim entries are served from the start, the npx/uvx ones and
    the retries (the failures whose row names a fix) C{jobs} at a time."""
    folder = cache.home(who) / f"compat-run-{mechanism}"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "work").mkdir(parents=True)
    started = time.monotonic()
    with loopbackPage(PAGE) as port:
        entries, unapplied = entriesOf(plan, who, cache, folder, port)
        results = [Result(n, s, mechanism, who, "n/a", why) for (n, s), why in unapplied.items()]
        gateway = Gateway(tree, mechanism, who, folder, cache.home(who), cache.bin)
        try:
            first = [name for name, e in entries.items() if e.style != "npx"]
            gateway.write({name: entries[name].config for name in first})
            option, why = gateway.confined()
            say(f"{mechanism}, {who}: --sandbox {option}: {why or gateway.sandbox or 'none'}")
            if why:
                gone = "not measured"
                return results + [Result(e.server.name, e.style, mechanism, who, gone, why)
                                  for e in entries.values()]  # fmt: skip
            wrapped = [name for name, e in entries.items() if e.style == "npx"]
            failed = probeRounds(gateway, [first, *chunks(wrapped, jobs)], entries, results, jobs,
                                 timeout, say)  # fmt: skip
            retries = [n for n in failed if entries[n].server.fix and mechanism != "off"]
            for name in retries:
                e = entries[name]
                config = merged(e.config, fill(e.server.fix or {}, e.places))
                entries[name + "-fix"] = Entry(e.server, e.style, config, e.places, fix=True)
            retries = [name + "-fix" for name in retries]
            probeRounds(gateway, chunks(retries, jobs), entries, results, jobs, timeout, say)
        finally:
            gateway.stop()
            shutil.rmtree(folder / "state", ignore_errors=True)  # its installs; the log stays
    say(f"{mechanism}, {who}: {len(plan)} entries in {time.monotonic() - started:.0f} s")
    return settle(results)


def probeRounds(
    gateway: Gateway, rounds: Sequence[Sequence[str]], entries: Mapping[str, Entry],
    results: list[Result], jobs: int, timeout: float, say: Any,
) -> list[str]:  # fmt: skip
    """Probe each round's entries (served first: the config rewritten), C{jobs}
    at a time; the names of those that failed."""
    import anyio

    failed: list[str] = []

    async def one(name: str, limiter: anyio.CapacityLimiter) -> None:
        e = entries[name]
        async with limiter:
            began = time.monotonic()
            try:
                why = await probeOne(f"http://127.0.0.1:{gateway.port}/{name}/mcp", e, timeout)
            except Exception as error:  # the SDK's errors, time-outs, groups of them
                why = errorText(error)
        result = Result(e.server.name, e.style, gateway.mechanism, gateway.who, "fails")
        result.seconds = time.monotonic() - began
        if why:
            failed.append(name)
            result.line, result.detail = explain(name, gateway.text(), gateway.health(name), why)
        else:
            result.outcome, result.line = ("needs", fixLine(e.server)) if e.fix else ("works", "")
        result.detail |= {"entry": e.config, "retry": e.fix}
        results.append(result)
        say(f"  {name}: {result.cell()} ({result.seconds:.1f} s)")

    async def round_(names: Sequence[str]) -> None:
        limiter = anyio.CapacityLimiter(jobs)
        async with anyio.create_task_group() as group:
            for name in names:
                group.start_soon(one, name, limiter)

    for names in rounds:
        if names:
            gateway.write({name: entries[name].config for name in names})
            gateway.serving(names, 360)
            anyio.run(round_, names)
    return failed


def settle(results: list[Result]) -> list[Result]:
    """One result per server and style: a retry that worked (C{needs}) stands
    for the failure it retried, which goes into its detail; a failed retry goes
    into the failure's."""
    out: dict[tuple[str, str], Result] = {}
    for result in results:
        first = out.setdefault((result.server, result.style), result)
        if first is result:
            continue
        if result.outcome == "needs":
            result.detail["unchanged"] = {"line": first.line, **first.detail}
            out[(result.server, result.style)] = result
        else:
            first.detail["retried"] = {"line": result.line, **result.detail}
    return list(out.values())


def summary(results: Sequence[Result], mechanism: str, who: str, total: int) -> str:
    """C{N of 25 unchanged}: servers that work unchanged in every style that applies."""
    mine = [r for r in results if (r.mechanism, r.user) == (mechanism, who) and r.outcome != "n/a"]
    unmeasured = [r.line for r in mine if r.outcome == "not measured"]
    if len(unmeasured) == len(mine):
        return f"{mechanism}, {who}: not measured ({unmeasured[0] if mine else 'not run'})"
    unchanged = len({r.server for r in mine} - {r.server for r in mine if r.outcome != "works"})
    styles = []
    for style in STYLES:
        applied = [r for r in mine if r.style == style]
        if applied:
            works = sum(r.outcome == "works" for r in applied)
            styles.append(f"{STYLE_TITLES[style]} {works} of {len(applied)}")
    return f"{mechanism}, {who}: {unchanged} of {total} unchanged ({', '.join(styles)})"


def report(results: Sequence[Result], servers: Sequence[Server], heading: str) -> str:
    """The markdown report: a table per mechanism measured, the summaries,
    every failure, what each entry that needed its line did unchanged."""
    lines = [f"# {heading}", ""]
    cells = {(r.server, r.style, r.mechanism, r.user): r for r in results}
    users = [u for u in USERS if any(r.user == u for r in results)]
    columns = [(s, u) for u in users for s in STYLES if any(r.style == s for r in results)]
    mechanisms = [m for m in MECHANISMS if any(r.mechanism == m for r in results)]
    sums = [summary(results, m, u, len(servers)) for m in mechanisms for u in users]
    for mechanism in mechanisms:
        if all(r.outcome in ("n/a", "not measured") for r in results if r.mechanism == mechanism):
            continue
        heads = [f"{STYLE_TITLES[s]}, {u}" for s, u in columns]
        lines += [f"## {mechanism}", "", "| " + " | ".join(["server", *heads]) + " |"]
        lines.append("|" + " --- |" * (len(columns) + 1))
        for server in servers:
            row = [cells.get((server.name, s, mechanism, u)) for s, u in columns]
            lines.append("| " + " | ".join([server.name, *(r.cell() if r else "" for r in row)]))
        lines.append("")
    lines += ["## Summary", "", *(f"- {text}" for text in sums), "", "## Failures", ""]
    lines += [f"- {r.where()}: {r.line}" for r in results if r.outcome == "fails"]
    lines += ["", "## Unchanged, before the line they need", ""]
    lines += [
        f"- {r.where()}: {r.detail['unchanged']['line']}" for r in results if r.outcome == "needs"
    ]
    unapplied = sorted({r.line for r in results if r.outcome == "n/a"})
    lines += ["", "## Not applicable", "", *(f"- {line[5:]}" for line in unapplied), ""]
    return "\n".join(lines)


def treeCommit(tree: Path) -> str:
    """C{git describe --dirty} of C{tree}, with a hash of its uncommitted changes."""
    git = ["git", "-C", str(tree)]
    named = subprocess.run([*git, "describe", "--always", "--dirty"], capture_output=True).stdout
    diff = subprocess.run([*git, "diff", "HEAD"], capture_output=True).stdout
    return named.decode().strip() + (
        f" (diff {hashlib.sha256(diff).hexdigest()[:12]})" * bool(diff)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = Path(os.environ.get("MCPGATEWAY_TEST_CACHE") or REPO / ".cache/test-backends")
    parser.add_argument("--tree", type=Path, default=REPO, help="the checkout whose gateway runs")
    parser.add_argument("--cache", type=Path, default=where / "sandbox-compat")
    parser.add_argument("--mechanisms", default="bubblewrap,landlock", help="also: off")
    parser.add_argument("--users", default="root,user")
    parser.add_argument("--styles", default=",".join(STYLES))
    parser.add_argument("--servers", default="", help="names (default: all 25)")
    parser.add_argument("--jobs", type=int, default=2, help="entries probed (or installed) at once")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds per probe")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/sandbox-compat.json")
    parser.add_argument("--prepare-only", action="store_true")
    parser.add_argument("--report", type=Path, help="only print the report of this JSON file")
    options = parser.parse_args(argv)
    if options.report:
        done = json.loads(options.report.read_text())
        heading = f"Sandbox compatibility: {done['tree']} at {done['commit']}"
        print(report([Result(**r) for r in done["results"]], SERVERS, heading))
        return 0
    names = [n for n in options.servers.split(",") if n]
    servers = [s for s in SERVERS if not names or s.name in names]
    users = options.users.split(",")
    if "user" in users and os.geteuid() != 0:
        parser.error("the ordinary user is a throwaway account made with useradd: run as root")
    began, cache, tree = time.monotonic(), Cache(options.cache.resolve()), options.tree.resolve()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - began:6.0f} s] {text}", flush=True)

    prepare(cache, servers, users, say)
    say(f"prepared in {time.monotonic() - began:.0f} s")
    if options.prepare_only:
        return 0
    results: list[Result] = []
    plan = [(s, style) for s in servers for style in options.styles.split(",")]
    for mechanism in options.mechanisms.split(","):
        for who in users:
            results += measure(tree, mechanism, who, plan, cache, jobs=options.jobs,
                               timeout=options.timeout, say=say)  # fmt: skip
    text = report(results, servers, f"Sandbox compatibility: {tree} at {treeCommit(tree)}")
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.with_suffix(".md").write_text(text)
    options.out.write_text(json.dumps({
        "tree": str(tree), "commit": treeCommit(tree), "kernel": os.uname().release,
        "seconds": round(time.monotonic() - began),
        "servers": [{"name": s.name, "ecosystem": s.ecosystem, "package": s.package,
                     "version": s.version, "fix": fixLine(s)} for s in servers],
        "results": [r.__dict__ for r in results],
    }, indent=1))  # fmt: skip
    print(text)
    say(f"done: {options.out} and {options.out.with_suffix('.md').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

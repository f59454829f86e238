#!/usr/bin/env python3
"""The gateway side by side with its peers: the same verified load against
each, in one run, on one machine.

Run it with ``benchmarks/run --peers`` (which installs the peers first) or, once they
are installed, ``python benchmarks/peers.py``. Every target serves the same backend,
``server-everything`` (its ``echo`` tool), and gets the same load from ``mcpload.py
load``: C sessions (1, 16, 64), each on its own keep-alive connection, one call in
flight per session, every answer checked to be the caller's own (id and echoed text).

Targets, each started fresh for every round and stopped after it:

  ceiling           the load generator against ``mcpload.py canned`` (its own limit)
  direct            the calls straight down one stdio pipe, C in flight (the physical limit)
  mcpgateway        this checkout, one shared child (``mode: stateless``)
  mcp-proxy         PyPI ``mcp-proxy`` (the Python MCP SDK's server and client): one
                    child shared by every Streamable HTTP session (``/mcp``)
  supergateway      npm ``supergateway --outputTransport streamableHttp --stateful``: a
                    child per session (its stateless mode answers without a session id)
  immorterm         npm ``immorterm-mcp-gateway`` (one shared child per server, read from a
                    ``~/.claude.json`` in a temporary HOME): ids as real clients send them,
                    each session counting from 1
  immorterm-unique  the same, with JSON-RPC ids made unique across sessions by the load
                    generator (``load-unique-ids`` below): a best case no real client
                    arranges, since immorterm forwards the client's id unchanged

Rounds are interleaved (level by level, every target once per round, in a rotating
order), so a noisy neighbour hits every target alike. The median round (by calls/s) is
reported per target and level; wrong answers (misrouted, lost, errors) are summed over
every round, and a target with any is not counted as a correct peer. A peer that is not
installed or does not start is reported with the reason, never measured by anything else.

Writes ``benchmarks/results/peers.json`` and prints a markdown table.

``python benchmarks/peers.py load-unique-ids <mcpload load options>`` is the worker
behind ``immorterm-unique``: ``mcpload.py load`` with each session's ids offset by
``(session + 1) * 10**7`` and each ``initialize`` id unique too.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench  # noqa: E402
import mcpload  # noqa: E402

ID_STRIDE = 10**7
"""Session k's call ids are (k + 1) * ID_STRIDE + 1, + 2, ... in ``load-unique-ids``."""

PEER_PACKAGES = {
    "mcp-proxy": "mcp-proxy (PyPI)",
    "supergateway": "supergateway (npm)",
    "immorterm": "immorterm-mcp-gateway (npm)",
}

LABELS = {
    "ceiling": "load generator ceiling (canned server)",
    "direct": "direct stdio (the limit)",
    "twisted-web": "bare twisted.web, canned answers (twfloor.py: the floor under the gateway)",
    "mcpgateway": "**mcpgateway**",
    "mcpgateway-before": "mcpgateway before (`--before REF`)",
    "mcp-proxy": "mcp-proxy (Python SDK, one shared child)",
    "supergateway": "supergateway `--stateful` (a child per session)",
    "immorterm": "immorterm, ids as clients send them",
    "immorterm-unique": "immorterm, ids made unique (a best case real clients cannot arrange)",
}
ORDER = list(LABELS)
REFERENCE = {"ceiling", "direct", "twisted-web", "mcpgateway-before"}
"""Rows that are limits or the gateway itself at another commit: never counted as peers."""


def log(text: str) -> None:
    sys.stderr.write(f"peers: {text}\n")
    sys.stderr.flush()


# -- unique ids (the load-unique-ids worker) ---------------------------------------------


def patchUniqueIds(module: Any, initBase: int) -> None:
    """Make C{module} (mcpload) send ids unique across sessions: session k's calls
    count from (k + 1) * ID_STRIDE, and each initialize gets C{initBase} + n. The
    verifier is unchanged: it still wants the id it sent and its own echoed text."""
    session = module.LoadSession
    if getattr(session, "uniqueIds", False):
        return
    plainInit = session.__init__

    def uniqueInit(self: Any, idx: int, *args: Any, **kwargs: Any) -> None:
        plainInit(self, idx, *args, **kwargs)
        self.i = (idx + 1) * ID_STRIDE

    session.__init__ = uniqueInit
    session.uniqueIds = True
    plainBody = module.initializeBody
    counter = itertools.count(initBase)

    def initializeBody(clientName: str = "mcpload") -> bytes:
        body = json.loads(plainBody(clientName))
        body["id"] = next(counter)
        return json.dumps(body, separators=(",", ":")).encode()

    module.initializeBody = initializeBody


def loadUniqueIds(argv: list[str]) -> None:
    """``mcpload.py load`` with unique ids (initialize ids from the pid: several
    generator processes may share a level)."""
    patchUniqueIds(mcpload, (os.getpid() % 100_000 + 1) * 1000)
    mcpload.main(["load", *argv])


@contextlib.contextmanager
def loadgen(uniqueIds: bool, grace: float) -> Iterator[None]:
    """Within: bench.runLevel starts its generators with C{--grace}, and through the
    unique-id worker when asked."""
    plain = bench.mcpload

    def argv(*args: str) -> list[str]:
        if not args or args[0] != "load":
            return plain(*args)
        if uniqueIds:
            return [
                bench.PY,
                str(Path(__file__).resolve()),
                "load-unique-ids",
                *args[1:],
                "--grace",
                str(grace),
            ]
        return [*plain(*args), "--grace", str(grace)]

    bench.mcpload = argv
    try:
        yield
    finally:
        bench.mcpload = plain


# -- processes ------------------------------------------------------------------------


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def waitListening(port: int, proc: subprocess.Popen[bytes], timeout: float, logPath: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before listening: " + tail(logPath))
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"not listening on {port} after {timeout:g}s: " + tail(logPath))


def tail(path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def stopTree(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM the process (its own session) and its group, then SIGKILL whatever of
    its tree is left: supergateway puts each child in a group of its own."""
    pids = bench.processTree(proc.pid)
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for pid in reversed(pids[1:]):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@dataclass
class Served:
    """A target while it runs: where to send the load, what to watch, how to stop."""

    url: str
    rootPid: int
    stop: Callable[[], None]
    extra: dict[str, Any] = field(default_factory=dict)

    def watch(self) -> dict[str, list[int]]:
        return {"proxy": [self.rootPid], "child": bench.processTree(self.rootPid)[1:]}


def spawnPeer(
    argv: list[str],
    port: int,
    workdir: Path,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.Popen[bytes]:
    workdir.mkdir(parents=True, exist_ok=True)
    logPath = workdir / "output.log"
    with logPath.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    try:
        waitListening(port, proc, timeout, logPath)
    except BaseException:
        stopTree(proc)
        raise
    return proc


def warm(url: str) -> None:
    """One session: initialize, initialized, one echo call (starts a lazy child)."""
    host, port, path = mcpload.splitUrl(url)
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        status, hdrs, msgs = bench.mcpPost(
            conn,
            path,
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "peers-warm", "version": "1"},
                },
            },
            None,
        )
        sid = hdrs.get("mcp-session-id")
        if status != 200 or not sid:
            raise RuntimeError(f"initialize: HTTP {status} {msgs}")
        bench.mcpPost(conn, path, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
        status, _, msgs = bench.mcpPost(
            conn,
            path,
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "echo", "arguments": {"message": "warm"}},
            },
            sid,
        )
        texts = [
            m.get("result", {}).get("content", [{}])[0].get("text")
            for m in msgs
            if isinstance(m, dict) and m.get("id") == 1
        ]
        if status != 200 or texts != ["Echo: warm"]:
            raise RuntimeError(f"first call: HTTP {status} {msgs}")
    finally:
        conn.close()


# -- the targets ---------------------------------------------------------------------


@dataclass
class Env:
    js: str
    peersDir: Path
    tmp: Path
    before: Path | None = None
    """A checkout of the gateway at C{--before REF}."""


def startGateway(env: Env, workdir: Path, repo: Path | None = None) -> Served:
    gw = bench.Gateway({"everything": bench.everythingSpec(env.js)}, workdir, repo=repo)
    try:
        url = gw.url("everything")
        warm(url)
    except BaseException:
        gw.stop()
        raise

    def stop() -> None:
        gw.stop()

    return Served(url, gw.pid, stop)


def startGatewayBefore(env: Env, workdir: Path) -> Served:
    if env.before is None:
        raise RuntimeError("the mcpgateway-before target needs --before REF")
    return startGateway(env, workdir, env.before)


def checkoutBefore(ref: str, into: Path) -> tuple[Path, str]:
    """A detached worktree of this repository at C{ref} (removed with the work
    folder), and the commit it names."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", ref + "^{commit}"],
        cwd=bench.REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--force", str(into), commit],
        cwd=bench.REPO,
        capture_output=True,
        check=True,
    )
    return into, commit


def dropBefore(path: Path) -> None:
    subprocess.run(
        ["git", "worktree", "remove", "--force", str(path)],
        cwd=bench.REPO,
        capture_output=True,
    )


def startTwistedWeb(env: Env, workdir: Path) -> Served:
    port = freePort()
    proc = spawnPeer([bench.PY, str(HERE / "twfloor.py"), str(port)], port, workdir)
    return served(proc, f"http://127.0.0.1:{port}/mcp")


def startMcpProxy(env: Env, workdir: Path) -> Served:
    exe = env.peersDir / "venv" / "bin" / "mcp-proxy"
    if not exe.exists():
        raise FileNotFoundError(f"not installed: {exe} (benchmarks/run --peers installs it)")
    port = freePort()
    proc = spawnPeer(
        [
            str(exe),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "WARNING",
            "--",
            "node",
            env.js,
            "stdio",
        ],
        port,
        workdir,
    )
    return served(proc, f"http://127.0.0.1:{port}/mcp")


def startSupergateway(env: Env, workdir: Path) -> Served:
    js = env.peersDir / "node_modules" / "supergateway" / "dist" / "index.js"
    if not js.exists():
        raise FileNotFoundError(f"not installed: {js} (benchmarks/run --peers installs it)")
    port = freePort()
    proc = spawnPeer(
        [
            "node",
            str(js),
            "--stdio",
            f"node {env.js} stdio",
            "--outputTransport",
            "streamableHttp",
            "--stateful",
            "--port",
            str(port),
            "--logLevel",
            "none",
        ],
        port,
        workdir,
    )
    return served(proc, f"http://127.0.0.1:{port}/mcp")


def startImmorterm(env: Env, workdir: Path) -> Served:
    js = env.peersDir / "node_modules" / "immorterm-mcp-gateway" / "dist" / "index.js"
    if not js.exists():
        raise FileNotFoundError(f"not installed: {js} (benchmarks/run --peers installs it)")
    # It rewrites ~/.claude.json (and other tools' configs under HOME) into HTTP entries
    # pointing at itself, and keeps its state in ~/.immorterm: a temporary HOME.
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    config = home / ".claude.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "everything": {"type": "stdio", "command": "node", "args": [env.js, "stdio"]}
                }
            }
        )
    )
    port = freePort()
    proc = spawnPeer(
        ["node", str(js), "start", "--foreground", "--port", str(port), "--config", str(config)],
        port,
        workdir,
        env={"HOME": str(home)},
    )
    return served(proc, f"http://127.0.0.1:{port}/everything/mcp")


def served(proc: subprocess.Popen[bytes], url: str) -> Served:
    try:
        warm(url)
    except BaseException:
        stopTree(proc)
        raise
    return Served(url, proc.pid, lambda: stopTree(proc))


STARTERS: dict[str, Callable[[Env, Path], Served]] = {
    "twisted-web": startTwistedWeb,
    "mcpgateway": startGateway,
    "mcpgateway-before": startGatewayBefore,
    "mcp-proxy": startMcpProxy,
    "supergateway": startSupergateway,
    "immorterm": startImmorterm,
    "immorterm-unique": startImmorterm,
}


MAX_QUIET_WAIT = 3.0
"""At most this long waiting for quiet between the sessions' warm-up and their calls:
uvicorn (mcp-proxy) and Node's http server (supergateway, immorterm) close a keep-alive
connection idle for 5 s, and a load session whose connection was closed while it waited
stops without a call in flight, so it is not even counted as lost."""


class TreeGate(bench.QuietGate):
    """bench.QuietGate that also refreshes the watched child pids once the sessions
    are open (supergateway starts a child per session, after the target started)."""

    def __init__(self, gate: bench.QuietGate, refresh: Callable[[], None]) -> None:
        super().__init__(0, gate.threshold)
        self.inner = gate
        self.refresh = refresh

    def wait(self) -> dict[str, float]:
        inner, budget = self.inner, self.inner.budget
        inner.budget = min(budget, inner.waited + MAX_QUIET_WAIT)
        try:
            got = inner.wait()
        finally:
            inner.budget = budget
        self.refresh()
        return got


def runOne(
    key: str,
    c: int,
    calls: int,
    args: argparse.Namespace,
    env: Env,
    gate: bench.QuietGate,
    run: int,
) -> dict[str, Any]:
    """One round of one target at one level, on a freshly started target."""
    if key == "direct":
        return bench.runDirectOnce(env.js, c, calls, args.max_seconds, gate)
    if key == "ceiling":
        canned = bench.Worker(bench.mcpload("canned"))
        try:
            port = canned.expect("listening", 30)["port"]
            return bench.runLevel(
                f"http://127.0.0.1:{port}/canned/mcp",
                c,
                calls,
                args.loadgen_procs,
                {"server": [canned.proc.pid]},
                args.max_seconds,
                gate=gate,
            )
        finally:
            canned.stop()
    started = time.monotonic()
    target = STARTERS[key](env, env.tmp / f"{key}-c{c}-r{run}")
    startSeconds = time.monotonic() - started
    try:
        watch = target.watch()

        def refresh() -> None:
            for name, pids in target.watch().items():
                watch[name][:] = pids

        # Every other target is warmed up as much as direct stdio's child
        # (bench.warmupPerSession). Plain immorterm gets no warm-up calls: the
        # ids of its sessions collide from the first call, and the warm-up's
        # answers are not counted.
        with loadgen(key == "immorterm-unique", args.grace):
            result = bench.runLevel(
                target.url,
                c,
                calls,
                args.loadgen_procs,
                watch,
                args.max_seconds,
                warmup=0 if key == "immorterm" else None,
                gate=TreeGate(gate, refresh),
            )
        tree = bench.processTree(target.rootPid)
        result["processes"] = len(tree)
        result["rssKB"] = {
            "proxy": bench.memKB(target.rootPid)[0],
            "tree": sum(bench.memKB(p)[0] for p in tree),
        }
        result["startSeconds"] = round(startSeconds, 2)
        return result
    finally:
        target.stop()


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The median round by calls/s, every round's figures, wrong answers summed."""
    chosen = dict(sorted(rounds, key=lambda r: r["callsPerSecond"])[(len(rounds) - 1) // 2])
    chosen["runs"] = [
        {
            "callsPerSecond": r["callsPerSecond"],
            "p50": r["latencyMs"]["p50"],
            "p90": r["latencyMs"]["p90"],
            "p99": r["latencyMs"]["p99"],
            "ok": r["ok"],
            "misrouted": r["misrouted"],
            "lost": r["lost"],
            "errors": r["errors"],
        }
        for r in rounds
    ]
    for key in ("misrouted", "lost", "errors"):
        chosen[key + "AllRuns"] = sum(r[key] for r in rounds)
    chosen["wrongAllRuns"] = sum(chosen[k + "AllRuns"] for k in ("misrouted", "lost", "errors"))
    return chosen


def correct(target: dict[str, Any]) -> bool:
    """No wrong answer in any round at any level (plain immorterm is right at C=1 only
    because one session's ids cannot collide: it is not a correct peer)."""
    return not any(lv["wrongAllRuns"] for lv in target.get("levels", {}).values())


def ratios(res: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per level: mcpgateway's calls/s over the best correct peer's (and which), and
    over direct stdio."""
    out: dict[str, dict[str, Any]] = {}
    targets = res["targets"]
    for c in map(str, res["levels"]):
        gw = targets.get("mcpgateway", {}).get("levels", {}).get(c)
        best: tuple[float, str] | None = None
        for key, t in targets.items():
            lv = t.get("levels", {}).get(c)
            if key in REFERENCE or key == "mcpgateway" or not lv or not correct(t):
                continue
            if best is None or lv["callsPerSecond"] > best[0]:
                best = (lv["callsPerSecond"], key)
        direct = targets.get("direct", {}).get("levels", {}).get(c)
        row: dict[str, Any] = {"bestCorrectPeer": best[1] if best else None}
        if gw and best and best[0]:
            row["gatewayOverBestCorrectPeer"] = round(gw["callsPerSecond"] / best[0], 2)
        if gw and direct and direct["callsPerSecond"]:
            row["gatewayOverDirect"] = round(gw["callsPerSecond"] / direct["callsPerSecond"], 3)
        out[c] = row
    return out


def fmtRate(x: float) -> str:
    return f"{x:,.0f}"


def report(res: dict[str, Any]) -> str:
    levels = [str(c) for c in res["levels"]]
    m = res["machine"]
    calls = ", ".join(f"{n} at C={c}" for c, n in res["callsPerLevel"].items())
    L = [
        f"## mcpgateway and its peers ({res['when']}; {res['rounds']} rounds per level,"
        f" {calls} calls per round, at most {res['maxSeconds']:g} s each"
        f"{', quick' if res.get('quick') else ''})",
        "",
        f"{m['nproc']} CPUs ({m['cpuModel']}), Python {m['python']}, Node {m['node']}, load "
        f"generator on {'uvloop ' + m['uvloop'] if m['uvloop'] else 'asyncio'}; load average "
        f"{m['loadAverageAtStart']} at start, {res.get('loadAverageAtEnd')} at end. Gateway "
        f"code: {res['code']['commit']}"
        + (
            f" + {len(res['code']['uncommitted'])} uncommitted file(s)"
            if res["code"]["uncommitted"]
            else ""
        )
        + ".",
        "",
        "| calls/s (median of the rounds) | "
        + " | ".join(f"C={c}" for c in levels)
        + " | wrong answers (all rounds) |",
        "|---|" + "---:|" * len(levels) + "---|",
    ]
    for key in ORDER:
        t = res["targets"].get(key)
        if t is None:
            continue
        if t.get("failed") and not t.get("levels"):
            L.append(
                f"| {LABELS[key]} | "
                + " | ".join("-" for _ in levels)
                + f" | could not run: {t['failed'][:160]} |"
            )
            continue
        cells, wrong = [], []
        for c in levels:
            lv = t.get("levels", {}).get(c)
            if lv is None:
                cells.append("-")
                continue
            cells.append(fmtRate(lv["callsPerSecond"]))
            if lv["wrongAllRuns"]:
                wrong.append(
                    f"C={c}: {lv['misroutedAllRuns']} misrouted, {lv['lostAllRuns']}"
                    f" lost, {lv['errorsAllRuns']} errors"
                )
        verdict = "; ".join(wrong) if wrong else "none"
        if t.get("failed"):
            verdict += f"; failed at some level: {t['failed'][:120]}"
        L.append(f"| {LABELS[key]} | " + " | ".join(cells) + f" | {verdict} |")
    L += [
        "",
        "| mcpgateway over | " + " | ".join(f"C={c}" for c in levels) + " |",
        "|---|" + "---:|" * len(levels),
    ]
    rr = res.get("ratios", {})
    L.append(
        "| the best correct peer | "
        + " | ".join(
            f"{rr[c]['gatewayOverBestCorrectPeer']:.2f}x ({rr[c]['bestCorrectPeer']})"
            if c in rr and "gatewayOverBestCorrectPeer" in rr[c]
            else "-"
            for c in levels
        )
        + " |"
    )
    L.append(
        "| direct stdio | "
        + " | ".join(
            f"{rr[c]['gatewayOverDirect']:.2f}" if c in rr and "gatewayOverDirect" in rr[c] else "-"
            for c in levels
        )
        + " |"
    )
    L += [
        "",
        "Every round (calls/s, p50 / p99 ms):",
        "",
        "| target | C | rounds | CPU cores (proxy; direct: child; ceiling: server) |"
        " processes | RSS proxy / whole tree, after the round |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for key in ORDER:
        for c in levels:
            lv = res["targets"].get(key, {}).get("levels", {}).get(c)
            if lv is None:
                continue
            runs = ", ".join(
                f"{fmtRate(r['callsPerSecond'])} ({bench.fmt(r['p50'], 2)} / "
                f"{bench.fmt(r['p99'], 1)})"
                for r in lv["runs"]
            )
            cpu = lv["cpuCores"]
            cores = cpu.get("proxy", cpu.get("child", cpu.get("server")))
            rss = lv.get("rssKB", {})
            mem = f"{rss['proxy'] / 1024:.0f} / {rss['tree'] / 1024:.0f} MB" if rss else "-"
            L.append(
                f"| {key} | {c} | {runs} | {bench.fmt(cores)} | "
                f"{lv.get('processes', '-')} | {mem} |"
            )
    return "\n".join(L)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["load-unique-ids"]:
        loadUniqueIds(argv[1:])
        return 0
    ap = argparse.ArgumentParser(description="mcpgateway and its peers, side by side")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="fewer calls per round (300 at C=1, 800 above) and at most 5 s each",
    )
    ap.add_argument("--levels", default="1,16,64", help="session counts (default 1,16,64)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per target and level")
    ap.add_argument(
        "--calls",
        type=int,
        default=None,
        help="calls per round (default 600 at C=1, 1600 above; quick 300/800)",
    )
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="time bound of one round's measured calls (default 8, quick 5)",
    )
    ap.add_argument(
        "--grace",
        type=float,
        default=3.0,
        help="seconds a call may still take after the bound (then it is lost)",
    )
    ap.add_argument(
        "--targets", default=",".join(ORDER), help="comma list, default: " + ",".join(ORDER)
    )
    ap.add_argument(
        "--quiet-budget",
        type=float,
        default=30.0,
        help="seconds the whole run may wait for the machine to go quiet",
    )
    ap.add_argument("--loadgen-procs", type=int, default=1)
    ap.add_argument(
        "--before",
        metavar="REF",
        default=None,
        help="also run the gateway at git REF (a worktree) as target mcpgateway-before,"
        " interleaved with this checkout's: a before/after comparison in one run",
    )
    ap.add_argument(
        "--peers-dir",
        default=None,
        help="where the peers are installed (default <test cache>/peers)",
    )
    ap.add_argument("--json", default=str(HERE / "results" / "peers.json"))
    ap.add_argument(
        "--keep",
        action="store_true",
        help="keep the work folder (each target's output.log, configs)",
    )
    args = ap.parse_args(argv)

    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    keys = [k.strip() for k in args.targets.split(",") if k.strip()]
    if args.before is None:
        keys = [k for k in keys if k != "mcpgateway-before"]
    elif "mcpgateway-before" not in keys:
        at = keys.index("mcpgateway") + 1 if "mcpgateway" in keys else 0
        keys.insert(at, "mcpgateway-before")
    unknown = [k for k in keys if k not in LABELS]
    if unknown:
        ap.error(f"unknown target(s): {', '.join(unknown)}")
    if args.max_seconds is None:
        args.max_seconds = 5.0 if args.quick else 8.0
    small, big = (300, 800) if args.quick else (600, 1600)
    totals = {c: args.calls or (small if c == 1 else big) for c in levels}
    cache = Path(os.environ.get("MCPGATEWAY_TEST_CACHE") or bench.REPO / ".cache" / "test-backends")
    paths = dict(
        line.split("=", 1) for line in (cache / "paths.env").read_text().splitlines() if "=" in line
    )
    env = Env(
        js=paths["SERVER_EVERYTHING_JS"],
        peersDir=Path(args.peers_dir) if args.peers_dir else cache / "peers",
        tmp=Path(tempfile.mkdtemp(prefix="mcpgateway-peers-")),
    )
    beforeCommit = None
    if args.before is not None:
        env.before, beforeCommit = checkoutBefore(args.before, env.tmp / "before")
    bench.raiseNofile()
    gate = bench.QuietGate(args.quiet_budget)
    res: dict[str, Any] = {
        "machine": bench.machine(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "code": bench.codeIdentity(),
        "before": beforeCommit,
        "levels": levels,
        "rounds": args.rounds,
        "callsPerLevel": {str(c): totals[c] for c in levels},
        "maxSeconds": args.max_seconds,
        "quick": args.quick,
        "versions": installedVersions(env.peersDir),
        "targets": {},
    }
    log(f"targets {', '.join(keys)}; levels {levels}; {args.rounds} rounds; work in {env.tmp}")
    # Twisted's plugin cache, built once outside any measurement (as bench.py does).
    subprocess.run(
        [
            bench.PY,
            "-c",
            "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))",
        ],
        cwd=bench.REPO,
        capture_output=True,
        timeout=120,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(bench.REPO), os.environ.get("PYTHONPATH")])
            ),
        },
    )
    rounds: dict[str, dict[str, list[dict[str, Any]]]] = {k: {} for k in keys}
    failed: dict[str, str] = {}
    try:
        measure(keys, levels, totals, args, env, gate, rounds, failed)
    finally:
        if env.before is not None:
            dropBefore(env.before)
        if not args.keep:
            shutil.rmtree(env.tmp, ignore_errors=True)
    for key in keys:
        t: dict[str, Any] = {
            "label": LABELS[key],
            "levels": {c: summarize(rs) for c, rs in rounds[key].items() if rs},
        }
        if key in failed:
            t["failed"] = failed[key]
        res["targets"][key] = t
    res["ratios"] = ratios(res)
    res["loadAverageAtEnd"] = [round(x, 2) for x in os.getloadavg()]
    res["quietWaitedSeconds"] = round(gate.waited, 1)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    print(report(res))
    log(f"wrote {args.json}")
    return 0


def measure(
    keys: list[str],
    levels: list[int],
    totals: dict[int, int],
    args: argparse.Namespace,
    env: Env,
    gate: bench.QuietGate,
    rounds: dict[str, dict[str, list[dict[str, Any]]]],
    failed: dict[str, str],
) -> None:
    """Level by level, round by round, every target once per round (the order rotates
    each round). A target that fails is reported and not run again."""
    for c in levels:
        for r in range(args.rounds):
            turn = keys[r % len(keys) :] + keys[: r % len(keys)]
            for key in turn:
                if key in failed:
                    continue
                log(f"C={c} round {r + 1}/{args.rounds}: {key}")
                try:
                    one = runOne(key, c, totals[c], args, env, gate, r)
                except Exception as e:  # reported, never replaced by anything else
                    failed[key] = f"{type(e).__name__}: {e}"[:2000]
                    log(f"{key} failed at C={c}: {failed[key]}")
                    continue
                rounds[key].setdefault(str(c), []).append(one)
                log(
                    f"  {one['callsPerSecond']:.0f} calls/s, p50 {one['latencyMs']['p50']} ms,"
                    f" misrouted {one['misrouted']}, lost {one['lost']},"
                    f" errors {one['errors']}"
                )


def installedVersions(peersDir: Path) -> dict[str, str | None]:
    """The versions actually installed (package.json, the venv's metadata)."""
    found: dict[str, str | None] = {}
    for key, pkg in (("supergateway", "supergateway"), ("immorterm", "immorterm-mcp-gateway")):
        try:
            found[key] = json.loads((peersDir / "node_modules" / pkg / "package.json").read_text())[
                "version"
            ]
        except (OSError, ValueError, KeyError):
            found[key] = None
    dists = sorted((peersDir / "venv").glob("lib/python*/site-packages/mcp_proxy-*.dist-info"))
    found["mcp-proxy"] = dists[-1].name.split("-")[1].removesuffix(".dist") if dists else None
    return found


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""mcpgateway's benchmark suite (run it with ``benchmarks/run``).

One run measures, on this machine and in this order:

1. calibration: the load generator (``mcpload.py load``) against a trivial
   canned-response server (``mcpload.py canned``): its ceiling here;
2. direct: the same ``tools/call echo`` calls straight down one stdio pipe to
   one ``server-everything`` child, C requests in flight (the physical limit);
3. gateway: C = 1, 16, 64 sessions through the gateway (one shared child),
   RSS idle and after load, every response checked to be the caller's own;
4. startup: gateway spawn to the first successful call (lazily started child),
   and the child's own start, measured alone;
5. idle sessions: gateway RSS per idle open session (N sessions, each with its
   GET stream open);
6. session scaling: 20 sessions x 5 servers through one gateway (processes,
   RSS, PSS of the gateway tree) against every session spawning its own
   children, with and without ``npx`` wrappers;
7. profile: the gateway under cProfile during another C=16 level.

Prints a markdown table and writes ``benchmarks/results/latest.json`` (plus the
profile text next to it). Targets are checked as ratios within this one run.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import http.client
import json
import os
import platform
import pstats
import queue
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MCPLOAD = HERE / "mcpload.py"
PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
PORT_LINE = re.compile(r"listening on \S*:(\d+)\s*$")
SE_PACKAGE = "@modelcontextprotocol/server-everything"

TARGETS = {
    "p50_c1_over_direct_ms": 0.35,
    "p99_c1_ms": 2.0,
    "throughput_ratio": 0.40,
    "rss_idle_mb": 40.0,
    "kb_per_idle_session": 25.0,
    "startup_s": 1.0,
}


def log(text: str) -> None:
    sys.stderr.write(f"bench: {text}\n")
    sys.stderr.flush()


# -- /proc ---------------------------------------------------------------------


def procCpu(pid: int) -> float:
    """utime + stime of one process, in seconds (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def procUserSys(pid: int) -> tuple[float, float]:
    """(utime, stime) of one process, in seconds."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


def systemBusy() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    return (sum(parts[:8]) - idle) / CLK_TCK


def cpuSnapshot() -> dict[int, tuple[str, float]]:
    """pid -> (name, CPU seconds) for every process."""
    snap = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    raw = f.read()
                head, tail = raw.rsplit(b")", 1)
                fields = tail.split()
                snap[int(entry)] = (
                    head.split(b"(", 1)[1].decode(errors="replace"),
                    (int(fields[11]) + int(fields[12])) / CLK_TCK,
                )
            except (OSError, IndexError, ValueError):
                continue
    return snap


def othersBetween(
    a: dict[int, tuple[str, float]], b: dict[int, tuple[str, float]], ours: set[int], wall: float
) -> dict[str, float]:
    """CPU cores used by processes not in C{ours}, by name (top 4)."""
    use: collections.Counter[str] = collections.Counter()
    for pid, (name, cpu) in b.items():
        if pid in ours:
            continue
        used = cpu - a[pid][1] if pid in a else cpu
        if used > 0:
            use[name] += used
    return {name: round(sec / wall, 2) for name, sec in use.most_common(4) if sec / wall >= 0.02}


class QuietGate:
    """Before a measurement, wait (within a budget for the whole run) until the
    machine is quiet: under C{threshold} cores busy over half a second."""

    def __init__(self, budget: float, threshold: float = 0.3) -> None:
        self.budget = budget
        self.threshold = threshold
        self.waited = 0.0

    def wait(self) -> dict[str, float]:
        start = time.monotonic()
        while True:
            b0 = systemBusy()
            time.sleep(0.5)
            busy = (systemBusy() - b0) / 0.5
            spent = time.monotonic() - start
            if busy < self.threshold or self.waited + spent >= self.budget:
                self.waited += spent
                return {"waited": round(spent, 1), "busyBefore": round(busy, 2)}


def children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree[ppid].append(int(entry))
    return tree


def processTree(pid: int, tree: dict[int, list[int]] | None = None) -> list[int]:
    """C{pid} and all its descendants."""
    tree = tree if tree is not None else children()
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(tree.get(p, []))
    return found


def memKB(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB, from /proc/PID/smaps_rollup."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def treeMemory(roots: list[int]) -> dict[str, Any]:
    tree = children()
    pids = sorted({p for root in roots for p in processTree(root, tree)})
    rss = pss = 0
    names: collections.Counter[str] = collections.Counter()
    for p in pids:
        r, s = memKB(p)
        rss += r
        pss += s
        with contextlib.suppress(OSError):
            names[Path(f"/proc/{p}/comm").read_text().strip()] += 1
    return {
        "processes": len(pids),
        "rssMB": round(rss / 1024, 1),
        "pssMB": round(pss / 1024, 1),
        "byName": dict(names),
    }


def memAvailableMB() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return float("inf")


def raiseNofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# -- processes that print JSON lines -------------------------------------------


class Worker:
    """A subprocess printing JSON lines (mcpload.py), read by a thread."""

    def __init__(self, argv: list[str], **kwargs: Any) -> None:
        self.argv = argv
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stderr: collections.deque[str] = collections.deque(maxlen=40)
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._readErr, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                self.lines.put(json.loads(raw))
            except ValueError:
                self.stderr.append(raw.decode(errors="replace").rstrip())
        self.lines.put(None)

    def _readErr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.stderr.append(raw.decode(errors="replace").rstrip())

    def expect(self, event: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                item = self.lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                item = None
                if left > 0:
                    continue
            if item is None:
                self.kill()
                raise RuntimeError(
                    f"{Path(self.argv[1]).name} {self.argv[2]}: no '{event}' "
                    f"within {timeout:g}s; stderr:\n" + "\n".join(self.stderr)
                )
            if item.get("event") == "failed":
                self.kill()
                raise RuntimeError(f"{self.argv[2]} failed: {item.get('error')}")
            if item.get("event") == event:
                return item

    def say(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stop(self, timeout: float = 10) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()


def mcpload(*args: str) -> list[str]:
    return [PY, str(MCPLOAD), *args]


# -- the gateway under test -------------------------------------------------------


class Gateway:
    """The gateway as the README's command runs it (``twistd -n mcpgateway``;
    as ``mcpgateway start`` runs it, ``python -OO -m mcpgateway.launch``, with
    ``MCPGATEWAY_BENCH_RUNNER=start``; ``python -m twisted mcpgateway`` for a
    commit from before ``mcpgateway.launch``) from this checkout (or C{repo}:
    another checkout of the project, for a before/after comparison), on an
    OS-chosen port."""

    def __init__(
        self,
        config: dict[str, Any],
        workdir: Path,
        profile: Path | None = None,
        extra: list[str] | None = None,
        patches: str = "",
        repo: Path | None = None,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        repo = REPO if repo is None else repo
        self.workdir = workdir
        cfg = workdir / "config.json"
        cfg.write_text(json.dumps({"mcpServers": config}))
        # Bytecode is written and read as an installed gateway's is: with
        # PYTHONDONTWRITEBYTECODE (set on some machines) every start would compile
        # again each module whose .pyc is stale, at about 0.8 MB of RSS.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env = {
            **env,
            "MCPGATEWAY_HOME": str(workdir / "state"),
            "HOME": str(workdir),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")])),
        }
        if profile is not None or patches:  # see twist_wrapper.py for why not "-m cProfile"
            prefix = [PY, str(HERE / "twist_wrapper.py")]
            if profile is not None:
                prefix += ["--profile", str(profile)]
            if patches:
                prefix += ["--patches", patches]
            prefix.append("--log-format=text")
        elif os.environ.get("MCPGATEWAY_BENCH_RUNNER") == "start":
            # As `mcpgateway start` runs it: twistd with the gateway as its only
            # plugin (no plugin discovery), under -OO (no docstrings in memory).
            prefix = [PY, "-OO", "-m", "mcpgateway.launch", "-n", "--pidfile=", "--logfile=-"]
        elif (repo / "mcpgateway" / "launch.py").exists():
            # The README's command, `twistd -n mcpgateway`: what users run.
            prefix = [
                PY,
                "-c",
                "from twisted.scripts.twistd import run; run()",
                "-n",
                "--pidfile=",
                "--logfile=-",
            ]
        else:  # a commit from before mcpgateway.launch
            prefix = [PY, "-m", "twisted", "--log-format=text"]
        argv = [
            *prefix,
            "mcpgateway",
            "--port",
            "tcp:0:interface=127.0.0.1",
            "--config",
            str(cfg),
            *(extra or []),
        ]
        self.spawned = time.monotonic()
        self.proc = subprocess.Popen(
            argv,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.pid = self.proc.pid
        self.output: collections.deque[str] = collections.deque(maxlen=300)
        self.port = 0
        self.listening = 0.0
        self._found = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._found.wait(30):
            self.stop()
            raise RuntimeError("gateway did not start:\n" + "\n".join(self.output))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.output.append(line)
            m = PORT_LINE.search(line)
            if m and not self._found.is_set():
                self.listening = time.monotonic()
                self.port = int(m.group(1))
                self._found.set()

    def url(self, server: str) -> str:
        return f"http://127.0.0.1:{self.port}/{server}/mcp"

    def rssKB(self) -> int:
        return memKB(self.pid)[0]

    def tree(self) -> list[int]:
        return processTree(self.pid)

    def health(self) -> dict[str, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", "/health")
        return json.loads(conn.getresponse().read())

    def stop(self, timeout: float = 20) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                for p in reversed(processTree(self.pid)):
                    with contextlib.suppress(OSError):
                        os.kill(p, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode


def everythingSpec(js: str) -> dict[str, Any]:
    return {"command": "node", "args": [js, "stdio"], "share": "global"}


# -- one blocking MCP client, for startup --------------------------------------------


def mcpPost(
    conn: http.client.HTTPConnection, path: str, body: dict[str, Any], sid: str | None
) -> tuple[int, dict[str, str], list[Any]]:
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": "2025-11-25",
    }
    if sid:
        headers["Mcp-Session-Id"] = sid
    conn.request("POST", path, json.dumps(body), headers)
    resp = conn.getresponse()
    data = resp.read()
    hdrs = {k.lower(): v for k, v in resp.getheaders()}
    msgs: list[Any] = []
    if hdrs.get("content-type", "").startswith("text/event-stream"):
        for line in data.split(b"\n"):
            if line.startswith(b"data:"):
                msgs.append(json.loads(line[5:]))
    elif data:
        msgs.append(json.loads(data))
    return resp.status, hdrs, msgs


def firstCall(port: int, server: str, timeout: float = 60) -> None:
    """initialize, initialized, one echo call; raises unless it all succeeds."""
    path = f"/{server}/mcp"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    status, hdrs, msgs = mcpPost(
        conn,
        path,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "bench-startup", "version": "1"},
            },
        },
        None,
    )
    sid = hdrs.get("mcp-session-id")
    if status != 200 or not sid:
        raise RuntimeError(f"initialize: HTTP {status} {msgs}")
    mcpPost(conn, path, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
    status, _, msgs = mcpPost(
        conn,
        path,
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": "startup"}},
        },
        sid,
    )
    texts = [
        m.get("result", {}).get("content", [{}])[0].get("text")
        for m in msgs
        if isinstance(m, dict) and m.get("id") == 2
    ]
    if status != 200 or texts != ["Echo: startup"]:
        raise RuntimeError(f"first call: HTTP {status} {msgs}")
    conn.close()


# -- stdio children without the gateway (direct start, status quo) ---------------------


INIT_LINE = (
    json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "bench-direct", "version": "1"},
            },
        }
    ).encode()
    + b"\n"
)
INITIALIZED_LINE = b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
CALL_LINE = (
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo",'
    b'"arguments":{"message":"hello"}}}\n'
)


class StdioChild:
    """One stdio server started as a client would start it (own process group)."""

    def __init__(
        self, argv: list[str], cwd: str | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buf = b""
        self.initialized = 0.0
        self.called = 0.0
        self.proc.stdin.write(INIT_LINE)
        self.proc.stdin.flush()

    def fileno(self) -> int:
        assert self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def readable(self) -> bool:
        """Consume output; True when this child is done (answered the call)."""
        try:
            data = os.read(self.fileno(), 65536)
        except BlockingIOError:
            return False
        if not data:
            raise RuntimeError(f"{self.proc.args} exited before answering")
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("id") == 0 and not self.initialized:
                self.initialized = time.monotonic()
                assert self.proc.stdin is not None
                self.proc.stdin.write(INITIALIZED_LINE + CALL_LINE)
                self.proc.stdin.flush()
            elif msg.get("id") == 1 and not self.called:
                text = msg.get("result", {}).get("content", [{}])[0].get("text")
                if text != "Echo: hello":
                    raise RuntimeError(f"unexpected answer {msg}")
                self.called = time.monotonic()
        return bool(self.called)

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                f.close()  # type: ignore[union-attr]


def waitAll(kids: list[StdioChild], timeout: float) -> None:
    pending = {k.fileno(): k for k in kids if not k.called}
    deadline = time.monotonic() + timeout
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"{len(pending)} stdio children did not answer within {timeout:g}s")
        ready, _, _ = select.select(list(pending), [], [], min(left, 1.0))
        for fd in ready:
            if pending[fd].readable():
                del pending[fd]


def childStartSeconds(js: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        kid = StdioChild(["node", js, "stdio"])
        try:
            waitAll([kid], 30)
            times.append(kid.initialized - kid.started)
        finally:
            kid.kill()
    return times


def statusQuo(
    argv: list[str],
    total: int,
    measure: int,
    batch: int,
    cwd: str | None,
    env: dict[str, str] | None,
    reserveMB: float,
) -> dict[str, Any]:
    """Start C{measure} children (each: initialize + one call), measure their
    trees, kill them. When C{measure} < C{total}, scale linearly, and say so."""
    kids: list[StdioChild] = []
    started = time.monotonic()
    stoppedEarly = None
    try:
        while len(kids) < measure:
            if kids and memAvailableMB() < reserveMB:
                stoppedEarly = f"stopped at {len(kids)}: MemAvailable under {reserveMB:g} MB"
                break
            group = [StdioChild(argv, cwd, env) for _ in range(min(batch, measure - len(kids)))]
            kids += group
            waitAll(group, 120)
        elapsed = time.monotonic() - started
        mem = treeMemory([k.proc.pid for k in kids])
    finally:
        for k in kids:
            k.kill()
    n = len(kids)
    result = {
        "measured": n,
        "of": total,
        "seconds": round(elapsed, 2),
        "meanInitSeconds": round(sum(k.initialized - k.started for k in kids) / n, 3),
        **mem,
    }
    if n < total:
        f = total / n
        result.update(
            {
                "estimate": True,
                "note": (stoppedEarly or f"measured {n}") + f", scaled x{f:g} to {total}",
                "processes": round(mem["processes"] * f),
                "rssMB": round(mem["rssMB"] * f, 1),
                "pssMB": round(mem["pssMB"] * f, 1),
                "measuredProcesses": mem["processes"],
                "measuredRssMB": mem["rssMB"],
                "measuredPssMB": mem["pssMB"],
            }
        )
    return result


# -- load levels ----------------------------------------------------------------------


def percentiles(lat: list[int]) -> dict[str, float | None]:
    if not lat:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    lat = sorted(lat)
    n = len(lat)

    def at(q: float) -> float:
        return round(lat[min(n - 1, max(0, int(q * n + 0.999999) - 1))] / 1000, 3)

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": round(lat[-1] / 1000, 3)}


PROFILE_ON, PROFILE_OFF = signal.SIGRTMIN, signal.SIGRTMIN + 1
"""What turns twist_wrapper.py's profiler on and off (not SIGUSR1/2: the
gateway restarts on SIGUSR2)."""

DIRECT_WARMUP = 500
"""At most this many warm-up calls before a level's measured calls."""


def warmupPerSession(total: int, sessions: int) -> int:
    """Warm-up calls per session of a level of C{total} calls: in all as many
    as the direct driver sends down its pipe first (C{min(500, total)}), at
    least 5 each. So the child behind a gateway (Node's JIT) and the
    gateway's own code are as warm as the direct child when the measured
    calls start: with 5 per session, a C=1 level compared a child warmed by
    300 calls with one warmed by 6."""
    return max(5, -(-min(DIRECT_WARMUP, total) // max(1, sessions)))


def runLevel(
    url: str,
    sessions: int,
    total: int,
    procs: int,
    watch: dict[str, list[int]],
    maxSeconds: float,
    warmup: int | None = None,
    gate: QuietGate | None = None,
    around: tuple[Any, Any] | None = None,
) -> dict[str, Any]:
    """C{sessions} sessions, C{total} calls overall, split over C{procs} load
    generator processes started together. C{watch}: name -> pids whose CPU
    is reported (the server side). C{warmup}: calls per session before the
    measured ones (C{None}: L{warmupPerSession})."""
    if warmup is None:
        warmup = warmupPerSession(total, sessions)
    procs = max(1, min(procs, sessions))
    perSession = max(1, total // sessions)
    workers = []
    first = 0
    nonce = os.urandom(4).hex()
    for i in range(procs):
        n = sessions // procs + (1 if i < sessions % procs else 0)
        workers.append(
            Worker(
                mcpload(
                    "load",
                    "--url",
                    url,
                    "--sessions",
                    str(n),
                    "--first",
                    str(first),
                    "--calls",
                    str(perSession),
                    "--warmup",
                    str(warmup),
                    "--max-seconds",
                    str(maxSeconds),
                    "--nonce",
                    nonce,
                    "--wait-go",
                )
            )
        )
        first += n
    try:
        for w in workers:
            w.expect("ready", 60)
        quiet = gate.wait() if gate else None
        ours = {
            os.getpid(),
            *(w.proc.pid for w in workers),
            *(p for pids in watch.values() for p in pids),
        }
        snap0 = cpuSnapshot()
        us0 = {name: procUserSys(pids[0]) for name, pids in watch.items() if pids}
        cpu0 = {name: sum(procCpu(p) for p in pids) for name, pids in watch.items()}
        busy0 = systemBusy()
        if around:
            around[0]()
        for w in workers:
            w.say("GO")
        results = [w.expect("result", maxSeconds + 30) for w in workers]
        if around:
            around[1]()
        busy1 = systemBusy()
        cpu1 = {name: sum(procCpu(p) for p in pids) for name, pids in watch.items()}
        us1 = {name: procUserSys(pids[0]) for name, pids in watch.items() if pids}
        snap1 = cpuSnapshot()
    finally:
        for w in workers:
            w.kill()
    lat: list[int] = []
    for r in results:
        lat.extend(r.pop("latUs"))
    start = min(r["start"] for r in results)
    end = max(r["end"] for r in results)
    wall = max(end - start, 1e-9)
    ok = sum(r["ok"] for r in results)
    cpu = {name: round((cpu1[name] - cpu0[name]) / wall, 3) for name in watch}
    perCall = {name: round((cpu1[name] - cpu0[name]) / ok * 1e6, 1) for name in watch if ok}
    userSys = {
        name: {
            "userUs": round((us1[name][0] - us0[name][0]) / ok * 1e6, 1),
            "sysUs": round((us1[name][1] - us0[name][1]) / ok * 1e6, 1),
        }
        for name in us0
        if ok
    }
    cpu["loadgen"] = round(sum(r["cpuSeconds"] for r in results) / wall, 3)
    cpu["other"] = round(max(0.0, (busy1 - busy0) - sum(cpu.values()) * wall) / wall, 3)
    samples = [s for r in results for s in r["samples"]][:5]
    return {
        "sessions": sessions,
        "loadgenProcesses": procs,
        "callsPerSession": perSession,
        "ok": ok,
        "errors": sum(r["errors"] for r in results),
        "misrouted": sum(r["misrouted"] for r in results),
        "lost": sum(r["lost"] for r in results),
        "seconds": round(wall, 3),
        "callsPerSecond": round(ok / wall, 1),
        "latencyMs": percentiles(lat),
        "cpuCores": cpu,
        "cpuUsPerCall": perCall,
        "cpuUserSysPerCall": userSys,
        "otherProcesses": othersBetween(snap0, snap1, ours, wall),
        "quiet": quiet,
        "sseResponses": sum(r["sseResponses"] for r in results),
        "jsonResponses": sum(r["jsonResponses"] for r in results),
        **({"samples": samples} if samples else {}),
        "loop": results[0].get("loop"),
    }


def selfCheck() -> dict[str, Any]:
    """The verifier must see what it claims to count: a canned server that
    answers every 50th call with another call's message, and one that drops
    every 50th connection unanswered."""
    out = {}
    for flag, key in (("--corrupt-every", "misrouted"), ("--drop-every", "lost")):
        server = Worker(mcpload("canned", flag, "50"))
        try:
            port = server.expect("listening", 30)["port"]
            r = runLevel(f"http://127.0.0.1:{port}/canned/mcp", 10, 1000, 1, {}, 20, warmup=0)
        finally:
            server.stop()
        out[key] = {
            "injected": f"every 50th call ({flag} 50)",
            "counted": r[key],
            "ok": r["ok"],
            "detected": r[key] > 0,
        }
    return out


def runDirectOnce(
    js: str,
    c: int,
    total: int,
    maxSeconds: float,
    gate: QuietGate | None,
) -> dict[str, Any]:
    """One fresh child: initialize, warm up, then C{total} calls with C{c} in flight."""
    w = Worker(
        mcpload(
            "direct",
            "--concurrency",
            str(c),
            "--calls",
            str(total),
            "--warmup",
            str(min(DIRECT_WARMUP, total)),
            "--max-seconds",
            str(maxSeconds),
            "--wait-go",
            "--",
            "node",
            js,
            "stdio",
        )
    )
    try:
        started = w.expect("started", 60)
        quiet = gate.wait() if gate else None
        ours = {os.getpid(), w.proc.pid, started["pid"]}
        snap0 = cpuSnapshot()
        busy0 = systemBusy()
        w.say("GO")
        result = w.expect("result", 3 * (maxSeconds + 15))
        busy1 = systemBusy()
        snap1 = cpuSnapshot()
    finally:
        w.kill()
    lv = result["levels"][0]
    wall = max(lv["end"] - lv["start"], 1e-9)
    cpu = {
        "child": round(lv["childCpuSeconds"] / wall, 3),
        "driver": round(lv["cpuSeconds"] / wall, 3),
    }
    perCall = {"child": round(lv["childCpuSeconds"] / max(lv["ok"], 1) * 1e6, 1)}
    # busy covers the warm-up too: "other" is only an indication here
    total_ = busy1 - busy0
    return {
        "sessions": c,
        "ok": lv["ok"],
        "errors": lv["errors"],
        "misrouted": lv["misrouted"],
        "lost": lv["lost"],
        "seconds": round(wall, 3),
        "callsPerSecond": round(lv["ok"] / wall, 1),
        "latencyMs": percentiles(lv["latUs"]),
        "cpuCores": cpu,
        "cpuUsPerCall": perCall,
        "otherProcesses": othersBetween(snap0, snap1, ours, wall),
        "quiet": quiet,
        "childStartSeconds": started["startSeconds"],
        "busyCpuSeconds": round(total_, 2),
        "loop": result.get("loop"),
    }


def repeated(runs: int, fn: Any) -> dict[str, Any]:
    """Run C{fn} C{runs} times; keep the run with the median calls/s, and list all."""
    results = [fn() for _ in range(runs)]
    chosen = sorted(results, key=lambda r: r["callsPerSecond"])[(len(results) - 1) // 2]
    if runs > 1:
        chosen = {
            **chosen,
            "runs": [
                {
                    "callsPerSecond": r["callsPerSecond"],
                    "p50": r["latencyMs"]["p50"],
                    "p99": r["latencyMs"]["p99"],
                    "ok": r["ok"],
                    "misrouted": r["misrouted"],
                    "lost": r["lost"],
                    "errors": r["errors"],
                }
                for r in results
            ],
        }
        # correctness counts over every run, not only the median one
        for key in ("misrouted", "lost", "errors"):
            chosen[key + "AllRuns"] = sum(r[key] for r in results)
    return chosen


# -- profile ---------------------------------------------------------------------------


def _shortPath(path: str) -> str:
    if path == "~":
        return "(built-in functions)"
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/lib/python3":
                path = "stdlib/" + path.split("/", 1)[1]
            return path
    with contextlib.suppress(ValueError):
        return str(Path(path).resolve().relative_to(REPO))
    return path


def profileText(path: Path, top: int) -> tuple[str, dict[str, Any]]:
    """Top entries by cumulative and by own time, and own time per source file."""
    import io

    stream = io.StringIO()
    stats = pstats.Stats(str(path), stream=stream)
    byFile: collections.Counter[str] = collections.Counter()
    total = idle = 0.0
    for (filename, _, name), (_, _, tt, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        if "'poll' of 'select.epoll'" in name:
            idle += tt  # waiting for the next event: not work
            continue
        byFile[_shortPath(filename)] += tt
        total += tt
    summary: dict[str, Any] = {"busySeconds": round(total, 3), "epollWaitSeconds": round(idle, 3)}
    stream.write(
        f"\n==== own time per source file (busy {total:.3f} s; waiting in epoll "
        f"{idle:.3f} s left out) ====\n"
    )
    for name, tt in byFile.most_common(top):
        stream.write(f"{tt:9.3f} s  {100 * tt / total:5.1f}%  {name}\n")
    summary["byFile"] = [
        {"file": n, "tottime": round(t, 4), "share": round(t / total, 3)}
        for n, t in byFile.most_common(top)
    ]
    stats.strip_dirs()
    for key in ("cumulative", "tottime"):
        stream.write(f"\n==== top {top} by {key} ====\n")
        stats.sort_stats(key).print_stats(top)
        rows = []
        for func in stats.fcn_list[:top]:  # type: ignore[attr-defined]
            _, nc, tt, ct, _ = stats.stats[func]  # type: ignore[attr-defined]
            rows.append(
                {
                    "function": f"{func[0]}:{func[1]}({func[2]})",
                    "ncalls": nc,
                    "tottime": round(tt, 4),
                    "cumtime": round(ct, 4),
                }
            )
        summary[key] = rows
    return stream.getvalue(), summary


# -- machine -----------------------------------------------------------------------------


def codeIdentity() -> dict[str, Any]:
    """Which gateway code ran: git HEAD (read only), uncommitted files under
    mcpgateway/, and a hash of the sources (to notice edits during the run)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted([*REPO.glob("mcpgateway/**/*.py"), *REPO.glob("twisted/plugins/*.py")]):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=10
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    dirty = [
        line[3:]
        for line in git("status", "--porcelain", "--", "mcpgateway", "twisted").splitlines()
        if len(line) > 3
    ]
    return {
        "commit": git("rev-parse", "--short", "HEAD").strip(),
        "uncommitted": dirty,
        "sourceHash": digest.hexdigest()[:16],
    }


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memTotal = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memTotal = int(line.split()[1]) // 1024
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    try:
        import twisted

        tw = twisted.__version__
    except ImportError:
        tw = "?"
    try:
        import uvloop

        uv = uvloop.__version__
    except ImportError:
        uv = None
    return {
        "nproc": os.cpu_count(),
        "usableCpus": len(os.sched_getaffinity(0)),
        "cpuModel": model,
        "kernel": platform.release(),
        "memTotalMB": memTotal,
        "python": platform.python_version(),
        "node": node,
        "twisted": tw,
        "uvloop": uv,
        "loadAverageAtStart": [round(x, 2) for x in os.getloadavg()],
    }


# -- the run -------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description="mcpgateway benchmark suite (use benchmarks/run)")
    ap.add_argument("--quick", action="store_true", help="smaller counts (about a minute)")
    ap.add_argument("--levels", default="1,16,64", help="session counts (default 1,16,64)")
    ap.add_argument(
        "--calls",
        type=int,
        default=None,
        help="calls per level in total (default: 3000 at C=1, 6400 above; quick: 600/1600)",
    )
    ap.add_argument("--max-seconds", type=float, default=30.0, help="time bound of one level")
    ap.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs per level; the median run (by calls/s) is reported (default 3, quick 1)",
    )
    ap.add_argument(
        "--quiet-budget",
        type=float,
        default=None,
        help="seconds the whole run may wait for other processes to go quiet"
        " before measurements (default 60, quick 10)",
    )
    ap.add_argument(
        "--loadgen-procs",
        type=int,
        default=1,
        help="load generator processes per level (default 1; see the CPU columns)",
    )
    ap.add_argument("--idle-sessions", type=int, default=None, help="default 1000 (quick 200)")
    ap.add_argument("--scaling-servers", type=int, default=5)
    ap.add_argument("--scaling-sessions", type=int, default=20)
    ap.add_argument(
        "--statusquo-measure",
        type=int,
        default=None,
        help="direct children really started for the status quo (default: all,"
        " quick 20); fewer are scaled up and marked as an estimate",
    )
    ap.add_argument(
        "--npx-measure",
        type=int,
        default=None,
        help="npx-wrapped children really started (default: all, quick 10)",
    )
    ap.add_argument(
        "--skip",
        default="",
        help="comma list of: calibration,direct,gateway,startup,idle,scaling,npx,profile,hotpath",
    )
    ap.add_argument(
        "--experiments",
        action="store_true",
        help="also measure the gateway with each benchmark patch of"
        " gateway_patches.py (what each suggested change would buy)",
    )
    ap.add_argument(
        "--experiment-rounds",
        type=int,
        default=5,
        help="interleaved rounds of the experiments (default 5)",
    )
    ap.add_argument("--json", default=str(HERE / "results" / "latest.json"))
    ap.add_argument("--profile-top", type=int, default=25)
    args = ap.parse_args()

    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if args.calls:
        totals = {c: args.calls for c in levels}
    elif args.quick:
        totals = {c: 600 if c == 1 else 1600 for c in levels}
    else:
        totals = {c: 3000 if c == 1 else 6400 for c in levels}
    idleN = args.idle_sessions or (200 if args.quick else 1000)
    scalingTotal = args.scaling_servers * args.scaling_sessions
    sqMeasure = args.statusquo_measure or (20 if args.quick else scalingTotal)
    npxMeasure = args.npx_measure or (10 if args.quick else scalingTotal)
    nofile = raiseNofile()
    reps = args.repeat or (1 if args.quick else 3)
    gate = QuietGate(
        args.quiet_budget if args.quiet_budget is not None else (10 if args.quick else 60)
    )

    paths = dict(
        line.split("=", 1)
        for line in (
            Path(os.environ.get("MCPGATEWAY_TEST_CACHE") or REPO / ".cache" / "test-backends")
            / "paths.env"
        )
        .read_text()
        .splitlines()
        if "=" in line
    )
    js = paths["SERVER_EVERYTHING_JS"]
    cache = paths.get("MCPGATEWAY_TEST_CACHE") or str(Path(js).parents[3])
    tmp = Path(tempfile.mkdtemp(prefix="mcpgateway-bench-"))
    t0 = time.monotonic()

    @contextlib.contextmanager
    def section(name: str) -> Any:
        try:
            yield
        except Exception as e:  # report it, keep the other sections' figures
            log(f"{name} failed: {type(e).__name__}: {e}")
            res.setdefault("errors", {})[name] = f"{type(e).__name__}: {e}"[:3000]

    res: dict[str, Any] = {
        "machine": machine(),
        "nofile": nofile,
        "quick": args.quick,
        "levels": levels,
        "callsPerLevel": {str(c): totals[c] for c in levels},
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "code": codeIdentity(),
    }
    log(f"machine: {res['machine']}")
    # Twisted rebuilds its plugin cache (dropin.cache) on the first start after an install
    # by importing every plugin module, conch's too (pyOpenSSL: +12 MB RSS in that one
    # process). Build it now, so that no measured gateway pays for it.
    started = time.monotonic()
    subprocess.run(
        [PY, "-c", "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))"],
        cwd=REPO,
        capture_output=True,
        timeout=120,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        },
    )
    res["pluginCacheSeconds"] = round(time.monotonic() - started, 2)

    try:
        # 1. calibration ---------------------------------------------------------------
        if "calibration" not in skip:
            with section("calibration"):
                log("calibration: load generator against the canned server")
                canned = Worker(mcpload("canned"))
                try:
                    port = canned.expect("listening", 30)["port"]
                    res["calibration"] = {
                        str(c): repeated(
                            reps,
                            lambda c=c: runLevel(
                                f"http://127.0.0.1:{port}/canned/mcp",
                                c,
                                totals[c],
                                args.loadgen_procs,
                                {"server": [canned.proc.pid]},
                                args.max_seconds,
                                gate=gate,
                            ),
                        )
                        for c in levels
                    }
                finally:
                    canned.stop()
                res["verifierSelfCheck"] = selfCheck()

        # 2. direct stdio ----------------------------------------------------------------
        if "direct" not in skip:
            with section("direct"):
                log("direct: calls straight down one stdio pipe")
                res["direct"] = {
                    "levels": {
                        str(c): repeated(
                            reps,
                            lambda c=c: runDirectOnce(js, c, totals[c], args.max_seconds, gate),
                        )
                        for c in levels
                    }
                }

        # 3. gateway levels ---------------------------------------------------------------
        if "gateway" not in skip:
            with section("gateway"):
                log("gateway: levels " + ", ".join(map(str, levels)))
                gw = Gateway({"everything": everythingSpec(js)}, tmp / "gw-levels")
                try:
                    time.sleep(0.5)
                    g: dict[str, Any] = {"rssIdleKB": gw.rssKB()}
                    firstCall(gw.port, "everything")
                    time.sleep(0.2)
                    g["rssOneSessionKB"] = gw.rssKB()
                    childPids = [p for p in gw.tree() if p != gw.pid]
                    g["levels"] = {}
                    for c in levels:
                        g["levels"][str(c)] = repeated(
                            reps,
                            lambda c=c: runLevel(
                                gw.url("everything"),
                                c,
                                totals[c],
                                args.loadgen_procs,
                                {"gateway": [gw.pid], "child": childPids},
                                args.max_seconds,
                                gate=gate,
                            ),
                        )
                    time.sleep(0.5)
                    g["rssAfterLoadKB"] = gw.rssKB()
                    g["pssAfterLoadKB"] = memKB(gw.pid)[1]
                    health = gw.health()
                    g["health"] = {
                        "sessions": health.get("sessions"),
                        "servers": health.get("servers"),
                    }
                finally:
                    gw.stop()
                res["gateway"] = g

        # 4. startup --------------------------------------------------------------------------
        if "startup" not in skip:
            with section("startup"):
                log("startup: spawn to first successful call")
                runs = []
                for i in range(3):
                    gw = Gateway({"everything": everythingSpec(js)}, tmp / f"gw-start{i}")
                    try:
                        firstCall(gw.port, "everything")
                        done = time.monotonic()
                        runs.append(
                            {
                                "listening": round(gw.listening - gw.spawned, 3),
                                "firstCall": round(done - gw.spawned, 3),
                            }
                        )
                    finally:
                        gw.stop()
                child = childStartSeconds(js, 3)
                med = sorted(r["firstCall"] for r in runs)[len(runs) // 2]
                childMed = sorted(child)[len(child) // 2]
                res["startup"] = {
                    "runs": runs,
                    "childStartSeconds": [round(x, 3) for x in child],
                    "firstCallMedian": med,
                    "childStartMedian": round(childMed, 3),
                    "listeningMedian": sorted(r["listening"] for r in runs)[1],
                    "gatewayPart": round(med - childMed, 3),
                }

        # 5. idle sessions ------------------------------------------------------------------------
        if "idle" not in skip:
            with section("idle"):
                log(f"idle: {idleN} sessions with GET streams open")
                gw = Gateway({"everything": everythingSpec(js)}, tmp / "gw-idle")
                holder = None
                try:
                    firstCall(gw.port, "everything")
                    time.sleep(0.5)
                    before = memKB(gw.pid)
                    holder = Worker(
                        mcpload(
                            "idle",
                            "--url",
                            gw.url("everything"),
                            "--sessions",
                            str(idleN),
                            "--max-seconds",
                            "180",
                        )
                    )
                    ready = holder.expect("ready", 200)
                    time.sleep(1.0)
                    after = memKB(gw.pid)
                    health = gw.health()
                    holder.say("CLOSE")
                    closed = holder.expect("result", 60)
                    n = max(ready["open"], 1)
                    res["idleSessions"] = {
                        "requested": idleN,
                        "open": ready["open"],
                        "failed": ready["failed"],
                        "samples": ready["samples"],
                        "openSeconds": ready["seconds"],
                        "stillOpenAtEnd": closed["stillOpen"],
                        "gatewaySessions": health.get("sessions"),
                        "rssBeforeKB": before[0],
                        "rssAfterKB": after[0],
                        "pssBeforeKB": before[1],
                        "pssAfterKB": after[1],
                        "kbPerSession": round((after[0] - before[0]) / n, 2),
                        "pssKbPerSession": round((after[1] - before[1]) / n, 2),
                    }
                finally:
                    if holder is not None:
                        holder.kill()
                    gw.stop()

        # 6. session scaling ----------------------------------------------------------------------
        if "scaling" not in skip:
            with section("scaling"):
                S, N = args.scaling_servers, args.scaling_sessions
                log(f"scaling: {N} sessions x {S} servers through one gateway")
                names = [f"everything{i + 1}" for i in range(S)]
                gw = Gateway({n: everythingSpec(js) for n in names}, tmp / "gw-scaling")
                try:
                    started = time.monotonic()
                    sessionsOk = 0
                    for n in names:
                        r = runLevel(gw.url(n), N, N, 1, {}, 60, warmup=0)
                        sessionsOk += r["ok"]
                        if r["misrouted"] or r["lost"] or r["errors"]:
                            raise RuntimeError(f"scaling sessions on {n} failed: {r}")
                    time.sleep(1.0)
                    mem = treeMemory([gw.pid])
                    mem["sessionsAnswered"] = sessionsOk
                    mem["seconds"] = round(time.monotonic() - started, 2)
                    mem["gatewayRssMB"] = round(memKB(gw.pid)[0] / 1024, 1)
                    mem["healthSessions"] = gw.health().get("sessions")
                finally:
                    gw.stop()
                sc: dict[str, Any] = {"servers": S, "sessionsPerServer": N, "gateway": mem}
                log(f"scaling: status quo, {scalingTotal} direct children (measuring {sqMeasure})")
                sc["direct"] = statusQuo(
                    ["node", js, "stdio"], scalingTotal, sqMeasure, 10, None, None, reserveMB=3000
                )
                if "npx" not in skip and shutil.which("npx"):
                    log(f"scaling: status quo via npx wrappers (measuring {npxMeasure})")
                    env = {
                        **os.environ,
                        "npm_config_offline": "true",
                        "npm_config_update_notifier": "false",
                        "npm_config_fund": "false",
                        "npm_config_audit": "false",
                        "npm_config_yes": "true",
                    }
                    sc["npx"] = statusQuo(
                        ["npx", "-y", SE_PACKAGE, "stdio"],
                        scalingTotal,
                        npxMeasure,
                        10,
                        cache,
                        env,
                        reserveMB=3000,
                    )
                    sc["npx"]["command"] = f"npx -y {SE_PACKAGE} stdio (cwd {cache}, offline)"
                res["sessionScaling"] = sc

        # 7. profile -----------------------------------------------------------------------
        if "profile" not in skip and 16 in levels:
            with section("profile"):
                log("profile: gateway under cProfile during C=16")
                prof = tmp / "gateway.prof"
                gw = Gateway({"everything": everythingSpec(js)}, tmp / "gw-profile", profile=prof)
                try:
                    firstCall(gw.port, "everything")
                    childPids = [p for p in gw.tree() if p != gw.pid]
                    level = runLevel(
                        gw.url("everything"),
                        16,
                        totals[16],
                        args.loadgen_procs,
                        {"gateway": [gw.pid], "child": childPids},
                        args.max_seconds,
                        gate=gate,
                        around=(
                            lambda: os.kill(gw.pid, PROFILE_ON),
                            lambda: os.kill(gw.pid, PROFILE_OFF),
                        ),
                    )
                finally:
                    code = gw.stop()
                if prof.exists():
                    text, summary = profileText(prof, args.profile_top)
                    out = Path(args.json).with_name("profile-c16.txt")
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(
                        f"# gateway under cProfile, C=16, {level['ok']} calls at "
                        f"{level['callsPerSecond']} calls/s "
                        "(profiler overhead included)\n" + text
                    )
                    res["profile"] = {
                        "level": {
                            k: level[k]
                            for k in (
                                "ok",
                                "callsPerSecond",
                                "cpuCores",
                                "cpuUsPerCall",
                                "misrouted",
                                "lost",
                            )
                        },
                        "file": str(out.relative_to(REPO)),
                        "top": {
                            k: v[:12] if isinstance(v, list) else v for k, v in summary.items()
                        },
                    }
                else:
                    res["profile"] = {
                        "error": f"no profile written (gateway exit {code})",
                        "log": list(gw.output)[-20:],
                    }
        # 8. in-process hot path -----------------------------------------------------------
        if "hotpath" not in skip:
            with section("hotpath"):
                log("hotpath: the gateway's own CPU per call, in process (no sockets)")
                res["hotpath"] = hotpath("", 3000 if args.quick else 5000)

        # 9. experiments (opt-in) ---------------------------------------------------------
        if args.experiments:
            with section("experiments"):
                res["experiments"] = experiments(
                    js, tmp, levels, totals, args, gate, args.experiment_rounds
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    codeAtEnd = codeIdentity()
    if codeAtEnd["sourceHash"] != res["code"]["sourceHash"]:
        res["code"]["changedDuringRun"] = codeAtEnd
    res["quietWaitSeconds"] = round(gate.waited, 1)
    res["repeat"] = reps
    res["machine"]["loadAverageAtEnd"] = [round(x, 2) for x in os.getloadavg()]
    res["seconds"] = round(time.monotonic() - t0, 1)
    res["targets"] = checkTargets(res)
    text = report(res)
    print(text)
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=1) + "\n")
    log(f"wrote {path} ({res['seconds']} s in all)")
    return 1 if res.get("errors") else 0


def hotpath(patches: str, calls: int) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [
            PY,
            str(HERE / "hotpath.py"),
            "--calls",
            str(calls),
            "--rounds",
            "5",
            "--patches",
            patches,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO,
    )
    if done.returncode != 0:
        raise RuntimeError(f"hotpath.py failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def experiments(
    js: str,
    tmp: Path,
    levels: list[int],
    totals: dict[int, int],
    args: argparse.Namespace,
    gate: QuietGate,
    reps: int,
) -> list[dict[str, Any]]:
    """The gateway with each benchmark patch (and all of them): what each
    suggested change would buy, measured in this run. All variants run side by
    side and their levels are interleaved, C{reps} rounds, so drift in the
    machine's load hits them alike; the median per variant is reported."""
    import gateway_patches

    skipped = {
        p: why for p in gateway_patches.ALL if (why := gateway_patches.notApplicable(p)) is not None
    }
    usable = [p for p in gateway_patches.ALL if p not in skipped]
    variants = [("baseline", ""), *((p, p) for p in usable)]
    if len(usable) > 1:
        variants.append(("all", ",".join(usable)))
    gws: dict[str, Gateway] = {}
    rows: dict[str, dict[str, Any]] = {}
    samples: dict[str, dict[int, list[dict[str, Any]]]] = {}
    try:
        for name, patches in variants:
            gw = gws[name] = Gateway(
                {"everything": everythingSpec(js)}, tmp / f"gw-x-{name}", patches=patches
            )
            time.sleep(0.3)
            rows[name] = {
                "variant": name,
                "rssIdleMB": round(gw.rssKB() / 1024, 1),
                "listeningSeconds": round(gw.listening - gw.spawned, 3),
            }
            firstCall(gw.port, "everything")
            samples[name] = {1: [], 16: []}
        for rnd in range(reps):
            for name, _ in variants:
                log(f"experiments: round {rnd + 1}/{reps}, {name}")
                gw = gws[name]
                childPids = [p for p in gw.tree() if p != gw.pid]
                for c in (1, 16):
                    if c in levels:
                        samples[name][c].append(
                            runLevel(
                                gw.url("everything"),
                                c,
                                totals[c],
                                args.loadgen_procs,
                                {"gateway": [gw.pid], "child": childPids},
                                args.max_seconds,
                                gate=gate,
                            )
                        )
    finally:
        for gw in gws.values():
            gw.stop()

    def median(values: list[float]) -> float | None:
        values = sorted(v for v in values if v is not None)
        return values[(len(values) - 1) // 2] if values else None

    for name, _ in variants:
        for c, runs in samples[name].items():
            if runs:
                rows[name][f"c{c}"] = {
                    "callsPerSecond": median([r["callsPerSecond"] for r in runs]),
                    "p50": median([r["latencyMs"]["p50"] for r in runs]),
                    "p99": median([r["latencyMs"]["p99"] for r in runs]),
                    "gatewayUsPerCall": median([r["cpuUsPerCall"].get("gateway") for r in runs]),
                    "bad": sum(r["misrouted"] + r["lost"] + r["errors"] for r in runs),
                    "otherCores": median([r["cpuCores"]["other"] for r in runs]),
                    "runs": len(runs),
                }
    for name, patches in variants:
        with contextlib.suppress(RuntimeError, subprocess.SubprocessError, ValueError):
            rows[name]["hotpathUsPerCall"] = hotpath(patches, 3000)["usPerCall"]
    return [rows[name] for name, _ in variants] + [
        {"variant": p, "notApplicable": why} for p, why in skipped.items()
    ]


# -- targets and the report ------------------------------------------------------------------


def checkTargets(res: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(name: str, measured: Any, target: str, ok: bool | None, margin: str) -> None:
        out.append(
            {"target": name, "measured": measured, "limit": target, "holds": ok, "margin": margin}
        )

    g = res.get("gateway", {}).get("levels", {})
    d = res.get("direct", {}).get("levels", {})
    cal = res.get("calibration", {})
    if "1" in g and "1" in d:
        over = g["1"]["latencyMs"]["p50"] - d["1"]["latencyMs"]["p50"]
        lim = TARGETS["p50_c1_over_direct_ms"]
        add(
            "p50 at C=1 <= direct + 0.35 ms",
            f"{g['1']['latencyMs']['p50']:.3f} ms = direct + {over:.3f} ms",
            f"+{lim} ms",
            over <= lim,
            f"{over - lim:+.3f} ms",
        )
        p99 = g["1"]["latencyMs"]["p99"]
        add(
            "p99 at C=1 <= 2 ms",
            f"{p99:.3f} ms (direct: {d['1']['latencyMs']['p99']:.3f} ms)",
            "2 ms",
            p99 <= TARGETS["p99_c1_ms"],
            f"{p99 - TARGETS['p99_c1_ms']:+.3f} ms",
        )
    for c in ("16", "64"):
        if c in g and c in d:
            ratio = g[c]["callsPerSecond"] / d[c]["callsPerSecond"]
            ceiling = cal.get(c, {}).get("callsPerSecond")
            atCeiling = bool(ceiling) and g[c]["callsPerSecond"] >= 0.9 * ceiling
            add(
                f"calls/s at C={c} >= 40% of direct (or at the loadgen ceiling)",
                f"{ratio:.0%} of direct ({g[c]['callsPerSecond']:.0f} vs "
                f"{d[c]['callsPerSecond']:.0f}/s)",
                "40%",
                ratio >= TARGETS["throughput_ratio"] or atCeiling,
                f"{(ratio - TARGETS['throughput_ratio']) * 100:+.0f} points",
            )
    for c, lv in g.items():
        mis, lost = lv.get("misroutedAllRuns", lv["misrouted"]), lv.get("lostAllRuns", lv["lost"])
        runs = len(lv.get("runs", [])) or 1
        add(
            f"zero misrouted / lost at C={c}",
            f"{mis} / {lost} (over {runs} run(s))",
            "0 / 0",
            mis + lost == 0,
            "ok" if mis + lost == 0 else f"{mis + lost} bad",
        )
    if "gateway" in res:
        mb = res["gateway"]["rssIdleKB"] / 1024
        add(
            "gateway RSS idle <= 40 MB",
            f"{mb:.1f} MB",
            "40 MB",
            mb <= TARGETS["rss_idle_mb"],
            f"{mb - TARGETS['rss_idle_mb']:+.1f} MB",
        )
    if "idleSessions" in res:
        kb = res["idleSessions"]["kbPerSession"]
        add(
            "<= 25 KB per idle open session",
            f"{kb:.1f} KB",
            "25 KB",
            kb <= TARGETS["kb_per_idle_session"] and res["idleSessions"]["failed"] == 0,
            f"{kb - TARGETS['kb_per_idle_session']:+.1f} KB",
        )
    if "startup" in res:
        s = res["startup"]["gatewayPart"]
        add(
            "startup to first call <= 1 s (minus the child's own start)",
            f"{s:.3f} s",
            "1 s",
            s <= TARGETS["startup_s"],
            f"{s - TARGETS['startup_s']:+.3f} s",
        )
    return out


def fmt(x: Any, nd: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def report(res: dict[str, Any]) -> str:
    m = res["machine"]
    L = [
        f"## mcpgateway benchmark ({res['when']}{', quick' if res['quick'] else ''})",
        "",
        f"{m['nproc']} CPUs ({m['cpuModel']}), {m['memTotalMB']} MB, Linux {m['kernel']}, "
        f"Python {m['python']}, Node {m['node']}, Twisted {m['twisted']}, load generator on "
        f"{'uvloop ' + m['uvloop'] if m['uvloop'] else 'asyncio'}; load average "
        f"{m['loadAverageAtStart']} at start, {m.get('loadAverageAtEnd')} at end. Gateway code: "
        f"{res['code']['commit'] or 'not a git checkout'} (sources {res['code']['sourceHash']})"
        + (
            f" + {len(res['code']['uncommitted'])} uncommitted file(s)"
            if res["code"]["uncommitted"]
            else ""
        )
        + (
            " (**the gateway's sources changed during the run**)"
            if res["code"].get("changedDuringRun")
            else ""
        )
        + ".",
        "",
        "### Latency and throughput (`tools/call echo`, server-everything)",
        "",
        "| path | C | calls ok | calls/s | p50 ms | p90 ms | p99 ms | max ms | errors | "
        "misrouted | lost | CPU cores used |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]

    def rows(name: str, levels: dict[str, Any]) -> None:
        for c, lv in levels.items():
            lat = lv["latencyMs"]
            cpu = ", ".join(f"{k} {v:.2f}" for k, v in lv["cpuCores"].items())
            if "gateway" in lv.get("cpuUsPerCall", {}):
                cpu += f" ({lv['cpuUsPerCall']['gateway']:.0f} µs gateway CPU/call)"
            rate = f"{lv['callsPerSecond']:.0f}"
            if lv.get("runs"):
                rate += " (" + " / ".join(f"{r['callsPerSecond']:.0f}" for r in lv["runs"]) + ")"
            L.append(
                f"| {name} | {c} | {lv['ok']} | {rate} | {fmt(lat['p50'], 3)} | "
                f"{fmt(lat['p90'], 3)} | {fmt(lat['p99'], 3)} | {fmt(lat['max'], 1)} | "
                f"{lv.get('errorsAllRuns', lv['errors'])} | "
                f"{lv.get('misroutedAllRuns', lv.get('misrouted', 0))} | "
                f"{lv.get('lostAllRuns', lv.get('lost', 0))} | {cpu} |"
            )

    if "calibration" in res:
        rows("loadgen ceiling (canned server)", res["calibration"])
    if "direct" in res:
        rows("direct stdio (1 child, C in flight)", res["direct"]["levels"])
    if "gateway" in res:
        rows("**gateway**", res["gateway"]["levels"])
    if "verifierSelfCheck" in res:
        v = res["verifierSelfCheck"]
        L += [
            "",
            "Verifier self-check (canned server misbehaving on purpose, every 50th of 1000 "
            f"calls): misrouted counted {v['misrouted']['counted']}, lost counted "
            f"{v['lost']['counted']} (a session stops at a lost connection).",
        ]
    L += ["", "### Memory and startup", "", "| figure | value |", "|---|---:|"]
    if "gateway" in res:
        g = res["gateway"]
        L += [
            "| gateway RSS idle (no session, child not started) | "
            f"{g['rssIdleKB'] / 1024:.1f} MB |",
            "| gateway RSS with one session (child running) | "
            f"{g['rssOneSessionKB'] / 1024:.1f} MB |",
            f"| gateway RSS after the load levels | {g['rssAfterLoadKB'] / 1024:.1f} MB |",
        ]
    for c, lv in res.get("gateway", {}).get("levels", {}).items():
        us = lv.get("cpuUserSysPerCall", {}).get("gateway")
        if us:
            L.append(
                f"| gateway CPU per call at C={c} (user + system) | {us['userUs']:.0f} + "
                f"{us['sysUs']:.0f} µs |"
            )
    if "hotpath" in res:
        h = res["hotpath"]
        L.append(
            f"| gateway CPU per call in process (real Site, fake child, no sockets; median "
            f"of {h['rounds']} x {h['calls']}) | {h['usPerCall']:.0f} µs |"
        )
    if "idleSessions" in res:
        i = res["idleSessions"]
        L += [
            f"| idle sessions with GET streams open | {i['open']} of {i['requested']} "
            f"({i['failed']} failed) |",
            f"| gateway RSS before / after them | {i['rssBeforeKB'] / 1024:.1f} / "
            f"{i['rssAfterKB'] / 1024:.1f} MB |",
            f"| memory per idle open session (RSS; PSS) | {i['kbPerSession']:.1f} KB; "
            f"{i['pssKbPerSession']:.1f} KB |",
        ]
    if "startup" in res:
        s = res["startup"]
        L += [
            f"| spawn to listening (median of 3) | {s['listeningMedian']:.3f} s |",
            f"| spawn to first successful call, lazy child (median of 3) | "
            f"{s['firstCallMedian']:.3f} s |",
            f"| the child's own start (spawn to initialize answer, direct) | "
            f"{s['childStartMedian']:.3f} s |",
            f"| startup without the child's own start | {s['gatewayPart']:.3f} s |",
        ]
    if "sessionScaling" in res:
        sc = res["sessionScaling"]
        total = sc["servers"] * sc["sessionsPerServer"]
        L += [
            "",
            f"### Session scaling: {sc['sessionsPerServer']} sessions x {sc['servers']} "
            "servers (server-everything)",
            "",
            "| setup | processes | RSS MB (sum) | PSS MB (sum) | note |",
            "|---|---:|---:|---:|---|",
        ]
        gm = sc["gateway"]
        L.append(
            f"| one gateway, {sc['servers']} shared children, {total} sessions | "
            f"{gm['processes']} | {gm['rssMB']:.0f} | {gm['pssMB']:.0f} | measured |"
        )
        for key, label in (
            ("direct", "every session spawns `node server-everything`"),
            ("npx", "every session spawns `npx -y ...server-everything`"),
        ):
            if key in sc:
                q = sc[key]
                note = (
                    ("**estimate**: " + q["note"])
                    if q.get("estimate")
                    else f"measured ({q['seconds']:.0f} s to start)"
                )
                L.append(
                    f"| {label} ({total}) | {q['processes']} | {q['rssMB']:.0f} | "
                    f"{q['pssMB']:.0f} | {note} |"
                )
    if res.get("targets"):
        L += [
            "",
            "### Targets (ratios within this run)",
            "",
            "| target | measured | holds | margin |",
            "|---|---|---|---|",
        ]
        for t in res["targets"]:
            L.append(
                f"| {t['target']} | {t['measured']} | {'yes' if t['holds'] else '**no**'} | "
                f"{t['margin']} |"
            )
    if res.get("experiments"):
        L += [
            "",
            "### What the suggested changes would buy (gateway patched at run time by "
            "benchmarks/gateway_patches.py; medians of interleaved runs)",
            "",
            "| variant | RSS idle MB | spawn to listening s | C=1 p50 ms | C=1 p99 ms | "
            "C=1 gateway µs/call | C=16 calls/s | C=16 gateway µs/call | "
            "in-process µs/call | bad |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for x in res["experiments"]:
            if "notApplicable" in x:
                L.append(f"| {x['variant']} | not applicable: {x['notApplicable']} |" + " |" * 8)
                continue
            c1, c16 = x.get("c1", {}), x.get("c16", {})
            L.append(
                f"| {x['variant']} | {x['rssIdleMB']:.1f} | {x['listeningSeconds']:.3f} | "
                f"{fmt(c1.get('p50'), 3)} | {fmt(c1.get('p99'), 3)} | "
                f"{fmt(c1.get('gatewayUsPerCall'), 0)} | "
                f"{fmt(c16.get('callsPerSecond'), 0)} | "
                f"{fmt(c16.get('gatewayUsPerCall'), 0)} | "
                f"{fmt(x.get('hotpathUsPerCall'), 0)} | "
                f"{c1.get('bad', 0) + c16.get('bad', 0)} |"
            )
    if "profile" in res and "top" in res["profile"]:
        p = res["profile"]
        L += [
            "",
            f"### Profile (cProfile, C=16, {p['level']['callsPerSecond']:.0f} calls/s "
            f"under the profiler; full text in {p['file']})",
            "",
            "| source file | own time share |",
            "|---|---:|",
        ]
        for r in p["top"]["byFile"][:12]:
            L.append(f"| `{r['file']}` | {r['share']:.1%} |")
        L += [
            "",
            "| function (by own time) | ncalls | tottime s | cumtime s |",
            "|---|---:|---:|---:|",
        ]
        rowsShown = [r for r in p["top"]["tottime"] if "select.epoll" not in r["function"]]
        for r in rowsShown[:15]:
            L.append(
                f"| `{r['function']}` | {r['ncalls']} | {r['tottime']:.3f} | {r['cumtime']:.3f} |"
            )
    for name, error in res.get("errors", {}).items():
        L += ["", f"**{name} failed**: {error.splitlines()[0][:300]}"]
    L.append("")
    L.append(
        f"calls/s: the median of {res.get('repeat', 1)} run(s) (all runs in brackets; "
        "latencies are those of the median run; errors, misrouted and lost are summed over "
        "all runs). CPU cores used: CPU seconds per wall second during the level (gateway = "
        "the gateway process, child = its server-everything, loadgen = the load generator, "
        "driver = the direct stdio driver, other = everything else on the machine; "
        "direct rows show no 'other'). Waited "
        f"{res.get('quietWaitSeconds', 0):.0f} s in all for the machine to go quiet before "
        f"levels. Run time {res['seconds']:.0f} s."
    )
    return "\n".join(L)


if __name__ == "__main__":
    sys.exit(main())
